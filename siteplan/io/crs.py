"""Coordinate reference systems: the local metric CRS, Chinese map offsets, coordinate checks."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import shapely
from numpy.typing import ArrayLike
from pyproj import CRS, Proj, Transformer

from siteplan.core.errors import InputError
from siteplan.io.inputs import CoordSystem

if TYPE_CHECKING:
    import geopandas as gpd

MetricKind = Literal["utm", "cgcs2000"]


def local_metric_crs(lon: float, lat: float, kind: MetricKind = "utm") -> CRS:
    """Return a metric CRS suited to a study centred at (lon, lat) in degrees.

    Parameters
    ----------
    lon, lat
        Centre of the study area, WGS84 / CGCS2000 degrees.
    kind
        ``"utm"``: the WGS84 UTM zone.  ``"cgcs2000"``: the CGCS2000 3-degree Gauss-Krüger zone
        without zone prefix (EPSG:4534-4554), which Chinese bureaus use; EPSG:4547 for central
        Taiyuan.

    Returns
    -------
    pyproj.CRS
    """
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 180:
        raise InputError(
            f"cannot choose a metric CRS for centre ({lon}, {lat}): not valid degrees.",
            fix="check that the layer's CRS is declared correctly.",
        )
    if kind == "utm":
        zone = int((lon + 180.0) // 6.0) % 60 + 1
        return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
    if kind == "cgcs2000":
        central = 3 * int(math.floor(lon / 3.0 + 0.5))
        if not 75 <= central <= 135:
            raise InputError(
                f"CGCS2000 3-degree zones cover 73.5°E-136.5°E; the study centre is at {lon:.3f}°E.",
                fix='use metric_crs = "utm" for studies outside China.',
            )
        return CRS.from_epsg(4534 + (central - 75) // 3)
    raise InputError(f"unknown metric CRS kind {kind!r}.", fix='use "utm" or "cgcs2000".')


def metric_crs_for_bounds(
    bounds: tuple[float, float, float, float] | np.ndarray, kind: MetricKind = "utm"
) -> CRS:
    """Metric CRS for a lon/lat bounding box ``(minx, miny, maxx, maxy)``."""
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    return local_metric_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0, kind)


def is_metric_crs(crs: Any) -> bool:
    """Whether ``crs`` (anything pyproj accepts) is projected with every axis in metres.

    Metres on the axes do not make lengths true: see :func:`scale_error` and
    :func:`analysis_crs`, which also check the projection's scale over the data.
    """
    crs = CRS.from_user_input(crs)
    if not crs.is_projected:
        return False
    units = {axis.unit_name for axis in crs.axis_info}
    return units <= {"metre", "meter"}


#: Largest scale error ``|k - 1|`` over the data at which a projected CRS is used for distances
#: and areas as it is.  UTM and CGCS2000 3-degree zones stay under 0.1 % inside their zone; Web
#: Mercator is off by 27 % at Taiyuan's latitude.
MAX_SCALE_ERROR = 0.005


def scale_error(crs: Any, lonlat_bounds: tuple[float, float, float, float] | np.ndarray) -> float:
    """Largest ``|k - 1|`` of the projection's point scale over a lon/lat box.

    Evaluated at the box's corners, edge midpoints and centre, for both the meridional and the
    parallel scale (they differ for non-conformal projections).
    """
    crs = CRS.from_user_input(crs)
    minx, miny, maxx, maxy = (float(b) for b in lonlat_bounds)
    lon = np.array([minx, maxx, minx, maxx, (minx + maxx) / 2, minx, maxx, (minx + maxx) / 2,
                    (minx + maxx) / 2])
    lat = np.array([miny, miny, maxy, maxy, miny, (miny + maxy) / 2, (miny + maxy) / 2, maxy,
                    (miny + maxy) / 2])
    factors = Proj(crs).get_factors(lon, lat)
    scales = np.concatenate([np.atleast_1d(factors.meridional_scale),
                             np.atleast_1d(factors.parallel_scale)])
    if not np.isfinite(scales).all():
        return float("inf")
    return float(np.max(np.abs(scales - 1.0)))


def lonlat_bounds(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Return ``frame.to_crs(4326).total_bounds`` without building the reprojected geometries.

    The vertices are transformed as arrays (as ``to_crs`` does, so the same numbers): a
    million street lines take a second instead of three.  NaN for an empty layer.
    """
    xy = shapely.get_coordinates(np.asarray(frame.geometry.values, dtype=object))
    if xy.shape[0] == 0:
        return np.full(4, np.nan)
    x, y = xy[:, 0], xy[:, 1]
    crs = CRS.from_user_input(frame.crs)
    if not crs.equals(CRS.from_epsg(4326)):
        x, y = Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)
    x, y = np.asarray(x), np.asarray(y)
    if np.isnan(x).all() or np.isnan(y).all():
        return np.full(4, np.nan)
    # As total_bounds: NaN ignored, an infinite (failed) transform kept.
    return np.array([np.nanmin(x), np.nanmin(y), np.nanmax(x), np.nanmax(y)])


