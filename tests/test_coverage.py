"""Coverage and blind spots on the real Taiyuan data, against city-wide references.

The engine builds the street-frontage ceiling, the blind spots and the per-class coverage from
small local unions; the references here are the plain city-wide unions and overlays.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from siteplan.access.catchments import catchments
from siteplan.access.coverage import blind_spots, class_coverage, coverage, street_zone
from siteplan.facilities.classify import residential_land

RADII = {"kindergarten": 300.0, "primary_school": 500.0, "middle_school": 1000.0}


@pytest.fixture(scope="module")
def case(taiyuan_network, taiyuan_polygons):
    net = taiyuan_network
    res = residential_land(taiyuan_polygons).to_crs(net.crs)
    rng = np.random.default_rng(8)
    xy = net.node_xy[rng.choice(net.n_nodes, 60, replace=False)] + rng.normal(0, 50, (60, 2))
    fac = gpd.GeoDataFrame({"facility_id": [f"f{i:02d}" for i in range(60)],
                            "class": np.array(list(RADII))[np.arange(60) % 3]},
                           geometry=shapely.points(xy), crs=net.crs)
    assert len(res) > 50
    return net, res, fac


def test_frontage_ceiling_equals_the_city_wide_street_zone(case):
    net, res, fac = case
    polys = catchments(net, fac, RADII, mode="dissolve")
    table = coverage(polys, res, network=net, frontage_m=30.0)
    land = shapely.union_all(np.asarray(res.geometry.values))
    expected = shapely.area(shapely.intersection(street_zone(net, 30.0), land))
    assert 0.2 * land.area < expected < land.area
    np.testing.assert_allclose(table["frontage_m2"], expected, rtol=1e-9)
    np.testing.assert_allclose(table["covered_share_of_frontage"],
                               table["covered_m2"] / expected, rtol=1e-9)


@pytest.mark.parametrize("mode", ["dissolve", "overlap"])
def test_blind_spots_equal_plain_differences(case, mode):
    """Each residential polygon minus its class's whole catchment, done the plain way."""
    net, res, fac = case
    polys = catchments(net, fac, RADII, mode=mode)
    spots = blind_spots(polys, res, classes=[*sorted(RADII), "hospital"], min_area_m2=100.0)
    land = np.asarray(res.geometry.values)
    rows = []
    for cls in [*sorted(RADII), "hospital"]:
        area = shapely.union_all(polys.geometry.values[polys["class"].to_numpy() == cls])
        left = shapely.difference(land, area)
        keep = shapely.area(left) >= 100.0
        rows += [(cls, i, g) for i, g in zip(res.index[keep], left[keep], strict=True)]
    assert [(c, i) for c, i, _ in rows] == list(zip(spots["class"], spots["residential_id"],
                                                    strict=True))
    expected = shapely.area(np.array([g for *_, g in rows]))
    np.testing.assert_allclose(spots["area_m2"], expected, rtol=1e-9)
    sym = shapely.area(shapely.symmetric_difference(spots.geometry.values,
                                                    np.array([g for *_, g in rows])))
    assert sym.max() < 1e-4  # m², rounding only
    hospital = spots[spots["class"] == "hospital"]  # no catchment: all residential land
    np.testing.assert_allclose(hospital["area_m2"].sum(), shapely.area(land).sum(), rtol=1e-12)
    assert spots["name"].notna().any()


def _points_near_frontage_edge(net, n, seed):
    """Points 29.5-30.5 m off the middle of random edges: on the rim of a 30 m frontage."""
    rng = np.random.default_rng(seed)
    edges = net.edge_geometry[rng.choice(net.n_edges, n)]
    mid = shapely.line_interpolate_point(edges, 0.5, normalized=True)
    ahead = shapely.line_interpolate_point(edges, 0.5 + 1e-3, normalized=True)
    d = shapely.get_coordinates(ahead) - shapely.get_coordinates(mid)
    normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.hypot(*d.T)[:, None]
    return shapely.get_coordinates(mid) + normal * rng.uniform(29.5, 30.5, (n, 1))


