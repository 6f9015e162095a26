"""Raster criteria: zonal statistics of any GeoTIFF over parcels, and slope from a DEM.

Parcels are reprojected to the raster's CRS (the raster is never resampled).  A pixel belongs
to a parcel when its centre lies inside the parcel (GDAL's rasterisation rule), so a parcel's
statistic is computed from the raster's own values.  A parcel too small to contain any pixel
centre takes the value of the pixel under its representative point.  Nodata pixels are ignored;
a parcel with no valid pixel, or outside the raster, gets NaN.

The raster is read in strips of rows (bounded memory, any raster size); per strip the parcels
are burnt into a label grid with :func:`rasterio.features.rasterize`, and the statistics are
accumulated with ``numpy.bincount``: no Python loop per parcel or pixel.  Where parcels overlap,
a pixel centre covered by several parcels counts for each of them (found with an STRtree query
on just those pixels).

Slope uses Horn's (1981) 3 x 3 method, as ``gdaldem slope`` does, with horizontal pixel sizes in
metres: from the CRS's linear unit for projected rasters, from the WGS84 ellipsoid's local radii
of curvature per row for geographic (lon/lat) rasters.  Edge pixels of the raster are computed by
linear extrapolation (so a plane keeps its slope up to the edge); a pixel next to nodata has no
slope.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from pyproj import CRS
from rasterio.enums import MergeAlg
from rasterio.features import rasterize
from rasterio.transform import Affine
from rasterio.windows import Window

from siteplan.core.errors import InputError

Stat = Literal["mean", "min", "max", "share_above"]
STATS: tuple[Stat, ...] = ("mean", "min", "max", "share_above")
SlopeUnits = Literal["percent", "degrees"]

# WGS84 ellipsoid, for metres per degree on geographic rasters.
_WGS84_A = 6378137.0
_WGS84_E2 = 0.00669437999014

# Rows per strip: bounds memory to a few strips of (rows x raster width) float64 arrays.
STRIP_ROWS = 1024

# A pixel function maps a strip (with ``halo`` extra rows/columns on each side) to values for
# the strip without the halo; it also gets the strip's transform and the raster's CRS.
PixelFn = Callable[[np.ndarray, Affine, CRS], np.ndarray]


@dataclass
class _Acc:
    """Per-parcel accumulators across strips."""

    n: int

    def __post_init__(self) -> None:
        self.count = np.zeros(self.n)
        self.total = np.zeros(self.n)
        self.above = np.zeros(self.n)
        self.low = np.full(self.n, np.inf)
        self.high = np.full(self.n, -np.inf)
        self.point = np.full(self.n, np.nan)

    def add(self, owner: np.ndarray, values: np.ndarray, threshold: float | None) -> None:
        ok = np.isfinite(values)
        owner, values = owner[ok], values[ok]
        if owner.size == 0:
            return
        self.count += np.bincount(owner, minlength=self.n)
        self.total += np.bincount(owner, weights=values, minlength=self.n)
        if threshold is not None:
            self.above += np.bincount(owner, weights=(values > threshold).astype(float),
                                      minlength=self.n)
        np.minimum.at(self.low, owner, values)
        np.maximum.at(self.high, owner, values)

    def result(self, stat: Stat, threshold: float | None) -> np.ndarray:
        has = self.count > 0
        safe = np.where(has, self.count, 1.0)
        if stat == "mean":
            out = self.total / safe
        elif stat == "min":
            out = self.low
        elif stat == "max":
            out = self.high
        else:
            out = self.above / safe
        out = np.where(has, out, np.nan)
        # Parcels without a pixel centre: the pixel under their representative point.
        fallback = self.point
        if stat == "share_above":
            fallback = np.where(np.isfinite(self.point),
                                (self.point > (threshold if threshold is not None else np.inf))
                                .astype(float), np.nan)
        return np.where(has, out, fallback)


def _open(path: str | Path) -> rasterio.io.DatasetReader:
    p = Path(path)
    if not p.is_file():
        raise InputError("the raster file does not exist.", where=str(p),
                         fix="check the path under [inputs.rasters] (relative to the study file).")
    try:
        return rasterio.open(p)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"cannot read the raster ({exc}).", where=str(p),
                         fix="give a GeoTIFF (or any raster GDAL reads).") from exc


def _check(src: rasterio.io.DatasetReader, band: int, where: str) -> CRS:
    if src.crs is None:
        raise InputError("the raster has no CRS.", where=where,
                         fix="assign one, e.g. gdal_edit.py -a_srs EPSG:4326 file.tif.")
    if not 1 <= band <= src.count:
        raise InputError(f"band {band} does not exist (the raster has {src.count}).",
                         where=where, fix=f"use band = 1..{src.count}.")
    t = src.transform
    if t.b != 0 or t.d != 0:
        raise InputError("the raster is rotated or sheared.", where=where,
                         fix="warp it to a north-up grid first (gdalwarp).")
    return CRS.from_user_input(src.crs.to_wkt())


def _read_strip(src: rasterio.io.DatasetReader, band: int, win: Window, halo: int) -> np.ndarray:
    """Read ``win`` grown by ``halo`` pixels on every side, as float with NaN for nodata.

    Cells beyond the raster's edge are filled by linear (odd-reflection) extrapolation.
    """
    r0, c0 = int(win.row_off) - halo, int(win.col_off) - halo
    r1, c1 = int(win.row_off + win.height) + halo, int(win.col_off + win.width) + halo
    rr0, cc0 = max(r0, 0), max(c0, 0)
    rr1, cc1 = min(r1, src.height), min(c1, src.width)
    data = src.read(band, window=Window(cc0, rr0, cc1 - cc0, rr1 - rr0), masked=True)
    arr = np.ma.filled(data.astype(float), np.nan)
    pads = [(rr0 - r0, r1 - rr1), (cc0 - c0, c1 - cc1)]
    if any(p for pair in pads for p in pair):
        if min(arr.shape) >= 2:
            arr = np.pad(arr, pads, mode="reflect", reflect_type="odd")
        else:
            arr = np.pad(arr, pads, mode="edge")
    return arr


def _to_pixel(t: Affine, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fractional (column, row) of map coordinates on a north-up grid."""
    return (x - t.c) / t.a, (y - t.f) / t.e


