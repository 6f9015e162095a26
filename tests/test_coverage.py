"""Coverage and blind spots on the real Taiyuan data, against city-wide references.

The engine builds the street-frontage ceiling, the blind spots and the per-class coverage from
small local unions; the references here are the plain city-wide unions and overlays.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from siteplan.catchments import catchments
from siteplan.coverage import blind_spots, coverage, street_zone
from siteplan.facilities import residential_land

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
