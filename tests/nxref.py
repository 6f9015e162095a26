"""An independent reference for the distance engine: plain networkx on split edges.

Everything here is deliberately simple Python (brute-force nearest edge, edges split one by one,
networkx Dijkstra), sharing nothing with siteplan's snapping or CSR code beyond the network's
edge list, so that agreement between the two is evidence, not an echo.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
import numpy as np
import shapely
from shapely.ops import substring


def nearest_edges(net, points: np.ndarray, max_snap_m: float):
    """Brute force: for each point (or polygon: its nearest boundary point), (edge, offset
    along edge, access leg) or None if too far."""
    out = []
    geoms = net.edge_geometry
    for p in points:
        d = shapely.distance(p, geoms)
        e = int(np.argmin(d))
        if d[e] > max_snap_m:
            out.append(None)
            continue
        on_edge = shapely.get_point(shapely.shortest_line(p, geoms[e]), 1)
        out.append((e, float(shapely.line_locate_point(geoms[e], on_edge)), float(d[e])))
    return out


def build_graph(net, features: dict[str, tuple[int, float, float] | None]) -> nx.MultiGraph:
    """The network with every edge split at its features' snap points, plus access legs.

    ``features`` maps a feature key to ``(edge, offset, access)``; the feature becomes a node
    ``("f", key)`` joined by its access leg to a pseudo-node on the edge.
    """
    g = nx.MultiGraph()
    g.add_nodes_from(range(net.n_nodes))
    on_edge: dict[int, list[tuple[float, str, float]]] = defaultdict(list)
    for key, snap in features.items():
        if snap is not None:
            e, off, acc = snap
            on_edge[e].append((off, key, acc))
    for e in range(net.n_edges):
        u, v = int(net.edge_u[e]), int(net.edge_v[e])
        length = float(net.edge_geometry[e].length)
        stops = sorted(on_edge.get(e, []))
        prev_node, prev_off = u, 0.0
        for off, key, acc in stops:
            pseudo = ("p", key)
            g.add_edge(prev_node, pseudo, weight=off - prev_off)
            g.add_edge(pseudo, ("f", key), weight=acc)
            prev_node, prev_off = pseudo, off
        g.add_edge(prev_node, v, weight=length - prev_off)
    return g


def reached_lines(net, dist: dict, snap: tuple[int, float, float], radius: float):
    """Street pieces within ``radius`` of one facility, from networkx node distances."""
    pieces = []
    e0, off0, acc0 = snap
    for e in range(net.n_edges):
        geom = net.edge_geometry[e]
        length = geom.length
        du = dist.get(int(net.edge_u[e]), np.inf)
        dv = dist.get(int(net.edge_v[e]), np.inf)
        spans = []
        if du <= radius:
            spans.append((0.0, min(length, radius - du)))
        if dv <= radius:
            spans.append((max(0.0, length - (radius - dv)), length))
        if e == e0 and acc0 <= radius:
            spans.append((max(0.0, off0 - (radius - acc0)), min(length, off0 + (radius - acc0))))
        for a, b in _merge(spans):
            if b > a:
                pieces.append(substring(geom, a, b))
    return pieces


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