def _parcel_window(src: rasterio.io.DatasetReader, bounds: np.ndarray) -> Window | None:
    """Pixel window covering ``bounds`` (minx, miny, maxx, maxy), clipped to the raster."""
    cols, rows = _to_pixel(src.transform, np.array([bounds[0], bounds[2]]),
                           np.array([bounds[3], bounds[1]]))
    c0, c1 = math.floor(min(cols)), math.ceil(max(cols))
    r0, r1 = math.floor(min(rows)), math.ceil(max(rows))
    c0, r0 = max(c0, 0), max(r0, 0)
    c1, r1 = min(c1, src.width), min(r1, src.height)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def _zonal(
    parcels: gpd.GeoDataFrame | gpd.GeoSeries,
    path: str | Path,
    stat: Stat,
    threshold: float | None,
    band: int,
    pixel_fn: PixelFn | None,
    halo: int,
    strip_rows: int,
) -> np.ndarray:
    if stat not in STATS:
        raise InputError(f"unknown zonal statistic {stat!r}.", where=str(path),
                         fix=f"use one of {', '.join(STATS)}.")
    if stat == "share_above" and threshold is None:
        raise InputError("share_above needs a threshold.", where=str(path),
                         fix="give threshold = <value>.")
    if parcels.crs is None:
        raise InputError("the parcels have no CRS.", where="parcels",
                         fix="declare it before computing raster statistics.")
    n = len(parcels)
    acc = _Acc(n)
    with _open(path) as src:
        crs = _check(src, band, str(path))
        geoms = np.asarray(parcels.to_crs(crs).geometry.values, dtype=object)
        valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if not valid.any():
            return np.full(n, np.nan)
        win = _parcel_window(src, shapely.total_bounds(geoms[valid]))
        if win is None:
            return np.full(n, np.nan)
        tree = shapely.STRtree(geoms)
        ids = np.arange(n)
        rep = shapely.get_coordinates(shapely.point_on_surface(geoms[valid]))
        rep_ids = ids[valid]
        rep_col, rep_row = _to_pixel(src.transform, rep[:, 0], rep[:, 1])
        rep_col, rep_row = np.floor(rep_col).astype(np.int64), np.floor(rep_row).astype(np.int64)
        row_end = int(win.row_off + win.height)
        for r in range(int(win.row_off), row_end, strip_rows):
            strip = Window(win.col_off, r, win.width, min(strip_rows, row_end - r))
            raw = _read_strip(src, band, strip, halo)
            t = src.transform
            strip_t = Affine(t.a, 0.0, t.c + int(strip.col_off) * t.a,
                             0.0, t.e, t.f + int(strip.row_off) * t.e)
            values = pixel_fn(raw, strip_t, crs) if pixel_fn is not None else raw
            _accumulate(acc, values, strip_t, geoms, tree, threshold)
            # Representative-point values for parcels whose point falls in this strip.
            in_strip = ((rep_row >= strip.row_off) & (rep_row < strip.row_off + strip.height)
                        & (rep_col >= strip.col_off) & (rep_col < strip.col_off + strip.width))
            if in_strip.any():
                acc.point[rep_ids[in_strip]] = values[rep_row[in_strip] - int(strip.row_off),
                                                      rep_col[in_strip] - int(strip.col_off)]
    return acc.result(stat, threshold)


