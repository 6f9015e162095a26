"""Linear referencing along many edges at once: vectorised substrings of edge geometries.

:func:`substrings` cuts ``(edge, start, end)`` pieces out of the network's edge geometries in
one pass over all vertices (``shapely.ops.substring`` does one piece at a time in Python).
"""

from __future__ import annotations

import numpy as np
import shapely


class EdgeVertices:
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
    vertices: EdgeVertices | None = None,
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
    vx = vertices or EdgeVertices(np.asarray(geometry, dtype=object))
    edge = np.asarray(edge, dtype=np.int64)
    n = edge.shape[0]
    pieces = np.empty(n, dtype=object)
    if n == 0:
        return pieces
    length = vx.length[edge]
    s = np.clip(np.asarray(start, dtype=float), 0.0, length)
    t = np.clip(np.asarray(end, dtype=float), 0.0, length)
    # A whole edge is its own geometry: no new LineString (most of what a class reaches at a
    # city's scale), and its ends exactly the edge's vertices.
    whole = (s <= 0.0) & (t >= length)
    pieces[whole] = np.asarray(geometry, dtype=object)[edge[whole]]
    cut = np.flatnonzero(~whole)
    if cut.size:
        pieces[cut] = _cut(vx, edge[cut], s[cut], t[cut])
    return pieces


def _cut(vx: EdgeVertices, edge: np.ndarray, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Return the LineStrings of pieces ``(edge, s, t)`` (clipped to the edges)."""
    n = edge.shape[0]
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
    lines: np.ndarray = shapely.linestrings(out, indices=np.repeat(np.arange(n), counts))
    return lines


def _n_vertices(vx: EdgeVertices, edge: np.ndarray) -> np.ndarray:
    ends = np.append(vx.first[1:], vx.coords.shape[0])
    n_vertices: np.ndarray = ends[edge] - vx.first[edge]
    return n_vertices


def _interpolate(vx: EdgeVertices, k: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Point at distance ``at`` on the segment ending at vertex ``k``."""
    frac = np.clip((at - vx.local[k - 1]) / vx.seg[k], 0.0, 1.0)[:, None]
    points: np.ndarray = vx.coords[k - 1] + frac * (vx.coords[k] - vx.coords[k - 1])
    return points
