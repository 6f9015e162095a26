"""Every kind of map siteplan writes, opened in headless Chromium with every request blocked.

`siteplan run`, `siteplan batch`, `siteplan site` and `siteplan map` each write an HTML map with
their defaults (no ``offline`` argument anywhere): each must open with no request at all and no
script error, and draw every parcel.  The Taiyuan demo is run once for the module; the layers
(blind spots above parcels, readable top-20 ranks, grouped layer control) are checked on the
`siteplan run` map, the one a bureau opens first.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import test_browser as tb

from siteplan.core.errors import SiteplanWarning
from siteplan.core.labels import label

pytestmark = pytest.mark.browser

browser = tb.browser  # the same fixture: one Chromium per module


@pytest.fixture(scope="module")
def taiyuan():
    from siteplan.pipeline import DEMO_STUDY, run_study

    with pytest.warns(SiteplanWarning, match="repaired 1 invalid geometry"):
        return run_study(DEMO_STUDY)


@pytest.fixture(scope="module")
def run_out(taiyuan, tmp_path_factory) -> dict[str, Path]:
    """`siteplan run`'s outputs with the study's defaults (what `write_outputs` does unasked)."""
    from siteplan.outputs.writers import write_outputs

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
        return write_outputs(taiyuan, tmp_path_factory.mktemp("run"), formats=["html", "gpkg"])


def _opens_offline(browser, path: Path, n_parcels: int) -> tb.Opened:
    o = tb.open_offline(browser, path)
    assert o.requests == [], o.requests[:3]
    assert o.errors == [], o.errors[:3]
    assert o.page.locator("path.sp-parcel").count() == n_parcels
    return o


def test_run_map_is_offline_by_default(browser, taiyuan, run_out):
    assert taiyuan.study.outputs.offline is True
    _opens_offline(browser, run_out["map"], len(taiyuan.parcels)).page.close()


def test_map_command_redraw_is_offline_by_default(browser, taiyuan, run_out, tmp_path):
    from siteplan.outputs.writers import maps_from_results

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
        paths = maps_from_results(run_out["gpkg"], tmp_path)
    _opens_offline(browser, paths["map"], len(taiyuan.parcels)).page.close()


def test_site_map_is_offline_by_default(browser, taiyuan, tmp_path):
    from siteplan.outputs.siting import write_siting
    from siteplan.siting.study import site_study

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
        paths = write_siting(site_study(taiyuan, "kindergarten", k=2), tmp_path, "kg")
    html = next(p for p in paths if p.suffix == ".html")
    o = _opens_offline(browser, html, len(taiyuan.parcels))
    assert o.page.locator(".sp-proposed-site").count() == 2
    o.page.close()


def test_batch_maps_are_offline_by_default(browser, taiyuan, tmp_path, monkeypatch):
    """`siteplan batch`'s own study runner, serial, with the pipeline's analysis reused."""
    import siteplan.pipeline
    from siteplan.batch import run_batch

    monkeypatch.setattr(siteplan.pipeline, "run_study", lambda study: taiyuan)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
        report = run_batch([siteplan.pipeline.DEMO_STUDY], tmp_path, n_workers=0, xlsx=False)
    assert report.exit_code == 0
    maps = [p for p in tmp_path.rglob("*.html") if p.parent != tmp_path]
    assert len(maps) == 1
    _opens_offline(browser, maps[0], len(taiyuan.parcels)).page.close()


def test_cdn_only_when_asked(capsys, run_out, tmp_path):
    """``--cdn`` (or ``--online``) is the only way to a map that links Leaflet's CDN."""
    from siteplan.cli import main
    from siteplan.outputs.maps.assets import LEAFLET_CDN_JS

    offline = run_out["map"].read_text(encoding="utf-8")
    assert LEAFLET_CDN_JS not in offline and "L.map(" in offline
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
        with pytest.raises(SystemExit) as exc:
            main(["map", str(run_out["gpkg"]), "--out", str(tmp_path), "--cdn", "-q"])
    assert exc.value.code in (0, None), capsys.readouterr()
    online = next(tmp_path.glob("*.html")).read_text(encoding="utf-8")
    assert LEAFLET_CDN_JS in online


# ----------------------------------------------------------------------------- layers


@pytest.fixture(scope="module")
def run_page(browser, run_out):
    o = tb.open_offline(browser, run_out["map"])
    yield o
    o.page.close()