def analysis_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries, kind: MetricKind = "utm") -> CRS:
    """Return the metric CRS to measure a layer in.

    That is the layer's own CRS when it is projected in metres with a scale error of at most
    :data:`MAX_SCALE_ERROR` over the data, else the local UTM zone (or CGCS2000 3-degree zone
    with ``kind="cgcs2000"``) of the data.
    """
    crs = CRS.from_user_input(frame.crs)
    bounds = lonlat_bounds(frame)
    if not np.isfinite(bounds).all():  # an empty layer: nothing to measure
        return crs if is_metric_crs(crs) else metric_crs_for_bounds((0.0, 0.0, 0.0, 0.0), kind)
    if is_metric_crs(crs) and scale_error(crs, bounds) <= MAX_SCALE_ERROR:
        return crs
    return metric_crs_for_bounds(bounds, kind)


# --- Chinese map offsets: GCJ-02 (Amap, Tencent, Google China) and BD-09 (Baidu) --------------
#
# GCJ-02 is WGS84 plus a deliberate, smoothly varying offset of a few hundred metres that applies
# only inside China; BD-09 adds Baidu's own rotation/offset on top of GCJ-02.  The forward
# formulas below are the widely published ones (e.g. the coordtransform libraries); there is no
# closed-form inverse, so ``*_to_wgs84`` inverts them by fixed-point iteration.

_GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 formula
_GCJ_EE = 0.00669342162296594323  # its first eccentricity squared
_BD_X_PI = math.pi * 3000.0 / 180.0
_INVERSE_TOL_DEG = 1e-10  # about 0.01 mm; iteration stops once every point moved less than this
_INVERSE_MAX_ITER = 30


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """Points where GCJ-02 is the identity (the standard rectangular ``out_of_china`` rule)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
    dlat += (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * math.pi) + 320.0 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
    dlon += (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * math.pi
    magic = 1.0 - _GCJ_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrtmagic * np.cos(radlat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 degrees to GCJ-02 degrees (identity outside China); vectorised over arrays."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_offset(lon, lat)
    outside = out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 degrees to Baidu BD-09 degrees (Baidu's published forward formula)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 degrees to BD-09 degrees."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


_Converter = Callable[[ArrayLike, ArrayLike], tuple[np.ndarray, np.ndarray]]


def _invert(forward: _Converter, lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    # The offsets change by well under 1e-3 per degree, so x <- x - (f(x) - target) is a strong
    # contraction: it converges to ~1e-12 degrees in a handful of steps.
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x, y = lon.copy(), lat.copy()
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        x = x - dx
        y = y - dy
        if not (np.nanmax(np.abs(dx), initial=0.0) > _INVERSE_TOL_DEG) and not (
            np.nanmax(np.abs(dy), initial=0.0) > _INVERSE_TOL_DEG
        ):
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 degrees to WGS84 degrees by iterating the forward offset (error ≪ 1 mm)."""
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 degrees to GCJ-02 degrees, inverting :func:`gcj02_to_bd09` by iteration."""
    return _invert(gcj02_to_bd09, lon, lat)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 degrees to WGS84 degrees."""
    return _invert(wgs84_to_bd09, lon, lat)


_TO_WGS84 = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


