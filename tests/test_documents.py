"""Documents a bureau can send up: the report-ready workbook, checked cell by cell with openpyxl.

One run of the Taiyuan demo study (module fixture) is written once; the tests read its files.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook

from siteplan import SiteplanWarning, load_study, run_study, write_outputs
from siteplan.outputs.xlsx_layout import MAX_WIDTH, display_width, wrapped_lines

DEMO_STUDY = Path(__file__).resolve().parents[1] / "data" / "taiyuan" / "study.toml"
REPAIRED = "repaired 1 invalid geometry"
# A local folder: POSIX absolute, Windows drive or UNC path, or this checkout's own folder.
LOCAL_PATH = re.compile(r"(^|\s)(/[\w.-]+/|[A-Za-z]:\\|\\\\)")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    study = load_study(DEMO_STUDY)
    with pytest.warns(SiteplanWarning, match=REPAIRED):
        result = run_study(study)
    out = tmp_path_factory.mktemp("documents")
    written = write_outputs(result, out, formats=["xlsx", "gpkg"], top_n=50)
    return {"study": study, "result": result, "out": out, "written": written}


@pytest.fixture(scope="module")
def book(run):
    return load_workbook(run["written"]["xlsx"])


def _names(ws) -> list[str]:
    return [c.value for c in ws[2]]


def test_sheet_order_summary_first_metadata_last(book):
    assert book.sheetnames == ["汇总 Summary", "排名 Ranking", "排除地块 Excluded",
                               "评价因子 Criteria", "达标统计 Seed compliance",
                               "服务覆盖 Service coverage", "设施识别报告 Facilities report",
                               "研究元数据 Study metadata"]


def test_shortlist_columns_lead_with_rank_seed_rules_and_areas(run, book):
    ws = book["排名 Ranking"]
    names = _names(ws)
    assert names[:16] == [
        "rank", "parcel_id", "score",
        "dist_kindergarten_m", "meets_kindergarten_radius", "nearest_kindergarten_name",
        "dist_primary_school_m", "meets_primary_school_radius", "nearest_primary_school_name",
        "dist_middle_school_m", "meets_middle_school_radius", "nearest_middle_school_name",
        "compliant_all", "compliance_required_zh", "compliance_required", "area_m2"]
    assert names[16:18] == ["area_ha", "area_mu"]
    ranked = run["result"].ranked(50)
    assert ws.max_row == 2 + 50
    col = {n: i + 1 for i, n in enumerate(names)}
    radii = run["study"].compliance.radii
    for r, (_, parcel) in enumerate(ranked.iterrows(), start=3):
        assert ws.cell(r, col["parcel_id"]).value == parcel["parcel_id"]
        assert ws.cell(r, col["rank"]).value == int(parcel["rank"])
        area = float(parcel["area_m2"])
        assert ws.cell(r, col["area_ha"]).value == pytest.approx(area / 1e4, abs=0.005)
        assert ws.cell(r, col["area_mu"]).value == pytest.approx(area * 15 / 1e4, abs=0.005)
        for cls, radius in radii.items():
            dist = parcel[f"dist_{cls}_m"]
            expect = "是" if np.isfinite(dist) and dist <= radius else "否"
            assert ws.cell(r, col[f"meets_{cls}_radius"]).value == expect
            name = parcel[f"nearest_{cls}_name"]
            assert ws.cell(r, col[f"nearest_{cls}_name"]).value == (None if pd.isna(name)
                                                                    else name)
        assert ws.cell(r, col["compliant_all"]).value == ("是" if parcel["compliant_all"] else "否")


def test_no_true_false_cells_anywhere(book):
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "b", (ws.title, cell.coordinate)
                assert cell.value not in ("TRUE", "FALSE", "True", "False"), (ws.title,
                                                                              cell.coordinate)


def test_headers_are_bilingual_wrapped_and_fit_their_columns(book):
    for title in ("排名 Ranking", "排除地块 Excluded", "评价因子 Criteria"):
        ws = book[title]
        height = ws.row_dimensions[1].height
        for cell in ws[1]:
            header = cell.value
            width = ws.column_dimensions[cell.column_letter].width
            zh, _, en = header.partition("\n")
            assert zh and en, (title, header)  # 中文 above English
            assert cell.alignment.wrap_text and cell.font.bold
            # Every English word fits the column; the wrapped lines fit the row's height.
            assert all(display_width(w) <= width for w in en.split(" ")), (title, header, width)
            assert 15 * wrapped_lines(header, width - 1) <= height, (title, header, width)
        # Values fit too, up to the widest column allowed.
        for j, cell in enumerate(ws[3], start=1):
            if isinstance(cell.value, str):
                width = ws.column_dimensions[cell.column_letter].width
                assert display_width(cell.value) + 2 <= width or width == MAX_WIDTH, (
                    title, j, cell.value, width)


def test_formats_filter_conditional_formats_and_print_setup(book):
    ws = book["排名 Ranking"]
    names = _names(ws)
    last = ws.cell(2, len(names)).column_letter
    assert ws.auto_filter.ref == f"A2:{last}{ws.max_row}"
    assert ws.freeze_panes == "C3"
    assert ws.cell(3, names.index("score") + 1).number_format == "0.00"
    assert ws.cell(3, names.index("area_mu") + 1).number_format == "0.00"
    assert ws.cell(3, names.index("dist_kindergarten_m") + 1).number_format == "0.0"
    rules = {}
    for rng in ws.conditional_formatting:
        rules[str(rng.sqref)] = rng.rules
    meets = ws.cell(3, names.index("meets_kindergarten_radius") + 1).column_letter
    pass_fail = rules[f"{meets}3:{meets}{ws.max_row}"]
    assert sorted(r.formula[0] for r in pass_fail) == ['"否"', '"是"']
    assert {r.dxf.fill.bgColor.rgb[-6:] for r in pass_fail} == {"C6EFCE", "FFC7CE"}
    score = ws.cell(3, names.index("score") + 1).column_letter
    assert rules[f"{score}3:{score}{ws.max_row}"][0].type == "colorScale"
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.paperSize in (8, 9, "8", "9")  # A3 or A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$2" and ws.print_title_cols == "$A:$B"


def test_criteria_sheet_is_readable(run, book):
    ws = book["评价因子 Criteria"]
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    names = _names(ws)
    study = run["study"]
    assert names == ["factor_zh", "factor", "class", "weight_given", "weight_share",
                     "transform_zh", "transform_en", "source"]
    assert len(rows) == len(study.criteria)
    assert sum(r[4] for r in rows) == pytest.approx(1.0, abs=1e-3)
    first = dict(zip(names, rows[0], strict=True))
    assert first["factor_zh"] == "幼儿园步行距离" and first["weight_given"] == 3
    assert first["transform_zh"] == "≤300米 得100分；≤500米 得50分；其余 0分"
    assert first["transform_en"] == "at most 300 m: 100 points; at most 500 m: 50 points; " \
                                    "otherwise 0"
    assert [r[7] for r in rows] == [c.source for c in study.criteria]


def test_summary_sheet_states_study_coverage_compliance_gaps_and_top(run, book):
    from siteplan.scoring.compliance import compliance_counts

    ws = book["汇总 Summary"]
    rows = [[v for v in r if v is not None] for r in ws.iter_rows(values_only=True)]
    text = "\n".join(str(v) for r in rows for v in r)
    result, study = run["result"], run["study"]
    assert study.study.name in rows[0][0]
    for heading in ("数据来源 / Data sources", "各类设施服务覆盖 / Service coverage per class",
                    "三(二)8 达标统计 / Seed compliance (三(二)8)",
                    "数据缺口与说明 / Data gaps and caveats", "排名靠前地块 / Top parcels"):
        assert [heading] in rows, heading
    assert "taiyuan_osm_lines.geojson" in text and "© OpenStreetMap contributors" in text
    assert "kindergarten (幼儿园): 2 facilities" in text  # the thin layer
    assert "PROXY: primary/secondary roads stand in for bus stops" in text
    start = rows.index(["三(二)8 达标统计 / Seed compliance (三(二)8)"]) + 2
    counts = compliance_counts(result.parcels, study.compliance.radii)
    assert [r[-2] for r in rows[start:start + len(counts)]] == counts["n_meeting"].tolist()
    top = rows.index(["排名靠前地块 / Top parcels"]) + 2
    assert [r[1] for r in rows[top:top + 20]] == result.ranked(20)["parcel_id"].tolist()
    assert rows[top][0] == 1 and isinstance(rows[top][2], float)


def test_no_local_paths_in_the_workbook_or_the_geopackage(run, book):
    here = str(Path.cwd())
    for ws in book.worksheets:
        for row in ws.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str):
                    assert not LOCAL_PATH.search(value), (ws.title, value)
                    assert here not in value, (ws.title, value)
    meta = pyogrio.read_dataframe(run["written"]["gpkg"], layer="metadata")
    assert not any(LOCAL_PATH.search(v) or here in v for v in meta["value"].astype(str))
    paths = dict(zip(meta["key"], meta["value"], strict=True))
    assert paths["config_path"] == "data/taiyuan/study.toml" or paths["config_path"] == "study.toml"
    assert paths["inputs[0].path"] == "taiyuan_osm_lines.geojson"


# ------------------------------------------------------------------ the parcel report (地块评价报告)


def test_report_html_holds_every_part_of_the_parcel_report(run):
    from siteplan.outputs.report import report_html
    from siteplan.scoring.score import criterion_labels

    result, study = run["result"], run["study"]
    first = result.ranked(1).iloc[0]
    page = report_html(result, top_n=1)
    assert page.count('<section class="parcel"') == 1
    assert "地块评价报告" in page and "Parcel evaluation report" in page
    assert f"<b>{first['parcel_id']}</b>" in page and f"{first['score']:.1f}" in page
    labels = criterion_labels(study)
    for c in study.criteria:  # the score broken down by criterion, points as in the run
        assert labels[c.name][1] in page, c.name
        assert f"{first[c.points_column]:.2f}" in page, c.name
    for cls in study.compliance.radii:  # distances with the nearest facilities' names
        assert str(first[f"nearest_{cls}_name"]) in page
        assert f"{first[f'dist_{cls}_m']:,.0f} m" in page
    assert first["compliance_required_zh"] in page and "好房子 三(二)8" in page
    for item in ("应配托位数", "养老服务设施用地", "应配停车位", "物业服务用房"):
        assert item in page, item
    assert f"{int(first['required_childcare_places'])} places" in page
    assert "kindergarten (幼儿园): 2 facilities" in page  # the data caveat of the thin layer
    assert "<svg" in page and 'class="parcel-map"' in page
    # Rank robustness of the demo's [robustness]: P(top 50) and the 5-95 % rank interval.
    assert "进入前50名的概率" in page and f"<b>{first['p_top_50']:.0%}</b>" in page
    assert f"<b>{int(first['rank_low'])} – {int(first['rank_high'])}</b>" in page
    # Nothing to load: no script, no external resource, and a policy that forbids any.
    assert "<script" not in page.lower() and not re.search(r"\b(src|href)=", page)
    assert "default-src 'none'" in page
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)


def test_report_escapes_every_text(run):
    import copy

    from siteplan.outputs.report import report_html

    result = copy.copy(run["result"])
    parcels = result.parcels.copy()
    first = parcels.index[parcels["rank"] == 1][0]
    parcels.loc[first, "nearest_primary_school_name"] = '<img src=x onerror="alert(1)">小学'
    result.parcels = parcels
    page = report_html(result, top_n=1)
    assert "<img" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;小学" in page


def test_report_refuses_unknown_parcels_and_keeps_the_order_given(run):
    from siteplan.core.errors import InputError
    from siteplan.outputs.report import choose_parcels

    result = run["result"]
    with pytest.raises(InputError, match="no parcel with id 'NOPE'"):
        choose_parcels(result, ["NOPE"])
    ids = result.ranked(3)["parcel_id"].tolist()[::-1]
    assert choose_parcels(result, ids)["parcel_id"].tolist() == ids
    assert len(choose_parcels(result)) == 10


@pytest.mark.browser
def test_rank_1_prints_to_a_pdf_whose_first_page_shows_the_report(run, tmp_path):
    """Rank 1 printed by headless Chromium; page 1 rasterised (pypdfium2) and looked at."""
    import pypdfium2 as pdfium

    from siteplan.outputs.report import find_chromium, parcel_report

    if find_chromium() is None:
        pytest.skip("no Chromium to print with; install it with "
                    "`bash scripts/install_system_deps.sh` as root")
    result = run["result"]
    written = parcel_report(result, tmp_path, top_n=1)
    assert sorted(written) == ["html", "pdf"]
    pdf = pdfium.PdfDocument(str(written["pdf"]))
    try:
        assert len(pdf) == 2  # one parcel: map and score on page 1, the rest on page 2
        page = pdf[0]
        width, height = page.get_size()
        assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2  # A4 portrait
        text = page.get_textpage().get_text_range()
        assert "地块评价报告" in text and str(result.ranked(1)["parcel_id"].iloc[0]) in text
        image = np.asarray(page.render(scale=1.0).to_pil().convert("RGB")).astype(int)
    finally:
        pdf.close()

    def share(rgb: tuple[int, int, int], tol: int = 12) -> float:
        return float((np.abs(image - np.array(rgb)).max(axis=2) <= tol).mean())

    # The page is drawn (not blank), with the map's neighbouring parcels (#e8e4da), the
    # score bars (#2b8cbe), the pass (#c6efce) and fail (#ffc7ce) cells and the red parcel.
    assert 0.05 < 1 - share((255, 255, 255), 3) < 0.7
    assert share((0xE8, 0xE4, 0xDA)) > 0.02
    assert share((0x2B, 0x8C, 0xBE)) > 0.002
    assert share((0xC6, 0xEF, 0xCE)) > 0.001 and share((0xFF, 0xC7, 0xCE)) > 0.001
    parcel_red = tuple(round(0.55 * c + 0.45 * b) for c, b in zip((0xE3, 0x1A, 0x1C),
                                                                   (0xE8, 0xE4, 0xDA),
                                                                   strict=True))
    assert share(parcel_red, 20) > 0.0001  # ~137 px of a 2.2 ha block at 1 px per pt


def test_report_command_writes_the_top_parcels(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "siteplan", "report", str(DEMO_STUDY), "--top",
                           "2", "--no-pdf", "--out", str(out), "-q"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"html: {out / 'parcel_report.html'}" in done.stdout
    page = (out / "parcel_report.html").read_text(encoding="utf-8")
    assert page.count('<section class="parcel"') == 2
    assert not (out / "parcel_report.pdf").exists()


# -------------------------------------------------------------------------- reproducible meta.json


def test_meta_json_embeds_the_study_file_settings_versions_and_command_line(run):
    import hashlib
    import json
    import sys

    import shapely

    meta = json.loads(run["written"]["meta"].read_text(encoding="utf-8"))
    toml = DEMO_STUDY.read_text(encoding="utf-8")
    assert meta["study_toml"] == toml  # the file as read: its text hashes to config_sha256
    assert hashlib.sha256(meta["study_toml"].encode("utf-8")).hexdigest() == \
        meta["config_sha256"]
    network = meta["settings"]["network"]
    assert network["max_snap_m"] == 200.0 and network["facility_point"] == "nearest-boundary"
    assert network["walk_profile"] == "china-walk"  # a default, resolved
    assert network["speed_mps"] == 1.2
    assert meta["settings"]["catchments"]["frontage_m"] == 30.0
    assert meta["settings"]["class_radii_m"]["kindergarten"] == 300.0
    assert meta["settings"]["class_radii_m"]["hospital"] == 1000.0  # life_circle = "15min"
    assert meta["libraries"]["shapely"] == shapely.__version__
    assert {"numpy", "pandas", "geopandas", "pyproj", "pyogrio", "geos", "proj",
            "gdal"} <= set(meta["libraries"])
    assert meta["command_line"] == sys.argv
    # The workbook's metadata sheet has the settings, not the whole file.
    keys = [r[0] for r in load_workbook(run["written"]["xlsx"], read_only=True)[
        "研究元数据 Study metadata"].iter_rows(min_row=2, values_only=True)]
    assert "settings.network.max_snap_m" in keys and "libraries.shapely" in keys
    assert "study_toml" not in keys


# ------------------------------------------------------------- a GeoPackage that opens in QGIS


def test_geopackage_has_qgis_styles_aliases_split_facilities_and_coverage_areas(run):
    import sqlite3
    import xml.etree.ElementTree as ET

    import geopandas as gpd

    gpkg = run["written"]["gpkg"]
    result = run["result"]
    layers = dict(pyogrio.list_layers(gpkg))
    # Facilities split by geometry type, nothing lost.
    assert "facilities" not in layers
    assert layers["facilities_points"] == "Point" and layers["facilities_areas"] == "Polygon"
    n = sum(len(pyogrio.read_dataframe(gpkg, layer=name, read_geometry=False))
            for name in ("facilities_points", "facilities_areas"))
    assert n == len(result.facilities)
    # Coverage per class with the area its catchments cover as geometry.
    coverage = gpd.read_file(gpkg, layer="coverage")
    assert coverage["class"].tolist() == result.coverage["class"].tolist()
    kg = result.catchments[result.catchments["class"] == "kindergarten"]
    row = coverage[coverage["class"] == "kindergarten"].iloc[0]
    assert row.geometry.area == pytest.approx(kg.geometry.union_all().area, rel=1e-6)
    assert row["units_served_share"] == pytest.approx(
        float(result.coverage.set_index("class").loc["kindergarten", "units_served_share"]))
    with sqlite3.connect(gpkg) as con:
        styles = {name: (column, qml, default) for name, column, qml, default in con.execute(
            "SELECT f_table_name, f_geometry_column, styleQML, useAsDefault FROM layer_styles")}
        aliases = dict(con.execute("SELECT column_name, name FROM gpkg_data_columns "
                                   "WHERE table_name = 'parcels'").fetchall())
        kinds = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())
        ext = con.execute("SELECT scope FROM gpkg_extensions WHERE table_name = "
                          "'gpkg_data_columns'").fetchone()
    con.close()
    assert kinds["layer_styles"] == "attributes" and ext == ("read-write",)
    assert {"parcels", "facilities_points", "facilities_areas", "catchments_kindergarten",
            "blind_spots_kindergarten", "coverage"} <= set(styles)
    assert all(column == "geom" and default == 1 for column, _, default in styles.values())
    parcels = ET.fromstring(styles["parcels"][1].split(">", 1)[1])  # after the DOCTYPE
    renderer = parcels.find("renderer-v2")
    assert renderer.get("type") == "graduatedSymbol" and renderer.get("attr") == "score"
    assert [(r.get("lower"), r.get("upper")) for r in renderer.iter("range")] == [
        ("0", "20"), ("20", "40"), ("40", "60"), ("60", "80"), ("80", "100")]
    alias = {a.get("field"): a.get("name") for a in parcels.iter("alias")}
    assert alias["score"] == "综合得分 (0-100)" and alias["compliant_all"] == "满足全部服务半径"
    cats = {}
    for name in ("facilities_points", "facilities_areas"):
        qml = ET.fromstring(styles[name][1].split(">", 1)[1])
        cats[name] = {c.get("value") for c in qml.iter("category")}
    assert "bus_corridor" in cats["facilities_points"]  # proxies are points
    assert {"kindergarten", "primary_school", "middle_school"} <= cats["facilities_areas"]
    spots = ET.fromstring(styles["blind_spots_kindergarten"][1].split(">", 1)[1])
    assert any(o.get("name") == "style" and o.get("value") == "b_diagonal"
               for o in spots.iter("Option"))
    # Field aliases in Chinese for GDAL/QGIS (gpkg_data_columns), unique per table.
    assert aliases["score"] == "综合得分 (0-100)" and aliases["rank"] == "排名"
    assert aliases["dist_kindergarten_m"] == "至幼儿园步行距离 (米)"
    assert len(set(aliases.values())) == len(aliases)
    # GDAL still reads every layer.
    for name in layers:
        pyogrio.read_info(gpkg, layer=name)


def test_report_without_a_browser_stops_with_a_fix_and_writes_nothing(run, tmp_path,
                                                                      monkeypatch):
    from siteplan.core.errors import SiteplanError
    from siteplan.outputs import report

    monkeypatch.setattr(report, "find_chromium", lambda: None)
    with pytest.raises(report.PrintError, match="no Chromium") as info:
        report.parcel_report(run["result"], tmp_path / "a", top_n=1)
    assert isinstance(info.value, SiteplanError) and "--no-pdf" in str(info.value)
    assert not (tmp_path / "a" / "parcel_report.html").exists()  # the set is all or nothing
    with pytest.raises(report.PrintError, match="Chromium could not print"):
        report.parcel_report(run["result"], tmp_path / "b", top_n=1,
                             chromium=str(tmp_path / "no-such-browser"))
    written = report.parcel_report(run["result"], tmp_path / "c", top_n=1, pdf=False)
    assert sorted(written) == ["html"]


def test_excluded_sheet_says_why_without_ratings_or_points(run):
    """The excluded sheet: the lead columns, the reasons and raw values, no ratings/points."""
    from openpyxl import load_workbook

    book = load_workbook(run["written"]["xlsx"], read_only=True)
    try:
        ws = book["排除地块 Excluded"]
        names = [c.value for c in next(ws.iter_rows(min_row=2, max_row=2))]
    finally:
        book.close()
    assert names[:2] == ["rank", "parcel_id"] and "exclusion_reason_zh" in names
    assert any(n.endswith("_raw") for n in names)
    assert not any(n.endswith(("_rating", "_points")) for n in names)
