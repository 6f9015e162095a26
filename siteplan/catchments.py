"""Service areas (catchments) along the street network.

A catchment is the street frontage a facility reaches on foot within its service radius: every
street point whose network distance from the facility (access leg included) is at most the radius,
buffered by a frontage width so that the blocks facing those streets count as served.  Partial
edges are cut at the exact remaining budget; nothing is a convex or concave hull, so a polygon never
covers land that is not near a reachable street.

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

import logging
from collections.abc import Mapping
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.errors import ConfigError, InputError
from siteplan.network import Network
from siteplan.paths import bounded_from_each, nearest_source_nodes
from siteplan.snapping import DEFAULT_MAX_SNAP_M, Snap, snap

log = logging.getLogger(__name__)

Mode = Literal["overlap", "dissolve", "split", "rings"]

# Seed clause 三(二)8 (好房子): walking service radii for schools and kindergartens.
SEED_RADII: dict[str, float] = {
    "kindergarten": 300.0,
    "primary_school": 500.0,
    "middle_school": 1000.0,
}
# GB 50180-2018 《城市居住区规划设计标准》: 5/10/15-minute life circles as walking distances.
LIFE_CIRCLES: dict[str, float] = {"5min": 300.0, "10min": 500.0, "15min": 1000.0}

# Street-frontage width: the depth of the blocks facing a reached street that count as served
# (a typical Chinese residential block's street-facing row of buildings).
DEFAULT_FRONTAGE_M = 30.0
# Round joins and caps with 6 segments per quarter circle: chords stay inside the true buffer
# (never false coverage) and fall short of it by at most w * (1 - cos(pi/24)), 0.26 m at 30 m.
DEFAULT_QUAD_SEGS = 6
# Split mode: street pieces are sampled every this many metres to assign buffer overlaps.
SPLIT_SAMPLE_M = 5.0

CATCHMENT_COLUMNS = ["facility_id", "class", "radius_m"]


# --------------------------------------------------------------------------------------------
# Substrings of many edges at once
# --------------------------------------------------------------------------------------------
class _EdgeVertices:
    """All edge vertices with cumulative lengths on one increasing axis, for searchsorted."""

    def __init__(self, geometry: np.ndarray) -> None:
        coords, idx = shapely.get_coordinates(geometry, return_index=True)
        n_edges = geometry.shape[0]
        seg = np.zeros(coords.shape[0])
        same = np.zeros(coords.shape[0], dtype=bool)
        same[1:] = idx[1:] == idx[:-1]
        seg[1:] = np.hypot(*(coords[1:] - coords[:-1]).T)
        seg[~same] = 0.0
        cum = np.cumsum(seg)
        first = np.flatnonzero(~same)
        start_cum = np.repeat(cum[first], np.diff(np.append(first, coords.shape[0])))
        local = cum - start_cum  # distance from the edge's first vertex
        last = np.append(first[1:], coords.shape[0]) - 1
        self.coords = coords
        self.local = local
        self.seg = seg
        self.length = local[last]  # (E,) lengths consistent with the vertex sums
        # Edges laid end to end with a 1 m gap, so one searchsorted serves every edge.
        self.base = np.zeros(n_edges)
        self.base[1:] = np.cumsum(self.length[:-1] + 1.0)
        self.axis = local + self.base[idx]
        self.first = first


def substrings(
    geometry: np.ndarray,
    edge: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    *,
    vertices: _EdgeVertices | None = None,
) -> np.ndarray:
    """Vectorised ``shapely.ops.substring`` for many (edge, start, end) pieces.

    Parameters
    ----------
    geometry
        ``(E,)`` LineStrings without repeated vertices.
    edge, start, end
        ``(P,)`` edge index and distances along it, ``0 <= start < end <= length``.
    vertices
        Precomputed vertex table of ``geometry`` (to reuse across calls).

    Returns
    -------
    numpy.ndarray
        ``(P,)`` LineStrings running from ``start`` to ``end``.
    """
    vx = vertices or _EdgeVertices(np.asarray(geometry, dtype=object))
    edge = np.asarray(edge, dtype=np.int64)
    n = edge.shape[0]
    if n == 0:
        return np.empty(0, dtype=object)
    length = vx.length[edge]
    s = np.clip(np.asarray(start, dtype=float), 0.0, length)
    t = np.clip(np.asarray(end, dtype=float), 0.0, length)
    bs, bt = vx.base[edge] + s, vx.base[edge] + t
    first = vx.first[edge]
    last = first + _n_vertices(vx, edge) - 1
    # i0: first vertex strictly after s; j: first vertex at or after t.  Interior = [i0, j).
    i0 = np.clip(np.searchsorted(vx.axis, bs, side="right"), first + 1, last)
    j = np.clip(np.searchsorted(vx.axis, bt, side="left"), first + 1, last)
    j = np.maximum(j, i0)
    p_s = _interpolate(vx, i0, s)
    p_t = _interpolate(vx, j, t)
    n_inner = j - i0
    counts = n_inner + 2
    offsets = np.cumsum(counts) - counts
    total = int(counts.sum())
    out = np.empty((total, 2))
    out[offsets] = p_s
    out[offsets + counts - 1] = p_t
    if n_inner.sum():
        piece = np.repeat(np.arange(n), n_inner)
        k = np.arange(int(n_inner.sum())) - np.repeat(np.cumsum(n_inner) - n_inner, n_inner)
        out[offsets[piece] + 1 + k] = vx.coords[i0[piece] + k]
    return shapely.linestrings(out, indices=np.repeat(np.arange(n), counts))


def _n_vertices(vx: _EdgeVertices, edge: np.ndarray) -> np.ndarray:
    ends = np.append(vx.first[1:], vx.coords.shape[0])
    return ends[edge] - vx.first[edge]


def _interpolate(vx: _EdgeVertices, k: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Point at distance ``at`` on the segment ending at vertex ``k``."""
    frac = np.clip((at - vx.local[k - 1]) / vx.seg[k], 0.0, 1.0)[:, None]
    return vx.coords[k - 1] + frac * (vx.coords[k] - vx.coords[k - 1])


