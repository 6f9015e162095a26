"""siteplan against its peers, on the same data in one process; targets marked PASS or MISS.

Run ``.venv/bin/python benchmarks/peers.py`` (quick, about 3 minutes on 2 cores) or with
``--full`` (adds the 1,000,000-node network and the whole pipeline at that size).  Not part of the
test suite.  The data are the bundled Taiyuan layers and the same tiled k x k
(:mod:`tiling` explains the stitching).

Times are best-of-N wall-clock seconds; memory is the peak RSS above the start of each case
(kernel high-water mark, so C and C++ allocations count); :mod:`measure` has the details.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# SITEPLAN_BENCH_SRC=<dir holding a siteplan/ package> benchmarks that copy (e.g. a `git archive`
# of one commit) instead of the installed, editable working tree; the pipeline child inherits it.
if os.environ.get("SITEPLAN_BENCH_SRC"):
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, os.environ["SITEPLAN_BENCH_SRC"])

import tiling  # noqa: E402
from measure import (  # noqa: E402
    HWM_RESET,
    RESULTS,
    TARGETS,
    Case,
    columns,
    header,
    measure,
    row,
    target,
    trim,
)
from peer_methods import (  # noqa: E402
    LIMIT_M,
    fresh,
    nearest_nodes,
    nx_graph,
    nx_search,
    osmnx_graph,
    osmnx_recipe,
    pandana_available,
    pandana_run,
    scipy_floor,
)
from pipeline_runs import pipeline_child, section_pipeline, study_child  # noqa: E402

from siteplan.access.catchments import catchments  # noqa: E402
from siteplan.access.coverage import blind_spots, class_coverage, coverage  # noqa: E402
from siteplan.access.distances import node_access  # noqa: E402
from siteplan.core.defaults import SEED_RADII_M  # noqa: E402
from siteplan.network.build import graph_from_lines
from siteplan.network.graph import Network
from siteplan.network.paths import nearest_source_nodes  # noqa: E402
from siteplan.network.snapping import _nearest_edges_geos, snap  # noqa: E402
from siteplan.outputs.writers import MAP_PARCEL_LIMIT  # noqa: E402

CATCHMENT_M = 500.0
FRONTAGE_M = 30.0
SNAP_PARCELS = 20_000
CATCHMENT_FACILITIES = 200


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------
@dataclass
class Dataset:
    name: str
    world: tiling.World
    net: Network


def build(base: tiling.Base, k: int) -> Dataset:
    world = tiling.tile(base, k)
    net = graph_from_lines(world.lines, source=f"taiyuan x{k * k}")
    tiling.check_stitched(world, net)
    net.csr, net.segment_index  # noqa: B018 -- built once with the network, as a study does
    name = "Taiyuan" if k == 1 else f"Taiyuan {k}x{k}"
    return Dataset(f"{name} ({net.n_nodes:,} nodes)", world, net)


def schools(ds: Dataset) -> Any:
    fac = ds.world.facilities
    out = fac[fac["class"].isin(["primary_school", "middle_school"])].copy()
    out["class"] = "school"
    return out


def section_distances(ds: Dataset, repeat: int, pandana_max: int) -> None:
    net = ds.net
    fac = schools(ds)
    xy = shapely.get_coordinates(fac.geometry.values)
    header(f"Nearest school, every node, limit {LIMIT_M:g} m: {ds.name}, {len(fac):,} schools")
    nodes = nearest_nodes(net, xy)
    floor = measure(lambda: scipy_floor(net, nodes), repeat)
    columns("floor")
    row(ds.name, "scipy dijkstra min_only (floor, CSR ready)", floor, ref=floor.seconds,
        note="schools pre-mapped to their nearest node")
    own = measure(lambda: scipy_floor(net, nearest_nodes(net, xy)), repeat)
    row(ds.name, "  floor + its own setup (KD-tree nearest node)", own, ref=floor.seconds)

    def kernel() -> Any:
        return nearest_source_nodes(net, snap(net, fac.geometry.values), LIMIT_M)

    sp = measure(kernel, repeat)
    row(ds.name, "siteplan snap + nearest_source_nodes", sp, ref=floor.seconds,
        note="snap to edges, pseudo-nodes, dist + nearest id")
    table = measure(lambda: node_access(net, fac, classes=["school"], search_limit_m=LIMIT_M),
                    repeat)
    row(ds.name, "siteplan node_access (table)", table, ref=floor.seconds,
        note="+ time and id columns as a DataFrame")
    cold = measure(lambda: node_access(fresh(net), fac, classes=["school"],
                                       search_limit_m=LIMIT_M))
    row(ds.name, "siteplan node_access, cold network", cold, ref=floor.seconds,
        note="+ building the CSR and the segment index")
    ratio = sp.seconds / floor.seconds
    target(f"distances within 1.5x of the scipy floor: {ds.name}", ratio <= 1.5,
           f"snap+pass {ratio:.2f}x, node_access table {table.seconds / floor.seconds:.2f}x "
           f"(floor {floor.seconds * 1000:.0f} ms)")
    print(f"  {'peers':<54} {'':>9} {'':>10} {'/ siteplan':>9}")
    base_nx = measure(lambda: nx_graph(net))
    row(ds.name, "networkx: build nx.Graph", base_nx, ref=table.seconds)
    graph = base_nx.value
    base_nx.value = None
    nxq = measure(lambda: nx_search(graph, nodes))
    row(ds.name, "networkx: multi_source_dijkstra_path_length", nxq, ref=table.seconds)
    ref = floor.value
    got = np.full(net.n_nodes, np.inf)
    got[list(nxq.value)] = list(nxq.value.values())
    agree = np.array_equal(np.isfinite(got), np.isfinite(ref)) and np.allclose(
        got[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-9)
    print(f"    networkx agrees with the floor (same nearest-node sources): {agree}")
    graph = nxq = None
    ok, why = pandana_available()
    if ok and net.n_nodes > pandana_max:
        ok, why = False, (f"skipped above {pandana_max:,} nodes: its contraction hierarchies "
                          f"grow faster than linearly here (--pandana-max-nodes)")
    if not ok:
        row(ds.name, "pandana nearest_pois", None, note=why)
        target(f">= 20x faster than pandana (setup included): {ds.name}", None, why)
        return
    runs = []
    # pandana's default is every core (2).  Its spinning OpenMP threads lose up to 5x when the
    # cores are shared, so on a busy machine it also runs with one thread and keeps the best.
    busy = os.getloadavg()[0] > 1.0
    for threads in (2, 1) if busy else (2,):
        pdn = measure(lambda threads=threads: pandana_run(net, xy, threads))
        dist, setup = pdn.value
        row(ds.name, f"pandana, OMP threads={threads}: Network+set_pois+nearest_pois", pdn,
            ref=table.seconds, note=f"of which contraction hierarchies {setup:.2f} s")
        runs.append(pdn)
    fin = np.isfinite(ref) & (ref < LIMIT_M - 1e-6)
    close = np.isfinite(dist[fin]) & np.isclose(dist[fin], ref[fin], rtol=1e-4, atol=0.05)
    err = np.abs(dist[fin] - ref[fin])
    print(f"    pandana agrees with the floor (5 cm / 1e-4) on {close.mean():.2%} of reached "
          f"nodes; largest difference {np.nanmax(err):.3f} m")
    best = min(r.seconds for r in runs)
    speedup = best / table.seconds
    target(f">= 20x faster than pandana (setup included): {ds.name}", speedup >= 20,
           f"{speedup:.1f}x (pandana's best {best:.2f} s, siteplan node_access "
           f"{table.seconds:.3f} s)")


def random_facilities(net: Network, n: int, seed: int) -> Any:
    import geopandas as gpd

    rng = np.random.default_rng(seed)
    xy = net.node_xy[rng.choice(net.n_nodes, n, replace=False)] + rng.normal(0, 40, (n, 2))
    return gpd.GeoDataFrame({"facility_id": [f"c{i:03d}" for i in range(n)],
                             "class": "primary_school"}, geometry=shapely.points(xy),
                            crs=net.crs)


def section_catchments(ds: Dataset, n_osmnx: int) -> None:
    net = ds.net
    fac = random_facilities(net, CATCHMENT_FACILITIES, seed=11)
    header(f"Catchment polygons at {CATCHMENT_M:g} m, one per facility: {ds.name}")
    columns("siteplan")
    sp = measure(lambda: catchments(net, fac, {"primary_school": CATCHMENT_M}, mode="overlap",
                                    frontage_m=FRONTAGE_M))
    rate = len(sp.value) / sp.seconds
    row(ds.name, f"siteplan catchments overlap, {len(fac)} facilities", sp, ref=sp.seconds,
        note=f"{rate:.0f} polygons/s (exact partial edges, {FRONTAGE_M:g} m frontage)")
    target("catchment polygons at 500 m >= 100 per second", rate >= 100,
           f"{rate:.0f}/s on {ds.name}, {len(fac)} facilities")
    graph = osmnx_graph(net)
    centres = nearest_nodes(net, shapely.get_coordinates(fac.geometry.values[:n_osmnx]))
    ox = measure(lambda: osmnx_recipe(graph, centres, CATCHMENT_M))
    ox_rate = len(centres) / ox.seconds
    per_poly = Case(ox.seconds / len(centres) * len(fac), ox.peak_mb)
    row(ds.name, f"osmnx notebook recipe, {len(centres)} facilities", ox, ref=sp.seconds * len(
        centres) / len(fac), note=f"{ox_rate:.1f} polygons/s (whole edges from the nearest node)")
    row(ds.name, f"  same, scaled to {len(fac)} facilities", per_poly, ref=sp.seconds)


def frames_close(a: Any, b: Any, rtol: float = 1e-9) -> bool:
    """Same columns; numeric columns equal to ``rtol`` (NaN matching NaN), others equal."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for col in a.columns:
        x, y = a[col], b[col]
        if x.dtype.kind in "fiu" and y.dtype.kind in "fiu":
            if not np.allclose(x.to_numpy(float), y.to_numpy(float), rtol=rtol, equal_nan=True):
                return False
        elif not x.astype(object).fillna("<NA>").equals(y.astype(object).fillna("<NA>")):
            return False
    return True


