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

from collections.abc import Mapping, Sequence
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

# Seed clause 三(二)8 (好房子) service radii and the GB 50180-2018 5/10/15-minute life circles.
from siteplan.compliance import GB50180_CIRCLES_M as LIFE_CIRCLES
from siteplan.compliance import SEED_RADII_M as SEED_RADII
from siteplan.errors import ConfigError, InputError
from siteplan.network import Network
from siteplan.paths import bounded_from_each, nearest_source_nodes
from siteplan.snapping import DEFAULT_MAX_SNAP_M, Snap, SnapPoint, snap

Mode = Literal["overlap", "dissolve", "split", "rings"]

# Street-frontage width: the depth of the blocks facing a reached street that count as served
# (a typical Chinese residential block's street-facing row of buildings).
DEFAULT_FRONTAGE_M = 30.0
# Round joins and caps with 6 segments per quarter circle: chords stay inside the true buffer
# (never false coverage) and fall short of it by at most w * (1 - cos(pi/24)), 0.26 m at 30 m.
DEFAULT_QUAD_SEGS = 6

# Cells of one padded block of buffered parts in buffer_streets (object pointers).
_PAD_CELLS = 1_000_000


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


# --------------------------------------------------------------------------------------------
# Reached street pieces
# --------------------------------------------------------------------------------------------
def _per_facility_vees(net: Network, sn: Snap, limit: float, budget_bytes: int) -> pd.DataFrame:
    """All V's (``group`` = index into ``sn``) within ``limit`` of each facility separately."""
    incidence = _incidence(net)
    frames = []
    for src, d in bounded_from_each(net, sn, limit, budget_bytes=budget_bytes):
        row, node = np.nonzero(np.isfinite(d))
        frames.append(_node_vees(net, incidence, src[row], node, d[row, node]))
    ok = np.flatnonzero(sn.reachable)
    frames.append(_own_vees(net, ok, sn, ok))
    return pd.concat(frames, ignore_index=True)


def _class_vees(net: Network, sn: Snap, limit: float) -> pd.DataFrame:
    """The V's of a whole class from one multi-source pass (``group`` 0)."""
    reach = nearest_source_nodes(net, sn, limit)
    node = np.flatnonzero(np.isfinite(reach.dist))
    ok = np.flatnonzero(sn.reachable)
    frames = [
        _node_vees(net, _incidence(net), np.zeros(node.size, dtype=np.int64), node,
                   reach.dist[node]),
        _own_vees(net, np.zeros(ok.size, dtype=np.int64), sn, ok),
    ]
    return pd.concat(frames, ignore_index=True)


