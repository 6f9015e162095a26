"""Maximal covering location: which ``k`` new sites cover the most uncovered demand.

The problem (Church & ReVelle's maximal covering location problem, ArcGIS Location-Allocation
"Maximize Coverage") is stated over *atoms*: pieces of demand whose coverage by every candidate
is all or nothing (see :mod:`siteplan.siting.demand`).  ``A`` is the sparse ``(atoms,
candidates)`` 0/1 matrix (atom ``i`` lies in candidate ``j``'s catchment) and ``w`` the atoms'
weights (area, or population spread by area).  Atoms that existing facilities already cover are
left out before this stage: only uncovered demand counts.

Two methods:

- :func:`greedy_cover`: greedy maximal covering with lazy, vectorised gain updates: after a
  site is chosen only the gains of the candidates sharing its newly covered atoms change, by one
  sparse product (``A[new].T @ w[new]``), never a loop over candidates.  The objective is
  monotone submodular, so greedy reaches at least ``1 - 1/e`` (about 63.2 %) of the optimum.
- :func:`exact_cover`: the integer programme (``x_j`` site open, ``y_i`` atom covered,
  ``y_i <= sum_j a_ij x_j``, ``sum_j x_j <= k``, maximise ``w . y``) solved with
  :func:`scipy.optimize.milp` (HiGHS) under a time limit; a solve stopped by the limit reports
  its best solution, the dual bound and the MIP gap.  The instance is reduced first: atoms with
  identical candidate sets are merged (weights summed), candidates that cover nothing or whose
  atoms are a subset of another candidate's are dropped, and so are the independent parts
  (components) that no optimal solution needs (:func:`prune_components`).

Ties are broken by candidate index (the caller orders candidates by id), so the same input gives
the same sites.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, sparse
from scipy.sparse import csgraph

from siteplan.core.errors import InputError

# Relative tolerance under which two gains count as equal (the lower candidate index wins):
# gains updated incrementally differ from recomputed ones by rounding only.
TIE_RTOL = 1e-9


@dataclass(frozen=True)
class Cover:
    """Sites chosen by a method, in order, with what each adds.

    Attributes
    ----------
    sites
        ``(s,)`` candidate indices in the order chosen (for the exact method: the optimal set,
        ordered greedily among themselves).
    gains
        ``(s,)`` weight each site adds to the sites before it.
    objective
        Total weight covered by the sites (the sum of ``gains``).
    method
        ``"greedy"`` or ``"exact"``.
    status
        ``"optimal"``, ``"time_limit"`` (best solution found in the time), ``"greedy"``,
        ``"no_gain"`` (no candidate covers any uncovered demand) or ``"target_met"`` (the
        target was reached without new sites).
    bound
        With ``k`` (``unit == "weight"``): an upper bound on the best covered weight (exact:
        HiGHS's dual bound; greedy: the least of ``objective / (1 - 1/e)``, the total
        coverable weight and the online bound of :func:`order_by_gain`).  With a target
        (``unit == "sites"``): a lower bound on the fewest sites reaching it (exact: HiGHS's
        dual bound; greedy: the fewest sites whose single gains could add up to the target).
    gap
        With ``k``: ``(bound - objective) / bound``; with a target:
        ``(sites - bound) / sites``.  0 when optimal.
    seconds
        Solver time.
    unit
        What ``bound`` and ``gap`` measure: ``"weight"`` (k mode) or ``"sites"`` (target mode).
    """

    sites: np.ndarray
    gains: np.ndarray
    objective: float
    method: str
    status: str
    bound: float
    gap: float
    seconds: float
    unit: str = "weight"


def _sites_bound(a: sparse.csc_matrix, w: np.ndarray, target: float) -> int:
    """Return the fewest sites that could reach ``target``.

    Coverage is submodular, so ``s`` sites cover at most the sum of the ``s`` largest
    single-site gains.
    """
    single = np.sort(np.asarray(a.T @ w).ravel())[::-1]
    reach = np.cumsum(single)
    return int(np.searchsorted(reach, target * (1 - 1e-9))) + 1 if target > 0 else 0


def _check(a: sparse.csr_matrix | sparse.csc_matrix, w: np.ndarray, k: int | None,
           target: float | None) -> tuple[sparse.csc_matrix, np.ndarray]:
    """Return the instance as a 0/1 CSC matrix and float weights, or refuse it.

    Raises :class:`~siteplan.core.errors.InputError` for weights that do not match the rows
    or are negative or not finite, for both or neither of ``k`` and ``target``, and for a
    ``k`` that is not a whole number from 1 to the number of candidates.
    """
    a = _binary(a, sparse.csc_matrix)
    w = np.asarray(w, dtype=float)
    if w.shape != (a.shape[0],):
        raise InputError(f"{w.shape[0]} weights for {a.shape[0]} atoms.", where="siting",
                         fix="give one weight per row of the coverage matrix.")
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError("atom weights must be finite and non-negative.", where="siting",
                         fix="check the population field (no NaN, no negative values).")
    if (k is None) == (target is None):
        raise InputError("give either k or a target weight, not both or neither.",
                         where="siting", fix="pass k=... or target_share=....")
    if k is not None and not (isinstance(k, int | np.integer) and 1 <= k <= a.shape[1]):
        raise InputError(f"k must be a whole number from 1 to the number of candidates "
                         f"({a.shape[1]}), got {k!r}.", where="siting.k",
                         fix="ask for fewer sites or give more candidates.")
    return a, w


def _binary(a: Any, kind: Any) -> Any:
    """Return a 0/1 copy of ``a`` in sparse format ``kind``.

    Stored zeros are dropped (they cover nothing); the caller's matrix is left untouched.
    """
    a = kind(a, dtype=float, copy=True)
    a.sum_duplicates()
    a.eliminate_zeros()
    a.data[:] = 1.0
    return a


def order_by_gain(a: sparse.csc_matrix, w: np.ndarray, pool: np.ndarray,
                  limit: int, target: float = np.inf,
                  bound_sites: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Order the candidates in ``pool`` greedily, up to ``limit`` sites with positive gain.

    The order stops once ``target`` weight is covered.  Gains are kept in one array and
    updated after each choice only through the atoms it newly covers
    (``A[new][:, pool].T @ w[new]``): the lazy part of lazy greedy, vectorised.

    Returns
    -------
    sites, gains, bound
        The sites (indices of ``a``'s columns) and what each adds; with ``bound_sites = k > 0``
        an upper bound on the best cover by ``k`` sites of the pool: the least over the steps
        of the weight covered so far plus the ``k`` largest marginal gains then (coverage is
        submodular, so no ``k`` sites add more than their gains on the current set); else inf.
    """
    sub = a[:, pool].tocsc()
    rows = sub.tocsr()
    gains = np.asarray(sub.T @ w).ravel()
    covered = np.zeros(a.shape[0], dtype=bool)
    sites: list[int] = []
    added: list[float] = []
    total = 0.0
    alive = np.ones(pool.size, dtype=bool)
    bound = np.inf
    # Gains updated by subtraction keep rounding residue (0.6 - 0.1 - 0.2 - 0.3 > 0): below
    # this they count as nothing.
    tol = 1e-12 * float(w.sum())
    while True:
        live = np.where(alive, gains, -np.inf)
        if bound_sites > 0 and live.size:
            top = min(bound_sites, live.size)
            ahead = np.partition(live, live.size - top)[live.size - top:]
            bound = min(bound, total + float(ahead[ahead > 0].sum()))
        if not (len(sites) < limit and total < target):
            break
        best = float(live.max()) if live.size else 0.0
        if not best > tol:
            break
        # Lowest index among the (numerically) tied best gains.
        j = int(np.flatnonzero(live >= best - TIE_RTOL * best)[0])
        col = sub.indices[sub.indptr[j]:sub.indptr[j + 1]]
        new = col[~covered[col]]
        gain = float(w[new].sum())
        alive[j] = False
        if not gain > tol:  # its running gain was rounding residue: it adds nothing
            continue
        covered[new] = True
        gains -= np.asarray(rows[new].T @ w[new]).ravel()
        sites.append(int(pool[j]))
        added.append(gain)
        total += gain
    return np.asarray(sites, dtype=np.int64), np.asarray(added, dtype=float), bound


