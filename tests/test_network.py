"""The street network: noding, walk filter, components, and equivalence with networkx."""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, Point

from siteplan.core.errors import InputError, NetworkError, SiteplanWarning
from siteplan.core.tags import hstore_tag, parse_hstore
from siteplan.network.build import graph_from_file, graph_from_lines
from siteplan.network.walkfilter import (
    OSMNX_WALK_EXCLUDE,
    WalkFilter,
    walk_profile,
    walkable_mask,
)

METRIC = "EPSG:32649"


def _lines(geoms, **cols):
    data = {"highway": ["residential"] * len(geoms)}
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=METRIC)


def _level(tags: dict) -> tuple:
    """A line's level, read independently: (layer, bridge, tunnel)."""
    try:
        layer = int(str(tags.get("layer", "0")).strip())
    except ValueError:
        layer = 0
    return (layer, tags.get("bridge", "no") != "no",
            tags.get("tunnel", "no") not in ("no", "building_passage"))


def _row_tags(row) -> dict:
    tags = parse_hstore(row["other_tags"]) if isinstance(row.get("other_tags"), str) else {}
    tags.update({k: row[k] for k in ("layer", "bridge", "tunnel") if isinstance(row.get(k), str)})
    return tags


def _networkx_from_lines(geoms, levels=None) -> nx.MultiGraph:
    """An independent noding in plain Python: a node at every line end and shared vertex.

    With ``levels`` (one per line), a shared coordinate joins only lines of the same level,
    except where some line ends there (a line layer's bridge landing).
    """
    seqs = []
    for i, g in enumerate(geoms):
        parts = g.geoms if isinstance(g, MultiLineString) else [g]
        for part in parts:
            pts = [tuple(c) for c in part.coords]
            pts = [p for i, p in enumerate(pts) if i == 0 or p != pts[i - 1]]
            if len(pts) >= 2:
                seqs.append((pts, None if levels is None else levels[i]))
    ends = {p for seq, _ in seqs for p in (seq[0], seq[-1])}

    def key(p, level):
        return p if level is None or p in ends else (p, level)

    count = Counter(key(p, lv) for seq, lv in seqs for p in seq)
    graph = nx.MultiGraph()
    for seq, lv in seqs:
        start, length = key(seq[0], lv), 0.0
        for a, b in zip(seq[:-1], seq[1:], strict=True):
            length += float(np.hypot(b[0] - a[0], b[1] - a[1]))
            if count[key(b, lv)] >= 2 or b == seq[-1]:
                graph.add_edge(start, key(b, lv), length=length)
                start, length = key(b, lv), 0.0
    return graph


def _check_against(net_all, net, ref) -> None:
    assert net_all.n_nodes == ref.number_of_nodes()
    assert net_all.n_edges == ref.number_of_edges()
    ref_len = sum(d["length"] for *_, d in ref.edges(data=True))
    assert net_all.edge_length.sum() == pytest.approx(ref_len, rel=1e-4)
    assert net_all.report.n_components == nx.number_connected_components(ref)
    largest = ref.subgraph(max(nx.connected_components(ref), key=len))
    assert net.n_nodes == largest.number_of_nodes()
    big_len = sum(d["length"] for *_, d in largest.edges(data=True))
    assert net.edge_length.sum() == pytest.approx(big_len, rel=1e-4)
    assert net.report.islands_dropped == nx.number_connected_components(ref) - 1
    assert net.report.islands_km == pytest.approx((ref_len - big_len) / 1000, rel=1e-4)


def test_taiyuan_matches_networkx(taiyuan_lines):
    # The default: china-walk, coincident vertices of different levels kept apart.
    net_all = graph_from_lines(taiyuan_lines, keep_largest=False)
    walk = taiyuan_lines[walkable_mask(taiyuan_lines)].to_crs(net_all.crs)
    levels = [_level(_row_tags(row)) for _, row in walk.iterrows()]
    ref = _networkx_from_lines(walk.geometry.values, levels)
    _check_against(net_all, graph_from_lines(taiyuan_lines), ref)
    # 18 bridge/tunnel/layer vertices share a coordinate with a line of another level inside
    # both lines: apart, where pure coordinate noding joined them.
    assert net_all.report.coincident.kept_apart == {"bridge": 10, "tunnel": 3, "layer": 5}
    assert ref.number_of_nodes() == _networkx_from_lines(walk.geometry.values).number_of_nodes() - 18


