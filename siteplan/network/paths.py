"""Shortest paths from snapped sources, on the CSR graph with scipy.sparse.csgraph.

Sources (facilities) sit on edges, not nodes.  Instead of splitting edges and rebuilding the
graph, each source becomes an extra row of the CSR matrix with two out-arcs, to the two ends of
its edge, weighted ``access + offset`` and ``access + (length - offset)``.  Nothing points back
at a pseudo-node, so no path runs through another source; one bounded multi-source Dijkstra
(``min_only=True``) then gives every node its nearest source.  A target on an edge takes the
best of its two ends plus its own offset and access leg, or the direct run along a shared edge.

Per-source distances (counts within a radius, per-facility catchments) come from
:func:`bounded_from_each`: blocks of nearby sources searched on the small subgraph within the
radius of them, never the whole network once per source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from siteplan.network.graph import Network
from siteplan.network.snapping import Snap


def augmented_csr(net: Network, sources: Snap) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Return the network CSR plus one pseudo-node row per reachable source.

    Returns
    -------
    graph
        ``(N + S, N + S)`` CSR matrix; rows ``N..N+S-1`` are the pseudo-nodes.
    source_rows
        ``(S,)`` index into ``sources`` of each pseudo-node.
    """
    base = net.csr
    n = net.n_nodes
    rows = np.flatnonzero(sources.reachable)
    s = rows.shape[0]
    e = sources.edge[rows]
    off = sources.offset_m[rows]
    acc = sources.access_m[rows]
    length = net.edge_length[e]
    # Two arcs per pseudo-node; (1e-9 floor) because csgraph drops explicit zero weights in
    # some code paths, and a source exactly on a node must still reach it.
    targets = np.column_stack([net.edge_u[e], net.edge_v[e]]).ravel()
    weights = np.column_stack([acc + off, acc + (length - off)]).ravel()
    weights = np.maximum(weights, 1e-9)
    indptr = np.concatenate([base.indptr, base.indptr[-1] + 2 * np.arange(1, s + 1)])
    indices = np.concatenate([base.indices, targets]).astype(base.indices.dtype, copy=False)
    data = np.concatenate([base.data, weights])
    graph = sparse.csr_matrix((data, indices, indptr), shape=(n + s, n + s))
    return graph, rows


@dataclass(frozen=True)
class NodeReach:
    """Nearest-source distance and identity for every node."""

    dist: np.ndarray  # (N,) metres; inf where beyond the limit
    source: np.ndarray  # (N,) index into the sources' Snap; -1 where none


def nearest_source_nodes(net: Network, sources: Snap, limit: float) -> NodeReach:
    """One bounded multi-source Dijkstra pass: nearest source per node."""
    n = net.n_nodes
    graph, rows = augmented_csr(net, sources)
    if rows.size == 0:
        return NodeReach(np.full(n, np.inf), np.full(n, -1, dtype=np.int64))
    dist, _, src = csgraph.dijkstra(graph, directed=True, indices=np.arange(n, n + rows.size),
                                    min_only=True, limit=limit, return_predecessors=True)
    dist = dist[:n]
    # ``src`` holds the pseudo-node row (n + k) of each node's source, negative where none:
    # one lookup through a table whose last entry (-1) stands for "no source".
    slot = src[:n].astype(np.int64) - n
    slot[(slot < 0) | ~np.isfinite(dist)] = rows.size
    return NodeReach(dist, np.append(rows, -1)[slot])


def _same_edge_pairs(targets: Snap, sources: Snap) -> pd.DataFrame:
    """(target, source, direct distance) for every target and source on the same edge."""
    t_idx = np.flatnonzero(targets.reachable)
    s_idx = np.flatnonzero(sources.reachable)
    if t_idx.size == 0 or s_idx.size == 0:
        return pd.DataFrame({"target": [], "source": [], "dist": []})
    left = pd.DataFrame({"edge": targets.edge[t_idx], "target": t_idx})
    right = pd.DataFrame({"edge": sources.edge[s_idx], "source": s_idx})
    pairs = left.merge(right, on="edge")
    t, s = pairs["target"].to_numpy(), pairs["source"].to_numpy()
    direct = (targets.access_m[t] + np.abs(targets.offset_m[t] - sources.offset_m[s])
              + sources.access_m[s])
    return pd.DataFrame({"target": t, "source": s, "dist": direct})