def greedy_cover(a: sparse.spmatrix, w: np.ndarray, *, k: int | None = None,
                 target: float | None = None) -> Cover:
    """Choose sites by greedy maximal covering.

    Parameters
    ----------
    a
        ``(atoms, candidates)`` coverage matrix; any non-zero counts as covering.
    w
        ``(atoms,)`` non-negative weights.
    k
        Number of sites, or
    target
        weight to cover: sites are added until it is reached (or nothing more can be covered).

    Returns
    -------
    Cover
        Sites with zero gain are never proposed, so fewer than ``k`` sites come back when the
        candidates can cover nothing more.
    """
    a, w = _check(a, w, k, target)
    start = time.perf_counter()
    pool = np.arange(a.shape[1])
    limit = int(k) if k is not None else a.shape[1]
    sites, gains, online = order_by_gain(a, w, pool, limit,
                                         np.inf if target is None else target,
                                         bound_sites=0 if k is None else int(k))
    obj = float(gains.sum())
    status = "greedy" if sites.size else "no_gain"
    if target is not None:
        least = float(min(_sites_bound(a, w, float(target)), sites.size))
        return Cover(sites, gains, obj, "greedy", status, least,
                     (sites.size - least) / sites.size if sites.size else 0.0,
                     time.perf_counter() - start, "sites")
    bound = min(obj / (1.0 - 1.0 / np.e), float(w[np.asarray(a.sum(axis=1)).ravel() > 0].sum()),
                online)
    bound = max(bound, obj)  # rounding in the running gains never puts it below the cover
    return Cover(sites, gains, obj, "greedy", status, bound,
                 (bound - obj) / bound if bound > 0 else 0.0, time.perf_counter() - start)


