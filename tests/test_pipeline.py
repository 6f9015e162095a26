"""The bundled Taiyuan study end to end, through the Python API a notebook would use."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from siteplan.core.errors import SiteplanWarning
from siteplan.outputs.summary import summary_text
from siteplan.outputs.writers import write_outputs
from siteplan.pipeline import DEMO_STUDY, run_catchments, run_study
from siteplan.study.model import Study, load_study

SEED = {"kindergarten": 300.0, "primary_school": 500.0, "middle_school": 1000.0}
# One Taiyuan polygon is invalid as mapped (test_facilities.py relies on it): every run of the
# demo study repairs it and says so.
REPAIRED = r"taiyuan_osm_multipolygons\.geojson: repaired 1 invalid geometry"
# The tests have no Tianditu key: the web maps leave those basemaps out and say so.
NO_TIANDITU_KEY = pytest.mark.filterwarnings(
    "ignore:no Tianditu key:siteplan.core.errors.SiteplanWarning")


def _digest(paths) -> dict[str, str]:
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def demo():
    study = load_study(DEMO_STUDY)
    inputs = [*study.inputs.paths(), DEMO_STUDY]
    before = _digest(inputs)
    with pytest.warns(SiteplanWarning, match=REPAIRED):
        result = run_study(study)
    return study, result, inputs, before


def test_every_parcel_has_access_and_an_explainable_score(demo):
    study, result, *_ = demo
    p = result.parcels
    assert len(p) == len(gpd.read_file(study.inputs.parcels.path, layer="parcels"))
    for cls in SEED:
        assert f"dist_{cls}_m" in p and f"meets_{cls}_radius" in p
        d = p[f"dist_{cls}_m"]
        assert not (d < 0).any() and not (d > study.network.search_limit_m).any()
        # Compliance follows the network distance, NaN (unreachable) failing.
        np.testing.assert_array_equal(p[f"meets_{cls}_radius"].astype(bool),
                                      (d <= SEED[cls]).fillna(False).to_numpy(bool))
    points = [f"{c.name}_points" for c in study.criteria]
    np.testing.assert_allclose(p[points].sum(axis=1), p["score"], atol=1e-6)
    ranked = result.ranked()
    assert ranked["rank"].tolist() == sorted(ranked["rank"].tolist())
    assert ranked["score"].is_monotonic_decreasing
    excluded = p[p["excluded"].astype(bool)]
    assert len(excluded) > 0 and excluded["exclusion_reason"].str.len().gt(0).all()
    assert excluded["rank"].isna().all()
    unreachable = p["unreachable"].astype(bool)
    assert unreachable.sum() == (result.unreachable["kind"] == "target").sum()
    assert excluded["parcel_id"].isin(p.loc[unreachable, "parcel_id"]).sum() == unreachable.sum()


def test_catchments_coverage_and_blind_spots(demo):
    study, result, *_ = demo
    cat = result.catchments
    for cls, radius in SEED.items():
        rows = cat[cat["class"] == cls]
        assert len(rows) > 0 and (rows["radius_m"] == radius).all()
        assert rows["facility_id"].notna().all()
        assert rows.geometry.is_valid.all()
    # Proxy classes are drawn dissolved: one polygon each.
    assert (cat["class"] == "bus_corridor").sum() == 1
    cov = result.coverage.set_index("class")
    # The street-frontage land measure, kept under its own name, and its land left outside.
    land = cov["covered_land_share_frontage"]
    assert ((land >= 0) & (land <= 1)).all()
    covered = cov["covered_land_m2_frontage"]
    assert covered["middle_school"] > covered["kindergarten"]
    outside = result.blind_spots_frontage
    assert set(outside["class"]) <= set(cat["class"])
    for cls in SEED:
        left = outside.loc[outside["class"] == cls, "area_m2"].sum()
        assert left == pytest.approx(cov.loc[cls, "residential_m2"] - covered[cls], rel=0.02)
    # The served-unit blind spots: the units not served, class by class.
    spots = result.blind_spots
    assert set(spots["class"]) <= set(cat["class"])
    for cls in SEED:
        mine = spots[spots["class"] == cls]
        assert len(mine) == cov.loc[cls, "n_units"] - cov.loc[cls, "n_units_served"] > 0
    text = summary_text(result)
    assert "Top 10 parcels" in text and "Coverage kindergarten (300 m)" in text


def test_served_units_per_class_on_the_demo(demo):
    """Residential areas, their area and (estimated) residents served, per class."""
    study, result, *_ = demo
    cov = result.coverage.set_index("class")
    units = result.units
    assert len(units) == cov.loc["kindergarten", "n_units"] == len(result.residential) > 50
    for cls in SEED:
        served = units[f"served_{cls}"].to_numpy(bool)
        np.testing.assert_array_equal(served, (units[f"dist_{cls}_m"] <= SEED[cls]).to_numpy())
        row = cov.loc[cls]
        assert row["n_units_served"] == served.sum()
        assert row["served_m2"] == pytest.approx(units.loc[served, "area_m2"].sum())
        assert row["residents_served"] == pytest.approx(units.loc[served, "residents"].sum())
        assert row["residents_estimated"]  # OSM has no population: area x FAR, said so
        # Parcels within the radius are the compliance columns' count.
        assert row["n_parcels_served"] == result.parcels[f"meets_{cls}_radius"].sum()
    # Served units measure more than the land along reached streets ever could.
    assert (cov.loc[list(SEED), "area_served_share"]
            > cov.loc[list(SEED), "covered_land_share_frontage"]).all()
    assert (units["residents_basis"].str.startswith("estimate")).all()
    # Blind spots differ between classes.
    spots = result.blind_spots
    sets = {c: frozenset(spots.loc[spots["class"] == c, "unit_id"]) for c in SEED}
    assert len(set(sets.values())) == 3
    assert sets["middle_school"] < sets["kindergarten"]
    # Every distance has the nearest facility's name next to it.
    fac = result.facilities
    p = result.parcels
    for cls in SEED:
        names = fac[fac["class"] == cls].set_index("facility_id")["name"]
        ids, got = p[f"nearest_{cls}_id"], p[f"nearest_{cls}_name"]
        known = ids.notna()
        assert known.sum() > 0
        expect = names.reindex(ids[known].to_numpy()).to_numpy()
        assert list(got[known]) == list(expect)
        assert got[~known].isna().all()


def test_summary_prints_compliance_counts_of_the_parcels_table(demo):
    _, result, *_ = demo
    text = summary_text(result)
    p = result.parcels
    n = len(p)
    for cls, radius in SEED.items():
        k = int(p[f"meets_{cls}_radius"].sum())
        assert f"  {cls} within {radius:g} m: {k:,} of {n:,} parcels ({100 * k / n:.1f} %)" in text
    every = int(p["compliant_all"].sum())
    kept = ~p["excluded"].astype(bool)
    assert (f"  all three: {every:,} of {n:,} parcels ({100 * every / n:.1f} %); "
            f"{int(p.loc[kept, 'compliant_all'].sum()):,} of {int(kept.sum()):,} not excluded"
            in text)
    assert "of residents (estimated); street-frontage land" in text


def test_outputs_every_layer_crs_and_deterministic(demo, tmp_path):
    study, result, inputs, before = demo
    first = write_outputs(result, tmp_path / "a", formats=["csv", "gpkg"])
    second = write_outputs(result, tmp_path / "b", formats=["csv", "gpkg"])
    assert first["csv"].read_bytes() == second["csv"].read_bytes()
    layers = {str(n) for n in pyogrio.list_layers(first["gpkg"])[:, 0]}
    expected = {"parcels", "facilities_points", "facilities_areas", "coverage",
                "residential_units", "unreachable", "blind_spots_frontage", "layer_styles"}
    expected |= {f"catchments_{c}" for c in SEED} | {f"blind_spots_{c}" for c in SEED}
    assert expected <= layers
    for name in layers - {"coverage", "unreachable", "metadata"}:
        info = pyogrio.read_info(first["gpkg"], layer=name)
        if info["geometry_type"] is not None:
            assert info["crs"] == "EPSG:32649", name
    back = gpd.read_file(first["gpkg"], layer="parcels")
    assert {"dist_kindergarten_m", "score", "rank", "required_childcare_places"} <= set(back)
    spots = gpd.read_file(first["gpkg"], layer="blind_spots_kindergarten")
    mine = result.blind_spots[result.blind_spots["class"] == "kindergarten"]
    assert list(spots["unit_id"]) == list(mine["unit_id"])
    assert {"name", "dist_m", "missed_by_m", "residents"} <= set(spots)
    # The seed compliance counts are in the shortlist metadata.
    meta = json.loads(first["meta"].read_text(encoding="utf-8"))["seed_compliance"]
    assert meta["all"]["n_meeting"] == int(result.parcels["compliant_all"].sum())
    assert meta["kindergarten"]["n_parcels"] == len(result.parcels)
    # No temporary files left behind (the one hidden file is the folder's manifest), and the
    # inputs are untouched.
    hidden = [p.name for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]
    assert hidden == [".siteplan-outputs.json"]
    assert _digest(inputs) == before


@NO_TIANDITU_KEY
def test_maps_are_written_with_the_study_stem(demo, tmp_path):
    _, result, *_ = demo
    out = write_outputs(result, tmp_path, formats=["html", "png"], offline=True)
    assert out["map"].name == "taiyuan.html" and out["png"].name == "taiyuan.png"
    html = out["map"].read_text(encoding="utf-8")
    assert "OpenStreetMap" in html and "<script src=\"http" not in html
    assert out["png"].stat().st_size > 10_000
    # Seed compliance at a glance in the legend: every rule's count of all the parcels.
    n = len(result.parcels)
    k = int(result.parcels["meets_primary_school_radius"].sum())
    assert f"{k:,} / {n:,} ({100 * k / n:.1f} %)" in html and "all three" in html


def test_xlsx_has_the_compliance_and_coverage_sheets(demo, tmp_path):
    from openpyxl import load_workbook

    from siteplan.scoring.compliance import compliance_counts

    study, result, *_ = demo
    out = write_outputs(result, tmp_path, formats=["xlsx"])
    book = load_workbook(out["xlsx"], read_only=True)
    assert book.sheetnames == ["汇总 Summary", "排名 Ranking", "排除地块 Excluded",
                               "评价因子 Criteria", "达标统计 Seed compliance",
                               "服务覆盖 Service coverage", "设施识别报告 Facilities report",
                               "研究元数据 Study metadata"]
    rows = list(book["达标统计 Seed compliance"].iter_rows(values_only=True))
    book.close()
    assert rows[1][:4] == ("rule", "radius_m", "n_parcels", "n_meeting")
    counts = compliance_counts(result.parcels, study.compliance.radii)
    assert [r[0] for r in rows[2:]] == list(counts["rule"])
    assert [r[3] for r in rows[2:]] == list(counts["n_meeting"])
    assert rows[-1][0] == "all" and rows[-1][3] == int(result.parcels["compliant_all"].sum())


def test_catchments_only_run(demo):
    study, *_ = demo
    with pytest.warns(SiteplanWarning, match=REPAIRED):
        res = run_catchments(study, mode="dissolve")
    assert res.catchments["facility_id"].isna().all()
    assert set(SEED) <= set(res.catchments["class"])
    assert set(res.coverage["class"]) == set(res.catchments["class"])
    assert "n_parcels" in res.coverage


def test_unknown_output_format_is_refused(demo, tmp_path):
    from siteplan.core.errors import InputError

    _, result, *_ = demo
    with pytest.raises(InputError, match="format"):
        write_outputs(result, tmp_path, formats=["pdf"])


@NO_TIANDITU_KEY
def test_study_runs_from_a_copied_folder_with_relative_paths_and_a_boundary(tmp_path, demo):
    """A bureau copies the study folder elsewhere and adds its study boundary."""
    src = Path(DEMO_STUDY).parent
    for name in ("taiyuan_osm_lines.geojson", "taiyuan_osm_multipolygons.geojson",
                 "parcels.gpkg"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    text = (src / "study.toml").read_text(encoding="utf-8")
    text = text.replace("[inputs]\n", '[inputs]\n', 1).replace(
        "\n[inputs]\n", '\nboundary = "boundary.geojson"\n\n[inputs]\n', 1)
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    parcels = gpd.read_file(src / "parcels.gpkg", layer="parcels")
    hull = gpd.GeoDataFrame({"name": ["<b>研究范围</b>"]},
                            geometry=[parcels.union_all().convex_hull], crs=parcels.crs)
    hull.to_file(tmp_path / "boundary.geojson")
    study = load_study(tmp_path / "study.toml")
    assert Path(study.inputs.streets).parent == tmp_path
    assert Path(study.study.boundary) == tmp_path / "boundary.geojson"
    with pytest.warns(SiteplanWarning, match=REPAIRED):
        result = run_study(study)
    pd.testing.assert_series_equal(result.parcels["score"], demo[1].parcels["score"])
    assert result.boundary is not None and result.boundary.crs == result.network.crs
    out = write_outputs(result, tmp_path / "out", formats=["gpkg", "html"])
    back = gpd.read_file(out["gpkg"], layer="boundary")
    assert back.geometry.iloc[0].area == pytest.approx(
        hull.to_crs(result.network.crs).geometry.iloc[0].area, rel=1e-9)
    html = out["map"].read_text(encoding="utf-8")
    assert "研究范围" in html or "\\u7814" in html  # the layer is drawn with its name
    assert "<b>研究范围</b>" not in html  # ... escaped


@NO_TIANDITU_KEY
def test_demo_reports_network_checks_and_the_thin_kindergarten_layer(demo, tmp_path):
    import json

    from openpyxl import load_workbook

    _, result, *_ = demo
    text = summary_text(result)
    # The network report lines: what the china-walk profile and coincident nodes did.
    assert "  walk profile china-walk: 227 elevated or expressway line(s) (108.1 km)" in text
    assert "  coincident nodes: 0 merged, 18 kept apart (10 bridge, 3 tunnel, 5 layer)" in text
    # 2 kindergartens for central Taiyuan: the criterion rates nearly every parcel 0.
    [thin] = result.thin_layers
    assert (thin.class_, thin.n_facilities) == ("kindergarten", 2)
    # Measured: 975 of the 982 ranked parcels (the README quotes it).
    assert thin.zero_ratings["kindergarten_walk"] == (975, 982)
    assert f"Data gap: {thin.message}" in text
    assert "education bureau" in thin.message and "[inputs]" in thin.message
    written = write_outputs(result, tmp_path, formats=["xlsx", "gpkg", "html"], offline=True)
    meta = json.loads(written["meta"].read_text(encoding="utf-8"))
    assert [t["class"] for t in meta["thin_layers"]] == ["kindergarten"]
    assert "Data gap: thin facility layer" in written["map"].read_text(encoding="utf-8")
    # The facilities report: a GeoPackage layer and an XLSX sheet, one row per feature.
    report = gpd.read_file(written["gpkg"], layer="facilities_report")
    assert len(report) == len(result.facilities_report) == 5
    assert {"太原学院", "山西省经贸学校", "山西省疾病预防控制中心"} <= set(report["name"])
    assert list(report.columns[:5]) == ["facility_id", "name", "group", "tags", "reason"]
    book = load_workbook(written["xlsx"], read_only=True)
    rows = list(book["设施识别报告 Facilities report"].iter_rows(values_only=True))
    book.close()
    assert rows[1][:5] == ("facility_id", "name", "group", "tags", "reason")
    assert {r[1] for r in rows[2:]} == set(report["name"])


def test_network_settings_of_a_study(taiyuan_lines):
    from siteplan.core.errors import ConfigError
    from siteplan.pipeline import _network

    base = {"study": {"name": "net"}, "inputs": {"streets": "streets.geojson"}}
    old = Study.model_validate(
        {**base, "network": {"walk_profile": "osmnx-walk", "coincident_nodes": "keep"}})
    net = _network(old, taiyuan_lines)
    # osmnx-walk with node-id topology is siteplan's graph before the ground-truth rules.
    assert (net.n_nodes, net.n_edges) == (6147, 8807)
    new = Study.model_validate(base)
    assert (new.network.walk_profile, new.network.coincident_nodes) == ("china-walk", "merge")
    assert _network(new, taiyuan_lines).n_nodes == 5896
    with pytest.raises(ConfigError, match='walk_profile = "osmnx-walk"'):
        Study.model_validate(
            {**base, "network": {"profile": "osmnx-walk"}})
