"""Coverage of residential land by catchments, and the service blind spots (服务盲区) left over.

For each facility class, :func:`coverage` reports the share of residential land inside the
class's catchment, and how many parcels and buildings lie inside it (a parcel or building counts
when its representative point does).  :func:`blind_spots` returns the residential land outside
each class's catchment as polygons with their area and name.

:func:`class_coverage` gives both for the dissolved catchment of each class without building it:
only the reached streets near residential land, parcels and buildings are ever buffered, in
small unions, where a city-wide dissolve is one union of every reached street.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.access.catchments import buffer_streets, check_radii
from siteplan.access.distances import snap_facilities
from siteplan.access.reach import class_streets
from siteplan.core.columns import distance_column
from siteplan.core.defaults import FRONTAGE_M, MAX_SNAP_M, MIN_BLIND_SPOT_M2
from siteplan.core.errors import ConfigError, InputError
from siteplan.core.progress import trim_memory
from siteplan.core.threads import MIN_BLOCK, blocks, elementwise, thread_map
from siteplan.io.layers import is_polygonal
from siteplan.network.graph import Network
from siteplan.network.snapping import SnapPoint

#: Areas per thread, at the least, in the frontage unions and overlays (each a few ms).
_MIN_BLOCK = 200


def class_unions(catchments: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Union the catchments of each class into one (multi)polygon.

    Parameters
    ----------
    catchments
        Output of :func:`siteplan.access.catchments.catchments` (any mode).

    Returns
    -------
    geopandas.GeoDataFrame
        ``class``, ``radius_m`` (largest radius of the class's rows) and geometry, sorted by class.
    """
    if "class" not in catchments.columns:
        raise InputError("the catchments have no class column.", where="catchments",
                         fix="pass the output of siteplan.access.catchments.catchments().")
    if len(catchments) == 0:
        return gpd.GeoDataFrame({"class": [], "radius_m": []}, geometry=[], crs=catchments.crs)
    classes, inverse = np.unique(catchments["class"].astype(str).to_numpy(), return_inverse=True)
    geoms = np.asarray(catchments.geometry.values, dtype=object)
    counts = np.bincount(inverse, minlength=classes.size)
    out = np.empty(classes.size, dtype=object)
    # A class with one row (mode "dissolve") is already its union; unioning it again costs as
    # much as building it did.
    single = counts == 1
    out[inverse[single[inverse]]] = geoms[single[inverse]]
    many = np.flatnonzero(~single)
    if many.size:
        # The rows of each class side by side in a padded table (None is skipped by the union).
        rank = np.full(classes.size, -1)
        rank[many] = np.arange(many.size)
        rows = np.flatnonzero(~single[inverse])
        order = rows[np.argsort(inverse[rows], kind="stable")]
        sizes = counts[many]
        table = np.full((many.size, int(sizes.max())), None, dtype=object)
        slot = np.arange(order.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        table[rank[inverse[order]], slot] = geoms[order]
        out[many] = shapely.union_all(table, axis=1)
    radius = (pd.Series(catchments["radius_m"].to_numpy(dtype=float)).groupby(inverse).max()
              if "radius_m" in catchments.columns else pd.Series(np.nan, index=range(classes.size)))
    return gpd.GeoDataFrame({"class": classes, "radius_m": radius.to_numpy()},
                            geometry=out, crs=catchments.crs)


def _metric(frame: gpd.GeoDataFrame, crs: object, what: str) -> np.ndarray:
    """Return the geometries of ``frame`` in ``crs``, refusing a layer without a CRS."""
    if frame.crs is None:
        raise InputError(f"the {what} layer has no CRS.", where=what,
                         fix="set one (gdf.set_crs(...)) or declare it in the study file.")
    return np.asarray(frame.to_crs(crs).geometry.values, dtype=object)


def _points_inside(geoms: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Tell, per area, which geometries have their representative point inside it.

    The result is ``(len(areas), len(geoms))`` booleans; a point on the boundary counts.
    """
    pts = shapely.point_on_surface(geoms)
    out = np.zeros((areas.size, geoms.size), dtype=bool)
    for k, area in enumerate(areas):  # one per class
        shapely.prepare(area)
        out[k] = shapely.contains(area, pts) | shapely.touches(area, pts)
    return out


def street_zone(net: Network, frontage_m: float = FRONTAGE_M) -> shapely.Geometry:
    """Return the land within ``frontage_m`` of any street of the network.

    That is the most a catchment of that frontage can ever cover.  A city-wide union (minutes
    and gigabytes at a million nodes); where only the part near some areas matters,
    :func:`frontage_near` builds just that.
    """
    lines = shapely.line_merge(shapely.multilinestrings(net.edge_geometry))
    return buffer_streets(np.array([lines], dtype=object), frontage_m)[0]


def frontage_near(lines: np.ndarray, areas: np.ndarray, frontage_m: float, *,
                  tree: shapely.STRtree | None = None) -> np.ndarray:
    """Return, per area, the street frontage (buffer of ``frontage_m``) of the lines near it.

    Only lines within ``frontage_m`` of an area can put frontage on it, so
    ``intersection(areas[i], out[i])`` is the part of the area within ``frontage_m`` of any of
    ``lines``, the same as with a buffer of all of them, from one small union per area instead
    of a city-wide one.

    Parameters
    ----------
    lines
        ``(L,)`` LineStrings (street edges or reached pieces of them).
    areas
        ``(A,)`` polygons.
    frontage_m
        Buffer width in metres.
    tree
        An STRtree over ``lines``, if one exists already.

    Returns
    -------
    numpy.ndarray
        ``(A,)`` polygons (empty where no line comes near); they may reach beyond their area.
    """
    if lines.shape[0] == 0 or areas.shape[0] == 0:
        out = np.empty(areas.shape[0], dtype=object)
        out[:] = shapely.Polygon()
        return out
    index = tree if tree is not None else shapely.STRtree(lines)

    def zones(block: slice) -> np.ndarray:
        sub = areas[block]
        zone = np.empty(sub.shape[0], dtype=object)
        zone[:] = shapely.Polygon()
        area_i, line_i = index.query(sub, predicate="dwithin", distance=frontage_m)
        if area_i.size:
            order = np.argsort(area_i, kind="stable")
            area_i, line_i = area_i[order], line_i[order]
            present, group = np.unique(area_i, return_inverse=True)
            merged = shapely.line_merge(shapely.multilinestrings(lines[line_i], indices=group))
            zone[present] = buffer_streets(merged, frontage_m)
        return zone

    # Blocks of areas in threads (each area's union is its own): ~2x on two cores.
    return np.concatenate(thread_map(zones, blocks(areas.shape[0], _MIN_BLOCK)))


def coverage(
    catchments: gpd.GeoDataFrame,
    residential: gpd.GeoDataFrame,
    *,
    parcels: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    network: Network | None = None,
    frontage_m: float = FRONTAGE_M,
) -> pd.DataFrame:
    """Measure the share of residential land, parcels and buildings in each class's catchment.

    Catchments are street frontages, so inside large blocks far from any mapped street no
    catchment reaches: with ``network``, the table also gives the residential land within
    ``frontage_m`` of any walkable street (``frontage_m2``, the most any class could cover) and
    the covered share of that (``covered_share_of_frontage``).

    Parameters
    ----------
    catchments
        Output of :func:`siteplan.access.catchments.catchments` (any mode); rows are unioned
        per class.
    residential
        Residential land polygons (OSM ``landuse=residential`` or a user layer), with a CRS.
    parcels, buildings
        Optional layers counted by representative point.  Parcels that carry
        ``dist_<class>_m`` also get ``n_parcels_served``: parcels within the class radius by
        network distance.
    network, frontage_m
        The walking network and the catchments' frontage width, for ``frontage_m2``.

    Returns
    -------
    pandas.DataFrame
        One row per class: ``class``, ``radius_m``, ``residential_m2``, ``covered_m2``,
        ``covered_share`` (0-1; NaN without residential land), ``frontage_m2`` and
        ``covered_share_of_frontage`` with a network, and ``n_parcels``,
        ``n_parcels_covered``, ``n_parcels_served``, ``n_buildings``, ``n_buildings_covered``
        where given.

    Raises
    ------
    InputError
        Catchments without a ``class`` column, or a layer without a CRS.

    Examples
    --------
    A kindergarten in the middle of a 2 km street, a 20 m strip of housing along the street
    and a block 500 m from it:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import catchments, coverage, graph_from_lines
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"]},
    ...                       geometry=[Point(1000, 0)], crs=crs)
    >>> housing = gpd.GeoDataFrame({"name": ["strip", "far"]},
    ...                            geometry=[box(0, 0, 2000, 20), box(0, 500, 100, 600)], crs=crs)
    >>> table = coverage(catchments(net, kg, {"kindergarten": 300.0}), housing, network=net)
    >>> table[["class", "residential_m2", "frontage_m2"]].values.tolist()
    [['kindergarten', 50000.0, 40000.0]]
    >>> table[["covered_share", "covered_share_of_frontage"]].round(2).values.tolist()
    [[0.26, 0.33]]
    """
    unions = class_unions(catchments)
    crs = catchments.crs
    res = shapely.union_all(_metric(residential, crs, "residential"))
    areas = np.asarray(unions.geometry.values, dtype=object)
    total = float(shapely.area(res))
    covered = shapely.area(shapely.intersection(areas, res))
    table = pd.DataFrame({
        "class": unions["class"].to_numpy(),
        "radius_m": unions["radius_m"].to_numpy(),
        "residential_m2": total,
        "covered_m2": covered,
        "covered_share": covered / total if total > 0 else np.nan,
    })
    if network is not None:
        # The residential land near a street, area by area (not the city-wide street_zone).
        parts = shapely.get_parts(res)
        zones = frontage_near(network.edge_geometry, parts, frontage_m, tree=network.edge_tree)
        reach = float(shapely.area(shapely.intersection(parts, zones)).sum())
        table["frontage_m2"] = reach
        table["covered_share_of_frontage"] = covered / reach if reach > 0 else np.nan
    for name, layer in (("parcels", parcels), ("buildings", buildings)):
        if layer is None:
            continue
        inside = _points_inside(_metric(layer, crs, name), areas)
        table[f"n_{name}"] = len(layer)
        table[f"n_{name}_covered"] = inside.sum(axis=1)
        if name == "parcels":
            table["n_parcels_served"] = [
                int((layer[col] <= r).sum()) if (col := distance_column(c)) in layer else pd.NA
                for c, r in zip(table["class"], table["radius_m"], strict=True)]
    return table


def blind_spots(
    catchments: gpd.GeoDataFrame,
    residential: gpd.GeoDataFrame,
    *,
    classes: Sequence[str] | None = None,
    min_area_m2: float = MIN_BLIND_SPOT_M2,
    name_column: str = "name",
) -> gpd.GeoDataFrame:
    """Find the residential land outside each class's catchment (服务盲区).

    Parameters
    ----------
    catchments
        Output of :func:`siteplan.access.catchments.catchments`.
    residential
        Residential land polygons with a CRS; ``name_column`` names them where present.
    classes
        Classes to report; every class of ``catchments`` by default.  A listed class with no
        catchment at all leaves all residential land blind.
    min_area_m2
        Pieces smaller than this are dropped (slivers along buffer edges).
    name_column
        The column of ``residential`` that names its polygons (``name`` of OSM).

    Returns
    -------
    geopandas.GeoDataFrame
        In the catchments' CRS: ``class``, ``residential_id`` (row label in ``residential``),
        ``name``, ``area_m2`` and the uncovered (multi)polygon, ordered by class then
        residential row.

    Raises
    ------
    InputError
        Catchments without a ``class`` column, or residential land without a CRS.

    Examples
    --------
    The strip along the street is blind beyond the catchment, the far block wholly:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import blind_spots, catchments, graph_from_lines
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"]},
    ...                       geometry=[Point(1000, 0)], crs=crs)
    >>> housing = gpd.GeoDataFrame({"name": ["strip", "far"]},
    ...                            geometry=[box(0, 0, 2000, 20), box(0, 500, 100, 600)], crs=crs)
    >>> spots = blind_spots(catchments(net, kg, {"kindergarten": 300.0}), housing)
    >>> spots[["class", "name"]].values.tolist()
    [['kindergarten', 'strip'], ['kindergarten', 'far']]
    >>> spots["area_m2"].round(-2).tolist()
    [26900.0, 10000.0]
    """
    unions = class_unions(catchments)
    crs = catchments.crs
    res = _metric(residential, crs, "residential")
    names = (residential[name_column].astype("string").to_numpy(dtype=object)
             if name_column in residential.columns else np.full(res.size, None, dtype=object))
    by_class = dict(zip(unions["class"], unions.geometry.values, strict=True))
    wanted = sorted(by_class) if classes is None else list(classes)
    land = shapely.union_all(res)
    frames = []
    for cls in wanted:  # one overlay per class
        blind = shapely.get_parts(shapely.difference(land, by_class.get(cls, shapely.Polygon())))
        frames.append(_spot_rows(cls, residential, names, _outside(res, blind), min_area_m2))
    return _spot_layer(frames, crs)


def _outside(res: np.ndarray, blind: np.ndarray) -> np.ndarray:
    """Return, per residential polygon, its part within ``blind``.

    ``blind`` are disjoint polygons that together are the residential land outside a
    catchment.  ``difference(res, catchment)`` would overlay every polygon with the whole city-wide
    catchment, which grows with both; instead the land outside the catchment is computed once
    and each polygon meets only the few pieces of it that it touches.
    """
    out = np.empty(res.shape[0], dtype=object)
    out[:] = shapely.Polygon()
    ri, bi = shapely.STRtree(blind).query(res, predicate="intersects")
    pieces, owner = shapely.get_parts(elementwise(shapely.intersection, res[ri], blind[bi]),
                                      return_index=True)
    # Keep the areal pieces (polygons that meet at an edge or corner also give lines, points).
    areal = is_polygonal(pieces)
    pieces, owner = pieces[areal], ri[owner[areal]]
    if pieces.size == 0:
        return out
    order = np.argsort(owner, kind="stable")
    pieces, owner = pieces[order], owner[order]
    present, group, counts = np.unique(owner, return_inverse=True, return_counts=True)
    # The pieces come from disjoint polygons, so together they form a valid multipolygon; a
    # single piece stays a polygon, as a plain difference would give it.
    grouped = shapely.multipolygons(pieces, indices=group)
    one = counts == 1
    grouped[one] = pieces[np.searchsorted(group, np.flatnonzero(one))]
    out[present] = shapely.make_valid(grouped)
    return out


def _spot_rows(cls: str, residential: gpd.GeoDataFrame, names: np.ndarray, left: np.ndarray,
               min_area_m2: float) -> pd.DataFrame:
    """Return the blind-spot rows of one class: the residential land left uncovered."""
    left_area = shapely.area(left)
    keep = left_area >= min_area_m2
    return pd.DataFrame({
        "class": cls,
        "residential_id": np.asarray(residential.index)[keep],
        "name": pd.array(names[keep], dtype="string"),
        "area_m2": left_area[keep],
        "geometry": left[keep],
    })


def _spot_layer(frames: list[pd.DataFrame], crs: object) -> gpd.GeoDataFrame:
    """Join the blind-spot rows of every class into one layer (with its columns if empty)."""
    if not frames:
        return gpd.GeoDataFrame({"class": [], "residential_id": [], "name": [], "area_m2": []},
                                geometry=[], crs=crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)


# --------------------------------------------------------------------------------------------
# Coverage and blind spots without a city-wide dissolve
# --------------------------------------------------------------------------------------------
def class_coverage(
    net: Network,
    facilities: gpd.GeoDataFrame,
    radii: Mapping[str, float],
    residential: gpd.GeoDataFrame,
    *,
    parcels: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    frontage_m: float = FRONTAGE_M,
    facility_point: SnapPoint = "representative",
    max_snap_m: float = MAX_SNAP_M,
    min_area_m2: float = MIN_BLIND_SPOT_M2,
    name_column: str = "name",
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Measure coverage and blind spots of each class's dissolved catchment without building it.

    The same table as ``coverage(catchments(net, facilities, radii, mode="dissolve"),
    residential, network=net, ...)`` and the same layer as ``blind_spots(..., classes=
    sorted(radii))``, to rounding.  The catchment near a residential area (or a parcel) is the
    frontage of the reached streets that come within ``frontage_m`` of it, so each class needs
    one multi-source pass and a few small unions, never the city-wide union of its streets.

    Parameters
    ----------
    net
        The walking network.
    facilities
        ``facility_id``, ``class`` and geometry, with a CRS.
    radii
        ``{class: radius_m}``; classes without facilities get no coverage row and leave all
        residential land blind.
    residential, parcels, buildings
        As for :func:`coverage`.
    frontage_m, facility_point, max_snap_m
        As for :func:`siteplan.access.catchments.catchments`.
    min_area_m2, name_column
        As for :func:`blind_spots`.

    Returns
    -------
    coverage, blind_spots
        The :func:`coverage` table (with ``frontage_m2``) and the :func:`blind_spots` layer.

    Raises
    ------
    ConfigError
        A radius or frontage that is not a positive number.
    InputError
        Facilities without ``facility_id`` or ``class``, or a layer without a CRS.

    Examples
    --------
    The same figures as :func:`coverage` and :func:`blind_spots` give on the dissolved
    catchment:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import class_coverage, graph_from_lines
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"]},
    ...                       geometry=[Point(1000, 0)], crs=crs)
    >>> housing = gpd.GeoDataFrame({"name": ["strip", "far"]},
    ...                            geometry=[box(0, 0, 2000, 20), box(0, 500, 100, 600)], crs=crs)
    >>> table, spots = class_coverage(net, kg, {"kindergarten": 300.0}, housing)
    >>> table[["class", "covered_share"]].round(2).values.tolist()
    [['kindergarten', 0.26]]
    >>> spots["name"].tolist()
    ['strip', 'far']
    """
    check_radii(radii)
    if not (np.isfinite(frontage_m) and frontage_m > 0):
        raise ConfigError(f"frontage_m must be a positive number of metres, got {frontage_m}.",
                          where="catchments.frontage_m", fix="use e.g. 30.")
    classes = sorted(radii)
    snaps = snap_facilities(net, facilities, classes, how=facility_point, max_snap_m=max_snap_m)
    crs = net.crs
    res = _metric(residential, crs, "residential")
    names = (residential[name_column].astype("string").to_numpy(dtype=object)
             if name_column in residential.columns else np.full(res.size, None, dtype=object))
    parts = shapely.get_parts(shapely.union_all(res))
    total = float(shapely.area(parts).sum())
    land = _Frontage(net, parts, frontage_m)
    ceiling = float(shapely.area(land.covered).sum())
    points = {name: shapely.point_on_surface(_metric(layer, crs, name))
              for name, layer in (("parcels", parcels), ("buildings", buildings))
              if layer is not None}
    rows, frames = [], []
    # One multi-source pass and a few small unions per class, last class first: the served
    # units measured beside this (siteplan.access.service) go first to last, so the two never
    # hold the passes of the largest class (a city's bus-corridor points) at once.
    for cls in classes[::-1]:
        trim_memory()  # the previous class's unions, freed
        sn = snaps[cls][0]
        if len(sn) == 0:  # no catchment at all: every residential area is blind
            frames.append(_spot_rows(cls, residential, names, _outside(res, parts),
                                     min_area_m2))
            continue
        pieces, lines = class_streets(net, sn, float(radii[cls]))
        tree = shapely.STRtree(lines)
        covered_parts, outside = land.of_class(pieces, lines, tree)
        covered = float(shapely.area(covered_parts).sum())
        blind = shapely.get_parts(outside)
        frames.append(_spot_rows(cls, residential, names, _outside(res, blind), min_area_m2))
        row: dict[str, object] = {
            "class": cls, "radius_m": float(radii[cls]), "residential_m2": total,
            "covered_m2": covered, "covered_share": covered / total if total > 0 else np.nan,
            "frontage_m2": ceiling,
            "covered_share_of_frontage": covered / ceiling if ceiling > 0 else np.nan}
        for name, pts in points.items():
            row[f"n_{name}"] = len(pts)
            row[f"n_{name}_covered"] = int(_covered_points(lines, tree, pts, frontage_m).sum())
            if name == "parcels" and parcels is not None:
                col = distance_column(cls)
                row["n_parcels_served"] = (int((parcels[col] <= radii[cls]).sum())
                                           if col in parcels else pd.NA)
        rows.append(row)
    rows, frames = rows[::-1], frames[::-1]
    columns = ["class", "radius_m", "residential_m2", "covered_m2", "covered_share",
               "frontage_m2", "covered_share_of_frontage"]
    table = pd.DataFrame(rows, columns=list(rows[0]) if rows else columns)
    return table, _spot_layer(frames, crs)


