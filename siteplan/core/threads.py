"""Threads for the GEOS and numpy work of one study.

shapely 2's array functions, numpy's sorts and scipy's KD-tree release the GIL, so blocks of
independent geometries run side by side on the cores of one machine: 2.0x on this project's
2-core benchmark machine for the frontage unions of a million-node study.  Each block is
computed exactly as it would be alone and the results are put back in order, so threads never
change a number.

``SITEPLAN_THREADS`` sets how many (default: the CPUs, at most :data:`MAX_THREADS`); ``1``
runs everything in the calling thread, as a Dask worker that already has one task per core
should (the local clusters of :mod:`siteplan.batch` set it; set it on the workers of a real
cluster too).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import numpy as np

from siteplan.core.errors import ConfigError
from siteplan.core.i18n import _

T = TypeVar("T")
R = TypeVar("R")

#: Threads used when ``SITEPLAN_THREADS`` is not set (and never more than the CPUs).
MAX_THREADS = 4

#: Items below which an array is not split: threads cost ~0.1 ms each to start.
MIN_BLOCK = 2_000


def n_threads() -> int:
    """Return the number of threads to use: ``SITEPLAN_THREADS``, else the CPUs up to 4.

    Examples
    --------
    >>> n_threads() >= 1
    True
    """
    text = os.environ.get("SITEPLAN_THREADS", "").strip()
    if text:
        try:
            n = int(text)
        except ValueError:
            n = 0
        if n < 1:
            raise ConfigError(
                _("SITEPLAN_THREADS must be a whole number >= 1, got {value}.").format(
                    value=repr(text)),
                where="environment", fix=_("e.g. SITEPLAN_THREADS=1 (no threads)."))
        return n
    return max(1, min(os.cpu_count() or 1, MAX_THREADS))


def thread_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Return ``[fn(item) for item in items]``, computed in up to :func:`n_threads` threads.

    Examples
    --------
    >>> thread_map(lambda x: x * x, [1, 2, 3])
    [1, 4, 9]
    """
    n = min(n_threads(), len(items))
    if n <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="siteplan") as pool:
        return list(pool.map(fn, items))


class Background(Generic[R]):
    """A call run in a second thread while the caller goes on; :meth:`result` waits for it.

    For two independent computations, one holding the GIL (shortest-path passes) and one
    releasing it (GEOS unions).  With ``SITEPLAN_THREADS=1`` the call runs at once, inline.

    Examples
    --------
    >>> job = Background(sum, [1, 2, 3])
    >>> job.result()
    6
    """

    def __init__(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> None:
        self._pool: ThreadPoolExecutor | None = None
        if n_threads() <= 1:
            self._done: R = fn(*args, **kwargs)
            return
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="siteplan-bg")
        self._future = self._pool.submit(fn, *args, **kwargs)

    def result(self) -> R:
        """Return the call's result (or raise its exception), once it is done."""
        if self._pool is None:
            return self._done
        try:
            return self._future.result()
        finally:
            self._pool.shutdown()


def blocks(n_items: int, min_block: int = MIN_BLOCK) -> list[slice]:
    """Split ``range(n_items)`` into one contiguous slice per thread (fewer when small).

    Examples
    --------
    >>> import os
    >>> os.environ["SITEPLAN_THREADS"] = "2"
    >>> blocks(10_000)
    [slice(0, 5000, None), slice(5000, 10000, None)]
    >>> blocks(10)
    [slice(0, 10, None)]
    >>> del os.environ["SITEPLAN_THREADS"]
    """
    n = max(1, min(n_threads(), n_items // max(min_block, 1)))
    bounds = np.linspace(0, n_items, n + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def elementwise(fn: Callable[..., np.ndarray], *arrays: np.ndarray,
                min_block: int = MIN_BLOCK) -> np.ndarray:
    """Apply an element-wise array function (``shapely.intersection``...) in threads.

    The arrays (same length) are cut into contiguous blocks, one per thread, and the results
    joined in order: the same array as ``fn(*arrays)``.

    Examples
    --------
    >>> import shapely
    >>> a = shapely.buffer(shapely.points(np.arange(5000.0), 0.0), 1.0)
    >>> b = shapely.buffer(shapely.points(np.arange(5000.0) + 0.5, 0.0), 1.0)
    >>> bool((shapely.area(elementwise(shapely.intersection, a, b))
    ...       == shapely.area(shapely.intersection(a, b))).all())
    True
    """
    n = len(arrays[0]) if arrays else 0
    parts = blocks(n, min_block)
    if len(parts) <= 1:
        return fn(*arrays)
    out = thread_map(lambda s: fn(*(a[s] for a in arrays)), parts)
    return np.concatenate(out)


__all__ = ["Background", "MAX_THREADS", "MIN_BLOCK", "blocks", "elementwise", "n_threads",
           "thread_map"]
