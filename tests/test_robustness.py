"""Rank robustness under weight perturbation, checked against ranks worked out by hand.

Two criteria with equal weights, each weight times an independent factor m ~ U(0.75, 1.25):
parcel A rated (100, 0) beats B rated (0, 90) unless 100 m1 < 90 m2.  By hand,
P(m1 < 0.9 m2) = 4 * integral from 5/6 to 1.25 of (0.9 m - 0.75) dm = 0.3125.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from siteplan.scoring.robustness import rank_robustness, study_robustness, weight_draws


def test_probability_of_the_top_against_the_hand_computed_value():
    ratings = np.array([[100.0, 0.0], [0.0, 90.0], [40.0, 40.0]])
    out = rank_robustness(ratings, np.array([1.0, 1.0]), np.zeros(3, bool), ["A", "B", "C"],
                          top_n=1, bound=0.25, draws=20_000, seed=7)
    # 20,000 draws: standard error 0.0033; the seed is fixed, so this never flickers.
    assert out["p_top_1"].iloc[1] == pytest.approx(0.3125, abs=0.012)
    assert out["p_top_1"].iloc[0] + out["p_top_1"].iloc[1] == pytest.approx(1.0)
    # C scores 40 whatever the weights and is never first: max(100 w1, 90 (1 - w1)) >= 47.4.
    assert out["rank_low"].tolist() == [1.0, 1.0, 2.0]


def test_a_clear_leader_and_ties_by_parcel_id():
    ratings = np.array([[100.0, 100.0], [80.0, 90.0], [0.0, 50.0], [0.0, 50.0], [99, 99]])
    excluded = np.array([False, False, False, False, True])
    out = rank_robustness(ratings, np.array([2.0, 1.0]), excluded, ["p1", "p2", "z", "y", "x"],
                          top_n=2, bound=0.25, draws=500, seed=1)
    # No weight within 25 % can reorder these: y and z tie everywhere, y first by id.
    assert out["p_top_2"].tolist()[:4] == [1.0, 1.0, 0.0, 0.0]
    assert out["rank_low"].tolist()[:4] == [1.0, 2.0, 4.0, 3.0]
    assert out["rank_high"].tolist()[:4] == [1.0, 2.0, 4.0, 3.0]
    assert out.iloc[4].isna().all()  # excluded: no rank, no probability


def test_fixed_seed_repeats_exactly_and_the_bound_holds():
    rng = np.random.default_rng(0)
    ratings = rng.uniform(0, 100, size=(200, 4))
    kw = {"top_n": 10, "bound": 0.3, "draws": 300, "seed": 42}
    a = rank_robustness(ratings, np.array([4.0, 3, 2, 1]), np.zeros(200, bool),
                        np.arange(200), **kw)
    b = rank_robustness(ratings, np.array([4.0, 3, 2, 1]), np.zeros(200, bool),
                        np.arange(200), **kw)
    pd.testing.assert_frame_equal(a, b)
    assert a["p_top_10"].sum() == pytest.approx(10.0)  # ten places in every draw
    assert (a["rank_low"] <= a["rank_high"]).all()
    w = weight_draws(np.array([0.4, 0.3, 0.2, 0.1]), 0.3, 300, seed=42)
    ratio = w / np.array([0.4, 0.3, 0.2, 0.1])
    # Relative to each other, two weights move by at most (1.3 / 0.7).
    assert (ratio.max(axis=1) / ratio.min(axis=1)).max() <= 1.3 / 0.7 + 1e-9


def test_no_perturbation_gives_the_study_ranks():
    from siteplan import Study, score_parcels

    study = Study.model_validate({
        "study": {"name": "r"}, "robustness": {"weight_bound": 1e-9, "draws": 10, "top_n": 2},
        "criteria": [
            {"name": "a", "kind": "attribute", "column": "x", "weight": 2,
             "transform": {"type": "linear", "best": 10, "worst": 0}},
            {"name": "b", "kind": "attribute", "column": "y", "weight": 1,
             "transform": {"type": "linear", "best": 10, "worst": 0}}]})
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["p", "q", "r", "s"], "x": [1.0, 9.0, 5.0, 5.0], "y": [9.0, 1.0, 5.0, 5.0]},
        geometry=[box(i, 0, i + 1, 1) for i in range(4)], crs="EPSG:32649")
    scored = score_parcels(parcels, study)
    out = study_robustness(scored, study)
    # Scores: q 63.33, r = s 50 (r first by id), p 36.67.
    assert scored["rank"].tolist() == [4, 1, 2, 3]
    assert out["rank_low"].tolist() == [4.0, 1.0, 2.0, 3.0]
    assert out["p_top_2"].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert list(out.index) == list(scored.index)


def test_robustness_settings_are_checked():
    from siteplan import ConfigError, Study

    with pytest.raises(ConfigError, match="interval"):
        Study.model_validate({"study": {"name": "r"}, "robustness": {"interval": [95, 5]}})
    with pytest.raises(ConfigError, match="weight_bound"):
        Study.model_validate({"study": {"name": "r"}, "robustness": {"weight_bound": 1.5}})


def test_ahp_judgements_varied_one_saaty_step():
    from siteplan.scoring.robustness import saaty_step_draws

    # Judgement 3 : 1 moves to 2, 3 or 4 (a third of the draws each): the first criterion's
    # weight is 2/3, 3/4 or 4/5.  A = (40, 0) against B = (0, 100): at 2/3, A scores 26.7
    # and B 33.3; at 3/4 and 4/5 A wins (30 vs 25, 32 vs 20).  So P(A first) = 2/3.
    w = saaty_step_draws([[1, 3], [1 / 3, 1]], 3000, seed=5)
    first = np.round(w[:, 0], 4)
    assert set(first.tolist()) == {0.6667, 0.75, 0.8}
    out = rank_robustness(np.array([[40.0, 0.0], [0.0, 100.0]]), np.array([0.75, 0.25]),
                          np.zeros(2, bool), ["A", "B"], top_n=1, samples=w)
    assert out["p_top_1"].iloc[0] == pytest.approx((first > 0.7).mean())  # exact, per draw
    assert out["p_top_1"].iloc[0] == pytest.approx(2 / 3, abs=0.03)
    # Nine-to-one stays within the scale: 8 or 9.
    w9 = saaty_step_draws([[1, 9], [1 / 9, 1]], 200, seed=5)
    assert set(np.round(w9[:, 0], 4).tolist()) == {round(8 / 9, 4), 0.9}
    # Three criteria: the weights of every draw are a consistent matrix's eigenvector or near.
    w3 = saaty_step_draws([[1, 2, 4], [1 / 2, 1, 2], [1 / 4, 1 / 2, 1]], 500, seed=5)
    assert np.allclose(w3.sum(axis=1), 1.0) and (w3[:, 0] > w3[:, 2]).all()


def test_saaty_step_needs_an_ahp_matrix():
    from siteplan import ConfigError, Study

    crit = [{"name": "a", "kind": "attribute", "column": "x", "weight": 1,
             "transform": {"type": "linear", "best": 1, "worst": 0}}]
    with pytest.raises(ConfigError, match="saaty_step"):
        Study.model_validate({"study": {"name": "r"}, "criteria": crit,
                              "robustness": {"method": "saaty_step"}})


def test_saaty_step_on_a_study():
    from siteplan import Study, score_parcels

    t = {"type": "linear", "best": 100, "worst": 0}
    study = Study.model_validate({
        "study": {"name": "r"}, "robustness": {"method": "saaty_step", "draws": 600, "top_n": 1},
        "weights": {"method": "ahp", "matrix": [[1, 3], [1 / 3, 1]]},
        "criteria": [{"name": "a", "kind": "attribute", "column": "x", "transform": t},
                     {"name": "b", "kind": "attribute", "column": "y", "transform": t}]})
    parcels = gpd.GeoDataFrame({"parcel_id": ["A", "B"], "x": [40.0, 0.0], "y": [0.0, 100.0]},
                               geometry=[box(i, 0, i + 1, 1) for i in range(2)], crs="EPSG:32649")
    scored = score_parcels(parcels, study)
    out = study_robustness(scored, study)
    assert scored["rank"].tolist() == [1, 2]  # at 3 : 1, A scores 30 and B 25
    assert out["p_top_1"].iloc[0] == pytest.approx(2 / 3, abs=0.06)
    assert out["rank_low"].tolist() == [1.0, 1.0] and out["rank_high"].tolist() == [2.0, 2.0]


def test_popup_shows_the_probability_and_the_rank_interval():
    from siteplan.outputs.maps.style import parcel_popup

    frame = pd.DataFrame({"rank": [1, pd.NA], "score": [70.0, 10.0], "p_top_10": [0.734, np.nan],
                          "rank_low": [1.0, np.nan], "rank_high": [17.0, np.nan],
                          "_excluded": [False, True]})
    head, cols = parcel_popup(frame, [])
    rows = {h["l"]: cols[h["k"]] for h in head if "l" in h}
    assert list(rows["进入前10名的概率 (权重扰动) / Probability of the top 10 (weights varied)"]) \
        == ["73 %", None]
    assert list(rows["排名区间 (5-95 %) / Rank interval (5-95 % of the draws)"]) == ["1 – 17", None]
    assert any("排名稳健性" in h.get("s", "") for h in head)


def _full_ranks(ratings, w):
    """The plain reference: ``(N, D)`` ranks, one stable sort per draw (ties in row order)."""
    order = np.argsort(-(ratings @ w.T), axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, order.shape[0] + 1)[:, None], axis=0)
    return ranks


@pytest.mark.parametrize(("n", "k", "draws", "interval"),
                         [(500, 4, 1000, (5, 95)), (37, 3, 17, (10, 90)),
                          (200, 5, 300, (0, 100)), (50, 2, 999, (25, 75))])
def test_streamed_interval_equals_the_full_rank_matrix(monkeypatch, n, k, draws, interval):
    """Blocks of draws with partial sorts give numpy's percentiles of the whole rank matrix."""
    from siteplan.scoring import robustness

    rng = np.random.default_rng(3)
    ratings = rng.random((n, k))
    ratings[::7] = ratings[3]  # ties
    wd = robustness.weight_draws(np.ones(k) / k, 0.3, draws, seed=1)
    monkeypatch.setattr(robustness, "BLOCK_CELLS", 997)  # many small blocks
    p_top, low, high = robustness._streamed(ratings, wd, 10, interval)
    full = _full_ranks(ratings, wd)
    want_low, want_high = np.percentile(full, interval, axis=1, method="nearest")
    assert np.array_equal(low, want_low) and np.array_equal(high, want_high)
    assert np.array_equal(p_top, (full <= 10).mean(axis=1))