def merge_atoms(a: sparse.spmatrix, w: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Merge the atoms with the same candidate set into one, summing their weights.

    Atoms that no candidate covers are dropped.  Rows are grouped by two independent 64-bit
    hashes of their column sets, then every row is checked against its group's first row, so
    a hash collision can never merge different sets.
    """
    a = _binary(a, sparse.csr_matrix)
    a.sort_indices()
    w = np.asarray(w, dtype=float)
    nnz = np.diff(a.indptr)
    keep = np.flatnonzero(nnz > 0)
    a, w, nnz = a[keep], w[keep], nnz[keep]
    if a.shape[0] == 0:
        return a, w
    rng = np.random.default_rng(20240601)
    keys = rng.integers(1, 2**63 - 1, size=(2, a.shape[1]), dtype=np.int64).astype(np.uint64)
    row = np.repeat(np.arange(a.shape[0]), nnz)
    h = np.zeros((2, a.shape[0]), dtype=np.uint64)
    for r in range(2):  # wrap-around sums: order-free hashes of each row's column set
        np.add.at(h[r], row, keys[r][a.indices])
    table = np.column_stack([h[0], h[1], nnz.astype(np.uint64)])
    _, first, group = np.unique(table, axis=0, return_index=True, return_inverse=True)
    group = group.ravel()
    rep = first[group]
    same_len = nnz[rep] == nnz
    pos = np.arange(a.indices.size) - np.repeat(a.indptr[:-1], nnz)
    rep_cols = a.indices[np.repeat(a.indptr[rep], nnz) + pos]
    if not (same_len.all() and np.array_equal(rep_cols, a.indices)):
        raise RuntimeError("merge_atoms: a hash collision merged different candidate sets")
    order = np.argsort(first, kind="stable")  # groups in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    weights = np.bincount(rank[group], weights=w, minlength=order.size)
    return a[first[order]], weights


def undominated(a: sparse.csc_matrix) -> np.ndarray:
    """Return the candidates worth keeping.

    Those are the candidates covering something, and not a subset of another's atoms (among
    equal sets the lowest index stays).
    """
    nnz = np.diff(a.indptr)
    shared = (a.T @ a).tocoo()
    j, other = shared.row, shared.col
    subset = (shared.data >= nnz[j]) & (j != other)
    dominated = subset & ((nnz[other] > nnz[j]) | (other < j))
    bad = np.zeros(a.shape[1], dtype=bool)
    bad[j[dominated]] = True
    return np.flatnonzero((nnz > 0) & ~bad)


def prune_components(a: sparse.csr_matrix, w: np.ndarray,
                     max_sites: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the atoms and candidates of the independent parts an optimal solution may need.

    Atoms and candidates split into components (atoms linked through the candidates covering
    them), which share nothing but the count of sites.  Let ``T`` be the ``max_sites``
    components with the best single-site gain ``s_c`` and ``t`` the least of those gains.  A
    component outside ``T`` whose whole weight ``W_c`` is at most ``t`` is never needed: a
    solution with at most ``max_sites`` sites uses at most that many components, so for each
    such component it uses, some component of ``T`` is unused, and the best site there gains
    ``s >= t >= W_c``, at least what all its sites in the pruned one add.  Swapping them all
    keeps the solution as good, with no more sites.

    Parameters
    ----------
    a
        ``(atoms, candidates)`` 0/1 matrix, merged and without dominated candidates.
    w
        ``(atoms,)`` weights.
    max_sites
        An upper bound on the number of sites of an optimal solution.

    Returns
    -------
    atoms, candidates
        Boolean masks of what to keep.
    """
    n_i, n_j = a.shape
    link = sparse.bmat([[None, a], [a.T, None]], format="csr")
    n_comp, label = csgraph.connected_components(link, directed=False)
    atom_c, cand_c = label[:n_i], label[n_i:]
    whole = np.bincount(atom_c, weights=w, minlength=n_comp)
    single = np.zeros(n_comp)
    np.maximum.at(single, cand_c, np.asarray(a.T @ w).ravel())
    if n_comp <= max_sites:
        return np.ones(n_i, dtype=bool), np.ones(n_j, dtype=bool)
    top = np.argsort(-single, kind="stable")[:max_sites]
    keep = whole > single[top[-1]]
    keep[top] = True
    return keep[atom_c], keep[cand_c]


