"""Shortlist outputs: CSV (UTF-8 BOM, byte-identical), XLSX structure, GeoPackage, metadata."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from siteplan.core.errors import InputError
from siteplan.core.version import __version__
from siteplan.outputs.cells import column_decimals
from siteplan.outputs.shortlist import (
    run_metadata,
    shortlist_csv_bytes,
    study_run_metadata,
    write_shortlist,
)
from siteplan.study.model import load_study

ROOT = Path(__file__).resolve().parents[1]
X0, Y0 = 500_000.0, 4_200_000.0


@pytest.fixture
def scored() -> gpd.GeoDataFrame:
    geoms = [shapely.box(X0 + 100 * i, Y0, X0 + 100 * i + 50, Y0 + 50) for i in range(5)]
    return gpd.GeoDataFrame({
        "parcel_id": ["c", "a", "e", "b", "d"],
        "score": [70.126, 80.0, 12.0, 55.5, 90.0],
        "rank": pd.array([2, 1, pd.NA, 3, pd.NA], dtype="Int64"),
        "excluded": [False, False, True, False, True],
        "exclusion_reason": ["", "", "smaller than 1 ha", "", "cannot reach the street network"],
        "exclusion_reason_zh": ["", "", "面积小于1公顷", "", "无法接入步行路网"],
        "dist_kindergarten_m": [250.04, np.nan, 1200.0, 80.0, -0.01],
        "n_park_1000m": [2, 0, 1, 3, 0],
        "kg_points": [33.333333, 50.0, 0.0, 10.0, 0.0],
        "name": ["=HYPERLINK(\"x\")", "太原一号地块", "-5", "+1", "@sum"],
    }, geometry=geoms, crs="EPSG:32649")


@pytest.fixture
def metadata(tmp_path) -> dict:
    cfg = tmp_path / "study.toml"
    cfg.write_text('[study]\nname = "t"\n', encoding="utf-8")
    data = tmp_path / "parcels.geojson"
    data.write_bytes(b'{"type": "FeatureCollection", "features": []}')
    return run_metadata(cfg, [data], "EPSG:32649")


def _csv_rows(path: Path) -> list[list[str]]:
    import csv
    import io

    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_csv_bom_order_and_formats(scored, metadata, tmp_path):
    paths = write_shortlist(scored, tmp_path / "out", metadata=metadata, formats=["csv"])
    raw = paths["csv"].read_bytes()
    assert raw[:3] == b"\xef\xbb\xbf" and b"\r\n" in raw
    rows = _csv_rows(paths["csv"])
    header = rows[0]
    assert header[:6] == ["parcel_id", "rank", "score", "excluded", "exclusion_reason",
                          "exclusion_reason_zh"]
    # Ranked parcels by rank, then the excluded ones by parcel id.
    assert [r[0] for r in rows[1:]] == ["a", "c", "b", "d", "e"]
    row_c = dict(zip(header, rows[2], strict=True))
    assert row_c["score"] == "70.13" and row_c["kg_points"] == "33.33"
    assert row_c["dist_kindergarten_m"] == "250.0" and row_c["n_park_1000m"] == "2"
    assert row_c["name"] == "'=HYPERLINK(\"x\")"  # a formula is written as text
    row_a = dict(zip(header, rows[1], strict=True))
    assert row_a["dist_kindergarten_m"] == "" and row_a["name"] == "太原一号地块"
    row_d = dict(zip(header, rows[4], strict=True))
    assert row_d["dist_kindergarten_m"] == "0.0"  # -0.01 rounds to 0.0, not -0.0
    assert row_d["rank"] == "" and row_d["excluded"] == "TRUE"
    assert row_d["exclusion_reason_zh"] == "无法接入步行路网"
    # lon/lat of a point inside each parcel (WGS84), with 6 decimals.
    assert len(row_c["lon"].split(".")[1]) == 6 and 110 < float(row_c["lon"]) < 115
    assert "created_utc" not in raw.decode("utf-8-sig")


def test_csv_is_byte_identical_between_runs(scored, metadata, tmp_path):
    first = write_shortlist(scored, tmp_path / "one", metadata=metadata, formats=["csv"])
    later = dict(metadata, created_utc="2099-01-01T00:00:00+00:00")
    second = write_shortlist(scored.iloc[::-1], tmp_path / "two", metadata=later,
                             formats=["csv"])
    assert first["csv"].read_bytes() == second["csv"].read_bytes()
    again = write_shortlist(scored, tmp_path / "one", metadata=metadata, formats=["csv"])
    assert again["csv"].read_bytes() == first["csv"].read_bytes()
    # Only the shortlist files are there: no temporary files left behind.
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [".siteplan-outputs.json",
                                                                  "shortlist.csv",
                                                                  "shortlist.meta.json"]


def test_top_n_keeps_every_excluded_parcel(scored, metadata, tmp_path):
    paths = write_shortlist(scored, tmp_path, metadata=metadata, formats=["csv"], top_n=2)
    assert [r[0] for r in _csv_rows(paths["csv"])[1:]] == ["a", "c", "d", "e"]
    meta = json.loads(paths["meta"].read_text(encoding="utf-8"))
    assert meta["shortlist"] == {"top_n": 2, "n_parcels_in": 5, "n_ranked_written": 2,
                                 "n_excluded_written": 2}


def test_xlsx_structure(scored, metadata, tmp_path):
    labels = {"kg": ("Kindergarten walk", "幼儿园步行")}
    paths = write_shortlist(scored, tmp_path, metadata=metadata, formats=["xlsx"],
                            labels=labels)
    wb = openpyxl.load_workbook(paths["xlsx"])
    assert wb.sheetnames == ["排名 Ranking", "排除地块 Excluded", "研究元数据 Study metadata"]
    ranking, excluded, meta = wb.worksheets
    headers = [c.value for c in ranking[1]]
    names = [c.value for c in ranking[2]]
    assert headers[names.index("score")] == "综合得分 (0-100)\nScore (0-100)"
    assert headers[names.index("rank")] == "排名\nRank"
    assert headers[names.index("kg_points")] == "幼儿园步行 (加权得分)\nKindergarten walk (weighted points)"
    assert names[:4] == ["rank", "parcel_id", "name", "score"]
    assert ranking.freeze_panes == "C3" and meta.freeze_panes == "A2"
    col = names.index("score") + 1
    assert [ranking.cell(row=r, column=col).value for r in (3, 4, 5)] == [80.0, 70.13, 55.5]
    assert ranking.cell(row=3, column=col).number_format == "0.00"
    dist = ranking.cell(row=3, column=names.index("dist_kindergarten_m") + 1)
    assert dist.value is None
    assert ranking.cell(row=4, column=names.index("n_park_1000m") + 1).number_format == "0"
    formula = ranking.cell(row=4, column=names.index("name") + 1)
    assert formula.data_type == "s" and formula.value == '=HYPERLINK("x")'
    assert ranking.max_row == 5 and excluded.max_row == 4
    ex_names = [c.value for c in excluded[2]]
    reasons = [excluded.cell(row=r, column=ex_names.index("exclusion_reason_zh") + 1).value
               for r in (3, 4)]
    assert reasons == ["无法接入步行路网", "面积小于1公顷"]
    keys = {meta.cell(row=r, column=1).value: meta.cell(row=r, column=2).value
            for r in range(2, meta.max_row + 1)}
    assert keys["siteplan_version"] == __version__ and keys["crs"] == "EPSG:32649"
    assert len(keys["config_sha256"]) == 64 and keys["created_utc"]
    assert keys["inputs[0].sha256"] == metadata["inputs"][0]["sha256"]


def test_gpkg_layers_and_metadata_sidecar(scored, metadata, tmp_path):
    facilities = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"]},
                                  geometry=[shapely.Point(X0, Y0)], crs="EPSG:32649")
    paths = write_shortlist(scored, tmp_path, metadata=metadata, formats=["csv", "gpkg"],
                            layers={"facilities": facilities,
                                    "coverage": pd.DataFrame({"class": ["k"], "share": [0.5]})})
    layers = dict(pyogrio.list_layers(paths["gpkg"]))
    assert set(layers) == {"parcels", "facilities", "coverage", "metadata", "layer_styles"}
    parcels = gpd.read_file(paths["gpkg"], layer="parcels")
    assert parcels["parcel_id"].tolist() == ["a", "c", "b", "d", "e"]
    assert parcels.crs.to_epsg() == 32649
    meta_table = gpd.read_file(paths["gpkg"], layer="metadata")
    assert "siteplan_version" in meta_table["key"].tolist()
    sidecar = json.loads(paths["meta"].read_text(encoding="utf-8"))
    for kind in ("csv", "gpkg"):
        digest = hashlib.sha256(paths[kind].read_bytes()).hexdigest()
        assert sidecar["outputs"][kind]["sha256"] == digest
    with pytest.raises(InputError, match="clash"):
        write_shortlist(scored, tmp_path, metadata=metadata, layers={"parcels": facilities})


def test_gpkg_holds_every_parcel_whatever_the_top_n(scored, metadata, tmp_path):
    # The CSV keeps the top 2 plus the excluded; the GeoPackage, which `siteplan map` redraws
    # from, keeps all five in the same order (ranked by rank, then excluded by id).
    paths = write_shortlist(scored, tmp_path, metadata=metadata, formats=["csv", "gpkg"],
                            top_n=2)
    assert [r[0] for r in _csv_rows(paths["csv"])[1:]] == ["a", "c", "d", "e"]
    back = gpd.read_file(paths["gpkg"], layer="parcels")
    assert back["parcel_id"].tolist() == ["a", "c", "b", "d", "e"]
    assert back["rank"].tolist()[:3] == [1, 2, 3] and back["rank"].isna().tolist()[3:] == [
        True, True]
    np.testing.assert_allclose(back["score"], [80.0, 70.126, 55.5, 90.0, 12.0])
    meta = json.loads(paths["meta"].read_text(encoding="utf-8"))
    assert meta["shortlist"]["n_parcels_gpkg"] == 5 and meta["shortlist"]["n_ranked_written"] == 2
    # The CSV bytes do not depend on whether a GeoPackage is written alongside.
    alone = write_shortlist(scored, tmp_path / "alone", metadata=metadata, formats=["csv"],
                            top_n=2)
    assert alone["csv"].read_bytes() == paths["csv"].read_bytes()


def test_run_metadata_hashes(metadata, tmp_path):
    cfg = Path(metadata["config_path"])
    assert metadata["config_sha256"] == hashlib.sha256(cfg.read_bytes()).hexdigest()
    assert metadata["siteplan_version"] == __version__
    data = Path(metadata["inputs"][0]["path"])
    assert metadata["inputs"][0]["bytes"] == len(data.read_bytes()) and metadata["crs"] == "EPSG:32649"
    assert metadata["inputs"][0]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    with pytest.raises(InputError, match="does not exist"):
        run_metadata(cfg, [tmp_path / "missing.gpkg"], 4326)


def test_study_run_metadata_for_taiyuan():
    study = load_study(ROOT / "data" / "taiyuan" / "study.toml")
    meta = study_run_metadata(study, "EPSG:32649")
    paths = [Path(i["path"]).name for i in meta["inputs"]]
    # Every local input, in [inputs] order, each file once.
    assert paths == ["taiyuan_osm_lines.geojson", "taiyuan_osm_multipolygons.geojson",
                     "parcels.gpkg"]
    assert meta["inputs"][0]["sha256"].startswith("479408247dfd")
    assert meta["study"] == study.study.name and "Taiyuan" in meta["study"] and meta["scoring"]["weights_method"] == "direct"
    assert meta["compliance_radii_m"]["kindergarten"] == 300
    assert meta["programme_assumptions"]["persons_per_household"] == 2.62


def test_refuses_to_overwrite_an_input(scored, metadata, tmp_path):
    target = tmp_path / "shortlist.csv"
    target.write_text("input", encoding="utf-8")
    with pytest.raises(InputError, match="same as an input"):
        write_shortlist(scored, tmp_path, metadata=metadata, formats=["csv"], inputs=[target])
    assert target.read_text(encoding="utf-8") == "input"


def test_errors(scored, metadata, tmp_path):
    with pytest.raises(InputError, match="unknown shortlist format"):
        write_shortlist(scored, tmp_path, metadata=metadata, formats=["pdf"])
    with pytest.raises(InputError, match="parcel_id"):
        write_shortlist(scored.drop(columns="parcel_id"), tmp_path, metadata=metadata)


def test_column_decimals():
    s = pd.Series([1.0])
    assert column_decimals("dist_x_m", s) == 1 and column_decimals("score", s) == 2
    assert column_decimals("kg_rating", s) == 2 and column_decimals("kg_raw", s) == 4
    assert column_decimals("rank", s) == 0 and column_decimals("lon", s) == 6
    assert column_decimals("name", pd.Series(["x"])) is None


def test_csv_bytes_header_only_for_empty_table():
    assert shortlist_csv_bytes(pd.DataFrame({"parcel_id": []})) == "\ufeffparcel_id\r\n".encode()
