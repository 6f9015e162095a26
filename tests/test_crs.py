"""Metric CRS choice, GCJ-02 / BD-09 conversions, and coordinate sanity checks."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod

from siteplan.core.errors import InputError
from siteplan.io.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    check_lonlat,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    local_metric_crs,
    metric_crs_for_bounds,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


def _china_grid() -> tuple[np.ndarray, np.ndarray]:
    # Every 0.5 degree over mainland China's extent, plus the corners of the offset's domain.
    lon, lat = np.meshgrid(np.arange(73.5, 135.01, 0.5), np.arange(18.0, 53.51, 0.5))
    return lon.ravel(), lat.ravel()


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def test_gcj02_round_trip_across_china_is_under_2_m():
    lon, lat = _china_grid()
    assert lon.size == 124 * 72 and not out_of_china(lon, lat).any()
    glon, glat = wgs84_to_gcj02(lon, lat)
    shift = _metres(lon, lat, glon, glat)
    assert shift.min() > 1 and shift.max() < 1500  # the offset is real and bounded
    back = gcj02_to_wgs84(glon, glat)
    err = _metres(lon, lat, *back)
    assert err.max() < 2.0
    assert err.max() < 0.001  # the iteration converges far below the requirement


def test_bd09_round_trip_across_china_is_under_2_m():
    lon, lat = _china_grid()
    blon, blat = wgs84_to_bd09(lon, lat)
    assert _metres(lon, lat, blon, blat).min() > 100
    err = _metres(lon, lat, *bd09_to_wgs84(blon, blat))
    assert err.max() < 2.0
    glon, glat = wgs84_to_gcj02(lon, lat)
    err_gcj = _metres(glon, glat, *bd09_to_gcj02(*gcj02_to_bd09(glon, glat)))
    assert err_gcj.max() < 0.001


# Published test vectors of feiquan123/coordtransform-go (coordtransform_test.go) for the point
# (114.363089, 30.517411) in Wuhan.  Its forward formulas are the ones everybody publishes; its
# inverses are the usual one-step approximations, so ours (exact) may differ by up to ~1 m.
WUHAN = (114.363089, 30.517411)
FORWARD = {
    "wgs84_to_gcj02": (wgs84_to_gcj02, (114.36861383019243, 30.515078352018758)),
    "gcj02_to_bd09": (gcj02_to_bd09, (114.36951652929112, 30.523754384540837)),
    "wgs84_to_bd09": (wgs84_to_bd09, (114.3750500836037, 30.521392123098003)),
}
INVERSE = {
    "gcj02_to_wgs84": (gcj02_to_wgs84, wgs84_to_gcj02, (114.35756416980757, 30.51974364798124)),
    "bd09_to_gcj02": (bd09_to_gcj02, gcj02_to_bd09, (114.356659806424, 30.511068245460944)),
    "bd09_to_wgs84": (bd09_to_wgs84, wgs84_to_bd09, (114.35114337613005, 30.513412637358606)),
}


@pytest.mark.parametrize("name", FORWARD)
def test_forward_formulas_match_published_values(name):
    func, expected = FORWARD[name]
    got = np.asarray(func(*WUHAN), dtype=float)
    np.testing.assert_allclose(got, expected, atol=1e-9)


@pytest.mark.parametrize("name", INVERSE)
def test_inverses_match_published_values_within_2_m(name):
    inverse, forward, published = INVERSE[name]
    got = np.asarray(inverse(*WUHAN), dtype=float)
    assert _metres(*got, *published) < 2.0
    # And ours is the exact inverse: going forward again returns the input.
    np.testing.assert_allclose(np.asarray(forward(*got), dtype=float), WUHAN, atol=1e-9)


def test_outside_china_is_unchanged_and_geometries_convert():
    lon, lat = np.array([2.35, -74.0]), np.array([48.85, 40.7])
    np.testing.assert_array_equal(np.asarray(wgs84_to_gcj02(lon, lat)), [lon, lat])
    wgs = shapely.Polygon([(112.50, 37.80), (112.51, 37.80), (112.51, 37.81), (112.50, 37.80)])
    gcj = shapely.transform(wgs, lambda c: np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1])))
    back = to_wgs84(np.array([gcj, shapely.Point(*wgs84_to_bd09(112.5, 37.8))]), "gcj02")
    assert shapely.hausdorff_distance(back[0], wgs) < 1e-8
    bd_back = to_wgs84(np.array([shapely.Point(*wgs84_to_bd09(112.5, 37.8))]), "bd09")
    assert _metres(112.5, 37.8, bd_back[0].x, bd_back[0].y) < 0.01
    assert to_wgs84(np.array([wgs]), "wgs84")[0] is wgs
    with pytest.raises(InputError, match="unknown coordinate system"):
        to_wgs84(np.array([wgs]), "wgs72")  # type: ignore[arg-type]


def test_metric_crs_choice():
    assert local_metric_crs(112.55, 37.85).to_epsg() == 32649  # Taiyuan: UTM 49N
    assert local_metric_crs(112.55, 37.85, "cgcs2000").to_epsg() == 4547  # CM 114°E
    assert local_metric_crs(116.32, 40.0, "cgcs2000").to_epsg() == 4548  # Beijing: CM 117°E
    assert local_metric_crs(87.6, 43.8, "cgcs2000").to_epsg() == 4538  # Urumqi: CM 87°E
    assert local_metric_crs(-43.2, -22.9).to_epsg() == 32723  # Rio: UTM 23S
    gk = CRS.from_epsg(4547)
    params = {p.name: p.value for p in gk.coordinate_operation.params}
    assert "CGCS2000" in gk.name and params["Longitude of natural origin"] == 114
    assert metric_crs_for_bounds((112.44, 37.70, 112.69, 37.95), "cgcs2000").to_epsg() == 4547
    with pytest.raises(InputError, match="73.5°E-136.5°E"):
        local_metric_crs(2.35, 48.85, "cgcs2000")
    with pytest.raises(InputError, match="not valid degrees"):
        local_metric_crs(37.85, 112.55)
    with pytest.raises(InputError, match="unknown metric CRS kind"):
        local_metric_crs(112.5, 37.8, "gauss")  # type: ignore[arg-type]


def test_swapped_and_mislabelled_coordinates():
    with pytest.raises(InputError, match="swapped") as err:
        check_lonlat((37.70, 112.44, 37.95, 112.69), "EPSG:4326", "schools.csv")
    assert "schools.csv" in str(err.value) and "latitudes reach 112.69" in str(err.value)
    with pytest.raises(InputError, match="projected metres"):
        check_lonlat((500000, 4180000, 510000, 4190000), "EPSG:4326", "roads.shp")
    with pytest.raises(InputError, match="look like degrees"):
        check_lonlat((112.44, 37.70, 112.69, 37.95), "EPSG:4547", "roads.shp")
    with pytest.raises(InputError, match="zone-number prefix"):
        check_lonlat((38500000, 4180000, 38510000, 4190000), "EPSG:4547", "roads.shp")
    check_lonlat((112.44, 37.70, 112.69, 37.95), "EPSG:4326", "ok")
    check_lonlat((38500000, 4180000, 38510000, 4190000), "EPSG:4526", "ok")
    check_lonlat((np.nan,) * 4, "EPSG:4326", "empty")


# --- which projected CRS measures true metres ----------------------------------------------


def test_scale_error_of_local_and_web_mercator_crs():
    from siteplan.io.crs import scale_error

    taiyuan = (112.44, 37.70, 112.69, 37.95)
    assert scale_error("EPSG:32649", taiyuan) < 5e-4  # UTM 49N: inside its zone
    assert scale_error("EPSG:4547", taiyuan) < 5e-4  # CGCS2000 GK CM 114E
    # Web Mercator: k = 1 / cos(latitude), 27 % too long at Taiyuan.
    err = scale_error("EPSG:3857", taiyuan)
    assert err == pytest.approx(1 / np.cos(np.radians(37.95)) - 1, rel=1e-3)


def test_analysis_crs_keeps_local_metric_layers_and_replaces_web_mercator():
    import geopandas as gpd
    import shapely

    from siteplan.io.crs import analysis_crs

    pts = gpd.GeoSeries(shapely.points([[112.5, 37.8], [112.6, 37.9]]), crs=4326)
    assert analysis_crs(pts.to_crs(4547)).to_epsg() == 4547
    assert analysis_crs(pts.to_crs(3857)).to_epsg() == 32649
    assert analysis_crs(pts).to_epsg() == 32649
    assert analysis_crs(pts, "cgcs2000").to_epsg() == 4547  # CM 114E: nearest to 112.55E


def test_network_from_web_mercator_lines_measures_true_metres(taiyuan_lines):
    from siteplan.core.errors import NetworkError
    from siteplan.network.build import graph_from_lines

    utm = graph_from_lines(taiyuan_lines)
    merc = graph_from_lines(taiyuan_lines.to_crs(3857))
    assert merc.crs.to_epsg() == 32649
    assert merc.n_edges == utm.n_edges
    assert merc.edge_length.sum() == pytest.approx(utm.edge_length.sum(), rel=1e-6)
    with pytest.raises(NetworkError, match="distorts lengths"):
        graph_from_lines(taiyuan_lines, metric_crs="EPSG:3857")
