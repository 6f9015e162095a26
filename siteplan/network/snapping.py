"""How parcels and facilities reach the street network.

A feature reaches the network at the nearest point on the nearest walkable edge, not at the
nearest node: the edge is split there by a pseudo-node (see :mod:`siteplan.network.paths`), and the
straight access leg from the feature to that point counts in every distance.  A feature farther
than ``max_snap_m`` from every edge of the network is unreachable and reported, never snapped to
a far street.

Points find their nearest edge with :class:`SegmentIndex`, a KD-tree over short pieces of the
edge segments, and an exact projection in numpy; other geometries (polygons snapped at their
nearest boundary) with GEOS, through the network's STRtree.  Both pick the same edge: the
distances are computed with GEOS's own formula, and equidistant edges go to the lowest index.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import shapely

from siteplan.core.defaults import MAX_SNAP_M
from siteplan.core.errors import NetworkError
from siteplan.core.threads import MIN_BLOCK, blocks, thread_map
from siteplan.network.graph import Network

SnapPoint = Literal["representative", "centroid", "nearest-boundary"]


@dataclass(frozen=True)
class Snap:
    """Where each feature meets the network.

    Attributes
    ----------
    edge
        Edge index per feature; ``-1`` where unreachable.
    offset_m
        Distance along the edge geometry from ``edge_u`` to the snapped point (NaN if unreachable).
    access_m
        Length of the straight access leg (NaN if unreachable).
    nearest_m
        Distance to the nearest edge, also for unreachable features (for the report).
    origin_xy, point_xy
        The feature point the leg starts from and the point on the edge (NaN if unreachable).
    max_snap_m
        The largest access leg the snapping allowed (m).
    """

    edge: np.ndarray
    offset_m: np.ndarray
    access_m: np.ndarray
    nearest_m: np.ndarray
    origin_xy: np.ndarray
    point_xy: np.ndarray
    max_snap_m: float

    @property
    def reachable(self) -> np.ndarray:
        """Boolean mask of the features that reach the network."""
        return self.edge >= 0

    def __len__(self) -> int:
        """Return the number of features."""
        return int(self.edge.shape[0])

    def subset(self, mask: np.ndarray) -> Snap:
        """Return the snaps of a subset of features (boolean mask or index array)."""
        return Snap(self.edge[mask], self.offset_m[mask], self.access_m[mask],
                    self.nearest_m[mask], self.origin_xy[mask], self.point_xy[mask],
                    self.max_snap_m)

    def unreachable_report(
        self, ids: np.ndarray | pd.Index | Sequence[Hashable]
    ) -> pd.DataFrame:
        """Features that could not reach the network, with their id and distance to it."""
        ids = np.asarray(ids)
        bad = ~self.reachable
        return pd.DataFrame({
            "id": ids[bad],
            "nearest_street_m": np.round(self.nearest_m[bad], 1),
            "reason": [f"no walkable street within {self.max_snap_m:g} m"] * int(bad.sum()),
        })


def feature_points(geoms: np.ndarray, how: SnapPoint = "representative") -> np.ndarray:
    """Return the point of each geometry that snaps: representative point (inside) or centroid.

    With ``"nearest-boundary"`` the geometries themselves snap, at their point nearest to the
    street.
    """
    geoms = np.asarray(geoms)
    if how == "representative":
        inside: np.ndarray = shapely.point_on_surface(geoms)
        return inside
    if how == "centroid":
        centroids: np.ndarray = shapely.centroid(geoms)
        return centroids
    if how == "nearest-boundary":
        return geoms
    raise NetworkError(f"unknown snap point {how!r}.",
                       fix='use "representative", "centroid" or "nearest-boundary".')


def _nearest_edges_geos(net: Network, targets: np.ndarray,
                        max_snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest edge of any geometries (-1 beyond ``max_snap_m``) and the distance to it.

    Equidistant edges go to the lowest edge index, so results do not depend on tree order.
    GEOS finds one nearest edge per geometry quickly; asking it for every equidistant one is
    ten times slower (a park crossed by footways touches dozens of edges at distance 0), so
    the ties are looked up afterwards: the edges a geometry intersects where it touches one,
    else the few within its nearest distance.
    """
    m = targets.shape[0]
    edge = np.full(m, -1, dtype=np.int64)
    nearest = np.full(m, np.nan)
    tree = net.edge_tree
    limit = max_snap_m if np.isfinite(max_snap_m) else None
    (inp, cand), dist = tree.query_nearest(targets, max_distance=limit, return_distance=True,
                                           all_matches=False)
    edge[inp] = cand
    nearest[inp] = dist
    touching = inp[dist == 0]
    if touching.size:
        ti, te = tree.query(targets[touching], predicate="intersects")
        _lowest(edge, touching[ti], te)
    apart = inp[dist > 0]
    if apart.size:
        ai, ae = tree.query(targets[apart], predicate="dwithin", distance=nearest[apart])
        d = shapely.distance(targets[apart[ai]], net.edge_geometry[ae])
        tie = d <= nearest[apart[ai]]
        _lowest(edge, apart[ai[tie]], ae[tie])
    far = np.flatnonzero(edge < 0)
    if far.size:
        (fi, _), fd = tree.query_nearest(targets[far], return_distance=True, all_matches=False)
        nearest[far[fi]] = fd
    return edge, nearest