def target_distances(
    net: Network, reach: NodeReach, targets: Snap, sources: Snap, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-source distance for snapped targets, access legs at both ends included.

    Returns
    -------
    dist
        ``(M,)`` metres, NaN where no source lies within ``limit`` or the target is unreachable.
    source
        ``(M,)`` index into ``sources``; -1 where ``dist`` is NaN.
    """
    m = len(targets)
    dist = np.full(m, np.inf)
    src = np.full(m, -1, dtype=np.int64)
    ok = np.flatnonzero(targets.reachable)
    if ok.size:
        e = targets.edge[ok]
        off = targets.offset_m[ok]
        u, v = net.edge_u[e], net.edge_v[e]
        via_u = reach.dist[u] + off
        via_v = reach.dist[v] + (net.edge_length[e] - off)
        use_v = via_v < via_u
        best = np.where(use_v, via_v, via_u) + targets.access_m[ok]
        dist[ok] = best
        src[ok] = np.where(use_v, reach.source[v], reach.source[u])
    pairs = _same_edge_pairs(targets, sources)
    if len(pairs):
        pairs = pairs.sort_values(["target", "dist", "source"], kind="stable")
        pairs = pairs.drop_duplicates("target")
        t = pairs["target"].to_numpy()
        better = pairs["dist"].to_numpy() < dist[t]
        dist[t[better]] = pairs["dist"].to_numpy()[better]
        src[t[better]] = pairs["source"].to_numpy()[better]
    beyond = ~(dist <= limit)
    dist[beyond] = np.nan
    src[beyond] = -1
    return dist, src


def morton_order(xy: np.ndarray) -> np.ndarray:
    """Return the indices that sort points along a Z-order (Morton) curve.

    Consecutive points in that order are mostly near each other, so a run of them covers a
    compact area: what makes a chunk of per-source passes share one small subgraph.

    Parameters
    ----------
    xy
        ``(S, 2)`` finite coordinates.

    Returns
    -------
    numpy.ndarray
        ``(S,)`` a stable permutation of ``range(S)``.
    """
    if xy.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    lo = xy.min(axis=0)
    span = max(float(np.ptp(xy, axis=0).max()), 1.0)
    # 16 bits per axis: cells of 1/65,536 of the extent, finer than any radius that matters.
    cell = ((xy - lo) / span * 65535.0).astype(np.uint64)
    key = np.zeros(xy.shape[0], dtype=np.uint64)
    for bit in range(16):  # interleave the bits of x and y
        for axis in (0, 1):
            key |= ((cell[:, axis] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit + axis)
    return np.argsort(key, kind="stable")


def _ball_nodes(net: Network, xy: np.ndarray, radius: float) -> np.ndarray:
    """Sorted ids of the nodes within ``radius`` (straight line) of any of the points."""
    balls = net.node_tree.query_ball_point(xy, radius, return_sorted=False)
    if len(balls) == 1:
        return np.sort(np.asarray(balls[0], dtype=np.int64))
    return np.unique(np.concatenate([np.asarray(b, dtype=np.int64) for b in balls]))


def _local_graph(net: Network, nodes: np.ndarray, sources: Snap, block: np.ndarray,
                 local: np.ndarray) -> sparse.csr_matrix:
    """Return the subgraph induced by ``nodes`` plus a pseudo-node row per source of ``block``.

    ``local`` is an ``(N,)`` scratch array of -1 that maps global to local node ids; it is
    filled here and left as found.  Local ids follow ``nodes``; pseudo-node ``k`` is row
    ``len(nodes) + k``, weighted as in :func:`augmented_csr`.
    """
    base = net.csr
    n = nodes.shape[0]
    local[nodes] = np.arange(n)
    start, stop = base.indptr[nodes], base.indptr[nodes + 1]
    counts = stop - start
    pos = np.repeat(start - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
    col = local[base.indices[pos]]
    inside = col >= 0  # arcs to nodes outside the subgraph are dropped
    row = np.repeat(np.arange(n), counts)[inside]
    e = sources.edge[block]
    off = sources.offset_m[block]
    acc = sources.access_m[block]
    ends = np.column_stack([local[net.edge_u[e]], local[net.edge_v[e]]])
    weights = np.maximum(np.column_stack([acc + off, acc + (net.edge_length[e] - off)]), 1e-9)
    local[nodes] = -1
    # An end outside the subgraph lies farther than the limit as the crow flies: no arc.
    reach = ends >= 0
    src_row = np.repeat(n + np.arange(block.shape[0]), 2).reshape(-1, 2)[reach]
    rows = np.concatenate([row, src_row])
    indptr = np.zeros(n + block.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n + block.shape[0]), out=indptr[1:])
    # ``row`` is sorted and the pseudo-node rows follow it, so the arcs are already in CSR order.
    indices = np.concatenate([col[inside], ends[reach]]).astype(np.int32)
    data = np.concatenate([base.data[pos[inside]], weights[reach]])
    size = n + block.shape[0]
    return sparse.csr_matrix((data, indices, indptr), shape=(size, size))


def bounded_from_each(
    net: Network,
    sources: Snap,
    limit: float,
    *,
    budget_bytes: int = 256 * 2**20,
    chunk: int = 64,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Bounded Dijkstra from each source separately, on local subgraphs, in bounded blocks.

    A path of length at most ``limit`` never leaves the disc of radius ``limit`` around its
    start (the access leg is straight and an edge is never shorter than the straight line
    between its points), so every distance within the limit is found on the subgraph of the
    nodes within ``limit``, as the crow flies, of the sources' points, and equals the distance
    on the whole network.  Sources are taken in Morton order, ``chunk`` at a time, so that a
    block's discs overlap and its subgraph stays small: the work grows with the facilities times
    their local neighbourhood, not times the whole network.

    Parameters
    ----------
    net
        The network.
    sources
        The snapped sources; unreachable ones are skipped.
    limit
        Search limit in metres.
    budget_bytes
        Memory bound of one block of distances: a block of ``c`` sources on ``L`` local nodes
        holds ``c * (L + c)`` floats; where the sources' surroundings are dense the block
        shrinks (to a single source at worst).
    chunk
        Most sources per block.

    Yields
    ------
    source_index, nodes, node_dist
        ``(c,)`` indices into ``sources``, ``(L,)`` sorted global node ids and the ``(c, L)``
        distances from each source to those nodes (inf beyond ``limit``).  Nodes outside
        ``nodes`` lie beyond ``limit`` of every source of the block.  Never an F x N matrix.
    """
    ok = np.flatnonzero(sources.reachable)
    if ok.size == 0:
        return
    ok = ok[morton_order(sources.origin_xy[ok])]
    # A hair wider than the limit, so that rounding in the lengths never loses a node.
    radius = limit * (1.0 + 1e-9) + 1e-6
    local = np.full(net.n_nodes, -1, dtype=np.int64)
    chunk = max(1, int(chunk))
    start = 0
    while start < ok.size:
        block = ok[start:start + chunk]
        nodes = _ball_nodes(net, sources.origin_xy[block], radius)
        if block.size > 1 and 8 * block.size * (nodes.size + block.size) > budget_bytes:
            chunk = max(1, chunk // 2)  # a dense area: fewer sources per block
            continue
        start += block.size
        graph = _local_graph(net, nodes, sources, block, local)
        d = csgraph.dijkstra(graph, directed=True, indices=nodes.size + np.arange(block.size),
                             limit=limit)
        yield block, nodes, d[:, :nodes.size]