def to_wgs84(geometry: np.ndarray, coord_system: CoordSystem) -> np.ndarray:
    """Convert an array of shapely geometries in GCJ-02 or BD-09 degrees to WGS84 degrees.

    ``"wgs84"`` returns the input unchanged.  Every vertex is converted in one vectorised call.
    """
    if coord_system == "wgs84":
        return geometry
    try:
        convert = _TO_WGS84[coord_system]
    except KeyError:
        raise InputError(
            f"unknown coordinate system {coord_system!r}.",
            fix='use coord_system = "wgs84", "gcj02" (Amap/Tencent) or "bd09" (Baidu).',
        ) from None

    def _apply(coords: np.ndarray) -> np.ndarray:
        lon, lat = convert(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    converted: np.ndarray = shapely.transform(np.asarray(geometry, dtype=object), _apply)
    return converted


# --- sanity checks on coordinates --------------------------------------------------------------


def check_lonlat(
    bounds: tuple[float, float, float, float] | np.ndarray, crs: Any, where: str
) -> None:
    """Raise :class:`InputError` if a layer's coordinates contradict its CRS.

    Catches the three mistakes seen in practice: latitude and longitude swapped (for example
    ``lat = 112`` in China), projected metres in a layer declared as degrees, and degrees in a
    layer declared as a projected CRS.

    Parameters
    ----------
    bounds
        ``(minx, miny, maxx, maxy)`` of the layer (``gdf.total_bounds``).
    crs
        The layer's CRS (anything :meth:`pyproj.CRS.from_user_input` accepts).
    where
        File or layer name for the message.
    """
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        return  # an empty layer: nothing to check
    crs = CRS.from_user_input(crs)
    span = f"x {minx:.6g}..{maxx:.6g}, y {miny:.6g}..{maxy:.6g}"
    if crs.is_geographic:
        # pyproj reports authority axis order; geopandas layers are always x=lon, y=lat.
        x_ok = -180.0 <= minx and maxx <= 180.0
        y_ok = -90.0 <= miny and maxy <= 90.0
        if x_ok and y_ok:
            return
        largest = max(abs(minx), abs(maxx), abs(miny), abs(maxy))
        if largest > 1000.0:
            raise InputError(
                f"coordinates ({span}) are far outside degrees, but the CRS {crs.to_string()} "
                "is geographic: these look like projected metres.",
                where=where,
                fix="declare the layer's real projected CRS (e.g. crs='EPSG:4547' for CGCS2000 "
                "CM 114°E, or the UTM zone) instead of a lon/lat CRS.",
            )
        if x_ok and -180.0 <= miny and maxy <= 180.0 and -90.0 <= minx and maxx <= 90.0:
            raise InputError(
                f"latitudes reach {max(abs(miny), abs(maxy)):.6g}, beyond ±90, while the "
                f"longitudes ({minx:.6g}..{maxx:.6g}) would be valid latitudes: longitude and "
                "latitude look swapped.",
                where=where,
                fix="swap the x and y (lon/lat) columns, or declare them the other way round.",
            )
        raise InputError(
            f"coordinates ({span}) are outside ±180° longitude / ±90° latitude.",
            where=where,
            fix="check the declared CRS and the coordinate columns.",
        )
    if crs.is_projected and crs.area_of_use is not None:
        _check_area_of_use(minx, miny, maxx, maxy, crs, span, where)


def _check_area_of_use(
    minx: float, miny: float, maxx: float, maxy: float, crs: CRS, span: str, where: str
) -> None:
    # A projected layer must land, once unprojected, near the area its CRS was defined for.
    # Degrees fed as metres land on the false origin (e.g. 0.0003°N for EPSG:4547), and a
    # CGCS2000 zone number prefixed to x lands thousands of km away.
    aou = crs.area_of_use
    if aou is None:
        return
    to_lonlat = Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = to_lonlat.transform((minx + maxx) / 2.0, (miny + maxy) / 2.0, errcheck=False)
    margin = 5.0
    inside = (
        math.isfinite(lon)
        and math.isfinite(lat)
        and aou.west - margin <= lon <= aou.east + margin
        and aou.south - margin <= lat <= aou.north + margin
    )
    if inside:
        return
    largest = max(abs(minx), abs(maxx), abs(miny), abs(maxy))
    if largest <= 180.0:
        raise InputError(
            f"coordinates ({span}) look like degrees, but the CRS {crs.to_string()} is "
            "projected (metres).",
            where=where,
            fix="declare crs='EPSG:4326' (or the geographic CRS the data is in).",
        )
    raise InputError(
        f"coordinates ({span}) fall outside the area where {crs.to_string()} ({crs.name}) is "
        f"defined ({aou.west:.1f}..{aou.east:.1f}°E, {aou.south:.1f}..{aou.north:.1f}°N).",
        where=where,
        fix="declare the layer's real CRS; for CGCS2000 Gauss-Krüger data, check whether x "
        "carries a zone-number prefix (e.g. x = 38xxxxxx needs EPSG:4526, not EPSG:4547).",
    )