def _lowest(edge: np.ndarray, rows: np.ndarray, candidates: np.ndarray) -> None:
    """Set ``edge[row]`` to the lowest of its candidates where that is lower (in place)."""
    if rows.size:
        best = np.full(edge.shape[0], np.iinfo(np.int64).max)
        np.minimum.at(best, rows, candidates)
        hit = np.unique(rows)
        edge[hit] = np.minimum(edge[hit], best[hit])


def snap(
    net: Network,
    geoms: np.ndarray,
    *,
    how: SnapPoint = "representative",
    max_snap_m: float = MAX_SNAP_M,
) -> Snap:
    """Snap geometries (in ``net.crs``) to the nearest point of the nearest edge.

    Parameters
    ----------
    net
        The network.
    geoms
        Shapely geometries in the network's metric CRS.
    how
        ``"representative"`` (a point guaranteed inside the polygon; default for parcels),
        ``"centroid"``, or ``"nearest-boundary"``: the polygon's closest point to the street,
        for large school or hospital grounds whose gates face the street.
    max_snap_m
        Features farther than this from every edge are unreachable.

    Returns
    -------
    Snap
        Among equidistant edges the lowest edge index wins.  Missing, empty or non-finite
        geometries are unreachable with a NaN distance.
    """
    if not np.isfinite(max_snap_m) or max_snap_m <= 0:
        raise NetworkError(f"max_snap_m must be a positive number of metres, got {max_snap_m}.",
                           fix="use e.g. 200.")
    targets = feature_points(np.asarray(geoms, dtype=object), how)
    # Blocks of targets bound the candidate tables, legs and points made on the way (a
    # million transport-proxy points would otherwise take ~1 GB at once) and run in threads;
    # each target is snapped on its own, so the blocks change nothing.
    # The indexes are built once, before the threads share them (queries are thread-safe).
    kinds = shapely.get_type_id(targets)
    if (kinds == 0).any():
        net.segment_index  # noqa: B018
    if (kinds > 0).any():
        net.edge_tree  # noqa: B018
    parts = [s for b in blocks(targets.shape[0], MIN_BLOCK)
             for s in _slices(b, SNAP_BLOCK)] or [slice(0, 0)]
    done = thread_map(lambda s: _snap_block(net, targets[s], max_snap_m), parts)
    edge, offset, access, nearest, origin, point_xy = (
        np.concatenate(arrays) for arrays in zip(*done, strict=True))
    return Snap(edge, offset, access, nearest, origin, point_xy, max_snap_m)


#: Targets snapped at once by :func:`snap`.
SNAP_BLOCK = 200_000


def _slices(whole: slice, size: int) -> list[slice]:
    """Cut ``whole`` into slices of at most ``size``."""
    return [slice(i, min(i + size, whole.stop)) for i in range(whole.start, whole.stop, size)]


def _snap_block(net: Network, targets: np.ndarray, max_snap_m: float) -> tuple[np.ndarray, ...]:
    """``edge, offset, access, nearest, origin, point_xy`` of some target geometries."""
    m = targets.shape[0]
    edge = np.full(m, -1, dtype=np.int64)
    nearest = np.full(m, np.nan)
    present = ~shapely.is_missing(targets) & ~shapely.is_empty(targets)
    point = present & (shapely.get_type_id(targets) == 0)
    pts = np.flatnonzero(point)
    if pts.size:
        xy = shapely.get_coordinates(targets[pts])
        finite = np.isfinite(xy).all(axis=1)
        pts, xy = pts[finite], xy[finite]
        e, d = net.segment_index.nearest(xy)
        nearest[pts] = d
        edge[pts] = np.where(d <= max_snap_m, e, -1)
    rest = np.flatnonzero(present & ~point)  # polygons at their nearest boundary, lines...
    if rest.size:
        edge[rest], nearest[rest] = _nearest_edges_geos(net, targets[rest], max_snap_m)

    ok = edge >= 0
    offset = np.full(m, np.nan)
    access = np.full(m, np.nan)
    origin = np.full((m, 2), np.nan)
    point_xy = np.full((m, 2), np.nan)
    if ok.any():
        edge_geom = net.edge_geometry[edge[ok]]
        legs = shapely.shortest_line(targets[ok], edge_geom)
        ends = shapely.get_coordinates(legs).reshape(-1, 2, 2)
        origin[ok] = ends[:, 0]
        point_xy[ok] = ends[:, 1]
        offset[ok] = shapely.line_locate_point(edge_geom, shapely.points(ends[:, 1]))
        access[ok] = np.hypot(*(ends[:, 1] - ends[:, 0]).T)
    return edge, offset, access, nearest, origin, point_xy
