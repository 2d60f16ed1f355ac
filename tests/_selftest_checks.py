"""Shared assertions for the selftest tests: the policy is right on every planted set of a table."""

from __future__ import annotations

from synthgen.selftest import SelftestResult

REALISM_RULES = {"realism.column_shapes", "subscores.realism"}


def failed(result: SelftestResult, case: str) -> set[str]:
    c = next(c for c in result.cases if c.name == case)
    return {r["metric"] for r in c.verdict.rules if r["passed"] is False}


def check(result: SelftestResult, *, protected: bool) -> None:
    """Every planted set fails for its own reason, the reference passes, and noise scores at most half of it."""
    assert result.ok, result.table()
    cases = {c.name: c for c in result.cases}
    assert cases["reference"].verdict.passed
    skipped = {c.name for c in result.cases if c.skipped}
    assert skipped == (set() if protected else {"minority-removed"}), result.table()
    assert "leakage.train_copy_excess" in failed(result, "train-copies")
    assert "leakage.dcr_excess" in failed(result, "near-copies")
    assert "leakage.holdout_copy_excess" in failed(result, "holdout-mix")
    assert failed(result, "noise") & REALISM_RULES
    assert "utility.label_fidelity" in failed(result, "label-shuffled")
    # 2% jittered copies of the most isolated rows: only the outlier-exposure rule sees them
    outliers = failed(result, "outlier-copies")
    assert "leakage.outlier_exposure" in outliers, result.table()
    assert not outliers & {"leakage.train_copy_excess", "leakage.dcr_excess", "leakage.mia_auc"}, result.table()
    if protected:
        assert "fairness.min_representation_ratio" in failed(result, "minority-removed")
    # realism separates noise by a margin: at most half the reference's quality
    assert cases["noise"].quality <= 0.5 * cases["reference"].quality, result.table()