def _accumulate(acc: _Acc, values: np.ndarray, transform: Affine, geoms: np.ndarray,
                tree: shapely.STRtree, threshold: float | None) -> None:
    """Add one strip's pixels to the per-parcel accumulators."""
    h, w = values.shape
    x0, y0 = transform.c, transform.f
    x1, y1 = x0 + w * transform.a, y0 + h * transform.e
    box = shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    hit = tree.query(box, predicate="intersects")
    if hit.size == 0:
        return
    shapes = list(zip(geoms[hit], (hit + 1).tolist(), strict=True))
    label = rasterize(shapes, out_shape=(h, w), transform=transform, fill=0, dtype="int32")
    cover = rasterize(((g, 1) for g in geoms[hit]), out_shape=(h, w), transform=transform,
                      fill=0, dtype="int32", merge_alg=MergeAlg.add)
    single = cover == 1
    acc.add(label[single] - 1, values[single], threshold)
    multi_r, multi_c = np.nonzero(cover > 1)
    if multi_r.size:
        xs = transform.c + (multi_c + 0.5) * transform.a
        ys = transform.f + (multi_r + 0.5) * transform.e
        pix, owner = tree.query(shapely.points(xs, ys), predicate="within")
        acc.add(owner, values[multi_r[pix], multi_c[pix]], threshold)


def zonal_stats(
    parcels: gpd.GeoDataFrame | gpd.GeoSeries,
    path: str | Path,
    *,
    stat: Stat = "mean",
    threshold: float | None = None,
    band: int = 1,
    strip_rows: int = STRIP_ROWS,
) -> np.ndarray:
    """Compute a zonal statistic of a raster band over each parcel.

    Parameters
    ----------
    parcels
        Polygons with a CRS (reprojected to the raster's CRS).
    path
        Any raster GDAL reads (GeoTIFF...), north-up.
    stat
        ``"mean"``, ``"min"``, ``"max"``, or ``"share_above"``: the share (0-1) of the parcel's
        valid pixels whose value is ``> threshold``.
    threshold
        For ``"share_above"``.
    band
        1-based band number.
    strip_rows
        Rows read at a time (memory bound).

    Returns
    -------
    numpy.ndarray
        One float per parcel, in order; NaN where the parcel has no valid pixel.
    """
    return _zonal(parcels, path, stat, threshold, band, None, 0, strip_rows)


