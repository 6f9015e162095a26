"""Snapping: the KD-tree path for points against GEOS, ties, the snap limit and odd inputs."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from nxref import nearest_edges
from shapely.geometry import LineString

from siteplan.network.build import graph_from_lines
from siteplan.network.segments import SEGMENT_PIECE_M
from siteplan.network.snapping import _nearest_edges_geos, snap

CRS = "EPSG:32649"


def _net(lines):
    return graph_from_lines(gpd.GeoDataFrame({"highway": ["residential"] * len(lines)},
                                             geometry=lines, crs=CRS))


def _points_around(net, n, seed, spread):
    rng = np.random.default_rng(seed)
    return net.node_xy[rng.integers(0, net.n_nodes, n)] + rng.normal(0, spread, (n, 2))


def test_point_index_equals_geos_bit_for_bit(taiyuan_network):
    """Same edge and same distance as GEOS's STRtree, to the last bit, also on exact ties
    (points on nodes are equidistant, 0 m, from every edge at the node)."""
    net = taiyuan_network
    xy = np.concatenate([_points_around(net, 20_000, 1, 40.0), net.node_xy[::7],
                         _points_around(net, 300, 2, 2_000.0)])  # far: the ball fallback
    edge, dist = net.segment_index.nearest(xy)
    ref_edge, ref_dist = _nearest_edges_geos(net, shapely.points(xy), np.inf)
    assert np.array_equal(edge, ref_edge)
    assert np.array_equal(dist, ref_dist)
    on_node = slice(20_000, 20_000 + net.node_xy[::7].shape[0])
    assert (dist[on_node] == 0).all()
    # The lowest index among every edge at the node.
    node = np.arange(net.n_nodes)[::7]
    at_node = np.full(net.n_nodes, np.iinfo(np.int64).max)
    np.minimum.at(at_node, net.edge_u, np.arange(net.n_edges))
    np.minimum.at(at_node, net.edge_v, np.arange(net.n_edges))
    assert np.array_equal(edge[on_node], at_node[node])


def test_snap_matches_brute_force(taiyuan_network):
    net = taiyuan_network
    pts = shapely.points(_points_around(net, 400, 3, 120.0))
    sn = snap(net, pts, max_snap_m=200.0)
    ref = nearest_edges(net, pts, 200.0)
    assert np.array_equal(sn.reachable, [r is not None for r in ref])
    ok = np.flatnonzero(sn.reachable)
    assert 300 < ok.size < 400  # some lie beyond the limit
    assert sn.edge[ok].tolist() == [ref[i][0] for i in ok]
    np.testing.assert_allclose(sn.offset_m[ok], [ref[i][1] for i in ok], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(sn.access_m[ok], [ref[i][2] for i in ok], rtol=1e-9,
                               atol=1e-9)
    far = ~sn.reachable
    np.testing.assert_allclose(sn.nearest_m[far],
                               shapely.distance(pts[far][:, None], net.edge_geometry).min(1))


def _cross():
    """A + junction at the origin, arms 100 m long."""
    return [LineString([(-100, 0), (0, 0), (100, 0)]), LineString([(0, -100), (0, 0), (0, 100)])]


@pytest.mark.parametrize("reverse", [False, True])
def test_equidistant_edges_go_to_the_lowest_index(reverse):
    lines = _cross()[::-1] if reverse else _cross()
    net = _net(lines)
    assert net.n_edges == 4
    mid = shapely.line_interpolate_point(net.edge_geometry, 0.5, normalized=True)
    arm = {(round(p.x), round(p.y)): e for e, p in enumerate(mid)}  # arm midpoint -> edge
    east, north, west, south = arm[(50, 0)], arm[(0, 50)], arm[(-50, 0)], arm[(0, -50)]
    pts = shapely.points([[10, 10], [-10, -10], [0, 0], [30, 10]])
    expected = [min(east, north), min(west, south), 0, east]
    got = snap(net, pts)
    assert got.edge.tolist() == expected
    np.testing.assert_allclose(got.access_m, [10, 10, 0, 10])
    # Polygons snapped at their nearest boundary take the GEOS path: same rule.
    squares = shapely.buffer(shapely.points([[10, 10], [-10, -10]]), 2.0, cap_style="square")
    poly = snap(net, squares, how="nearest-boundary")
    assert poly.edge.tolist() == expected[:2]
    np.testing.assert_allclose(poly.access_m, [8, 8])


def test_long_segments_and_far_points():
    """A street of two 2 km single-segment edges (cut into many index pieces) and a short
    side street at x = 1000."""
    net = _net([LineString([(-1000, 0), (1000, 0), (3000, 0)]),
                LineString([(1000, 0), (1000, 60)])])
    assert net.n_edges == 3
    mid_x = shapely.get_x(shapely.line_interpolate_point(net.edge_geometry, 0.5,
                                                          normalized=True))
    east, side = int(np.argmax(mid_x)), int(np.argmin(np.abs(mid_x - 1000)))
    assert net.edge_length[east] > 30 * SEGMENT_PIECE_M
    pts = shapely.points([[1400, 14], [1016, 40], [1005, 10], [1000, 5000], [-4000, 0]])
    sn = snap(net, pts, max_snap_m=200.0)
    assert sn.edge.tolist() == [east, side, side, -1, -1]
    np.testing.assert_allclose(sn.access_m[:3], [14, 16, 5])
    np.testing.assert_allclose(sn.offset_m[:3], [400, 40, 10])
    np.testing.assert_allclose(sn.nearest_m[3:], [4940, 3000])  # reported for the report


def test_snap_limit_is_inclusive():
    net = _net([LineString([(0, 0), (100, 0)])])
    sn = snap(net, shapely.points([[50, 30.0], [50, 30.000001]]), max_snap_m=30.0)
    assert sn.edge.tolist() == [0, -1]
    assert sn.nearest_m[1] == pytest.approx(30.000001, abs=1e-9)
    assert sn.unreachable_report(["a", "b"])["id"].tolist() == ["b"]


def test_missing_empty_and_non_finite_geometries_are_unreachable():
    net = _net([LineString([(0, 0), (100, 0)])])
    geoms = np.array([None, shapely.Point(), shapely.points([np.nan, np.nan]),
                      shapely.Point(10, 5), shapely.LineString([(20, 3), (30, 3)])],
                     dtype=object)
    with np.errstate(invalid="ignore"):
        sn = snap(net, geoms, how="nearest-boundary")
    assert sn.edge.tolist() == [-1, -1, -1, 0, 0]
    assert np.isnan(sn.nearest_m[:3]).all()
    np.testing.assert_allclose(sn.access_m[3:], [5, 3])
    empty = snap(net, np.array([], dtype=object))
    assert len(empty) == 0 and empty.origin_xy.shape == (0, 2)


@pytest.mark.parametrize("threads", ["1", "3"])
def test_snapping_in_blocks_changes_nothing(taiyuan_network, monkeypatch, threads):
    """Targets are snapped in blocks (bounded memory for a million proxy points), in threads:
    the same snap, bit for bit, whatever the block size and the threads, with polygons,
    missing and far geometries in the mix."""
    from siteplan.network import snapping

    net = taiyuan_network
    pts = list(shapely.points(_points_around(net, 997, 3, 60.0)))
    polys = list(shapely.buffer(shapely.points(_points_around(net, 50, 4, 80.0)), 25.0))
    far = [shapely.Point(net.node_xy.max(axis=0) + 5_000.0)]
    geoms = np.array(pts[:400] + polys + [None] + far + pts[400:], dtype=object)
    whole = snap(net, geoms, how="nearest-boundary", max_snap_m=200.0)
    monkeypatch.setattr(snapping, "SNAP_BLOCK", 97)
    monkeypatch.setattr(snapping, "MIN_BLOCK", 150)
    monkeypatch.setenv("SITEPLAN_THREADS", threads)
    blocked = snap(net, geoms, how="nearest-boundary", max_snap_m=200.0)
    for name in ("edge", "offset_m", "access_m", "nearest_m", "origin_xy", "point_xy"):
        assert np.array_equal(getattr(whole, name), getattr(blocked, name), equal_nan=True), name
    assert (whole.edge >= 0).sum() == len(geoms) - 2  # the missing and the far one
    empty = snap(net, np.array([], dtype=object))
    assert len(empty) == 0 and empty.origin_xy.shape == (0, 2)
