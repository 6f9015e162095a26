"""Life-circle completeness (GB 50180-2018 5/10/15-minute circles, 完整居住社区) on hand-made data.

A 2 km street in UTM metres with points of interest on it at known positions; every share
below is counted by hand from the positions and the preset's checklists
(5 min: 10 types within 300 m; 10 min: 5 within 500 m; 15 min: 8 within 1000 m; community:
9 within 500 m).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from siteplan.access.lifecircle import completeness_columns, life_circle_completeness
from siteplan.facilities.lifecircle import CHECKLISTS, LIFE_CIRCLE_PRESET, checklist
from siteplan.facilities.lifecircle import life_circle_facilities as lc_facilities

CRS = "EPSG:32650"
X0, Y0 = 650_000.0, 4_190_000.0

# (x along the street, tags): the points of interest of the hand-made street.
POIS: list[tuple[float, dict[str, str]]] = [
    (100.0, {"highway": "bus_stop", "name": "邮局站"}),           # a stop, not a post office
    (150.0, {"shop": "supermarket", "name": "美特好超市"}),        # shops (5) and market (10)
    (250.0, {"amenity": "kindergarten", "name": "阳光幼儿园"}),
    (400.0, {"amenity": "pharmacy", "name": "老百姓大药房"}),      # > 300 m, <= 500 m
    (450.0, {"amenity": "marketplace", "name": "和平菜市场"}),
    (900.0, {"amenity": "school", "name": "太原市第一中学"}),
    (1200.0, {"amenity": "post_office", "name": "中国邮政"}),
]


def test_checklists_have_sources_labels_and_circles():
    from siteplan.core.labels import LIFE_CIRCLE_TYPES

    assert [len(checklist(c)) for c in CHECKLISTS] == [10, 5, 8, 9]
    names = [t.name for t in LIFE_CIRCLE_PRESET]
    assert len(set(names)) == len(names)
    for t in LIFE_CIRCLE_PRESET:
        assert t.source.startswith("GB 50180-2018"), t.name
        assert t.classes or t.rules, t.name
        assert all(r.classes == (t.name,) for r in t.rules)
        en, zh = LIFE_CIRCLE_TYPES[t.name]
        assert en and zh


def _features() -> gpd.GeoDataFrame:
    rows = [{"osm_id": f"n{i}", **tags} for i, (_, tags) in enumerate(POIS)]
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=[Point(x, 0) for x, _ in POIS], crs=CRS)


def test_types_from_tags_names_and_classes():
    from siteplan.facilities.classify import classify_facilities

    feats = _features()
    fac = classify_facilities(feats).facilities
    out = lc_facilities(fac, feats)
    got = sorted(zip(out["name"], out["class"], strict=True))
    assert got == sorted([
        ("中国邮政", "post"), ("和平菜市场", "market"), ("太原市第一中学", "middle_school"),
        ("美特好超市", "market"), ("美特好超市", "shops"), ("老百姓大药房", "pharmacy"),
        ("邮局站", "bus_stop"), ("阳光幼儿园", "kindergarten")])
    # Each row says why: a rule's note, or the siteplan class it comes from.
    why = dict(zip(out["class"] + ":" + out["name"], out["matched_by"], strict=True))
    assert why["pharmacy:老百姓大药房"] == "name: 药店/药房"  # names rank before plain tags
    assert why["market:和平菜市场"] == "name: 菜市场/农贸市场/生鲜超市"
    assert why["kindergarten:阳光幼儿园"] == "class kindergarten"


def test_name_rules_read_points_of_interest_only():
    feats = gpd.GeoDataFrame({"osm_id": ["a", "b"], "name": ["和平菜市场", "和平菜市场"],
                              "highway": ["bus_stop", None], "shop": [None, "yes"]},
                             geometry=[Point(0, 0), Point(1, 0)], crs=CRS)
    empty = gpd.GeoDataFrame({"facility_id": [], "class": []}, geometry=[], crs=CRS)
    out = lc_facilities(empty, feats)
    assert out["facility_id"].tolist() == ["b"] and out["class"].tolist() == ["market"]


def _net():
    from siteplan import graph_from_lines

    return graph_from_lines(gpd.GeoDataFrame({"highway": ["residential"]},
                                             geometry=[LineString([(0, 0), (2000, 0)])], crs=CRS))


def test_completeness_per_circle_on_a_street():
    from siteplan.facilities.classify import classify_facilities

    feats = _features()
    fac = lc_facilities(classify_facilities(feats).facilities, feats)
    # West end (20 m south of the street), east end, and one 500 m off any street.
    parcels = gpd.GeoDataFrame({"parcel_id": ["w", "e", "far"]}, geometry=[
        box(-10, -30, 10, -10), box(1990, -30, 2010, -10), box(990, -530, 1010, -510)], crs=CRS)
    out = life_circle_completeness(_net(), parcels, fac)
    w, e, far = (out.iloc[i] for i in range(3))
    # West: kindergarten 270 m, shops 170 m, bus stop 120 m of 10 five-minute types.
    assert w["lc_5min_share"] == pytest.approx(3 / 10)
    assert w["lc_5min_present"] == "kindergarten; convenience shops; bus stop"
    assert w["lc_5min_present_zh"] == "幼儿园、社区商业网点、公交车站"
    assert "pharmacy" in w["lc_5min_missing"]  # 420 m: beyond the 5-minute circle
    assert w["lc_10min_share"] == pytest.approx(1 / 5)  # the market (supermarket at 170 m)
    assert w["lc_15min_share"] == pytest.approx(1 / 8)  # middle school 920 m, post 1220 m
    assert w["lc_15min_missing_zh"].startswith("社区卫生服务中心")
    assert "邮政营业场所" in w["lc_15min_missing_zh"]
    # 完整居住社区 within 500 m: kindergarten, shops and the pharmacy at 420 m.
    assert w["lc_community_share"] == pytest.approx(3 / 9)
    # East: only the post office, 820 m; the middle school is 1120 m away.
    assert (e["lc_5min_share"], e["lc_10min_share"]) == (0.0, 0.0)
    assert e["lc_15min_share"] == pytest.approx(1 / 8)
    assert e["lc_15min_present"] == "post office"
    assert e["lc_5min_present"] == ""
    # A parcel that cannot reach the network has no completeness, not a zero.
    assert all(np.isnan(far[f"lc_{c}_share"]) for c in CHECKLISTS)


def test_completeness_columns_from_distances():
    d = {"kindergarten": np.array([300.0, 300.01, np.nan]),
         "park": np.array([900.0, 1001.0, 10.0])}
    out = completeness_columns(d, pd.Index(["a", "b", "c"]))
    assert out["lc_5min_share"].tolist() == pytest.approx([0.1, 0.0, 0.0])
    assert out["lc_15min_present"].tolist() == ["park", "", "park"]
    # The 完整居住社区 list is measured within 500 m.
    assert out["lc_community_present_zh"].tolist() == ["幼儿园", "幼儿园", "公园"]
    assert list(out.index) == ["a", "b", "c"]


def _osm_file(path):
    """The street and its points of interest as an OSM file, with an estate west of them."""
    from pyproj import Transformer

    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    nodes: dict[int, tuple[float, float]] = {1: (0, 0), 2: (2000, 0)}
    tags: dict[int, dict[str, str]] = {}
    for i, (x, t) in enumerate(POIS):
        nodes[10 + i] = (x, 0)
        tags[10 + i] = t
    estate = {50: (-100, -40), 51: (100, -40), 52: (100, -240), 53: (-100, -240)}
    nodes.update(estate)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for nid, (x, y) in nodes.items():
        lon, lat = to_ll.transform(X0 + x, Y0 + y)
        tag = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.get(nid, {}).items())
        lines.append(f'<node id="{nid}" lat="{lat:.9f}" lon="{lon:.9f}">{tag}</node>')
    ways = [(100, [1, 2], {"highway": "residential"}),
            (101, [50, 51, 52, 53, 50], {"landuse": "residential", "name": "西苑"})]
    for wid, refs, wtags in ways:
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in wtags.items())
        lines.append(f'<way id="{wid}">{body}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_life_circle_criterion_columns_units_and_popup(tmp_path):
    import warnings

    from siteplan.core.errors import SiteplanWarning
    from siteplan.outputs.maps.style import parcel_popup
    from siteplan.pipeline import run_study
    from siteplan.study.model import Study

    osm = _osm_file(tmp_path / "street.osm")
    parcels = gpd.GeoDataFrame({"parcel_id": ["w", "e"]}, geometry=[
        box(X0 - 10, Y0 - 30, X0 + 10, Y0 - 10), box(X0 + 1990, Y0 - 30, X0 + 2010, Y0 - 10)],
        crs=CRS)
    parcels.to_file(tmp_path / "parcels.geojson")
    study = Study.model_validate({
        "study": {"name": "life circles"},
        "inputs": {"streets": str(osm), "parcels": str(tmp_path / "parcels.geojson")},
        "programme": {"default_far": 2.0},
        "criteria": [{"name": "five_minutes", "kind": "life_circle", "circle": "5min",
                      "weight": 1}]})
    assert study.criteria[0].source == "GB 50180-2018 附录B 表B.0.2"
    with warnings.catch_warnings():  # thin layers: one kindergarten, one school
        warnings.simplefilter("ignore", SiteplanWarning)
        result = run_study(study)
    p = result.parcels.set_index("parcel_id")
    assert p.loc["w", "five_minutes_raw"] == pytest.approx(0.3)
    assert p.loc["w", "five_minutes_rating"] == pytest.approx(30.0)  # 1 -> 100, 0 -> 0
    assert p.loc["e", "five_minutes_raw"] == 0.0
    assert p["rank"].tolist() == [1, 2]
    assert p.loc["e", "lc_15min_present"] == "post office"
    # What was counted is written out, each facility with its reason.
    from siteplan.outputs.writers import result_layers

    counted = result_layers(result)["life_circle_facilities"]
    assert sorted(counted["class"]) == sorted(
        ["bus_stop", "kindergarten", "market", "market", "middle_school", "pharmacy", "post",
         "shops"])
    assert counted["matched_by"].notna().all()
    # The estate: its entrances on the street side reach the middle school (<= 1000 m) but
    # not the post office (>= 1140 m).
    unit = result.units.set_index("name").loc["西苑"]
    assert unit["lc_15min_share"] == pytest.approx(1 / 8)
    assert "kindergarten" in unit["lc_5min_present"]
    from siteplan import life_circle_summary

    summary = life_circle_summary(result.units).set_index("list")
    assert summary.loc["15min", "mean_share"] == pytest.approx(1 / 8)
    assert summary.loc["15min", ["n_types", "n_units", "n_units_complete"]].tolist() == [8, 1, 0]
    # The popup lists the share, what is present and what is missing, in both languages.
    frame = result.parcels.assign(_excluded=False)
    head, cols = parcel_popup(frame, [])
    rows = {h["l"]: cols[h["k"]] for h in head if "l" in h}
    share = rows["5分钟生活圈：设施齐全率 / 5-minute life circle: share of types present"]
    assert list(share) == ["30 %", "0 %"]
    missing = rows["5分钟生活圈：缺少设施 / 5-minute life circle: missing"]
    assert missing[0].startswith("社区服务站、文化活动站") and "community service station" in missing[0]
    assert any("生活圈设施" in h.get("s", "") for h in head)


def test_which_studies_measure_life_circles():
    from siteplan import Study

    assert Study.model_validate({"study": {"name": "a", "life_circle": "gb50180"}}
                                ).uses_life_circles()
    assert not Study.model_validate({"study": {"name": "b"}}).uses_life_circles()
    with_criterion = Study.model_validate({"study": {"name": "c"}, "criteria": [
        {"name": "lc", "kind": "life_circle", "circle": "community", "weight": 1}]})
    assert with_criterion.uses_life_circles()
    assert with_criterion.criteria[0].source == "完整居住社区建设标准(试行) 2020"


def test_completeness_matches_networkx_on_the_taiyuan_streets(taiyuan_network):
    """Types present per parcel, from networkx multi-source Dijkstra on the split edges."""
    import networkx as nx
    import shapely
    from nxref import build_graph, nearest_edges

    net = taiyuan_network
    rng = np.random.default_rng(19)

    def scatter(n: int, spread: float) -> np.ndarray:
        xy = net.node_xy[rng.choice(net.n_nodes, n, replace=True)]
        return shapely.points(xy + rng.normal(0.0, spread, xy.shape))

    targets, fac_pts = scatter(300, 100.0), scatter(60, 40.0)
    types = np.array(["kindergarten", "pharmacy", "market", "post", "park"] * 12)
    fac = gpd.GeoDataFrame({"facility_id": [f"f{i:02d}" for i in range(60)], "class": types},
                           geometry=fac_pts, crs=net.crs)
    parcels = gpd.GeoDataFrame(geometry=targets, crs=net.crs)
    got = life_circle_completeness(net, parcels, fac)
    snaps = {f"t{i}": s for i, s in enumerate(nearest_edges(net, targets, 200.0))}
    fsnaps = {f"f{i:02d}": s for i, s in enumerate(nearest_edges(net, fac_pts, 200.0))}
    graph = build_graph(net, {**snaps, **fsnaps})
    dists = {}
    for t in np.unique(types):
        sources = [("f", f) for f in fac.loc[fac["class"] == t, "facility_id"]
                   if fsnaps[f] is not None]
        d = nx.multi_source_dijkstra_path_length(graph, sources, cutoff=1000.0)
        dists[str(t)] = np.array([d.get(("f", f"t{i}"), np.nan) for i in range(300)])
    reachable = np.array([s is not None for s in snaps.values()])
    ref = completeness_columns(dists, parcels.index, reachable=reachable)
    # Nothing exactly on a radius here, so presence agrees exactly; shares are hand-checkable.
    pd.testing.assert_frame_equal(got, ref)
    assert 0 < (got["lc_5min_share"] > 0).sum() < 300
    assert (got["lc_community_share"] > 0).sum() > (got["lc_5min_share"] > 0).sum()
