"""The offline map in a real browser: Debian's headless Chromium driven by Python playwright.

Every network request is blocked (and recorded), so these tests prove the HTML needs none.  One
browser per module; the synthetic map is opened once and the tests look at it in turn.  Where
Chromium or playwright is missing the tests skip with the reason (``make test`` installs
Chromium with ``scripts/install_system_deps.sh``), and in CI or under ``make test`` that skip
is a failure unless ``SITEPLAN_ALLOW_SKIP`` names ``chromium`` (tests/skip_policy.py).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from test_webmap import XSS, build, synthetic_layers

from siteplan.core.errors import SiteplanWarning
from siteplan.core.labels import label
from siteplan.outputs.maps.webmap import make_map, save_map
from siteplan.outputs.writers import write_outputs

pytestmark = pytest.mark.browser

# SITEPLAN_TEST_CHROMIUM points the tests at another browser binary (tests/test_skip_policy.py
# uses it to show that a Chromium that cannot start fails CI instead of skipping).
CHROMIUM = (os.environ.get("SITEPLAN_TEST_CHROMIUM") or shutil.which("chromium")
            or "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[object]:
    """A persistent Chromium context on a fresh profile (one per module)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"python playwright is not installed ({exc})")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian chromium not found at {CHROMIUM}; install it with "
                    "`bash scripts/install_system_deps.sh` as root")
    pw = sync_playwright().start()
    try:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=ARGS, viewport={"width": 1200, "height": 800})
    except Exception as exc:  # noqa: BLE001 - any launch failure is a reason to skip
        pw.stop()
        pytest.skip(f"chromium at {CHROMIUM} cannot start: {exc}")
    yield ctx
    ctx.close()
    pw.stop()


@dataclass
class Opened:
    page: object
    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def open_offline(ctx, path: Path, viewport: tuple[int, int] | None = None) -> Opened:
    """Open ``path`` with every request but the file itself aborted; record what happens."""
    page = ctx.new_page()
    if viewport:
        page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    opened = Opened(page, path.resolve().as_uri())
    page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: opened.errors.append(f"uncaught: {e}"))
    page.on("request", lambda r: opened.requests.append(r.url)
            if r.url != opened.url and not r.url.startswith("data:") else None)

    def on_dialog(d) -> None:
        opened.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.route("**/*", lambda route: route.continue_() if route.request.url == opened.url
               else route.abort())
    page.goto(opened.url)
    page.wait_for_function("window.SP && SP.map && document.querySelector('.sp-legend')")
    return opened


@pytest.fixture(scope="module")
def layers() -> dict:
    return synthetic_layers(40, 8)


@pytest.fixture(scope="module")
def opened(browser, layers, tmp_path_factory) -> Iterator[Opened]:
    path = save_map(build(layers), tmp_path_factory.mktemp("map") / "map.html")
    o = open_offline(browser, path)
    yield o
    o.page.close()


def close_popup(page) -> None:
    """Close the open popup and wait until it has faded out (it catches clicks until then)."""
    page.evaluate("() => { SP.map.closePopup(); }")
    page.wait_for_selector(".leaflet-popup", state="detached")


def click_parcel(o: Opened, parcel_id: str, lonlat: tuple[float, float] | None = None) -> str:
    """Click a parcel with the mouse (at ``lonlat``, default its centre); return the popup's
    text."""
    close_popup(o.page)
    xy = o.page.evaluate("""([id, ll]) => {
        const l = SP.parcels[id].layer, r = SP.map.getContainer().getBoundingClientRect(),
              p = SP.map.latLngToContainerPoint(ll ? [ll[1], ll[0]] : l.getCenter());
        return [p.x + r.left, p.y + r.top];
    }""", [parcel_id, lonlat])
    o.page.mouse.click(*xy)
    return o.page.wait_for_selector(".leaflet-popup-content").inner_text()


def test_offline_map_makes_no_request_and_logs_no_error(opened):
    assert opened.requests == []
    assert opened.errors == []


def test_every_parcel_is_drawn_once(opened, layers):
    p = layers["parcels"]
    n_scored = int((~p["excluded"]).sum())
    assert opened.page.locator("path.sp-parcel").count() == len(p)
    assert opened.page.locator("path.sp-excluded").count() == len(p) - n_scored
    assert opened.page.evaluate("Object.keys(SP.parcels).length") == len(p)