class _Frontage:
    """The frontage of residential land: the whole network's, and a class's from it.

    A piece of land whose nearby streets (within ``frontage_m``) a class reaches end to end has
    the network's frontage as the class's: it is taken from the network's, computed once.  A
    piece near no reached street has none.  Only the pieces near partly reached streets need
    the class's own small unions (:func:`frontage_near`); a class reaching most of a city (a bus
    corridor) costs a fraction of the unions.
    """

    def __init__(self, net: Network, parts: np.ndarray, frontage_m: float) -> None:
        self.net, self.parts, self.frontage_m = net, parts, frontage_m
        zones = frontage_near(net.edge_geometry, parts, frontage_m, tree=net.edge_tree)
        self.zones = zones
        self.covered = elementwise(shapely.intersection, parts, zones, min_block=_MIN_BLOCK)
        self._outside: np.ndarray | None = None
        self.part_i, self.edge_i = net.edge_tree.query(parts, predicate="dwithin",
                                                       distance=frontage_m)
        self.n_near = np.bincount(self.part_i, minlength=parts.size)

    def outside(self) -> np.ndarray:
        """Per piece of land, its part outside the network's frontage (computed once)."""
        if self._outside is None:
            self._outside = elementwise(shapely.difference, self.parts, self.zones,
                                        min_block=_MIN_BLOCK)
        return self._outside

    def of_class(self, pieces: pd.DataFrame, lines: np.ndarray,
                 tree: shapely.STRtree) -> tuple[np.ndarray, np.ndarray]:
        """Per piece of land, its part inside and outside the frontage of ``lines``."""
        edge = pieces["edge"].to_numpy()
        whole = (pieces["s"].to_numpy() == 0.0) & (
            pieces["t"].to_numpy() == self.net.vertices.length[edge])
        full_edge = np.zeros(self.net.n_edges, dtype=bool)
        full_edge[edge[whole]] = True
        any_edge = np.zeros(self.net.n_edges, dtype=bool)
        any_edge[edge] = True
        n = self.parts.size
        n_full = np.bincount(self.part_i, weights=full_edge[self.edge_i], minlength=n)
        n_any = np.bincount(self.part_i, weights=any_edge[self.edge_i], minlength=n)
        full = (self.n_near > 0) & (n_full == self.n_near)
        partial = ~full & (n_any > 0)
        inside = np.empty(n, dtype=object)
        inside[:] = shapely.Polygon()
        outside = self.parts.copy()  # near no reached street: all of it
        inside[full] = self.covered[full]
        if full.any():
            outside[full] = self.outside()[full]
        zones = frontage_near(lines, self.parts[partial], self.frontage_m, tree=tree)
        inside[partial] = elementwise(shapely.intersection, self.parts[partial], zones,
                                      min_block=_MIN_BLOCK)
        outside[partial] = elementwise(shapely.difference, self.parts[partial], zones,
                                       min_block=_MIN_BLOCK)
        return inside, outside


