"""Gap filling (maximal covering): solvers against brute force, atoms against exact areas,
Taiyuan kindergartens, bad input, determinism."""

from __future__ import annotations

import itertools
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from scipy import sparse
from shapely.geometry import LineString, box

from siteplan.errors import ConfigError, InputError
from siteplan.network import graph_from_lines
from siteplan.siting import exact_cover, greedy_cover, merge_atoms, prune_components
from siteplan.siting_run import maximal_cover, site_study, write_siting
from tests.conftest import DATA

CRS = "EPSG:32649"
BOUND = 1.0 - 1.0 / np.e


def _brute(a: np.ndarray, w: np.ndarray, k: int) -> float:
    best = 0.0
    for combo in itertools.combinations(range(a.shape[1]), k):
        best = max(best, float(w[a[:, list(combo)].any(axis=1)].sum()))
    return best


# --- solvers on small matrices ---------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_exact_matches_enumeration_and_greedy_bound(seed):
    rng = np.random.default_rng(seed)
    a = rng.random((30, 8)) < 0.25
    w = rng.integers(1, 10, 30).astype(float)
    for k in range(1, 5):
        opt = _brute(a, w, k)
        ex = exact_cover(sparse.csr_matrix(a), w, k=k)
        gr = greedy_cover(sparse.csr_matrix(a), w, k=k)
        assert ex.status == "optimal"
        assert ex.objective == pytest.approx(opt)
        assert gr.objective <= opt + 1e-9
        assert gr.objective >= BOUND * opt - 1e-9
        # The greedy bound is an upper bound on the optimum, no looser than the a-priori one.
        assert gr.objective - 1e-9 <= gr.bound and opt <= gr.bound + 1e-9
        assert gr.bound <= gr.objective / BOUND + 1e-9
        # Marginal gains are what each site adds to those before it.
        for cov in (ex, gr):
            covered = a[:, cov.sites].cumsum(axis=1) > 0
            expect = np.diff(np.r_[0.0, [w[covered[:, i]].sum() for i in range(len(cov.sites))]])
            assert np.allclose(cov.gains, expect)


def test_greedy_equals_exact_where_greedy_is_optimal_and_not_otherwise():
    # Disjoint sets: greedy is optimal, and both take the heaviest sets.
    a = np.zeros((6, 3), dtype=bool)
    a[[0, 1], 0] = a[[2, 3, 4], 1] = a[[5], 2] = True
    w = np.array([1, 1, 2, 2, 2, 9.0])
    for k in (1, 2, 3):
        g, e = greedy_cover(a, w, k=k), exact_cover(a, w, k=k)
        assert g.objective == e.objective == _brute(a, w, k)
    assert list(greedy_cover(a, w, k=2).sites) == [2, 1]
    # Everything covered: the online bound proves greedy optimal (the a-priori one cannot).
    full = greedy_cover(a, w, k=3)
    assert full.bound == pytest.approx(w.sum()) and full.gap == pytest.approx(0.0)
    # k = 1: the bound is the best single gain plus nothing, i.e. the optimum itself.
    assert greedy_cover(a, w, k=1).bound == pytest.approx(9.0)
    # The classic trap: C (2.5) first, then A adds 1; A + B cover 4.
    atoms = {"p": 1.0, "q": 1.0, "r": 1.0, "s": 1.0, "t": 0.5}
    sets = [{"p", "q"}, {"r", "s"}, {"q", "r", "t"}]
    names = list(atoms)
    a = np.array([[n in s for s in sets] for n in names])
    w = np.array([atoms[n] for n in names])
    g, e = greedy_cover(a, w, k=2), exact_cover(a, w, k=2)
    assert g.objective == pytest.approx(3.5) and list(g.sites) == [2, 0]
    assert e.objective == pytest.approx(4.0) and sorted(e.sites) == [0, 1]


def test_ties_go_to_lowest_index_and_target_mode():
    a = np.array([[1, 1, 0], [0, 0, 1]], dtype=bool)
    w = np.array([2.0, 1.0])
    assert list(greedy_cover(a, w, k=1).sites) == [0]
    assert list(greedy_cover(a, w, target=2.5).sites) == [0, 2]
    e = exact_cover(a, w, target=2.0)
    assert e.sites.size == 1 and e.objective == pytest.approx(2.0)
    # Nothing more to cover: no zero-gain site is proposed.
    assert greedy_cover(a, w, k=3).sites.size == 2


