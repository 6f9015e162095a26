"""Overpass downloads: parsing recorded answers, the on-disk cache, failing fast offline.

No test here touches the internet: downloads are replaced by recorded answers, and the
offline test points osmnx at a closed local port.
"""

from __future__ import annotations

import socket
import time

import osmnx as ox
import pandas as pd
import pytest
import requests
import shapely

from siteplan.core.errors import InputError, NetworkError
from siteplan.facilities.classify import classify_facilities
from siteplan.network.build import graph_from_lines
from siteplan.osm.features import FACILITY_TAGS
from siteplan.osm.overpass import (
    cache_key,
    elements_from_overpass_json,
    fetch_osm,
    read_osm_cache,
)

# Recorded by hand in Overpass's JSON format (`[out:json]`, `out;` with `>` recursion).
NETWORK_ANSWER = {
    "version": 0.6,
    "generator": "Overpass API 0.7.62",
    "osm3s": {"copyright": "The data included in this document is from www.openstreetmap.org."},
    "elements": [
        {"type": "node", "id": 1, "lat": 37.8000, "lon": 112.5000},
        {"type": "node", "id": 2, "lat": 37.8000, "lon": 112.5050},
        {"type": "node", "id": 3, "lat": 37.8000, "lon": 112.5100},
        {"type": "node", "id": 4, "lat": 37.7950, "lon": 112.5050},
        {"type": "node", "id": 5, "lat": 37.8000, "lon": 112.5050},  # under node 2
        {"type": "node", "id": 6, "lat": 37.8050, "lon": 112.5050},
        {"type": "way", "id": 100, "nodes": [1, 2, 3],
         "tags": {"highway": "residential", "name": "迎泽大街", "oneway": "yes"}},
        {"type": "way", "id": 101, "nodes": [4, 5, 6],
         "tags": {"highway": "footway", "bridge": "yes", "layer": "1"}},
        {"type": "way", "id": 102, "nodes": [6, 3], "tags": {"highway": "path"}},
        {"type": "way", "id": 103, "nodes": [1, 4], "tags": {"highway": "service",
                                                             "access": "private"}},
    ],
}
FEATURE_ANSWER = {
    "elements": [
        {"type": "node", "id": 20, "lat": 37.8010, "lon": 112.5010,
         "tags": {"amenity": "school", "name": "双喜小学"}},
        {"type": "node", "id": 21, "lat": 37.8001, "lon": 112.5020,
         "tags": {"highway": "bus_stop", "name": "双喜小学", "public_transport": "platform"}},
        {"type": "node", "id": 30, "lat": 37.8020, "lon": 112.5060},
        {"type": "node", "id": 31, "lat": 37.8020, "lon": 112.5070},
        {"type": "node", "id": 32, "lat": 37.8030, "lon": 112.5070},
        {"type": "way", "id": 300, "nodes": [30, 31, 32, 30],
         "tags": {"amenity": "kindergarten", "name": "康乐幼儿园"}},
    ],
}
BBOX = (112.49, 37.79, 112.52, 37.81)


def test_parse_recorded_answers():
    from siteplan.osm.features import features_from_elements, lines_from_elements

    el = elements_from_overpass_json([NETWORK_ANSWER, NETWORK_ANSWER], "bbox:test")
    assert el.way_id.tolist() == [100, 101, 102, 103]  # duplicates across answers dropped
    lines = lines_from_elements(el)
    assert lines["name"].tolist()[0] == "迎泽大街" and lines["oneway"].iloc[0] == "yes"
    net = graph_from_lines(lines, keep_largest=False)
    # Way 103 is private; the bridge (node 5) does not meet the street under it (node 2).
    assert net.report.n_lines_walkable == 3
    assert (net.n_nodes, net.n_edges, net.report.n_components) == (4, 3, 1)
    features = features_from_elements(elements_from_overpass_json([FEATURE_ANSWER], "q"))
    assert features["osm_id"].tolist() == ["node/20", "node/21", "way/300"]
    assert features.geometry.iloc[2].geom_type == "Polygon"
    fac = classify_facilities(features).facilities
    got = dict(zip(fac["facility_id"], fac["class"], strict=True))
    assert got == {"node/20": "primary_school", "node/21": "bus_stop", "way/300": "kindergarten"}


