"""The whole pipeline in a fresh process.

Peak memory is the child's ``VmHWM`` (not ``ru_maxrss``, which Linux carries over from the
parent across ``exec``).

Two pipelines: the engine stages the performance issue names (network from lines, access with
counts, dissolved catchments, coverage, blind spots, served units), and ``siteplan.pipeline.run_study`` on the
Taiyuan demo study tiled k x k (files written to ``benchmarks/out/study_k<k>``).  Each runs in a
child process (``peers.py --pipeline-child k`` / ``--study-child k``) so that its peak RSS is its
own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tiling
from measure import RESULTS, header, status_kb, trim

from siteplan.access.catchments import catchments
from siteplan.access.coverage import blind_spots, coverage
from siteplan.access.distances import facility_access
from siteplan.access.served import served_units
from siteplan.core.defaults import SEED_RADII_M
from siteplan.network.build import graph_from_lines
from siteplan.network.graph import Network


def peak_mb() -> float:
    return status_kb("VmHWM") / 1024.0


HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers.py"
FRONTAGE_M = 30.0
COUNT_RADII = {"kindergarten": [300.0], "primary_school": [500.0], "middle_school": [1000.0],
               "hospital": [1000.0]}


def pipeline_child(k: int) -> None:
    """The engine stages on the Taiyuan network tiled k x k; prints timings and peak RSS."""
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
        net.csr, net.segment_index  # noqa: B018
        return net

    net = step("network from lines (+CSR, index)", network)
    tiling.check_stitched(world, net)
    acc = step("access: snap, 4 classes, counts", lambda: facility_access(
        net, world.parcels, world.facilities, classes=sorted(COUNT_RADII),
        count_radii=COUNT_RADII))
    parcels = world.parcels.join(acc.table)
    polys = step("catchments dissolve, 3 classes", lambda: catchments(
        net, world.facilities, SEED_RADII_M, mode="dissolve"))
    step("coverage (+ frontage ceiling)", lambda: coverage(
        polys, world.residential, parcels=parcels, network=net, frontage_m=FRONTAGE_M))
    step("blind spots", lambda: blind_spots(polys, world.residential,
                                            classes=sorted(SEED_RADII_M)))
    step("served units: entrances, 3 classes", lambda: served_units(
        net, world.residential, world.facilities, SEED_RADII_M))
    print(json.dumps({"k": k, "nodes": net.n_nodes, "parcels": len(world.parcels),
                      "facilities": len(world.facilities), "timings": timings,
                      "rss_setup_mb": rss_setup,
                      "max_rss_mb": peak_mb()}),
          flush=True)


def study_child(k: int) -> None:
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

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the OSM layer's one repaired geometry, per tile
        result = run_study(study, progress=progress)
    print(json.dumps({"k": k, "nodes": result.network.n_nodes, "parcels": len(result.parcels),
                      "facilities": len(result.facilities), "timings": result.timings,
                      "rss_setup_mb": rss_setup,
                      "max_rss_mb": peak_mb()}),
          flush=True)


def section_pipeline(k: int, timeout: float, study: bool = False) -> dict | None:
    label = "run_study (demo study.toml)" if study else "engine stages"
    header(f"Whole pipeline, Taiyuan {k}x{k}: {label} (fresh process)")
    cmd = [sys.executable, str(PEERS),
           "--study-child" if study else "--pipeline-child", str(k)]
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