def test_class_coverage_equals_dissolved_coverage_and_blind_spots(case):
    net, res, fac = case
    rng = np.random.default_rng(4)
    xy = np.concatenate([net.node_xy[rng.choice(net.n_nodes, 400)] + rng.normal(0, 60, (400, 2)),
                         _points_near_frontage_edge(net, 400, 5)])
    parcels = gpd.GeoDataFrame(geometry=shapely.buffer(shapely.points(xy), 2.0), crs=net.crs)
    parcels["dist_kindergarten_m"] = rng.uniform(0, 600, len(parcels))
    buildings = parcels.iloc[::3][["geometry"]]
    radii = {**RADII, "hospital": 800.0}  # hospital: no facility of the class
    table, spots = class_coverage(net, fac, radii, res, parcels=parcels, buildings=buildings,
                                  frontage_m=30.0)
    polys = catchments(net, fac, radii, mode="dissolve", frontage_m=30.0)
    ref = coverage(polys, res, parcels=parcels, buildings=buildings, network=net,
                   frontage_m=30.0)
    ref_spots = blind_spots(polys, res, classes=sorted(radii))
    assert table["class"].tolist() == sorted(RADII)
    assert list(table.columns) == list(ref.columns) and table.dtypes.equals(ref.dtypes)
    for col in table.columns:
        if table[col].dtype.kind == "f":
            np.testing.assert_allclose(table[col], ref[col], rtol=1e-9, err_msg=col)
        else:
            assert table[col].tolist() == ref[col].tolist(), col
    assert table["n_parcels_covered"].min() > 10  # the counts are not trivially equal
    key = ["class", "residential_id", "name"]
    assert spots[key].astype(object).equals(ref_spots[key].astype(object))
    np.testing.assert_allclose(spots["area_m2"], ref_spots["area_m2"], rtol=1e-9)
    assert (spots["class"] == "hospital").sum() == len(res)  # no catchment: all blind


def test_rim_points_are_counted_as_the_polygon_says(case):
    """The exact-test band: points 29.5-30.5 m from a reached street, against the dissolved
    polygon itself."""
    net, res, fac = case
    pts = shapely.points(_points_near_frontage_edge(net, 3000, 6))
    parcels = gpd.GeoDataFrame(geometry=pts, crs=net.crs)
    radii = {"middle_school": RADII["middle_school"]}
    table, _ = class_coverage(net, fac, radii, res, parcels=parcels, frontage_m=30.0)
    area = catchments(net, fac, radii, mode="dissolve", frontage_m=30.0).geometry.values[0]
    inside = shapely.contains(area, pts) | shapely.touches(area, pts)
    assert 100 < inside.sum() < len(pts) - 100
    assert table["n_parcels_covered"].item() == inside.sum()


@pytest.mark.parametrize("threads", ["1", "3"])
def test_threads_change_no_number(case, monkeypatch, threads):
    """The frontage unions and overlays run in threads over blocks of areas: with blocks of a
    single area, in 1 or 3 threads, the table and the blind spots are bit-identical."""
    from siteplan.access import coverage as cov

    net, res, fac = case
    parcels = gpd.GeoDataFrame(geometry=shapely.buffer(shapely.points(net.node_xy[::40]), 2.0),
                               crs=net.crs)
    base_table, base_spots = class_coverage(net, fac, RADII, res, parcels=parcels)
    monkeypatch.setattr(cov, "_MIN_BLOCK", 1)
    monkeypatch.setattr(cov, "MIN_BLOCK", 7)
    monkeypatch.setenv("SITEPLAN_THREADS", threads)
    table, spots = class_coverage(net, fac, RADII, res, parcels=parcels)
    assert table.equals(base_table)
    assert spots.drop(columns="geometry").equals(base_spots.drop(columns="geometry"))
    assert shapely.equals_exact(spots.geometry.values, base_spots.geometry.values, 0.0).all()
    assert (table["covered_m2"] > 0).all()
