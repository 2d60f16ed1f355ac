"""`synthgen demo`: compare the default generators on the bundled fraud table; report in reports/demo/."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .compare import CompareResult, run_compare
from .datasets import load_fraud
from .report.screenshot import screenshot

__all__ = ["run_demo", "DEMO_GENERATORS"]

DEMO_GENERATORS = {
    "smote": {},
    "borderline-smote": {},
    "smote-nc": {},
    "gaussian-copula": {},
    "ctgan": {"epochs": 30, "verbose": False},
    "arf": {},
}


def run_demo(out: Path, *, seed: int = 0, n: int | None = None,
             progress: Callable[[str], None] | None = print) -> CompareResult:
    """Fit, score and gate each demo generator on the train split of the bundled fraud table (50,000 rows,
    2% fraud); n defaults to the 700 fraud rows of train. The report folder is replaced."""
    result = run_compare(load_fraud(), "fraud", list(DEMO_GENERATORS), n=n, seeds=[seed],
                         params={k: dict(v) for k, v in DEMO_GENERATORS.items()}, out=Path(out), force=True,
                         progress=progress, title="synthgen demo: bundled fraud table")
    shot = screenshot(result.index_html, Path(out) / "screenshot.png", height=2400)
    if progress is not None:
        progress(f"screenshot: {shot}" if shot else "screenshot: skipped (chromium not installed)")
    return result