def test_taiyuan_node_id_topology_matches_networkx(taiyuan_lines):
    # coincident_nodes="keep": every shared coordinate is a junction, whatever the level.
    osmnx = walk_profile("osmnx-walk")
    kw = {"walk_filter": osmnx, "coincident_nodes": "keep"}
    net_all = graph_from_lines(taiyuan_lines, keep_largest=False, **kw)
    walk = taiyuan_lines[walkable_mask(taiyuan_lines, osmnx)].to_crs(net_all.crs)
    _check_against(net_all, graph_from_lines(taiyuan_lines, **kw),
                   _networkx_from_lines(walk.geometry.values))


def test_taiyuan_figures_match_provenance(taiyuan_network, taiyuan_lines):
    # PROVENANCE.md measured these with an independent build (same shared-vertex rule), with
    # osmnx's walk filter and pure coordinate noding: walk_profile "osmnx-walk" and
    # coincident_nodes "keep" reproduce them exactly.
    kw = {"walk_filter": walk_profile("osmnx-walk"), "coincident_nodes": "keep"}
    full = graph_from_lines(taiyuan_lines, keep_largest=False, **kw)
    assert (full.n_nodes, full.n_edges, full.report.n_components) == (6402, 9049, 40)
    assert full.report.length_km == pytest.approx(1503, abs=1)
    old = graph_from_lines(taiyuan_lines, **kw)
    assert (old.n_nodes, old.n_edges) == (6147, 8807)
    # The defaults (china-walk, level-aware merging): 227 elevated/expressway lines (108 km)
    # are not walkable, 18 coincident vertices of different levels are kept apart.
    assert (taiyuan_network.n_nodes, taiyuan_network.n_edges) == (5896, 8359)
    report = taiyuan_network.report
    assert (report.n_profile_dropped, round(report.profile_dropped_km)) == (227, 108)
    assert report.coincident.merged == 0 and report.coincident.n_kept_apart == 18


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


# ---------------------------------------------------------------------------------------------
# Walk filter: osmnx semantics, tags in other_tags, configurable exclusions


def _osmnx_walk_clauses() -> list[tuple[str, str]]:
    import re

    import osmnx as ox

    return re.findall(r'\["([^"]+)"!~"([^"]+)"\]', ox._overpass._get_network_filter("walk"))


def test_walk_mask_equals_osmnx_filter_on_taiyuan(taiyuan_lines):
    # An independent evaluation of osmnx's own Overpass filter string, row by row in Python.
    import re

    clauses = _osmnx_walk_clauses()
    assert ("foot", "no") in clauses and ("access", "private") in clauses
    expected = []
    for _, row in taiyuan_lines.iterrows():
        tags = parse_hstore(row["other_tags"])
        tags.update({k: row[k] for k in ("highway", "name") if isinstance(row[k], str)})
        ok = "highway" in tags and not any(
            k in tags and re.search(rx, tags[k]) for k, rx in clauses)
        expected.append(ok)
    got = walkable_mask(taiyuan_lines, walk_profile("osmnx-walk"))
    assert got.tolist() == expected
    # Tags that only sit in other_tags were decisive for some lines.
    in_hstore = taiyuan_lines["other_tags"].fillna("").str.contains('"foot"=>"no"|"access"=>"private"')
    assert in_hstore.sum() > 0 and not got[in_hstore.to_numpy(bool)].any()


def test_walk_filter_edge_cases_in_other_tags():
    cases = [  # (highway, other_tags, walkable under osmnx "walk")
        ("footway", '"access"=>"no"', True),  # only access=private is excluded
        ("footway", '"foot"=>"designated"', True),
        ("footway", '"foot"=>"No"', True),  # Overpass regexes are case-sensitive
        ("service", '"service"=>"driveway"', True),
        ("track", None, True),
        ("residential", '"sidewalk"=>"separate"', False),
        ("primary", '"sidewalk:left"=>"separate"', False),
        ("proposed", None, False),
        ("bus_guideway", None, False),
        ("motorway_link", None, False),
        ("footway", '"area"=>"yes"', False),
        ("footway", '"barefoot"=>"no"', True),  # a different key
        ("footway", '"access"=>"private", "lit"=>"yes"', False),  # PostgreSQL hstore spacing
    ]
    lines = gpd.GeoDataFrame(
        {"highway": [c[0] for c in cases], "other_tags": [c[1] for c in cases]},
        geometry=[LineString([(i, 0), (i, 1)]) for i in range(len(cases))], crs=METRIC)
    assert walkable_mask(lines).tolist() == [c[2] for c in cases]


