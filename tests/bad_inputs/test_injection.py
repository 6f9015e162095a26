"""Bad-input case 25: HTML/JS and spreadsheet-formula injection through every name.

Payloads go into parcel ids, an extra parcel attribute, facility ids and names (a municipal
layer) and the study's name and description; one ``siteplan run`` writes every output.  The
map must show them as text and run nothing, the CSV must neutralise cells that a spreadsheet
would run as formulas (a leading ``'``), the XLSX must hold them as text cells, never formulas,
and the PNG and the printed summary must not trip on them.
"""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from slice_study import cli_shows
from smallstudy import CRITERIA, HEAD, PARCELS, TAIL, digests, small_parcels, write_study
from test_browser import browser  # noqa: F401  (the headless-Chromium fixture)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
FORMULAS = ['=HYPERLINK("http://example.invalid","x")', "+cmd", "-2+3", "@SUM(1)"]
PAYLOADS = [SCRIPT, IMG, *FORMULAS]
FORMULA_START = ("=", "+", "-", "@")
STUDY_NAME = f"{SCRIPT} {IMG} 注入测试"
DESCRIPTION = '=HYPERLINK("http://example.invalid","click")'

# The run writes the web map, and the tests have no Tianditu key: those basemaps are left out.
pytestmark = cli_shows("no Tianditu key")


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text of every <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """One run of the small study with payloads everywhere; its outputs and what went in."""
    folder = tmp_path_factory.mktemp("injection") / "in"
    head = HEAD.replace('name = "small"', f"name = {json.dumps(STUDY_NAME, ensure_ascii=False)}\n"
                        f"description = {json.dumps(DESCRIPTION, ensure_ascii=False)}")
    head = head.replace(
        'facilities = "areas.geojson"',
        'facilities = "areas.geojson"\n\n[[inputs.layers]]\npath = "hospitals.geojson"\n'
        'class = "hospital"\nid_column = "code"\nname_column = "name"')
    # top_n above the parcel count: every parcel is in the CSV and the XLSX.
    study = write_study(folder, head=head, criteria=CRITERIA,
                        tail=TAIL.replace("top_n = 10", "top_n = 1000"))
    parcels = small_parcels()
    ids = parcels["parcel_id"].astype(str).tolist()
    ids[: len(PAYLOADS)] = PAYLOADS
    parcels["parcel_id"] = ids
    parcels["note"] = [PAYLOADS[i % len(PAYLOADS)] for i in range(len(parcels))]
    (folder / PARCELS).unlink()
    parcels.to_file(folder / PARCELS, layer="parcels")
    # Hospitals inside other parcels (not on top of the payload parcels, which the browser
    # test clicks), so that payload facility ids are the nearest of some parcels.
    spots = parcels.iloc[20: 20 + len(PAYLOADS)].to_crs(32649).representative_point()
    spots = spots.to_crs(4326)
    gpd.GeoDataFrame({"code": PAYLOADS[::-1], "name": PAYLOADS},
                     geometry=spots.values, crs=4326).to_file(folder / "hospitals.geojson",
                                                                driver="GeoJSON")
    before = digests(folder)
    out = folder.parent / "out"
    capsys = _Capture()
    code, stdout, err = capsys.run("run", str(study), "--out", str(out), "--offline")
    return {"study": study, "out": out, "code": code, "stdout": stdout, "err": err,
            "before": before, "folder": folder, "parcels": parcels}


class _Capture:
    """``smallstudy.cli`` for a module fixture (capsys is function-scoped)."""

    def run(self, *args: str) -> tuple[int, str, str]:
        import contextlib
        import io

        from siteplan.cli import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                pytest.raises(SystemExit) as exc:
            main(list(args))
        return int(exc.value.code or 0), out.getvalue(), err.getvalue()


def test_the_run_succeeds_and_leaves_the_inputs_alone(run):
    assert run["code"] == 0, run["err"]
    assert "Traceback" not in run["err"]
    assert digests(run["folder"]) == run["before"]
    for name in ("shortlist.csv", "shortlist.xlsx", "shortlist.gpkg", "in.html", "in.png"):
        assert (run["out"] / name).stat().st_size > 0, name


def test_the_summary_prints_the_names_as_they_are(run):
    # Plain text on a terminal: shown verbatim (nothing is interpreted there).
    assert f"Study: {STUDY_NAME}" in run["stdout"]
    for pid in PAYLOADS:
        assert pid in run["stdout"] or pid not in _ranked_top(run, 10)


