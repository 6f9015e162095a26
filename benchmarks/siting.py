"""Gap-filling benchmark: time of maximal covering for kindergartens, k = 10 and 50.

Cases: Taiyuan (study run once, its coverage table printed, then
:func:`siteplan.siting.study.site_study` with parcel and node candidates, greedy and exact) and,
with ``--large``, the Taiyuan layers tiled into a network of about a million nodes
(:mod:`benchmarks.tiling`; parcel candidates, residential demand, 300 m).  Each case runs with
each ``--measure``: ``units`` (served residential units, weighted by residents on Taiyuan and
counted on the tiles) and ``frontage`` (land in the street-frontage catchments, by area).  Each case runs greedy and exact in one call (``method="both"``), so the
atoms are built once per ``k``; the lines give the whole call, its steps, the process's peak
RSS so far (``resource.getrusage``, network and layers included) and, per method, the
shares before and after, the status and the MIP gap.  Usage::

    .venv/bin/python benchmarks/siting.py [--large] [--only-large] [--nodes 1000000]
                                          [--time-limit 120] [--measure units|frontage|both]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import tiling  # noqa: E402
from siteplan.network.build import graph_from_lines
from siteplan.pipeline import DEMO_STUDY, run_study  # noqa: E402
from siteplan.scoring.compliance import compliance_counts  # noqa: E402
from siteplan.siting.cover import SitingResult, maximal_cover  # noqa: E402
from siteplan.siting.study import site_study  # noqa: E402


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _report(name: str, k: int, seconds: float, res: SitingResult) -> None:
    steps = ", ".join(f"{step} {t:.2f}" for step, t in res.timings.items())
    print(f"{name}, k={k}: {seconds:.2f} s, peak RSS {_peak_mb():,.0f} MB; candidates "
          f"{res.n_candidates:,}, near demand {res.n_candidates_near:,} (dropped "
          f"{res.n_candidates - res.n_candidates_near:,}); atoms {res.n_atoms:,}")
    print(f"    steps (s): {steps}")
    for _, row in res.coverage.iterrows():
        print(f"    {row['method']:<6} {row['seconds']:7.2f} s  share {row['share_before']:.4f}"
              f" -> {row['share_after']:.4f} (objective {row['objective'] / row['demand_total']:.4f},"
              f" bound {row['bound'] / row['demand_total']:.4f})  {row['status']} "
              f"gap {row['gap']:.4f}", flush=True)


def taiyuan(time_limit: float, measures: list[str]) -> None:
    t0 = time.perf_counter()
    result = run_study(DEMO_STUDY)
    print(f"Taiyuan study run: {time.perf_counter() - t0:.1f} s (coverage step "
          f"{result.timings['coverage']:.2f} s)")
    cols = ["class", "n_units", "n_units_served", "area_served_share", "residents",
            "residents_served_share", "covered_land_share_frontage"]
    print(result.coverage[cols].to_string(index=False, float_format="{:.4f}".format))
    print(compliance_counts(result.parcels, result.study.compliance.radii).to_string(
        index=False, float_format="{:.4f}".format))
    for measure in measures:
        for cand in ("parcels", "nodes"):
            for k in (10, 50):
                t0 = time.perf_counter()
                res = site_study(result, "kindergarten", k=k,
                                 candidates=cand,  # type: ignore[arg-type]
                                 method="both", time_limit_s=time_limit,
                                 measure=measure)  # type: ignore[arg-type]
                _report(f"Taiyuan kindergarten, {measure}, {cand}", k,
                        time.perf_counter() - t0, res)


def large(n_nodes: int, time_limit: float, measures: list[str]) -> None:
    base = tiling.load_base()
    k_tiles = tiling.k_for_nodes(base, n_nodes)
    world = tiling.tile(base, k_tiles)
    t0 = time.perf_counter()
    net = graph_from_lines(world.lines)
    tiling.check_stitched(world, net)
    fac = world.facilities.assign(facility_id=world.facilities["facility_id"].astype(str))
    parcels, residential = world.parcels, world.residential
    del world, base  # the lines are in the network now
    gc.collect()
    print(f"tiled {k_tiles}x{k_tiles}: {net.n_nodes:,} nodes, {len(parcels):,} parcels, "
          f"{len(residential):,} residential polygons; network {time.perf_counter() - t0:.1f} s, "
          f"peak RSS so far {_peak_mb():,.0f} MB", flush=True)
    for measure in measures:
        for k in (10, 50):
            t0 = time.perf_counter()
            res = maximal_cover(net, fac, "kindergarten", 300.0, parcels, residential, k=k,
                                method="both", time_limit_s=time_limit,
                                measure=measure)  # type: ignore[arg-type]
            _report(f"tiled {net.n_nodes:,} nodes, {measure}, parcels", k,
                    time.perf_counter() - t0, res)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", action="store_true", help="also the tiled ~1M-node case")
    parser.add_argument("--only-large", action="store_true", help="only the tiled case")
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--measure", choices=["units", "frontage", "both"], default="both")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    measures = ["units", "frontage"] if args.measure == "both" else [args.measure]
    if not args.only_large:
        taiyuan(args.time_limit, measures)
    if args.large or args.only_large:
        large(args.nodes, args.time_limit, measures)


if __name__ == "__main__":
    main()
