"""Timing the steps of a run and reporting them to an optional progress callback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: ``progress(step, "start" | "done")``, called around each step (for progress bars).
Progress = Callable[[str, str], None]


class Steps:
    """Times each step of a run and reports it to an optional progress callback.

    Examples
    --------
    >>> step = Steps(None)
    >>> with step("network"):
    ...     pass
    >>> list(step.timings)
    ['network']
    """

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the block as step ``name``."""
        if self.progress:
            self.progress(name, "start")
        start = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - start
        if self.progress:
            self.progress(name, "done")


__all__ = ["Progress", "Steps"]
