"""Gap filling (maximal covering): solvers against brute force, atoms against exact areas,
Taiyuan kindergartens, bad input, determinism."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from scipy import sparse
from shapely.geometry import LineString, box

from siteplan.core.errors import ConfigError, InputError, SiteplanWarning
from siteplan.network.build import graph_from_lines
from siteplan.outputs.siting import write_siting
from siteplan.siting.cover import maximal_cover
from siteplan.siting.solvers import exact_cover, greedy_cover, merge_atoms, prune_components
from siteplan.siting.study import check_request, node_candidates, site_study
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


def test_greedy_never_proposes_a_site_that_adds_only_rounding():
    # After site 0, site 2's running gain is 0.6 - 0.1 - 0.2 - 0.3: rounding residue, not 0.
    a = np.zeros((4, 3), dtype=bool)
    a[[0, 1, 3], 0] = a[2, 1] = a[[0, 1, 2], 2] = True
    w = np.array([0.1, 0.2, 0.3, 10.0])
    g = greedy_cover(a, w, k=3)
    assert list(g.sites) == [0, 1] and (g.gains > 0).all()
    assert g.objective == pytest.approx(w.sum())
    assert greedy_cover(a, w, target=w.sum()).sites.size == 2


def test_stored_zeros_cover_nothing_and_the_input_matrix_is_untouched():
    # Candidate 0 stores an explicit 0 for atom 1 (weight 5): it covers atom 0 only.
    a = sparse.csr_matrix((np.array([2.0, 0.0, 3.0]), np.array([0, 0, 1]),
                           np.array([0, 1, 2, 3])), shape=(3, 2))
    a_csc = a.tocsc()
    w = np.array([1.0, 5.0, 4.0])
    for m in (a, a_csc):
        data, indices = m.data.copy(), m.indices.copy()
        for cov in (greedy_cover(m, w, k=1), exact_cover(m, w, k=1)):
            assert list(cov.sites) == [1] and cov.objective == pytest.approx(4.0)
        both = greedy_cover(m, w, k=2)
        assert both.objective == pytest.approx(5.0)  # atom 1 stays uncovered
        assert np.array_equal(m.data, data) and np.array_equal(m.indices, indices)
        merged, mw = merge_atoms(m, w)
        assert mw.sum() == pytest.approx(5.0) and np.array_equal(m.data, data)


def test_target_mode_bound_and_gap_count_sites():
    a = np.eye(4, dtype=bool)
    w = np.array([4.0, 3.0, 2.0, 1.0])
    for cov in (greedy_cover(a, w, target=8.5), exact_cover(a, w, target=8.5)):
        # Three sites are needed (4 + 3 < 8.5): the bound is 3 sites and the gap 0.
        assert cov.unit == "sites" and cov.sites.size == 3
        assert cov.bound == 3.0 and cov.gap == 0.0
    assert greedy_cover(a, w, k=2).unit == "weight"


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
    """The street-frontage measure: land covered by area of intersection."""
    net, fac, cand, demand = _street()
    # A second kindergarten at x = 600, and a candidate "a0450" whose catchment (x 150-750)
    # lies inside the existing ones: it covers as much street as b1200 and has the lowest id,
    # so it would win if existing coverage were not subtracted.
    fac = pd.concat([fac, gpd.GeoDataFrame({"facility_id": ["k2"], "class": ["kindergarten"]},
                                           geometry=shapely.points([[600, 0]]), crs=CRS)])
    cand = pd.concat([cand, gpd.GeoDataFrame({"site_id": ["a0450"]},
                                             geometry=shapely.points([[450, 0]]), crs=CRS)])
    res = maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, k=1, method="both",
                        measure="frontage")
    before = _band(0, 900).area
    for method in ("greedy", "exact"):
        row = res.coverage.set_index("method").loc[method]
        assert row["demand_total"] == pytest.approx(2000 * 20 + 100 * 100)
        assert row["covered_before"] == pytest.approx(before, rel=2e-3)
        after = _band(0, 1500).area
        assert row["covered_after"] == pytest.approx(after, rel=2e-3)
        # The optimiser's atoms give the same figure as the exact overlay.
        assert row["objective"] == pytest.approx(row["covered_after"], rel=1e-6)
        # The far block is reported, never dropped.
        assert row["unreachable_m2"] == pytest.approx(100 * 100)
    # The middle site is best; of the two there, the lower id wins.
    assert list(res.sites["site_id"]) == ["b1200", "b1200"]
    assert list(res.coverage["bound_unit"]) == ["weight", "weight"]
    assert list(res.unreachable["area_m2"]) == pytest.approx([10000.0])
    assert res.unreachable.geometry.iloc[0].symmetric_difference(
        box(0, 500, 100, 600)).area < 1e-6
    full = maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, k=3, method="exact",
                         measure="frontage")
    assert full.coverage["covered_after"].iloc[0] == pytest.approx(2000 * 20, rel=1e-9)
    assert full.coverage["share_after"].iloc[0] == pytest.approx(40000 / 50000, rel=1e-9)
    assert list(full.sites["site_id"]) == ["b1200", "c1800"]  # a0450 and c600 add nothing


def test_population_spread_by_area_of_intersection():
    net, fac, cand, demand = _street()
    res = maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, k=1, population="pop",
                        measure="frontage")
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
    for kw in (dict(k=1), dict(target_share=0.5)):
        with pytest.raises(InputError, match="weighs nothing"):
            maximal_cover(net, fac, "kindergarten", 300.0, cand, demand.assign(pop=0.0),
                          population="pop", **kw)
    with pytest.raises(InputError, match="time limit"):
        maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, k=1, time_limit_s=0)


def test_target_already_met_proposes_nothing_and_writes_empty_outputs(tmp_path):
    net, fac, cand, demand = _street()
    res = maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, target_share=0.01,
                        method="both")
    assert len(res.sites) == 0 and len(res.catchments) == 0
    assert list(res.coverage["status"]) == ["target_met", "target_met"]
    assert (res.coverage["k"] == 0).all() and (res.coverage["gap"] == 0).all()
    assert list(res.coverage["bound_unit"]) == ["sites", "sites"]
    assert (res.coverage["covered_after"] == res.coverage["covered_before"]).all()
    assert res.coverage["share_before"].iloc[0] >= 0.01
    paths = write_siting(res, tmp_path, "met")
    assert [p.name for p in paths] == ["met.gpkg", "met_sites.csv"]
    assert len(pyogrio.read_dataframe(paths[0], layer="proposed_kindergarten")) == 0
    assert len(pyogrio.read_dataframe(paths[0], layer="siting_coverage")) == 2
    assert b"site_id" in paths[1].read_bytes()


def test_target_mode_coverage_reports_sites():
    net, fac, cand, demand = _street()
    res = maximal_cover(net, fac, "kindergarten", 300.0, cand, demand, target_share=0.6,
                        method="both", measure="frontage")
    for row in res.coverage.to_dict("records"):
        # 0.6 of 50000 m² is 30000, 23400 more than the existing 6600 (330 m of the 20 m
        # strip): 1170 m of strip, more than one site's 660 m, and b1200 + c600 reach 1200 m.
        assert row["k"] == 2 and row["bound_unit"] == "sites"
        assert row["bound"] == 2 and row["gap"] == 0


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

    # One Taiyuan polygon is invalid as mapped: the run repairs it and says so.
    with pytest.warns(SiteplanWarning, match="repaired 1 invalid geometry"):
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


# The tests have no Tianditu key: the siting map leaves those basemaps out and says so.
@pytest.mark.filterwarnings("ignore:no Tianditu key:siteplan.core.errors.SiteplanWarning")
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
    from siteplan.network.snapping import snap

    net = taiyuan.network
    res = np.asarray(taiyuan.residential.to_crs(net.crs).geometry.values, dtype=object)
    kg = taiyuan.facilities[taiyuan.facilities["class"].astype(str) == "kindergarten"]
    ex = snap(net, np.asarray(kg.to_crs(net.crs).geometry.values, dtype=object))
    parcels = taiyuan.parcels.to_crs(net.crs)
    cs = snap(net, np.asarray(parcels.geometry.values, dtype=object))
    return net, res, ex, cs, parcels


def test_taiyuan_atoms_pruned_blocked_and_uniform(taiyuan, monkeypatch):
    from siteplan.access.catchments import catchments
    from siteplan.siting import demand as siting_demand

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


def test_check_request_before_the_run(taiyuan):
    study = taiyuan.study
    expect = study.class_radius("kindergarten") or 300.0
    assert check_request(study, "kindergarten", k=3) == expect
    assert check_request(study, "primary_school", target_share=0.8, method="exact",
                         time_limit_s=5, stem="gaps_2024") > expect
    bad = [
        (ConfigError, "unknown facility class", dict(cls="swimming_pool", k=1)),
        (InputError, "k must", dict(k=0)), (InputError, "target share", dict(target_share=1.5)),
        (InputError, "either k", dict(k=1, target_share=0.5)), (InputError, "either k", dict()),
        (InputError, "unknown method", dict(k=1, method="lp")),
        (InputError, "time limit", dict(k=1, time_limit_s=-1.0)),
        (InputError, "stem", dict(k=1, stem="")), (InputError, "stem", dict(k=1, stem="../x")),
        (InputError, "stem", dict(k=1, stem="out/x")),
        (InputError, "stem", dict(k=1, stem="out\\x")),
    ]
    for err, needle, kw in bad:
        with pytest.raises(err, match=needle) as info:
            check_request(study, kw.pop("cls", "kindergarten"), **kw)
        assert info.value.where and info.value.fix


def test_write_siting_never_overwrites_a_study_input(taiyuan, tmp_path):
    import dataclasses
    from pathlib import Path

    res = site_study(taiyuan, "kindergarten", k=1)
    given = {Path(p).resolve() for p in res.inputs}
    assert (DATA / "parcels.gpkg").resolve() in given and (DATA / "study.toml").resolve() in given
    # The same refusal on a copy of the parcels file, so a regression cannot clobber the data.
    copy = tmp_path / "parcels.gpkg"
    copy.write_bytes((DATA / "parcels.gpkg").read_bytes())
    before = copy.read_bytes()
    with pytest.raises(InputError, match="same as an input"):
        write_siting(dataclasses.replace(res, inputs=[str(copy)]), tmp_path, "parcels")
    assert copy.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parcels.gpkg"]  # nothing written
    for stem in ("", "  ", "../up", "sub/x", "sub\\x"):
        with pytest.raises(InputError, match="stem"):
            write_siting(res, tmp_path / "out", stem)
    assert not (tmp_path / "up.gpkg").exists() and not (tmp_path / "out").exists()


def test_excluded_parcels_shown_or_skipped(taiyuan):
    parcels = taiyuan.parcels.set_index("parcel_id")
    res = site_study(taiyuan, "kindergarten", k=10)
    sites = res.sites.set_index("site_id")
    assert {"excluded", "exclusion_reason", "exclusion_reason_zh"} <= set(res.sites.columns)
    assert list(sites["excluded"]) == list(parcels.loc[sites.index, "excluded"])
    assert list(sites["exclusion_reason"]) == list(parcels.loc[sites.index, "exclusion_reason"])
    assert sites["excluded"].any()  # some of the best sites are parcels the study excludes
    from siteplan.siting.study import sites_table

    assert "exclusion_reason" in sites_table(res).columns
    kept = site_study(taiyuan, "kindergarten", k=10, skip_excluded=True)
    assert len(kept.sites) == 10 and not kept.sites["excluded"].any()
    assert not parcels.loc[kept.sites["site_id"], "excluded"].any()
    # Fewer candidates never cover more.
    assert kept.coverage["covered_after"].iloc[0] <= res.coverage["covered_after"].iloc[0] + 1e-6


def _exact_after(taiyuan, res, layer):
    """Demand area inside the existing kindergarten catchments or the new ones, by overlay."""
    net = taiyuan.network
    demand = shapely.union_all(np.asarray(layer.to_crs(net.crs).geometry.values))
    old = taiyuan.catchments[taiyuan.catchments["class"].astype(str) == "kindergarten"]
    zone = shapely.union_all(np.r_[np.asarray(old.to_crs(net.crs).geometry.values),
                                   np.asarray(res.catchments.geometry.values)])
    return float(shapely.area(shapely.intersection(demand, zone))), float(shapely.area(demand))


def test_other_demand_layers_and_candidates(taiyuan):
    net = taiyuan.network
    nodes = node_candidates(net)
    assert list(nodes["site_id"][:2]) == ["node_0000", "node_0001"]
    assert nodes["site_id"].iloc[-1] == f"node_{net.n_nodes - 1}" and nodes["site_id"].is_unique
    # A user layer: every 7th node, renamed (every 50th on the parcels, which tile the whole
    # area: with every node as a candidate their atoms take minutes).
    user = nodes.iloc[::7].assign(site_id=lambda d: "u" + d["site_id"].str[5:])
    sparse_user = nodes.iloc[::50].assign(site_id=lambda d: "u" + d["site_id"].str[5:])
    cases = [("parcels", sparse_user, set(sparse_user["site_id"])),
             ("buildings", user, set(user["site_id"])), ("residential", "nodes", None)]
    for dem, cand, ids in cases:
        res = site_study(taiyuan, "kindergarten", k=2, candidates=cand, demand=dem,
                         measure="frontage")
        row = res.coverage.iloc[0]
        layer = {"parcels": taiyuan.parcels, "buildings": taiyuan.buildings,
                 "residential": taiyuan.residential}[dem]
        after, total = _exact_after(taiyuan, res, layer)
        assert len(res.sites) == 2 and row["covered_after"] > row["covered_before"], dem
        assert row["demand_total"] == pytest.approx(total, rel=1e-9), dem
        assert row["covered_after"] == pytest.approx(after, rel=2e-3), dem
        assert row["objective"] == pytest.approx(row["covered_after"], rel=1e-4), dem
        if ids is not None:
            assert set(res.sites["site_id"]) <= ids


# --- served units: the coverage report's own measure -------------------------------------------

def _estates():
    """Five estates north of the street of :func:`_street` (100 m wide, from x = 100, 500,
    900, 1300, 1700), with residents; a 小区 mapped as a point far south; the first estate's
    gate is 110 m from the kindergarten at the west end."""
    return gpd.GeoDataFrame(
        {"residents": [100.0, 200.0, 300.0, 400.0, 500.0, 50.0]},
        geometry=[*(box(x, 10, x + 100, 110) for x in (100, 500, 900, 1300, 1700)),
                  shapely.Point(1000, -900)], crs=CRS)


def test_units_known_answer_weighted_by_residents():
    net, fac, cand, _ = _street()
    res = maximal_cover(net, fac, "kindergarten", 300.0, cand, _estates(), k=2,
                        population="residents", method="both")
    for row in res.coverage.to_dict("records"):
        assert row["measure"] == "units" and row["weight"] == "residents"
        assert row["demand_total"] == 1550.0 and row["covered_before"] == 100.0
        # c1800 serves the 1700 estate (500) only; b1200 the 900 and 1300 ones (700); c600
        # the 500 one (200): the best pair is b1200 + c1800.
        assert row["covered_after"] == 1300.0 and row["objective"] == 1300.0
        assert (row["n_units"], row["n_served_before"], row["n_served_after"]) == (6, 1, 4)
        assert row["unreachable"] == 50.0  # the point 900 m off the street: nobody serves it
    assert sorted(res.sites.loc[res.sites["method"] == "exact", "site_id"]) == ["b1200", "c1800"]
    assert list(res.unreachable["demand_id"]) == ["5"]
    # A target share: the fewest sites to serve half the residents (775): b1200 alone.
    target = maximal_cover(net, fac, "kindergarten", 300.0, cand, _estates(),
                           target_share=0.5, population="residents", method="exact")
    assert list(target.sites["site_id"]) == ["b1200"]
    assert target.coverage["share_after"].iloc[0] == pytest.approx(800 / 1550)


def test_taiyuan_siting_starts_from_the_coverage_report(taiyuan):
    res = site_study(taiyuan, "kindergarten", k=5, method="both")
    report = taiyuan.coverage.set_index("class").loc["kindergarten"]
    for row in res.coverage.to_dict("records"):
        assert row["weight"] == "residents" and row["measure"] == "units"
        # The same units, residents and served state as the coverage report.
        assert row["demand_total"] == pytest.approx(report["residents"], rel=1e-12)
        assert row["share_before"] == pytest.approx(report["residents_served_share"], rel=1e-12)
        assert row["n_served_before"] == report["n_units_served"]
        # The optimiser's atoms and the independent nearest-facility pass agree.
        assert row["objective"] == pytest.approx(row["covered_after"], rel=1e-12)
        assert row["n_served_after"] > row["n_served_before"]