def _covered_points(lines: np.ndarray, tree: shapely.STRtree, pts: np.ndarray,
                    frontage_m: float) -> np.ndarray:
    """Tell which points lie in the frontage buffer of ``lines`` (inside or on its boundary).

    A polygonal buffer falls short of the true one by its chords and GEOS's simplification of
    the input (under 1.6 % of the width here), and never exceeds it: points much nearer to a
    street than ``frontage_m`` are inside, points farther are outside, and only those within a
    thin band of the edge are tested against the buffer of the streets near them.
    """
    if lines.size == 0 or pts.size == 0:
        return np.zeros(pts.shape[0], dtype=bool)

    def inside(block: slice) -> np.ndarray:
        sub = pts[block]
        out = np.zeros(sub.shape[0], dtype=bool)
        # One tree query; the pairs' distances tell the sure points from those in the band.
        pi, li = tree.query(sub, predicate="dwithin", distance=frontage_m)
        sure = np.unique(pi[shapely.distance(sub[pi], lines[li]) <= 0.95 * frontage_m])
        out[sure] = True
        band = np.setdiff1d(np.unique(pi), sure)
        if band.size:
            zones = frontage_near(lines, sub[band], frontage_m, tree=tree)
            out[band] = shapely.contains(zones, sub[band]) | shapely.touches(zones, sub[band])
        return out

    return np.concatenate(thread_map(inside, blocks(pts.shape[0], MIN_BLOCK)))