def _covered_rows(a: sparse.csc_matrix, cols: np.ndarray) -> np.ndarray:
    """Return a boolean mask of the atoms some of the columns ``cols`` cover."""
    out = np.zeros(a.shape[0], dtype=bool)
    out[a[:, cols].indices] = True
    return out


def exact_cover(a: sparse.spmatrix, w: np.ndarray, *, k: int | None = None,
                target: float | None = None, time_limit_s: float = 60.0) -> Cover:
    """Solve maximal covering exactly by integer programming (HiGHS through scipy.optimize.milp).

    With ``k``: maximise the covered weight with at most ``k`` sites.  With ``target``: the
    fewest sites that cover at least ``target`` weight.  The instance is reduced first (see the
    module docstring), then solved under ``time_limit_s``.

    Parameters
    ----------
    a
        ``(atoms, candidates)`` coverage matrix; any non-zero counts as covering.
    w
        ``(atoms,)`` non-negative weights.
    k
        Number of sites (give ``k`` or ``target``, not both).
    target
        Weight to cover with as few sites as possible.
    time_limit_s
        Time limit of the solver in seconds.

    Returns
    -------
    Cover
        ``status`` ``"optimal"`` or ``"time_limit"``: the best solution found, never worse
        than greedy's on the same instance (which stands in when HiGHS has none by the
        limit), with the least of HiGHS's dual bound and greedy's online bound as ``bound``
        and ``gap = (bound - objective) / bound``; with a target, ``bound`` is the least
        number of sites HiGHS (or the single gains) proved necessary, ``gap`` in sites.

    Raises
    ------
    InputError
        Bad weights, ``k`` or time limit, or HiGHS found no solution at all.
    """
    a, w = _check(a, w, k, target)
    _check_time_limit(time_limit_s)
    start = time.perf_counter()
    reduced = _reduce(a, w, k, target)
    if reduced is None:
        return Cover(np.empty(0, dtype=np.int64), np.empty(0), 0.0, "exact", "no_gain", 0.0,
                     0.0, time.perf_counter() - start, "weight" if k is not None else "sites")
    sub, mw, keep = reduced
    # Target mode: the weight to reach, at most what the reduced instance holds.
    need = min(float(target), float(mw.sum())) if target is not None else np.inf
    res = _solve_milp(sub, mw, k, need, time_limit_s)
    status = "optimal" if res.status == 0 else "time_limit"
    found = res.x is not None
    chosen = keep[np.flatnonzero(res.x[:sub.shape[1]] > 0.5)] if found else np.empty(0, np.int64)
    online = np.inf
    if status == "time_limit":
        chosen, online = _better_of_highs_and_greedy(a, w, sub, mw, keep, chosen, found, k,
                                                     need)
    sites, gains, _ = order_by_gain(a, w, chosen, chosen.size)
    dual = getattr(res, "mip_dual_bound", None)
    if k is not None:
        return _weight_cover(sites, gains, status, dual, online, start)
    return _sites_cover(sites, gains, status, dual, sub, mw, need, start)


