"""Which stretches of street a facility reaches within a radius.

How one edge is reached
-----------------------
Along an edge of length ``L``, each way in is a "V" ``a + |t - c|``: from the ``u`` end
(``a`` = distance of ``u``, ``c = 0``), from the ``v`` end (``c = L``) and, for a facility on that
edge, its own access point (``a`` = access leg, ``c`` = offset).  A V reaches
``[c - (r - a), c + (r - a)]`` clipped to ``[0, L]``; the reached part of the edge is the union of
those intervals.  The same table of V's gives the per-facility catchments (``overlap``, ``rings``),
the per-class union (``dissolve``, from one multi-source search) and the network Voronoi
(``split``: each V keeps only the stretch where it is the lowest).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

import numpy as np
import pandas as pd

from siteplan.network.graph import Network
from siteplan.network.linear import substrings
from siteplan.network.paths import bounded_from_each, nearest_source_nodes
from siteplan.network.snapping import Snap


def _incidence(net: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return node -> incident (edge, end) as CSR: ``indptr``, ``edge``, ``at_v`` (node is v)."""
    ends = np.concatenate([net.edge_u, net.edge_v])
    edge = np.tile(np.arange(net.n_edges), 2)
    at_v = np.repeat([False, True], net.n_edges)
    order = np.argsort(ends, kind="stable")
    indptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=net.n_nodes), out=indptr[1:])
    return indptr, edge[order], at_v[order]


def _node_vees(
    net: Network, incidence: tuple[np.ndarray, np.ndarray, np.ndarray], group: np.ndarray,
    node: np.ndarray, dist: np.ndarray
) -> pd.DataFrame:
    """Return the V's entering each incident edge from reached nodes."""
    indptr, inc_edge, inc_at_v = incidence
    deg = indptr[node + 1] - indptr[node]
    rep = np.repeat(np.arange(node.shape[0]), deg)
    pos = np.arange(int(deg.sum())) - np.repeat(np.cumsum(deg) - deg, deg) + indptr[node][rep]
    e = inc_edge[pos]
    c = np.where(inc_at_v[pos], net.vertices.length[e], 0.0)
    return pd.DataFrame({"group": group[rep], "edge": e, "a": dist[rep], "c": c})


def _own_vees(net: Network, group: np.ndarray, sn: Snap, idx: np.ndarray) -> pd.DataFrame:
    """Return the V of each facility on its own edge."""
    e = sn.edge[idx]
    length = net.vertices.length[e]
    off = np.clip(sn.offset_m[idx], 0.0, length)
    return pd.DataFrame({"group": group, "edge": e, "a": sn.access_m[idx], "c": off})


def _vee_intervals(vees: pd.DataFrame, radius: np.ndarray, length: np.ndarray) -> pd.DataFrame:
    """Clip each V's reach ``[c - (r - a), c + (r - a)]`` to its edge; drop empty ones."""
    half = radius - vees["a"].to_numpy()
    c = vees["c"].to_numpy()
    e = vees["edge"].to_numpy()
    s = np.maximum(c - half, 0.0)
    t = np.minimum(c + half, length[e])
    keep = (half >= 0) & (t > s)
    return pd.DataFrame({"group": vees["group"].to_numpy()[keep], "edge": e[keep],
                         "s": s[keep], "t": t[keep]})


