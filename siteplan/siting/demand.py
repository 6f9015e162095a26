"""Demand atoms for maximal covering: demand cut into pieces each catchment covers wholly or not.

Coverage is so measured by area of intersection, never by centroid.  A catchment is the frontage
band (``frontage_m``) along the street a site reaches within its radius
(:mod:`siteplan.access.catchments`), i.e. the union of the buffers of the reached street pieces.
Cutting every edge at every reach end of every candidate and of the existing facilities gives
*elementary* street pieces, each reached wholly or not at all by each site; the buffer of a union
of pieces is the union of their buffers, so a point of demand is covered by a site exactly when
it lies in the buffer of an elementary piece the site reaches.  The atoms are the faces of the
arrangement of those buffers inside each demand polygon: each face lies inside or outside every
buffer, so its coverage by any set of sites is decided, and the atoms tile the demand exactly.
The only approximation is the polygonal buffer (round caps and joins with 6 segments per quarter
circle, as for the catchments; the chords fall short of the true band by at most 0.26 m at 30 m).

The arrangement is built demand polygon by demand polygon (the buffers near it, clipped to it,
noded and polygonized in one padded table per block of polygons), so the work grows with the
demand and the street pieces near it, never with a city-wide overlay, and the memory with one
block.  Candidates that cannot reach any demand by a straight-line bound get no network pass
(:func:`useful_sites`), and only street pieces on edges near the demand are cut and buffered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from siteplan.access.catchments import DEFAULT_QUAD_SEGS, grouped_reduce
from siteplan.access.reach import reached_pieces
from siteplan.network.graph import Network
from siteplan.network.linear import substrings
from siteplan.network.snapping import Snap

# Cells of one padded block of linework to node and polygonize (object pointers).
_PAD_CELLS = 500_000
# Margin (m) around a demand polygon kept of the buffer rings crossing it.
_CLIP_PAD_M = 1.0


@dataclass(frozen=True)
class Atoms:
    """Demand atoms and which candidates cover them.

    Attributes
    ----------
    geometry
        ``(F,)`` polygons tiling the demand (None for the atoms something reaches, when built
        with ``keep_geometry=False``).
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
    n_near
        Number of candidates near enough to the demand to get a network pass
        (:func:`useful_sites`).
    """

    geometry: np.ndarray
    owner: np.ndarray
    area: np.ndarray
    weight: np.ndarray
    before: np.ndarray
    cover: sparse.csr_matrix
    n_pieces: int
    n_near: int = 0

    @property
    def reachable(self) -> np.ndarray:
        """Atoms some candidate or existing facility covers."""
        out: np.ndarray = self.before | (np.diff(self.cover.indptr) > 0)
        return out


def grouped_union(values: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Union the geometries of each of ``n`` groups (``group`` need not be sorted).

    Groups without any geometry get an empty polygon.
    """
    order = np.argsort(group, kind="stable")
    out = grouped_reduce(np.asarray(values, dtype=object)[order], group[order], n,
                         shapely.union_all, _PAD_CELLS)
    out[shapely.is_missing(out)] = shapely.Polygon()
    return out


def elementary_pieces(net: Network, pieces: list[pd.DataFrame]) -> tuple[pd.DataFrame,
                                                                         list[sparse.csr_matrix]]:
    """Cut the edges at every end of every reached piece.

    Parameters
    ----------
    net
        The walking network.
    pieces
        Tables ``group, edge, s, t`` (:func:`siteplan.access.reach.reached_pieces`).

    Returns
    -------
    elementary, incidence
        ``edge, s, t`` of the elementary pieces lying in some reached piece, and per input
        table a ``(K, groups)`` CSR matrix: elementary piece ``k`` lies in a piece of group
        ``g``.
    """
    vx = net.vertices
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


