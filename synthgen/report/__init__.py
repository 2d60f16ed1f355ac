"""Reports: one self-contained HTML file (plots embedded as SVG), and Markdown, from compare data or scorecards.

    render_html(result, "reports/cmp/index.html")          # a CompareResult from run_compare
    render_html("reports/cmp/compare.json", "again.html")  # or a written compare.json / report folder
    render_scorecards(["a.json", "b.json"], "report.html") # `synthgen report SCORECARD.json ... --out FILE`

The report computes no metric: it reads the scorecards, verdicts and compare data only. The HTML
needs no network (no scripts, fonts or stylesheets from elsewhere) and is deterministic for the same
inputs, apart from the fit/sample seconds (marked ``class="timing"``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from ..io import atomic_path
from . import _view

__all__ = ["render_html", "render_markdown", "render_scorecards", "html_string", "markdown_string"]


def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("synthgen.report", "templates"),
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fnum=_view.fnum, fq=_view.fq, fstat=_view.fstat, fsec=_view.fsec,
                       md=lambda s: str(s).replace("|", "\\|").replace("\n", " "))
    return env


def html_string(source: Any) -> str:
    """The HTML report as text (see ``render_html`` for what ``source`` may be)."""
    view = _view.build_view(source, with_plots=True)
    return _env().get_template("report.html.j2").render(v=view)


def markdown_string(source: Any) -> str:
    """The Markdown report as text: the same numbers as the HTML and compare.json, no plots."""
    view = _view.build_view(source, with_plots=False)
    return _env().get_template("report.md.j2").render(v=view)


def _readable(path: Path) -> None:
    """Give a report file or folder the usual permissions (temporary files are created owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def _write(text: str, out_file: str | os.PathLike) -> Path:
    out_file = Path(out_file)
    with atomic_path(out_file, force=True) as tmp:  # never a half-written report
        tmp.write_text(text, encoding="utf-8")
        _readable(tmp)
    return out_file


def render_html(source: Any, out_file: str | os.PathLike) -> Path:
    """Write the self-contained HTML report.

    ``source``: a ``CompareResult`` (from ``run_compare``), a compare dict, the path of a compare.json
    or of a report folder holding one (its scorecards/ and verdicts/ are read beside it), or a list of
    scorecards (``Scorecard`` objects or JSON paths; then it is ``render_scorecards``).
    """
    if isinstance(source, (list, tuple)):
        return render_scorecards(source, out_file)
    return _write(html_string(source), out_file)


def render_markdown(source: Any, out_file: str | os.PathLike) -> Path:
    """Write the Markdown report (same inputs as ``render_html``)."""
    if isinstance(source, (list, tuple)):
        from ..compare import compare_from_scorecards

        source = compare_from_scorecards(source)
    return _write(markdown_string(source), out_file)


def render_scorecards(
    scorecards: Sequence[Any],
    out_file: str | os.PathLike,
    *,
    policy: str | os.PathLike | None = "default",
    labels: Sequence[str] | None = None,
    markdown: str | os.PathLike | None = None,
) -> Path:
    """`synthgen report SCORECARD.json [...] --out FILE.html`: scorecards side by side, one row each.

    ``scorecards``: JSON paths or ``Scorecard`` objects; each is labelled by its file name without
    ``.json`` (or by ``labels``). Each is checked with ``policy`` ("default": the packaged policy; a path;
    ``None``: no gate column). ``markdown``: also write the Markdown report there.
    """
    from ..compare import compare_from_scorecards

    data = compare_from_scorecards(scorecards, policy=policy, labels=labels)
    if markdown is not None:
        _write(markdown_string(data), markdown)
    return _write(html_string(data), out_file)
