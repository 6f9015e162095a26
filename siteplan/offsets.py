"""Detecting undeclared Chinese map offsets (GCJ-02, BD-09) in a facility layer.

Points copied from Amap, Tencent or Baidu are shifted by a smooth offset of several hundred
metres (about 560 m in Taiyuan; :mod:`siteplan.crs`).  Read as WGS84 they look plausible, but
every walking distance measured from them is wrong.  :func:`check_offset` asks which reading of
the layer fits reference data in WGS84 best: the coordinates as given, or converted from GCJ-02
or BD-09.  The reference is the same classes of facility from another source (OSM school
grounds, hospitals...), which a true point falls in or next to, and, failing that, the streets,
which points at a gate or on a kerb sit on.

Why not simply the distance to the nearest street: in a city grid, a point shifted by 560 m is
on average no farther from *some* street than the true one (measured on the Taiyuan schools:
median 49 m as given, 53 m shifted), so that statistic cannot tell the two apart.  Counting the
points that *match* the reference (inside or within a few metres) can: on the Taiyuan schools and
hospitals, 59 of 59 points match their OSM grounds as given and none after a wrong shift.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike
from pyproj import CRS, Transformer

from siteplan.crs import bd09_to_wgs84, gcj02_to_wgs84, metric_crs_for_bounds, out_of_china
from siteplan.errors import SiteplanWarning

_Converter = Callable[[ArrayLike, ArrayLike], tuple[np.ndarray, np.ndarray]]
#: The readings tried besides the coordinates as given: name -> conversion to WGS84.
CANDIDATES: dict[str, _Converter] = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}

#: A point within this distance of a reference facility of its class matches it (the point
#: and the grounds of one school rarely differ by more; a 300-700 m offset always does).
FACILITY_MATCH_M = 30.0
#: A point within this distance of a street centreline matches the streets (a gate or a kerb).
STREET_MATCH_M = 15.0
#: Fewer points than this are not judged: a handful can match anything by chance.
MIN_POINTS = 5


@dataclass
class OffsetCheck:
    """What :func:`check_offset` found.

    Attributes
    ----------
    n_points
        Features of the layer that were compared.
    reference
        ``"facilities"`` or ``"streets"``: what the points were matched against.
    matches
        Points matching the reference for each reading: ``"as given"``, ``"gcj02"``, ``"bd09"``.
    median_m
        Median distance (m) to the reference for each reading.
    suggested
        ``"gcj02"`` or ``"bd09"`` when that reading fits markedly better than the
        coordinates as given; else None.
    """

    n_points: int
    reference: str
    matches: dict[str, int] = field(default_factory=dict)
    median_m: dict[str, float] = field(default_factory=dict)
    suggested: str | None = None


def _readings(lon: np.ndarray, lat: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {"as given": (lon, lat)}
    for name, convert in CANDIDATES.items():
        out[name] = convert(lon, lat)
    return out


def _distances(xy: dict[str, tuple[np.ndarray, np.ndarray]], reference: np.ndarray,
               crs: CRS) -> dict[str, np.ndarray]:
    """Distance in metres from each reading's points to the nearest reference geometry."""
    to_metric = Transformer.from_crs(4326, crs, always_xy=True)
    tree = shapely.STRtree(reference)
    out = {}
    for name, (lon, lat) in xy.items():
        x, y = to_metric.transform(lon, lat)
        _, dist = tree.query_nearest(shapely.points(x, y), return_distance=True,
                                     all_matches=False)
        out[name] = np.asarray(dist, dtype=float)
    return out


def _judge(dist: dict[str, np.ndarray], tol_m: float, reference: str) -> OffsetCheck:
    n = len(dist["as given"])
    matches = {k: int((d <= tol_m).sum()) for k, d in dist.items()}
    median = {k: float(np.median(d)) for k, d in dist.items()}
    check = OffsetCheck(n_points=n, reference=reference, matches=matches, median_m=median)
    best = max(CANDIDATES, key=lambda k: matches[k])
    # Markedly better: at least half the points match under the converted reading, at least
    # twice as many as under the given one.  A wrong reading of true WGS84 points matches by
    # chance only (0-5 of 19 hospitals at a 15 m street tolerance in Taiyuan).
    if matches[best] >= max(MIN_POINTS // 2 + 1, n / 2) and matches[best] >= 2 * matches[
            "as given"] + 1:
        check.suggested = best
    return check


