"""The street network: noding, walk filter, components, and equivalence with networkx."""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, Point

from siteplan.errors import InputError, NetworkError
from siteplan.network import (
    WalkFilter,
    graph_from_lines,
    hstore_tag,
    parse_hstore,
    walkable_mask,
)

METRIC = "EPSG:32649"


def _lines(geoms, **cols):
    data = {"highway": ["residential"] * len(geoms)}
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=METRIC)


def _networkx_from_lines(geoms) -> nx.MultiGraph:
    """An independent noding in plain Python: a node at every line end and shared vertex."""
    seqs = []
    for g in geoms:
        parts = g.geoms if isinstance(g, MultiLineString) else [g]
        for part in parts:
            pts = [tuple(c) for c in part.coords]
            pts = [p for i, p in enumerate(pts) if i == 0 or p != pts[i - 1]]
            if len(pts) >= 2:
                seqs.append(pts)
    count = Counter(p for seq in seqs for p in seq)
    graph = nx.MultiGraph()
    for seq in seqs:
        start, length = seq[0], 0.0
        for a, b in zip(seq[:-1], seq[1:], strict=True):
            length += float(np.hypot(b[0] - a[0], b[1] - a[1]))
            if count[b] >= 2 or b == seq[-1]:
                graph.add_edge(start, b, length=length)
                start, length = b, 0.0
    return graph


def test_taiyuan_matches_networkx(taiyuan_lines):
    net_all = graph_from_lines(taiyuan_lines, keep_largest=False)
    walk = taiyuan_lines[walkable_mask(taiyuan_lines)].to_crs(net_all.crs)
    ref = _networkx_from_lines(walk.geometry.values)
    assert net_all.n_nodes == ref.number_of_nodes()
    assert net_all.n_edges == ref.number_of_edges()
    ref_len = sum(d["length"] for *_, d in ref.edges(data=True))
    assert net_all.edge_length.sum() == pytest.approx(ref_len, rel=1e-4)
    assert net_all.report.n_components == nx.number_connected_components(ref)

    net = graph_from_lines(taiyuan_lines)
    largest = ref.subgraph(max(nx.connected_components(ref), key=len))
    assert net.n_nodes == largest.number_of_nodes()
    big_len = sum(d["length"] for *_, d in largest.edges(data=True))
    assert net.edge_length.sum() == pytest.approx(big_len, rel=1e-4)
    assert net.report.islands_dropped == nx.number_connected_components(ref) - 1
    assert net.report.islands_km == pytest.approx((ref_len - big_len) / 1000, rel=1e-4)


def test_taiyuan_figures_match_provenance(taiyuan_network, taiyuan_lines):
    # PROVENANCE.md measured these with an independent build (same shared-vertex rule).
    full = graph_from_lines(taiyuan_lines, keep_largest=False)
    assert (full.n_nodes, full.n_edges, full.report.n_components) == (6402, 9049, 40)
    assert full.report.length_km == pytest.approx(1503, abs=1)
    assert (taiyuan_network.n_nodes, taiyuan_network.n_edges) == (6147, 8807)


def test_edge_geometry_runs_from_u_to_v(taiyuan_network):
    net = taiyuan_network
    first = shapely.get_point(net.edge_geometry, 0)
    last = shapely.get_point(net.edge_geometry, -1)
    np.testing.assert_array_equal(shapely.get_coordinates(first), net.node_xy[net.edge_u])
    np.testing.assert_array_equal(shapely.get_coordinates(last), net.node_xy[net.edge_v])
    np.testing.assert_allclose(shapely.length(net.edge_geometry), net.edge_length)


def test_crossing_without_shared_vertex_is_not_connected():
    bridge = LineString([(0, 0), (100, 100)])
    road = LineString([(0, 100), (100, 0)])
    net = graph_from_lines(_lines([bridge, road]), keep_largest=False)
    assert net.report.n_components == 2
    assert net.n_nodes == 4


def test_shared_vertex_is_a_junction():
    a = LineString([(0, 0), (50, 50), (100, 100)])
    b = LineString([(0, 100), (50, 50), (100, 0)])
    net = graph_from_lines(_lines([a, b]))
    assert (net.n_nodes, net.n_edges, net.report.n_components) == (5, 4, 1)


def test_snap_tolerance_joins_near_misses_only_when_asked():
    a = LineString([(0, 0), (100, 0)])
    b = LineString([(100.3, 0), (200, 0)])
    assert graph_from_lines(_lines([a, b]), keep_largest=False).report.n_components == 2
    joined = graph_from_lines(_lines([a, b]), snap_tolerance_m=0.5)
    assert joined.report.n_components == 1
    assert joined.n_nodes == 3


