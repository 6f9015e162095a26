"""Programme calculator (好房子 三(二)8 ratios), numbers worked out by hand."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siteplan.core.errors import InputError
from siteplan.scoring.programme import (
    REQUIRED_COLUMNS,
    format_assumptions,
    programme,
    programme_table,
    requirements_reference,
)


def _row(out: pd.DataFrame, i: int) -> dict:
    return {c: out[c].iloc[i] for c in out.columns}


def test_area_times_far_by_hand():
    df = pd.DataFrame({"parcel_id": ["p"], "area_m2": [10_000.0], "far": [2.5]})
    r = _row(programme(df), 0)
    # GFA 10 000 x 2.5 = 25 000 m²; 25 000 / 100 = 250 households; x 2.62 = 655 residents.
    assert r["est_gfa_m2"] == 25_000 and r["est_households"] == 250
    assert r["est_residents"] == pytest.approx(655.0)
    # Childcare 655 x 10 / 1000 = 6.55 -> 7 places, x 8 m² = 56 m².
    assert r["required_childcare_places"] == 7 and r["required_childcare_m2"] == 56
    # Elderly-care land 655 x 0.1 = 65.5 -> 66 m².
    assert r["required_elderly_land_m2"] == 66
    # Parking 250 x 1.2 = 300 spaces, 300 x 2.5 x 5.3 = 3975 m², all with charging provision.
    assert r["required_parking_spaces"] == 300 and r["required_parking_bay_m2"] == 3975
    assert r["required_charging_spaces"] == 300
    # Property-service rooms 3 % of 25 000 = 750 m².
    assert r["required_property_service_m2"] == 750
    assert r["programme_basis"] == "area × FAR" and not r["households_declared"]


def test_partial_dwelling_rounds_up():
    df = pd.DataFrame({"area_m2": [3_333.0], "far": [1.0]})
    r = _row(programme(df), 0)
    # 3333 / 100 = 33.33 -> 34 households; 34 x 2.62 = 89.08 residents.
    assert r["est_households"] == 34 and r["est_residents"] == pytest.approx(89.08)
    # 0.8908 -> 1 place; 8.908 -> 9 m²; 40.8 -> 41 spaces; 99.99 -> 100 m².
    assert r["required_childcare_places"] == 1 and r["required_elderly_land_m2"] == 9
    assert r["required_parking_spaces"] == 41 and r["required_property_service_m2"] == 100


def test_declared_households_win():
    df = pd.DataFrame({"area_m2": [10_000.0, np.nan], "far": [2.5, np.nan],
                       "households": [101.0, 40.0]})
    out = programme(df)
    a, b = _row(out, 0), _row(out, 1)
    # 101 x 2.62 = 264.62 residents -> 2.6462 -> 3 places; 26.462 -> 27 m²; 121.2 -> 122.
    assert a["est_households"] == 101 and a["households_declared"]
    assert a["required_childcare_places"] == 3 and a["required_elderly_land_m2"] == 27
    assert a["required_parking_spaces"] == 122
    assert a["est_gfa_m2"] == 25_000  # GFA still from area x FAR where known
    # Only households: GFA = 40 x 100 = 4000 m², property-service 120 m².
    assert b["est_gfa_m2"] == 4_000 and b["required_property_service_m2"] == 120
    assert b["programme_basis"] == "declared households"


def test_missing_far_is_not_invented_unless_defaulted():
    df = pd.DataFrame({"area_m2": [10_000.0], "far": [np.nan]})
    out = programme(df)
    assert pd.isna(out["est_households"].iloc[0])
    assert pd.isna(out["required_parking_spaces"].iloc[0])
    assert np.isnan(out["required_property_service_m2"].iloc[0])
    r = _row(programme(df, default_far=2.0), 0)
    assert r["est_households"] == 200 and r["programme_basis"] == "area × default FAR"


def test_polygon_area_when_no_area_attribute():
    gdf = gpd.GeoDataFrame({"far": [2.0]}, geometry=[shapely.box(0, 0, 100, 50)],
                           crs="EPSG:32649")
    r = _row(programme(gdf), 0)
    assert r["est_gfa_m2"] == 10_000 and r["programme_basis"] == "polygon area × FAR"


def test_custom_assumptions():
    df = pd.DataFrame({"area_m2": [10_000.0], "far": [2.0]})
    r = _row(programme(df, dwelling_size_m2=80, persons_per_household=3.0,
                       property_service_share=0.003), 0)
    # 20 000 / 80 = 250 households, 750 residents; 3 ‰ of 20 000 = 60 m².
    assert r["est_households"] == 250 and r["est_residents"] == 750
    assert r["required_childcare_places"] == 8 and r["required_property_service_m2"] == 60
    out = programme(df, dwelling_size_m2=80)
    assert out.attrs["programme_assumptions"]["dwelling_size_m2"] == 80


def test_columns_and_input_untouched():
    df = pd.DataFrame({"area_m2": [1.0], "far": [1.0]})
    out = programme(df)
    assert list(out.columns[-len(REQUIRED_COLUMNS):]) == list(REQUIRED_COLUMNS)
    assert list(df.columns) == ["area_m2", "far"]


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"dwelling_size_m2": 0}, "dwelling_size_m2"),
    ({"persons_per_household": -1}, "persons_per_household"),
    ({"charging_share": 1.5}, "charging_share"),
    ({"default_far": 0}, "default_far"),
])
def test_bad_assumptions(kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        programme(pd.DataFrame({"area_m2": [1.0], "far": [1.0]}), **kwargs)


def test_negative_inputs_and_missing_columns():
    with pytest.raises(InputError, match="negative"):
        programme(pd.DataFrame({"parcel_id": ["x"], "area_m2": [-1.0], "far": [1.0]}))
    with pytest.raises(InputError, match="area × FAR"):
        programme(pd.DataFrame({"area_m2": [1.0]}))


def test_table_units_and_clauses():
    df = pd.DataFrame({"area_m2": [10_000.0], "far": [2.5]})
    rows = programme_table(programme(df).iloc[0])
    by_item = {r["item"]: r for r in rows}
    assert by_item["required_childcare_places"]["value"] == 7
    assert by_item["required_childcare_places"]["unit"] == "places"
    assert by_item["required_parking_bay_m2"]["rule"].endswith("= 13.25 m²")
    assert all("三(二)8" in r["clause"] for r in rows)
    assert by_item["required_elderly_land_m2"]["label_zh"].startswith("养老")
    ref = requirements_reference()
    assert len(ref) == len(REQUIRED_COLUMNS) and set(ref["unit"]) == {"places", "m²", "spaces"}


def test_assumptions_are_printable():
    lines = format_assumptions({"dwelling_size_m2": 90})
    assert any(line.startswith("dwelling_size_m2 = 90 ") for line in lines)
    assert any("2.62" in line and "2020 census" in line for line in lines)
    assert len(lines) == 10
