"""Raster criteria on GeoTIFFs the tests write: slope of known planes, zonal statistics of a
known ramp (pixel centres inside the parcel, per GDAL's rasterisation rule)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from pyproj import CRS
from rasterio.transform import from_origin

from siteplan.core.errors import InputError
from siteplan.io.raster import pixel_size_m, zonal_slope, zonal_stats

# UTM 49N coordinates near Taiyuan; 10 m pixels; 120 columns x 100 rows.
X0, Y0, PX = 500_000.0, 4_200_000.0, 10.0
W, H = 120, 100
UTM = "EPSG:32649"


def _write(path, data, *, crs=UTM, transform=None, nodata=-9999.0):
    transform = transform or from_origin(X0, Y0, PX, PX)
    with rasterio.open(path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1],
                       count=1, dtype="float64", crs=crs, transform=transform,
                       nodata=nodata) as dst:
        dst.write(data, 1)
    return path


@pytest.fixture(scope="module")
def rasters(tmp_path_factory):
    d = tmp_path_factory.mktemp("rasters")
    cols = np.arange(W, dtype=float)
    x_centre = (cols + 0.5) * PX
    # A plane rising 0.1 m per metre eastwards: a 10 % slope everywhere.
    plane_east = _write(d / "plane_east.tif", np.tile(0.1 * x_centre, (H, 1)))
    # A plane rising 3 m per 40 m along a diagonal: gradient (0.06, 0.045), |g| = 0.075.
    rows = np.arange(H, dtype=float)
    y_centre = (rows + 0.5) * PX
    diag = 0.06 * x_centre[None, :] - 0.045 * y_centre[:, None]
    plane_diag = _write(d / "plane_diag.tif", diag)
    # The column number as value: a ramp 0..119.
    ramp = np.tile(cols, (H, 1))
    ramp_path = _write(d / "ramp.tif", ramp)
    holed = ramp.copy()
    holed[:, 10:12] = -9999.0  # nodata in columns 10 and 11
    holed_path = _write(d / "ramp_nodata.tif", holed)
    return {"plane_east": plane_east, "plane_diag": plane_diag, "ramp": ramp_path,
            "holed": holed_path, "dir": d}


def _parcels(*boxes, crs=UTM) -> gpd.GeoDataFrame:
    """Boxes in pixel units (col0, row0, col1, row1) from the raster's top-left corner."""
    geoms = [shapely.box(X0 + c0 * PX, Y0 - r1 * PX, X0 + c1 * PX, Y0 - r0 * PX)
             for c0, r0, c1, r1 in boxes]
    return gpd.GeoDataFrame({"parcel_id": [f"p{i}" for i in range(len(geoms))]},
                            geometry=geoms, crs=crs)


def test_plane_of_ten_percent_slope(rasters):
    # Interior block, a block on the raster's edge (extrapolated halo), the whole raster.
    parcels = _parcels((20, 20, 40, 40), (0, 0, 15, 10), (0, 0, W, H))
    np.testing.assert_allclose(zonal_slope(parcels, rasters["plane_east"]), [10, 10, 10])
    np.testing.assert_allclose(zonal_slope(parcels, rasters["plane_east"], stat="max"),
                               [10, 10, 10])
    deg = zonal_slope(parcels, rasters["plane_east"], units="degrees")
    np.testing.assert_allclose(deg, math.degrees(math.atan(0.1)))


def test_diagonal_plane_and_z_factor(rasters):
    parcels = _parcels((30, 30, 50, 60))
    np.testing.assert_allclose(zonal_slope(parcels, rasters["plane_diag"]), [7.5])
    # Elevations in feet: 0.075 x 0.3048 = 2.286 %.
    np.testing.assert_allclose(zonal_slope(parcels, rasters["plane_diag"], z_factor=0.3048),
                               [7.5 * 0.3048])


def test_slope_share_above_threshold(rasters):
    parcels = _parcels((20, 20, 40, 40))
    assert zonal_slope(parcels, rasters["plane_east"], stat="share_above", threshold=9.9)[0] == 1
    assert zonal_slope(parcels, rasters["plane_east"], stat="share_above", threshold=10.1)[0] == 0