def useful_sites(sn: Snap, demand: np.ndarray, reach_m: float) -> np.ndarray:
    """Tell which snapped sites can put catchment on some demand polygon (straight-line bound).

    A reached street point lies within the radius of the site's own point as the crow flies
    (the access leg is straight, a street never shorter than the straight line along it), and
    the frontage band within ``frontage_m`` of the street, so a site whose point lies farther
    than ``reach_m = radius + frontage`` from every demand polygon covers none of it.  The
    test needs no network pass.

    Parameters
    ----------
    sn
        The sites' snaps.
    demand
        Demand polygons in the network's CRS.
    reach_m
        The bound: the radius plus the frontage.

    Returns
    -------
    numpy.ndarray
        ``(len(sn),)`` bool: reachable sites within ``reach_m`` of a demand polygon.
    """
    keep = np.zeros(len(sn), dtype=bool)
    ok = np.flatnonzero(sn.reachable)
    if ok.size == 0 or demand.size == 0:
        return keep
    pts = shapely.points(sn.origin_xy[ok])
    # A hair wider than the bound, so that rounding never drops a site that touches demand.
    near = shapely.STRtree(demand).query(pts, predicate="dwithin",
                                         distance=reach_m * (1 + 1e-9) + 1e-6)[0]
    keep[ok[np.unique(near)]] = True
    return keep


def without_sites(sn: Snap, keep: np.ndarray) -> Snap:
    """Return the same snaps with the sites outside ``keep`` marked unreachable.

    The indices stay unchanged; network passes skip the unreachable sites.
    """
    return Snap(np.where(keep, sn.edge, -1), sn.offset_m, sn.access_m, sn.nearest_m,
                sn.origin_xy, sn.point_xy, sn.max_snap_m)