@pytest.mark.parametrize(("block_cells", "spare", "chunk"),
                         [(1, 1, 7), (997, 3, 50), (50_000, 64, 16_384)])
def test_rank_robustness_equals_the_full_rank_matrix_with_many_ties(monkeypatch, block_cells,
                                                                     spare, chunk):
    """Discrete ratings tie most parcels; ids in an order unlike the rows; excluded rows."""
    from siteplan.scoring import robustness

    rng = np.random.default_rng(11)
    n, draws, interval = 400, 120, (5.0, 95.0)
    ratings = np.column_stack([rng.integers(0, 5, (n, 3)) * 25.0,  # step ratings: ties
                               np.where(rng.random(n) < 0.7, 100.0, rng.uniform(0, 100, n))])
    ratings[rng.random(n) < 0.1, 3] = np.nan  # NaN rates 0
    excluded = rng.random(n) < 0.2
    ids = rng.permutation(np.arange(n) * 7 + 3)  # as text: "1003" < "115" < "31"
    wd = robustness.weight_draws(np.array([4.0, 3, 2, 1]) / 10, 0.25, draws, seed=2)
    monkeypatch.setattr(robustness, "BLOCK_CELLS", block_cells)
    monkeypatch.setattr(robustness, "SPARE", spare)
    monkeypatch.setattr(robustness, "CHUNK", chunk)
    out = robustness.rank_robustness(ratings, np.ones(4), excluded, ids, top_n=25,
                                     samples=wd, interval=interval)
    keep = np.flatnonzero(~excluded)
    keep = keep[np.argsort(ids[keep].astype(str), kind="stable")]
    full = _full_ranks(np.nan_to_num(ratings)[keep], wd)
    scores = np.nan_to_num(ratings)[keep] @ wd[:1].T
    assert len(np.unique(scores[:, 0])) < 0.7 * len(keep)  # a third of the parcels tie
    want_low, want_high = np.percentile(full, interval, axis=1, method="nearest")
    got = out.to_numpy()
    assert np.array_equal(got[keep, 0], (full <= 25).mean(axis=1))
    assert np.array_equal(got[keep, 1], want_low) and np.array_equal(got[keep, 2], want_high)
    assert np.isnan(got[excluded]).all()


