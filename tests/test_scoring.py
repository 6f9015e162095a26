"""Scoring on a synthetic study whose distances, points, scores and ranks are worked out by hand.

The street grid (UTM 49N, metres from X0, Y0): horizontal streets y = 0, 200, 400 and vertical
streets x = 0, 200, 400, 600, 800, every block side a separate line meeting at the corners.

Facilities (on the streets, so their access leg is 0):
    K kindergarten (100, 0)   P primary school (700, 200)   H hospital (400, 300)

Parcels (squares around their centroid, which snaps to the nearest street point):
    A (100, 30)  40 m   -> snaps to (100, 0),   leg 30
    B (300, 170) 40 m   -> snaps to (300, 200), leg 30
    C (530, 100) 40 m   -> snaps to (600, 100), leg 70
    D (750, 330) 20 m   -> snaps to (800, 330), leg 50   (0.04 ha: excluded as < 0.1 ha)
    E (140, 350) 40 m   -> snaps to (140, 400), leg 50

Walking distances = leg + shortest path along the grid:
           K                          P                          H
    A  30 + 0     = 30        30 + 100+400+200+100 = 830   30 + 600 = 630
    B  30 + 100+200+100 = 430 30 + 400 = 430               30 + 100+100 = 230
    C  70 + 100+500 = 670     70 + 100+100 = 270           70 + 100+200+100 = 470
    D  50 + 330+700 = 1080    50 + 130+100 = 280           50 + 70+400+100 = 620
    E  50 + 60+400+100 = 610  50 + 60+200+500 = 810        50 + 60+200+100 = 410
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from siteplan.access.distances import facility_access
from siteplan.access.fca import two_step_fca
from siteplan.core.errors import ConfigError, InputError
from siteplan.network.build import graph_from_lines
from siteplan.scoring.criteria import access_columns, criterion_labels
from siteplan.scoring.score import assess_parcels, dense_rank, score_parcels, scoring_metadata
from siteplan.study.model import Study

ROOT = Path(__file__).resolve().parents[1]
X0, Y0 = 500_000.0, 4_200_000.0
CRS = "EPSG:32649"
IDS = ["A", "B", "C", "D", "E"]
CENTRES = {"A": (100, 30), "B": (300, 170), "C": (530, 100), "D": (750, 330), "E": (140, 350)}
SIDES = {"A": 40, "B": 40, "C": 40, "D": 20, "E": 40}
DIST = {  # hand-computed above
    "kindergarten": [30, 430, 670, 1080, 610],
    "primary_school": [830, 430, 270, 280, 810],
    "hospital": [630, 230, 470, 620, 410],
}


def _p(x: float, y: float) -> tuple[float, float]:
    return X0 + x, Y0 + y


@pytest.fixture(scope="module")
def net():
    segs = []
    for y in (0, 200, 400):
        segs += [shapely.LineString([_p(x, y), _p(x + 200, y)]) for x in (0, 200, 400, 600)]
    for x in (0, 200, 400, 600, 800):
        segs += [shapely.LineString([_p(x, y), _p(x, y + 200)]) for y in (0, 200)]
    lines = gpd.GeoDataFrame({"highway": ["residential"] * len(segs)}, geometry=segs, crs=CRS)
    return graph_from_lines(lines)


@pytest.fixture(scope="module")
def facilities():
    pts = {"K": ("kindergarten", (100, 0)), "P": ("primary_school", (700, 200)),
           "H": ("hospital", (400, 300))}
    return gpd.GeoDataFrame({
        "facility_id": list(pts), "class": [c for c, _ in pts.values()],
        "name": ["K", "P", "H"], "source": "test",
    }, geometry=[shapely.Point(_p(*xy)) for _, xy in pts.values()], crs=CRS)


@pytest.fixture
def parcels():
    geoms = [shapely.box(*_p(cx - SIDES[k] / 2, cy - SIDES[k] / 2),
                         *_p(cx + SIDES[k] / 2, cy + SIDES[k] / 2))
             for k, (cx, cy) in CENTRES.items()]
    return gpd.GeoDataFrame({"parcel_id": IDS, "净地": ["是", "否", None, "是", "是"]},
                            geometry=geoms, crs=CRS)


def _study(**extra) -> Study:
    data = {
        "study": {"name": "grid"},
        "network": {"parcel_point": "centroid"},
        "classes": {"hospital": {"radius_m": 500}},
        "criteria": [
            {"name": "kg", "kind": "distance", "class": "kindergarten", "weight": 2,
             "transform": {"type": "step", "steps": [[300, 100], [500, 60]]}},
            {"name": "school", "kind": "distance", "class": "primary_school", "weight": 1,
             "transform": {"type": "linear", "best": 200, "worst": 1200}},
            # No transform: 100 within the class radius (500 m), else 0.
            {"name": "hospital", "kind": "distance", "class": "hospital", "weight": 1},
        ],
        "constraints": [{"measure": "area_ha", "op": "<", "value": 0.1}],
        "programme": {"default_far": 2.0},
    }
    data.update(extra)
    return Study.model_validate(data)


def test_engine_distances_match_the_hand_computation(net, parcels, facilities):
    res = facility_access(net, parcels, facilities, target_point="centroid")
    for cls, expected in DIST.items():
        np.testing.assert_allclose(res.table[f"dist_{cls}_m"], expected, atol=1e-6)


def test_synthetic_study_scores_and_ranks_by_hand(net, parcels, facilities):
    out = score_parcels(parcels, _study(), net=net, facilities=facilities)
    # Ratings: kg step (<=300: 100, <=500: 60, else 0); school linear (1200 - d) / 10;
    # hospital 100 within 500 m.  Weights 2:1:1 -> 0.5, 0.25, 0.25.
    np.testing.assert_allclose(out["kg_raw"], DIST["kindergarten"], atol=1e-6)
    assert out["kg_rating"].tolist() == [100, 60, 0, 0, 0]
    assert out["school_rating"].tolist() == [37, 77, 93, 92, 39]
    assert out["hospital_rating"].tolist() == [0, 100, 100, 0, 100]
    assert out["kg_points"].tolist() == [50, 30, 0, 0, 0]
    assert out["school_points"].tolist() == [9.25, 19.25, 23.25, 23, 9.75]
    assert out["hospital_points"].tolist() == [0, 25, 25, 0, 25]
    # A 50 + 9.25 + 0; B 30 + 19.25 + 25; C 0 + 23.25 + 25; D 0 + 23 + 0; E 0 + 9.75 + 25.
    assert out["score"].tolist() == [59.25, 74.25, 48.25, 23.0, 34.75]
    points = out[["kg_points", "school_points", "hospital_points"]].sum(axis=1)
    np.testing.assert_allclose(points, out["score"])
    # D is excluded (0.04 ha < 0.1 ha) but stays, with its score and reason.
    assert out["excluded"].tolist() == [False, False, False, True, False]
    assert out.loc[3, "exclusion_reason"] == "Area (ha): 0.04 < 0.1"
    assert out.loc[3, "exclusion_reason_zh"] == "面积 (公顷): 0.04 < 0.1"
    assert out["exclusion_reason"].tolist()[:3] == ["", "", ""]
    # Ranks B 1, A 2, C 3, E 4; D none.
    assert out["rank"].tolist()[:3] == [2, 1, 3] and out["rank"].iloc[4] == 4
    assert pd.isna(out["rank"].iloc[3])
    assert list(out.columns[:6]) == ["parcel_id", "score", "rank", "excluded",
                                     "exclusion_reason", "exclusion_reason_zh"]
    assert out.geometry.name == "geometry" and len(out) == len(parcels)
    assert "kg_raw" not in parcels.columns  # the input is not modified


def test_precomputed_access_columns_give_the_same_scores(net, parcels, facilities):
    study = _study()
    res = facility_access(net, parcels, facilities, target_point="centroid")
    joined = parcels.join(res.table)
    assert set(access_columns(study)) <= set(joined.columns)
    a = score_parcels(joined, study)
    b = score_parcels(parcels, study, net=net, facilities=facilities)
    np.testing.assert_allclose(a["score"], b["score"])
    with pytest.raises(InputError, match="access column"):
        score_parcels(parcels, study)


def test_assess_adds_compliance_and_programme(net, parcels, facilities):
    out = assess_parcels(parcels, _study(), net=net, facilities=facilities)
    assert out["meets_kindergarten_radius"].tolist() == [True, False, False, False, False]
    assert out["meets_primary_school_radius"].tolist() == [False, True, True, True, False]
    # No middle school in the data: every parcel must provide one.
    assert not out["meets_middle_school_radius"].any()
    assert out.loc[0, "compliance_required_zh"].startswith("须配建小学；须配建初中（")
    # Programme: A is 1600 m² x default FAR 2 = 3200 m² -> 32 households -> 83.84 residents.
    assert out.loc[0, "est_households"] == 32
    assert out.loc[0, "required_parking_spaces"] == 39  # 32 x 1.2 = 38.4 -> 39
    assert out.loc[0, "programme_basis"] == "polygon area × default FAR"
    assert out["score"].tolist() == [59.25, 74.25, 48.25, 23.0, 34.75]


def test_class_without_facilities_is_refused(net, parcels, facilities):
    no_hospital = facilities[facilities["class"] != "hospital"]
    with pytest.raises(ConfigError, match=r"criteria\[2\].class = 'hospital'"):
        score_parcels(parcels, _study(), net=net, facilities=no_hospital)


def test_constraints_each_with_its_reason(net, parcels, facilities, tmp_path):
    far_away = parcels.copy()
    far_away.loc[4, "geometry"] = shapely.box(*_p(1400, 1400), *_p(1440, 1440))  # E: 600 m off
    hazard = gpd.GeoDataFrame(geometry=[
        shapely.box(*_p(500, 50), *_p(560, 150)),     # overlaps C
        shapely.box(*_p(60, 50), *_p(120, 100)),      # touches A's edge (y = 50) only
    ], crs=CRS)
    hazard.to_file(tmp_path / "hazard.gpkg")
    study = _study(
        inputs={"hazards": [str(tmp_path / "hazard.gpkg")]},
        constraints=[
            {"builtin": "unreachable"},
            {"builtin": "inside_hazard"},
            {"criterion": "kg", "op": ">", "value": 1000},
            {"column": "净地", "op": "==", "value": False, "reason_zh": "非净地",
             "reason_en": "not clean land"},
        ])
    out = score_parcels(far_away, study, net=net, facilities=facilities)
    assert out["excluded"].tolist() == [False, True, True, True, True]
    reasons = out["exclusion_reason"].tolist()
    assert reasons[0] == ""
    assert reasons[1] == "not clean land"
    # C's 净地 is blank: unknown, so excluded too (missing = "exclude" by default).
    assert reasons[2] == "inside a hazard area; Clean land unknown (no data)"
    assert reasons[3] == "Kindergarten: walking distance: 1080 > 1000"
    # E reaches nothing: its NaN distance is beyond the 3000 m search limit, hence > 1000.
    assert reasons[4] == ("cannot reach the street network; Kindergarten: walking distance: "
                          "none within the 3000 m search limit (> 1000)")
    assert out.loc[3, "exclusion_reason_zh"] == "幼儿园步行距离: 1080 > 1000"
    # Unreachable: distance unknown, 0 points, never a made-up number.
    assert np.isnan(out.loc[4, "kg_raw"]) and out.loc[4, "kg_points"] == 0
    assert out["rank"].tolist()[0] == 1 and out["rank"].isna().sum() == 4


def test_several_reasons_are_joined(net, parcels, facilities):
    study = _study(constraints=[{"measure": "area_ha", "op": "<", "value": 0.1},
                                {"criterion": "school", "op": "<", "value": 300}])
    out = score_parcels(parcels, study, net=net, facilities=facilities)
    assert out.loc[3, "exclusion_reason"] == "Area (ha): 0.04 < 0.1; Primary school: walking " \
                                             "distance: 280 < 300"
    assert out.loc[3, "exclusion_reason_zh"].count("；") == 1
    assert out.loc[2, "exclusion_reason"].endswith("270 < 300")


def test_attribute_and_geometry_criteria(parcels):
    l_shape = shapely.Polygon([_p(0, 0), _p(20, 0), _p(20, 10), _p(10, 10), _p(10, 20),
                               _p(0, 20)])
    gdf = parcels.copy()
    gdf.loc[0, "geometry"] = l_shape
    study = Study.model_validate({
        "study": {"name": "attrs"},
        "criteria": [
            {"name": "clean", "kind": "attribute", "column": "净地", "value": True, "weight": 1},
            {"name": "shape", "kind": "geometry", "measure": "compactness", "weight": 1,
             "transform": {"type": "linear", "best": 1, "worst": 0.5}},
            {"name": "corners", "kind": "geometry", "measure": "concave_corners", "weight": 2,
             "transform": {"type": "step", "steps": [[0, 100], [1, 50]]}},
        ]})
    out = score_parcels(gdf, study)
    # 净地 是/否/missing -> 1/0/NaN -> 100/0/0.
    np.testing.assert_array_equal(out["clean_raw"], [1, 0, np.nan, 1, 1])
    assert out["clean_rating"].tolist() == [100, 0, 0, 100, 100]
    # The L-shape: 300 m² in a 20 x 20 rectangle -> compactness 0.75 -> 50; 1 concave corner.
    assert out.loc[0, "shape_raw"] == pytest.approx(0.75) and out.loc[0, "shape_rating"] == 50
    assert out["corners_raw"].tolist() == [1, 0, 0, 0, 0]
    # Weights 0.25, 0.25, 0.5: A = 25 + 12.5 + 25 = 62.5; B = 0 + 25 + 50 = 75;
    # C = 0 + 25 + 50 = 75 (unknown 净地 scores 0); D = E = 25 + 25 + 50 = 100.
    assert out["score"].tolist() == [62.5, 75, 75, 100, 100]
    # Ties broken by parcel id: D before E, B before C.
    assert out["rank"].tolist() == [5, 3, 4, 1, 2]


def test_dense_rank_ties_broken_by_parcel_id():
    score = np.array([50.0, 70.0, 50.0, 70.0, 10.0, 90.0])
    ids = np.array(["p10", "p2", "p1", "p3", "p0", "x"])
    excluded = np.array([False, False, False, False, False, True])
    # 70: p2 before p3; 50: p1 before p10 (text order); excluded x gets no rank.
    got = dense_rank(score, excluded, ids)
    assert got.tolist()[:5] == [4, 1, 3, 2, 5] and pd.isna(got[5])


def test_two_step_floating_catchment_by_hand(net, parcels, facilities):
    # Supply: kindergartens at (100, 0) with 50 places and (700, 200) with 30 places.
    kg = gpd.GeoDataFrame({"facility_id": ["k1", "k2"], "class": "kindergarten",
                           "places": [50, 30]},
                          geometry=[shapely.Point(_p(100, 0)), shapely.Point(_p(700, 200))],
                          crs=CRS)
    # Demand points on the streets with populations.
    demand = gpd.GeoDataFrame({"pop": [1000, 500, 600, 400]}, geometry=[
        shapely.Point(_p(200, 0)), shapely.Point(_p(300, 0)), shapely.Point(_p(600, 200)),
        shapely.Point(_p(800, 380))], crs=CRS)
    # Within 300 m: k1 reaches the first two (100, 200 m): R1 = 50 / 1500; k2 reaches the
    # third (100 m) and the fourth (100 + 180 m): R2 = 30 / 1000.
    # Parcels within 300 m: A of k1 (30 m); C (270 m) and D (280 m) of k2; B, E of neither.
    got = two_step_fca(net, parcels, kg, demand, radius_m=300, capacity_column="places",
                       demand_column="pop", per=1000, target_point="centroid")
    np.testing.assert_allclose(got, [1000 * 50 / 1500, 0, 30, 30, 0])
    # Through a study: the same numbers as the criterion's raw value.
    study = Study.model_validate({"study": {"name": "2sfca"}, "network": {
        "parcel_point": "centroid"}, "criteria": [{
            "name": "kg_supply", "kind": "access_2sfca", "class": "kindergarten",
            "radius_m": 300, "capacity_column": "places", "demand_column": "pop",
            "weight": 1, "transform": {"type": "linear", "best": 40, "worst": 0}}]})
    out = score_parcels(parcels, study, net=net, facilities=kg, demand=demand)
    np.testing.assert_allclose(out["kg_supply_raw"], got)
    np.testing.assert_allclose(out["kg_supply_rating"], [83.33, 0, 75, 75, 0])


def test_raster_and_slope_criteria(parcels, tmp_path):
    # 10 m pixels over the grid; values = the pixel centre's x in hundreds of metres, and a DEM
    # rising 0.1 m per metre eastwards (10 % slope).
    px, w, h = 10.0, 100, 50
    x_centre = (np.arange(w) + 0.5) * px
    transform = from_origin(X0, Y0 + 450, px, px)
    for name, data in (("x", np.tile(x_centre / 100, (h, 1))),
                       ("dem", np.tile(0.1 * x_centre, (h, 1)))):
        with rasterio.open(tmp_path / f"{name}.tif", "w", driver="GTiff", height=h, width=w,
                           count=1, dtype="float64", crs=CRS, transform=transform) as dst:
            dst.write(data, 1)
    study = Study.model_validate({
        "study": {"name": "rasters"},
        "inputs": {"rasters": {"xgrid": str(tmp_path / "x.tif"), "dem": str(tmp_path / "dem.tif")}},
        "criteria": [
            {"name": "east", "kind": "raster", "raster": "xgrid", "stat": "mean", "weight": 1,
             "transform": {"type": "linear", "best": 8, "worst": 0}},
            {"name": "slope", "kind": "slope", "raster": "dem", "weight": 1,
             "transform": {"type": "linear", "best": 0, "worst": 20}},
        ],
        "constraints": [{"criterion": "east", "op": ">=", "value": 7}]})
    out = score_parcels(parcels.to_crs(4326), study)
    # Boxes aligned on the 10 m pixels: the mean of the centres is the parcel's centre x.
    np.testing.assert_allclose(out["east_raw"], [1.0, 3.0, 5.3, 7.5, 1.4], atol=1e-6)
    np.testing.assert_allclose(out["slope_raw"], 10.0, atol=1e-6)
    assert out["slope_rating"].tolist() == [50] * 5
    assert out["excluded"].tolist() == [False, False, False, True, False]
    assert out.loc[3, "exclusion_reason"] == "east: 7.5 >= 7"


def test_labels_and_metadata():
    study = _study()
    labels = criterion_labels(study)
    assert labels["kg"] == ("Kindergarten: walking distance", "幼儿园步行距离")
    meta = scoring_metadata(study)
    assert [c["weight"] for c in meta["criteria"]] == [0.5, 0.25, 0.25]
    assert meta["criteria"][2]["transform"] == "step: <= 500 → 100, else 0"
    assert meta["constraints"][0]["target"] == "area_ha"


def test_no_criteria_is_a_config_error(parcels):
    with pytest.raises(ConfigError, match="no criteria"):
        score_parcels(parcels, Study.model_validate({"study": {"name": "empty"}}))


def test_2sfca_demand_from_residential_land(net, parcels, tmp_path):
    # Demand from [inputs] residential: only landuse=residential areas count, by hectares.
    # R1 (1 ha, centre (300, 50)) snaps to (300, 0): 50 + 200 = 250 m from the kindergarten.
    # The industrial block next to it is not demand.  R_k = 1 facility / 1 ha.
    land = gpd.GeoDataFrame({"landuse": ["residential", "industrial"]}, geometry=[
        shapely.box(*_p(250, 0), *_p(350, 100)), shapely.box(*_p(50, 100), *_p(150, 200))],
        crs=CRS)
    land.to_file(tmp_path / "land.geojson")
    kg = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"]},
                          geometry=[shapely.Point(_p(100, 0))], crs=CRS)
    study = Study.model_validate({
        "study": {"name": "2sfca"}, "network": {"parcel_point": "centroid"},
        "inputs": {"residential": str(tmp_path / "land.geojson")},
        "criteria": [{"name": "kg_supply", "kind": "access_2sfca", "class": "kindergarten",
                      "radius_m": 300, "per": 1, "weight": 1,
                      "transform": {"type": "linear", "best": 1, "worst": 0}}]})
    out = score_parcels(parcels, study, net=net, facilities=kg)
    # Only A (30 m) is within 300 m of the kindergarten: 1 facility per ha of demand.
    np.testing.assert_allclose(out["kg_supply_raw"], [1, 0, 0, 0, 0], atol=1e-9)


def _taiyuan_facilities(polygons: gpd.GeoDataFrame, lines: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A plain facility frame for the test (not the rules table of siteplan.facilities.classify):
    amenity tags and the kind word at the end of the Chinese name."""
    from siteplan.facilities.proxies import transport_proxies

    name = polygons["name"].fillna("").astype(str)
    amenity = polygons["amenity"].fillna("").astype(str)
    school = amenity == "school"
    rules = {
        "kindergarten": (amenity == "kindergarten") | name.str.endswith("幼儿园"),
        "primary_school": school & name.str.contains(r"小学(?:校)?$", regex=True),
        "middle_school": school & name.str.contains(r"中学(?:校)?$", regex=True),
        "hospital": amenity == "hospital",
        "park": polygons["leisure"].fillna("").astype(str) == "park",
    }
    frames = [gpd.GeoDataFrame({"facility_id": cls + ":" + polygons.loc[m, "osm_id"].astype(str)
                                + polygons.loc[m, "osm_way_id"].fillna("").astype(str),
                                "class": cls, "name": name[m], "source": "test"},
                               geometry=polygons.geometry[m], crs=polygons.crs)
              for cls, m in rules.items()]
    frames.append(transport_proxies(lines).to_crs(polygons.crs))
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=polygons.crs)