def test_slope_on_a_lonlat_dem(tmp_path):
    # A DEM in EPSG:4326 rising 0.1 m per metre northwards: with the ellipsoid's meridional
    # radius of curvature for the pixel height, the slope is 10 %.
    lat0, dlat = 37.9, 0.0001
    rows = np.arange(60) + 0.5
    lat = np.radians(lat0 - rows * dlat)
    a, e2 = 6378137.0, 0.00669437999014
    m = a * (1 - e2) / (1 - e2 * np.sin(lat) ** 2) ** 1.5
    # Northing in metres of each row centre, integrated from the top row.
    north = -np.concatenate([[0.0], np.cumsum(np.radians(dlat) * (m[:-1] + m[1:]) / 2)])
    dem = np.tile(0.1 * north[:, None], (1, 50))
    path = _write(tmp_path / "geo.tif", dem, crs="EPSG:4326",
                  transform=from_origin(112.5, lat0, dlat, dlat))
    box = shapely.box(112.501, lat0 - 0.004, 112.503, lat0 - 0.001)
    parcel = gpd.GeoDataFrame(geometry=[box], crs=4326)
    assert zonal_slope(parcel, path)[0] == pytest.approx(10.0, abs=1e-3)
    dx, dy = pixel_size_m(from_origin(112.5, lat0, dlat, dlat), CRS.from_epsg(4326), 1)
    # 0.0001° of latitude ~ 11.1 m; of longitude at 37.9°N ~ 8.8 m.
    assert 11.0 < dy[0] < 11.1 and 8.7 < dx[0] < 8.9


def test_zonal_mean_of_a_ramp(rasters):
    parcels = _parcels((10, 0, 20, 10), (0, 0, W, H), (15, 5, 25, 30))
    # Columns 10..19 -> mean 14.5; the whole raster 0..119 -> 59.5; columns 15..24 -> 19.5.
    np.testing.assert_allclose(zonal_stats(parcels, rasters["ramp"]), [14.5, 59.5, 19.5])
    np.testing.assert_allclose(zonal_stats(parcels, rasters["ramp"], stat="max"), [19, 119, 24])
    np.testing.assert_allclose(zonal_stats(parcels, rasters["ramp"], stat="min"), [10, 0, 15])
    # Share of columns 10..19 above 14: 15..19, half of them.
    share = zonal_stats(parcels, rasters["ramp"], stat="share_above", threshold=14)
    np.testing.assert_allclose(share, [0.5, 105 / 120, 1.0])


def test_overlapping_parcels_both_get_their_pixels(rasters):
    parcels = _parcels((10, 0, 20, 10), (15, 0, 25, 10))
    # The overlap (columns 15..19) counts for both parcels.
    np.testing.assert_allclose(zonal_stats(parcels, rasters["ramp"]), [14.5, 19.5])


def test_nodata_is_ignored(rasters):
    parcels = _parcels((10, 0, 20, 10), (10, 0, 12, 5))
    # Columns 12..19 remain: mean 15.5; the second parcel has only nodata: NaN.
    got = zonal_stats(parcels, rasters["holed"])
    assert got[0] == pytest.approx(15.5) and np.isnan(got[1])


def test_small_parcel_uses_the_pixel_under_it_and_outside_is_nan(rasters):
    tiny = shapely.box(X0 + 101, Y0 - 109, X0 + 104, Y0 - 101)  # inside pixel column 10
    outside = shapely.box(X0 + 5000, Y0, X0 + 6000, Y0 + 100)
    parcels = gpd.GeoDataFrame(geometry=[tiny, outside, None], crs=UTM)
    got = zonal_stats(parcels, rasters["ramp"])
    assert got[0] == 10 and np.isnan(got[1]) and np.isnan(got[2])


def test_parcels_are_reprojected_to_the_raster(rasters):
    parcels = _parcels((10, 0, 20, 10), (40, 40, 70, 80))
    utm = zonal_stats(parcels, rasters["ramp"])
    lonlat = zonal_stats(parcels.to_crs(4326), rasters["ramp"])
    np.testing.assert_allclose(lonlat, utm)


def test_strips_give_the_same_answer(rasters):
    parcels = _parcels((10, 0, 20, 10), (0, 0, W, H), (33, 47, 61, 99))
    whole = zonal_slope(parcels, rasters["plane_diag"])
    strips = zonal_slope(parcels, rasters["plane_diag"], strip_rows=7)
    np.testing.assert_allclose(strips, whole)
    np.testing.assert_allclose(zonal_stats(parcels, rasters["ramp"], strip_rows=3),
                               zonal_stats(parcels, rasters["ramp"]))


def test_errors(rasters, tmp_path):
    parcels = _parcels((10, 0, 20, 10))
    with pytest.raises(InputError, match="does not exist"):
        zonal_stats(parcels, tmp_path / "missing.tif")
    (tmp_path / "junk.tif").write_bytes(b"not a raster")
    with pytest.raises(InputError, match="cannot read"):
        zonal_stats(parcels, tmp_path / "junk.tif")
    no_crs = _write(tmp_path / "nocrs.tif", np.zeros((5, 5)), crs=None)
    with pytest.raises(InputError, match="no CRS"):
        zonal_stats(parcels, no_crs)
    with pytest.raises(InputError, match="band 2"):
        zonal_stats(parcels, rasters["ramp"], band=2)
    with pytest.raises(InputError, match="threshold"):
        zonal_stats(parcels, rasters["ramp"], stat="share_above")
    with pytest.raises(InputError, match="no CRS"):
        zonal_stats(parcels.set_crs(None, allow_override=True), rasters["ramp"])
