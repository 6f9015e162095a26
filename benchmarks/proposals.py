"""Patched copies of engine hot spots, to measure proposed fixes before they go into siteplan/.

Each function returns what the engine function it shadows returns (``peers.py`` checks and
prints it next to each timing), but does less work.  Coverage proposals are in
:mod:`proposals_coverage`.

- :func:`snap_kdtree` (for :func:`siteplan.snapping.snap`): a KD-tree over the midpoints of edge
  segments cut to at most ``SUB_M`` metres, then the exact projection on the few candidate
  segments in numpy, instead of GEOS ``STRtree.query_nearest`` (which computes exact
  point-to-linestring distances for every candidate in its own traversal).
- :func:`ids_at_fast` (for ``siteplan.access._ids_at``): the nearest-facility ids of N nodes as
  one ``take`` on a string array.
- :func:`local_bounded_from_each` and :func:`reach_pairs_local` (for
  :func:`siteplan.paths.bounded_from_each` / :func:`siteplan.access.reach_pairs`): per-facility
  passes on the subgraph of nodes within the radius *as the crow flies* of a spatially compact
  chunk of facilities, instead of ``(chunk, N)`` dense passes over the whole network.  A path
  of length <= r stays within Euclidean distance r of its start, so the subgraph holds every
  path that matters and the distances are identical; the work drops from O(F x N) to
  O(F x local).  :func:`per_facility_vees_local` does the same for per-facility catchments.
- :func:`unique_rows` (for ``np.unique(coords, axis=0, return_inverse=True,
  return_counts=True)`` in :mod:`siteplan.noding`): a hash factorisation of ``x + iy`` and a sort
  of the distinct vertices only; numpy's ``axis=0`` path sorts every row as an opaque byte
  string, which is the slowest step of a large network build.
- :func:`walkable_mask_fast` (for :func:`siteplan.walkfilter.walkable_mask`): the engine's own
  mask computed once per distinct combination of the tag columns it reads.  OSM tag strings
  repeat (the bundled Taiyuan lines have 218 distinct ``other_tags`` among 4,412 lines), so the
  regular expressions run over a few percent of the rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from siteplan.network import Network, WalkFilter, walkable_mask
from siteplan.snapping import DEFAULT_MAX_SNAP_M, Snap, SnapPoint, feature_points, snap

# --------------------------------------------------------------------------------------------
# Snapping with a KD-tree over short sub-segments
# --------------------------------------------------------------------------------------------
SUB_M = 50.0  # longest sub-segment indexed by its midpoint
_K = 8  # nearest midpoints fetched per point before the exact bound is known


class SegmentIndex:
    """A KD-tree over the midpoints of edge segments cut to <= ``SUB_M`` metres.

    Only the parent segment of each piece is kept (``seg``, the index of its first vertex):
    the exact projection runs on the whole segment, so the pieces only bound the search.
    About 28 bytes per piece.
    """

    def __init__(self, net: Network) -> None:
        coords, idx = shapely.get_coordinates(net.edge_geometry, return_index=True)
        same = idx[1:] == idx[:-1]
        seg_len = np.zeros(coords.shape[0])
        seg_len[:-1] = np.where(same, np.hypot(*(coords[1:] - coords[:-1]).T), 0.0)
        # Distance of each vertex from its edge's first vertex (as line_locate_point measures).
        first = np.ones(coords.shape[0], dtype=bool)
        first[1:] = ~same
        cum = np.concatenate([[0.0], np.cumsum(seg_len[:-1])])
        cum -= np.repeat(cum[first], np.diff(np.append(np.flatnonzero(first), coords.shape[0])))
        a = np.flatnonzero(same)  # segment a -> a + 1
        n_sub = np.maximum(1, np.ceil(seg_len[a] / SUB_M)).astype(np.int64)
        self.seg = np.repeat(a, n_sub).astype(np.int32 if coords.shape[0] < 2**31 else np.int64)
        mid = (np.arange(self.seg.size) - np.repeat(np.cumsum(n_sub) - n_sub, n_sub)
               + 0.5) / np.repeat(n_sub, n_sub)
        d = coords[self.seg + 1] - coords[self.seg]
        self.tree = cKDTree(coords[self.seg] + mid[:, None] * d)
        del d, mid
        self.half = float(np.max(seg_len[a] / n_sub)) / 2.0 if a.size else 0.0
        self.coords = coords
        self.cum = cum
        self.seg_len = seg_len
        self.edge = idx


_SEG_CACHE: dict[int, tuple[Network, SegmentIndex]] = {}


def segment_index(net: Network) -> SegmentIndex:
    cached = _SEG_CACHE.get(id(net))
    if cached is None or cached[0] is not net:
        _SEG_CACHE.clear()
        cached = (net, SegmentIndex(net))
        _SEG_CACHE[id(net)] = cached
    return cached[1]


def _best_flat(ix: SegmentIndex, p: np.ndarray, row: np.ndarray,
               cand: np.ndarray) -> tuple[np.ndarray, ...]:
    """Nearest candidate segment of each row (every row must have one).

    ``cand`` are pieces of :class:`SegmentIndex`; the projection is on their parent segments.
    Ties (a point facing a junction) go to the lowest edge index, as in ``snap()``.
    """
    seg = ix.seg[cand]
    a = ix.coords[seg]
    ab = ix.coords[seg + 1] - a
    den = np.einsum("ij,ij->i", ab, ab)
    t = np.einsum("ij,ij->i", p[row] - a, ab) / np.where(den > 0, den, 1.0)
    t = np.clip(t, 0.0, 1.0)
    q = a + t[:, None] * ab
    dist = np.hypot(*(p[row] - q).T)
    edge = ix.edge[seg]
    # ``row`` is sorted and every row has a candidate: per-row minimum by reduceat.
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    dmin = np.minimum.reduceat(dist, starts)
    tie = np.flatnonzero(dist <= dmin[row] + 1e-9 * np.maximum(1.0, dmin[row]))
    tie = tie[np.lexsort((edge[tie], row[tie]))]
    first = np.ones(tie.size, dtype=bool)
    first[1:] = row[tie][1:] != row[tie][:-1]
    pick = tie[first]  # one per row, rows in order
    off = ix.cum[seg[pick]] + t[pick] * ix.seg_len[seg[pick]]
    return dist[pick], q[pick], off, edge[pick]


def snap_kdtree(net: Network, geoms: np.ndarray, *, how: SnapPoint = "representative",
                max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snap:
    """:func:`siteplan.snapping.snap` for point-like targets, via :class:`SegmentIndex`."""
    if how == "nearest-boundary":
        return snap(net, geoms, how=how, max_snap_m=max_snap_m)
    targets = feature_points(np.asarray(geoms, dtype=object), how)
    xy = np.column_stack([shapely.get_x(targets), shapely.get_y(targets)])
    m = xy.shape[0]
    ix = segment_index(net)
    good = np.flatnonzero(np.isfinite(xy).all(axis=1))  # empty geometries stay unreachable
    p = xy[good]
    n = p.shape[0]
    k = min(_K, ix.seg.shape[0])
    workers = -1 if n > 50_000 else 1  # a thread pool costs ~1 ms per call: not for a few points
    dk, ik = ix.tree.query(p, k=k, workers=workers)
    dk, ik = dk.reshape(n, k), ik.reshape(n, k)
    dist, q, off, edge = _best_flat(ix, p, np.repeat(np.arange(n), k), ik.ravel())
    # A closer sub-segment would have its midpoint within (best distance + half a sub-segment);
    # where the k-th midpoint is inside that bound some may be unseen: fetch them all.
    bound = dist + ix.half + 1e-9
    more = np.flatnonzero(dk[:, -1] <= bound)
    if more.size:
        lists = ix.tree.query_ball_point(p[more], bound[more], workers=workers,
                                         return_sorted=False)
        lens = np.fromiter((len(x) for x in lists), dtype=np.int64, count=more.size)
        flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64,
                           count=int(lens.sum()))
        r = _best_flat(ix, p[more], np.repeat(np.arange(more.size), lens), flat)
        dist[more], q[more], off[more], edge[more] = r
    nearest = np.full(m, np.nan)
    nearest[good] = dist
    keep = dist <= max_snap_m
    at = good[keep]
    out_edge = np.full(m, -1, dtype=np.int64)
    out_edge[at] = edge[keep]
    offset, access = np.full(m, np.nan), np.full(m, np.nan)
    offset[at], access[at] = off[keep], dist[keep]
    origin, point = np.full((m, 2), np.nan), np.full((m, 2), np.nan)
    origin[at], point[at] = p[keep], q[keep]
    return Snap(out_edge, offset, access, nearest, origin, point, max_snap_m)


def ids_at_fast(ids: np.ndarray, index: np.ndarray) -> pd.arrays.StringArray:
    """``siteplan.access._ids_at``: one vectorised take instead of an object-array round trip."""
    return pd.array(ids, dtype="string").take(index, allow_fill=True)


# --------------------------------------------------------------------------------------------
# Per-facility passes on local subgraphs
# --------------------------------------------------------------------------------------------
def _morton(xy: np.ndarray) -> np.ndarray:
    """Z-order key of points, so that consecutive facilities are near each other."""
    lo = xy.min(axis=0)
    span = max(float(np.ptp(xy, axis=0).max()), 1.0)
    g = ((xy - lo) / span * 65535).astype(np.uint64)
    key = np.zeros(xy.shape[0], dtype=np.uint64)
    for bit in range(16):
        for axis in (0, 1):
            key |= ((g[:, axis] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit + axis)
    return key


def local_bounded_from_each(
    net: Network, sources: Snap, limit: float, *, chunk: int = 64,
    budget_bytes: int = 256 * 2**20,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Like :func:`siteplan.paths.bounded_from_each`, on local subgraphs.

    Yields
    ------
    source_index, nodes, node_dist
        ``(c,)`` indices into ``sources``, ``(L,)`` global node ids, ``(c, L)`` distances
        (inf beyond ``limit``).
    """
    ok = np.flatnonzero(sources.reachable)
    if ok.size == 0:
        return
    ok = ok[np.argsort(_morton(sources.origin_xy[ok]), kind="stable")]
    tree = cKDTree(net.node_xy)
    base = net.csr
    e_all = sources.edge
    start = 0
    while start < ok.size:
        block = ok[start:start + chunk]
        balls = tree.query_ball_point(sources.origin_xy[block], limit, return_sorted=False)
        nodes = np.unique(np.concatenate([np.asarray(b, dtype=np.int64) for b in balls]))
        if block.size > 1 and block.size * (nodes.size + block.size) * 8 > budget_bytes:
            chunk = max(1, chunk // 2)  # a dense area: smaller chunks keep the block bounded
            continue
        start += block.size
        sub = base[nodes][:, nodes]
        n = nodes.size
        s = block.size
        e = e_all[block]
        u_loc = np.searchsorted(nodes, net.edge_u[e])
        v_loc = np.searchsorted(nodes, net.edge_v[e])
        u_in = (u_loc < n) & (nodes[np.minimum(u_loc, n - 1)] == net.edge_u[e])
        v_in = (v_loc < n) & (nodes[np.minimum(v_loc, n - 1)] == net.edge_v[e])
        off = sources.offset_m[block]
        acc = sources.access_m[block]
        length = net.edge_length[e]
        w = np.maximum(np.column_stack([acc + off, acc + (length - off)]), 1e-9)
        tgt = np.column_stack([u_loc, v_loc])
        keep = np.column_stack([u_in, v_in])
        counts = keep.sum(axis=1)
        indptr = np.concatenate([sub.indptr, sub.indptr[-1] + np.cumsum(counts)])
        indices = np.concatenate([sub.indices, tgt[keep]]).astype(np.int32)
        data = np.concatenate([sub.data, w[keep]])
        graph = sparse.csr_matrix((data, indices, indptr), shape=(n + s, n + s))
        d = csgraph.dijkstra(graph, directed=True, indices=n + np.arange(s), limit=limit)
        yield block, nodes, d[:, :n]


def reach_pairs_local(net: Network, targets: Snap, sources: Snap, radius_m: float,
                      *, chunk: int = 64) -> sparse.csr_matrix:
    """:func:`siteplan.access.reach_pairs` on local subgraphs; same result."""
    shape = (len(sources), len(targets))
    ok = np.flatnonzero(targets.reachable)
    if ok.size == 0 or not sources.reachable.any():
        return sparse.csr_matrix(shape)
    e = targets.edge[ok]
    off = targets.offset_m[ok]
    acc = targets.access_m[ok]
    tu, tv = net.edge_u[e], net.edge_v[e]
    rest = net.edge_length[e] - off
    # Targets by end node and by edge, to pick those a chunk can reach: through its subgraph,
    # or along a source's own edge (whose ends may both lie beyond the radius).
    by_node = sparse.csr_matrix(
        (np.ones(2 * ok.size), (np.concatenate([tu, tv]), np.tile(np.arange(ok.size), 2))),
        shape=(net.n_nodes, ok.size))
    by_edge = sparse.csr_matrix((np.ones(ok.size), (e, np.arange(ok.size))),
                                shape=(net.n_edges, ok.size))
    local = np.full(net.n_nodes, -1, dtype=np.int64)
    rows, cols, vals = [], [], []
    for src, nodes, d in local_bounded_from_each(net, sources, radius_m, chunk=chunk):
        t = np.unique(np.concatenate([by_node[nodes].indices,
                                      by_edge[sources.edge[src]].indices]))
        if t.size == 0:
            continue
        local[nodes] = np.arange(nodes.size)
        lu, lv = local[tu[t]], local[tv[t]]
        pad = np.concatenate([d, np.full((d.shape[0], 1), np.inf)], axis=1)  # column -1 = inf
        best = np.minimum(pad[:, lu] + off[t], pad[:, lv] + rest[t]) + acc[t]
        local[nodes] = -1
        same = sources.edge[src][:, None] == e[t][None, :]
        if same.any():
            si, ti = np.nonzero(same)
            direct = (sources.access_m[src][si] + np.abs(sources.offset_m[src][si]
                                                         - off[t][ti]) + acc[t][ti])
            best[si, ti] = np.minimum(best[si, ti], direct)
        si, ti = np.nonzero(best <= radius_m)
        rows.append(src[si])
        cols.append(ok[t[ti]])
        vals.append(np.maximum(best[si, ti], 1e-9))
    if not rows:
        return sparse.csr_matrix(shape)
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)


