"""Rank robustness: how often each parcel stays in the top N when the weights move.

Weights are rarely known to better than a quarter of their value, so a shortlist is worth only
as much as its stability under that uncertainty.  :func:`rank_robustness` draws weight vectors
(each weight times a factor uniform in ``[1 - bound, 1 + bound]``, renormalised; a fixed seed,
so a run repeats exactly), re-scores every parcel with its 0-100 criterion ratings, re-ranks the
parcels not excluded as :func:`siteplan.scoring.score.dense_rank` does (score descending, then
``parcel_id``) and reports per parcel

- ``p_top_<N>``: the share of draws in which it ranks within the top N;
- ``rank_low``, ``rank_high``: the interval of its ranks (percentiles of the draws, 5-95 by
  default), so a parcel "ranked 3rd" may read "3rd, between 2nd and 6th".

With AHP weights, ``[robustness] method = "saaty_step"`` varies the judgements instead: each
moves one step along Saaty's scale or stays (:func:`saaty_step_draws`).  Excluded parcels get
NaN.  The draws run in blocks of bounded memory, each a matrix product,
then one sort of the parcels per draw; no loop per parcel (200,000 parcels x 1,000 draws: 6-11 s
on 2 shared cores, 29 s before; ``benchmarks/robustness.py``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from siteplan.core.columns import p_top_column

if TYPE_CHECKING:
    from siteplan.study.model import Study

#: Cells (parcels x draws) of one block of draws: bounds the memory of a province's parcels.
BLOCK_CELLS = 4_000_000
#: Slots beyond the kept ranks in which each parcel gathers new small (or large) ranks.
SPARE = 24
#: Draws whose ranks may wait for the keeping thread (memory: this many x parcels x 4 bytes).
QUEUED = 4
#: Parcels turned or partially sorted at once.
CHUNK = 16_384


def weight_draws(weights: np.ndarray, bound: float, draws: int, seed: int) -> np.ndarray:
    """Return ``(draws, K)`` weight vectors: each weight times U(1-bound, 1+bound), summing to 1.

    Examples
    --------
    >>> w = weight_draws(np.array([0.5, 0.5]), 0.2, 3, seed=1)
    >>> w.shape, bool(np.allclose(w.sum(axis=1), 1.0))
    ((3, 2), True)
    >>> bool(((w >= 0.4) & (w <= 0.6)).all())  # 0.5 x 0.8 / (0.5 x 0.8 + 0.5 x 1.2) = 0.4
    True
    """
    w = np.asarray(weights, dtype=float)
    rng = np.random.default_rng(seed)
    factors = rng.uniform(1.0 - bound, 1.0 + bound, size=(draws, w.size))
    out = w * factors
    result: np.ndarray = out / out.sum(axis=1, keepdims=True)
    return result


#: Saaty's scale, 1/9 ... 1 ... 9: one step is one position along it.
SAATY_SCALE = np.array([1 / v for v in range(9, 1, -1)] + list(range(1, 10)), dtype=float)


def saaty_step_draws(matrix: Sequence[Sequence[float]] | np.ndarray, draws: int, seed: int
                     ) -> np.ndarray:
    """Return ``(draws, K)`` AHP weights with every judgement moved by at most one Saaty step.

    Each judgement above the diagonal (taken at its nearest step of :data:`SAATY_SCALE`) moves
    down one step, stays or moves up one step, with equal chances and independently, within
    1/9-9; the matrix is kept reciprocal and its principal eigenvector, normalised, is the
    draw's weights (one batched eigen-decomposition for all draws).

    Examples
    --------
    Two criteria judged 3 : 1 give 2/3, 3/4 or 4/5 to the first (judgements 2, 3 or 4):

    >>> w = saaty_step_draws([[1, 3], [1 / 3, 1]], 300, seed=1)
    >>> sorted({round(float(x), 4) for x in w[:, 0]})
    [0.6667, 0.75, 0.8]
    """
    a = np.asarray(matrix, dtype=float)
    k = a.shape[0]
    upper = np.triu_indices(k, 1)
    logs = np.log(SAATY_SCALE)
    step = np.abs(np.log(a[upper])[:, None] - logs[None, :]).argmin(axis=1)
    moves = np.random.default_rng(seed).integers(-1, 2, size=(draws, step.size))
    values = SAATY_SCALE[np.clip(step + moves, 0, SAATY_SCALE.size - 1)]
    m = np.ones((draws, k, k))
    m[:, upper[0], upper[1]] = values
    m[:, upper[1], upper[0]] = 1.0 / values
    eigvals, vectors = np.linalg.eig(m)
    j = eigvals.real.argmax(axis=1)
    # The Perron vector of a positive matrix has one sign; abs() removes eig's arbitrary one.
    w = np.abs(np.take_along_axis(vectors.real, j[:, None, None], axis=2)[:, :, 0])
    out: np.ndarray = w / w.sum(axis=1, keepdims=True)
    return out


def _order(neg: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """``np.argsort(neg, kind="stable")`` by one plain (SIMD) sort of 64-bit integer keys.

    Each key is the value's order-preserving bit pattern with its low bits replaced by the row
    number (``seq``: ``arange(n)`` as uint64), so equal values come out in row order.  Values
    that differ only in those low bits (at 200,000 rows, 18 bits: a relative 6e-11 or less) can
    come out of order: those runs are re-sorted by value, then row (rare and small).
    """
    n = len(neg)
    if np.isnan(neg).any():
        return np.argsort(neg, kind="stable")
    bits = max(1, (n - 1).bit_length())
    low = np.uint64((1 << bits) - 1)
    u = (neg + 0.0).view(np.uint64)  # + 0.0: -0.0 becomes 0.0, which it equals
    # Order-preserving: negative values flip every bit, the others their sign bit.
    key = (u.view(np.int64) >> 63).view(np.uint64)
    key |= np.uint64(1 << 63)
    key ^= u
    key &= ~low
    key |= seq
    key.sort()
    order = (key & low).view(np.int64)
    high = key >> np.uint64(bits)
    same = np.flatnonzero(high[1:] == high[:-1])  # pairs of neighbours in one run
    if len(same):
        wrong = neg[order[same + 1]] < neg[order[same]]
        if wrong.any():
            pairs = same[np.isin(high[same], high[same[wrong]])]
            at = np.unique(np.concatenate((pairs, pairs + 1)))
            rows = order[at]
            order[at] = rows[np.lexsort((rows, neg[rows], high[at]))]
    return order


class _Smallest:
    """The ``k`` smallest values of each of ``n`` rows, as draws of one value per row arrive.

    A row takes a value only below its threshold (its ``k``-th smallest so far), into a pool of
    ``k + spare`` slots; a full pool is cut back to its ``k`` smallest (a partial sort) and the
    threshold lowered.  After the first draws few values pass, so little is written or sorted.
    """

    def __init__(self, n: int, k: int, spare: int) -> None:
        self.k, self.cap = k, k + spare
        self.first = np.empty((self.cap, n), dtype=np.int32)  # the first draws, as rows
        self.pool = np.empty((0, self.cap), dtype=np.int32)
        self.fill = np.full(n, self.k, dtype=np.int64)
        self.thr = np.empty(n, dtype=np.int32)
        self.seen = 0

    def push(self, v: np.ndarray, *, reverse: bool = False) -> None:
        """Take one value per row (``reverse``: ``len(v) + 1 - v``)."""
        if reverse:
            v = len(v) + 1 - v
        if self.seen < self.cap:  # every row takes each of the first draws
            self.first[self.seen] = v
            self.seen += 1
            if self.seen == self.cap:
                self.pool = np.empty((len(v), self.cap), dtype=np.int32)
                for c in range(0, len(v), CHUNK):
                    self.pool[c:c + CHUNK] = self.first[:, c:c + CHUNK].T
                self.first = np.empty((0, 0), dtype=np.int32)
                self.fill[:] = self.cap
                self._cut(np.arange(len(v)))
            return
        rows = np.flatnonzero(v < self.thr)
        at = self.fill[rows]
        self.fill[rows] = at + 1
        self.pool.reshape(-1)[rows * self.cap + at] = v[rows]
        full = rows[at + 1 == self.cap]
        if len(full):
            self._cut(full)

    def _cut(self, rows: np.ndarray) -> None:
        for c in range(0, len(rows), CHUNK):  # in chunks: bounded scratch memory
            part, at = self._smallest(rows[c:c + CHUNK], full=True)
            self.pool[at] = part
            self.fill[at] = self.k
            self.thr[at] = part[:, self.k - 1]

    def _smallest(self, rows: np.ndarray, *, full: bool) -> tuple[np.ndarray, np.ndarray]:
        """Return the pools of ``rows``, partitioned at ``k - 1`` (empty slots as the max)."""
        part = self.pool[rows]
        if not full:
            part[np.arange(self.cap)[None, :] >= self.fill[rows][:, None]] = np.iinfo(np.int32).max
        part.partition(self.k - 1, axis=1)
        return part, rows

    def kth(self) -> np.ndarray:
        """Return the ``k``-th smallest value of each row."""
        if self.seen < self.cap:
            out: np.ndarray = np.partition(self.first[:self.seen], self.k - 1, axis=0)[self.k - 1]
            return out
        kth = self.thr.copy()
        rows = np.flatnonzero(self.fill > self.k)  # the others hold k values below thr: thr
        for c in range(0, len(rows), CHUNK):
            part, at = self._smallest(rows[c:c + CHUNK], full=False)
            kth[at] = part[:, self.k - 1]
        return kth


def rank_robustness(
    ratings: np.ndarray,
    weights: np.ndarray,
    excluded: np.ndarray,
    parcel_id: Sequence[object] | np.ndarray,
    *,
    top_n: int,
    bound: float = 0.25,
    draws: int = 1000,
    seed: int = 19,
    interval: tuple[float, float] = (5.0, 95.0),
    samples: np.ndarray | None = None,
) -> pd.DataFrame:
    """Monte Carlo weight sensitivity of the ranking (module docstring).

    Parameters
    ----------
    ratings
        ``(N, K)`` 0-100 ratings of every parcel on every criterion (NaN counts as 0, as in the
        score).
    weights
        ``(K,)`` the study's weights (normalised or not).
    excluded
        ``(N,)`` parcels left out of the ranking.
    parcel_id
        ``(N,)`` ids: ties rank by id as text, as in the study's own ranking.
    top_n
        The N of ``p_top_<N>``.
    bound, draws, seed
        Each weight moves within ``[1 - bound, 1 + bound]`` times itself, ``draws`` times, from
        the random ``seed``.
    interval
        The percentiles of the ranks reported as ``rank_low`` and ``rank_high``.
    samples
        ``(D, K)`` weight vectors to use instead of drawing them from ``weights`` and
        ``bound`` (e.g. :func:`saaty_step_draws`).

    Returns
    -------
    pandas.DataFrame
        ``p_top_<N>``, ``rank_low``, ``rank_high`` in parcel order (NaN where excluded).

    Examples
    --------
    Parcel a is best on the first criterion, b on the second, c halfway on both: with equal
    weights moving by 20 %, a and b share the first place (about half the draws each) and c
    is always second.

    >>> out = rank_robustness(np.array([[100, 0], [0, 100], [50, 50.0]]), np.array([1, 1]),
    ...                       np.zeros(3, bool), ["a", "b", "c"], top_n=1, bound=0.2)
    >>> out["p_top_1"].round(2).tolist(), out["rank_low"].tolist(), out["rank_high"].tolist()
    ([0.52, 0.48, 0.0], [1.0, 1.0, 2.0], [3.0, 3.0, 2.0])
    """
    r = np.nan_to_num(np.asarray(ratings, dtype=float), nan=0.0)
    keep = ~np.asarray(excluded, dtype=bool)
    ids = np.asarray(parcel_id).astype(str)
    pos = np.flatnonzero(keep)
    pos = pos[np.argsort(ids[pos], kind="stable")]  # tie order: parcel_id as text
    sub = r[pos]
    wd = (weight_draws(np.asarray(weights, dtype=float), bound, draws, seed) if samples is None
          else np.asarray(samples, dtype=float))
    draws = wd.shape[0]
    n = len(r)
    p_top = np.full(n, np.nan)
    low = np.full(n, np.nan)
    high = np.full(n, np.nan)
    if len(pos):
        p_top[pos], low[pos], high[pos] = _streamed(sub, wd, top_n, interval)
    return pd.DataFrame({p_top_column(top_n): p_top, "rank_low": low, "rank_high": high})


def _streamed(sub: np.ndarray, wd: np.ndarray, top_n: int, interval: tuple[float, float]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(top N) and the rank interval of each row, over blocks of draws.

    Equal to ``np.percentile(ranks, interval, axis=1, method="nearest")`` on the full
    ``(parcels, draws)`` rank matrix, without holding it: a 5-95 interval needs only each
    parcel's ~5 % smallest and largest ranks (:class:`_Smallest`; 150,000 ranked parcels x
    1,000 draws: a peak of 0.28 GB instead of 0.6 GB).  Each draw's scores are a contiguous
    row, sorted by :func:`_order` (score descending, ties in row order, i.e. by ``parcel_id``).
    """
    draws, n = wd.shape[0], len(sub)
    # numpy's "nearest": the order statistic at round(q * (draws - 1)) (0-based).
    at = np.around(np.asarray(interval, dtype=float) / 100.0 * (draws - 1)).astype(int)
    low = _Smallest(n, int(at[0]) + 1, SPARE)
    high = _Smallest(n, draws - int(at[1]), SPARE)
    in_top = np.zeros(n, dtype=np.int64)
    places = np.arange(1, n + 1, dtype=np.int32)
    seq = np.arange(n, dtype=np.uint64)
    block = max(1, BLOCK_CELLS // n)
    # A second thread keeps the ranks while this one sorts the next draws (numpy releases the
    # GIL); it keeps them in draw order, so the result is the same as serial.
    pending: deque[Future[None]] = deque()
    with ThreadPoolExecutor(1) as keeper:
        for start in range(0, draws, block):  # blocks of draws, (draws, parcels)
            # (parcels, draws) product as ever: (draws, parcels) can round differently (BLAS).
            scores = sub @ wd[start:start + block].T
            neg = np.negative(scores.T, out=np.empty(scores.shape[::-1]))
            del scores
            for row in neg:
                order = _order(row, seq)
                in_top[order[:top_n]] += 1
                rank = np.empty(n, dtype=np.int32)
                rank[order] = places
                pending.append(keeper.submit(_keep, low, high, rank))
                if len(pending) > QUEUED:
                    pending.popleft().result()
        for done in pending:
            done.result()
    return (in_top / draws, low.kth().astype(float),
            (n + 1 - high.kth()).astype(float))


def _keep(low: _Smallest, high: _Smallest, rank: np.ndarray) -> None:
    low.push(rank)
    high.push(rank, reverse=True)  # the largest ranks: the smallest of n + 1 - rank


def study_robustness(scored: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Run :func:`rank_robustness` on a scored study with its ``[robustness]`` settings.

    ``scored`` is the output of :func:`siteplan.scoring.score.score_parcels` (its
    ``<criterion>_rating`` columns, ``excluded`` and ``parcel_id``); the result has its index.
    """
    cfg = study.robustness
    if cfg is None or not study.criteria:
        return pd.DataFrame(index=scored.index)
    weights = study.weights_vector()
    names = [c.name for c in study.criteria]
    samples = None
    if cfg.method == "saaty_step" and study.weights.matrix is not None:
        samples = saaty_step_draws(study.weights.matrix, cfg.draws, cfg.seed)
    ratings = np.column_stack([pd.to_numeric(scored[f"{n}_rating"], errors="coerce")
                               .to_numpy(dtype=float) for n in names])
    out = rank_robustness(
        ratings, np.array([weights[n] for n in names]), scored["excluded"].to_numpy(dtype=bool),
        scored["parcel_id"].to_numpy(), top_n=cfg.top_n or study.outputs.top_n,
        bound=cfg.weight_bound, draws=cfg.draws, seed=cfg.seed, interval=cfg.interval,
        samples=samples)
    out.index = scored.index
    return out


__all__ = ["BLOCK_CELLS", "SAATY_SCALE", "rank_robustness", "saaty_step_draws",
           "study_robustness", "weight_draws"]
