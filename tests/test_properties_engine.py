"""Property-based tests (hypothesis) of the engine end to end on random small inputs.

- Access: on random street graphs (often disconnected), random facilities and targets, the
  distances equal plain networkx Dijkstra on the split edges (:mod:`nxref`), and are NaN exactly
  where networkx finds no path within the search limit; counts within a radius grow with it.
- Catchments: a larger radius reaches a superset of streets; ``rings`` polygons nest.
- Scoring: scores in [0, 100]; ``rank`` is 1..K over the parcels not excluded, ordered by score
  (descending) then ``parcel_id`` (as text), ``<NA>`` when excluded; the same per parcel id
  whatever the input row order.

:mod:`tests.test_properties` covers the vectorised building blocks (intervals, substrings,
coordinate shifts); :mod:`tests.test_access` the engine against networkx on real Taiyuan data.
"""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nxref import build_graph, nearest_edges
from shapely.geometry import LineString

from siteplan.access.catchments import DEFAULT_QUAD_SEGS, catchments
from siteplan.access.distances import facility_access
from siteplan.core.defaults import FRONTAGE_M
from siteplan.core.errors import SiteplanWarning
from siteplan.network.build import graph_from_lines
from siteplan.scoring.score import score_parcels
from siteplan.study.model import Study

CRS = "EPSG:32649"
X0, Y0 = 500_000.0, 4_200_000.0
SPACING = 100.0
MAX_SNAP = 1_000.0  # every point snaps: what is tested is the graph search, not the snap limit

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def street_grids(draw) -> gpd.GeoDataFrame:
    """A random subset of a jittered grid's edges: one or several components."""
    nx_, ny_ = draw(st.integers(2, 5)), draw(st.integers(2, 5))
    jitter = draw(st.lists(st.tuples(st.floats(-30, 30), st.floats(-30, 30)),
                           min_size=nx_ * ny_, max_size=nx_ * ny_))
    xy = {(i, j): (X0 + i * SPACING + jitter[i * ny_ + j][0],
                   Y0 + j * SPACING + jitter[i * ny_ + j][1])
          for i in range(nx_) for j in range(ny_)}
    pairs = [((i, j), (i + 1, j)) for i in range(nx_ - 1) for j in range(ny_)]
    pairs += [((i, j), (i, j + 1)) for i in range(nx_) for j in range(ny_ - 1)]
    keep = draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    lines = [LineString([xy[a], xy[b]]) for (a, b), k in zip(pairs, keep, strict=True) if k]
    if not lines:
        lines = [LineString([xy[pairs[0][0]], xy[pairs[0][1]]])]
    return gpd.GeoDataFrame({"highway": ["residential"] * len(lines)}, geometry=lines, crs=CRS)


def points(n_min: int, n_max: int):
    return st.lists(st.tuples(st.floats(-80, 80 + 4 * SPACING), st.floats(-80, 80 + 4 * SPACING)),
                    min_size=n_min, max_size=n_max)


def _network(lines: gpd.GeoDataFrame):
    return graph_from_lines(lines, metric_crs=CRS, keep_largest=False)


def _frames(pts, prefix: str, classes=None) -> gpd.GeoDataFrame:
    geoms = shapely.points(np.array(pts) + [X0, Y0])
    data = {"facility_id" if classes is not None else "parcel_id":
            [f"{prefix}{i}" for i in range(len(pts))]}
    if classes is not None:
        data["class"] = classes
    return gpd.GeoDataFrame(data, geometry=geoms, crs=CRS)


@SETTINGS
@given(street_grids(), points(1, 4), points(1, 12), st.floats(50, 600))
def test_distances_equal_networkx_and_nan_exactly_beyond_the_limit(lines, fac_pts, tgt_pts,
                                                                   limit):
    net = _network(lines)
    fac = _frames(fac_pts, "f", classes=["a"] * len(fac_pts))
    tgt = _frames(tgt_pts, "t")
    radii = sorted({limit / 3, limit / 2, limit})
    res = facility_access(net, tgt, fac, classes=["a"], count_radii={"a": radii},
                          search_limit_m=limit, max_snap_m=MAX_SNAP).table
    fsn = nearest_edges(net, np.asarray(fac.geometry.values), MAX_SNAP)
    tsn = nearest_edges(net, np.asarray(tgt.geometry.values), MAX_SNAP)
    graph = build_graph(net, {**{f"f{i}": s for i, s in enumerate(fsn)},
                              **{f"t{i}": s for i, s in enumerate(tsn)}})
    sources = [("f", f"f{i}") for i in range(len(fac_pts))]
    dist = nx.multi_source_dijkstra_path_length(graph, sources, cutoff=limit, weight="weight")
    ref = np.array([dist.get(("f", f"t{i}"), np.nan) for i in range(len(tgt_pts))])
    got = res["dist_a_m"].to_numpy(dtype=float)
    assert np.array_equal(np.isnan(got), np.isnan(ref)), (got, ref)
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-9, atol=1e-6)
    # Counts: facilities within each radius, by networkx from each facility; monotone in r.
    per_fac = [nx.single_source_dijkstra_path_length(graph, s, cutoff=limit, weight="weight")
               for s in sources]
    prev = np.zeros(len(tgt_pts))
    for r in radii:
        count = res[f"n_a_{r:g}m"].to_numpy(dtype=float)
        expect = np.array([sum(d.get(("f", f"t{i}"), np.inf) <= r + 1e-6 for d in per_fac)
                           for i in range(len(tgt_pts))])
        near = np.array([any(abs(d.get(("f", f"t{i}"), np.inf) - r) < 1e-6 for d in per_fac)
                         for i in range(len(tgt_pts))])  # on the boundary: either is right
        assert np.array_equal(count[~near], expect[~near]), (r, count, expect)
        assert (count >= prev).all()
        prev = count