def test_blind_spots_are_drawn_above_the_parcels_one_colour_per_class(run_page, taiyuan):
    page = run_page.page
    z = page.evaluate("""() => ['sp-parcels', 'sp-blind'].map(n =>
        +getComputedStyle(SP.map.getPane(n)).zIndex)""")
    assert z[1] > z[0]
    # The kindergarten blind spots are shown on opening, above the parcels: the element at a
    # point of a blind spot's outline is the blind spot, not the parcel below.
    hit = page.evaluate("""() => {
        const paths = [...document.querySelectorAll('path.sp-blind-kindergarten')];
        const r = SP.map.getContainer().getBoundingClientRect();
        for (const el of paths) {
            const len = el.getTotalLength();
            for (let i = 0; i < 20; i++) {
                const p = el.getPointAtLength(len * i / 20);
                const q = el.getScreenCTM ? new DOMPoint(p.x, p.y).matrixTransform(el.getScreenCTM()) : p;
                const top = document.elementFromPoint(q.x, q.y);
                if (top === el) return true;
            }
        }
        return false;
    }""")
    assert hit
    n_blind = taiyuan.blind_spots["class"].value_counts()
    colours = {}
    for cls, n in n_blind.items():
        sel = f"path.sp-blind-{cls}"
        if page.locator(sel).count() == 0:  # off on opening: toggled in its own group row
            row = page.locator(".sp-group-blind label").filter(has_text=label(cls, "en"))
            page.hover(".leaflet-control-layers")
            row.locator("input").click()
        assert page.locator(sel).count() == n, cls
        colours[cls] = page.locator(sel).first.get_attribute("stroke")
    assert len(set(colours.values())) == len(colours) >= 3


def _boxes(page) -> list[list[float]]:
    return page.evaluate("""() => [...document.querySelectorAll('.sp-rank span')].map(s => {
        const b = s.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })""")


def _overlaps(boxes) -> list[tuple[int, int]]:
    return [(i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes[:i])
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]


def test_top_20_rank_labels_do_not_overlap_at_the_default_view(run_page):
    page = run_page.page
    boxes = _boxes(page)
    assert len(boxes) == 20
    assert _overlaps(boxes) == []
    # Every label lies on the map, and moved labels point back to their parcel.
    w, h = page.evaluate("() => [SP.map.getSize().x, SP.map.getSize().y]")
    assert all(b[0] >= 0 and b[1] >= 0 and b[2] <= w and b[3] <= h for b in boxes)
    assert page.locator(".sp-rank-moved").count() > 0  # the demo's top 20 are crowded
    # Still none after zooming in and out again.
    for zoom in (1, -2):
        page.evaluate("z => { SP.map.setZoom(SP.map.getZoom() + z, {animate: false}); }", zoom)
        assert _overlaps(_boxes(page)) == []


def test_ranked_side_list_shows_the_parcel(run_page, taiyuan):
    page = run_page.page
    best = taiyuan.parcels.loc[taiyuan.parcels["rank"] == 1].iloc[0]
    page.locator(".sp-ranklist summary").click()
    rows = page.locator(".sp-ranklist li")
    assert rows.count() == 20 and rows.first.get_attribute("data-id") == best["parcel_id"]
    rows.first.click()
    text = page.wait_for_selector(".leaflet-popup-content").inner_text()
    assert best["parcel_id"] in text and f"{best['score']:.1f}" in text
    assert page.evaluate("id => SP.parcels[id].layer.options.weight", best["parcel_id"]) == 4
    tb.close_popup(page)


def test_layer_control_is_grouped_and_fits_a_1366x768_laptop(browser, run_out, taiyuan):
    o = tb.open_offline(browser, run_out["map"], viewport=(1366, 768))
    try:
        page = o.page
        page.hover(".leaflet-control-layers")
        box = page.locator(".leaflet-control-layers").bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 768
        groups = page.locator(".leaflet-control-layers details.sp-group")
        keys = [g.get_attribute("class").split("sp-group-")[1] for g in groups.all()]
        assert keys == ["basemaps", "parcels", "blind", "compliance", "catchments",
                        "facilities"]
        # A collapsed group opens on a click and its layers toggle.
        fac = page.locator("details.sp-group-facilities")
        assert fac.get_attribute("open") is None
        fac.locator("summary").click()
        first = fac.locator("label input").first
        first.scroll_into_view_if_needed()
        was = first.is_checked()
        first.click()
        assert first.is_checked() != was
        # The compliance outlines: parcels meeting the middle-school radius (none of the demo's
        # parcels meets all three: it maps two kindergartens).
        p = taiyuan.parcels
        n_ok = int((p["meets_middle_school_radius"] & ~p["excluded"]).sum())
        assert n_ok > 0 and not (p["compliant_all"] & ~p["excluded"]).any()
        comp = page.locator("details.sp-group-compliance")
        comp.locator("summary").click()
        row = comp.locator("label").filter(has_text=label("middle_school", "en"))
        assert row.count() == 1 and f"({n_ok:,})" in row.inner_text()
        row.locator("input").scroll_into_view_if_needed()
        row.locator("input").click()
        assert page.locator("path.sp-compliant-middle_school").count() == n_ok
        # The legend folds away under its heading.
        legend = page.locator(".sp-legend")
        tall = legend.bounding_box()["height"]
        page.mouse.move(10, 400)  # the layer control folds up when the mouse leaves it
        legend.locator("summary").click()
        assert legend.bounding_box()["height"] < tall / 3
    finally:
        o.page.close()
