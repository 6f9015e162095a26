"""Bad-input case 29: a parcel layer of 200,000 parcels runs within the memory target.

The Taiyuan blocks are cut into a 16 x 16 grid each (clipped to the block), and 200,000 of the
pieces become the parcel layer of the full demo study (every criterion, constraint and output
format).  The run goes through the CLI in a subprocess; its peak resident memory is measured by
a wrapper process whose only child it is, and must stay below :data:`PEAK_RSS_TARGET_MB`.
A memory bound is a correctness property (a bureau's 8 GB laptop either finishes or dies), so it
is asserted; times are not.

Measured on the 2-core CI box: about 1.6 GB and 95 s with life circles and rank robustness
(4.0 GB and 180 s before the robustness ranks were streamed and the excluded sheet trimmed to
the columns that say why; 1.2 GB and 70 s before those stages existed; before the XLSX was
streamed and the maps capped, 4.3 GB and 155 s: 1.7 GB went to openpyxl's cells of 65,000 excluded rows and 177 MB of
HTML to 200,000 map polygons).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "taiyuan"
N_PARCELS = 200_000
GRID = 16
PEAK_RSS_TARGET_MB = 3072  # 3 GB; the engine's target is 4 GB for a 1M-node network run

pytestmark = pytest.mark.slow


def _subdivided(n: int) -> gpd.GeoDataFrame:
    """``n`` small parcels: grid cells of every Taiyuan block, clipped to it (vectorised)."""
    blocks = gpd.read_file(DATA / "parcels.gpkg", layer="parcels").to_crs(32649)
    geoms = np.asarray(blocks.geometry.values)
    b = shapely.bounds(geoms)
    step = np.arange(GRID) / GRID
    fx, fy = np.repeat(step, GRID), np.tile(step, GRID)
    w, h = (b[:, 2] - b[:, 0])[:, None], (b[:, 3] - b[:, 1])[:, None]
    x0, y0 = b[:, [0]] + w * fx, b[:, [1]] + h * fy
    cells = shapely.box(x0.ravel(), y0.ravel(), (x0 + w / GRID).ravel(),
                        (y0 + h / GRID).ravel())
    owner = np.repeat(np.arange(len(geoms)), GRID * GRID)
    pieces = shapely.intersection(cells, geoms[owner])
    keep = (shapely.get_type_id(pieces) == 3) & (shapely.area(pieces) > 1.0)
    pieces, owner = pieces[keep], owner[keep]
    assert len(pieces) >= n, len(pieces)
    pick = np.sort(np.random.default_rng(0).choice(len(pieces), n, replace=False))
    block_ids = blocks["parcel_id"].to_numpy(dtype=str)[owner[pick]]
    ids = np.char.add(np.char.add(block_ids, "-"), np.arange(n).astype(str))
    return gpd.GeoDataFrame({"parcel_id": ids, "far": 2.5}, geometry=pieces[pick],
                            crs=32649).to_crs(4326)


def _study(folder: Path) -> Path:
    """The demo study on the subdivided parcels: same criteria, weights and outputs; the
    minimum area lowered to 100 m² so that most of the small parcels are ranked."""
    text = (DATA / "study.toml").read_text(encoding="utf-8")
    for name in ("taiyuan_osm_lines.geojson", "taiyuan_osm_multipolygons.geojson"):
        text = text.replace(f'"{name}"', json.dumps(str(DATA / name)))
    text = re.sub(r"(?m)^value = 1\.0 .*$", "value = 0.01", text)
    text = text.replace('reason_en = "smaller than 1 ha"', 'reason_en = "smaller than 100 m2"')
    text = text.replace('reason_zh = "面积小于1公顷"', 'reason_zh = "面积小于100平方米"')
    path = folder / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


# Runs the CLI as the wrapper's only child and prints the child's peak RSS (kB on Linux).
WRAPPER = """
import resource, subprocess, sys
proc = subprocess.run([sys.executable, "-m", "siteplan", *sys.argv[1:]],
                      capture_output=True, text=True)
sys.stderr.write(proc.stderr)
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.fixture(scope="module")
def large_run(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("large")
    parcels = _subdivided(N_PARCELS)
    parcels.to_file(folder / "parcels.gpkg", layer="parcels")
    study = _study(folder)
    out = folder / "out"
    proc = subprocess.run([sys.executable, "-c", WRAPPER, "run", str(study), "--out", str(out),
                           "--quiet", "--offline"],
                          capture_output=True, text=True, timeout=900, cwd=folder)
    code, peak_kb = (int(x) for x in proc.stdout.split())
    return {"code": code, "peak_mb": peak_kb / 1024, "err": proc.stderr, "out": out,
            "parcels": parcels}


def test_29_runs_within_the_memory_target(large_run):
    assert large_run["code"] == 0, large_run["err"][-3000:]
    peak = large_run["peak_mb"]
    print(f"\n200,000 parcels, full study: peak RSS {peak:,.0f} MB "
          f"(target {PEAK_RSS_TARGET_MB:,} MB)")
    assert peak < PEAK_RSS_TARGET_MB


def test_29_every_parcel_is_in_the_geopackage_and_every_excluded_one_in_the_csv(large_run):
    out = large_run["out"]
    info = pyogrio.read_info(out / "shortlist.gpkg", layer="parcels")
    assert info["features"] == N_PARCELS
    table = pyogrio.read_dataframe(out / "shortlist.gpkg", layer="parcels",
                                   columns=["parcel_id", "rank", "excluded", "score"],
                                   read_geometry=False)
    assert table["parcel_id"].is_unique
    assert set(table["parcel_id"]) == set(large_run["parcels"]["parcel_id"])
    ranked = table.loc[~table["excluded"].astype(bool), "rank"].astype(int)
    assert sorted(ranked) == list(range(1, len(ranked) + 1))
    assert ranked.size > N_PARCELS // 2  # most small parcels clear the 100 m² minimum
    assert table["score"].between(0, 100).all()
    csv = pd.read_csv(out / "shortlist.csv", encoding="utf-8-sig",
                      usecols=["parcel_id", "excluded"])
    n_excluded = int(table["excluded"].astype(bool).sum())
    assert len(csv) == 50 + n_excluded  # outputs.top_n ranked rows, then every excluded one
    assert int(csv["excluded"].astype(bool).sum()) == n_excluded


def test_29_the_maps_are_capped_with_a_note(large_run):
    out = large_run["out"]
    html = next(out.glob("*.html"))
    text = html.read_text(encoding="utf-8")
    assert "best 20,000 of 200,000 parcels" in text
    assert html.stat().st_size < 60_000_000
    assert "the maps draw the best-ranked 20,000" in large_run["err"]
    png = next(out.glob("*.png"))
    assert png.read_bytes().startswith(b"\x89PNG")


def test_29_the_xlsx_has_every_row_it_should(large_run):
    from openpyxl import load_workbook

    book = load_workbook(large_run["out"] / "shortlist.xlsx", read_only=True)
    ranking, excluded = book["排名 Ranking"], book["排除地块 Excluded"]
    info = pyogrio.read_dataframe(large_run["out"] / "shortlist.gpkg", layer="parcels",
                                  columns=["excluded"], read_geometry=False)

    def rows(ws) -> int:  # (a streamed sheet has no stored dimension: count its rows)
        return sum(1 for _ in ws.iter_rows(max_col=1, values_only=True))

    assert rows(ranking) == 2 + 50
    assert rows(excluded) == 2 + int(info["excluded"].astype(bool).sum())
    book.close()
