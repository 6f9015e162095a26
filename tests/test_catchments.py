"""Catchment polygons on the real Taiyuan network: no false coverage, completeness, nesting."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from nxref import build_graph, nearest_edges, reached_lines
from shapely.geometry import LineString, box

from siteplan.access.catchments import catchments, reached_pieces, substrings
from siteplan.access.coverage import blind_spots, class_unions, coverage
from siteplan.core.errors import ConfigError
from siteplan.network.build import graph_from_lines
from siteplan.network.snapping import snap

FRONTAGE = 30.0


@pytest.fixture(scope="module")
def sites(taiyuan_network):
    """Eight facilities near the middle of the network, spread out."""
    net = taiyuan_network
    rng = np.random.default_rng(7)
    centre = np.median(net.node_xy, axis=0)
    near = np.flatnonzero(np.hypot(*(net.node_xy - centre).T) < 3000)
    xy = net.node_xy[rng.choice(near, 8, replace=False)] + rng.normal(0, 40, (8, 2))
    pts = shapely.points(xy)
    fac = gpd.GeoDataFrame({"facility_id": [f"k{i}" for i in range(8)], "class": "kindergarten"},
                           geometry=pts, crs=net.crs)
    snaps = {f"k{i}": s for i, s in enumerate(nearest_edges(net, pts, 200.0))}
    graph = build_graph(net, snaps)
    return net, fac, snaps, graph


def _reference_lines(net, graph, snaps, fid, radius):
    dist = nx.single_source_dijkstra_path_length(graph, ("f", fid), cutoff=radius,
                                                 weight="weight")
    node_dist = {k: v for k, v in dist.items() if isinstance(k, int | np.integer)}
    return shapely.multilinestrings(reached_lines(net, node_dist, snaps[fid], radius))


def _sample_inside(poly, n, rng):
    minx, miny, maxx, maxy = poly.bounds
    out = []
    shapely.prepare(poly)
    while sum(len(o) for o in out) < n:
        pts = shapely.points(rng.uniform(minx, maxx, 4 * n), rng.uniform(miny, maxy, 4 * n))
        out.append(pts[shapely.contains(poly, pts)])
    return np.concatenate(out)[:n]


@pytest.mark.parametrize("radius", [300.0, 500.0])
def test_no_false_coverage_and_complete(sites, radius):
    net, fac, snaps, graph = sites
    polys = catchments(net, fac, {"kindergarten": radius}, frontage_m=FRONTAGE)
    assert len(polys) == 8
    rng = np.random.default_rng(int(radius))
    for fid, poly in zip(polys["facility_id"], polys.geometry, strict=True):
        ref = _reference_lines(net, graph, snaps, fid, radius)
        assert not ref.is_empty
        # No false coverage: every point of the polygon is within the frontage of a street
        # point that networkx reaches within the radius.
        pts = _sample_inside(poly, 2000, rng)
        gap = shapely.distance(pts, ref)
        assert gap.max() <= FRONTAGE + 1e-6, f"{fid}: {gap.max():.3f} m beyond the frontage"
        # Completeness: points along every reached street piece lie inside the polygon.
        along = shapely.segmentize(ref, 5.0)
        probe = shapely.points(shapely.get_coordinates(along))
        assert shapely.covers(poly.buffer(1e-6), probe).all(), fid
        # The reached length agrees with the reference.
        street = polys.loc[polys["facility_id"] == fid, "street_m"].item()
        assert street == pytest.approx(ref.length, rel=1e-6)


def test_rings_nest_exactly_and_grow(sites):
    net, fac, *_ = sites
    rings = catchments(net, fac, {"kindergarten": 300.0}, mode="rings",
                       rings_m=[300.0, 500.0, 1000.0])
    assert len(rings) == 24
    for _, group in rings.groupby("facility_id"):
        g = group.sort_values("ring").geometry.to_numpy()
        for inner, outer in zip(g[:-1], g[1:], strict=True):
            # Exact up to the floating-point rounding of the overlay (under a micrometre).
            vertices = shapely.points(shapely.get_coordinates(inner))
            assert shapely.distance(vertices, outer).max() < 1e-6
            assert shapely.difference(inner, outer).area < 1e-6
            assert outer.area > inner.area


def test_overlap_radii_are_monotone(sites):
    net, fac, *_ = sites
    small = catchments(net, fac, {"kindergarten": 300.0})
    large = catchments(net, fac, {"kindergarten": 500.0})
    for a, b in zip(small.geometry, large.geometry, strict=True):
        # Separately buffered line sets nest up to the chord error of round joins (< 0.3 m).
        assert shapely.difference(a, b).area < 1.0
        assert b.buffer(0.3).covers(a)
        assert b.area > a.area


def test_dissolve_is_union_of_overlaps(sites):
    net, fac, *_ = sites
    each = catchments(net, fac, {"kindergarten": 500.0})
    one = catchments(net, fac, {"kindergarten": 500.0}, mode="dissolve")
    assert len(one) == 1 and one["facility_id"].isna().all()
    union = shapely.union_all(each.geometry.to_numpy())
    assert shapely.symmetric_difference(union, one.geometry.iloc[0]).area < 1e-3 * union.area
    assert one["street_m"].item() <= each["street_m"].sum()


def test_split_streets_go_to_nearest_facility(sites):
    net, fac, snaps, graph = sites
    split = catchments(net, fac, {"kindergarten": 1000.0}, mode="split")
    sn = snap(net, fac.geometry.to_numpy())
    pieces = reached_pieces(net, sn, 1000.0)
    dists = {fid: nx.single_source_dijkstra_path_length(graph, ("f", fid), cutoff=1100,
                                                        weight="weight") for fid in snaps}
    # Midpoints of edges wholly reached by two facilities: the owner must be the nearer one.
    checked = 0
    for fid, poly in zip(split["facility_id"], split.geometry, strict=True):
        own = pieces[pieces["group"] == int(fid[1:])]
        for e in own["edge"].to_numpy()[:40]:
            u, v = int(net.edge_u[e]), int(net.edge_v[e])
            mid = net.edge_geometry[e].interpolate(0.5, normalized=True)
            half = net.edge_length[e] / 2
            d = {k: min(dd.get(u, np.inf), dd.get(v, np.inf)) + half for k, dd in dists.items()}
            best = min(d.values())
            if d[fid] <= 1000 and d[fid] > best + 1.0 and e not in {s[0] for s in snaps.values()}:
                assert not poly.buffer(-FRONTAGE + 1).contains(mid), (fid, e)
                checked += 1
    assert split.geometry.is_valid.all()
    assert checked > 0


def test_substrings_match_shapely(taiyuan_network):
    net = taiyuan_network
    rng = np.random.default_rng(3)
    edges = rng.choice(net.n_edges, 300)
    length = net.edge_length[edges]
    a = rng.uniform(0, 1, 300) * length
    b = a + rng.uniform(0, 1, 300) * (length - a)
    got = substrings(net.edge_geometry, edges, a, b)
    from shapely.ops import substring

    for g, e, s, t in zip(got, edges, a, b, strict=True):
        ref = substring(net.edge_geometry[e], s, t)
        assert g.length == pytest.approx(ref.length, abs=1e-6)
        assert shapely.hausdorff_distance(g, ref) < 1e-6


def test_unreachable_facility_gets_no_polygon(sites):
    net, fac, *_ = sites
    far = fac.iloc[[0]].copy()
    far["facility_id"] = "far"
    far["geometry"] = shapely.points([[net.node_xy[:, 0].max() + 5000, 0.0]])
    out = catchments(net, gpd.GeoDataFrame(far, crs=net.crs), {"kindergarten": 300.0})
    assert len(out) == 0


def test_bad_settings(sites):
    net, fac, *_ = sites
    with pytest.raises(ConfigError, match="positive"):
        catchments(net, fac, {"kindergarten": -300})
    with pytest.raises(ConfigError, match="mode"):
        catchments(net, fac, {"kindergarten": 300}, mode="hull")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="frontage"):
        catchments(net, fac, {"kindergarten": 300}, frontage_m=0)


# --- coverage and blind spots on a case whose answer is known --------------------------------

def _street_case():
    """One straight 2 km street along y = 0 and a kindergarten at its west end."""
    crs = "EPSG:32649"
    lines = gpd.GeoDataFrame({"highway": ["residential"]},
                             geometry=[LineString([(0, 0), (2000, 0)])], crs=crs)
    net = graph_from_lines(lines)
    fac = gpd.GeoDataFrame({"facility_id": ["k"], "class": ["kindergarten"]},
                           geometry=shapely.points([[0, 10]]), crs=crs)
    return net, fac, crs


def test_coverage_and_blind_spots_known_answer():
    net, fac, crs = _street_case()
    polys = catchments(net, fac, {"kindergarten": 310.0}, frontage_m=30)
    # Reached: x in [0, 300] (10 m access leg), buffered 30 m.
    res = gpd.GeoDataFrame({"name": ["东区", "<b>西区</b>"]},
                           geometry=[box(0, 0, 800, 20), box(1500, -20, 1600, 20)], crs=crs)
    cov = coverage(polys, res, parcels=res)
    row = cov.iloc[0]
    assert row["residential_m2"] == pytest.approx(800 * 20 + 100 * 40)
    # Covered: x from 0 to 300 plus the round cap beyond 300 (20 m strip inside a 30 m disc).
    cap = box(300, 0, 330, 20).intersection(shapely.Point(300, 0).buffer(30, quad_segs=64)).area
    assert row["covered_m2"] == pytest.approx(300 * 20 + cap, rel=2e-3)
    assert row["n_parcels"] == 2 and row["n_parcels_covered"] == 0  # both centres are east
    spots = blind_spots(polys, res)
    assert list(spots["name"]) == ["东区", "<b>西区</b>"]
    assert spots["area_m2"].sum() == pytest.approx(cov["residential_m2"].item()
                                                   - row["covered_m2"], rel=1e-9)
    assert class_unions(polys)["class"].tolist() == ["kindergarten"]


def test_coverage_frontage_served_parcels_and_buildings():
    net, fac, crs = _street_case()
    polys = catchments(net, fac, {"kindergarten": 310.0}, frontage_m=30)
    far = box(0, 100, 100, 200)  # 100 m from the street: no frontage can reach it
    res = gpd.GeoDataFrame(geometry=[box(0, 0, 800, 20), far], crs=crs)
    parcels = gpd.GeoDataFrame({"dist_kindergarten_m": [100.0, 400.0, np.nan]},
                               geometry=[box(0, 0, 50, 20), box(500, 0, 550, 20), far], crs=crs)
    buildings = gpd.GeoDataFrame(geometry=[box(10, 2, 20, 12), box(700, 2, 710, 12)], crs=crs)
    row = coverage(polys, res, parcels=parcels, buildings=buildings, network=net,
                   frontage_m=30).iloc[0]
    assert row["residential_m2"] == pytest.approx(800 * 20 + 100 * 100)
    assert row["frontage_m2"] == pytest.approx(800 * 20)
    assert row["covered_share_of_frontage"] == pytest.approx(row["covered_m2"] / (800 * 20))
    assert row["n_parcels_served"] == 1  # network distance 100 <= 310; NaN is not served
    assert row["n_parcels_covered"] == 1  # the first parcel's centre is in the catchment
    assert (row["n_buildings"], row["n_buildings_covered"]) == (2, 1)


def test_blind_spots_for_class_without_catchment():
    net, fac, crs = _street_case()
    polys = catchments(net, fac, {"kindergarten": 310.0})
    res = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 100)], crs=crs)
    spots = blind_spots(polys, res, classes=["kindergarten", "primary_school"])
    prim = spots[spots["class"] == "primary_school"]
    assert prim["area_m2"].item() == pytest.approx(10_000)
    assert prim["name"].isna().all()