def test_islands_are_dropped_and_reported():
    main = [LineString([(0, 0), (1000, 0)]), LineString([(1000, 0), (1000, 1000)])]
    island = [LineString([(5000, 5000), (5100, 5000)]), LineString([(9000, 0), (9000, 300)])]
    net = graph_from_lines(_lines(main + island))
    assert net.report.islands_dropped == 2
    assert net.report.islands_km == pytest.approx(0.4)
    assert net.edge_length.sum() == pytest.approx(2000)
    assert (net.component == 0).all()


def test_parallel_edges_keep_shortest_in_csr_and_csr_is_symmetric():
    straight = LineString([(0, 0), (100, 0)])
    detour = LineString([(0, 0), (50, 40), (100, 0)])
    net = graph_from_lines(_lines([straight, detour]))
    assert net.n_edges == 2
    csr = net.csr
    assert csr[0, 1] == pytest.approx(100)
    assert (abs(csr - csr.T) > 0).nnz == 0


def test_ring_way_becomes_a_loop_edge():
    ring = LineString([(0, 0), (100, 0), (100, 100), (0, 0)])
    stub = LineString([(0, 0), (-50, 0)])
    net = graph_from_lines(_lines([ring, stub]))
    assert net.n_edges == 2
    loops = net.edge_u == net.edge_v
    assert loops.sum() == 1


def test_multilinestrings_are_exploded():
    ml = MultiLineString([[(0, 0), (10, 0)], [(10, 0), (10, 10)]])
    net = graph_from_lines(_lines([ml]))
    assert net.n_edges == 2 and net.n_nodes == 3


def test_walk_filter_follows_osmnx_semantics():
    geoms = [LineString([(i * 10, 0), (i * 10, 5)]) for i in range(9)]
    lines = gpd.GeoDataFrame(
        {
            "highway": ["residential", "motorway", "motorway_link", "cycleway", "footway",
                        "service", "primary", None, "steps"],
            "other_tags": [
                '"oneway"=>"yes"', None, None, None, '"foot"=>"no"',
                '"service"=>"private"', '"access"=>"private"', None, '"area"=>"yes"',
            ],
        },
        geometry=geoms,
        crs=METRIC,
    )
    keep = walkable_mask(lines)
    # Only the one-way residential street is walkable: oneway does not matter on foot.
    assert keep.tolist() == [True] + [False] * 8
    relaxed = WalkFilter({"highway": "motor"})
    assert walkable_mask(lines, relaxed).tolist() == [
        True, False, False, True, True, True, True, False, True]
    stricter = WalkFilter().with_exclusions(highway="steps|motor")
    assert "cycleway" not in stricter.exclude["highway"]


def test_hstore_parsing():
    tags = '"foot"=>"no","name:en"=>"Yingze \\"West\\" St","oneway"=>"yes"'
    assert parse_hstore(tags)["oneway"] == "yes"
    import pandas as pd

    s = pd.Series([tags, None, '"barefoot"=>"no"'])
    assert hstore_tag(s, "foot").tolist()[0] == "no"
    assert pd.isna(hstore_tag(s, "foot").tolist()[1])
    # a key that only ends with the name asked for is not a match
    assert pd.isna(hstore_tag(s, "foot").tolist()[2])


def test_deterministic_build(taiyuan_lines):
    a = graph_from_lines(taiyuan_lines)
    b = graph_from_lines(taiyuan_lines.sample(frac=1.0, random_state=3))
    assert a.n_nodes == b.n_nodes and a.n_edges == b.n_edges
    np.testing.assert_array_equal(a.node_xy, b.node_xy)
    assert a.edge_length.sum() == pytest.approx(b.edge_length.sum(), rel=1e-12)


def test_cgcs2000_choice_for_taiyuan(taiyuan_lines):
    net = graph_from_lines(taiyuan_lines, metric_kind="cgcs2000")
    assert net.crs.to_epsg() == 4547


def test_errors_are_actionable():
    no_crs = gpd.GeoDataFrame({"highway": ["residential"]},
                              geometry=[LineString([(0, 0), (1, 1)])])
    with pytest.raises(InputError, match="no CRS"):
        graph_from_lines(no_crs, source="roads.gpkg")
    points = gpd.GeoDataFrame({"highway": ["x"]}, geometry=[Point(0, 0)], crs=METRIC)
    with pytest.raises(InputError, match="no line geometries"):
        graph_from_lines(points, source="roads.gpkg")
    rail = _lines([LineString([(0, 0), (1, 1)])], highway=[None])
    with pytest.raises(NetworkError, match="no walkable lines") as err:
        graph_from_lines(rail, source="roads.gpkg")
    assert "roads.gpkg" in str(err.value) and "Fix:" in str(err.value)
    with pytest.raises(NetworkError, match="snap_tolerance_m"):
        graph_from_lines(_lines([LineString([(0, 0), (1, 1)])]), snap_tolerance_m=-1)
