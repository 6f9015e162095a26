"""Coverage and blind spots without city-wide re-unions, overlays and dissolves (proposals).

Each function returns what the :mod:`siteplan.coverage` function it shadows returns
(``peers.py`` checks and prints it), but does less work:

- :func:`class_unions_fast` (for :func:`siteplan.coverage.class_unions`): a class with one row
  (``mode="dissolve"``) is already a union; re-unioning it costs as much as building it.
- :func:`coverage_fast` (for :func:`siteplan.coverage.coverage`): the same, with
  :func:`frontage_area_near`: the residential land within the frontage of any street from the
  streets near residential land, instead of buffering and unioning the whole network.
- :func:`coverage_local` (for ``coverage`` and ``blind_spots`` of dissolved catchments, as the
  pipeline computes them): straight from each class's reached streets, buffering only the
  streets near residential land, one small union per residential area.  The pipeline builds a
  city-wide dissolved polygon per class just for coverage; that union is most of its time.
- :func:`blind_spots_fast` (for :func:`siteplan.coverage.blind_spots`): one overlay per class,
  ``D = union(residential) - catchment``, then each residential polygon is intersected with the
  few parts of ``D`` it touches, instead of one overlay of every residential polygon against the
  whole city-wide catchment.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.coverage import DEFAULT_MIN_BLIND_SPOT_M2, _metric
from siteplan.errors import InputError
from siteplan.network import Network
from siteplan.snapping import DEFAULT_MAX_SNAP_M, SnapPoint, snap


# --------------------------------------------------------------------------------------------
# Coverage and blind spots without city-wide re-unions and overlays
# --------------------------------------------------------------------------------------------
def class_unions_fast(catchments: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """:func:`siteplan.coverage.class_unions`, taking single-row classes as they are."""
    if len(catchments) == 0:
        return gpd.GeoDataFrame({"class": [], "radius_m": []}, geometry=[], crs=catchments.crs)
    cls = catchments["class"].astype(str).to_numpy()
    classes, inverse, counts = np.unique(cls, return_inverse=True, return_counts=True)
    geoms = np.asarray(catchments.geometry.values, dtype=object)
    out = np.empty(classes.size, dtype=object)
    for k in range(classes.size):  # one per class
        rows = geoms[inverse == k]
        out[k] = rows[0] if counts[k] == 1 else shapely.union_all(rows)
    radius = pd.Series(catchments["radius_m"].to_numpy(dtype=float)).groupby(inverse).max()
    return gpd.GeoDataFrame({"class": classes, "radius_m": radius.to_numpy()}, geometry=out,
                            crs=catchments.crs)


def frontage_area_near(net: Network, residential: np.ndarray, frontage_m: float) -> float:
    """Area of residential land within ``frontage_m`` of a street, from the nearby streets only.

    ``siteplan.coverage.street_zone`` buffers and unions the whole network (a city-wide dissolve)
    to intersect it with residential land; only edges within ``frontage_m`` of that land can
    contribute, so the same area comes from one small union per residential area.
    """
    parts = shapely.get_parts(shapely.union_all(residential))
    zones = _local_unions(net.edge_geometry, parts, frontage_m, tree=net.edge_tree)
    return float(shapely.area(shapely.intersection(parts, zones)).sum())


def coverage_fast(catchments: gpd.GeoDataFrame, residential: gpd.GeoDataFrame, *,
                  parcels: gpd.GeoDataFrame | None = None,
                  buildings: gpd.GeoDataFrame | None = None, network: Network | None = None,
                  frontage_m: float = 30.0) -> pd.DataFrame:
    """:func:`siteplan.coverage.coverage` with :func:`class_unions_fast` and
    :func:`frontage_area_near` (same columns)."""
    import siteplan.coverage as cov

    saved = cov.class_unions
    cov.class_unions = class_unions_fast
    try:
        table = cov.coverage(catchments, residential, parcels=parcels, buildings=buildings)
    finally:
        cov.class_unions = saved
    if network is not None:
        reach = frontage_area_near(network, _metric(residential, catchments.crs, "residential"),
                                   frontage_m)
        pos = table.columns.get_loc("covered_share") + 1
        table.insert(pos, "frontage_m2", reach)
        table.insert(pos + 1, "covered_share_of_frontage",
                     table["covered_m2"] / reach if reach > 0 else np.nan)
    return table


def blind_spots_fast(
    catchments: gpd.GeoDataFrame, residential: gpd.GeoDataFrame, *,
    classes: Sequence[str] | None = None, min_area_m2: float = DEFAULT_MIN_BLIND_SPOT_M2,
    name_column: str = "name",
) -> gpd.GeoDataFrame:
    """:func:`siteplan.coverage.blind_spots` with one city-wide overlay per class."""
    if "class" not in catchments.columns:
        raise InputError("the catchments have no class column.", where="catchments",
                         fix="pass the output of siteplan.catchments.catchments().")
    unions = class_unions_fast(catchments)
    crs = catchments.crs
    res = _metric(residential, crs, "residential")
    names = (residential[name_column].astype("string").to_numpy(dtype=object)
             if name_column in residential.columns else np.full(res.size, None, dtype=object))
    res_union = shapely.union_all(res)
    by_class = dict(zip(unions["class"], unions.geometry.values, strict=True))
    wanted = sorted(by_class) if classes is None else list(classes)
    frames = []
    for cls in wanted:  # one overlay per class
        area = by_class.get(cls, shapely.Polygon())
        blind = shapely.get_parts(shapely.difference(res_union, area))
        tree = shapely.STRtree(blind)
        ri, pi = tree.query(res, predicate="intersects")
        pieces = shapely.intersection(res[ri], blind[pi])
        # Keep the areal part of each piece (two polygons meeting at a point give a point).
        pieces = shapely.get_parts(pieces, return_index=True)
        poly = np.isin(shapely.get_type_id(pieces[0]), (3, 6))
        owner = ri[pieces[1][poly]]
        left = np.full(res.size, None, dtype=object)
        if poly.any():
            grouped = shapely.multipolygons(shapely.get_parts(pieces[0][poly]),
                                            indices=np.unique(owner, return_inverse=True)[1])
            left[np.unique(owner)] = shapely.make_valid(grouped)
        left[pd.isna(left)] = shapely.Polygon()
        left_area = shapely.area(left)
        keep = left_area >= min_area_m2
        frames.append(pd.DataFrame({
            "class": cls,
            "residential_id": np.asarray(residential.index)[keep],
            "name": pd.array(names[keep], dtype="string"),
            "area_m2": left_area[keep],
            "geometry": left[keep],
        }))
    if not frames:
        return gpd.GeoDataFrame({"class": [], "residential_id": [], "name": [], "area_m2": []},
                                geometry=[], crs=crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)


# --------------------------------------------------------------------------------------------
# Coverage without city-wide dissolves
# --------------------------------------------------------------------------------------------
def _local_unions(lines: np.ndarray, areas: np.ndarray, frontage_m: float,
                  tree: shapely.STRtree | None = None) -> np.ndarray:
    """Per area, the frontage buffer of the street pieces within ``frontage_m`` of it."""
    from siteplan.catchments import buffer_streets

    out = np.full(areas.size, None, dtype=object)
    out[:] = shapely.Polygon()
    if lines.size == 0 or areas.size == 0:
        return out
    tree = tree or shapely.STRtree(lines)
    ai, li = tree.query(areas, predicate="dwithin", distance=frontage_m)
    if ai.size == 0:
        return out
    order = np.argsort(ai, kind="stable")
    ai, li = ai[order], li[order]
    present, group = np.unique(ai, return_inverse=True)
    merged = shapely.line_merge(shapely.multilinestrings(lines[li], indices=group))
    out[present] = buffer_streets(merged, frontage_m)
    return out


def coverage_local(
    net: Network, facilities: gpd.GeoDataFrame, radii: dict[str, float],
    residential: gpd.GeoDataFrame, *, parcels: gpd.GeoDataFrame | None = None,
    frontage_m: float = 30.0, facility_point: SnapPoint = "representative",
    max_snap_m: float = DEFAULT_MAX_SNAP_M, min_area_m2: float = DEFAULT_MIN_BLIND_SPOT_M2,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Coverage and blind spots of each class straight from its reached streets.

    What ``coverage(catchments(..., mode="dissolve"), ...)`` and ``blind_spots(...)`` give,
    without building the city-wide dissolved polygons: only the land near residential areas
    is ever buffered, one small union per residential area.  Parcels count as covered when
    their representative point lies within ``frontage_m`` of a reached street (the true
    buffer, where the dissolved polygon's chords fall short by up to 0.26 m).

    Returns
    -------
    coverage, blind_spots
        ``class``, ``radius_m``, ``residential_m2``, ``covered_m2``, ``covered_share`` (+
        ``n_parcels``, ``n_parcels_covered``), and the blind-spot layer.
    """
    from siteplan.linear import edge_vertices, substrings
    from siteplan.reach import reached_pieces

    crs = net.crs
    res = _metric(residential, crs, "residential")
    res_parts = shapely.get_parts(shapely.union_all(res))
    total = float(shapely.area(res_parts).sum())
    names = (residential["name"].astype("string").to_numpy(dtype=object)
             if "name" in residential.columns else np.full(res.size, None, dtype=object))
    geoms = np.asarray(facilities.to_crs(crs).geometry.values, dtype=object)
    cls_values = facilities["class"].astype(str).to_numpy()
    pts = None if parcels is None else shapely.point_on_surface(_metric(parcels, crs, "parcels"))
    rows, frames = [], []
    for cls in sorted(radii):  # one multi-source pass and a few small unions per class
        sn = snap(net, geoms[cls_values == cls], how=facility_point, max_snap_m=max_snap_m)
        pieces = reached_pieces(net, sn, float(radii[cls]), per_facility=False)
        lines = substrings(net.edge_geometry, pieces["edge"].to_numpy(),
                           pieces["s"].to_numpy(), pieces["t"].to_numpy(),
                           vertices=edge_vertices(net))
        covered = shapely.area(shapely.intersection(
            res_parts, _local_unions(lines, res_parts, frontage_m))).sum()
        left = shapely.difference(res, _local_unions(lines, res, frontage_m))
        left_area = shapely.area(left)
        keep = left_area >= min_area_m2
        frames.append(pd.DataFrame({
            "class": cls, "residential_id": np.asarray(residential.index)[keep],
            "name": pd.array(names[keep], dtype="string"), "area_m2": left_area[keep],
            "geometry": left[keep]}))
        out = {"class": cls, "radius_m": float(radii[cls]), "residential_m2": total,
               "covered_m2": covered, "covered_share": covered / total if total > 0 else np.nan}
        if pts is not None:
            hit = (shapely.STRtree(lines).query(pts, predicate="dwithin", distance=frontage_m)[0]
                   if lines.size else np.empty(0, dtype=np.int64))
            out["n_parcels"] = len(pts)
            out["n_parcels_covered"] = int(np.unique(hit).size)
        rows.append(out)
    spots = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
    return pd.DataFrame(rows), spots
