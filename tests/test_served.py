"""Coverage by served units: entrances, distances from them, residents, supply, blind spots.

A hand-made street grid where every unit's served state is known by construction, distances
checked against plain networkx from the same entrance points, and the Taiyuan demo's figures
against its own tables.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from nxref import build_graph, nearest_edges
from shapely.geometry import LineString, Point, box

from siteplan.access.distances import facility_access
from siteplan.access.entrances import unit_entrances
from siteplan.access.served import (
    served_table,
    served_units,
    supply_table,
    unit_blind_spots,
    unit_residents,
)
from siteplan.access.service import service_coverage
from siteplan.core.errors import InputError
from siteplan.core.tags import entrance_rows
from siteplan.network.build import graph_from_lines

CRS = "EPSG:32649"
RADII = {"kindergarten": 300.0, "primary_school": 500.0}


def _grid():
    """Streets y = 0 and y = 400 (x 0-1200), and x = 0, 600, 1200 (y 0-400)."""
    lines = [LineString([(0, 0), (600, 0)]), LineString([(600, 0), (1200, 0)]),
             LineString([(0, 400), (600, 400)]), LineString([(600, 400), (1200, 400)]),
             LineString([(0, 0), (0, 400)]), LineString([(600, 0), (600, 400)]),
             LineString([(1200, 0), (1200, 400)])]
    return graph_from_lines(gpd.GeoDataFrame({"highway": ["residential"] * len(lines)},
                                             geometry=lines, crs=CRS))


def _facilities():
    """A kindergarten on street x = 600 at y = 300; a primary school's grounds south of y = 0
    (its representative point (1075, -85) reaches the street 85 m north of it)."""
    return gpd.GeoDataFrame(
        {"facility_id": ["K", "P"], "class": ["kindergarten", "primary_school"],
         "name": ["向阳幼儿园", "五一路小学"]},
        geometry=[Point(600, 300), box(1000, -150, 1150, -20)], crs=CRS)


# The units and what is known of them:
# E  a large estate between streets x = 0, y = 400 and x = 600: its east side is 20 m from the
#    kindergarten's street, so it is served (<= 20 + 80 m) although its representative point
#    is 500 m away (100 m north to y = 400, 300 m east, 100 m south).
# A  an estate 20 m north of y = 0: its best gate is its south-east corner, 20 + 50 + 300 =
#    370 m from the kindergarten (missed by 70 m) and 20 + 525 + 85 = 630 m from the school.
# B  an estate with one mapped gate on its east side (850, 100): 100 m south to the street,
#    then 250 + 300 = 650 m to the kindergarten and 225 + 85 = 410 m to the school.
# C  a 小区 mapped as a point (1050, 60): 60 + 25 + 85 = 170 m from the school.
# F  far off every street: unreachable, served by nothing.
UNITS = gpd.GeoDataFrame(
    {"residential_id": ["E", "A", "B", "C", "F"], "name": ["东苑", "A区", "B区", "C区", "远郊"],
     "人口": [3000.0, 1000.0, np.nan, 500.0, 200.0]},
    geometry=[box(20, 220, 580, 380), box(350, 20, 550, 180), box(650, 20, 850, 180),
              Point(1050, 60), box(2000, 2000, 2100, 2100)], crs=CRS)
GATES = np.array([Point(850, 100)])
SERVED = {"kindergarten": [True, False, False, False, False],
          "primary_school": [False, False, True, True, False]}


@pytest.fixture(scope="module")
def grid():
    net = _grid()
    units = served_units(net, UNITS, _facilities(), RADII, entrances=GATES,
                         residents=UNITS["人口"].fillna(0).to_numpy())
    return net, units


def test_every_units_served_state_is_the_known_one(grid):
    _, units = grid
    for cls, expect in SERVED.items():
        assert units[f"served_{cls}"].tolist() == expect, cls
    assert units["entrance_kind"].tolist() == ["boundary", "boundary", "mapped",
                                               "representative", "representative"]
    d = units.set_index(UNITS["residential_id"])
    assert d.loc["A", "dist_kindergarten_m"] == pytest.approx(370.0)
    assert d.loc["B", "dist_kindergarten_m"] == pytest.approx(650.0)
    assert d.loc["B", "dist_primary_school_m"] == pytest.approx(410.0)
    assert d.loc["C", "dist_primary_school_m"] == pytest.approx(170.0)
    assert d.loc["E", "dist_kindergarten_m"] <= 100.0 + 1e-9
    assert d.loc[["F"], ["dist_kindergarten_m", "dist_primary_school_m"]].isna().all(axis=None)
    # The nearest facility is named next to its distance.
    assert d.loc["E", "nearest_kindergarten_name"] == "向阳幼儿园"
    assert d.loc["B", "nearest_primary_school_id"] == "P"
    assert pd.isna(d.loc["F", "nearest_kindergarten_name"])
    # The large estate has one boundary entrance per 250 m of its 1440 m outline (6
    # stretches; two stretches that pick the same corner give one entrance).
    assert 4 <= d.loc["E", "n_entrances"] <= 6


def test_the_large_estate_would_fail_from_its_representative_point(grid):
    net, units = grid
    point = facility_access(net, UNITS.iloc[[0]], _facilities(), classes=["kindergarten"])
    assert point.table["dist_kindergarten_m"].iloc[0] == pytest.approx(500.0)
    assert units["served_kindergarten"].iloc[0]


def test_distances_equal_networkx_from_the_same_entrances(grid):
    net, units = grid
    geoms = np.asarray(UNITS.geometry.values)
    ent = unit_entrances(net, geoms, mapped=GATES)
    fac = _facilities()
    fac_pts = shapely.point_on_surface(np.asarray(fac.geometry.values))
    entrance_pts = shapely.points(ent.xy)
    snaps = {f"e{i}": s for i, s in enumerate(nearest_edges(net, entrance_pts, 200.0))}
    fsnaps = dict(zip(fac["facility_id"], nearest_edges(net, fac_pts, 200.0), strict=True))
    graph = build_graph(net, {**snaps, **fsnaps})
    for fid, cls in zip(fac["facility_id"], fac["class"], strict=True):
        lengths = nx.single_source_dijkstra_path_length(graph, ("f", fid), weight="weight")
        per_entrance = np.array([lengths.get(("f", f"e{i}"), np.inf)
                                 for i in range(len(ent.owner))])
        best = np.full(len(UNITS), np.inf)
        np.minimum.at(best, ent.owner, per_entrance)
        best[best > 3000.0] = np.nan  # beyond the search limit
        np.testing.assert_allclose(units[f"dist_{cls}_m"].to_numpy(float), best, rtol=1e-9,
                                   atol=1e-6, err_msg=cls)


def test_coverage_table_and_blind_spots_per_class(grid):
    net, _ = grid
    cov = service_coverage(net, _facilities(), RADII, UNITS, entrances=GATES)
    table = cov.table.set_index("class")
    area = shapely.area(np.asarray(UNITS.geometry.values))
    res = UNITS["人口"].to_numpy(float).copy()
    res[2] = area[2] * 2.0 / 100.0 * 2.62  # B has no count: estimated from area x FAR
    assert cov.units["residents"].to_numpy() == pytest.approx(res)
    assert cov.units["residents_basis"].tolist()[2].startswith("estimate")
    for cls, flags in SERVED.items():
        f = np.array(flags)
        row = table.loc[cls]
        assert (row["n_units"], row["n_units_served"]) == (5, f.sum())
        assert row["area_served_share"] == pytest.approx(area[f].sum() / area.sum())
        assert row["residents_served"] == pytest.approx(res[f].sum())
        assert row["residents_served_share"] == pytest.approx(res[f].sum() / res.sum())
        assert bool(row["residents_estimated"])
        spots = cov.blind_spots[cov.blind_spots["class"] == cls]
        assert sorted(spots["unit_id"]) == sorted(UNITS["residential_id"][~f])
    k = cov.blind_spots[cov.blind_spots["class"] == "kindergarten"].set_index("unit_id")
    assert k.loc["A", "missed_by_m"] == pytest.approx(70.0)
    assert k.loc["A", "nearest_name"] == "向阳幼儿园" and np.isnan(k.loc["F", "missed_by_m"])
    # Ordered by residents left unserved, most first.
    assert list(k.index) == ["B", "A", "C", "F"]
    # The street-frontage land measure is kept beside it, under its own name.
    assert {"covered_land_share_frontage", "covered_share_of_frontage"} <= set(table.columns)
    assert set(cov.blind_spots_frontage["class"]) <= set(RADII)


def test_residents_from_fields_or_estimated():
    units = pd.DataFrame({"户数": [100.0, np.nan], "population": [np.nan, 80.0]})
    res, basis = unit_residents(units, np.array([5000.0, 5000.0]))
    assert res.tolist() == pytest.approx([262.0, 80.0])
    assert basis.tolist() == ["field 户数 x 2.62 persons", "field population"]
    res, basis = unit_residents(units.iloc[:1, :0], np.array([5000.0]), far=3.0,
                                dwelling_size_m2=90.0, persons_per_household=3.0)
    assert res.tolist() == pytest.approx([500.0]) and basis[0].startswith("estimate")
    # A point without a count has no area to estimate from: unknown, never 0.
    res, basis = unit_residents(pd.DataFrame(index=[0]), np.array([0.0]))
    assert np.isnan(res[0]) and basis[0].startswith("unknown")
    with pytest.raises(InputError, match="no population field"):
        unit_residents(units, np.ones(2), population_column="常住人口")
    with pytest.raises(InputError, match="negative"):
        unit_residents(pd.DataFrame({"人口": [-1.0]}), np.ones(1))


def test_places_per_1000_residents_two_step():
    """One kindergarten of 40 places reaches both estates (1,000 + 3,000 residents), one of 30
    places only the second: 10 and 20 places per 1,000 residents."""
    net = graph_from_lines(gpd.GeoDataFrame(
        {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=CRS))
    fac = gpd.GeoDataFrame({"facility_id": ["k1", "k2"], "class": ["kindergarten"] * 2,
                            "name": ["a", "b"], "capacity": [40.0, 30.0]},
                           geometry=[Point(550, 0), Point(1100, 0)], crs=CRS)
    estates = gpd.GeoDataFrame(geometry=[box(300, 10, 400, 110), box(800, 10, 900, 110)],
                               crs=CRS)
    residents = np.array([1000.0, 3000.0])
    units = served_units(net, estates, fac, {"kindergarten": 300.0}, residents=residents)
    assert units["places_per_1000_kindergarten"].tolist() == pytest.approx([10.0, 20.0])
    table = supply_table(units, fac, {"kindergarten": 300.0}, {"kindergarten": 15.0})
    row = table.iloc[0]
    assert row["places"] == 70.0 and row["n_with_capacity"] == 2
    assert row["places_per_1000"] == pytest.approx(1000 * 70 / 4000)
    assert row["residents_meeting_norm_share"] == pytest.approx(0.75)


def test_mapped_entrances_only_on_the_boundary():
    net = _grid()
    geoms = np.array([box(650, 20, 850, 180)])
    inside = unit_entrances(net, geoms, mapped=np.array([Point(750, 100)]))  # mid-estate
    assert inside.kind.tolist() == ["boundary"]
    near = unit_entrances(net, geoms, mapped=np.array([Point(860, 100), Point(750, 100)]))
    assert near.kind.tolist() == ["mapped"] and near.xy.tolist() == [[860.0, 100.0]]
    with pytest.raises(InputError, match="spacing_m"):
        unit_entrances(net, geoms, spacing_m=0)


def test_entrance_tags_read_from_osm():
    from siteplan.core.tags import ENTRANCE_TAGS
    from siteplan.osm.features import FACILITY_TAGS, read_osm
    from tests.conftest import BEIJING_OSM

    _, features = read_osm(BEIJING_OSM, tags={**FACILITY_TAGS, **ENTRANCE_TAGS})
    gates = features[entrance_rows(features).to_numpy(bool)]
    # The file's 25 barrier=gate, 5 barrier=entrance and 1 barrier=lift_gate nodes; no
    # bollards, walls or fences.
    assert gates["barrier"].value_counts().to_dict() == {"gate": 25, "entrance": 5,
                                                        "lift_gate": 1}
    assert (gates["osm_type"] == "node").all()


def test_served_table_counts_without_residents():
    units = pd.DataFrame({"served_park": [True, False, True]})
    row = served_table(units, {"park": 1000.0}, "buildings", area=False).iloc[0]
    assert (row["n_buildings"], row["n_buildings_served"]) == (3, 2)
    assert row["buildings_served_share"] == pytest.approx(2 / 3)
    spots = unit_blind_spots(gpd.GeoDataFrame(
        {"name": ["x"], "area_m2": [1.0], "dist_park_m": [np.nan], "nearest_park_name": [None],
         "served_park": [False]}, geometry=[box(0, 0, 1, 1)], crs=CRS), {"park": 1000.0})
    assert len(spots) == 1 and np.isnan(spots["missed_by_m"].iloc[0])


def _osm_file(path):
    """A hand-made OSM file: a street, a kindergarten of 60 places 30 m south of it, a small
    estate west (its corner 20 m from the street) and a large one east whose only gate is
    mapped on its east side, 120 m from the street."""
    from pyproj import Transformer

    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    x0, y0 = 650_000.0, 4_190_000.0
    nodes = {1: (0, 0), 2: (1000, 0), 3: (200, -30), 4: (600, 120),
             10: (50, 20), 11: (150, 20), 12: (150, 120), 13: (50, 120),
             20: (400, 20), 21: (600, 20), 22: (600, 220), 23: (400, 220)}
    tags = {3: {"amenity": "kindergarten", "name": "阳光幼儿园", "capacity": "60"},
            4: {"barrier": "gate"}}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for nid, (x, y) in nodes.items():
        lon, lat = to_ll.transform(x0 + x, y0 + y)
        tag = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.get(nid, {}).items())
        lines.append(f'<node id="{nid}" lat="{lat:.9f}" lon="{lon:.9f}">{tag}</node>')
    ways = [(100, [1, 2], {"highway": "residential"}),
            (101, [10, 11, 12, 13, 10], {"landuse": "residential", "name": "西苑"}),
            (102, [20, 21, 22, 23, 20], {"landuse": "residential", "name": "锦绣小区"})]
    for wid, refs, wtags in ways:
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in wtags.items())
        lines.append(f'<way id="{wid}">{body}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_osm_gates_and_capacity_through_a_study(tmp_path):
    from siteplan.pipeline import run_catchments
    from siteplan.study.model import Study

    osm = _osm_file(tmp_path / "estates.osm")
    study = Study.model_validate({"study": {"name": "gates"}, "inputs": {"streets": str(osm)}})
    res = run_catchments(study)
    units = res.units.set_index("name")
    # The east estate walks from its mapped gate: 120 m to the street, 400 m along it, 30 m
    # to the kindergarten; without the gate its street-side corner would be 250 m away.
    assert units.loc["锦绣小区", "entrance_kind"] == "mapped"
    assert units.loc["锦绣小区", "dist_kindergarten_m"] == pytest.approx(550.0, abs=0.01)
    assert not units.loc["锦绣小区", "served_kindergarten"]
    assert units.loc["西苑", "dist_kindergarten_m"] == pytest.approx(100.0, abs=0.01)
    # Residents estimated from area x FAR 2 / 100 m² x 2.62: 524 and 2,096; the kindergarten's
    # 60 places serve the west estate alone.
    assert units["residents"].tolist() == pytest.approx([524.0, 2096.0], rel=1e-6)
    assert units.loc["西苑", "places_per_1000_kindergarten"] == pytest.approx(60_000 / 524)
    assert units.loc["锦绣小区", "places_per_1000_kindergarten"] == 0.0
    row = res.coverage.set_index("class").loc["kindergarten"]
    assert row["places"] == 60.0 and row["places_per_1000"] == pytest.approx(60_000 / 2620)
    assert row["residents_meeting_norm_share"] == pytest.approx(524 / 2620)
    assert row["residents_served_share"] == pytest.approx(524 / 2620)


def test_node_access_names_the_nearest_facility():
    from siteplan.access.distances import node_access

    nodes = node_access(_grid(), _facilities(), search_limit_m=700.0)
    reached = nodes["dist_kindergarten_m"].notna()
    assert 0 < reached.sum() < len(nodes)  # the far corners lie beyond 700 m
    assert (nodes.loc[reached, "nearest_kindergarten_name"] == "向阳幼儿园").all()
    assert nodes.loc[~reached, "nearest_kindergarten_name"].isna().all()
