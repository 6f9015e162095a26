"""Seed compliance (好房子 三(二)8): pass/fail by network distance and what must be added."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from siteplan.core.defaults import SEED_RADII_M
from siteplan.core.errors import InputError
from siteplan.scoring.compliance import must_provide_text, seed_compliance

NOTE_ZH = "同时设计、同时施工、同时验收、同时交付"


@pytest.fixture
def parcels() -> pd.DataFrame:
    return pd.DataFrame({
        "parcel_id": ["a", "b", "c", "d"],
        # a passes all; b fails kindergarten (301 m) and primary (500.5 m); c cannot reach a
        # kindergarten (NaN) and is 1001 m from a middle school; d is exactly on each radius.
        "dist_kindergarten_m": [120.0, 301.0, np.nan, 300.0],
        "dist_primary_school_m": [480.0, 500.5, 20.0, 500.0],
        "dist_middle_school_m": [999.0, 400.0, 1001.0, 1000.0],
    })


def test_flags(parcels):
    out = seed_compliance(parcels)
    assert out["meets_kindergarten_radius"].tolist() == [True, False, False, True]
    assert out["meets_primary_school_radius"].tolist() == [True, False, True, True]
    assert out["meets_middle_school_radius"].tolist() == [True, True, False, True]
    assert out["compliant_all"].tolist() == [True, False, False, True]
    assert "meets_kindergarten_radius" not in parcels.columns  # input not modified


def test_what_must_be_added(parcels):
    out = seed_compliance(parcels)
    zh = out["compliance_required_zh"].tolist()
    en = out["compliance_required"].tolist()
    assert zh[0] == "" and en[0] == "" and zh[3] == ""
    assert zh[1] == f"须配建幼儿园；须配建小学（{NOTE_ZH}）"
    assert zh[2] == f"须配建幼儿园；须配建初中（{NOTE_ZH}）"
    assert en[1].startswith("must provide a kindergarten on site; must provide a primary "
                            "school on site (")
    assert "designed, built, accepted and delivered together with the housing" in en[1]


def test_without_note_and_custom_radii(parcels):
    out = seed_compliance(parcels, radii_m={"kindergarten": 400.0}, include_note=False)
    assert out["meets_kindergarten_radius"].tolist() == [True, True, False, True]
    assert out["compliance_required_zh"].tolist() == ["", "", "须配建幼儿园", ""]
    assert "meets_primary_school_radius" not in out.columns


def test_must_provide_text_articles():
    assert must_provide_text("kindergarten") == "须配建幼儿园 (must provide a kindergarten on site)"
    assert must_provide_text("elderly_care", "en") == "must provide an elderly care on site"
    assert must_provide_text("middle_school", "zh") == "须配建初中"


def test_seed_radii_are_the_clause():
    assert SEED_RADII_M == {"kindergarten": 300.0, "primary_school": 500.0,
                            "middle_school": 1000.0}


def test_missing_distance_column(parcels):
    with pytest.raises(InputError, match="dist_middle_school_m"):
        seed_compliance(parcels.drop(columns="dist_middle_school_m"))


@pytest.mark.parametrize("radius", [0, -1, float("nan"), "300", True])
def test_bad_radius(parcels, radius):
    with pytest.raises(InputError, match="positive number"):
        seed_compliance(parcels, radii_m={"kindergarten": radius})