def test_excluded_classes_are_configurable(taiyuan_lines):
    base = walkable_mask(taiyuan_lines)
    no_steps = walkable_mask(taiyuan_lines, WalkFilter().with_exclusions(
        highway=OSMNX_WALK_EXCLUDE["highway"] + "|steps"))
    steps = (taiyuan_lines["highway"] == "steps").fillna(False).to_numpy(bool)
    assert steps.sum() == 40
    assert (no_steps == (base & ~steps)).all()
    cycling = dict(OSMNX_WALK_EXCLUDE, highway=OSMNX_WALK_EXCLUDE["highway"].replace(
        "cycleway|", ""))
    with_cycleways = walkable_mask(taiyuan_lines, WalkFilter(cycling))
    cycleway = (taiyuan_lines["highway"] == "cycleway").fillna(False).to_numpy(bool)
    assert (with_cycleways & cycleway).sum() > 0 and not (base & cycleway).any()
    net = graph_from_lines(taiyuan_lines, walk_filter=WalkFilter(cycling))
    assert net.report.n_lines_walkable > graph_from_lines(taiyuan_lines).report.n_lines_walkable


def test_empty_walkable_network_after_filtering():
    lines = _lines([LineString([(0, 0), (1, 1)]), LineString([(1, 1), (2, 0)])],
                   highway=["motorway", "cycleway"])
    with pytest.raises(NetworkError, match="no walkable lines") as err:
        graph_from_lines(lines, source="bureau_roads.shp")
    assert "bureau_roads.shp" in str(err.value)
    assert graph_from_lines(lines, filter_walkable=False).n_edges == 2


# ---------------------------------------------------------------------------------------------
# Snapping near-miss ends


def test_snapping_joins_an_undershoot_to_the_segment():
    road = LineString([(0, 0), (100, 0)])
    side = LineString([(50, 0.4), (50, 80)])  # stops 0.4 m short of the road
    apart = graph_from_lines(_lines([road, side]), keep_largest=False)
    assert apart.report.n_components == 2
    net = graph_from_lines(_lines([road, side]), snap_tolerance_m=0.5)
    assert (net.n_nodes, net.n_edges, net.report.n_components) == (4, 3, 1)
    assert sorted(net.edge_length.round(6).tolist()) == [50.0, 50.0, 80.0]
    assert net.report.n_ends_snapped == 1 and "1 dead end(s) snapped" in net.summary()
    # The road got a vertex at the junction; both pieces are straight.
    assert {tuple(xy) for xy in net.node_xy.round(6)} == {(0, 0), (100, 0), (50, 0), (50, 80)}


def test_snapping_prefers_a_nearby_vertex():
    road = LineString([(0, 0), (49.8, 0), (100, 0)])
    side = LineString([(50, 0.3), (50, 80)])
    net = graph_from_lines(_lines([road, side]), snap_tolerance_m=0.5)
    assert (net.n_nodes, net.n_edges) == (4, 3)
    assert [49.8, 0.0] in net.node_xy.round(6).tolist()


def test_snapping_never_joins_crossings_or_moves_junctions():
    bridge = LineString([(0, 0), (50, 50), (100, 100)])
    road = LineString([(0, 100), (50.2, 50.1), (100, 0)])  # interior vertices 0.22 m apart
    net = graph_from_lines(_lines([bridge, road]), snap_tolerance_m=0.5, keep_largest=False)
    assert (net.n_nodes, net.report.n_components, net.report.n_ends_snapped) == (4, 2, 0)
    # A junction (a and b end at (10, 0)) never moves; the dead end of c joins it there.
    a = LineString([(0, 0), (10, 0)])
    b = LineString([(10, 0), (10, 10)])
    c = LineString([(9.8, -50), (9.8, -0.2)])
    net = graph_from_lines(_lines([a, b, c]), snap_tolerance_m=0.5, keep_largest=False)
    assert (net.n_nodes, net.n_edges, net.report.n_components) == (4, 3, 1)
    assert net.report.n_ends_snapped == 1
    assert {tuple(xy) for xy in net.node_xy.round(6)} == {(0, 0), (10, 0), (10, 10), (9.8, -50)}


def test_snapping_keeps_densely_digitised_lines():
    xs = np.arange(0, 100.01, 0.2)  # vertices every 0.2 m, closer than the tolerance
    line = LineString(np.column_stack([xs, np.zeros_like(xs)]))
    net = graph_from_lines(_lines([line]), snap_tolerance_m=0.5)
    assert (net.n_nodes, net.n_edges) == (2, 1)
    assert net.edge_length.sum() == pytest.approx(100.0)