def _pieces(net: Network, vees: pd.DataFrame, radius: float | np.ndarray) -> pd.DataFrame:
    """Merged reached intervals ``(group, edge, s, t)`` of a table of V's at ``radius``."""
    length = _vertices(net).length
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
    """The street pieces within ``radius_m`` of the snapped facilities.

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
        vees = _per_facility_vees(net, sn, radius_m, budget_bytes)
    else:
        vees = _class_vees(net, sn, radius_m)
    return _pieces(net, vees, radius_m)


def _split_pieces(net: Network, sn: Snap, radius_m: float, budget_bytes: int) -> pd.DataFrame:
    """Network Voronoi: each reached stretch of street goes to its nearest facility."""
    vees = _per_facility_vees(net, sn, radius_m, budget_bytes)
    lo, hi = _envelope(vees, np.arange(len(sn)))
    length = _vertices(net).length
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


def pieces_to_lines(net: Network, pieces: pd.DataFrame, n_groups: int) -> np.ndarray:
    """``(n_groups,)`` MultiLineStrings (line-merged) of the pieces of each group."""
    out = np.full(n_groups, None, dtype=object)
    out[:] = shapely.MultiLineString()
    if len(pieces) == 0:
        return out
    pieces = pieces.sort_values(["group", "edge", "s"], kind="stable")
    lines = substrings(net.edge_geometry, pieces["edge"].to_numpy(), pieces["s"].to_numpy(),
                       pieces["t"].to_numpy(), vertices=_vertices(net))
    group = pieces["group"].to_numpy()
    present = np.unique(group)
    multi = shapely.multilinestrings(lines, indices=np.searchsorted(present, group))
    out[present] = shapely.line_merge(multi)
    return out


def buffer_streets(lines: np.ndarray, frontage_m: float,
                   quad_segs: int = DEFAULT_QUAD_SEGS) -> np.ndarray:
    """Street-frontage polygons: the reached lines buffered by ``frontage_m`` (round caps).

    GEOS buffers a MultiLineString far more slowly than it buffers its parts one by one and
    unions them (4.4 s against 0.3 s for the 5,000 pieces of a city-wide class; 3x faster for
    single facilities at 500 m), so each part is buffered alone and the parts of each geometry
    unioned.
    """
    lines = np.asarray(lines, dtype=object)
    parts, owner = shapely.get_parts(lines, return_index=True)
    if parts.size == 0:
        return shapely.buffer(lines, frontage_m, quad_segs=quad_segs)
    polys = shapely.buffer(parts, frontage_m, quad_segs=quad_segs)
    counts = np.bincount(owner, minlength=lines.shape[0])
    starts = np.cumsum(counts) - counts
    out = np.full(lines.shape[0], None, dtype=object)
    out[counts == 0] = shapely.Polygon()
    # Ragged groups as padded 2-D blocks (union_all(axis=1) skips the None padding), groups of
    # similar size together so that the padding stays small.
    by_size = np.argsort(counts, kind="stable")
    by_size = by_size[counts[by_size] > 0]
    start = 0
    while start < by_size.size:
        stop = start + 1
        while stop < by_size.size and counts[by_size[stop]] * (stop + 1 - start) <= _PAD_CELLS:
            stop += 1
        block = by_size[start:stop]
        width = int(counts[block].max())
        table = np.full((block.size, width), None, dtype=object)
        row = np.repeat(np.arange(block.size), counts[block])
        col = np.arange(row.size) - np.repeat(np.cumsum(counts[block]) - counts[block],
                                              counts[block])
        table[row, col] = polys[np.repeat(starts[block], counts[block]) + col]
        out[block] = shapely.union_all(table, axis=1)
        start = stop
    return out


# --------------------------------------------------------------------------------------------
# Catchment polygons
# --------------------------------------------------------------------------------------------
def _check_radii(radii: Mapping[str, float]) -> None:
    for cls, r in radii.items():
        if not (isinstance(r, int | float) and np.isfinite(r) and r > 0):
            raise ConfigError(f"catchment radius for {cls!r} must be a positive number of "
                              f"metres, got {r!r}.", where=f"radii.{cls}",
                              fix="give e.g. 300, 500 or 1000.")


def catchments(
    net: Network,
    facilities: gpd.GeoDataFrame,
    radii: Mapping[str, float] | None = None,
    *,
    mode: Mode = "overlap",
    rings_m: Sequence[float] = tuple(LIFE_CIRCLES.values()),
    frontage_m: float = DEFAULT_FRONTAGE_M,
    facility_point: SnapPoint = "representative",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
    budget_bytes: int = 64 * 2**20,
) -> gpd.GeoDataFrame:
    """Service areas of facilities along the street network.

    Parameters
    ----------
    net
        The walking network.
    facilities
        ``facility_id``, ``class`` and geometry, with a CRS.
    radii
        ``{class: radius_m}``; the seed radii (kindergarten 300 m, primary school 500 m,
        middle school 1000 m; seed clause 三(二)8) by default.  Classes absent from the data get
        no rows.
    mode
        ``"overlap"``: one polygon per facility.  ``"dissolve"``: one (multi)polygon per class.
        ``"split"``: one polygon per facility from the streets nearest to it (network Voronoi;
        neighbours' polygons may overlap only within ``frontage_m`` of the streets they split).
        ``"rings"``: one polygon per facility and cutoff in ``rings_m``; each contains the
        previous one (built as their union, so exactly up to floating-point rounding, under a
        micrometre).
    rings_m
        Cutoffs in metres for ``"rings"`` (GB 50180-2018 5/10/15-minute life circles by default).
    frontage_m
        Depth of the street frontage counted as served (default 30 m).
    facility_point, max_snap_m
        How facilities reach the network (:func:`siteplan.snapping.snap`).  Facilities that
        cannot reach it get no polygon (they are in the access report).
    budget_bytes
        Memory bound of one block of per-facility passes.

    Returns
    -------
    geopandas.GeoDataFrame
        In ``net.crs``: ``facility_id`` (missing for ``"dissolve"``), ``class``, ``radius_m``,
        ``street_m`` (length of reached street), ``area_m2`` and geometry; rows ordered by class
        then facility.
    """
    radii = dict(SEED_RADII if radii is None else radii)
    _check_radii(radii)
    if not (np.isfinite(frontage_m) and frontage_m > 0):
        raise ConfigError(f"frontage_m must be a positive number of metres, got {frontage_m}.",
                          where="catchments.frontage_m", fix="use e.g. 30.")
    if mode not in ("overlap", "dissolve", "split", "rings"):
        raise ConfigError(f"unknown catchment mode {mode!r}.", where="catchments.mode",
                          fix='use "overlap", "dissolve", "split" or "rings".')
    rings = sorted(float(r) for r in rings_m)
    if mode == "rings":
        _check_radii({f"rings_m[{i}]": r for i, r in enumerate(rings)})
    missing = [c for c in ("facility_id", "class") if c not in facilities.columns]
    if missing:
        raise InputError(f"the facilities have no {', '.join(missing)} column(s).",
                         where="facilities", fix="classify them first or add the columns.")
    if facilities.crs is None:
        raise InputError("the facilities have no CRS.", where="facilities",
                         fix="set one (gdf.set_crs(...)).")
    geoms = np.asarray(facilities.to_crs(net.crs).geometry.values, dtype=object)
    cls_values = facilities["class"].astype(str).to_numpy()
    ids = facilities["facility_id"].astype(str).to_numpy()
    frames = []
    for cls in sorted(radii):
        rows = np.flatnonzero(cls_values == cls)
        if rows.size == 0:
            continue
        order = rows[np.argsort(ids[rows], kind="stable")]
        sn = snap(net, geoms[order], how=facility_point, max_snap_m=max_snap_m)
        frames.append(_class_catchments(net, sn, ids[order], cls, float(radii[cls]), mode,
                                        rings, frontage_m, budget_bytes))
    columns = ["facility_id", "class", "radius_m", "street_m", "area_m2"]
    if not frames:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=net.crs)
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=net.crs)


def _class_catchments(net: Network, sn: Snap, ids: np.ndarray, cls: str, radius: float,
                      mode: Mode, rings: list[float], frontage_m: float,
                      budget_bytes: int) -> pd.DataFrame:
    n = len(sn)
    if mode == "dissolve":
        pieces = reached_pieces(net, sn, radius, per_facility=False)
        lines = pieces_to_lines(net, pieces, 1)
        return _rows([None], cls, radius, pieces, lines, frontage_m)
    if mode == "split":
        pieces = _split_pieces(net, sn, radius, budget_bytes)
        keep = sn.reachable
        lines = pieces_to_lines(net, pieces, n)
        return _rows(ids, cls, radius, pieces, lines, frontage_m)[keep].reset_index(drop=True)
    if mode == "overlap":
        pieces = reached_pieces(net, sn, radius, budget_bytes=budget_bytes)
        lines = pieces_to_lines(net, pieces, n)
        return _rows(ids, cls, radius, pieces, lines, frontage_m)[sn.reachable].reset_index(
            drop=True)
    vees = _per_facility_vees(net, sn, rings[-1], budget_bytes)
    frames = []
    previous = None
    for r in rings:
        pieces = _pieces(net, vees, r)
        lines = pieces_to_lines(net, pieces, n)
        rows = _rows(ids, cls, r, pieces, lines, frontage_m)
        if previous is not None:
            # Buffers of nested line sets nest only up to the chord error of round joins; the
            # union makes every outer ring contain its inner ring exactly.
            geom = shapely.union(rows["geometry"].to_numpy(), previous)
            rows["geometry"] = geom
            rows["area_m2"] = shapely.area(geom)
        previous = rows["geometry"].to_numpy()
        rows.insert(3, "ring", rings.index(r))
        frames.append(rows[sn.reachable])
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["facility_id", "ring"], kind="stable").reset_index(drop=True)


def _rows(ids: Sequence[object] | np.ndarray, cls: str, radius: float, pieces: pd.DataFrame,
          lines: np.ndarray, frontage_m: float) -> pd.DataFrame:
    polys = buffer_streets(lines, frontage_m)
    street = np.bincount(pieces["group"].to_numpy(), weights=(pieces["t"] - pieces["s"]).to_numpy(),
                         minlength=len(lines))
    return pd.DataFrame({
        "facility_id": pd.array(list(ids), dtype="string"),
        "class": cls,
        "radius_m": radius,
        "street_m": street,
        "area_m2": shapely.area(polys),
        "geometry": polys,
    })
