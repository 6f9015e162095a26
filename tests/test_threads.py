"""Threads over blocks of independent work: same results as one thread, errors that say why."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import shapely

from siteplan.core.errors import ConfigError
from siteplan.core.threads import Background, blocks, elementwise, n_threads, thread_map


@pytest.mark.parametrize("threads", ["1", "2", "5"])
def test_blocks_cover_every_item_once_in_order(monkeypatch, threads):
    monkeypatch.setenv("SITEPLAN_THREADS", threads)
    for n in (0, 1, 1_999, 2_000, 10_001):
        parts = blocks(n)
        covered = np.concatenate([np.arange(s.start, s.stop) for s in parts])
        assert covered.tolist() == list(range(n))
        assert len(parts) <= int(threads)


def test_elementwise_in_threads_equals_one_call(monkeypatch):
    monkeypatch.setenv("SITEPLAN_THREADS", "3")
    rng = np.random.default_rng(2)
    a = shapely.buffer(shapely.points(rng.uniform(0, 100, (5_000, 2))), 3.0)
    b = shapely.buffer(shapely.points(rng.uniform(0, 100, (5_000, 2))), 3.0)
    got = elementwise(shapely.intersection, a, b, min_block=100)
    assert shapely.equals_exact(got, shapely.intersection(a, b), 0.0).all()
    assert shapely.area(got).sum() > 0


def test_thread_map_keeps_order_and_uses_threads(monkeypatch):
    monkeypatch.setenv("SITEPLAN_THREADS", "2")
    names = thread_map(lambda i: (i, threading.current_thread().name), list(range(8)))
    assert [i for i, _ in names] == list(range(8))
    assert all(name.startswith("siteplan") for _, name in names)
    monkeypatch.setenv("SITEPLAN_THREADS", "1")
    assert {name for _, name in thread_map(
        lambda i: (i, threading.current_thread().name), [1, 2])} == {"MainThread"}


@pytest.mark.parametrize("threads", ["1", "2"])
def test_background_returns_the_result_or_raises_the_error(monkeypatch, threads):
    monkeypatch.setenv("SITEPLAN_THREADS", threads)
    assert Background(sorted, [3, 1, 2]).result() == [1, 2, 3]

    def fail() -> None:
        raise ValueError("no unions today")

    if threads == "1":  # inline: the error comes at once
        with pytest.raises(ValueError, match="no unions today"):
            Background(fail)
    else:  # in a second thread: the error comes with the result
        job = Background(fail)
        with pytest.raises(ValueError, match="no unions today"):
            job.result()


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_thread_count_is_refused(monkeypatch, value):
    monkeypatch.setenv("SITEPLAN_THREADS", value)
    with pytest.raises(ConfigError, match="SITEPLAN_THREADS must be a whole number"):
        n_threads()
