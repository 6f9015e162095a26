"""Streets as they are on the ground: coincident nodes and the china-walk profile.

Each rule has its own hand-made OSM file in ``tests/data/osm_rules`` whose header comment gives
the answer.  siteplan's distances are checked three ways: against the hand-computed answer,
against an independent networkx build of the same file (plain Python: ways split at shared
nodes, coincident nodes of the same level merged by a union-find, the profile's clauses read
from the tags), and, for points off the nodes, against networkx on siteplan's own graph
(``nxref``: brute-force snapping, Dijkstra).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from nxref import build_graph, nearest_edges
from pyproj import Transformer

from siteplan.access.distances import facility_access
from siteplan.network.build import graph_from_lines, graph_from_osm
from siteplan.network.walkfilter import walk_profile
from siteplan.osm.features import read_osm_lines

RULES = Path(__file__).parent / "data" / "osm_rules"
UTM = "EPSG:32649"
TO_UTM = Transformer.from_crs(4326, 32649, always_xy=True)
TRUNK = {"trunk", "trunk_link", "motorway", "motorway_link"}


def _osmnx_clauses() -> list[tuple[str, str]]:
    import osmnx as ox

    return re.findall(r'\["([^"]+)"!~"([^"]+)"\]', ox._overpass._get_network_filter("walk"))


def _walkable(tags: dict[str, str], profile: str) -> bool:
    """osmnx's Overpass semantics, then (china-walk) the README's clauses, in plain Python."""
    if "highway" not in tags or any(k in tags and re.search(rx, tags[k])
                                    for k, rx in _osmnx_clauses()):
        return False
    if profile == "osmnx-walk":
        return True
    foot_ok = (tags.get("foot") in ("yes", "designated", "permissive")
               or tags.get("sidewalk") in ("yes", "both", "left", "right")
               or "yes" in (tags.get("sidewalk:both"), tags.get("sidewalk:left"),
                            tags.get("sidewalk:right")))
    layer = int(tags.get("layer", "0")) if tags.get("layer", "0").lstrip("+-").isdigit() else 0
    elevated = tags["highway"] in TRUNK and (tags.get("bridge", "no") != "no" or layer >= 1)
    fast = tags.get("expressway") == "yes" or tags.get("motorroad") == "yes"
    return foot_ok or not (elevated or fast)


def _level(tags: dict[str, str]) -> tuple[int, bool, bool]:
    layer = tags.get("layer", "0")
    return (int(layer) if layer.lstrip("+-").isdigit() else 0, tags.get("bridge", "no") != "no",
            tags.get("tunnel", "no") not in ("no", "building_passage"))


class Reference:
    """An independent build of an OSM file as a networkx graph (module docstring)."""

    def __init__(self, path: Path, *, profile: str = "china-walk", merge: bool = True) -> None:
        root = ET.parse(path).getroot()
        self.lonlat = {n.get("id"): (float(n.get("lon")), float(n.get("lat")))
                       for n in root.iter("node")}
        ways = []
        for way in root.iter("way"):
            tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
            if _walkable(tags, profile):
                ways.append(([nd.get("ref") for nd in way.iter("nd")], _level(tags)))
        self.parent: dict[str, str] = {}
        if merge:  # coincident nodes of ways at the same level are one node
            first: dict[tuple, str] = {}
            for refs, level in ways:
                for r in refs:
                    self._union(first.setdefault((self.lonlat[r], level), r), r)
        self.graph = nx.MultiGraph()
        seqs = []
        for refs, _ in ways:
            keys = [self.key(r) for r in refs]
            keys = [k for i, k in enumerate(keys) if i == 0 or k != keys[i - 1]]
            if len(keys) >= 2:
                seqs.append(keys)
        uses = Counter(k for keys in seqs for k in keys)
        for keys in seqs:
            start, length = keys[0], 0.0
            for a, b in zip(keys[:-1], keys[1:], strict=True):
                length += float(np.hypot(*np.subtract(self.xy(b), self.xy(a))))
                if uses[b] >= 2 or b == keys[-1]:
                    self.graph.add_edge(start, b, length=length)
                    start, length = b, 0.0

    def _union(self, a: str, b: str) -> None:
        self.parent[self.key(b)] = self.key(a)

    def key(self, node: str) -> str:
        while self.parent.get(node, node) != node:
            node = self.parent[node]
        return node

    def xy(self, node: str) -> tuple[float, float]:
        return TO_UTM.transform(*self.lonlat[node])

    def distance(self, a: str, b: str) -> float:
        try:
            return float(nx.dijkstra_path_length(self.graph, self.key(a), self.key(b),
                                                 weight="length"))
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return float("nan")


def _points(ref: Reference, nodes: list[str]) -> list[shapely.Point]:
    return [shapely.Point(ref.lonlat[n]) for n in nodes]


def _distances(net, targets: list, facility: shapely.Point, max_snap_m: float = 200.0
               ) -> np.ndarray:
    """siteplan's walking distance from each target point to one facility point (lon/lat)."""
    parcels = gpd.GeoDataFrame({"parcel_id": [f"t{i}" for i in range(len(targets))]},
                               geometry=targets, crs=4326).to_crs(net.crs)
    fac = gpd.GeoDataFrame({"facility_id": ["f"], "class": ["x"]}, geometry=[facility],
                           crs=4326).to_crs(net.crs)
    table = facility_access(net, parcels, fac, max_snap_m=max_snap_m).table
    return table["dist_x_m"].to_numpy(dtype=float)


