"""Reading input layers: encodings, CRS checks, CSV coordinates, repairs and clear errors."""

from __future__ import annotations

import hashlib
import os
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.io.crs import wgs84_to_bd09
from siteplan.io.layers import read_layer, repair_geometries, split_by_geometry_type

NAMES = ["太原市第五十一中学校", "八一小学", "山西省儿童医院妇幼保健院"]


@pytest.fixture()
def gbk_shapefile(tmp_path):
    """A Shapefile whose DBF text is GBK bytes, as Chinese desktop GIS writes it."""
    path = tmp_path / "学校.shp"
    gpd.GeoDataFrame({"name": NAMES, "kind": ["初中", "小学", "医院"]},
                     geometry=[Point(112.55 + i / 100, 37.85) for i in range(3)],
                     crs="EPSG:4326").to_file(path, encoding="gbk", engine="pyogrio")
    dbf = path.with_suffix(".dbf").read_bytes()
    assert "八一小学".encode("gbk") in dbf and "八一小学".encode() not in dbf
    return path


def test_gbk_shapefile_through_cpg(gbk_shapefile):
    assert gbk_shapefile.with_suffix(".cpg").read_text().strip().upper() == "GBK"
    with warnings.catch_warnings():
        warnings.simplefilter("error", SiteplanWarning)
        gdf = read_layer(gbk_shapefile)
    assert gdf["name"].tolist() == NAMES


def test_gbk_shapefile_declared_or_garbled(gbk_shapefile):
    gbk_shapefile.with_suffix(".cpg").unlink()
    assert read_layer(gbk_shapefile, encoding="gbk")["name"].tolist() == NAMES
    assert read_layer(gbk_shapefile, encoding="gb18030")["name"].tolist() == NAMES
    with pytest.warns(SiteplanWarning, match=r'looks garbled.*reads as .*GBK.*encoding="gbk"'):
        garbled = read_layer(gbk_shapefile)
    assert garbled["name"].tolist() != NAMES
    with pytest.raises(InputError, match="unknown text encoding"):
        read_layer(gbk_shapefile, encoding="no-such-codec")


def test_missing_unreadable_and_empty_files(tmp_path, monkeypatch):
    (tmp_path / "roads_2023.gpkg").write_bytes(b"")
    with pytest.raises(InputError, match="file not found.*roads_2023.gpkg") as err:
        read_layer(tmp_path / "roads.gpkg")
    assert str(tmp_path / "roads.gpkg") in str(err.value) and "Fix:" in str(err.value)
    with pytest.raises(InputError, match="0 bytes"):
        read_layer(tmp_path / "roads_2023.gpkg")
    with pytest.raises(InputError, match="is a folder"):
        read_layer(tmp_path)
    corrupt = tmp_path / "parcels.gpkg"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(InputError, match="cannot be read"):
        read_layer(corrupt)
    truncated = tmp_path / "lines.geojson"
    truncated.write_text('{"type": "FeatureCollection", "features": [{"type": "Fea')
    with pytest.raises(InputError, match="cannot be read"):
        read_layer(truncated)
    # We run as root, so the permission check is exercised through os.access itself.
    ok = tmp_path / "ok.csv"
    ok.write_text("lon,lat\n112.5,37.8\n")
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(InputError, match="permission denied"):
        read_layer(ok)


def test_layers_in_a_multi_layer_file(tmp_path):
    path = tmp_path / "city.gpkg"
    pts = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(112.5, 37.8)], crs=4326)
    pts.to_file(path, layer="schools")
    pts.to_file(path, layer="hospitals")
    with pytest.raises(InputError, match=r"2 layers \('schools', 'hospitals'\)"):
        read_layer(path)
    with pytest.raises(InputError, match="has no layer 'roads'"):
        read_layer(path, layer="roads")
    assert len(read_layer(path, layer="hospitals")) == 1


def test_missing_crs_is_an_error_unless_declared(tmp_path):
    path = tmp_path / "roads.shp"
    gpd.GeoDataFrame({"highway": ["residential"]},
                     geometry=[LineString([(500000, 4190000), (500100, 4190000)])],
                     crs="EPSG:4547").to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputError, match="has no CRS") as err:
        read_layer(path)
    assert "EPSG:4547" in str(err.value) and str(path) in str(err.value)
    assert read_layer(path, crs="EPSG:4547").crs.to_epsg() == 4547
    degrees = _write_points(tmp_path / "deg.shp", crs=None)  # lon/lat, no .prj
    with pytest.raises(InputError, match="look like degrees"):
        read_layer(degrees, crs="EPSG:4547")
    assert read_layer(degrees, crs="EPSG:4326").geometry.x.iloc[0] == 112.5
    with pytest.raises(InputError, match="not a CRS pyproj understands"):
        read_layer(path, crs="EPSG:999999")