def section_coverage(ds: Dataset, repeat: int) -> None:
    """As the issue states it: class unions from dissolved catchments, coverage (with the
    street-frontage ceiling) and blind spots; and as the pipeline computes them, without the
    dissolve (``class_coverage``)."""
    net, world = ds.net, ds.world
    header(f"Dissolved catchments and coverage per class, whole city: {ds.name}")
    columns("total")
    cat = measure(lambda: catchments(net, world.facilities, SEED_RADII_M, mode="dissolve"), repeat)
    cov = measure(lambda: coverage(cat.value, world.residential, parcels=world.parcels,
                                   network=net, frontage_m=FRONTAGE_M), repeat)
    total = Case(cat.seconds + cov.seconds, max(cat.peak_mb, cov.peak_mb))
    row(ds.name, "catchments dissolve (3 seed classes)", cat, ref=total.seconds)
    row(ds.name, "coverage (share, frontage ceiling, parcels)", cov, ref=total.seconds)
    row(ds.name, "dissolve + coverage", total, ref=total.seconds)
    classes = sorted(SEED_RADII_M)
    bs = measure(lambda: blind_spots(cat.value, world.residential, classes=classes), repeat)
    row(ds.name, "blind_spots", bs, ref=total.seconds)
    loc = measure(lambda: class_coverage(net, world.facilities, dict(SEED_RADII_M),
                                         world.residential, parcels=world.parcels,
                                         frontage_m=FRONTAGE_M), repeat)
    row(ds.name, "class_coverage (no dissolve; + blind spots)", loc, ref=total.seconds,
        note="what run_study computes")
    table, spots = loc.value
    ok = (frames_close(table, cov.value)
          and spots[["class", "residential_id"]].equals(bs.value[["class", "residential_id"]])
          and np.allclose(spots["area_m2"], bs.value["area_m2"], rtol=1e-9))
    print(f"    class_coverage gives the same table (1e-9) and blind spots: {ok}")
    target("dissolved per-class coverage, whole city < 2 s", total.seconds < 2.0,
           f"{total.seconds:.2f} s on {ds.name} (blind spots {bs.seconds:.2f} s more; without "
           f"the dissolve {loc.seconds:.2f} s with blind spots)")