# The catchments' round caps and joins are chords of the true buffer (quad_segs = 6); a cap
# at a street's end (the smaller radius) and the join there (the larger) place their chords
# differently, so nesting holds to the chord error w * (1 - cos(pi / 24)), not exactly.
CHORD_M = FRONTAGE_M * (1 - math.cos(math.pi / (4 * DEFAULT_QUAD_SEGS)))


@SETTINGS
@given(street_grids(), points(1, 3), st.floats(40, 300), st.floats(1.2, 3.0))
@example(lines=gpd.GeoDataFrame(
    {"highway": ["residential"] * 2},
    geometry=[shapely.LineString([(500200, 4200001), (500300, 4200000)]),
              shapely.LineString([(500300, 4200000), (500300, 4200100)])], crs="EPSG:32649"),
    fac_pts=[(0.0, 0.0)], r1=300.0, factor=2.0)  # found by hypothesis: a cap vs. a join
def test_catchments_grow_with_the_radius_and_rings_nest(lines, fac_pts, r1, factor):
    net = _network(lines)
    fac = _frames(fac_pts, "f", classes=["a"] * len(fac_pts))
    r2 = r1 * factor
    small = catchments(net, fac, {"a": r1}, max_snap_m=MAX_SNAP).set_index("facility_id")
    large = catchments(net, fac, {"a": r2}, max_snap_m=MAX_SNAP).set_index("facility_id")
    assert list(small.index) == list(large.index)
    for fid in small.index:
        assert large.loc[fid, "street_m"] >= small.loc[fid, "street_m"] - 1e-6
        a, b = small.loc[fid, "geometry"], large.loc[fid, "geometry"]
        assert a.difference(b.buffer(CHORD_M + 1e-6)).area <= 1e-6 * max(a.area, 1.0)
    rings = catchments(net, fac, {"a": r2}, mode="rings", rings_m=[r1, r2],
                       max_snap_m=MAX_SNAP)
    for _, group in rings.groupby("facility_id"):
        group = group.sort_values("radius_m")
        geoms = list(group.geometry)
        assert list(group["radius_m"]) == sorted(group["radius_m"])
        for inner, outer in zip(geoms, geoms[1:], strict=False):
            assert inner.difference(outer.buffer(CHORD_M + 1e-6)).area <= 1e-6 * max(
                inner.area, 1.0)


STUDY = Study.model_validate({
    "study": {"name": "p"},
    "criteria": [
        {"name": "walk", "kind": "distance", "class": "kindergarten", "weight": 2,
         "transform": {"type": "linear", "best": 300, "worst": 1500}},
        {"name": "far", "kind": "attribute", "column": "far", "weight": 1,
         "transform": {"type": "linear", "best": 3, "worst": 0}},
    ],
    "constraints": [{"column": "far", "op": "<", "value": 0.5, "missing": "keep"}],
    "compliance": {"radii": {"kindergarten": 300}},
})

ids = st.text(alphabet="AB01-_地", min_size=1, max_size=4)


@st.composite
def parcel_tables(draw) -> gpd.GeoDataFrame:
    n = draw(st.integers(1, 25))
    pids = draw(st.lists(ids, min_size=n, max_size=n, unique=True))
    dist = draw(st.lists(st.one_of(st.none(), st.floats(0, 3000)), min_size=n, max_size=n))
    far = draw(st.lists(st.one_of(st.none(), st.floats(0, 6)), min_size=n, max_size=n))
    geoms = [shapely.box(X0 + 50 * i, Y0, X0 + 50 * i + 40, Y0 + 40) for i in range(n)]
    return gpd.GeoDataFrame({
        "parcel_id": pids,
        "dist_kindergarten_m": pd.array(dist, dtype="Float64").astype(float),
        "far": pd.array(far, dtype="Float64").astype(float),
    }, geometry=geoms, crs=CRS)


def _score(parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """score_parcels, expecting the warning about a constraint column blank for every parcel."""
    if not parcels["far"].isna().all():
        return score_parcels(parcels, STUDY)
    with pytest.warns(SiteplanWarning, match="blank or missing for all"):
        return score_parcels(parcels, STUDY)


@settings(max_examples=100, deadline=None)
@given(parcel_tables(), st.randoms(use_true_random=False))
def test_scores_ranks_and_order_independence(parcels, rnd):
    out = _score(parcels)
    score = out["score"].to_numpy(dtype=float)
    assert np.all((score >= 0) & (score <= 100))
    excluded = out["excluded"].to_numpy(dtype=bool)
    rank = out["rank"]
    assert rank[excluded].isna().all()
    ranks = rank[~excluded].astype(int).to_numpy()
    assert sorted(ranks) == list(range(1, int((~excluded).sum()) + 1))
    # The promised order: score descending, then parcel_id ascending as text.
    expect = sorted(zip(-score[~excluded], out["parcel_id"][~excluded].astype(str),
                        strict=True))
    by_rank = out.loc[~excluded].sort_values("rank")["parcel_id"].astype(str).tolist()
    assert by_rank == [pid for _, pid in expect]
    # Excluded exactly where far < 0.5 (a missing FAR is kept, as the constraint says).
    far = parcels["far"].to_numpy(dtype=float)
    assert np.array_equal(excluded, np.nan_to_num(far, nan=np.inf) < 0.5)
    # Same scores and ranks per parcel whatever the row order.
    order = list(range(len(parcels)))
    rnd.shuffle(order)
    again = _score(parcels.iloc[order]).set_index("parcel_id")
    first = out.set_index("parcel_id")
    pd.testing.assert_series_equal(first["score"], again.loc[first.index, "score"])
    pd.testing.assert_series_equal(first["rank"], again.loc[first.index, "rank"])