@pytest.fixture()
def recorded_osmnx(monkeypatch):
    """osmnx's Overpass generators answer from the recordings; returns the call log."""
    calls: list[str] = []

    def network(polygon, network_type, custom_filter):
        calls.append(f"network:{network_type}")
        assert polygon.contains(shapely.Point(112.505, 37.80))
        yield NETWORK_ANSWER

    def features(polygon, tags):
        calls.append("features")
        assert all(isinstance(v, bool | str | list) for v in tags.values())
        yield FEATURE_ANSWER

    monkeypatch.setattr(ox._overpass, "_download_overpass_network", network)
    monkeypatch.setattr(ox._overpass, "_download_overpass_features", features)
    monkeypatch.setattr("siteplan.osm.overpass.check_overpass_reachable", lambda url: None)
    return calls


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(ox._overpass, "_download_overpass_network", refuse)
    monkeypatch.setattr(ox._overpass, "_download_overpass_features", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr("siteplan.osm.overpass.check_overpass_reachable", refuse)


def test_fetch_writes_the_cache_and_a_hit_never_touches_the_network(
        tmp_path, monkeypatch, recorded_osmnx):
    saved = (ox.settings.cache_folder, ox.settings.use_cache)
    lines, features = fetch_osm(BBOX, cache_dir=tmp_path)
    assert recorded_osmnx == ["network:walk", "features"]
    assert (ox.settings.cache_folder, ox.settings.use_cache) == saved  # settings restored
    cached = list(tmp_path.glob("osm_*.gpkg"))
    assert len(cached) == 1
    assert cached[0].stem == cache_key(BBOX, "walk", FACILITY_TAGS)

    _no_network(monkeypatch)
    lines2, features2 = fetch_osm(BBOX, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(
        pd.DataFrame(lines.drop(columns="geometry")), pd.DataFrame(lines2.drop(columns="geometry")))
    assert all(shapely.equals(lines.geometry.values, lines2.geometry.values))
    assert features2["osm_id"].tolist() == features["osm_id"].tolist()
    assert features2["name"].tolist() == ["双喜小学", "双喜小学", "康乐幼儿园"]
    assert lines2.crs.to_epsg() == 4326
    # The cached frames build the same network as fresh ones.
    assert graph_from_lines(lines2).n_edges == graph_from_lines(lines).n_edges
    # A different query is a cache miss and would need the network.
    with pytest.raises(AssertionError, match="network was touched"):
        fetch_osm((112.0, 37.0, 112.1, 37.1), cache_dir=tmp_path)


def test_refresh_downloads_again(tmp_path, recorded_osmnx):
    fetch_osm(BBOX, cache_dir=tmp_path)
    fetch_osm(BBOX, cache_dir=tmp_path)
    fetch_osm(BBOX, cache_dir=tmp_path, refresh=True)
    assert recorded_osmnx.count("features") == 2


def test_offline_fails_fast_with_a_clear_error(tmp_path, monkeypatch):
    # A closed local port: the connection is refused at once, without any internet.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(ox.settings, "overpass_url", f"http://127.0.0.1:{port}/api")
    start = time.perf_counter()
    with pytest.raises(NetworkError) as err:
        fetch_osm(BBOX, cache_dir=tmp_path)
    assert time.perf_counter() - start < 10
    text = str(err.value)
    assert "could not reach Overpass" in text and "offline" in text and ".osm" in text
    assert not list(tmp_path.glob("osm_*.gpkg"))  # nothing half-written


def test_bad_queries_and_cache(tmp_path):
    with pytest.raises(InputError, match="cannot use"):
        fetch_osm(12345, cache_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="invalid bbox"):
        fetch_osm((112.6, 37.8, 112.5, 37.9), cache_dir=tmp_path)
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"not a geopackage")
    with pytest.raises(InputError, match="cache file is unreadable") as err:
        read_osm_cache(broken)
    assert "refresh=True" in str(err.value)
