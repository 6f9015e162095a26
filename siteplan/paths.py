"""Shortest paths from snapped sources, on the CSR graph with scipy.sparse.csgraph.

Sources (facilities) sit on edges, not nodes.  Instead of splitting edges and rebuilding the
graph, each source becomes an extra row of the CSR matrix with two out-arcs, to the two ends of
its edge, weighted ``access + offset`` and ``access + (length - offset)``.  Nothing points back
at a pseudo-node, so no path runs through another source; one bounded multi-source Dijkstra
(``min_only=True``) then gives every node its nearest source.  A target on an edge takes the
best of its two ends plus its own offset and access leg, or the direct run along a shared edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from siteplan.network import Network
from siteplan.snapping import Snap

DEFAULT_SEARCH_LIMIT_M = 3000.0


def augmented_csr(net: Network, sources: Snap) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The network CSR plus one pseudo-node row per reachable source.

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
    src = src[:n]
    source = np.where(src >= 0, rows[np.clip(src - n, 0, None)], -1)
    source[~np.isfinite(dist)] = -1
    return NodeReach(dist, source.astype(np.int64))


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


def bounded_from_each(
    net: Network, sources: Snap, limit: float, *, budget_bytes: int = 256 * 2**20
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Bounded Dijkstra from each source separately, in memory-bounded chunks.

    Yields
    ------
    source_index, node_dist
        ``(c,)`` indices into ``sources`` and a ``(c, N)`` distance block (inf beyond ``limit``).
        Never an F x N matrix: at most ``budget_bytes`` of distances exist at a time.
    """
    n = net.n_nodes
    graph, rows = augmented_csr(net, sources)
    total = n + rows.size
    chunk = max(1, min(rows.size, budget_bytes // (8 * max(total, 1))))
    for start in range(0, rows.size, chunk):
        block = np.arange(start, min(start + chunk, rows.size))
        d = csgraph.dijkstra(graph, directed=True, indices=n + block, limit=limit)
        yield rows[block], d[:, :n]