def section_snap(ds: Dataset, repeat: int) -> None:
    net = ds.net
    geoms = np.asarray(ds.world.parcels.geometry.values[:SNAP_PARCELS], dtype=object)
    header(f"Snapping {len(geoms):,} parcels to edges: {ds.name}")
    columns("siteplan")
    sp = measure(lambda: snap(net, geoms), repeat)
    row(ds.name, "siteplan snap (segment index ready)", sp, ref=sp.seconds,
        note="representative points, KD-tree over segment pieces")
    fresh_net = fresh(net)
    ix = measure(lambda: fresh_net.segment_index)
    row(ds.name, "  building the segment index (once per network)", ix, ref=sp.seconds)
    pts = shapely.point_on_surface(geoms)
    geos = measure(lambda: _nearest_edges_geos(net, pts, 200.0), repeat)
    row(ds.name, "  nearest edges with GEOS STRtree.query_nearest", geos, ref=sp.seconds,
        note="the path polygons take; edge choice only")
    same = np.array_equal(geos.value[0], np.where(sp.value.edge >= 0, sp.value.edge, -1))
    print(f"    the KD-tree and GEOS pick the same edges: {same}")
    target(f"snapping {len(geoms):,} parcels < 0.2 s", sp.seconds < 0.2,
           f"{sp.seconds:.3f} s on {ds.name} (segment index built once per network: "
           f"{ix.seconds:.2f} s)")