def _check_nodes(path: Path, pairs: list[tuple[str, str]], expected: list[float], *,
                 merge: bool = True, profile: str = "china-walk") -> None:
    """siteplan == independent networkx == the header's answer, node to node."""
    net = graph_from_osm(path, keep_largest=False, walk_filter=walk_profile(profile),
                         coincident_nodes="merge" if merge else "keep")
    ref = Reference(path, profile=profile, merge=merge)
    assert net.n_nodes == ref.graph.number_of_nodes()
    assert net.n_edges == ref.graph.number_of_edges()
    for (a, b), answer in zip(pairs, expected, strict=True):
        got = _distances(net, _points(ref, [a]), _points(ref, [b])[0])[0]
        want = ref.distance(a, b)
        if np.isnan(answer):
            assert np.isnan(got) and np.isnan(want)
        else:
            assert got == pytest.approx(want, abs=1e-6)
            assert got == pytest.approx(answer, abs=1.5)


# ---------------------------------------------------------------------------------------------
# Coincident nodes


def test_coincident_ends_are_merged():
    path = RULES / "coincident_ends.osm"
    _check_nodes(path, [("1", "4")], [352.0])
    _check_nodes(path, [("1", "4")], [574.0], merge=False)  # the footway detour
    net = graph_from_osm(path)
    assert net.report.coincident.merged == 1 and net.report.coincident.n_kept_apart == 0
    assert "coincident nodes: 1 merged, 0 kept apart" in net.summary()
    by_id = graph_from_osm(path, coincident_nodes="keep")
    assert by_id.report.coincident.kept_apart == {"node ids": 1}
    assert "not merged (node-id topology), 1 left apart" in by_id.summary()


def test_side_street_on_an_interior_vertex_is_joined():
    path = RULES / "interior_vertex.osm"
    _check_nodes(path, [("14", "10")], [398.0])
    # By node ids alone the side street is a separate component.
    _check_nodes(path, [("14", "10")], [float("nan")], merge=False)
    ref = Reference(path)
    kept = graph_from_osm(path)  # keep_largest: the whole network stays
    assert kept.report.islands_dropped == 0 and kept.report.coincident.merged == 1
    dropped = graph_from_osm(path, coincident_nodes="keep")
    assert dropped.report.islands_dropped == 1
    # The side street's end (222 m from the main road) can no longer reach the network.
    far = _distances(dropped, _points(ref, ["14"]), _points(ref, ["10"])[0])
    assert np.isnan(far).all()