def test_exact_with_many_independent_parts_matches_enumeration():
    # 10 independent parts of 3 candidates over 4 atoms each, of very different weights: the
    # light parts are pruned, and the optimum is still the enumerated one.
    rng = np.random.default_rng(11)
    blocks = []
    for _ in range(10):
        block = rng.random((4, 3)) < 0.5
        block[np.arange(3), np.arange(3)] = True  # every candidate covers something
        blocks.append(block)
    a = sparse.block_diag(blocks).toarray().astype(bool)
    w = np.repeat(rng.integers(1, 10, 10) * 10.0 ** rng.integers(0, 3, 10), 4) * rng.random(40)
    merged, mw = merge_atoms(sparse.csr_matrix(a), w)
    for k in (1, 2, 3):
        rows, cols = prune_components(merged, mw, k)
        assert not rows.all() and not cols.all()  # something was pruned
        ex = exact_cover(sparse.csr_matrix(a), w, k=k)
        assert ex.status == "optimal"
        assert ex.objective == pytest.approx(_brute(a, w, k), rel=1e-12)
    # The fewest sites reaching a target, against enumeration.
    target = 0.5 * w.sum()
    need = next(k for k in range(1, 31) if _brute(a, w, k) >= target)
    assert exact_cover(sparse.csr_matrix(a), w, target=target).sites.size == need


@pytest.mark.parametrize("incumbent", [None, "worst"])
def test_exact_stopped_by_the_time_limit_keeps_the_better_of_highs_and_greedy(monkeypatch,
                                                                               incumbent):
    from scipy import optimize

    rng = np.random.default_rng(5)
    a = rng.random((40, 10)) < 0.2
    w = rng.integers(1, 10, 40).astype(float)
    k = 3
    real = optimize.milp

    def stopped(c, **kw):  # HiGHS stopped at the limit: no incumbent, or an empty one
        res = real(c, **kw)
        res.x = None if incumbent is None else np.zeros_like(res.x)
        res.status, res.mip_dual_bound = 1, -w.sum()  # the loosest dual bound
        return res

    monkeypatch.setattr(optimize, "milp", stopped)
    ex = exact_cover(sparse.csr_matrix(a), w, k=k)
    gr = greedy_cover(sparse.csr_matrix(a), w, k=k)
    assert ex.status == "time_limit" and ex.objective == pytest.approx(gr.objective)
    assert ex.bound >= _brute(a, w, k) - 1e-9 and ex.bound <= w.sum()
    assert ex.gap == pytest.approx((ex.bound - ex.objective) / ex.bound)


def test_merge_atoms_sums_identical_candidate_sets():
    rng = np.random.default_rng(3)
    a = rng.random((200, 5)) < 0.3
    w = rng.random(200)
    merged, mw = merge_atoms(sparse.csr_matrix(a), w)
    sets = {}
    for row, weight in zip(a, w, strict=True):
        if row.any():
            sets[tuple(row)] = sets.get(tuple(row), 0.0) + weight
    got = {tuple(r): x for r, x in zip(merged.toarray().astype(bool), mw, strict=True)}
    assert got.keys() == sets.keys()
    assert all(got[key] == pytest.approx(val) for key, val in sets.items())


# --- geometry on a street whose answer is known ----------------------------------------------

def _street():
    """A straight 2 km street on y = 0, a kindergarten at its west end, three candidate sites
    on the street at x = 600, 1200, 1800 (and a duplicate of 1200 with a lower id)."""
    lines = gpd.GeoDataFrame({"highway": ["residential"]},
                             geometry=[LineString([(0, 0), (2000, 0)])], crs=CRS)
    net = graph_from_lines(lines)
    fac = gpd.GeoDataFrame({"facility_id": ["k"], "class": ["kindergarten"]},
                           geometry=shapely.points([[0, 0]]), crs=CRS)
    cand = gpd.GeoDataFrame({"site_id": ["c600", "c1200", "c1800", "b1200"]},
                            geometry=shapely.points([[600, 0], [1200, 0], [1800, 0],
                                                     [1200, 0]]), crs=CRS)
    # A 20 m strip along the street, and a block 500 m away that no catchment can reach.
    demand = gpd.GeoDataFrame({"name": ["strip", "far"], "pop": [4000.0, 50.0]},
                              geometry=[box(0, 0, 2000, 20), box(0, 500, 100, 600)], crs=CRS)
    return net, fac, cand, demand