def section_build(base: tiling.Base, k: int) -> Dataset:
    """Network build from lines; returns the dataset."""
    world = tiling.tile(base, k)
    header(f"Network from {len(world.lines):,} lines: Taiyuan {k}x{k}")
    columns("engine")
    eng = measure(lambda: graph_from_lines(world.lines, source="tiled"))
    net = eng.value
    row(f"build {k}", "siteplan graph_from_lines", eng, ref=eng.seconds,
        note=f"{net.n_nodes:,} nodes, {net.n_edges:,} edges")
    tiling.check_stitched(world, net)
    net.csr, net.segment_index  # noqa: B018
    return Dataset(f"Taiyuan {k}x{k} ({net.n_nodes:,} nodes)", world, net)


def section_catchments_scaled(ds: Dataset) -> None:
    net = ds.net
    fac = random_facilities(net, CATCHMENT_FACILITIES, seed=11)
    header(f"Catchment polygons at {CATCHMENT_M:g} m, one per facility: {ds.name}")
    columns("engine")
    eng = measure(lambda: catchments(net, fac, {"primary_school": CATCHMENT_M}, mode="overlap"))
    rate = len(eng.value) / eng.seconds
    row(ds.name, f"siteplan catchments overlap, {len(fac)} facilities", eng, ref=eng.seconds,
        note=f"{rate:.0f} polygons/s")
    target("catchment polygons at 500 m >= 100 per second", rate >= 100,
           f"{rate:.0f}/s on {ds.name}, {len(fac)} facilities")


# --------------------------------------------------------------------------------------------
def section_peers(base: tiling.Base, args: argparse.Namespace) -> None:
    """Distances, catchments, coverage and snapping against the peers, at each size."""
    taiyuan = build(base, 1)
    section_distances(taiyuan, args.repeat, args.pandana_max_nodes)
    section_catchments(taiyuan, args.osmnx_n)
    section_coverage(taiyuan, args.repeat)
    snap_ds = build(base, tiling.k_for_nodes(base, 16 * base.net.n_nodes))
    section_snap(snap_ds, args.repeat)
    del snap_ds
    sizes = [args.k] + ([tiling.k_for_nodes(base, 1_000_000)] if args.full else [])
    for k in sizes:
        ds = section_build(base, k)
        section_distances(ds, args.repeat, args.pandana_max_nodes)
        if k == args.k:
            section_catchments_scaled(ds)
        del ds
        trim()


