"""Gap-filling benchmark: time of maximal covering for kindergartens, k = 10 and 50.

Cases: Taiyuan (study run once, then :func:`siteplan.siting_run.site_study` with parcel and
node candidates, greedy and exact) and, with ``--large``, the Taiyuan layers tiled into a
network of about a million nodes (:mod:`benchmarks.tiling`; parcel candidates, residential
demand).  Usage::

    .venv/bin/python benchmarks/siting.py [--large] [--nodes 1000000] [--time-limit 120]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import tiling  # noqa: E402
from siteplan.network import graph_from_lines  # noqa: E402
from siteplan.pipeline import DEMO_STUDY, run_study  # noqa: E402
from siteplan.siting_run import maximal_cover, site_study  # noqa: E402


def _row(name: str, k: int, method: str, seconds: float, res: object) -> str:
    cov = res.coverage.iloc[0]  # type: ignore[attr-defined]
    return (f"{name:<34} k={k:<3} {method:<6} {seconds:7.2f} s  atoms {res.n_atoms:>8,}"  # type: ignore[attr-defined]
            f"  share {cov['share_before']:.4f} -> {cov['share_after']:.4f}  "
            f"{cov['status']} gap {cov['gap']:.4f}")


def taiyuan(time_limit: float) -> None:
    t0 = time.perf_counter()
    result = run_study(DEMO_STUDY)
    print(f"Taiyuan study run: {time.perf_counter() - t0:.1f} s")
    for cand in ("parcels", "nodes"):
        for k in (10, 50):
            for method in ("greedy", "exact"):
                t0 = time.perf_counter()
                res = site_study(result, "kindergarten", k=k, candidates=cand,  # type: ignore[arg-type]
                                 method=method, time_limit_s=time_limit)  # type: ignore[arg-type]
                print(_row(f"Taiyuan kindergarten, {cand}", k, method,
                           time.perf_counter() - t0, res))


def large(n_nodes: int, time_limit: float) -> None:
    base = tiling.load_base()
    k_tiles = tiling.k_for_nodes(base, n_nodes)
    world = tiling.tile(base, k_tiles)
    t0 = time.perf_counter()
    net = graph_from_lines(world.lines)
    tiling.check_stitched(world, net)
    print(f"tiled {k_tiles}x{k_tiles}: {net.n_nodes:,} nodes, network {time.perf_counter() - t0:.1f} s")
    fac = world.facilities.assign(facility_id=world.facilities["facility_id"].astype(str))
    for k in (10, 50):
        for method in ("greedy", "exact"):
            t0 = time.perf_counter()
            res = maximal_cover(net, fac, "kindergarten", 300.0, world.parcels,
                                world.residential, k=k, method=method,  # type: ignore[arg-type]
                                time_limit_s=time_limit)
            print(_row(f"tiled {net.n_nodes:,} nodes, parcels", k, method,
                       time.perf_counter() - t0, res))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", action="store_true", help="also the tiled ~1M-node case")
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--time-limit", type=float, default=120.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    taiyuan(args.time_limit)
    if args.large:
        large(args.nodes, args.time_limit)


if __name__ == "__main__":
    main()
