"""The whole pipeline in a fresh process, as is or with the proposals swapped in.

Peak memory is the child's ``VmHWM`` (not ``ru_maxrss``, which Linux carries over from the
parent across ``exec``).

Two pipelines: the engine stages the performance issue names (network from lines, access with
counts, dissolved catchments, coverage, blind spots), and ``siteplan.pipeline.run_study`` on the
Taiyuan demo study tiled k x k (files written to ``benchmarks/out/study_k<k>``).  Each runs in a
child process (``peers.py --pipeline-child k`` / ``--study-child k``) so that its peak RSS is its
own.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import proposals
import proposals_coverage
import tiling
from measure import RESULTS, header, status_kb, trim

from siteplan.access import facility_access
from siteplan.catchments import SEED_RADII, catchments
from siteplan.coverage import blind_spots, coverage
from siteplan.network import Network, graph_from_lines


def peak_mb() -> float:
    return status_kb("VmHWM") / 1024.0


HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers.py"
FRONTAGE_M = 30.0
COUNT_RADII = {"kindergarten": [300.0], "primary_school": [500.0], "middle_school": [1000.0],
               "hospital": [1000.0]}


@contextlib.contextmanager
def proposals_applied() -> Iterator[None]:
    """The proposed functions swapped into the engine modules for the block, then restored."""
    import siteplan.access as acc
    import siteplan.catchments as cat
    import siteplan.coverage as cov
    import siteplan.network as netmod
    import siteplan.noding as noding
    import siteplan.pipeline as pipeline
    import siteplan.reach as reach

    swaps = [
        (netmod, "walkable_mask", proposals.walkable_mask_fast),
        (noding, "np", proposals.NumpyFastUniqueRows()),
        (acc, "snap", proposals.snap_kdtree),
        (acc, "_ids_at", proposals.ids_at_fast),
        (cat, "snap", proposals.snap_kdtree),
        (acc, "_reach_counts", lambda net, t, s, radii, budget: proposals.reach_counts_local(
            net, t, s, radii)),
        (cat, "per_facility_vees", proposals.per_facility_vees_local),
        (reach, "per_facility_vees", proposals.per_facility_vees_local),
        (cov, "class_unions", proposals_coverage.class_unions_fast),
        (pipeline, "coverage", proposals_coverage.coverage_fast),
        (pipeline, "blind_spots", proposals_coverage.blind_spots_fast),
    ]
    missing = [f"{mod.__name__}.{name}" for mod, name, _ in swaps if not hasattr(mod, name)]
    if missing:  # the engine moved on: say which proposals could not be swapped in
        print(f"NOTE: not applied (no such engine name): {', '.join(missing)}")
        swaps = [(mod, name, new) for mod, name, new in swaps if hasattr(mod, name)]
    saved = [(mod, name, getattr(mod, name)) for mod, name, _ in swaps]
    for mod, name, new in swaps:
        setattr(mod, name, new)
    try:
        yield
    finally:
        for mod, name, old in saved:
            setattr(mod, name, old)


def pipeline_child(k: int, use_proposals: bool) -> None:
    with proposals_applied() if use_proposals else contextlib.nullcontext():
        _pipeline(k, use_proposals)


def _pipeline(k: int, use_proposals: bool) -> None:
    base = tiling.load_base()
    world = tiling.tile(base, k)
    del base
    trim()
    timings: dict[str, float] = {}
    rss_setup = status_kb("VmRSS") / 1024.0

    def step(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        timings[name] = time.perf_counter() - t0
        print(f"    {name:<50} {timings[name]:8.2f} s   RSS peak so far "
              f"{peak_mb():7.0f} MB", flush=True)
        return out

    def network() -> Network:
        net = graph_from_lines(world.lines, source="tiled")
        net.csr, net.edge_tree  # noqa: B018
        if use_proposals:
            proposals.segment_index(net)
        return net

    net = step("network from lines (+CSR, index)", network)
    tiling.check_stitched(world, net)
    acc = step("access: snap, 4 classes, counts", lambda: facility_access(
        net, world.parcels, world.facilities, classes=sorted(COUNT_RADII),
        count_radii=COUNT_RADII))
    parcels = world.parcels.join(acc.table)
    polys = step("catchments dissolve, 3 classes", lambda: catchments(
        net, world.facilities, SEED_RADII, mode="dissolve"))
    cov = proposals_coverage.coverage_fast if use_proposals else coverage
    step("coverage (+ frontage ceiling)", lambda: cov(polys, world.residential, parcels=parcels,
                                                      network=net, frontage_m=FRONTAGE_M))
    bs = proposals_coverage.blind_spots_fast if use_proposals else blind_spots
    step("blind spots", lambda: bs(polys, world.residential, classes=sorted(SEED_RADII)))
    print(json.dumps({"k": k, "nodes": net.n_nodes, "parcels": len(world.parcels),
                      "facilities": len(world.facilities), "timings": timings,
                      "rss_setup_mb": rss_setup,
                      "max_rss_mb": peak_mb()}),
          flush=True)


def study_child(k: int, use_proposals: bool) -> None:
    """``siteplan.pipeline.run_study`` on the Taiyuan demo study tiled k x k (files on disk)."""
    import warnings

    from siteplan.pipeline import run_study

    base = tiling.load_base()
    study = tiling.write_study(base, k, HERE / "out" / f"study_k{k}")
    del base
    trim()
    rss_setup = status_kb("VmRSS") / 1024.0
    started: dict[str, float] = {}

    def progress(name: str, state: str) -> None:
        if state == "start":
            started[name] = time.perf_counter()
            return
        print(f"    {'run_study: ' + name:<50} {time.perf_counter() - started[name]:8.2f} s   "
              f"RSS peak so far {peak_mb():7.0f} MB", flush=True)

    with (proposals_applied() if use_proposals else contextlib.nullcontext(),
          warnings.catch_warnings()):
        warnings.simplefilter("ignore")  # the OSM layer's one repaired geometry, per tile
        result = run_study(study, progress=progress)
    print(json.dumps({"k": k, "nodes": result.network.n_nodes, "parcels": len(result.parcels),
                      "facilities": len(result.facilities), "timings": result.timings,
                      "rss_setup_mb": rss_setup,
                      "max_rss_mb": peak_mb()}),
          flush=True)


def section_pipeline(k: int, use_proposals: bool, timeout: float,
                     study: bool = False) -> dict | None:
    label = ("run_study (demo study.toml)" if study else "engine stages") + (
        ", with proposals" if use_proposals else ", as is")
    header(f"Whole pipeline, Taiyuan {k}x{k}: {label} (fresh process)")
    cmd = [sys.executable, str(PEERS),
           "--study-child" if study else "--pipeline-child", str(k)]
    if use_proposals:
        cmd.append("--proposals")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        print(out.rstrip())
        print(f"  stopped after {timeout:.0f} s (--pipeline-timeout)")
        RESULTS.append({"section": f"pipeline k={k} {label}", "timeout_s": timeout})
        return {"timeout": timeout, "k": k, "label": label}
    wall = time.perf_counter() - t0
    lines = proc.stdout.rstrip().splitlines()
    print("\n".join(line for line in lines if not line.startswith("{")))
    if proc.returncode != 0 or not lines or not lines[-1].startswith("{"):
        print(f"  pipeline failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        return None
    info = json.loads(lines[-1])
    total = sum(info["timings"].values())
    print(f"  {info['nodes']:,} nodes, {info['parcels']:,} parcels, {info['facilities']:,} "
          f"facilities: stages {total:.1f} s (process {wall:.1f} s with data generation); "
          f"peak RSS {info['max_rss_mb']:,.0f} MB (of which input layers "
          f"~{info['rss_setup_mb']:,.0f} MB)")
    info["total_s"] = total
    info["label"] = label
    RESULTS.append({"section": f"pipeline k={k} {label}", **info})
    return info
