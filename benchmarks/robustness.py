"""Rank robustness at province size: the previous implementation against the current one.

Run: .venv/bin/python benchmarks/robustness.py [--parcels 200000] [--draws 1000] [--only-new]
(about 40 s with the old one on 2 cores).  Synthetic ratings: 11 criteria, 5 continuous (linear
transforms of normal values, clipped at 0 and 100) and 6 step ratings (0, 25, ..., 100 or 0, 50,
100); parcels on one street node (3 on average) share the continuous and 4 step ratings, so
many tie exactly; 25 % excluded; ids are text in an order unlike the rows.
Both run on the same data in one process; the script checks the outputs are equal, bit for bit.
"""
import argparse
import os
import time

import numpy as np
import pandas as pd

from siteplan.scoring import robustness


# The peer: siteplan.scoring.robustness before the (draws, parcels) rewrite (commit eb182fc), a
# stable sort per draw along axis 0 of (parcels, draws) and partial sorts of each block.
def old_ranks(ratings, w):
    scores = ratings @ w.T  # (N, D)
    order = np.argsort(-scores, axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, order.shape[0] + 1)[:, None], axis=0)
    return ranks


def old_keep(ranks, k, *, smallest):
    if ranks.shape[1] <= k:
        return ranks
    if smallest:
        return np.partition(ranks, k - 1, axis=1)[:, :k]
    return np.partition(ranks, ranks.shape[1] - k, axis=1)[:, -k:]


def old_streamed(sub, wd, top_n, interval):
    draws = wd.shape[0]
    at = np.around(np.asarray(interval, dtype=float) / 100.0 * (draws - 1)).astype(int)
    k_low, k_high = int(at[0]) + 1, draws - int(at[1])
    block = max(1, robustness.BLOCK_CELLS // len(sub))
    in_top = np.zeros(len(sub), dtype=np.int64)
    small = np.empty((len(sub), 0), dtype=np.int32)
    large = np.empty((len(sub), 0), dtype=np.int32)
    for start in range(0, draws, block):
        ranks = old_ranks(sub, wd[start:start + block]).astype(np.int32)
        in_top += (ranks <= top_n).sum(axis=1)
        small = old_keep(np.concatenate([small, ranks], axis=1), k_low, smallest=True)
        large = old_keep(np.concatenate([large, ranks], axis=1), k_high, smallest=False)
    return in_top / draws, small.max(axis=1).astype(float), large.min(axis=1).astype(float)


def old_rank_robustness(ratings, weights, excluded, parcel_id, *, top_n, draws, seed, interval):
    r = np.nan_to_num(np.asarray(ratings, dtype=float), nan=0.0)
    ids = np.asarray(parcel_id).astype(str)
    pos = np.flatnonzero(~np.asarray(excluded, dtype=bool))
    pos = pos[np.argsort(ids[pos], kind="stable")]
    wd = robustness.weight_draws(np.asarray(weights, dtype=float), 0.25, draws, seed)
    out = np.full((len(r), 3), np.nan)
    p, lo, hi = old_streamed(r[pos], wd, top_n, interval)
    out[pos, 0], out[pos, 1], out[pos, 2] = p, lo, hi
    return pd.DataFrame(out, columns=[f"p_top_{top_n}", "rank_low", "rank_high"])


def synthetic(n, seed=0):
    rng = np.random.default_rng(seed)
    # Parcels snapped to one street node share its distances: 3 parcels a node on average.
    node = rng.integers(0, max(1, n // 3), n)
    cont = np.clip(rng.normal(60, 50, (n // 3 + 1, 5)), 0, 100)[node]  # 21 % at 100, 12 % at 0
    step = np.column_stack([(rng.integers(0, 5, (n // 3 + 1, 4)) * 25.0)[node],
                            rng.integers(0, 3, (n, 2)) * 50.0])
    ratings = np.column_stack([cont, step])
    excluded = rng.random(n) < 0.25
    ids = np.array([f"P{v}" for v in rng.permutation(n) * 3 + 7])
    weights = rng.uniform(1, 5, 11)
    return ratings, weights, excluded, ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parcels", type=int, default=200_000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--top-n", type=int, default=20)
    ap.add_argument("--only-new", action="store_true")
    a = ap.parse_args()
    ratings, weights, excluded, ids = synthetic(a.parcels)
    kw = {"top_n": a.top_n, "draws": a.draws, "seed": 19, "interval": (5.0, 95.0)}
    n_ranked = int((~excluded).sum())
    first = np.sort(ratings[~excluded] @ (weights / weights.sum()))
    tied = np.zeros(n_ranked, dtype=bool)
    tied[1:] = first[1:] == first[:-1]
    tied[:-1] |= tied[1:].copy()
    print(f"{a.parcels:,} parcels ({n_ranked:,} ranked), 11 criteria (6 step ratings), "
          f"{a.draws} draws, {tied.sum():,} parcels in exact ties at the study's weights; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    t, c = time.perf_counter(), time.process_time()
    new = robustness.rank_robustness(ratings, weights, excluded, ids, bound=0.25, **kw)
    t_new = time.perf_counter() - t
    print(f"new  {t_new:7.2f} s   (CPU {time.process_time() - c:.2f} s, both threads)")
    if a.only_new:
        return
    t, c = time.perf_counter(), time.process_time()
    old = old_rank_robustness(ratings, weights, excluded, ids, **kw)
    t_old = time.perf_counter() - t
    print(f"old  {t_old:7.2f} s   (CPU {time.process_time() - c:.2f} s)   ratio old / new "
          f"{t_old / t_new:.1f}x")
    same = all(np.array_equal(old[c].to_numpy(), new[c].to_numpy(), equal_nan=True)
               for c in old.columns)
    print(f"outputs bit-identical: {same}; load average at the end "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
