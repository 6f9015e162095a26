"""The access stage of one study split into tiles: one process against a Dask cluster of 2.

The Taiyuan demo tiled k x k (``tiling.py``; k = 6: 221k nodes by default) with the engine's
four classes and count radii: ``facility_access`` on the whole network, then
``split_access`` with the tiles run one after another (the cost of cutting and merging) and on
a Dask LocalCluster of 2 worker processes (the speed-up), and the bytes each tile's task
carries to its worker (pickled: streets, parcels, facilities) and back.  Every table is
checked equal to the whole run's.

Run: ``.venv/bin/python benchmarks/split_access.py [--k 6] [--tiles 2 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import tiling  # noqa: E402
from pipeline_runs import COUNT_RADII  # noqa: E402

from siteplan.access.distances import facility_access  # noqa: E402
from siteplan.access.split import run_tile, split_access, split_tasks  # noqa: E402
from siteplan.batch import dask_mapper  # noqa: E402
from siteplan.network.build import graph_from_lines  # noqa: E402

SETTINGS = {"count_radii": COUNT_RADII, "classes": sorted(COUNT_RADII)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--tiles", type=int, nargs=2, default=[2, 2])
    args = ap.parse_args()
    tiles = (args.tiles[0], args.tiles[1])
    print(f"split access benchmark: {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = tiling.load_base()
    world = tiling.tile(base, args.k)
    net = graph_from_lines(world.lines, source="tiled")
    net.csr, net.segment_index  # noqa: B018  (built once, as in a study)
    print(f"Taiyuan {args.k}x{args.k}: {net.n_nodes:,} nodes, {len(world.parcels):,} parcels, "
          f"{len(world.facilities):,} facilities; tiles {tiles[0]}x{tiles[1]}")
    t0 = time.perf_counter()
    whole = facility_access(net, world.parcels, world.facilities, **SETTINGS).table
    t_whole = time.perf_counter() - t0
    print(f"  one process, whole network          {t_whole:7.2f} s")
    t0 = time.perf_counter()
    serial = split_access(net, world.parcels, world.facilities, tiles=tiles, **SETTINGS).table
    t_serial = time.perf_counter() - t0
    print(f"  tiles one after another            {t_serial:7.2f} s  ({t_serial / t_whole:.2f}x: "
          f"the cost of the split)  equal: {serial.equals(whole)}")
    tasks = split_tasks(net, world.parcels, world.facilities, tiles,
                        {**SETTINGS, "search_limit_m": 3000.0, "max_snap_m": 200.0})
    sent = [len(pickle.dumps(t, protocol=5)) for t in tasks]
    back = [len(pickle.dumps(run_tile(t), protocol=5)) for t in tasks[:1]]
    whole_bytes = len(pickle.dumps((net, world.parcels, world.facilities), protocol=5))
    print(f"  to the workers: {sum(sent) / 1e6:,.1f} MB in {len(sent)} tasks "
          f"(largest {max(sent) / 1e6:,.1f} MB; the whole study's inputs: "
          f"{whole_bytes / 1e6:,.1f} MB); back: ~{back[0] / 1e6:,.1f} MB per tile")
    equal = bool(serial.equals(whole))
    with dask_mapper(None, n_workers=2) as mapper:  # the cluster starts before the clock
        for run in ("first (workers import siteplan)", "second"):
            t0 = time.perf_counter()
            dask = split_access(net, world.parcels, world.facilities, tiles=tiles,
                                mapper=mapper, **SETTINGS).table
            t_dask = time.perf_counter() - t0
            print(f"  Dask LocalCluster, 2 workers, {run:<32} {t_dask:7.2f} s  (speed-up "
                  f"{t_whole / t_dask:.2f}x)  equal: {dask.equals(whole)}")
            equal = equal and bool(dask.equals(whole))
    print(f"load average at the end {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    # The last line, for peers.py's target rows (the second Dask run: workers warm).
    print(json.dumps({"nodes": net.n_nodes, "whole_s": t_whole, "serial_s": t_serial,
                      "dask_s": t_dask, "equal": equal, "sent_mb": sum(sent) / 1e6,
                      "largest_mb": max(sent) / 1e6}))


if __name__ == "__main__":
    main()
