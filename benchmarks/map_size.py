"""How the interactive map behaves as the parcels grow: file size, load and interaction in Chromium.

The demo parcels tiled k x k (``tiling.py``) and cut to 5,000 / 20,000 / 50,000, scored at
random (seeded), drawn by ``make_map`` offline (the folium page siteplan writes, every parcel
a polygon with its popup data) and opened in Debian's headless Chromium through playwright,
every request but the file aborted.  Measured per size:

- file size;
- load: ``goto`` until the map and its legend exist (parsing the page, drawing every parcel);
- zoom: one ``setZoom`` in and out, until Leaflet has redrawn (``zoomend`` and two animation
  frames) - what a planner feels when moving around;
- popup: opening one parcel's popup.

Run: ``.venv/bin/python benchmarks/map_size.py [--sizes 5000 20000 50000]``.  The budget that
``outputs/writers.py`` (``MAP_PARCEL_LIMIT``) applies is stated with the figures in
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import tiling  # noqa: E402

from siteplan.outputs.maps.assets import save_map  # noqa: E402
from siteplan.outputs.maps.webmap import make_map  # noqa: E402

CHROMIUM = os.environ.get("SITEPLAN_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def parcels_of(base: tiling.Base, n: int):  # noqa: ANN201
    k = max(1, math.ceil(math.sqrt(n / len(base.parcels))))
    parcels = tiling.tile(base, k).parcels.iloc[:n].copy()
    rng = np.random.default_rng(0)
    parcels["score"] = rng.uniform(0, 100, len(parcels)).round(2)
    parcels["rank"] = parcels["score"].rank(ascending=False, method="first").astype(int)
    return parcels[["parcel_id", "score", "rank", "geometry"]]


def measure(ctx, path: Path) -> dict[str, float]:  # noqa: ANN001
    page = ctx.new_page()
    url = path.resolve().as_uri()
    page.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
    t0 = time.perf_counter()
    page.goto(url, timeout=600_000)
    page.wait_for_function("window.SP && SP.map && document.querySelector('.sp-legend')",
                           timeout=600_000)
    load = time.perf_counter() - t0
    zoom = page.evaluate("""async () => {
        const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        const once = z => new Promise(r => { SP.map.once('zoomend', r);
                                             SP.map.setZoom(z, {animate: false}); });
        const z0 = SP.map.getZoom(), t = performance.now();
        await once(z0 + 1); await frames(); await once(z0); await frames();
        return (performance.now() - t) / 1000;
    }""")
    popup = page.evaluate("""async () => {
        const id = Object.keys(SP.parcels)[0], t = performance.now();
        SP.parcels[id].layer.openPopup();
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        return (performance.now() - t) / 1000;
    }""")
    page.close()
    return {"load_s": load, "zoom_s": zoom, "popup_s": popup}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 50000])
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"map size benchmark: {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}, chromium {CHROMIUM}")
    base = tiling.load_base()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(Path(tmp) / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1200, "height": 800})
        rows: list[dict[str, float]] = []
        print(f"{'parcels':>8} {'build s':>8} {'file MB':>8} {'load s':>8} {'zoom s':>8} "
              f"{'popup s':>8}")
        for n in args.sizes:
            parcels = parcels_of(base, n)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # no Tianditu key
                m = make_map(parcels, title=f"{n:,} parcels", offline=True, top_n=10)
                path = save_map(m, Path(tmp) / f"map_{n}.html")
            build = time.perf_counter() - t0
            got = measure(ctx, path)
            rows.append({"parcels": n, "build_s": build, "mb": path.stat().st_size / 1e6,
                         **got})
            print(f"{n:>8,} {build:8.1f} {path.stat().st_size / 1e6:8.1f} {got['load_s']:8.2f} "
                  f"{got['zoom_s']:8.2f} {got['popup_s']:8.2f}", flush=True)
        ctx.close()
    print(f"load average at the end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(json.dumps({"rows": rows}))  # the last line, for peers.py's target rows


if __name__ == "__main__":
    main()