def _band(x0, x1):
    """The exact 30 m frontage band of street [x0, x1] (fine circle) within the strip."""
    line = LineString([(x0, 0), (x1, 0)])
    return line.buffer(30, quad_segs=256).intersection(box(0, 0, 2000, 20))


def test_street_case_known_answer():
    net, fac, cand, demand = _street()
    res = maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, k=1, method="both")
    before = _band(0, 300).area
    for method in ("greedy", "exact"):
        row = res.coverage.set_index("method").loc[method]
        assert row["demand_total"] == pytest.approx(2000 * 20 + 100 * 100)
        assert row["covered_before"] == pytest.approx(before, rel=2e-3)
        after = _band(0, 300).union(_band(900, 1500)).area
        assert row["covered_after"] == pytest.approx(after, rel=2e-3)
        # The optimiser's atoms give the same figure as the exact overlay.
        assert row["objective"] == pytest.approx(row["covered_after"], rel=1e-6)
        # The far block is reported, never dropped.
        assert row["unreachable_m2"] == pytest.approx(100 * 100)
    # The middle site is best; of the two there, the lower id wins.
    assert list(res.sites["site_id"]) == ["b1200", "b1200"]
    assert list(res.unreachable["area_m2"]) == pytest.approx([10000.0])
    assert res.unreachable.geometry.iloc[0].symmetric_difference(
        box(0, 500, 100, 600)).area < 1e-6
    full = maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, k=3, method="exact")
    assert full.coverage["covered_after"].iloc[0] == pytest.approx(2000 * 20, rel=1e-9)
    assert full.coverage["share_after"].iloc[0] == pytest.approx(40000 / 50000, rel=1e-9)


def test_population_spread_by_area_of_intersection():
    net, fac, cand, demand = _street()
    res = maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, k=1, population="pop")
    row = res.coverage.iloc[0]
    zone = res.catchments.geometry.iloc[0].union(_band(0, 300))
    # Population of the strip is spread by area: covered share of its area times 4000.
    expect = 4000 * box(0, 0, 2000, 20).intersection(zone).area / 40000
    assert row["weight"] == "pop" and row["demand_total"] == pytest.approx(4050)
    assert row["covered_after"] == pytest.approx(expect, rel=2e-3)
    assert row["unreachable"] == pytest.approx(50.0)


def test_target_share_and_bad_input():
    net, fac, cand, demand = _street()
    res = maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, target_share=0.5)
    assert res.coverage["share_after"].iloc[0] >= 0.5 - 1e-6
    with pytest.raises(InputError, match="most they can reach"):
        maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, target_share=0.9)
    bad = [
        (InputError, dict(k=0)), (InputError, dict(k=5)), (InputError, dict(k=1.5)),
        (InputError, dict(target_share=0.0)), (InputError, dict(target_share=1.2)),
        (InputError, dict(k=1, target_share=0.5)), (InputError, dict()),
        (InputError, dict(k=1, population="nope")), (InputError, dict(k=1, method="lp")),
    ]
    for err, kw in bad:
        with pytest.raises(err):
            maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, **kw)
    with pytest.raises(ConfigError, match="radius"):
        maximal_cover(net, fac, "kindergarten", 0.0, cand, demand, k=1)
    with pytest.raises(InputError, match="no candidate"):
        maximal_cover(net, fac, "kindergarten", 300.0, cand.iloc[:0], demand, k=1)
    for value in (-1.0, np.nan):
        d = demand.assign(pop=[value, 1.0])
        with pytest.raises(InputError, match="population"):
            maximal_cover(net, fac, "kindergarten", 300.0, cand, d, k=1, population="pop")


def _same_geopackage(a, b):
    """Every layer of two GeoPackages: the same attribute table, exactly (but for the solver's
    time), and the same geometry WKB and feature ids in the same order."""
    names = sorted(str(n) for n in pyogrio.list_layers(a)[:, 0])
    assert names == sorted(str(n) for n in pyogrio.list_layers(b)[:, 0])
    for name in names:
        ta = pyogrio.read_dataframe(a, layer=name, read_geometry=False, fid_as_index=True)
        tb = pyogrio.read_dataframe(b, layer=name, read_geometry=False, fid_as_index=True)
        assert len(ta) > 0, name
        if name == "siting_coverage":  # solver wall-clock time: the one column that may differ
            assert (ta["seconds"] >= 0).all() and (tb["seconds"] >= 0).all()
            ta, tb = ta.drop(columns="seconds"), tb.drop(columns="seconds")
        pd.testing.assert_frame_equal(ta, tb, check_exact=True, obj=name)
        if pyogrio.read_info(a, layer=name)["geometry_type"] is None:
            continue
        ga = pyogrio.raw.read(a, layer=name, return_fids=True, read_geometry=True, columns=[])
        gb = pyogrio.raw.read(b, layer=name, return_fids=True, read_geometry=True, columns=[])
        assert len(ga[2]) == len(gb[2]) == len(ta), name
        assert all(x == y for x, y in zip(ga[2], gb[2], strict=True)), name
        assert np.array_equal(ga[1], gb[1]), name