def test_snapping_is_independent_of_input_order(taiyuan_lines):
    a = graph_from_lines(taiyuan_lines, snap_tolerance_m=1.0)
    b = graph_from_lines(taiyuan_lines.iloc[::-1], snap_tolerance_m=1.0)
    assert (a.n_nodes, a.n_edges) == (b.n_nodes, b.n_edges)
    assert a.edge_length.sum() == pytest.approx(b.edge_length.sum(), rel=1e-12)
    exact = graph_from_lines(taiyuan_lines)
    # Taiyuan's OSM lines meet at shared vertices; 1 m snapping joins only a few dead ends.
    assert 0 < a.report.n_ends_snapped < 200
    assert a.n_nodes >= exact.n_nodes - a.report.n_ends_snapped


# ---------------------------------------------------------------------------------------------
# graph_from_file


def test_graph_from_file_dispatches_by_type(tmp_path, taiyuan_lines, taiyuan_network):
    from conftest import BEIJING_OSM, TAIYUAN_LINES

    net = graph_from_file(TAIYUAN_LINES)
    assert (net.n_nodes, net.n_edges) == (taiyuan_network.n_nodes, taiyuan_network.n_edges)
    assert net.report.source == str(TAIYUAN_LINES)
    gpkg = tmp_path / "roads.gpkg"
    taiyuan_lines.to_crs(4547).to_file(gpkg, layer="roads")
    from_gpkg = graph_from_file(gpkg)
    assert from_gpkg.crs.to_epsg() == 4547  # a metric layer stays in its CRS
    assert from_gpkg.n_edges == taiyuan_network.n_edges
    osm = graph_from_file(BEIJING_OSM)
    assert osm.crs.to_epsg() == 32650 and osm.n_nodes == 827
    with pytest.raises(InputError, match="do not apply to raw OSM"):
        graph_from_file(BEIJING_OSM, crs="EPSG:4326")
    box = graph_from_file(TAIYUAN_LINES, bbox=(112.52, 37.84, 112.58, 37.88))
    assert 0 < box.n_edges < net.n_edges


def test_graph_from_file_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        graph_from_file(tmp_path / "missing.geojson")
    pts = tmp_path / "schools.gpkg"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(112.5, 37.8)], crs=4326).to_file(pts)
    with pytest.raises(InputError, match=r"no line geometries.*Point") as err:
        graph_from_file(pts)
    assert str(pts) in str(err.value)
    mixed = gpd.GeoDataFrame({"highway": ["residential"] * 2},
                             geometry=[LineString([(0, 0), (100, 0)]), Point(5, 5)], crs=METRIC)
    with pytest.warns(SiteplanWarning, match=r"1 non-line feature\(s\) \(1 Point\) ignored"):
        net = graph_from_lines(mixed)
    assert net.report.n_not_lines == 1 and "1 non-line feature(s) ignored" in net.summary()


def test_vertex_ids_number_coordinates_as_numpy_unique(taiyuan_network):
    from siteplan.network.coincident import coordinate_ids as _vertex_ids

    rng = np.random.default_rng(0)
    coords = shapely.get_coordinates(taiyuan_network.edge_geometry)
    coords = np.concatenate([coords, coords[rng.choice(len(coords), 500)],  # shared vertices
                             rng.integers(-3, 3, (300, 2)).astype(float)])  # negatives, zeros
    vid, counts = _vertex_ids(coords)
    _, ref_vid, ref_counts = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
    assert np.array_equal(vid, ref_vid.ravel()) and np.array_equal(counts, ref_counts)
    assert counts.max() > 2


def test_walk_mask_per_distinct_tags_equals_per_line(taiyuan_lines):
    from siteplan.network.walkfilter import _walkable_rows

    strict = WalkFilter().with_exclusions(highway="steps|footway", foot="^1$")
    for wf in (WalkFilter(), strict):
        assert np.array_equal(walkable_mask(taiyuan_lines, wf),
                              _walkable_rows(taiyuan_lines, wf))
    # 1 and 1.0 are equal values but read as the tags "1" and "1.0": grouped by their text.
    lines = _lines([LineString([(0, i), (1, i)]) for i in range(5)],
                   foot=pd.Series([1, 1.0, "1", None, 1.0], dtype=object))
    assert walkable_mask(lines, strict).tolist() == [False, True, False, True, True]
