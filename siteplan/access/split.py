"""The access stage of one study split into spatial tiles, each a task for a worker.

The parcels are dealt to ``nx x ny`` tiles by their representative point.  A tile's task gets
the parcels it holds, the streets that come within a *halo* of them and the facilities within
the halo, and runs :func:`siteplan.access.distances.facility_access` on that piece alone.

Why the piece gives the whole network's answer: a walk of at most ``L`` metres (the search
limit, or the largest count radius if larger) from a parcel's access point never leaves the
disc of radius ``L`` around it, and that point is within ``max_snap_m`` of the parcel; a
facility that can be reached within ``L`` snaps to a street within ``max_snap_m`` of itself.
So with a halo of ``L + 2 max_snap_m`` (plus a metre) around the tile's parcels (their whole
outlines), every path that can count and every street a parcel or facility snaps to is in the
piece.  The edges keep their order (ties go to the lower edge id, as on the whole network) and
the nodes theirs; the tables of the tiles, put back in the parcels' order, equal the whole
run's (``tests/test_split.py`` checks every column on the tiled demo).

What crosses the network per tile: its parcels, streets and facilities (a few percent more
than its share, for the halo) and its table back; nothing is shared between tiles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.access.distances import (
    AccessResult,
    _unreachable_rows,
    facility_access,
    snap_facilities,
)
from siteplan.core.defaults import MAX_SNAP_M, SEARCH_LIMIT_M, WALK_SPEED_MPS
from siteplan.network.graph import Network
from siteplan.network.snapping import SnapPoint

Mapper = Callable[[Callable[..., Any], Iterable[Any]], Iterable[Any]]


@dataclass(frozen=True)
class TileTask:
    """One tile's piece of the study: what its worker needs, nothing more."""

    index: int
    network: Network
    parcels: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    kwargs: dict[str, Any]


def halo_m(search_limit_m: float, count_radii: Mapping[str, Sequence[float]],
           max_snap_m: float) -> float:
    """Return the halo around a tile's parcels that holds every path and snap they need."""
    reach = max([search_limit_m, *(float(r) for rs in count_radii.values() for r in rs)])
    return reach + 2.0 * max_snap_m + 1.0


def tile_of(points: np.ndarray, tiles: tuple[int, int]) -> np.ndarray:
    """Deal points to ``nx x ny`` equal tiles of their bounding box; tile ``i * ny + j``."""
    xy = shapely.get_coordinates(points)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    n = np.asarray(tiles)
    ij = np.minimum(((xy - lo) / span * n).astype(int), n - 1)
    return np.asarray(ij[:, 0] * tiles[1] + ij[:, 1])


def subnetwork(net: Network, area: shapely.Geometry) -> Network:
    """Return the edges of ``net`` that meet ``area``, in their order, with their nodes in theirs."""
    edges = np.sort(net.edge_tree.query(area, predicate="intersects"))
    nodes = np.unique(np.concatenate([net.edge_u[edges], net.edge_v[edges]]))
    renumber = np.full(net.n_nodes, -1, dtype=np.int64)
    renumber[nodes] = np.arange(nodes.size)
    attrs = net.edge_attrs.iloc[edges].reset_index(drop=True)
    return Network(crs=net.crs, node_xy=net.node_xy[nodes],
                   edge_u=renumber[net.edge_u[edges]], edge_v=renumber[net.edge_v[edges]],
                   edge_length=net.edge_length[edges], edge_geometry=net.edge_geometry[edges],
                   edge_attrs=attrs, component=net.component[nodes],
                   report=replace(net.report, n_nodes=int(nodes.size), n_edges=int(edges.size)))


def split_tasks(net: Network, parcels: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
                tiles: tuple[int, int], kwargs: dict[str, Any]) -> list[TileTask]:
    """Cut the study into tile tasks (parcels and facilities in ``net.crs``)."""
    parcels = parcels.to_crs(net.crs)
    facilities = facilities.to_crs(net.crs)
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    which = tile_of(shapely.point_on_surface(geoms), tiles)
    halo = halo_m(kwargs["search_limit_m"], kwargs.get("count_radii") or {},
                  kwargs["max_snap_m"])
    fac_tree = shapely.STRtree(np.asarray(facilities.geometry.values, dtype=object))
    tasks = []
    for t in np.unique(which):
        rows = np.flatnonzero(which == t)
        area = shapely.box(*shapely.total_bounds(geoms[rows])).buffer(halo, join_style="mitre")
        fac_rows = np.sort(fac_tree.query(area, predicate="intersects"))
        tasks.append(TileTask(int(t), subnetwork(net, area), parcels.iloc[rows],
                              facilities.iloc[fac_rows], kwargs))
    return tasks