# --- Taiyuan ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def taiyuan():
    from siteplan.pipeline import run_study

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(DATA / "study.toml")


def test_taiyuan_kindergartens_k1_to_10(taiyuan):
    previous = 0.0
    for k in range(1, 11):
        res = site_study(taiyuan, "kindergarten", k=k, method="both", time_limit_s=60)
        cov = res.coverage.set_index("method")
        g, e = cov.loc["greedy"], cov.loc["exact"]
        assert res.covers["exact"].status == "optimal"
        assert e["objective"] >= g["objective"] - 1e-6
        before = g["covered_before"]
        # Greedy within the 1 - 1/e bound of the optimum (on the uncovered demand).
        assert g["objective"] - before >= BOUND * (e["objective"] - before) - 1e-6
        for row in (g, e):
            assert row["covered_after"] >= row["covered_before"]
            assert row["objective"] == pytest.approx(row["covered_after"], rel=1e-4)
            assert row["covered_after"] + row["unreachable"] <= row["demand_total"] * (1 + 1e-9)
        assert e["objective"] >= previous - 1e-6  # more sites never cover less
        previous = e["objective"]
    # Every residential polygon is split by area: atoms plus nothing else tile the demand.
    assert res.unreachable["area_m2"].sum() == pytest.approx(g["unreachable_m2"])
    assert g["unreachable_m2"] > 0


def test_taiyuan_unknown_class_and_outputs_deterministic(taiyuan, tmp_path):
    with pytest.raises(ConfigError, match="unknown facility class"):
        site_study(taiyuan, "swimming_pool", k=1)
    with pytest.raises(InputError, match="buildings|demand"):
        site_study(taiyuan, "kindergarten", k=1, demand="roads")  # type: ignore[arg-type]
    res = site_study(taiyuan, "kindergarten", k=3, method="both")
    first = write_siting(res, tmp_path / "a", "kg")
    again = write_siting(site_study(taiyuan, "kindergarten", k=3, method="both"),
                         tmp_path / "b", "kg")
    for p, q in zip(first, again, strict=True):
        if p.suffix != ".gpkg":  # GDAL stamps times into the file: compared layer by layer
            assert p.read_bytes() == q.read_bytes()
    _same_geopackage(first[0], again[0])
    csv = first[1].read_bytes()
    assert csv.startswith(b"\xef\xbb\xbf") and b"site_id" in csv
    html = first[2].read_text(encoding="utf-8")
    assert "拟建选址 / Proposed site" in html and "sp-proposed-catchment" in html
    layers = {name for name, _ in pyogrio.list_layers(first[0])}
    assert layers == {"proposed_kindergarten", "proposed_kindergarten_catchments",
                      "siting_coverage", "siting_unreachable"}
    sites = pyogrio.read_dataframe(first[0], layer="proposed_kindergarten")
    assert list(sites["site_id"]) == list(res.sites["site_id"])
    assert len(sites) == 6  # k = 3 by each of the two methods
    table = pyogrio.read_dataframe(first[0], layer="siting_coverage")
    assert list(table["method"]) == ["greedy", "exact"]
    assert (table["share_after"] >= table["share_before"]).all()


def _taiyuan_snaps(taiyuan):
    from siteplan.snapping import snap

    net = taiyuan.network
    res = np.asarray(taiyuan.residential.to_crs(net.crs).geometry.values, dtype=object)
    kg = taiyuan.facilities[taiyuan.facilities["class"].astype(str) == "kindergarten"]
    ex = snap(net, np.asarray(kg.to_crs(net.crs).geometry.values, dtype=object))
    parcels = taiyuan.parcels.to_crs(net.crs)
    cs = snap(net, np.asarray(parcels.geometry.values, dtype=object))
    return net, res, ex, cs, parcels