def test_order_equals_the_stable_argsort_with_near_ties():
    """Exact ties, values one ulp apart (same high key bits), -0.0 and 0.0, tiny values."""
    from siteplan.scoring.robustness import _order

    rng = np.random.default_rng(5)
    base = rng.choice([-75.0, -50.0, -12.5, -1e-300, 0.0, -0.0, 3.0], 3000)
    ulps = rng.integers(-3, 4, 3000)
    seq = np.arange(3000, dtype=np.uint64)
    for v in (base, base + 0.0, np.nextafter(base, base + ulps), -rng.random(3000)):
        assert np.array_equal(_order(v, seq), np.argsort(v, kind="stable"))
    with_nan = base.copy()
    with_nan[::10] = np.nan
    assert np.array_equal(_order(with_nan, seq), np.argsort(with_nan, kind="stable"))


def test_small_cases_equal_the_full_rank_matrix():
    """One parcel, one draw, more places than parcels, the 0-100 interval: the plain reference."""
    from siteplan.scoring import robustness

    rng = np.random.default_rng(8)
    for n, draws, interval in [(1, 1, (5, 95)), (1, 7, (0, 100)), (2, 1, (0, 100)),
                               (3, 40, (50, 50)), (6, 2, (5, 95)), (9, 30, (100, 100))]:
        ratings = rng.integers(0, 3, (n, 2)) * 50.0
        wd = robustness.weight_draws(np.array([0.6, 0.4]), 0.5, draws, seed=n)
        p_top, low, high = robustness._streamed(ratings, wd, 4, interval)
        full = _full_ranks(ratings, wd)
        want_low, want_high = np.percentile(full, interval, axis=1, method="nearest")
        assert np.array_equal(low, want_low) and np.array_equal(high, want_high)
        assert np.array_equal(p_top, (full <= 4).mean(axis=1))


def test_scores_round_as_the_parcels_by_draws_product():
    """The reference's ``(parcels, draws)`` product; ``(draws, parcels)`` rounds some scores
    differently (BLAS), which reorders near-ties (here 84 ranks of 300,000 would move)."""
    from siteplan.scoring import robustness

    rng = np.random.default_rng(2)
    n = 1500
    node = rng.integers(0, n // 3, n)  # parcels on one street node share their distances
    ratings = np.column_stack([
        np.clip(rng.normal(60, 50, (n // 3 + 1, 5)), 0, 100)[node],
        (rng.integers(0, 5, (n // 3 + 1, 4)) * 25.0)[node], rng.integers(0, 3, (n, 2)) * 50.0])
    wd = robustness.weight_draws(rng.uniform(1, 5, 11), 0.25, 200, seed=2)
    p_top, low, high = robustness._streamed(ratings, wd, 100, (10.0, 90.0))
    full = _full_ranks(ratings, wd)
    want_low, want_high = np.percentile(full, (10.0, 90.0), axis=1, method="nearest")
    assert np.array_equal(low, want_low) and np.array_equal(high, want_high)
    assert np.array_equal(p_top, (full <= 100).mean(axis=1))
