"""Demand atoms for maximal covering: demand cut into pieces that every catchment covers
wholly or not at all, so that coverage is measured by area of intersection, never by centroid.

A catchment is the frontage band (``frontage_m``) along the street a site reaches within its
radius (:mod:`siteplan.catchments`), i.e. the union of the buffers of the reached street pieces.
Cutting every edge at every reach end of every candidate and of the existing facilities gives
*elementary* street pieces, each reached wholly or not at all by each site; the buffer of a union
of pieces is the union of their buffers, so a point of demand is covered by a site exactly when
it lies in the buffer of an elementary piece the site reaches.  The atoms are the faces of the
arrangement of those buffers inside each demand polygon: each face lies inside or outside every
buffer, so its coverage by any set of sites is decided, and the atoms tile the demand exactly.
The only approximation is the polygonal buffer (round caps and joins with 6 segments per quarter
circle, as for the catchments; the chords fall short of the true band by at most 0.26 m at 30 m).

The arrangement is built demand polygon by demand polygon (the buffers near it, noded and
polygonized in one padded table per block), so the work grows with the demand and the street
pieces near it, never with a city-wide overlay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from siteplan.catchments import DEFAULT_QUAD_SEGS
from siteplan.linear import edge_vertices, substrings
from siteplan.network import Network
from siteplan.reach import reached_pieces
from siteplan.snapping import Snap

# Cells of one padded block of linework to node and polygonize (object pointers).
_PAD_CELLS = 500_000


@dataclass(frozen=True)
class Atoms:
    """Demand atoms and which candidates cover them.

    Attributes
    ----------
    geometry
        ``(F,)`` polygons tiling the demand.
    owner
        ``(F,)`` index of the demand polygon each atom lies in.
    area
        ``(F,)`` square metres.
    weight
        ``(F,)`` area times the owner's density (1 per m² when weighting by area).
    before
        ``(F,)`` True where an existing facility's catchment covers the atom.
    cover
        ``(F, J)`` CSR 0/1: candidate ``j``'s catchment covers atom ``i``.
    n_pieces
        Number of elementary street pieces near the demand.
    """

    geometry: np.ndarray
    owner: np.ndarray
    area: np.ndarray
    weight: np.ndarray
    before: np.ndarray
    cover: sparse.csr_matrix
    n_pieces: int

    @property
    def reachable(self) -> np.ndarray:
        """Atoms some candidate or existing facility covers."""
        return self.before | (np.diff(self.cover.indptr) > 0)


def _grouped_table(values: np.ndarray, group: np.ndarray, n: int,
                   fn: object) -> np.ndarray:
    """``fn(table, axis=1)`` of the values of each group (``group`` sorted), in padded blocks
    of groups of similar size (None padding is skipped by shapely's reductions)."""
    counts = np.bincount(group, minlength=n)
    starts = np.cumsum(counts) - counts
    out = np.full(n, None, dtype=object)
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
        table[row, col] = values[np.repeat(starts[block], counts[block]) + col]
        out[block] = fn(table, axis=1)  # type: ignore[operator]
        start = stop
    return out


def grouped_union(values: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Union of the geometries of each group (``group`` need not be sorted); empty polygon for
    groups without any."""
    order = np.argsort(group, kind="stable")
    out = _grouped_table(np.asarray(values, dtype=object)[order], group[order], n,
                         shapely.union_all)
    out[[g is None for g in out]] = shapely.Polygon()
    return out


def elementary_pieces(net: Network, pieces: list[pd.DataFrame]) -> tuple[pd.DataFrame,
                                                                         list[sparse.csr_matrix]]:
    """Cut the edges at every end of every reached piece.

    Parameters
    ----------
    pieces
        Tables ``group, edge, s, t`` (:func:`siteplan.reach.reached_pieces`).

    Returns
    -------
    elementary, incidence
        ``edge, s, t`` of the elementary pieces lying in some reached piece, and per input
        table a ``(K, groups)`` CSR matrix: elementary piece ``k`` lies in a piece of group
        ``g``.
    """
    vx = edge_vertices(net)
    base = vx.base
    ends = [base[p["edge"].to_numpy()] + p[c].to_numpy() for p in pieces for c in ("s", "t")]
    cuts = np.unique(np.concatenate(ends)) if ends else np.empty(0)
    cut_edge = np.searchsorted(base, cuts, side="right") - 1
    pairs = []
    used = np.zeros(max(cuts.size - 1, 0), dtype=bool)
    for p in pieces:
        e = p["edge"].to_numpy()
        lo = np.searchsorted(cuts, base[e] + p["s"].to_numpy())
        hi = np.searchsorted(cuts, base[e] + p["t"].to_numpy())
        n = hi - lo
        k = np.repeat(lo, n) + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        g = np.repeat(p["group"].to_numpy(), n)
        used[k] = True
        pairs.append((k, g))
    keep = np.flatnonzero(used & (cut_edge[:-1] == cut_edge[1:]) if cuts.size else used)
    renumber = np.full(used.size, -1)
    renumber[keep] = np.arange(keep.size)
    e = cut_edge[keep]
    table = pd.DataFrame({"edge": e, "s": cuts[keep] - base[e], "t": cuts[keep + 1] - base[e]})
    mats = []
    for (k, g), p in zip(pairs, pieces, strict=True):
        n_groups = int(p["group"].max()) + 1 if len(p) else 0
        mats.append(sparse.csr_matrix((np.ones(k.size), (renumber[k], g)),
                                      shape=(keep.size, n_groups)))
    return table, mats


def build_atoms(
    net: Network,
    demand: np.ndarray,
    density: np.ndarray,
    candidates: Snap,
    existing: Snap,
    radius_m: float,
    frontage_m: float,
    budget_bytes: int = 64 * 2**20,
) -> Atoms:
    """The demand atoms and their coverage by candidates and existing facilities.

    Parameters
    ----------
    net
        The walking network.
    demand
        ``(n,)`` demand polygons in ``net.crs``.
    density
        ``(n,)`` weight per square metre of each polygon.
    candidates, existing
        Snapped candidate sites and existing facilities of the class.
    radius_m, frontage_m
        Walking radius and frontage width of the catchments.
    """
    cand = reached_pieces(net, candidates, radius_m, budget_bytes=budget_bytes)
    if existing.reachable.any():
        exist = reached_pieces(net, existing, radius_m, per_facility=False)
    else:
        exist = pd.DataFrame({"group": np.empty(0, np.int64), "edge": np.empty(0, np.int64),
                              "s": np.empty(0), "t": np.empty(0)})
    elem, (by_cand, by_exist) = elementary_pieces(net, [cand, exist])
    by_cand = sparse.csr_matrix(by_cand, shape=(len(elem), len(candidates)))
    n = demand.shape[0]
    lines = substrings(net.edge_geometry, elem["edge"].to_numpy(), elem["s"].to_numpy(),
                       elem["t"].to_numpy(), vertices=edge_vertices(net))
    tree = shapely.STRtree(lines)
    near = np.unique(tree.query(demand, predicate="dwithin", distance=frontage_m)[1])
    buffers = shapely.buffer(lines[near], frontage_m, quad_segs=DEFAULT_QUAD_SEGS)
    btree = shapely.STRtree(buffers)
    d_i, b_k = btree.query(demand, predicate="intersects")
    # Each demand polygon's linework: its own boundary and the rings of the buffers near it.
    ring = np.concatenate([shapely.boundary(demand), shapely.boundary(buffers[b_k])])
    owner = np.concatenate([np.arange(n), d_i])
    order = np.argsort(owner, kind="stable")
    noded = _grouped_table(ring[order], owner[order], n, shapely.union_all)
    faces_by = shapely.polygonize(noded[:, None], axis=1)
    faces, f_owner = shapely.get_parts(faces_by, return_index=True)
    points = shapely.point_on_surface(faces)
    inside = shapely.intersects(demand[f_owner], points) & (shapely.area(faces) > 0)
    faces, f_owner, points = faces[inside], f_owner[inside], points[inside]
    f_i, f_k = btree.query(points, predicate="intersects")
    face_piece = sparse.csr_matrix((np.ones(f_i.size), (f_i, near[f_k])),
                                   shape=(faces.size, len(elem)))
    cover = (face_piece @ by_cand).tocsr()
    cover.data[:] = 1.0
    before = np.asarray(face_piece @ by_exist.sum(axis=1)).ravel() > 0
    area = shapely.area(faces)
    return Atoms(faces, f_owner, area, area * density[f_owner], before, cover, int(near.size))