def test_each_catchment_layer_is_listed_and_toggles(opened, layers):
    page = opened.page
    catch = layers["catchments"]
    page.hover(".leaflet-control-layers")
    for cls, n in catch["class"].value_counts().items():
        paths = page.locator(f"path.sp-catchment-{cls}")
        rows = page.locator(".leaflet-control-layers-overlays label", has_text="Catchment")
        row = rows.filter(has_text=label(cls, "zh")).filter(has_text=label(cls, "en"))
        assert row.count() == 1, cls
        box = row.locator("input")
        shown = box.is_checked()
        assert paths.count() == (n if shown else 0)
        assert shown == (cls in ("kindergarten", "primary_school", "middle_school"))
        box.click()
        assert paths.count() == (0 if shown else n)
        box.click()
        assert paths.count() == (n if shown else 0)


def test_clicking_a_parcel_opens_its_popup_with_its_score(opened, layers):
    p = layers["parcels"]
    best = p.loc[p["rank"] == 1].iloc[0]
    text = click_parcel(opened, best["parcel_id"])
    assert best["parcel_id"] in text
    assert f"{best['score']:.1f}" in text
    assert f"{label('rank')}\t1" in text
    raw, pts = best["kg_dist_raw"], best["kg_dist_points"]
    decimals = 0 if abs(raw) >= 100 else 1 if abs(raw) >= 10 else 2  # ~3 significant digits
    shown = f"{raw:.{decimals}f}"
    shown = shown.rstrip("0").rstrip(".") if "." in shown else shown
    assert f"{shown} → {pts:.1f}" in text
    if not best["meets_kindergarten_radius"]:
        assert "须配建幼儿园 / must provide a kindergarten" in text
    # An excluded parcel shows its reason in both languages and no score.
    ex = p.loc[p["excluded"]].iloc[0]
    text = click_parcel(opened, ex["parcel_id"])
    assert "非净地 / not clean land" in text
    assert label("score") not in text


def test_xss_names_show_as_text_and_run_nothing(opened, layers):
    xss_id = layers["parcels"].loc[layers["parcels"]["name"] == XSS, "parcel_id"].iloc[0]
    text = click_parcel(opened, xss_id)
    assert XSS in text
    page = opened.page
    assert page.locator(".leaflet-popup-content img").count() == 0
    # The facility called "</script><script>alert(2)</script>" too.
    close_popup(page)
    page.locator(".sp-facility-middle_school").first.click()
    fac = page.wait_for_selector(".leaflet-popup-content").inner_text()
    assert "</script><script>alert(2)</script>" in fac
    assert page.locator(".leaflet-popup-content script").count() == 0
    assert opened.dialogs == []
    assert opened.errors == []


def test_search_box_finds_a_parcel_by_id(opened, layers):
    page = opened.page
    close_popup(page)
    target = layers["parcels"]["parcel_id"].iloc[-1]
    page.fill(".sp-search input", target)
    page.press(".sp-search input", "Enter")
    assert target in page.wait_for_selector(".leaflet-popup-content").inner_text()
    page.fill(".sp-search input", "no-such-id")
    page.press(".sp-search input", "Enter")
    assert label("not_found") in page.inner_text(".sp-search-msg")


def test_measure_tool_reports_distance_and_area(opened):
    from pyproj import Geod

    page = opened.page
    close_popup(page)
    page.click(".sp-measure a")
    box = page.locator(".leaflet-container").bounding_box()
    clicks = [(box["x"] + 450, box["y"] + 700), (box["x"] + 750, box["y"] + 700),
              (box["x"] + 750, box["y"] + 400)]
    for xy in clicks:
        page.mouse.click(*xy)  # also on parcels and catchments: measuring ignores them
    lonlat = page.evaluate("() => SP.measureState.pts.map(p => [p.lng, p.lat])")
    assert len(lonlat) == 3
    # Expected values from pyproj's geodesic, independent of the page's own arithmetic.
    geod = Geod(ellps="WGS84")
    lon, lat = np.array(lonlat).T
    length = geod.line_length(lon, lat)
    area = abs(geod.polygon_area_perimeter(lon, lat)[0])
    text = page.inner_text(".sp-measure-out")
    shown_len, shown_area = text.split(" · ")
    value, unit = shown_len.split()
    assert float(value) * (1000 if unit == "km" else 1) == pytest.approx(length, rel=0.005)
    value, unit = shown_area.split()
    assert float(value) * (1e4 if unit == "ha" else 1) == pytest.approx(area, rel=0.01)
    page.click(".sp-measure a")  # switch off again