def reach_counts_local(net: Network, targets: Snap, sources: Snap,
                       radii: Sequence[float]) -> np.ndarray:
    """``(len(radii), M)`` counts, as ``siteplan.access._reach_counts``."""
    pairs = reach_pairs_local(net, targets, sources, max(radii)).tocoo()
    counts = np.zeros((len(radii), len(targets)), dtype=np.int64)
    for k, r in enumerate(radii):
        within = pairs.data <= r
        counts[k] = np.bincount(pairs.col[within], minlength=len(targets))
    return counts


def per_facility_vees_local(net: Network, sn: Snap, limit: float,
                            budget_bytes: int = 64 * 2**20) -> pd.DataFrame:
    """``siteplan.reach.per_facility_vees`` on local subgraphs (same rows, other order)."""
    from siteplan.reach import _incidence, _node_vees, _own_vees

    incidence = _incidence(net)
    frames = []
    for src, nodes, d in local_bounded_from_each(net, sn, limit, budget_bytes=budget_bytes):
        row, node = np.nonzero(np.isfinite(d))
        frames.append(_node_vees(net, incidence, src[row], nodes[node], d[row, node]))
    ok = np.flatnonzero(sn.reachable)
    frames.append(_own_vees(net, ok, sn, ok))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Network build
# --------------------------------------------------------------------------------------------
def unique_rows(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(coords, axis=0, return_inverse=True, return_counts=True)``, faster.

    Vertices are hashed as complex numbers (``pandas.factorize``); only the distinct ones are
    sorted (x, then y) so that the ids equal numpy's lexicographic ones.  (Unlike numpy's byte
    comparison, 0.0 and -0.0 count as one coordinate.)
    """
    codes, uniq = pd.factorize(coords[:, 0] + 1j * coords[:, 1])
    order = np.lexsort((uniq.imag, uniq.real))
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    vid = rank[codes]
    rows = np.column_stack([uniq.real[order], uniq.imag[order]])
    return rows, vid, np.bincount(vid, minlength=order.size)


class NumpyFastUniqueRows:
    """numpy, except that ``unique(coords, axis=0, ...)`` of (n, 2) floats uses unique_rows.

    Only for swapping into :mod:`siteplan.noding` in a benchmark process.
    """

    def __getattr__(self, name: str) -> object:
        return getattr(np, name)

    @staticmethod
    def unique(ar: np.ndarray, *args: object, **kwargs: object) -> object:
        if (kwargs.get("axis") == 0 and not args and isinstance(ar, np.ndarray)
                and ar.ndim == 2 and ar.shape[1] == 2 and ar.dtype == np.float64
                and kwargs.get("return_inverse") and kwargs.get("return_counts")
                and not kwargs.get("return_index")):
            return unique_rows(ar)
        return np.unique(ar, *args, **kwargs)  # type: ignore[call-overload]


def walkable_mask_fast(lines: pd.DataFrame, walk_filter: WalkFilter | None = None) -> np.ndarray:
    """:func:`siteplan.walkfilter.walkable_mask`, evaluated once per distinct tag combination."""
    walk_filter = walk_filter or WalkFilter()
    cols = [c for c in dict.fromkeys(["highway", "other_tags", *walk_filter.exclude])
            if c in lines.columns]
    if not cols or len(lines) == 0:
        return walkable_mask(lines, walk_filter)
    key = np.zeros(len(lines), dtype=np.int64)
    for c in cols:
        codes, uniq = pd.factorize(lines[c], use_na_sentinel=False)
        key = key * (len(uniq) + 1) + codes
        key = np.unique(key, return_inverse=True)[1].ravel()  # keep the key small
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return walkable_mask(lines.iloc[first], walk_filter)[inverse.ravel()]
