"""The local engine (synthgen/engine.py): items in order, one at a time or on a few threads of this process
with the same results, and nothing left running when the reader stops early."""

from __future__ import annotations

import threading
import time

import pytest

from synthgen.engine import LocalEngine


def _slow_square(shared, item):
    time.sleep(0.02 * (item % 3))  # items finish out of order on threads
    shared.append(threading.get_ident())
    return item * item


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_give_the_items_results_in_order(threads):
    seen: list[int] = []
    assert list(LocalEngine().map(_slow_square, range(11), shared=seen, threads=threads)) == [i * i for i in range(11)]
    assert len(seen) == 11
    if threads == 1:
        assert set(seen) == {threading.get_ident()}  # in this thread, as before threads existed
    else:
        assert threading.get_ident() not in seen and 1 < len(set(seen)) <= threads


def test_a_failing_item_raises_and_the_rest_is_not_started():
    started: list[int] = []

    def fn(shared, item):
        started.append(item)
        if item == 1:
            raise ValueError("item 1")
        time.sleep(0.05)
        return item

    with pytest.raises(ValueError, match="item 1"):
        list(LocalEngine().map(fn, range(50), threads=2))
    assert len(started) <= 5  # at most 2 x threads submitted ahead of the one read, and no more


def test_stopping_early_cancels_what_has_not_started():
    started: list[int] = []

    def fn(shared, item):
        started.append(item)
        time.sleep(0.02)
        return item

    results = LocalEngine().map(fn, range(100), threads=2)
    assert next(results) == 0
    results.close()
    assert len(started) <= 5


@pytest.mark.parametrize("cpu_max, expected", [("max 100000\n", None), ("150000 100000\n", 2), ("50000 100000\n", 1),
                                               ("garbled\n", None)])
def test_local_cores_follows_a_cgroup_cpu_quota(tmp_path, monkeypatch, cpu_max, expected):
    import os

    from synthgen import engine

    affinity = len(os.sched_getaffinity(0))
    limit = tmp_path / "cpu.max"
    limit.write_text(cpu_max)
    monkeypatch.setattr(engine, "CGROUP_CPU_MAX", str(limit))
    assert engine.local_cores() == (affinity if expected is None else min(affinity, expected))
    monkeypatch.setattr(engine, "CGROUP_CPU_MAX", str(tmp_path / "absent"))
    assert engine.local_cores() == affinity


def test_the_k_d_tree_search_gives_the_same_rows_on_any_number_of_threads():
    """The exact DCR's k-d tree path (narrow rows, >= KD_TREE_PAIRS pairs) searches on every core: each
    query row's nearest row and distance equal a one-thread search's."""
    import numpy as np

    from synthgen.evaluation.leakage import KD_TREE_PAIRS, nearest

    rng = np.random.default_rng(3)
    zr = rng.normal(size=(6_000, 4)).round(1)  # rounded: ties among reference rows are common
    zq = np.vstack([zr[:500], rng.normal(size=(KD_TREE_PAIRS // 6_000, 4))])  # copies at distance 0 first
    none = np.zeros((len(zq), 0), dtype=np.int32)
    one = nearest(zq, none, zr, none[:len(zr)], workers=1)
    two = nearest(zq, none, zr, none[:len(zr)], workers=2)
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
    assert (one[0][:500] == 0).all()
