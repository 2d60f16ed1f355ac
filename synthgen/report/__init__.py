"""Reports: one self-contained HTML file (plots embedded as SVG), and Markdown, from compare data or scorecards.

    render_html(result, "reports/cmp/index.html")          # a CompareResult from run_compare
    render_html("reports/cmp/compare.json", "again.html")  # or a written compare.json / report folder

Scorecards side by side (`synthgen report`) go through ``synthgen.compare.render_scorecards``, which
builds the compare data from them and renders it here: this package imports nothing from compare.

The report computes no metric: it reads the scorecards, verdicts and compare data only. The HTML
needs no network (no scripts, fonts or stylesheets from elsewhere) and is deterministic for the same
inputs, apart from the fit/sample seconds (marked ``class="timing"``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..io import atomic_path, make_readable
from . import _view

__all__ = ["render_html", "render_markdown", "html_string", "markdown_string"]


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


def _write(text: str, out_file: str | os.PathLike) -> Path:
    out_file = Path(out_file)
    with atomic_path(out_file, force=True) as tmp:  # never a half-written report
        tmp.write_text(text, encoding="utf-8")
        make_readable(tmp)
    return out_file


def render_html(source: Any, out_file: str | os.PathLike) -> Path:
    """Write the self-contained HTML report.

    ``source``: a ``CompareResult`` (from ``run_compare``: anything with ``data``, ``scorecards`` and
    ``verdicts``), a compare dict, or the path of a compare.json or of a report folder holding one
    (its scorecards/ and verdicts/ are read beside it).
    """
    return _write(html_string(source), out_file)


def render_markdown(source: Any, out_file: str | os.PathLike) -> Path:
    """Write the Markdown report (same inputs as ``render_html``)."""
    return _write(markdown_string(source), out_file)
