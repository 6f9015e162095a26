"""Timing the steps of a run and reporting them to an optional progress callback."""

from __future__ import annotations

import ctypes
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: ``progress(step, "start" | "done")``, called around each step (for progress bars).
Progress = Callable[[str, str], None]


def _libc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        return None
    return trim


_TRIM = _libc_trim() if sys.platform.startswith("linux") else None


def trim_memory() -> None:
    """Hand the memory a step freed back to the operating system (glibc ``malloc_trim``).

    glibc keeps freed heap pages for reuse, so a process's footprint stays near the peak of
    its largest step after the step's arrays are gone: 0.35 GB of the peak of a million-node
    study (``benchmarks/peers.py --full --scale``).  Elsewhere a no-op.
    """
    if _TRIM is not None:
        _TRIM(0)


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
        trim_memory()
        self.timings[name] = time.perf_counter() - start
        if self.progress:
            self.progress(name, "done")


__all__ = ["Progress", "Steps", "trim_memory"]