def _ranked_top(run: dict, n: int) -> list[str]:
    shortlist = gpd.read_file(run["out"] / "shortlist.gpkg", layer="parcels")
    ranked = shortlist[~shortlist["excluded"].astype(bool)].sort_values("rank")
    return ranked["parcel_id"].head(n).tolist()


def test_csv_neutralises_formula_cells(run):
    with (run["out"] / "shortlist.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    cells = [c for row in body for c in row]
    for cell in cells:
        if cell.startswith(FORMULA_START):
            float(cell)  # only numbers (e.g. -3.5) may start with - or +
    col = {name: i for i, name in enumerate(header)}
    by_id = {row[col["parcel_id"]]: row for row in body}
    for p in FORMULAS:
        assert "'" + p in by_id, p           # the id, prefixed
    for p in (SCRIPT, IMG):
        assert p in by_id                      # HTML is harmless in a CSV: kept verbatim
    notes = {row[col["note"]] for row in body}
    assert notes == {"'" + p if p.startswith(FORMULA_START) else p for p in PAYLOADS}
    nearest = {row[col["nearest_hospital_id"]] for row in body}
    assert {"'" + p for p in FORMULAS} & nearest  # facility ids in cells are neutralised too
    # Reading back with the prefix removed gives the original text.
    assert {n[1:] if n.startswith("'") else n for n in notes} == set(PAYLOADS)


def test_xlsx_holds_text_never_formulas(run):
    from openpyxl import load_workbook

    book = load_workbook(run["out"] / "shortlist.xlsx")
    seen: set[str] = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    seen.add(cell.value)
                    if cell.value.startswith(FORMULA_START):
                        # Excel's quote prefix: shown and kept as text when edited.
                        assert cell.quotePrefix, (sheet.title, cell.coordinate, cell.value)
    assert set(PAYLOADS) <= seen
    assert STUDY_NAME in seen


def test_geopackage_keeps_the_exact_text(run):
    back = gpd.read_file(run["out"] / "shortlist.gpkg", layer="parcels")
    assert set(PAYLOADS) <= set(back["parcel_id"]) and set(back["note"]) == set(PAYLOADS)


def test_html_map_has_no_raw_payload(run):
    html = (run["out"] / "in.html").read_text(encoding="utf-8")
    for p in (SCRIPT, IMG):
        assert p not in html, p
    parser = _Tags()
    parser.feed(html)
    assert not [a for t, a in parser.tags if t == "img" and "onerror" in a]
    assert not [s for s in parser.scripts if s.strip() == "alert(1)"]
    # The names are there, escaped (as HTML entities or JSON \u003c escapes), not dropped.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html or \
        "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html


def test_static_png_is_an_image(run):
    data = (run["out"] / "in.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


@pytest.mark.browser
def test_map_in_a_browser_runs_nothing(run, browser):  # noqa: F811
    from test_browser import click_parcel, open_offline  # noqa: PLC0415

    opened = open_offline(browser, run["out"] / "in.html")
    try:
        page = opened.page
        drawn = set(page.evaluate("Object.keys(SP.parcels)"))
        assert set(PAYLOADS) <= drawn
        for pid in PAYLOADS:
            # Centre the parcel first: an open popup pans the map and may push it off screen.
            page.evaluate("""([id]) => SP.map.setView(SP.parcels[id].layer.getCenter(),
                                                    SP.map.getZoom(), {animate: false})""",
                          [pid])
            text = click_parcel(opened, pid)
            assert pid in text  # shown as text
            assert page.locator(".leaflet-popup-content img, .leaflet-popup-content script"
                                ).count() == 0
        assert STUDY_NAME in page.inner_text("body") or STUDY_NAME in page.title()
        injected = page.evaluate("""() => [
            document.querySelectorAll('img[onerror]').length,
            [...document.scripts].filter(s => s.textContent.trim() === 'alert(1)').length]""")
        assert injected == [0, 0]
        assert opened.dialogs == []
        assert opened.errors == []
    finally:
        opened.page.close()


def test_parcel_table_has_the_payloads_where_expected(run):
    """(Guards the fixture itself: the payloads did go in.)"""
    parcels: pd.DataFrame = run["parcels"]
    assert parcels["parcel_id"].head(len(PAYLOADS)).tolist() == PAYLOADS
    assert Path(run["study"]).read_text(encoding="utf-8").count("注入测试") == 1