def test_duplicated_footway_merges_into_one():
    path = RULES / "duplicated_way.osm"
    _check_nodes(path, [("26", "20"), ("29", "20")], [750.0, 750.0])
    net = graph_from_osm(path)
    assert net.report.coincident.merged == 4
    # Street 20-21, footway 21-25-26 twice (25 is shared, so a node): 4 nodes, 1 + 2 x 2 edges.
    assert (net.n_nodes, net.n_edges, net.report.n_components) == (4, 5, 1)
    by_id = graph_from_osm(path, coincident_nodes="keep")
    assert by_id.report.islands_dropped == 2 and by_id.n_edges == 1


def test_bridge_over_a_street_at_the_same_coordinates_stays_apart():
    path = RULES / "bridge_over_street.osm"
    _check_nodes(path, [("33", "30"), ("37", "30")], [861.0, 384.0])  # 304: 208 m diagonal
    _check_nodes(path, [("33", "30")], [861.0], merge=False)  # node ids alone: apart too
    net = graph_from_osm(path)
    assert net.report.coincident.kept_apart == {"bridge": 1}
    assert "1 kept apart (1 bridge)" in net.summary()
    # At the crossing, street node 31 is a junction (the service way 304 uses node 31 itself);
    # the bridge passes over it: its vertex 34 is inside the bridge's one edge.
    crossing = np.array(TO_UTM.transform(112.552, 37.85))
    assert (np.hypot(*(net.node_xy - crossing).T) < 1e-6).sum() == 1
    at = np.hypot(*(shapely.get_coordinates(net.edge_geometry) - crossing).T) < 1e-6
    assert at.sum() == 4  # ends of street edges 30-31, 31-32, service 31-37; the bridge's 34
    bridge = net.edge_geometry[net.edge_attrs["osm_id"].to_numpy() == "301"]
    assert len(bridge) == 1 and shapely.get_num_coordinates(bridge[0]) == 3


def test_line_layer_keeps_a_bridge_apart_where_both_lines_pass_through():
    # The same file as a line layer (no node ids), without way 304: the bridge's middle vertex
    # and the street's are interior to both lines, kept apart; the lines' ends still meet, so
    # the graph is the one built from OSM.
    path = RULES / "bridge_over_street.osm"
    lines = read_osm_lines(path)
    lines = lines[lines["osm_id"] != "304"].drop(columns="osm_node_ids")
    layer = graph_from_lines(lines, keep_largest=False)
    assert layer.report.coincident.kept_apart == {"bridge": 1}
    ref = Reference(path)
    got = _distances(layer, _points(ref, ["33"]), _points(ref, ["30"])[0])[0]
    assert got == pytest.approx(ref.distance("33", "30"), abs=1e-6)
    assert got == pytest.approx(861.0, abs=1.5)
    joined = graph_from_lines(lines, keep_largest=False, coincident_nodes="keep")
    wrong = _distances(joined, _points(ref, ["33"]), _points(ref, ["30"])[0])[0]
    assert wrong == pytest.approx(287.0, abs=1.5)  # pure coordinate noding: a junction in mid-air
    # A line that ends at the crossing (way 304) reads, in a line layer, like a landing: every
    # line there meets.  OSM's node ids tell the two apart; a line layer cannot.
    with_end = read_osm_lines(path).drop(columns="osm_node_ids")
    assert graph_from_lines(with_end, keep_largest=False).report.coincident.n_kept_apart == 0


def test_beijing_without_node_ids_rebuilds_the_node_id_graph():
    # The line-layer rule on real data: the Beijing extract's lines written without node ids
    # give exactly the graph OSM's ids give (every shared coordinate there is a shared node).
    from conftest import BEIJING_OSM

    lines = read_osm_lines(BEIJING_OSM)
    by_ids = graph_from_lines(lines, keep_largest=False)
    layer = graph_from_lines(lines.drop(columns="osm_node_ids"), keep_largest=False)
    assert (layer.n_nodes, layer.n_edges, layer.report.n_components) == (
        by_ids.n_nodes, by_ids.n_edges, by_ids.report.n_components)
    assert layer.report.coincident.n_kept_apart == 0