def _vertices(net: Network) -> _EdgeVertices:
    # Network is frozen; keep the table beside it rather than on it.
    key = id(net)
    cached = _VERTEX_CACHE.get(key)
    if cached is None or cached[0] is not net:
        _VERTEX_CACHE.clear()
        cached = (net, _EdgeVertices(net.edge_geometry))
        _VERTEX_CACHE[key] = cached
    return cached[1]


_VERTEX_CACHE: dict[int, tuple[Network, _EdgeVertices]] = {}


# --------------------------------------------------------------------------------------------
# Reached intervals
# --------------------------------------------------------------------------------------------
def _incidence(net: Network) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node -> incident (edge, end) as CSR: ``indptr``, ``edge``, ``at_v`` (True if node is v)."""
    ends = np.concatenate([net.edge_u, net.edge_v])
    edge = np.tile(np.arange(net.n_edges), 2)
    at_v = np.repeat([False, True], net.n_edges)
    order = np.argsort(ends, kind="stable")
    indptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=net.n_nodes), out=indptr[1:])
    return indptr, edge[order], at_v[order]


def _node_vees(
    net: Network, incidence: tuple, group: np.ndarray, node: np.ndarray, dist: np.ndarray
) -> pd.DataFrame:
    """The V's entering each incident edge from reached nodes."""
    indptr, inc_edge, inc_at_v = incidence
    deg = indptr[node + 1] - indptr[node]
    rep = np.repeat(np.arange(node.shape[0]), deg)
    pos = np.arange(int(deg.sum())) - np.repeat(np.cumsum(deg) - deg, deg) + indptr[node][rep]
    e = inc_edge[pos]
    c = np.where(inc_at_v[pos], _vertices(net).length[e], 0.0)
    return pd.DataFrame({"group": group[rep], "edge": e, "a": dist[rep], "c": c})


def _own_vees(net: Network, group: np.ndarray, sn: Snap, idx: np.ndarray) -> pd.DataFrame:
    """The V of each facility on its own edge."""
    e = sn.edge[idx]
    length = _vertices(net).length[e]
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
    """Merge overlapping or touching intervals per (group, edge); vectorised sweep."""
    if group.shape[0] == 0:
        return group, edge, s, t
    order = np.lexsort((s, edge, group))
    g, e, s, t = group[order], edge[order], s[order], t[order]
    new_key = np.ones(g.shape[0], dtype=bool)
    new_key[1:] = (g[1:] != g[:-1]) | (e[1:] != e[:-1])
    key_id = np.cumsum(new_key) - 1
    # Running max of the ends within each key: offset keys apart so one maximum.accumulate works.
    span = float(np.max(t) - np.min(s)) + 1.0
    run = np.maximum.accumulate(t + key_id * span) - key_id * span
    starts = new_key.copy()
    starts[1:] |= s[1:] > run[:-1]
    run_id = np.cumsum(starts) - 1
    out_t = np.zeros(int(run_id[-1]) + 1)
    np.maximum.at(out_t, run_id, t)
    return g[starts], e[starts], s[starts], out_t


def _envelope(vees: pd.DataFrame, owner_rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stretch ``[lo, hi]`` of each V where it is the lowest on its edge (network Voronoi).

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