def check_offset(
    layer: gpd.GeoDataFrame,
    *,
    facilities: gpd.GeoDataFrame | None = None,
    streets: Any = None,
    where: str = "facility layer",
    warn: bool = True,
) -> OffsetCheck | None:
    """Check whether a lon/lat facility layer carries an undeclared GCJ-02 or BD-09 offset.

    Parameters
    ----------
    layer
        The facility layer as read (``class`` column optional), in a geographic CRS and not
        already converted from GCJ-02/BD-09.  Polygons are represented by a point inside.
    facilities
        Reference facilities in WGS84-aligned data (e.g. the classified OSM facilities), any
        CRS; those of the layer's classes are used when it has a ``class`` column.
    streets
        Street lines (GeoDataFrame/GeoSeries, any CRS, or a :class:`~siteplan.network.Network`),
        used when ``facilities`` gives no verdict.
    where
        The layer's name in the warning.
    warn
        Issue a :class:`~siteplan.errors.SiteplanWarning` when an offset is found.

    Returns
    -------
    OffsetCheck or None
        None when the layer cannot be judged: projected CRS, outside China, fewer than
        :data:`MIN_POINTS` features, or no reference.
    """
    if layer.crs is None or not CRS.from_user_input(layer.crs).is_geographic:
        return None
    geoms = np.asarray(layer.geometry.values, dtype=object)
    geoms = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    if len(geoms) < MIN_POINTS:
        return None
    points = shapely.point_on_surface(geoms)
    lon, lat = shapely.get_x(points), shapely.get_y(points)
    if out_of_china(lon, lat).mean() > 0.5:
        return None  # the offsets exist only inside China
    xy = _readings(lon, lat)
    metric = metric_crs_for_bounds((lon.min(), lat.min(), lon.max(), lat.max()))
    check: OffsetCheck | None = None
    if facilities is not None and len(facilities):
        ref = facilities
        if "class" in layer.columns and "class" in facilities.columns:
            ref = facilities[facilities["class"].isin(set(layer["class"].dropna()))]
        if len(ref):
            ref_geoms = np.asarray(ref.to_crs(metric).geometry.values, dtype=object)
            check = _judge(_distances(xy, ref_geoms, metric), FACILITY_MATCH_M, "facilities")
    if (check is None or check.suggested is None) and streets is not None:
        street_check = _judge(_distances(xy, _street_geoms(streets, metric), metric),
                              STREET_MATCH_M, "streets")
        if check is None or street_check.suggested is not None:
            check = street_check
    if check is not None and check.suggested is not None and warn:
        _warn(check, where)
    return check


def _street_geoms(streets: Any, metric: CRS) -> np.ndarray:
    if hasattr(streets, "edge_geometry"):  # a Network: edges in its own metric CRS
        series = gpd.GeoSeries(streets.edge_geometry, crs=streets.crs)
    elif isinstance(streets, gpd.GeoDataFrame):
        series = streets.geometry
    else:
        series = gpd.GeoSeries(streets)
    return np.asarray(series.to_crs(metric).values, dtype=object)


def _warn(check: OffsetCheck, where: str) -> None:
    name = {"gcj02": "GCJ-02 (Amap/Tencent/Google China)", "bd09": "BD-09 (Baidu)"}
    s = check.suggested
    assert s is not None
    on = (f"within {FACILITY_MATCH_M:g} m of a facility of the same class in the reference data"
          if check.reference == "facilities" else f"within {STREET_MATCH_M:g} m of a street")
    warnings.warn(
        f"{where}: the layer looks like {name[s]} coordinates, not WGS84: "
        f"{check.matches[s]} of {check.n_points} points lie {on} after converting "
        f"from {s}, against {check.matches['as given']} as given (median distance "
        f"{check.median_m[s]:.0f} m vs {check.median_m['as given']:.0f} m). Distances "
        f"measured from it would be off by several hundred metres. Set coord_system = "
        f'"{s}" on its [[inputs.layers]] entry (or [crs] coord_system for every input).',
        SiteplanWarning,
        stacklevel=3,
    )


__all__ = ["CANDIDATES", "FACILITY_MATCH_M", "MIN_POINTS", "STREET_MATCH_M", "OffsetCheck",
           "check_offset"]
