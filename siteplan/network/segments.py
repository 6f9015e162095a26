"""Nearest edge of many points: a KD-tree over short pieces of the edge segments.

:class:`SegmentIndex` finds, for each point, the nearest edge and the distance to it with the
same arithmetic as GEOS, so it agrees with ``STRtree.query_nearest`` to the last bit; the
network keeps one (:attr:`siteplan.network.graph.Network.segment_index`) for snapping.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.spatial import cKDTree

from siteplan.network.linear import EdgeVertices

# Longest piece of an edge segment indexed by its midpoint: short enough that the few nearest
# midpoints nearly always hold the nearest segment, long enough to keep the index small.
SEGMENT_PIECE_M = 50.0
# Nearest midpoints fetched per point before the exact check says whether more are needed.
_K_NEAREST = 8
# Points per call above which the KD-tree queries use every core (a thread pool costs ~1 ms).
_PARALLEL_POINTS = 50_000


class SegmentIndex:
    """Nearest edge of many points: a KD-tree over pieces of the edge segments.

    Every segment is cut into pieces of at most :data:`SEGMENT_PIECE_M` and the tree holds
    their midpoints; a piece only says which segment to check, and the exact distance is to the
    whole segment.  A point whose nearest segment point ``x`` lies at distance ``d`` has the
    midpoint of the piece holding ``x`` within ``d + half`` (``half``: half the longest
    piece), so once the k-th nearest midpoint is farther than the best distance found plus
    ``half``, no unseen segment can be nearer (or as near); otherwise a ball query of that
    radius fetches every candidate.  About 28 bytes per piece (one per ~30 m of street).

    Parameters
    ----------
    vertices
        The edge vertex table of the network (:attr:`siteplan.network.graph.Network.vertices`).
    """

    def __init__(self, vertices: EdgeVertices) -> None:
        coords = vertices.coords
        n = coords.shape[0]
        # Segment a -> a + 1 for every vertex but the last of its edge.
        starts = np.ones(n, dtype=bool)
        starts[vertices.first[1:] - 1] = False
        if n:
            starts[-1] = False
        a = np.flatnonzero(starts)
        length = vertices.seg[a + 1]
        pieces = np.maximum(1, np.ceil(length / SEGMENT_PIECE_M)).astype(np.int64)
        self.segment = np.repeat(a, pieces).astype(np.int32 if n < 2**31 else np.int64)
        frac = (np.arange(self.segment.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
                + 0.5) / np.repeat(pieces, pieces)
        start = coords[self.segment]
        # Sliding-midpoint splits build twice as fast as median ones here, and query as fast.
        self.tree = cKDTree(start + frac[:, None] * (coords[self.segment + 1] - start),
                            balanced_tree=False, compact_nodes=False)
        self.half = float(np.max(length / pieces)) / 2.0 if a.size else 0.0
        self.vertices = vertices

    def nearest(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest edge of each point, and the distance to it.

        Parameters
        ----------
        xy
            ``(P, 2)`` finite coordinates.

        Returns
        -------
        edge, distance
            ``(P,)`` edge index (the lowest among equidistant edges) and distance, as GEOS
            computes it.
        """
        p = np.asarray(xy, dtype=float).reshape(-1, 2)
        n = p.shape[0]
        if n == 0 or self.segment.size == 0:
            return np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
        k = min(_K_NEAREST, self.segment.size)
        workers = -1 if n > _PARALLEL_POINTS else 1
        dk, ik = self.tree.query(p, k=k, workers=workers)
        dk, ik = dk.reshape(n, k), ik.reshape(n, k)
        seg, dist = self._best(p, np.repeat(np.arange(n), k), self.segment[ik.ravel()])
        # A margin over the bound: the tree's distances and the midpoints are rounded too.
        bound = dist + self.half + 1e-9 * (dist + self.half) + 1e-6
        unsettled = np.flatnonzero(dk[:, -1] <= bound)
        if unsettled.size:
            balls = self.tree.query_ball_point(p[unsettled], bound[unsettled],
                                               workers=workers, return_sorted=False)
            lens = np.fromiter((len(b) for b in balls), dtype=np.int64, count=unsettled.size)
            flat = np.fromiter(itertools.chain.from_iterable(balls), dtype=np.int64,
                               count=int(lens.sum()))
            seg[unsettled], dist[unsettled] = self._best(
                p[unsettled], np.repeat(np.arange(unsettled.size), lens), self.segment[flat])
        edge = np.searchsorted(self.vertices.first, seg, side="right") - 1
        return edge.astype(np.int64), dist

    def _best(self, p: np.ndarray, row: np.ndarray,
              seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row (sorted, each present), the nearest candidate segment and its distance.

        Equidistant segments go to the lowest index, which is the lowest edge: edges hold their
        segments in order.
        """
        coords = self.vertices.coords
        dist = point_segment_distance(p[row], coords[seg], coords[seg + 1])
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        best = np.minimum.reduceat(dist, starts)
        tied = np.where(dist == best[row], seg.astype(np.int64), np.iinfo(np.int64).max)
        return np.minimum.reduceat(tied, starts), best


def point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from points to segments, with GEOS's formula (``Distance::pointToSegment``).

    The same arithmetic as GEOS, so that the distances, and which of two nearly equidistant
    edges is nearer, are those of ``STRtree.query_nearest`` to the last bit.
    """
    px, py = p[:, 0], p[:, 1]
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    degenerate = len2 == 0.0
    len2 = np.where(degenerate, 1.0, len2)
    r = ((px - ax) * dx + (py - ay) * dy) / len2
    to_a = np.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    to_b = np.sqrt((px - bx) * (px - bx) + (py - by) * (py - by))
    across = np.abs(((ay - py) * dx - (ax - px) * dy) / len2) * np.sqrt(len2)
    distance: np.ndarray = np.where(degenerate | (r <= 0.0), to_a,
                                    np.where(r >= 1.0, to_b, across))
    return distance


__all__ = ["SEGMENT_PIECE_M", "SegmentIndex", "point_segment_distance"]
