"""The distance engine against an independent networkx reference on the real Taiyuan network."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from nxref import build_graph, nearest_edges

from siteplan.access.distances import facility_access, node_access
from siteplan.core.defaults import ELDERLY_SPEED_MPS
from siteplan.core.errors import InputError

LIMIT = 3000.0
MAX_SNAP = 200.0


def _random_points(net, n: int, seed: int, spread: float = 120.0) -> np.ndarray:
    """Points scattered around random nodes: most snap mid-edge, some beyond the snap limit."""
    rng = np.random.default_rng(seed)
    xy = net.node_xy[rng.choice(net.n_nodes, n, replace=True)]
    return shapely.points(xy + rng.normal(0.0, spread, xy.shape))


@pytest.fixture(scope="module")
def case(taiyuan_network):
    net = taiyuan_network
    targets = _random_points(net, 500, seed=1)
    fac_pts = _random_points(net, 40, seed=2, spread=60.0)
    classes = np.array(["a", "b"] * 20)
    facilities = gpd.GeoDataFrame(
        {"facility_id": [f"f{i:02d}" for i in range(40)], "class": classes},
        geometry=fac_pts, crs=net.crs)
    parcels = gpd.GeoDataFrame({"parcel_id": [f"p{i:03d}" for i in range(500)]},
                               geometry=targets, crs=net.crs)
    result = facility_access(net, parcels, facilities, count_radii={"a": [500, 1000]},
                             search_limit_m=LIMIT, max_snap_m=MAX_SNAP)
    snaps = {f"t{i}": s for i, s in enumerate(nearest_edges(net, targets, MAX_SNAP))}
    fsnaps = {f"f{i:02d}": s for i, s in enumerate(nearest_edges(net, fac_pts, MAX_SNAP))}
    graph = build_graph(net, {**snaps, **fsnaps})
    return net, parcels, facilities, result, graph, snaps, fsnaps


def _reference(graph, fsnaps, facility_ids, n_targets):
    sources = [("f", f) for f in facility_ids if fsnaps[f] is not None]
    dist, paths = nx.multi_source_dijkstra(graph, sources, cutoff=LIMIT, weight="weight")
    d = np.array([dist.get(("f", f"t{i}"), np.nan) for i in range(n_targets)])
    nearest = [paths[("f", f"t{i}")][0][1] if ("f", f"t{i}") in paths else None
               for i in range(n_targets)]
    return d, nearest


@pytest.mark.parametrize("cls", ["a", "b"])
def test_distances_match_networkx(case, cls):
    net, parcels, facilities, result, graph, _, fsnaps = case
    ids = facilities.loc[facilities["class"] == cls, "facility_id"].tolist()
    ref, ref_nearest = _reference(graph, fsnaps, ids, len(parcels))
    got = result.table[f"dist_{cls}_m"].to_numpy()
    assert np.array_equal(np.isnan(got), np.isnan(ref)), "reachability differs from networkx"
    ok = ~np.isnan(ref)
    assert ok.sum() > 300  # the comparison covers most of the 500 points
    np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-6)
    nearest = result.table[f"nearest_{cls}_id"].to_numpy(dtype=object)
    same = [n == r for n, r in zip(nearest[ok], np.array(ref_nearest, dtype=object)[ok],
                                   strict=True)]
    # Equidistant facilities may be named either way; everything else must agree.
    assert np.mean(same) > 0.99
    assert result.table[f"nearest_{cls}_id"].isna().to_numpy().tolist() == (~ok).tolist()


def test_counts_match_networkx(case):
    net, parcels, facilities, result, graph, snaps, fsnaps = case
    ids = facilities.loc[facilities["class"] == "a", "facility_id"].tolist()
    expect = {500: np.zeros(len(parcels), int), 1000: np.zeros(len(parcels), int)}
    for f in ids:
        if fsnaps[f] is None:
            continue
        reach = nx.single_source_dijkstra_path_length(graph, ("f", f), cutoff=1000,
                                                      weight="weight")
        for i in range(len(parcels)):
            d = reach.get(("f", f"t{i}"))
            for r in expect:
                if d is not None and d <= r:
                    expect[r][i] += 1
    assert expect[1000].sum() > 50
    for r, counts in expect.items():
        np.testing.assert_array_equal(result.table[f"n_a_{r}m"].to_numpy(), counts)


def test_unreachable_features_are_reported_and_nan(case):
    net, parcels, facilities, result, _, snaps, fsnaps = case
    far = np.array([snaps[f"t{i}"] is None for i in range(len(parcels))])
    assert far.any() and not far.all()
    np.testing.assert_array_equal(result.table["unreachable"].to_numpy(), far)
    rep = result.unreachable
    assert sorted(rep.loc[rep["kind"] == "target", "id"]) == sorted(parcels["parcel_id"][far])
    assert (rep["nearest_street_m"] > MAX_SNAP).all()
    for col in ("dist_a_m", "dist_b_m", "time_a_min"):
        assert result.table.loc[far, col].isna().all()
    far_fac = [f for f, s in fsnaps.items() if s is None]
    assert sorted(rep.loc[rep["kind"] == "facility", "id"]) == sorted(far_fac)


def test_times_and_elderly_profile(taiyuan_network, case):
    net, parcels, facilities, result, *_ = case
    t = result.table
    np.testing.assert_allclose(t["time_a_min"], t["dist_a_m"] / 1.2 / 60.0)
    slow = facility_access(net, parcels.head(50), facilities, classes=["a"],
                           speed_mps=ELDERLY_SPEED_MPS)
    np.testing.assert_allclose(slow.table["time_a_min"],
                               t["dist_a_m"].head(50) / 0.8 / 60.0)


def test_node_distances_match_networkx(case):
    net, parcels, facilities, result, graph, _, fsnaps = case
    ids = facilities.loc[facilities["class"] == "b", "facility_id"].tolist()
    nodes = node_access(net, facilities, classes=["b"], search_limit_m=LIMIT)
    sources = [("f", f) for f in ids if fsnaps[f] is not None]
    dist = nx.multi_source_dijkstra_path_length(graph, sources, cutoff=LIMIT, weight="weight")
    ref = np.array([dist.get(i, np.nan) for i in range(net.n_nodes)])
    got = nodes["dist_b_m"].to_numpy()
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got[~np.isnan(ref)], ref[~np.isnan(ref)], rtol=1e-6)


def test_no_sentinels_and_reproducible(case):
    net, parcels, facilities, result, *_ = case
    again = facility_access(net, parcels, facilities, count_radii={"a": [500, 1000]})
    pd.testing.assert_frame_equal(result.table, again.table)
    d = result.table["dist_a_m"]
    assert d.max() <= LIMIT and d.min() >= 0


def test_class_without_facilities_is_all_nan(case):
    net, parcels, facilities, *_ = case
    res = facility_access(net, parcels.head(20), facilities, classes=["hospital"],
                          count_radii={"hospital": [500]})
    assert res.table["dist_hospital_m"].isna().all()
    assert (res.table["n_hospital_500m"] == 0).all()


def test_bad_inputs(case):
    net, parcels, facilities, *_ = case
    with pytest.raises(InputError, match="facility_id"):
        facility_access(net, parcels, facilities.drop(columns="facility_id"))
    with pytest.raises(InputError, match="search_limit_m"):
        facility_access(net, parcels, facilities, search_limit_m=-1)
    with pytest.raises(InputError, match="count radius"):
        facility_access(net, parcels, facilities, count_radii={"a": [0]})
    with pytest.raises(InputError, match="no CRS"):
        facility_access(net, parcels.set_crs(None, allow_override=True), facilities)


def test_polygon_grounds_snap_at_their_nearest_boundary(taiyuan_network):
    """Large school grounds reach the street at the nearest point of their boundary."""
    net = taiyuan_network
    rng = np.random.default_rng(5)
    centres = _random_points(net, 400, seed=9, spread=80.0)
    gap = shapely.distance(centres[:, None], net.edge_geometry[None, :]).min(axis=1)
    centres = centres[(gap > 45) & (gap < 150)][:30]  # grounds that touch no street
    grounds = shapely.buffer(centres, 15.0 + rng.uniform(0, 10, len(centres)), quad_segs=4)
    fac = gpd.GeoDataFrame({"facility_id": [f"g{i:02d}" for i in range(len(grounds))],
                            "class": "primary_school"}, geometry=grounds, crs=net.crs)
    targets = _random_points(net, 200, seed=11)
    parcels = gpd.GeoDataFrame({"parcel_id": [f"p{i}" for i in range(200)]}, geometry=targets,
                               crs=net.crs)
    got = facility_access(net, parcels, fac, facility_point="nearest-boundary",
                          search_limit_m=LIMIT, max_snap_m=MAX_SNAP)
    centre = facility_access(net, parcels, fac, search_limit_m=LIMIT, max_snap_m=MAX_SNAP)
    fsnaps = {f"g{i:02d}": s for i, s in enumerate(nearest_edges(net, grounds, MAX_SNAP))}
    tsnaps = {f"t{i}": s for i, s in enumerate(nearest_edges(net, targets, MAX_SNAP))}
    graph = build_graph(net, {**tsnaps, **fsnaps})
    ref, _ = _reference(graph, fsnaps, list(fsnaps), len(parcels))
    d = got.table["dist_primary_school_m"].to_numpy()
    assert np.array_equal(np.isnan(d), np.isnan(ref)) and (~np.isnan(ref)).sum() > 100
    np.testing.assert_allclose(d[~np.isnan(ref)], ref[~np.isnan(ref)], rtol=1e-6)
    # The boundary is nearer the street than the inner point: every access leg is shorter
    # (a network distance may still grow when the boundary snaps to another street).
    leg = got.facility_snaps["primary_school"][0].access_m
    inner_leg = centre.facility_snaps["primary_school"][0].access_m
    assert (leg < inner_leg).all()
    np.testing.assert_allclose(leg, [s[2] for s in fsnaps.values()], rtol=1e-9)