def test_tolerance_merges_near_coincident_vertices():
    # A line layer whose two halves end 5 mm apart: one node with the 1 cm default, two with 0.
    a = shapely.LineString([(0, 0), (100, 0)])
    b = shapely.LineString([(100.005, 0), (200, 0)])
    lines = gpd.GeoDataFrame({"highway": ["residential"] * 2}, geometry=[a, b], crs=UTM)
    net = graph_from_lines(lines)
    assert (net.n_nodes, net.report.coincident.merged) == (3, 1)
    assert net.edge_length.sum() == pytest.approx(200.0, abs=0.01)
    apart = graph_from_lines(lines, coincident_tolerance_m=0.0, keep_largest=False)
    assert (apart.n_nodes, apart.report.n_components) == (4, 2)


def test_node_ids_survive_a_geopackage(tmp_path):
    # The osm_node_ids column is text: lines written and read back keep OSM's topology.
    path = RULES / "bridge_over_street.osm"
    lines = read_osm_lines(path)
    gpkg = tmp_path / "lines.gpkg"
    lines.to_file(gpkg, engine="pyogrio")
    back = gpd.read_file(gpkg, engine="pyogrio")
    assert back["osm_node_ids"].tolist() == lines["osm_node_ids"].tolist()
    assert lines.loc[lines["osm_id"] == "301", "osm_node_ids"].item() == "33 34 35"
    a, b = graph_from_lines(back, keep_largest=False), graph_from_osm(path, keep_largest=False)
    assert (a.n_nodes, a.n_edges) == (b.n_nodes, b.n_edges)


# ---------------------------------------------------------------------------------------------
# The china-walk profile


def test_elevated_trunk_is_not_walkable_and_never_snapped_to():
    path = RULES / "elevated_trunk.osm"
    china = graph_from_osm(path, keep_largest=False)
    osmnx = graph_from_osm(path, keep_largest=False, walk_filter=walk_profile("osmnx-walk"))
    names = set(china.edge_attrs["osm_id"])
    assert "401" not in names and "405" not in names and "407" not in names  # viaduct, motorroad
    assert {"400", "404", "406"} <= names  # ground trunk, foot=yes bridge, side street
    assert {"401", "405", "407"} <= set(osmnx.edge_attrs["osm_id"])
    assert china.report.n_profile_dropped == 3
    assert "3 elevated or expressway line(s)" in china.summary()
    # Node to node, against the independent build with the same profile.
    _check_nodes(path, [("40", "47"), ("48", "47")], [287.0, 463.0])
    _check_nodes(path, [("40", "47")], [287.0], profile="osmnx-walk")
    # A point 10 m north of the viaduct: on the ground road 20 m away, not on the viaduct.
    ref = Reference(path)
    point = [shapely.Point(112.552, 37.85018)]
    got = {name: _distances(net, point, _points(ref, ["47"])[0])[0]
           for name, net in (("china", china), ("osmnx", osmnx))}
    assert got["china"] == pytest.approx(131.0, abs=1.5)
    assert got["osmnx"] == pytest.approx(483.0, abs=2.0)
    for net, d in ((china, got["china"]), (osmnx, got["osmnx"])):
        pts = gpd.GeoSeries(point + _points(ref, ["47"]), crs=4326).to_crs(net.crs).to_numpy()
        snaps = dict(zip(["t", "f"], nearest_edges(net, pts, 200.0), strict=True))
        graph = build_graph(net, snaps)
        assert d == pytest.approx(nx.dijkstra_path_length(graph, ("f", "t"), ("f", "f")),
                                  abs=1e-6)
    snapped = nearest_edges(china, gpd.GeoSeries(point, crs=4326).to_crs(china.crs).to_numpy(),
                            200.0)[0]
    assert china.edge_attrs["osm_id"].iloc[snapped[0]] == "400"
    assert snapped[2] == pytest.approx(20.0, abs=0.1)


# ---------------------------------------------------------------------------------------------
# Facility classes: every school name pattern, stops, stations and hospital buildings

P, M, H = "primary_school", "middle_school", "high_school"
SCHOOLS = {  # name -> classes (the comments of facilities.osm)
    "山大附实小": {P}, "山西大学附属实验小学": {P}, "太原铁中": {M}, "书池学校": {P, M},
    "太原外国语学校": {P, M}, "小店区九年一贯制学校": {P, M}, "太原市完全中学": {M, H},
    "太原十二年一贯制学校": {P, M, H}, "育英学校": {P}, "育才学校": {M}, "启明学校": {P, M},
    "东关学校": {P}, "南关学校": {M}, "太原市第十二中学校": {M},
    "新东方英语培训学校": set(), "太原驾驶学校": set(), "山西省经贸学校": set(),
    "山西职业技术学院": set(),
}