def test_fullscreen_button_fills_the_screen_and_back(opened):
    page = opened.page
    full = """() => !!document.fullscreenElement ||
        SP.map.getContainer().classList.contains('sp-pseudo-fullscreen')"""
    assert not page.evaluate(full)
    page.click(".sp-fullscreen a")
    page.wait_for_function(full)
    page.click(".sp-fullscreen a")
    page.wait_for_function(f"() => !({full})()")


def test_screenshot_is_not_blank(opened, tmp_path):
    from PIL import Image

    close_popup(opened.page)
    shot = tmp_path / "map.png"
    opened.page.screenshot(path=str(shot))
    px = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert px.shape[:2] == (800, 1200)
    # A blank page has one colour; the map has parcels on the score ramp, catchments, legend.
    assert px.std(axis=(0, 1)).mean() > 20
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 200


def test_layers_still_show_when_the_basemap_is_unreachable(browser, layers, tmp_path):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)  # none in tests
        m = make_map(layers["parcels"], catchments=layers["catchments"], basemap="osm")
    o = open_offline(browser, save_map(m, tmp_path / "osm.html"))
    try:
        o.page.wait_for_timeout(300)
        assert o.page.locator("path.sp-parcel").count() == len(layers["parcels"])
        assert o.page.locator("path.sp-catchment").count() > 0
        assert o.requests and all("tile.openstreetmap.org" in u for u in o.requests)
        assert not [e for e in o.errors if e.startswith("uncaught")]
    finally:
        o.page.close()


# ----------------------------------------------------------------------------- the Taiyuan demo


@pytest.fixture(scope="module")
def taiyuan():
    """The bundled Taiyuan study, run end to end by the pipeline (about 6 s)."""
    from siteplan.pipeline import DEMO_STUDY, run_study

    # One Taiyuan polygon is invalid as mapped: the run repairs it and says so.
    with pytest.warns(SiteplanWarning, match="repaired 1 invalid geometry"):
        return run_study(DEMO_STUDY)


def test_taiyuan_demo_map_in_the_browser(browser, taiyuan, tmp_path):
    from PIL import Image

    r = taiyuan
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)  # none in tests
        # The very file `make demo` writes.
        path = write_outputs(r, tmp_path, formats=["html"], offline=True)["map"]
    assert path.name == "taiyuan.html"
    size = path.stat().st_size
    print(f"Taiyuan demo map: {len(r.parcels)} parcels, {len(r.catchments)} catchments, "
          f"{len(r.facilities)} facilities, {len(r.blind_spots)} blind spots: {size / 1e6:.2f} MB")
    assert size < 15e6
    o = open_offline(browser, path)
    try:
        assert o.requests == [] and o.errors == []
        assert o.page.locator("path.sp-parcel").count() == len(r.parcels)
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "taiyuan_demo.png"
        o.page.screenshot(path=str(shot))
        px = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
        assert px.std(axis=(0, 1)).mean() > 20 and len(np.unique(px.reshape(-1, 3), axis=0)) > 500
        # The best parcel's popup shows its score.
        best = r.parcels.loc[r.parcels["rank"] == 1].iloc[0]
        o.page.evaluate("""id => { const l = SP.parcels[id].layer;
            SP.map.fitBounds(l.getBounds(), {maxZoom: 16, animate: false}); }""",
                        best["parcel_id"])
        inside = gpd.GeoSeries([best.geometry], crs=r.parcels.crs).representative_point()
        pt = inside.to_crs(4326).iloc[0]
        text = click_parcel(o, best["parcel_id"], (pt.x, pt.y))
        assert best["parcel_id"] in text and f"{best['score']:.1f}" in text
    finally:
        o.page.close()


def test_taiyuan_static_map(taiyuan, tmp_path):
    # Shares the module's pipeline run; the static map itself is tested in test_staticmap.py.
    from PIL import Image

    from siteplan.outputs.maps.staticmap import save_static_map, static_map

    r = taiyuan
    fig = static_map(r.parcels, catchments=r.catchments, facilities=r.facilities,
                     blind_spots=r.blind_spots, top_n=r.study.outputs.top_n, dpi=80)
    path = save_static_map(fig, tmp_path / "taiyuan.png")
    px = np.asarray(Image.open(path).convert("RGB"), dtype=float)
    assert px.shape == (800, 800, 3) and px.std(axis=(0, 1)).mean() > 20
