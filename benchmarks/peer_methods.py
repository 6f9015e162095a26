"""The peers, run the way their documentation or best-known recipe runs them."""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
from measure import quiet_fd

from siteplan.network.graph import Network

LIMIT_M = 3000.0  # search limit of the distance comparison (siteplan's default)
OSMNX_BUFFERS = (25.0, 50.0)  # the osmnx notebook's edge_buff and node_buff


def fresh(net: Network) -> Network:
    """The same network without its cached CSR and edge index (a cold start)."""
    return replace(net)


def nearest_nodes(net: Network, xy: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    return np.unique(cKDTree(net.node_xy).query(xy)[1])


def scipy_floor(net: Network, nodes: np.ndarray) -> np.ndarray:
    from scipy.sparse import csgraph

    # directed=True on the symmetric matrix: the fastest raw call that gives the same answer.
    return csgraph.dijkstra(net.csr, directed=True, indices=nodes, min_only=True, limit=LIMIT_M)


def nx_graph(net: Network) -> Any:
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(net.n_nodes))
    # nx.Graph keeps the last of parallel edges: add the longest first, as the CSR keeps the
    # shortest.
    order = np.argsort(-net.edge_length, kind="stable")
    graph.add_weighted_edges_from(zip(net.edge_u[order].tolist(), net.edge_v[order].tolist(),
                                      net.edge_length[order].tolist(), strict=True))
    return graph


def nx_search(graph: Any, nodes: np.ndarray) -> dict:
    import networkx as nx

    return nx.multi_source_dijkstra_path_length(graph, set(nodes.tolist()), cutoff=LIMIT_M)


def pandana_available() -> tuple[bool, str]:
    try:
        import pandana  # noqa: F401
    except Exception as exc:  # ImportError, or a broken binary wheel
        return False, f"pandana not importable ({type(exc).__name__}: {exc}); " \
                      f"try .venv/bin/pip install pandana"
    return True, ""


def pandana_run(net: Network, fac_xy: np.ndarray, threads: int) -> tuple[np.ndarray, float]:
    """Network (contraction hierarchies) + set_pois + nearest_pois; returns (dist, setup_s).

    pandana runs OpenMP; ``threads`` caps it (threadpoolctl), because its spinning threads lose
    badly when the two cores are shared (5x slower here with 2 threads on a busy machine).
    """
    import pandana
    import pandas as pd

    try:  # a dependency of pandana's scikit-learn, so normally present
        from threadpoolctl import threadpool_limits
        limit: Any = threadpool_limits(threads, user_api="openmp")
    except ImportError:
        limit = contextlib.nullcontext()
    t0 = time.perf_counter()
    edges = pd.DataFrame({"length": net.edge_length})
    with quiet_fd(), warnings.catch_warnings(), limit:
        warnings.simplefilter("ignore")
        pnet = pandana.Network(pd.Series(net.node_xy[:, 0]), pd.Series(net.node_xy[:, 1]),
                               pd.Series(net.edge_u), pd.Series(net.edge_v), edges,
                               twoway=True)
        setup = time.perf_counter() - t0
        pnet.set_pois("fac", LIMIT_M, 1, pd.Series(fac_xy[:, 0]), pd.Series(fac_xy[:, 1]))
        out = pnet.nearest_pois(LIMIT_M, "fac", num_pois=1)
    d = out[1].to_numpy(dtype=float)
    return np.where(d >= LIMIT_M, np.inf, d), setup


def osmnx_recipe(graph: Any, centres: np.ndarray, radius: float) -> list:
    """The osmnx isochrone notebook: ego_graph per facility, buffer nodes and edges, union."""
    import geopandas as gpd
    import networkx as nx
    from shapely.geometry import LineString, Point

    edge_buff, node_buff = OSMNX_BUFFERS
    out = []
    for centre in centres:
        sub = nx.ego_graph(graph, int(centre), radius=radius, distance="length")
        node_points = [Point((d["x"], d["y"])) for _, d in sub.nodes(data=True)]
        nodes_gdf = gpd.GeoDataFrame({"id": list(sub.nodes)}, geometry=node_points)
        nodes_gdf = nodes_gdf.set_index("id")
        edge_lines = []
        for n_fr, n_to in sub.edges():
            f = nodes_gdf.loc[n_fr].geometry
            t = nodes_gdf.loc[n_to].geometry
            edge_lines.append(graph.get_edge_data(n_fr, n_to)[0].get("geometry",
                                                                       LineString([f, t])))
        n = nodes_gdf.buffer(node_buff).geometry
        e = gpd.GeoSeries(edge_lines).buffer(edge_buff).geometry
        out.append(gpd.GeoSeries(list(n) + list(e)).union_all())
    return out


def osmnx_graph(net: Network) -> Any:
    import networkx as nx

    graph = nx.MultiGraph()
    graph.add_nodes_from((i, {"x": x, "y": y}) for i, (x, y) in enumerate(net.node_xy.tolist()))
    for u, v, length, geom in zip(net.edge_u.tolist(), net.edge_v.tolist(),
                                  net.edge_length.tolist(), net.edge_geometry, strict=True):
        graph.add_edge(u, v, length=length, geometry=geom)
    return graph