@pytest.fixture(scope="module")
def rules_result():
    from siteplan.facilities.classify import load_facilities

    return load_facilities(RULES / "facilities.osm")


def test_each_school_name_pattern(rules_result):
    fac = rules_result.facilities
    got = fac[fac["class"].isin([P, M, H])].groupby("name")["class"].agg(set).to_dict()
    assert {n: got.get(n, set()) for n in SCHOOLS} == SCHOOLS
    # What each decision rests on, for the matched_by column.
    why = dict(zip(fac["name"] + "/" + fac["class"], fac["matched_by"], strict=True))
    assert "附实小" in why[f"山大附实小/{P}"] and "铁中" in why[f"太原铁中/{M}"]
    assert why[f"启明学校/{P}"] == "grades within 1-6" and why[f"育才学校/{M}"] == "grades within 7-9"
    assert "一贯制" in why[f"书池学校/{P}"]


def test_excluded_and_unclassified_features_are_reported(rules_result):
    report = rules_result.report.set_index("name")
    kept_out = {n for n, c in SCHOOLS.items() if not c}
    assert kept_out <= set(report.index)
    assert "training" in report.loc["新东方英语培训学校", "reason"]
    assert "driving" in report.loc["太原驾驶学校", "reason"]
    assert "vocational" in report.loc["山西省经贸学校", "reason"]
    assert "higher education" in report.loc["山西职业技术学院", "reason"]
    assert report.loc["大药房", "group"] == "health"
    assert report.loc["大药房", "tags"] == "name=大药房; healthcare=pharmacy"
    assert report.loc["山西职业技术学院", "tags"] == "name=山西职业技术学院; amenity=college"
    assert list(rules_result.report.columns) == ["facility_id", "name", "group", "tags",
                                                 "reason", "geometry"]


def test_stops_stations_and_hospital_buildings(rules_result):
    fac = rules_result.facilities
    counts = rules_result.counts()
    assert (counts["bus_stop"], counts["metro_station"], counts["hospital"]) == (3, 2, 2)
    stops = fac[fac["class"] == "bus_stop"].set_index("facility_id")
    assert stops.loc["node/201", "merged_ids"] == "node/201;node/202"  # both sides of the road
    assert stops.loc["node/204", "merged_ids"] == "node/204;node/205"  # pole + platform
    assert pd.isna(stops.loc["node/203", "merged_ids"])  # 桥东 2 km away: another stop
    metro = fac[fac["class"] == "metro_station"].set_index("name")
    assert metro.loc["迎泽公园", "merged_ids"] == "node/301;node/302"
    assert "stop_position" in metro.loc["迎泽公园", "matched_by"]
    hospitals = fac[fac["class"] == "hospital"].set_index("facility_id")
    assert hospitals.loc["node/401", "merged_ids"] == "node/401;node/402"
    assert hospitals.loc["node/403", "matched_by"].startswith("building=hospital")


def test_a_count_criterion_counts_stops_not_features(rules_result):
    # A parcel between the two sides of 桥东 and next to the pole/platform pair: 2 stops
    # within 500 m, where the map has 4 features.
    stops = rules_result.facilities
    stops = stops[stops["class"] == "bus_stop"].to_crs(UTM)
    parcel = gpd.GeoDataFrame({"parcel_id": ["p"]}, geometry=[shapely.Point(112.5525, 37.8502)],
                              crs=4326).to_crs(UTM)
    lines = gpd.GeoDataFrame({"highway": ["primary"]}, geometry=[shapely.LineString(
        [(112.545, 37.8502), (112.580, 37.8502)])], crs=4326)
    net = graph_from_lines(lines)
    table = facility_access(net, parcel, stops, count_radii={"bus_stop": [500]}).table
    assert table["n_bus_stop_500m"].tolist() == [2]
