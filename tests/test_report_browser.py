"""The HTML report in a real browser: headless Chromium opens index.html from disk (file://).

Checks: no console errors, every image decoded (naturalWidth > 0), the leaderboard lists every generator,
and a screenshot is saved. The report has no scripts; for the checks, a test-only copy of the page gets a
small script that writes its findings into the DOM, which ``--dump-dom`` prints.

Needs the Debian package ``chromium``: skipped with a reason when it is missing, except under CI=true,
where it must run.
"""

from __future__ import annotations

import html as htmlmod
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from synthgen.compare import run_compare
from synthgen.report.screenshot import CHROMIUM_FLAGS, find_chromium

from test_compare import N, fraud_sample

IN_CI = os.environ.get("CI", "").lower() == "true"
FLAGS = CHROMIUM_FLAGS

CHECK = """<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    var t = e.target || {};
    errors.push(t.tagName ? ("resource failed: " + t.tagName + " " + (t.alt || t.src || "").slice(0, 80))
                          : ("error: " + e.message));
  }, true);
  var original = console.error;
  console.error = function () { errors.push("console.error: " + Array.prototype.join.call(arguments, " ")); original.apply(console, arguments); };
  window.addEventListener("load", function () {
    var imgs = Array.prototype.slice.call(document.images);
    var rows = Array.prototype.slice.call(document.querySelectorAll("#leaderboard-table tbody tr"));
    var out = document.createElement("pre");
    out.id = "synthgen-check";
    out.textContent = JSON.stringify({
      errors: errors,
      images: imgs.length,
      broken: imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).map(function (i) { return i.alt; }),
      leaderboard: rows.map(function (r) { return r.getAttribute("data-generator"); }),
      title: document.title
    });
    document.body.appendChild(out);
  });
})();
</script>"""


def chromium() -> str:
    path = find_chromium()
    if path:
        return path
    if IN_CI:
        pytest.fail("chromium is missing under CI=true; install it (apt-get install -y chromium)")
    pytest.skip("chromium not installed (apt-get install -y chromium); the browser check needs it")


def run_browser(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "report"
    run_compare(fraud_sample(), "fraud", ["gaussian-copula", "kmeans-smote"], n=N, out=out, progress=None)
    return out


def test_report_renders_in_chromium(report, tmp_path):
    binary = chromium()
    page = report / "index.html"
    text = page.read_text(encoding="utf-8")
    # test-only copy beside the original (same folder, same relative paths), with the check script
    probe = report / "_probe.html"
    probe.write_text(text.replace("<head>", "<head>\n" + CHECK, 1), encoding="utf-8")
    try:
        done = run_browser(binary, tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom",
                           probe.as_uri())
    finally:
        probe.unlink()
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="synthgen-check">(.*?)</pre>', done.stdout, re.S)
    assert found, "the check script did not run: " + done.stdout[:500] + done.stderr[-1000:]
    check = json.loads(htmlmod.unescape(found.group(1)))
    assert check["errors"] == []
    assert check["images"] >= 5 and check["broken"] == []
    assert check["leaderboard"][0] == "gaussian-copula" and set(check["leaderboard"]) == {"gaussian-copula", "kmeans-smote"}
    assert check["title"] == "synthgen compare: fraud"

    # the original page (no script at all): console messages logged to stderr, and a screenshot
    shot = tmp_path / "report.png"
    done = run_browser(binary, tmp_path / "profile2", "--enable-logging=stderr", "--v=0",
                       f"--screenshot={shot}", "--window-size=1400,3000", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    # chromium logs page console messages as "INFO:CONSOLE:<line>] ..." (older: "CONSOLE(<line>)")
    console = [line for line in done.stderr.splitlines() if re.search(r":CONSOLE[:(]", line) or "Uncaught" in line]
    assert console == []
    assert shot.is_file() and shot.stat().st_size > 20_000
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1400, 3000)
        assert len(im.convert("RGB").resize((140, 300)).getcolors(maxcolors=100_000) or []) > 20  # not blank
    keep = os.environ.get("SYNTHGEN_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "report.png")