def _block_faces(demand: np.ndarray, buffers: np.ndarray, btree: shapely.STRtree,
                 block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Faces of the buffer arrangement inside the demand polygons ``block``.

    Each polygon's linework is its own boundary and the parts of the rings of the buffers
    touching it that lie in it or within ``_CLIP_PAD_M`` of it (the rest cannot bound a face
    inside it), noded and polygonized polygon by polygon.

    Returns
    -------
    faces, owner, face_row, face_buffer
        The faces with positive area inside their polygon, the polygon of each (global
        index), and the (face, buffer) pairs of the buffers that contain each face.
    """
    dem = demand[block]
    d_i, b_k = btree.query(dem, predicate="intersects")
    # Clipped to the polygon grown by a metre, so that every ring crossing its boundary still
    # crosses it and is noded with it (a ring cut exactly at the boundary would end a hair
    # off it, dangle, and leave two faces merged); clipping can leave points where a ring
    # only touches the polygon: lines only.
    pad = shapely.buffer(dem, _CLIP_PAD_M, quad_segs=2)
    inner, which = shapely.get_parts(
        shapely.intersection(shapely.boundary(buffers[b_k]), pad[d_i]), return_index=True)
    lines = shapely.get_type_id(inner) == 1
    ring = np.concatenate([shapely.boundary(dem), inner[lines]])
    owner = np.concatenate([np.arange(block.size), d_i[which[lines]]])
    order = np.argsort(owner, kind="stable")
    noded = grouped_reduce(ring[order], owner[order], block.size, shapely.union_all,
                           _PAD_CELLS)
    faces, f_owner = shapely.get_parts(shapely.polygonize(noded[:, None], axis=1),
                                       return_index=True)
    points = shapely.point_on_surface(faces)
    inside = shapely.intersects(dem[f_owner], points) & (shapely.area(faces) > 0)
    faces, f_owner, points = faces[inside], f_owner[inside], points[inside]
    f_i, f_k = btree.query(points, predicate="intersects")
    return faces, block[f_owner], f_i, f_k


def build_atoms(
    net: Network,
    demand: np.ndarray,
    density: np.ndarray,
    candidates: Snap,
    existing: Snap,
    radius_m: float,
    frontage_m: float,
    budget_bytes: int = 64 * 2**20,
    *,
    keep_geometry: bool = True,
    block_pairs: int = 20_000,
) -> Atoms:
    """Cut the demand into atoms and find which candidates and existing facilities cover them.

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
    budget_bytes
        Memory bound of one block of per-candidate network passes.
    keep_geometry
        Keep every atom's polygon; ``False`` keeps only those of the atoms nothing reaches
        (the others are None), which is all a study needs and saves most of the memory.
    block_pairs
        About how many (demand polygon, buffer) pairs are noded at once: bounds the memory of
        the arrangement, whose pieces are dropped block by block.

    Returns
    -------
    Atoms
        The atoms tiling the demand, their weights and their coverage.

    Notes
    -----
    Candidates farther than ``radius_m + frontage_m`` as the crow flies from every demand
    polygon are dropped before any network pass (:func:`useful_sites`); their columns of
    ``cover`` are empty, as they would be anyway.  Only the street pieces on edges within
    ``frontage_m`` of the demand are cut out and buffered.
    """
    useful = useful_sites(candidates, demand, radius_m + frontage_m)
    cand = reached_pieces(net, without_sites(candidates, useful), radius_m,
                          budget_bytes=budget_bytes)
    if existing.reachable.any():
        exist = reached_pieces(net, existing, radius_m, per_facility=False)
    else:
        exist = pd.DataFrame({"group": np.empty(0, np.int64), "edge": np.empty(0, np.int64),
                              "s": np.empty(0), "t": np.empty(0)})
    # Only edges within the frontage of some demand can put frontage on it.
    near_edge = np.zeros(net.n_edges, dtype=bool)
    near_edge[net.edge_tree.query(demand, predicate="dwithin", distance=frontage_m)[1]] = True
    cand = cand[near_edge[cand["edge"].to_numpy()]]
    exist = exist[near_edge[exist["edge"].to_numpy()]]
    elem, (by_cand, by_exist) = elementary_pieces(net, [cand, exist])
    by_cand.resize((len(elem), len(candidates)))  # candidates past the last one reaching
    by_exist.resize((len(elem), 1))
    n = demand.shape[0]
    lines = substrings(net.edge_geometry, elem["edge"].to_numpy(), elem["s"].to_numpy(),
                       elem["t"].to_numpy(), vertices=net.vertices)
    tree = shapely.STRtree(lines)
    near = np.unique(tree.query(demand, predicate="dwithin", distance=frontage_m)[1])
    del tree, lines
    buffers = shapely.buffer(substrings(
        net.edge_geometry, elem["edge"].to_numpy()[near], elem["s"].to_numpy()[near],
        elem["t"].to_numpy()[near], vertices=net.vertices), frontage_m,
        quad_segs=DEFAULT_QUAD_SEGS)
    btree = shapely.STRtree(buffers)
    by_cand, by_exist = by_cand[near], by_exist[near]
    # Blocks of demand polygons with about ``block_pairs`` buffers between them.
    d_i = btree.query(demand, predicate="intersects")[0]
    load = np.bincount(d_i, minlength=n) + 1
    cut = np.searchsorted(np.cumsum(load), np.arange(block_pairs, int(load.sum()), block_pairs))
    geoms, owners, areas, covers, befores = [], [], [], [], []
    for block in np.split(np.arange(n), np.unique(cut)):
        if block.size == 0:
            continue
        faces, f_owner, f_i, f_k = _block_faces(demand, buffers, btree, block)
        face_piece = sparse.csr_matrix((np.ones(f_i.size), (f_i, f_k)),
                                       shape=(faces.size, near.size))
        cover = (face_piece @ by_cand).tocsr()
        before = np.asarray(face_piece @ by_exist.toarray()).ravel() > 0
        areas.append(shapely.area(faces))
        if not keep_geometry:
            faces = faces.copy()
            faces[before | (np.diff(cover.indptr) > 0)] = None
        geoms.append(faces)
        owners.append(f_owner)
        covers.append(cover)
        befores.append(before)
    cover = sparse.vstack(covers, format="csr") if covers else sparse.csr_matrix(
        (0, len(candidates)))
    cover.data[:] = 1.0
    owner = np.concatenate(owners) if owners else np.empty(0, np.int64)
    area = np.concatenate(areas) if areas else np.empty(0)
    return Atoms(np.concatenate(geoms) if geoms else np.empty(0, dtype=object), owner, area,
                 area * density[owner], np.concatenate(befores) if befores else
                 np.empty(0, dtype=bool), cover, int(near.size), int(useful.sum()))
