"""A PNG of a report page, taken by headless Chromium (Debian's ``chromium``), when it is installed."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["CHROMIUM_FLAGS", "find_chromium", "screenshot"]

# headless, offline and quiet: no sandbox (root), no background network, no first-run work
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def find_chromium() -> str | None:
    """Path of a Chromium binary on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(page: str | Path, png: str | Path, *, width: int = 1400, height: int = 3000) -> Path | None:
    """Save a screenshot of an HTML file; None when no Chromium is installed."""
    binary = find_chromium()
    if binary is None:
        return None
    png = Path(png).resolve()
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
                        f"--window-size={width},{height}", Path(page).resolve().as_uri()],
                       capture_output=True, timeout=120, check=False)
    return png if png.exists() else None
