"""Take the README's screenshot of a parcel popup's life-circle section (docs/lifecircle_popup.png).

Runs the Taiyuan demo, writes its offline map, opens it in the project's headless Chromium
(Debian ``chromium``, driven by playwright, every request but the file itself blocked), clicks
the parcel of the top 50 whose circles hold the most and captures the popup scrolled to its life-circle section.

Usage: ``.venv/bin/python scripts/lifecircle_screenshot.py [OUT.png]``
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(out: Path) -> None:
    """Run the demo, open its map, click the first parcel and save the popup's picture."""
    from playwright.sync_api import sync_playwright

    import siteplan as sp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SiteplanWarning)
        result = sp.run_study(ROOT / "data" / "taiyuan" / "study.toml")
    # Of the top 50, the parcel whose circles hold the most (a popup with something present).
    ranked = result.ranked(50).sort_values(["lc_5min_share", "lc_15min_share", "rank"],
                                           ascending=[False, False, True])
    top = str(ranked["parcel_id"].iloc[0])
    with tempfile.TemporaryDirectory() as tmp:
        written = sp.write_outputs(result, tmp, formats=["html"], offline=True)
        page_path = Path(written["map"]).resolve()
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                         args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 2400})
            url = page_path.as_uri()
            page.route("**/*", lambda route: route.continue_() if route.request.url == url
                       else route.abort())
            page.goto(url)
            page.wait_for_function("window.SP && SP.map && document.querySelector('.sp-legend')")
            xy = page.evaluate("""(id) => {
                const l = SP.parcels[id].layer, r = SP.map.getContainer().getBoundingClientRect();
                SP.map.setView(l.getCenter(), 16, {animate: false});
                const p = SP.map.latLngToContainerPoint(l.getCenter());
                return [p.x + r.left, p.y + r.top];
            }""", top)
            page.mouse.click(*xy)
            page.wait_for_selector(".leaflet-popup-content")
            # The whole popup unscrolled, then the picture cut from the life-circle heading to
            # the next section's heading.
            box = page.evaluate("""() => {
                const c = document.querySelector('.leaflet-popup-content');
                const css = document.createElement('style');
                css.textContent = '.leaflet-popup-content-wrapper, .leaflet-popup-content ' +
                    '{max-height: none !important; height: auto !important; ' +
                    'overflow: visible !important} .leaflet-tile-pane, .leaflet-overlay-pane, ' +
                    '.leaflet-marker-pane, .leaflet-shadow-pane {visibility: hidden}';
                document.head.appendChild(css);
                // The popup grows upwards: bring its top into view (below the title box).
                const top0 = document.querySelector('.leaflet-popup').getBoundingClientRect().top;
                SP.map.panBy([0, top0 - 120], {animate: false});
                const secs = [...c.querySelectorAll('tr.sp-section')];
                const i = secs.findIndex(e => e.textContent.includes('生活圈设施'));
                const top = secs[i].getBoundingClientRect().top, cr = c.getBoundingClientRect();
                const bottom = i + 1 < secs.length ? secs[i + 1].getBoundingClientRect().top
                    : cr.bottom;
                return {x: cr.left - 4, y: top - 4, width: cr.width + 8, height: bottom - top + 4};
            }""")
            page.screenshot(path=str(out), clip=box, full_page=True)
            browser.close()
    print(f"{out} (parcel {top})")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "lifecircle_popup.png")