def test_taiyuan_atoms_pruned_blocked_and_uniform(taiyuan, monkeypatch):
    from siteplan import siting_demand
    from siteplan.catchments import catchments

    net, res, ex, cs, parcels = _taiyuan_snaps(taiyuan)
    ones = np.ones(res.size)
    atoms = siting_demand.build_atoms(net, res, ones, cs, ex, 300.0, 30.0)
    # The atoms tile every demand polygon.
    per = np.bincount(atoms.owner, weights=atoms.area, minlength=res.size)
    assert np.allclose(per, shapely.area(res), rtol=1e-9)
    assert np.allclose(shapely.area(atoms.geometry), atoms.area)
    # Small blocks of demand polygons give the same atoms as one.
    small = siting_demand.build_atoms(net, res, ones, cs, ex, 300.0, 30.0, block_pairs=50)
    assert np.array_equal(small.owner, atoms.owner) and np.allclose(small.area, atoms.area)
    assert (small.cover != atoms.cover).nnz == 0
    # Candidates dropped by the straight-line bound cover nothing: every candidate covers the
    # same demand (area per candidate, and of each pair of candidates) when every candidate
    # is searched on the network.  (Their reach ends cut far parts of the streets near the
    # demand, which may reorder the faces, never change them.)
    assert 0 < atoms.n_near < int(cs.reachable.sum())
    monkeypatch.setattr(siting_demand, "useful_sites", lambda sn, demand, reach: sn.reachable)
    full = siting_demand.build_atoms(net, res, ones, cs, ex, 300.0, 30.0)
    for got in (atoms, full):
        assert got.geometry.size == atoms.geometry.size
    covered = np.asarray(atoms.cover.T @ atoms.area).ravel()
    gap = shapely.distance(shapely.points(np.nan_to_num(cs.origin_xy)), shapely.union_all(res))
    far = cs.reachable & (gap > 330.0 + 1e-6)
    assert far.sum() > 500 and (covered[far] == 0).all() and covered.max() > 0
    assert np.allclose(np.asarray(full.cover.T @ full.area).ravel(), covered, rtol=1e-9)
    pair = (atoms.cover.T @ sparse.diags(atoms.area) @ atoms.cover).toarray()
    assert np.allclose((full.cover.T @ sparse.diags(full.area) @ full.cover).toarray(), pair,
                       rtol=1e-9, atol=1e-6)
    assert atoms.area[atoms.before].sum() == pytest.approx(full.area[full.before].sum(),
                                                           rel=1e-12)
    # Each atom lies wholly inside or wholly outside each catchment (drawn independently by
    # catchments(), whose merged lines round the band differently by millimetres only).
    hits = np.diff(atoms.cover.tocsc().indptr)
    top = np.argsort(-hits, kind="stable")[:25]
    polys = catchments(net, parcels.iloc[top].assign(facility_id=[str(j) for j in top],
                                                      **{"class": "kindergarten"}),
                       {"kindergarten": 300.0}, mode="overlap", frontage_m=30.0)
    zone = {int(f): g for f, g in zip(polys["facility_id"], polys.geometry.values, strict=True)}
    dense = atoms.cover[:, top].toarray() > 0
    big = atoms.area > 20.0
    for col, j in enumerate(top):
        frac = shapely.area(shapely.intersection(atoms.geometry[big], zone[int(j)]))
        frac = frac / atoms.area[big]
        inside = dense[big, col]
        assert inside.sum() > 0
        assert (frac[inside] > 0.95).all() and (frac[~inside] < 0.05).all(), j


def test_no_candidate_near_the_demand(tmp_path):
    net, fac, cand, demand = _street()
    # Only the block 500 m off the street, which no frontage reaches: no candidate is within
    # radius + frontage of it (straight line), none is searched, none is proposed.
    res = maximal_cover(net, fac, "kindergarten", 300.0, cand, demand.iloc[[1]], k=2,
                        method="both")
    assert res.n_candidates_near == 0 and len(res.sites) == 0 and len(res.catchments) == 0
    assert list(res.coverage["status"]) == ["no_gain", "no_gain"]
    assert (res.coverage["covered_after"] == 0).all()
    assert res.coverage["unreachable_m2"].iloc[0] == pytest.approx(100 * 100)
    paths = write_siting(res, tmp_path, "none")
    assert len(pyogrio.read_dataframe(paths[0], layer="siting_coverage")) == 2
    assert len(pyogrio.read_dataframe(paths[0], layer="proposed_kindergarten")) == 0