def union_intervals(group: np.ndarray, edge: np.ndarray, s: np.ndarray,
                    t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge overlapping or touching intervals per (group, edge) in one vectorised sweep."""
    if group.shape[0] == 0:
        return group, edge, s, t
    order = np.lexsort((s, edge, group))
    g, e, s, t = group[order], edge[order], s[order], t[order]
    new_key = np.ones(g.shape[0], dtype=bool)
    new_key[1:] = (g[1:] != g[:-1]) | (e[1:] != e[:-1])
    key_id = np.cumsum(new_key) - 1
    # Running max of the ends within each key (exact; offsetting keys apart on one axis would
    # round the ends at large key counts).
    run = pd.Series(t).groupby(key_id, sort=False).cummax().to_numpy()
    starts = new_key.copy()
    starts[1:] |= s[1:] > run[:-1]
    run_id = np.cumsum(starts) - 1
    out_t = np.zeros(int(run_id[-1]) + 1)
    np.maximum.at(out_t, run_id, t)
    return g[starts], e[starts], s[starts], out_t


def _envelope(vees: pd.DataFrame, owner_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the stretch ``[lo, hi]`` of each V where it is the lowest on its edge.

    This is the network Voronoi of the V's owners.

    Pairs of V's of different owners on the same edge are compared; where ``a_k + |t - c_k|``
    and ``a_j + |t - c_j|`` tie over a stretch, the owner of lower rank keeps it.
    """
    n = len(vees)
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    frame = vees[["edge", "group", "a", "c"]].assign(k=np.arange(n))
    pairs = frame.merge(frame, on="edge", suffixes=("", "_j"))
    pairs = pairs[pairs["group"].to_numpy() != pairs["group_j"].to_numpy()]
    if pairs.empty:
        return lo, hi
    a, c = pairs["a"].to_numpy(), pairs["c"].to_numpy()
    aj, cj = pairs["a_j"].to_numpy(), pairs["c_j"].to_numpy()
    first = owner_rank[pairs["group"].to_numpy()] < owner_rank[pairs["group_j"].to_numpy()]
    # k left of j (c < cj): g_k - g_j rises with t; k wins on t <= b when b lies in [c, cj].
    left = c < cj
    b = np.where(left, aj - a, a - aj) / 2.0 + (c + cj) / 2.0
    hi_pair = np.where(b > cj, np.inf, np.where(b < c, -np.inf, b))
    hi_pair = np.where(left & (b == cj) & first, np.inf, hi_pair)
    hi_pair = np.where(left & (b == c) & ~first, -np.inf, hi_pair)
    # k right of j (c > cj): g_k - g_j falls with t; k wins on t >= b.
    right = c > cj
    lo_pair = np.where(b < cj, -np.inf, np.where(b > c, np.inf, b))
    lo_pair = np.where(right & (b == cj) & first, -np.inf, lo_pair)
    lo_pair = np.where(right & (b == c) & ~first, np.inf, lo_pair)
    # Same point: the lower V (or lower rank on a tie) takes all.
    same = c == cj
    wins = (a < aj) | ((a == aj) & first)
    k = pairs["k"].to_numpy()
    upper = np.where(left, hi_pair, np.where(same & ~wins, -np.inf, np.inf))
    lower = np.where(right, lo_pair, np.where(same & ~wins, np.inf, -np.inf))
    np.minimum.at(hi, k, upper)
    np.maximum.at(lo, k, lower)
    return lo, hi


# --------------------------------------------------------------------------------------------
# Reached street pieces
# --------------------------------------------------------------------------------------------
def per_facility_vees(net: Network, sn: Snap, limit: float, budget_bytes: int) -> pd.DataFrame:
    """Return all V's within ``limit`` of each facility separately (``group``: index in ``sn``).

    From per-facility passes on local subgraphs
    (:func:`siteplan.network.paths.bounded_from_each`), so rows come grouped by block of nearby
    facilities; everything downstream sorts them.
    """
    incidence = _incidence(net)
    frames = []
    for src, nodes, d in bounded_from_each(net, sn, limit, budget_bytes=budget_bytes):
        row, col = np.nonzero(np.isfinite(d))
        frames.append(_node_vees(net, incidence, src[row], nodes[col], d[row, col]))
    ok = np.flatnonzero(sn.reachable)
    frames.append(_own_vees(net, ok, sn, ok))
    return pd.concat(frames, ignore_index=True)


def class_vees(net: Network, sn: Snap, limit: float) -> pd.DataFrame:
    """Return the V's of a whole class from one multi-source pass (``group`` 0)."""
    reach = nearest_source_nodes(net, sn, limit)
    node = np.flatnonzero(np.isfinite(reach.dist))
    ok = np.flatnonzero(sn.reachable)
    frames = [
        _node_vees(net, _incidence(net), np.zeros(node.size, dtype=np.int64), node,
                   reach.dist[node]),
        _own_vees(net, np.zeros(ok.size, dtype=np.int64), sn, ok),
    ]
    return pd.concat(frames, ignore_index=True)


def pieces_within(net: Network, vees: pd.DataFrame, radius: float | np.ndarray) -> pd.DataFrame:
    """Return the merged reached intervals ``(group, edge, s, t)`` of V's at ``radius``."""
    length = net.vertices.length
    iv = _vee_intervals(vees, np.broadcast_to(radius, (len(vees),)), length)
    g, e, s, t = union_intervals(iv["group"].to_numpy(), iv["edge"].to_numpy(),
                                 iv["s"].to_numpy(), iv["t"].to_numpy())
    return pd.DataFrame({"group": g, "edge": e, "s": s, "t": t})


def reached_pieces(
    net: Network,
    sn: Snap,
    radius_m: float,
    *,
    per_facility: bool = True,
    budget_bytes: int = 64 * 2**20,
) -> pd.DataFrame:
    """Return the street pieces within ``radius_m`` of the snapped facilities.

    Parameters
    ----------
    net
        The network.
    sn
        The facilities' snaps.
    radius_m
        Walking radius, access leg included.
    per_facility
        ``True``: pieces per facility (``group`` = index into ``sn``).  ``False``: pieces of
        the union of all facilities (``group`` 0), from one multi-source pass.
    budget_bytes
        Memory bound of one block of per-facility passes.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``edge``, ``s``, ``t``: edge ``edge`` is reached from ``s`` to ``t`` metres
        (measured from ``edge_u`` along its geometry); intervals per (group, edge) are disjoint.
    """
    if per_facility:
        vees = per_facility_vees(net, sn, radius_m, budget_bytes)
    else:
        vees = class_vees(net, sn, radius_m)
    return pieces_within(net, vees, radius_m)


# The pieces each class reaches, per network: a study needs them for the catchment lines and
# again for the coverage of the same snapped facilities (a multi-source pass each).  Only the
# pieces are kept (four numbers each): their LineStrings, ~300 bytes each, are cut again when
# asked for, so that a city's worth of them does not stay alive between the stages.
_CLASS_MEMO: weakref.WeakKeyDictionary[
    Network, OrderedDict[tuple[int, float], tuple[weakref.ref[Snap], pd.DataFrame]]
] = weakref.WeakKeyDictionary()
_CLASS_MEMO_SIZE = 16


def class_streets(net: Network, sn: Snap, radius_m: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the pieces a class reaches within ``radius_m`` and each as a LineString.

    The pieces (``edge``, ``s``, ``t``) are those of ``reached_pieces(net, sn, radius_m,
    per_facility=False)``, computed once per snap object and radius while the network lives
    (the facility snaps are memoised by :func:`siteplan.access.distances.snap_facilities`;
    callers must not modify them); ``lines[i]`` is piece ``i`` cut from its edge.
    """
    memo = _CLASS_MEMO.setdefault(net, OrderedDict())
    key = (id(sn), float(radius_m))
    hit = memo.get(key)
    if hit is not None and hit[0]() is sn:
        memo.move_to_end(key)
        pieces = hit[1]
    else:
        # Kept compact (~20 bytes a piece): the group is always 0 and edges fit 32 bits.
        found = reached_pieces(net, sn, radius_m, per_facility=False)
        pieces = pd.DataFrame({"edge": found["edge"].to_numpy(np.int32), "s": found["s"],
                               "t": found["t"]})
        memo[key] = (weakref.ref(sn), pieces)
        while len(memo) > _CLASS_MEMO_SIZE:
            memo.popitem(last=False)
    lines = substrings(net.edge_geometry, pieces["edge"].to_numpy(), pieces["s"].to_numpy(),
                       pieces["t"].to_numpy(), vertices=net.vertices)
    return pieces, lines


def release_class_streets(net: Network) -> None:
    """Forget the pieces :func:`class_streets` keeps for ``net`` (once no stage needs them).

    They live as long as the network otherwise, which a study's result keeps: at a million
    nodes, hundreds of megabytes held through scoring and writing.
    """
    _CLASS_MEMO.pop(net, None)


def split_pieces(net: Network, sn: Snap, radius_m: float, budget_bytes: int) -> pd.DataFrame:
    """Split the reached streets between facilities: each stretch goes to the nearest one."""
    vees = per_facility_vees(net, sn, radius_m, budget_bytes)
    lo, hi = _envelope(vees, np.arange(len(sn)))
    length = net.vertices.length
    iv = _vee_intervals(vees, np.full(len(vees), radius_m), length)
    # _vee_intervals drops empty V's; recompute the same mask to align lo/hi with its rows.
    half = radius_m - vees["a"].to_numpy()
    c = vees["c"].to_numpy()
    e = vees["edge"].to_numpy()
    keep = (half >= 0) & (np.minimum(c + half, length[e]) > np.maximum(c - half, 0.0))
    s = np.maximum(iv["s"].to_numpy(), lo[keep])
    t = np.minimum(iv["t"].to_numpy(), hi[keep])
    ok = t > s
    g, e2, s2, t2 = union_intervals(iv["group"].to_numpy()[ok], iv["edge"].to_numpy()[ok],
                                    s[ok], t[ok])
    return pd.DataFrame({"group": g, "edge": e2, "s": s2, "t": t2})