def _child_json(script: str, args: list[str], timeout: float) -> dict | None:
    """Run a benchmark script in a fresh process; return the JSON of its last line."""
    cmd = [sys.executable, str(HERE / script), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  {script} stopped after {timeout:.0f} s")
        return None
    lines = proc.stdout.rstrip().splitlines()
    print("\n".join("  " + line for line in lines if not line.startswith("{")))
    if proc.returncode != 0 or not lines or not lines[-1].startswith("{"):
        print(f"  {script} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        return None
    info: dict = json.loads(lines[-1])
    RESULTS.append({"section": script, **info})
    return info


def section_split(timeout: float) -> None:
    """Issue 18: the access stage split across a Dask LocalCluster of 2 workers (k = 6)."""
    header("One study's access stage in 2 x 2 tiles: one process, tiles in turn, Dask of 2")
    info = _child_json("split_access.py", ["--k", "6"], timeout)
    if info is None:
        target("Dask split of the access stage on 2 workers: faster than one process", False,
               "did not run")
        return
    target("Dask split of the access stage on 2 workers: faster than one process",
           info["dask_s"] < info["whole_s"],
           f"{info['whole_s'] / info['dask_s']:.2f}x ({info['dask_s']:.2f} s against "
           f"{info['whole_s']:.2f} s at {info['nodes']:,} nodes); the split itself costs "
           f"{info['serial_s'] / info['whole_s']:.2f}x (tiles in turn), "
           f"{info['sent_mb']:.0f} MB to the workers; tables equal: {info['equal']}")


def section_maps(timeout: float) -> None:
    """Issue 18: the offline map at 5k / 20k / 50k parcels in headless Chromium."""
    header("Maps at size: load, zoom and popup in headless Chromium")
    info = _child_json("map_size.py", [], timeout)
    name = (f"map at the drawing cap ({MAP_PARCEL_LIMIT:,} parcels) opens in <= 5 s and "
            "redraws a zoom in <= 2.5 s")
    if info is None:
        target(name, False, "did not run")
        return
    rows = {r["parcels"]: r for r in info["rows"]}
    cap = rows.get(MAP_PARCEL_LIMIT)
    sizes = "; ".join(f"{n:,}: {r['mb']:.1f} MB, open {r['load_s']:.1f} s, zoom "
                      f"{r['zoom_s']:.1f} s" for n, r in sorted(rows.items()))
    target(name, None if cap is None else cap["load_s"] <= 5 and cap["zoom_s"] <= 2.5, sizes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true",
                    help="add the >= 1M-node network and the whole pipeline at that size")
    ap.add_argument("--k", type=int, default=6,
                    help="tiling of the scaled network for the distance peers (6: 221k nodes)")
    ap.add_argument("--pipeline-k", type=int, default=None,
                    help="tiling for the whole pipeline (default 3, or 13 = 1M nodes with --full)")
    ap.add_argument("--study-k", type=int, default=None,
                    help="tiling for run_study on the demo study (default 2, --full: as "
                         "--pipeline-k)")
    ap.add_argument("--osmnx-n", type=int, default=20, help="facilities for the osmnx recipe")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the cheap cases (best kept)")
    ap.add_argument("--pandana-max-nodes", type=int, default=300_000,
                    help="skip pandana on larger networks (its setup takes minutes there)")
    ap.add_argument("--pipeline-timeout", type=float, default=600.0,
                    help="stop a pipeline run after this many seconds")
    ap.add_argument("--no-pipeline", action="store_true")
    ap.add_argument("--only-pipeline", action="store_true",
                    help="skip the distance and catchment peers: only the two whole-pipeline "
                         "runs and their targets (e.g. --full --only-pipeline)")
    ap.add_argument("--scale", action="store_true",
                    help="issue 18's rows only: the two whole-pipeline runs, the Dask split of "
                         "the access stage (split_access.py) and the map at size "
                         "(map_size.py); with --full at a million nodes")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--pipeline-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--study-child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pipeline_child is not None:
        pipeline_child(args.pipeline_child)
        return
    if args.study_child is not None:
        study_child(args.study_child)
        return

    import scipy

    print(f"siteplan peers benchmark: {platform.platform()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}"
          f", shapely {shapely.__version__} (GEOS {shapely.geos_version_string}); load "
          f"average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if not HWM_RESET:
        print("NOTE: /proc/self/clear_refs is not writable; peak memory falls back to ru_maxrss "
              "growth (new process-wide highs only).")
    t_start = time.perf_counter()
    base = tiling.load_base()
    if not (args.only_pipeline or args.scale):
        section_peers(base, args)
    pipe_k = args.pipeline_k or (tiling.k_for_nodes(base, 1_000_000) if args.full else 3)
    study_k = args.study_k or (pipe_k if args.full else 2)
    runs = []
    if not args.no_pipeline:
        runs.append(section_pipeline(pipe_k, args.pipeline_timeout, study=False))
        runs.append(section_pipeline(study_k, args.pipeline_timeout, study=True))
    for info in runs:
        if info is None:
            continue
        k = info["k"]
        million = k * k * base.net.n_nodes >= 1_000_000
        name = (f"whole pipeline at {k * k * base.net.n_nodes:,} nodes, "
                f"{info['label']}: < 2 min and < 4 GB")
        if "timeout" in info:
            target(name, False if million else None,
                   f"did not finish in {info['timeout']:.0f} s")
            continue
        ok = info["total_s"] < 120 and info["max_rss_mb"] < 4096
        target(name, ok if million else None,
               f"{info['total_s']:.1f} s, {info['max_rss_mb']:,.0f} MB"
               + ("" if million else " (target is at >= 1M nodes: run --full)"))
    done = [i for i in runs if i is not None and "timeout" not in i]
    if len(done) == 2:  # absolute times drift with the machine's load; the ratio holds
        engine, study = done
        ratio = study["total_s"] / engine["total_s"]
        million = study["k"] ** 2 * base.net.n_nodes >= 1_000_000
        target("run_study <= 1.3x the engine stages of the same run", ratio <= 1.3
               if million else None, f"{ratio:.2f}x ({study['total_s']:.1f} s / "
               f"{engine['total_s']:.1f} s)")
    if args.scale or (args.full and not args.only_pipeline):
        section_split(args.pipeline_timeout)
        section_maps(args.pipeline_timeout)
    load = os.getloadavg()
    print(f"\n## Targets   (run took {time.perf_counter() - t_start:.0f} s; load average at "
          f"the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs)")
    for name, status, detail in TARGETS:
        print(f"  {status:<5} {name}: {detail}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"results": RESULTS, "targets": TARGETS}, indent=1,
                                        default=str))


if __name__ == "__main__":
    main()
