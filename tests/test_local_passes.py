"""Per-facility passes on local subgraphs give exactly the full-network distances.

:func:`siteplan.network.paths.bounded_from_each` searches each block of facilities on the subgraph of the
nodes within the radius, as the crow flies, of their points.  The reference here is one plain
``csgraph.dijkstra`` per facility over the *whole* augmented network, on the real Taiyuan
network, with facilities near its border (where the discs leave the network) and far off the
streets (long access legs).
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy.sparse import csgraph

from siteplan.access.distances import reach_pairs
from siteplan.network.paths import augmented_csr, bounded_from_each, morton_order
from siteplan.network.snapping import snap

RADIUS = 700.0


@pytest.fixture(scope="module")
def case(taiyuan_network):
    net = taiyuan_network
    rng = np.random.default_rng(21)
    xy = net.node_xy
    # The outermost nodes: outside the 2-98 % quantile box of the network.
    lo, hi = np.quantile(xy, 0.02, axis=0), np.quantile(xy, 0.98, axis=0)
    near_border = ((xy[:, 0] < lo[0]) | (xy[:, 0] > hi[0]) | (xy[:, 1] < lo[1])
                   | (xy[:, 1] > hi[1]))
    border = xy[near_border]
    fac = np.concatenate([
        border[rng.choice(len(border), 40, replace=False)] + rng.normal(0, 60, (40, 2)),
        xy[rng.choice(len(xy), 40, replace=False)] + rng.normal(0, 150, (40, 2)),
    ])
    tgt = xy[rng.choice(len(xy), 1500)] + rng.normal(0, 90, (1500, 2))
    sources = snap(net, shapely.points(fac))
    targets = snap(net, shapely.points(tgt))
    assert near_border.sum() > 100 and sources.reachable.sum() > 60
    # The reference: a full-network pass from every source (an S x N matrix; fine here).
    graph, rows = augmented_csr(net, sources)
    full = csgraph.dijkstra(graph, directed=True, indices=net.n_nodes + np.arange(rows.size),
                            limit=RADIUS)[:, :net.n_nodes]
    return net, sources, targets, rows, full


@pytest.mark.parametrize(("chunk", "budget"), [(64, 256 * 2**20), (7, 256 * 2**20), (64, 2**15)])
def test_local_passes_equal_full_network_passes(case, chunk, budget):
    net, sources, _, rows, full = case
    got = np.full_like(full, np.inf)
    position = {int(r): k for k, r in enumerate(rows)}
    seen = []
    for src, nodes, d in bounded_from_each(net, sources, RADIUS, budget_bytes=budget,
                                           chunk=chunk):
        assert d.shape == (src.size, nodes.size) and np.all(np.diff(nodes) > 0)
        assert src.size <= chunk and (src.size == 1 or 8 * src.size * (nodes.size + src.size)
                                      <= budget)
        idx = [position[int(s)] for s in src]
        got[np.ix_(idx, nodes)] = d
        seen.extend(src.tolist())
    assert sorted(seen) == rows.tolist()  # every reachable source exactly once
    assert np.array_equal(np.isfinite(got), np.isfinite(full))
    assert np.array_equal(got[np.isfinite(full)], full[np.isfinite(full)])  # bit for bit
    assert np.isfinite(full).sum() > 10 * len(rows)


def test_reach_pairs_match_full_network_passes(case):
    net, sources, targets, rows, full = case
    pairs = reach_pairs(net, targets, sources, RADIUS).toarray()
    # By hand: best of the target edge's two ends, or straight along a shared edge.
    ok = np.flatnonzero(targets.reachable)
    e, off, acc = targets.edge[ok], targets.offset_m[ok], targets.access_m[ok]
    via = np.minimum(full[:, net.edge_u[e]] + off,
                     full[:, net.edge_v[e]] + (net.edge_length[e] - off)) + acc
    same = sources.edge[rows][:, None] == e[None, :]
    direct = (sources.access_m[rows][:, None] + np.abs(sources.offset_m[rows][:, None]
                                                       - off[None, :]) + acc[None, :])
    best = np.where(same, np.minimum(via, direct), via)
    expected = np.zeros((len(sources), len(targets)))
    expected[np.ix_(rows, ok)] = np.where(best <= RADIUS, np.maximum(best, 1e-9), 0.0)
    assert same.any() and (expected > 0).sum() > 300
    assert np.array_equal(pairs, expected)


def test_morton_order_keeps_neighbours_together():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 10_000, (4096, 2))
    order = morton_order(xy)
    assert sorted(order.tolist()) == list(range(4096))
    step = np.hypot(*np.diff(xy[order], axis=0).T)
    shuffled = np.hypot(*np.diff(xy, axis=0).T)
    # Consecutive points along the curve are far closer than in random order.
    assert np.median(step) < np.median(shuffled) / 10
    assert morton_order(np.empty((0, 2))).size == 0