def _write_points(path, crs="EPSG:4326"):
    gdf = gpd.GeoDataFrame({"n": [1]}, geometry=[Point(112.5, 37.8)], crs=crs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        gdf.to_file(path)
    return path


def test_declared_crs_overrides_file_with_a_warning(tmp_path):
    path = _write_points(tmp_path / "p.gpkg", crs="EPSG:4326")
    with pytest.warns(SiteplanWarning, match="declared; using the declared CRS"):
        gdf = read_layer(path, crs="EPSG:4490")
    assert gdf.crs.to_epsg() == 4490


def test_csv_coordinates(tmp_path):
    zh = tmp_path / "医院.csv"
    pd.DataFrame({"名称": ["甲", "乙"], "经度": [112.55, 112.56], "纬度": [37.85, 37.86]}).to_csv(
        zh, index=False, encoding="gbk")
    with pytest.raises(InputError, match="is not UTF-8 text") as err:
        read_layer(zh)
    assert 'encoding="gbk"' in str(err.value)
    gdf = read_layer(zh, encoding="gbk")
    assert gdf["名称"].tolist() == ["甲", "乙"] and gdf.crs.to_epsg() == 4326
    np.testing.assert_allclose(gdf.geometry.x, [112.55, 112.56])

    xy = tmp_path / "xy.csv"
    pd.DataFrame({"x": [500000.0], "y": [4190000.0]}).to_csv(xy, index=False)
    with pytest.raises(InputError, match="degrees or metres"):
        read_layer(xy)
    assert read_layer(xy, crs="EPSG:4547").crs.to_epsg() == 4547

    bad = tmp_path / "bad.csv"
    pd.DataFrame({"lon": ["112.5", "112°33'", "112.7"], "lat": ["37.8", "37.9", "x"]}).to_csv(
        bad, index=False)
    with pytest.raises(InputError, match=r"2 row\(s\) have non-numeric.*lines \[3, 4\]"):
        read_layer(bad)

    custom = tmp_path / "custom.csv"
    pd.DataFrame({"E": [112.5], "N": [37.8]}).to_csv(custom, index=False)
    with pytest.raises(InputError, match="no longitude column found"):
        read_layer(custom)
    got = read_layer(custom, lon_column="E", lat_column="N", crs="EPSG:4326")
    assert (got.geometry.x.iloc[0], got.geometry.y.iloc[0]) == (112.5, 37.8)
    with pytest.raises(InputError, match="has no column 'lng'"):
        read_layer(custom, lon_column="lng", lat_column="N")


def test_swapped_lonlat_in_a_csv(tmp_path):
    path = tmp_path / "schools.csv"
    pd.DataFrame({"name": ["a", "b"], "lon": [37.85, 37.86], "lat": [112.55, 112.56]}).to_csv(
        path, index=False)
    with pytest.raises(InputError, match="look swapped") as err:
        read_layer(path)
    assert str(path) in str(err.value) and "latitudes reach 112.56" in str(err.value)


def test_bd09_csv_is_converted_and_projected_layers_refuse(tmp_path):
    lon, lat = 112.5495, 37.8571
    blon, blat = wgs84_to_bd09(lon, lat)
    path = tmp_path / "baidu.csv"
    pd.DataFrame({"lng": [blon], "lat": [blat]}).to_csv(path, index=False)
    gdf = read_layer(path, coord_system="bd09")
    assert abs(gdf.geometry.x.iloc[0] - lon) < 1e-7 and abs(gdf.geometry.y.iloc[0] - lat) < 1e-7
    proj = tmp_path / "m.gpkg"
    gpd.GeoDataFrame(geometry=[Point(500000, 4190000)], crs="EPSG:4547").to_file(proj)
    with pytest.raises(InputError, match="applies to longitude/latitude layers"):
        read_layer(proj, coord_system="gcj02")


def test_invalid_geometries_are_repaired_and_empty_ones_dropped(tmp_path):
    bowtie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    spike = Polygon([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0), (-5, -5), (0, 0)])
    good = Polygon([(20, 0), (30, 0), (30, 10), (20, 0)])
    gdf = gpd.GeoDataFrame(
        {"id": [0, 1, 2, 3, 4]},
        geometry=[bowtie, good, Polygon(), None, spike], crs="EPSG:4547",
    )
    assert (~gdf.geometry.is_valid).sum() >= 2
    with pytest.warns(SiteplanWarning, match="repaired 2 invalid geometries.*dropped 2 empty"):
        fixed, counts = repair_geometries(gdf, "parcels.gpkg")
    assert counts == {"repaired": 2, "dropped_empty": 2}
    assert fixed["id"].tolist() == [0, 1, 4]  # positions stay traceable
    assert fixed.geometry.is_valid.all()
    assert set(fixed.geom_type) <= {"Polygon", "MultiPolygon"}  # the spike's line is dropped
    assert fixed.geometry.iloc[0].area == pytest.approx(bowtie.buffer(0).area + 50, rel=0.5)
    assert fixed.geometry.iloc[2].area == pytest.approx(100)

    path = tmp_path / "parcels.gpkg"
    shifted = gdf.iloc[[0, 1, 4]].copy()
    shifted.geometry = shifted.geometry.translate(500000, 4190000)  # into EPSG:4547's area
    shifted.to_file(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.warns(SiteplanWarning, match="repaired 2"):
        read = read_layer(path, crs=None)
    assert read.attrs["siteplan_repairs"] == {"repaired": 2, "dropped_empty": 0}
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # inputs never written


def test_collapsed_lines_are_dropped():
    gdf = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (0, 0)]), LineString([(0, 0), (1, 0)])],
                           crs="EPSG:4547")
    with pytest.warns(SiteplanWarning, match="dropped 1 empty"):
        fixed, counts = repair_geometries(gdf, "roads")
    assert len(fixed) == 1 and counts["dropped_empty"] == 1


def test_split_by_geometry_type():
    gdf = gpd.GeoDataFrame(
        {"n": [0, 1, 2]},
        geometry=[Point(0, 0), shapely.GeometryCollection([LineString([(0, 0), (1, 1)]),
                                                           Point(2, 2)]),
                  Polygon([(0, 0), (1, 0), (1, 1)])], crs="EPSG:4547")
    parts = split_by_geometry_type(gdf)
    assert {k: v["n"].tolist() for k, v in parts.items()} == {
        "points": [0, 1], "lines": [1], "polygons": [2]}