def pixel_size_m(transform: Affine, crs: CRS, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel width and height in metres for each of ``n_rows`` rows of a north-up grid.

    Projected CRS: the pixel size times the CRS's linear unit.  Geographic CRS: degrees times
    the WGS84 local radii of curvature at each row's centre latitude (prime vertical for
    east-west, meridional for north-south).
    """
    if crs.is_geographic:
        rows = np.arange(n_rows) + 0.5
        lat = np.radians(transform.f + transform.e * rows)
        s2 = np.sin(lat) ** 2
        n_radius = _WGS84_A / np.sqrt(1 - _WGS84_E2 * s2)
        m_radius = _WGS84_A * (1 - _WGS84_E2) / (1 - _WGS84_E2 * s2) ** 1.5
        dx = np.radians(abs(transform.a)) * n_radius * np.cos(lat)
        dy = np.radians(abs(transform.e)) * m_radius
        return dx, dy
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return (np.full(n_rows, abs(transform.a) * unit), np.full(n_rows, abs(transform.e) * unit))


def slope_grid(dem: np.ndarray, transform: Affine, crs: CRS, *, units: SlopeUnits = "percent",
               z_factor: float = 1.0) -> np.ndarray:
    """Horn's slope of a DEM that carries a one-pixel halo on every side.

    Parameters
    ----------
    dem
        ``(h + 2, w + 2)`` elevations (NaN for nodata), the halo included.
    transform
        Transform of the ``(h, w)`` interior.
    crs
        The DEM's CRS (for pixel sizes in metres).
    units
        ``"percent"`` (rise / run x 100) or ``"degrees"``.
    z_factor
        Multiplies elevations (0.3048 for feet over metres).

    Returns
    -------
    numpy.ndarray
        ``(h, w)`` slope; NaN where any of the 3 x 3 neighbours is nodata.
    """
    if units not in ("percent", "degrees"):
        raise InputError(f"unknown slope units {units!r}.", where="slope",
                         fix='use "percent" or "degrees".')
    z = dem * z_factor
    h = z.shape[0] - 2
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, hh, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dx, dy = pixel_size_m(transform, crs, h)
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8.0 * dx[:, None])
    dzdy = ((g + 2 * hh + i) - (a + 2 * b + c)) / (8.0 * dy[:, None])
    rise = np.hypot(dzdx, dzdy)
    return 100.0 * rise if units == "percent" else np.degrees(np.arctan(rise))


def zonal_slope(
    parcels: gpd.GeoDataFrame | gpd.GeoSeries,
    dem_path: str | Path,
    *,
    units: SlopeUnits = "percent",
    stat: Stat = "mean",
    threshold: float | None = None,
    z_factor: float = 1.0,
    band: int = 1,
    strip_rows: int = STRIP_ROWS,
) -> np.ndarray:
    """Compute a zonal statistic of the terrain slope (Horn) of a DEM over each parcel.

    Parameters
    ----------
    parcels
        Polygons with a CRS.
    dem_path
        Elevation raster (metres unless ``z_factor`` says otherwise).
    units
        ``"percent"`` or ``"degrees"``.
    stat, threshold
        As in :func:`zonal_stats`; e.g. ``stat="share_above", threshold=25`` is the share of
        the parcel steeper than 25 %.
    z_factor
        Multiplies elevations before the slope is computed.
    band, strip_rows
        As in :func:`zonal_stats`.

    Returns
    -------
    numpy.ndarray
        One float per parcel; NaN where no valid slope pixel.
    """
    if not (math.isfinite(z_factor) and z_factor > 0):
        raise InputError(f"z_factor must be a positive number, got {z_factor!r}.",
                         where=str(dem_path), fix="use 1 for a DEM in metres.")

    def fn(dem: np.ndarray, transform: Affine, crs: CRS) -> np.ndarray:
        return slope_grid(dem, transform, crs, units=units, z_factor=z_factor)

    return _zonal(parcels, dem_path, stat, threshold, band, fn, 1, strip_rows)


__all__ = ["STATS", "pixel_size_m", "slope_grid", "zonal_slope", "zonal_stats"]
