"""Hard constraints on missing values: a NaN distance is "beyond the search limit" (+infinity),
any other NaN is unknown and excluded unless the constraint says ``missing = "keep"``.

Every expectation is worked out by hand from the values the test writes.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from siteplan.core.errors import ConfigError
from siteplan.scoring.constraints import apply_constraints
from siteplan.scoring.score import score_parcels
from siteplan.study.model import Study

CRS = "EPSG:32649"
X0, Y0 = 500_000.0, 4_200_000.0
NAN = float("nan")


def _parcels(**columns) -> gpd.GeoDataFrame:
    n = len(next(iter(columns.values())))
    # 200 m squares (4 ha) side by side: no shape constraint fires by accident.
    geoms = [shapely.box(X0 + 300 * i, Y0, X0 + 300 * i + 200, Y0 + 200) for i in range(n)]
    return gpd.GeoDataFrame({"parcel_id": [f"p{i}" for i in range(n)], **columns},
                            geometry=geoms, crs=CRS)


def _study(constraints, criteria=None, **extra) -> Study:
    data = {
        "study": {"name": "nan"},
        "inputs": {"rasters": {"dem": "dem.tif"}},  # validated by name only; never read here
        "criteria": criteria or [
            {"name": "kg", "kind": "distance", "class": "kindergarten", "weight": 1},
            {"name": "slope", "kind": "slope", "raster": "dem", "weight": 1,
             "transform": {"type": "linear", "best": 0, "worst": 25}},
            {"name": "parks", "kind": "count", "class": "park", "radius_m": 1000, "weight": 1,
             "transform": {"type": "linear", "best": 2, "worst": 0}},
        ],
        "constraints": constraints,
    }
    data.update(extra)
    return Study.model_validate(data)


# ----------------------------------------------------------------------------- distances


@pytest.mark.parametrize(("op", "expected"), [
    # distances 500, 1500, NaN (no kindergarten within the 3000 m search limit)
    (">", [False, True, True]),
    (">=", [False, True, True]),
    ("<", [True, False, False]),
    ("<=", [True, False, False]),
    ("!=", [True, True, True]),
    ("==", [False, False, False]),
])
def test_nan_distance_compares_as_beyond_the_search_limit(op, expected):
    study = _study([{"criterion": "kg", "op": op, "value": 1000}])
    gdf = _parcels(x=[0, 0, 0])
    out = apply_constraints(gdf, study, {"kg": np.array([500.0, 1500.0, NAN])})
    assert out["excluded"].tolist() == expected


def test_nan_distance_reason_says_none_within_the_limit():
    study = _study([{"criterion": "kg", "op": ">", "value": 1000}],
                   network={"search_limit_m": 2500})
    out = apply_constraints(_parcels(x=[0, 0]), study, {"kg": np.array([1500.0, NAN])})
    assert out["exclusion_reason"].tolist() == [
        "Kindergarten: walking distance: 1500 > 1000",
        "Kindergarten: walking distance: none within the 2500 m search limit (> 1000)"]
    assert out.loc[1, "exclusion_reason_zh"] == "幼儿园步行距离：2500米搜索范围内无可达设施（> 1000）"
    # A study's own wording is kept for both.
    worded = _study([{"criterion": "kg", "op": ">", "value": 1000,
                      "reason_en": "no kindergarten within 1 km", "reason_zh": "1公里内无幼儿园"}])
    out = apply_constraints(_parcels(x=[0, 0]), worded, {"kg": np.array([1500.0, NAN])})
    assert out["exclusion_reason"].tolist() == ["no kindergarten within 1 km"] * 2


def test_dist_and_time_columns_use_the_same_semantics():
    gdf = _parcels(dist_kindergarten_m=[500.0, 1500.0, NAN],
                   time_kindergarten_min=[7.0, 21.0, NAN])
    for col, value in (("dist_kindergarten_m", 1000), ("time_kindergarten_min", 15)):
        study = _study([{"column": col, "op": ">", "value": value}])
        assert apply_constraints(gdf, study, {})["excluded"].tolist() == [False, True, True]
        study = _study([{"column": col, "op": "<=", "value": value}])
        assert apply_constraints(gdf, study, {})["excluded"].tolist() == [True, False, False]


def test_the_reported_bug_end_to_end():
    # Constraint "kindergarten distance > 1000 -> exclude": parcels at 1-3 km were excluded
    # but those with NO kindergarten within the 3 km limit (NaN) stayed ranked.
    gdf = _parcels(dist_kindergarten_m=[200.0, 1800.0, NAN, 2900.0, NAN])
    study = _study([{"criterion": "kg", "op": ">", "value": 1000}],
                   criteria=[{"name": "kg", "kind": "distance", "class": "kindergarten",
                              "weight": 1}])
    out = score_parcels(gdf, study)
    assert out["excluded"].tolist() == [False, True, True, True, True]
    assert out["rank"].tolist()[0] == 1 and out["rank"].isna().sum() == 4


# ----------------------------------------------------------------------------- unknowns


def test_unknown_slope_is_excluded_by_default_with_its_reason():
    study = _study([{"criterion": "slope", "op": ">", "value": 25}])
    raw = {"slope": np.array([10.0, 31.2, NAN])}
    out = apply_constraints(_parcels(x=[0, 0, 0]), study, raw)
    assert out["excluded"].tolist() == [False, True, True]
    assert out["exclusion_reason"].tolist() == ["", "Slope (percent): 31.2 > 25",
                                                "Slope (percent) unknown (no data)"]
    assert out.loc[2, "exclusion_reason_zh"] == "坡度未知（无数据）"
    # Unknown also for "<": a missing value is not a small value either.
    study = _study([{"criterion": "slope", "op": "<", "value": 5}])
    assert apply_constraints(_parcels(x=[0, 0, 0]), study, raw)["excluded"].tolist() == [
        False, False, True]


def test_missing_keep_leaves_unknown_parcels_in():
    study = _study([{"criterion": "slope", "op": ">", "value": 25, "missing": "keep"}])
    out = apply_constraints(_parcels(x=[0, 0, 0]), study,
                            {"slope": np.array([10.0, 31.2, NAN])})
    assert out["excluded"].tolist() == [False, True, False]


def test_configured_reason_is_not_used_for_an_unknown_value():
    study = _study([{"criterion": "slope", "op": ">", "value": 25, "reason_en": "too steep",
                     "reason_zh": "过陡"}])
    out = apply_constraints(_parcels(x=[0, 0]), study, {"slope": np.array([31.0, NAN])})
    assert out["exclusion_reason"].tolist() == ["too steep", "Slope (percent) unknown (no data)"]
    assert out["exclusion_reason_zh"].tolist() == ["过陡", "坡度未知（无数据）"]


def test_missing_attributes_numeric_yes_no_and_text():
    gdf = _parcels(far=[2.0, NAN, 3.5], clean_land=[True, None, False],
                   landuse_code=["0701", "", None])
    cases = [  # (constraint, excluded by default, excluded with missing = "keep")
        ({"column": "far", "op": ">", "value": 3}, [False, True, True], [False, False, True]),
        ({"column": "净地", "op": "==", "value": False}, [False, True, True],
         [False, False, True]),
        ({"column": "landuse_code", "op": "!=", "value": "0701"}, [False, True, True],
         [False, False, False]),
    ]
    for spec, default, keep in cases:
        assert apply_constraints(gdf, _study([spec]), {})["excluded"].tolist() == default
        kept = apply_constraints(gdf, _study([{**spec, "missing": "keep"}]), {})
        assert kept["excluded"].tolist() == keep
    out = apply_constraints(gdf, _study([cases[0][0]]), {})
    assert out.loc[1, "exclusion_reason"] == "Floor-area ratio unknown (no data)"
    assert out.loc[1, "exclusion_reason_zh"] == "容积率未知（无数据）"


def test_zero_count_is_a_real_count():
    study = _study([{"criterion": "parks", "op": "<", "value": 1}])
    out = apply_constraints(_parcels(x=[0, 0]), study, {"parks": np.array([0.0, 2.0])})
    assert out["excluded"].tolist() == [True, False]
    assert out.loc[0, "exclusion_reason"] == "Park: count: 0 < 1"


# ----------------------------------------------------------------------------- config


def test_missing_policy_is_validated():
    with pytest.raises(ConfigError, match=r"constraints\[0\].missing = 'drop'.*exclude"):
        _study([{"criterion": "slope", "op": ">", "value": 25, "missing": "drop"}])
    with pytest.raises(ConfigError, match=r"constraints\[0\].*takes no missing policy"):
        _study([{"builtin": "unreachable", "missing": "keep"}])
    with pytest.raises(ConfigError) as err:
        _study([{"criterion": "kg", "op": ">", "value": 1000, "missing": "keep"}])
    assert "constraints[0].missing = 'keep'" in str(err.value)
    assert "infinitely far" in str(err.value) and err.value.fix == \
        "remove missing from this constraint."
    with pytest.raises(ConfigError, match=r"constraints\[0\].value = 'far'.*must be a number"):
        _study([{"column": "dist_kindergarten_m", "op": "==", "value": "far"}])


def test_metadata_records_the_missing_policy():
    from siteplan.scoring.score import scoring_metadata

    study = _study([{"criterion": "slope", "op": ">", "value": 25, "missing": "keep"},
                    {"criterion": "kg", "op": ">", "value": 1000},
                    {"builtin": "unreachable"}])
    meta = [c["missing"] for c in scoring_metadata(study)["constraints"]]
    assert meta == ["keep", "beyond search limit", None]