def _check_time_limit(time_limit_s: float) -> None:
    """Refuse a time limit that is not a positive number of seconds."""
    if not (np.isfinite(time_limit_s) and time_limit_s > 0):
        raise InputError(f"time limit must be a positive number of seconds, got {time_limit_s}.",
                         where="siting.time_limit_s", fix="use e.g. 60.")


def _reduce(a: sparse.csc_matrix, w: np.ndarray, k: int | None, target: float | None
            ) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray] | None:
    """Reduce an instance to what an optimal solution may need.

    Atoms with identical candidate sets are merged (:func:`merge_atoms`), dominated candidates
    dropped (:func:`undominated`) and so are the components no optimal solution with at most
    ``k`` sites (or, with a target, as many as greedy needs) uses (:func:`prune_components`).

    Parameters
    ----------
    a, w
        The checked instance (:func:`_check`).
    k, target
        The number of sites or the weight to cover (exactly one is given).

    Returns
    -------
    tuple or None
        ``(sub, weights, keep)``: the reduced ``(atoms, candidates)`` matrix, its atoms'
        weights and the index in ``a`` of each of its candidates; None when no candidate
        covers any weight.
    """
    merged, mw = merge_atoms(a, w)
    keep = undominated(merged.tocsc())
    if keep.size == 0 or mw.sum() <= 0:
        return None
    sub = merged[:, keep].tocsr()
    if k is not None:
        most = int(k)
    else:  # the greedy solution reaches the target: an optimal one has no more sites
        reach = min(float(target), float(mw.sum())) if target is not None else np.inf
        most = order_by_gain(sub.tocsc(), mw, np.arange(keep.size), keep.size,
                             reach * (1 - 1e-9))[0].size
    rows, cols = prune_components(sub, mw, max(most, 1))
    return sub[rows][:, cols].tocsr(), mw[rows], keep[cols]


def _solve_milp(sub: sparse.csr_matrix, mw: np.ndarray, k: int | None, need: float,
                time_limit_s: float) -> optimize.OptimizeResult:
    """Solve the integer programme of a reduced instance with HiGHS.

    Variables are ``x_j`` (site ``j`` open, integer) then ``y_i`` (atom ``i`` covered), with
    ``y_i <= sum_j a_ij x_j``.  With ``k``: at most ``k`` sites, maximise ``w . y``.  Without:
    cover at least ``need`` weight, minimise the number of sites.

    Parameters
    ----------
    sub, mw
        The reduced ``(atoms, candidates)`` matrix and its atoms' weights.
    k
        Number of sites, or None for the target mode.
    need
        Weight to cover in the target mode (unused with ``k``).
    time_limit_s
        Time limit of the solver in seconds.

    Returns
    -------
    scipy.optimize.OptimizeResult
        HiGHS's result; ``status`` 1 when stopped by the time limit.

    Raises
    ------
    InputError
        HiGHS stopped without any solution for another reason than the time limit.
    """
    n_i, n_j = sub.shape
    eye = sparse.identity(n_i, format="csr")
    cover_rows = sparse.hstack([-sub, eye], format="csr")  # y_i - sum_j a_ij x_j <= 0
    integrality = np.r_[np.ones(n_j), np.zeros(n_i)]
    bounds = optimize.Bounds(np.zeros(n_j + n_i), np.ones(n_j + n_i))
    constraints = [optimize.LinearConstraint(cover_rows, -np.inf, 0.0)]
    if k is not None:
        cost = np.r_[np.zeros(n_j), -mw]
        count = sparse.csr_matrix(np.r_[np.ones(n_j), np.zeros(n_i)][None, :])
        constraints.append(optimize.LinearConstraint(count, 0.0, float(k)))
    else:
        cost = np.r_[np.ones(n_j), np.zeros(n_i)]
        weight = sparse.csr_matrix(np.r_[np.zeros(n_j), mw][None, :])
        constraints.append(optimize.LinearConstraint(weight, need * (1 - 1e-9), np.inf))
    res = optimize.milp(cost, integrality=integrality, bounds=bounds, constraints=constraints,
                        options={"time_limit": float(time_limit_s), "disp": False})
    if res.x is None and res.status != 1:  # 1: stopped by the time (or iteration) limit
        raise InputError(f"the integer programme found no solution ({res.message}).",
                         where="siting (exact)",
                         fix="raise the time limit, or use method='greedy'.")
    return res


