"""Transport proxies for data sets without bus stops or metro stations."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString

from siteplan.facilities.proxies import transport_proxies


def test_taiyuan_proxies_are_labelled_and_dense(taiyuan_lines):
    proxies = transport_proxies(taiyuan_lines, spacing_m=100)
    assert set(proxies["class"]) == {"bus_corridor", "metro_line"}
    assert proxies["source"].str.startswith("proxy:").all()
    assert proxies["facility_id"].is_unique
    # Line 1 was only proposed in the extract: no proxy points on it.
    line1 = taiyuan_lines[taiyuan_lines["osm_id"] == "421616944"].to_crs(32649).geometry
    metro = proxies[proxies["class"] == "metro_line"].to_crs(32649)
    near_line1 = metro.distance(line1.iloc[0]) < 1
    line2 = taiyuan_lines[taiyuan_lines["osm_id"] == "420346019"].to_crs(32649).geometry.iloc[0]
    on_line2 = metro.distance(line2) < 1
    short = taiyuan_lines[taiyuan_lines["osm_id"] == "993878317"].to_crs(32649).geometry.iloc[0]
    on_short = metro.distance(short) < 1
    assert on_line2.sum() >= line2.length / 100
    assert not (near_line1 & ~on_line2 & ~on_short).any()
    assert (on_line2 | on_short).all()


def test_spacing_is_respected():
    line = LineString([(0, 0), (1000, 0)])
    lines = gpd.GeoDataFrame({"highway": ["primary"], "osm_id": ["1"], "name": ["x"]},
                             geometry=[line], crs="EPSG:32649")
    pts = transport_proxies(lines, spacing_m=100).to_crs(32649)
    xs = np.sort(shapely.get_coordinates(pts.geometry.values)[:, 0])
    assert np.isclose(xs[0], 0, atol=1e-6) and np.isclose(xs[-1], 1000)
    assert np.diff(xs).max() <= 100 + 1e-6
    assert len(pts) == 11
