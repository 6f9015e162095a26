"""One study's access stage split into spatial tiles gives the whole network's numbers exactly.

On the Taiyuan demo tiled 2 x 2 and 3 x 3 (``benchmarks/tiling.py``: copies of the city
stitched into one network), every column of the access table (distances, times, nearest ids
and names, counts within radii, access legs) and the unreachable report equal the single run's
bit for bit, whether the tiles run one after another or as tasks on a Dask LocalCluster.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from siteplan.access.distances import facility_access
from siteplan.access.split import halo_m, split_access, split_tasks
from siteplan.network.build import graph_from_lines

sys.path.insert(0, str(ROOT / "benchmarks"))
import tiling  # noqa: E402

COUNT_RADII = {"kindergarten": [300.0], "primary_school": [500.0], "middle_school": [1000.0],
               "hospital": [500.0, 1000.0]}
SETTINGS = {"count_radii": COUNT_RADII, "facility_point": "nearest-boundary",
            "search_limit_m": 2000.0}


@pytest.fixture(scope="module")
def base():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the OSM layer's one repaired geometry
        return tiling.load_base()


def _world(base, k):
    world = tiling.tile(base, k)
    net = graph_from_lines(world.lines, source="tiled")
    tiling.check_stitched(world, net)
    return world, net


@pytest.mark.parametrize(("k", "tiles"), [(2, (2, 2)), (3, (3, 3))])
def test_split_access_equals_the_whole_network(base, k, tiles):
    world, net = _world(base, k)
    whole = facility_access(net, world.parcels, world.facilities, **SETTINGS)
    split = split_access(net, world.parcels, world.facilities, tiles=tiles, **SETTINGS)
    pd.testing.assert_frame_equal(split.table, whole.table, check_exact=True)
    pd.testing.assert_frame_equal(split.unreachable.reset_index(drop=True),
                                  whole.unreachable.reset_index(drop=True), check_exact=True)
    # Not trivially equal: every class is measured, most parcels reach most classes.
    for cls in COUNT_RADII:
        assert split.table[f"dist_{cls}_m"].notna().mean() > 0.5
    tasks = split_tasks(net, world.parcels, world.facilities, tiles,
                        {**SETTINGS, "max_snap_m": 200.0})
    assert len(tasks) == tiles[0] * tiles[1]
    assert sum(len(t.parcels) for t in tasks) == len(world.parcels)
    # Each tile holds a part of the network, not the whole of it.
    assert max(t.network.n_edges for t in tasks) < net.n_edges


def test_split_access_on_a_dask_local_cluster(base):
    from siteplan.batch import dask_mapper

    world, net = _world(base, 2)
    whole = facility_access(net, world.parcels, world.facilities, **SETTINGS)
    with dask_mapper(None, n_workers=2) as mapper:
        split = split_access(net, world.parcels, world.facilities, tiles=(2, 2),
                             mapper=mapper, **SETTINGS)
    pd.testing.assert_frame_equal(split.table, whole.table, check_exact=True)


def test_halo_covers_the_search_limit_the_largest_radius_and_both_snaps():
    assert halo_m(1000.0, {"park": [500.0, 1500.0]}, 50.0) == 1500.0 + 100.0 + 1.0
    assert halo_m(3000.0, {}, 200.0) == 3000.0 + 400.0 + 1.0
    assert np.isfinite(halo_m(3000.0, {"x": []}, 0.0))


@pytest.mark.filterwarnings("ignore::siteplan.core.errors.SiteplanWarning")
def test_run_study_split_ranks_and_scores_as_one_process():
    from siteplan.pipeline import DEMO_STUDY, run_study

    one = run_study(DEMO_STUDY)
    split = run_study(DEMO_STUDY, access_map=map, tiles=(3, 2))
    pd.testing.assert_frame_equal(split.parcels.drop(columns="geometry"),
                                  one.parcels.drop(columns="geometry"), check_exact=True)
    pd.testing.assert_frame_equal(split.coverage, one.coverage, check_exact=True)
    assert split.parcels["rank"].notna().sum() > 100


def test_bad_tile_grid_is_refused(tmp_path):
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "siteplan", "run", str(ROOT / "data" / "taiyuan"
                                                                          / "study.toml"),
                           "--scheduler", "local", "--tiles", "2by2", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--tiles" in proc.stderr and "Traceback" not in proc.stderr