def test_taiyuan_study_scores_are_explainable(taiyuan_network, taiyuan_lines, taiyuan_polygons):
    from siteplan.inputs import load_study_parcels
    from siteplan.scoring.score import _transform_of
    from siteplan.study.model import load_study

    study = load_study(ROOT / "data" / "taiyuan" / "study.toml")
    facilities = _taiyuan_facilities(taiyuan_polygons, taiyuan_lines)
    parcels = load_study_parcels(study)
    out = assess_parcels(parcels, study, net=taiyuan_network, facilities=facilities)
    assert len(out) == len(parcels) == 1328
    weights = study.weights_vector()
    total = np.zeros(len(out))
    for c in study.criteria:
        raw = out[f"{c.name}_raw"].to_numpy(dtype=float)
        if c.kind == "distance":
            np.testing.assert_array_equal(raw, out[f"dist_{c.facility_class}_m"])
        rating = _transform_of(study, c).apply(raw)
        np.testing.assert_allclose(out[f"{c.name}_rating"], rating, atol=0.005)
        points = out[f"{c.name}_points"].to_numpy(dtype=float)
        np.testing.assert_allclose(points, np.round(weights[c.name] * rating, 2), atol=1e-9)
        total += points
    np.testing.assert_allclose(out["score"], total, atol=1e-9)
    assert out["score"].between(0, 100).all()
    # Every exclusion has a reason, and only excluded parcels have one.
    excluded = out["excluded"].to_numpy(dtype=bool)
    assert (out["exclusion_reason"].str.len().to_numpy() > 0).tolist() == excluded.tolist()
    assert excluded.sum() > 0 and (~excluded).sum() > 500
    small = out["area_m2"].to_numpy() < 1e4
    assert excluded[small].all()
    # Ranks 1..K over kept parcels, ordered by score then id.
    kept = out[~excluded].sort_values("rank")
    assert kept["rank"].tolist() == list(range(1, len(kept) + 1))
    assert kept["score"].is_monotonic_decreasing
    # Seed compliance and programme on every parcel.
    assert out["meets_kindergarten_radius"].dtype == bool
    assert (out["compliance_required_zh"].str.len() > 0).tolist() == \
        (~out["compliant_all"]).tolist()
    assert (out["required_parking_spaces"] > 0).all()