def run_tile(task: TileTask) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the access stage on one tile.

    Returns its table (the parcels' own index) and the report rows of its unreachable parcels.
    """
    res = facility_access(task.network, task.parcels, task.facilities, **task.kwargs)
    report = res.unreachable
    return res.table, report[report["kind"] == "target"]


def split_access(
    net: Network,
    parcels: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    tiles: tuple[int, int] = (2, 2),
    mapper: Mapper = map,
    classes: Sequence[str] | None = None,
    count_radii: Mapping[str, Sequence[float]] | None = None,
    search_limit_m: float = SEARCH_LIMIT_M,
    max_snap_m: float = MAX_SNAP_M,
    target_point: SnapPoint = "representative",
    facility_point: SnapPoint = "representative",
    speed_mps: float = WALK_SPEED_MPS,
) -> AccessResult:
    """Measure access tile by tile: the result of :func:`facility_access` on the whole network.

    Parameters
    ----------
    net, parcels, facilities
        As for :func:`~siteplan.access.distances.facility_access` (parcels with
        ``parcel_id``).
    tiles
        ``(nx, ny)`` tiles over the parcels' extent.
    mapper
        Runs :func:`run_tile` over the tasks and returns their results in order: ``map``
        (one after another, the default) or a Dask client's ``map`` then ``gather``.
    classes, count_radii, search_limit_m, max_snap_m, target_point, facility_point, speed_mps
        As for :func:`~siteplan.access.distances.facility_access`.

    Returns
    -------
    AccessResult
        The table (parcels' order and index), the unreachable report (parcels in their order,
        then the facilities of each class, snapped on the whole network) and the facility snaps.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import graph_from_lines
    >>> from siteplan.access.distances import facility_access
    >>> from siteplan.access.split import split_access
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (9000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k1", "k2"], "class": "kindergarten"},
    ...                       geometry=[Point(1000, 0), Point(8000, 0)], crs=crs)
    >>> parcels = gpd.GeoDataFrame({"parcel_id": ["a", "b", "c"]}, geometry=[
    ...     box(1100, -80, 1200, -20), box(3500, -80, 3600, -20), box(7600, -80, 7700, -20)],
    ...     crs=crs)
    >>> res = split_access(net, parcels, kg, tiles=(3, 1))
    >>> res.table[["dist_kindergarten_m", "nearest_kindergarten_id"]].values.tolist()
    [[200.0, 'k1'], [2600.0, 'k1'], [400.0, 'k2']]
    >>> res.table.equals(facility_access(net, parcels, kg).table)
    True
    """
    kwargs: dict[str, Any] = {
        "classes": classes, "count_radii": dict(count_radii or {}),
        "search_limit_m": search_limit_m, "max_snap_m": max_snap_m,
        "target_point": target_point, "facility_point": facility_point, "speed_mps": speed_mps}
    if classes is None:
        kwargs["classes"] = sorted(facilities["class"].dropna().astype(str).unique())
    tasks = split_tasks(net, parcels, facilities, tiles, kwargs)
    done = list(mapper(run_tile, tasks))
    table = pd.concat([t for t, _ in done]).loc[parcels.index]
    position = pd.Series(np.arange(len(parcels)), index=parcels["parcel_id"].to_numpy())
    targets = pd.concat([r for _, r in done], ignore_index=True)
    targets = targets.iloc[np.argsort(position.loc[targets["id"]].to_numpy(), kind="stable")]
    # Facilities are reported once, as snapped on the whole network (and memoised there for
    # the catchments and coverage that follow).
    fsnaps = snap_facilities(net, facilities, kwargs["classes"], how=facility_point,
                             max_snap_m=max_snap_m)
    reports = [targets, *(_unreachable_rows(sn, fids, "facility", cls)
                          for cls, (sn, fids) in fsnaps.items())]
    return AccessResult(table, pd.concat(reports, ignore_index=True), fsnaps)


__all__ = ["TileTask", "halo_m", "run_tile", "split_access", "split_tasks", "subnetwork",
           "tile_of"]