def _better_of_highs_and_greedy(a: sparse.csc_matrix, w: np.ndarray, sub: sparse.csr_matrix,
                                mw: np.ndarray, keep: np.ndarray, chosen: np.ndarray,
                                found: bool, k: int | None,
                                need: float) -> tuple[np.ndarray, float]:
    """Pick HiGHS's or greedy's sites after a solve stopped by the time limit.

    The greedy solution of the same (reduced) instance stands in when HiGHS has none or a
    worse one (less weight with ``k``, more sites with a target), and its online bound
    tightens HiGHS's dual bound.

    Parameters
    ----------
    a, w
        The checked instance.
    sub, mw, keep
        The reduced instance (:func:`_reduce`).
    chosen
        HiGHS's sites (indices of ``a``'s columns).
    found
        Whether HiGHS has a solution at all.
    k, need
        The number of sites, or None and the weight to cover.

    Returns
    -------
    tuple
        ``(sites, online)``: the sites kept (indices of ``a``'s columns) and greedy's online
        bound (inf in the target mode).
    """
    n_j = sub.shape[1]
    g_sites, g_gains, online = order_by_gain(
        sub.tocsc(), mw, np.arange(n_j), int(k) if k is not None else n_j,
        np.inf if k is not None else need * (1 - 1e-9),
        bound_sites=int(k) if k is not None else 0)
    if not found or (float(w[_covered_rows(a, chosen)].sum()) < g_gains.sum()
                     if k is not None else chosen.size > g_sites.size):
        chosen = keep[g_sites]
    return chosen, online


def _weight_cover(sites: np.ndarray, gains: np.ndarray, status: str, dual: float | None,
                  online: float, start: float) -> Cover:
    """Build the exact method's :class:`Cover` with ``k``: bound and gap in weight.

    The bound is the least of HiGHS's dual bound (negated: HiGHS minimises ``-w . y``) and
    greedy's ``online`` bound, never below the objective; the gap is 0 when optimal.
    """
    obj = float(gains.sum())
    bound = -float(dual) if dual is not None and np.isfinite(dual) else np.inf
    bound = max(min(bound, online), obj)
    gap = 0.0 if status == "optimal" else (bound - obj) / bound if bound > 0 else 0.0
    return Cover(sites, gains, obj, "exact", status, bound, gap, time.perf_counter() - start)


def _sites_cover(sites: np.ndarray, gains: np.ndarray, status: str, dual: float | None,
                 sub: sparse.csr_matrix, mw: np.ndarray, need: float, start: float) -> Cover:
    """Build the exact method's :class:`Cover` with a target: bound and gap in sites.

    The objective of the programme is the number of sites: when optimal the bound is that
    number, else the larger of HiGHS's dual bound (rounded up) and the fewest sites whose
    single gains in the reduced instance ``sub``, ``mw`` reach ``need`` (:func:`_sites_bound`).
    """
    n = sites.size
    least = float(n) if status == "optimal" else float(max(
        _sites_bound(sub.tocsc(), mw, need),
        np.ceil(float(dual) - 1e-6) if dual is not None and np.isfinite(dual) else 0))
    least = min(least, float(n))
    return Cover(sites, gains, float(gains.sum()), "exact", status, least,
                 (n - least) / n if n else 0.0, time.perf_counter() - start, "sites")