def _no_prj_shapefile(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """``frame`` as a Shapefile whose .prj is gone (a bureau export that lost it)."""
    frame.to_file(path, engine="pyogrio")
    path.with_suffix(".prj").unlink()
    return path


def test_hazard_layer_is_read_with_the_studys_input_settings(net, parcels, facilities,
                                                             tmp_path):
    # Regression: the hazard layer was read without [crs] input, so a hazard Shapefile
    # without .prj was refused although the study declares its CRS.
    hazard = gpd.GeoDataFrame(geometry=[shapely.box(*_p(500, 50), *_p(560, 150))], crs=CRS)
    path = _no_prj_shapefile(hazard, tmp_path / "hazard.shp")
    study = _study(inputs={"hazards": [str(path)]}, crs={"input": CRS},
                   constraints=[{"builtin": "inside_hazard"}])
    out = score_parcels(parcels, study, net=net, facilities=facilities)
    assert out["excluded"].tolist() == [False, False, True, False, False]  # C overlaps it
    # Without the declared CRS the same file is refused, naming it and the fix.
    bare = _study(inputs={"hazards": [str(path)]}, constraints=[{"builtin": "inside_hazard"}])
    with pytest.raises(InputError, match=r"hazard layer .*hazard\.shp.*no CRS"):
        score_parcels(parcels, bare, net=net, facilities=facilities)


def test_hazard_layer_in_gcj02_is_converted_like_every_other_input(net, parcels, facilities,
                                                                   tmp_path):
    from siteplan.io.crs import wgs84_to_gcj02

    # The hazard polygon over C, in WGS84 lon/lat, then shifted to GCJ-02 as Amap shows it.
    box = gpd.GeoSeries([shapely.box(*_p(500, 50), *_p(560, 150))], crs=CRS).to_crs(4326)
    xy = shapely.get_coordinates(box.values)
    lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    shifted = shapely.polygons(np.column_stack([lon, lat]))
    gpd.GeoDataFrame(geometry=[shifted], crs=4326).to_file(tmp_path / "hz.gpkg")
    study = _study(inputs={"hazards": [str(tmp_path / "hz.gpkg")]},
                   crs={"coord_system": "gcj02"},
                   constraints=[{"builtin": "inside_hazard"}])
    out = score_parcels(parcels, study, net=net, facilities=facilities)
    assert out["excluded"].tolist() == [False, False, True, False, False]
    # Read as if WGS84, the ~500 m offset puts the polygon away from C.
    as_is = _study(inputs={"hazards": [str(tmp_path / "hz.gpkg")]},
                   constraints=[{"builtin": "inside_hazard"}])
    assert not score_parcels(parcels, as_is, net=net, facilities=facilities)["excluded"].any()


def test_2sfca_demand_layer_is_read_with_the_studys_input_settings(net, parcels, tmp_path):
    # Regression: the residential (demand) layer of a 2SFCA criterion was read without the
    # study's [crs] input, so a demand Shapefile without .prj was refused.
    kg = gpd.GeoDataFrame({"facility_id": ["k1", "k2"], "class": "kindergarten",
                           "places": [50, 30]},
                          geometry=[shapely.Point(_p(100, 0)), shapely.Point(_p(700, 200))],
                          crs=CRS)
    demand = gpd.GeoDataFrame({"pop": [1000, 500, 600, 400]}, geometry=[
        shapely.Point(_p(200, 0)), shapely.Point(_p(300, 0)), shapely.Point(_p(600, 200)),
        shapely.Point(_p(800, 380))], crs=CRS)
    path = _no_prj_shapefile(demand, tmp_path / "population.shp")
    study = Study.model_validate({
        "study": {"name": "2sfca"}, "network": {"parcel_point": "centroid"},
        "inputs": {"residential": str(path)}, "crs": {"input": CRS},
        "criteria": [{"name": "kg_supply", "kind": "access_2sfca", "class": "kindergarten",
                      "radius_m": 300, "capacity_column": "places", "demand_column": "pop",
                      "weight": 1, "transform": {"type": "linear", "best": 40, "worst": 0}}]})
    out = score_parcels(parcels, study, net=net, facilities=kg)  # demand from the study
    # The same hand-computed ratios as test_two_step_floating_catchment_by_hand.
    np.testing.assert_allclose(out["kg_supply_raw"], [1000 * 50 / 1500, 0, 30, 30, 0])
