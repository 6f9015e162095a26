"""Walking street networks as compact array graphs.

A :class:`Network` is a CSR adjacency with edge lengths in metres, the edge geometries in a local
metric CRS (so that later stages can cut partial edges), and the connected-component labels.
:mod:`siteplan.network.build` makes one from street lines or a raw OSM file; the network keeps
the indexes every later stage shares (edge vertices, nearest-segment index, node tree), built
once on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.spatial import cKDTree

from siteplan.core.i18n import _
from siteplan.network.coincident import CoincidentReport
from siteplan.network.linear import EdgeVertices
from siteplan.network.segments import SegmentIndex


@dataclass(frozen=True)
class NetworkReport:
    """What a build kept and dropped, for printing and for the run log.

    Besides the counts, ``walk_profile`` names the walking profile, ``n_profile_dropped`` and
    ``profile_dropped_km`` say what its clauses beyond osmnx's filter left out (elevated and
    expressway carriageways), and ``coincident`` how many coincident nodes were merged or kept
    apart (:class:`~siteplan.network.coincident.CoincidentReport`).
    """

    source: str
    n_lines_in: int
    n_lines_walkable: int
    n_nodes: int
    n_edges: int
    length_km: float
    n_components: int
    islands_dropped: int
    islands_km: float
    crs: str
    n_not_lines: int = 0
    n_ends_snapped: int = 0
    walk_profile: str = ""
    n_profile_dropped: int = 0
    profile_dropped_km: float = 0.0
    coincident: CoincidentReport | None = None

    def summary(self) -> str:
        """Return the report as text: one line, plus the walking profile and coincident nodes.

        Returns
        -------
        str
            The counts on the first line; ``walk profile: ...`` and ``coincident nodes: ...``
            on their own lines when the build recorded them.
        """
        extra = ""
        if self.n_not_lines:
            extra += _("; {n:,} non-line feature(s) ignored").format(n=self.n_not_lines)
        if self.n_ends_snapped:
            extra += _("; {n:,} dead end(s) snapped").format(n=self.n_ends_snapped)
        lines = [_(
            "{source}: {nodes:,} nodes, {edges:,} edges, {km:,.1f} km of street ({walkable:,} "
            "of {lines:,} lines walkable); {components} component(s) before filtering, "
            "{islands} island(s) dropped ({islands_km:,.2f} km); CRS {crs}").format(
                source=self.source, nodes=self.n_nodes, edges=self.n_edges, km=self.length_km,
                walkable=self.n_lines_walkable, lines=self.n_lines_in,
                components=self.n_components, islands=self.islands_dropped,
                islands_km=self.islands_km, crs=self.crs) + extra]
        if self.walk_profile:
            text = "  " + _("walk profile {profile}").format(profile=self.walk_profile)
            if self.n_profile_dropped:
                text += _(": {n:,} elevated or expressway line(s) ({km:,.1f} km) not "
                          "walkable").format(n=self.n_profile_dropped,
                                             km=self.profile_dropped_km)
            lines.append(text)
        if self.coincident is not None:
            lines.append(f"  {self.coincident.text()}")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class Network:
    """An undirected walking network as arrays.

    Networks are built by :func:`siteplan.network.build.graph_from_lines`,
    :func:`~siteplan.network.build.graph_from_file` or
    :func:`~siteplan.network.build.graph_from_osm`; each parameter is kept as the attribute of
    the same name.

    Parameters
    ----------
    crs
        The metric CRS of every coordinate and length.
    node_xy
        ``(N, 2)`` node coordinates.
    edge_u, edge_v
        ``(E,)`` end nodes of each edge; each geometry runs from ``edge_u`` to ``edge_v``.
    edge_length
        ``(E,)`` geometric length in metres.
    edge_geometry
        ``(E,)`` shapely LineStrings.
    edge_attrs
        One row per edge: ``osm_id``, ``highway``, ``name`` where the source had them.
    component
        ``(N,)`` connected-component label per node (0 is the largest).
    report
        Counts and what was dropped.

    Examples
    --------
    >>> from siteplan.network.build import graph_from_file
    >>> net = graph_from_file("data/taiyuan/taiyuan_osm_lines.geojson")
    >>> net.n_nodes, net.n_edges, net.crs.to_string()
    (5896, 8359, 'EPSG:32649')
    >>> round(float(net.edge_length.sum()) / 1000, 1)
    1340.0
    >>> list(net.edges_gdf().columns)
    ['edge_id', 'osm_id', 'highway', 'name', 'u', 'v', 'length_m', 'geometry']
    """

    crs: CRS
    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_geometry: np.ndarray
    edge_attrs: pd.DataFrame
    component: np.ndarray
    report: NetworkReport

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return int(self.edge_u.shape[0])

    @cached_property
    def csr(self) -> sparse.csr_matrix:
        """Symmetric ``(N, N)`` CSR adjacency; parallel edges keep their shortest length."""
        return csr_min(self.edge_u, self.edge_v, self.edge_length, self.n_nodes)

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        """Spatial index over the edge geometries."""
        return shapely.STRtree(self.edge_geometry)

    @cached_property
    def node_tree(self) -> cKDTree:
        """KD-tree over the node coordinates.

        It finds which nodes lie within a radius, as the crow flies, of a point
        (:func:`siteplan.network.paths.bounded_from_each`).
        """
        return cKDTree(self.node_xy)

    @cached_property
    def vertices(self) -> EdgeVertices:
        """All edge vertices with their distances along the edges, for cutting and snapping.

        See :class:`siteplan.network.linear.EdgeVertices`.
        """
        return EdgeVertices(self.edge_geometry)

    @cached_property
    def segment_index(self) -> SegmentIndex:
        """Nearest-edge index for points (:class:`siteplan.network.segments.SegmentIndex`)."""
        return SegmentIndex(self.vertices)

    def release_indexes(self) -> None:
        """Drop the spatial indexes and the vertex table; they are rebuilt when next used.

        A study is done with them after its coverage and catchments: at a million nodes they
        hold ~0.7 GB (segment pieces, vertices, the edge STRtree) through scoring and writing.
        """
        for name in ("edge_tree", "node_tree", "vertices", "segment_index"):
            self.__dict__.pop(name, None)

    def edges_gdf(self) -> gpd.GeoDataFrame:
        """Return the edges as a GeoDataFrame (layer ``network_edges``)."""
        data = self.edge_attrs.reset_index(drop=True).copy()
        data.insert(0, "edge_id", np.arange(self.n_edges))
        data["u"] = self.edge_u
        data["v"] = self.edge_v
        data["length_m"] = self.edge_length
        return gpd.GeoDataFrame(data, geometry=self.edge_geometry, crs=self.crs)

    def nodes_gdf(self) -> gpd.GeoDataFrame:
        """Return the nodes as points, with their component label."""
        return gpd.GeoDataFrame(
            {"node_id": np.arange(self.n_nodes), "component": self.component},
            geometry=shapely.points(self.node_xy),
            crs=self.crs,
        )

    def summary(self) -> str:
        """Return the build report as one line of text (:meth:`NetworkReport.summary`)."""
        return self.report.summary()


def csr_min(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> sparse.csr_matrix:
    """Return the symmetric ``(n, n)`` CSR adjacency of edges ``u``-``v`` with weights ``w``.

    Loops are left out, and parallel edges keep their smallest weight: coo->csr would *sum*
    them, and shortest paths need the minimum.
    """
    keep = u != v
    rows = np.concatenate([u[keep], v[keep]])
    cols = np.concatenate([v[keep], u[keep]])
    data = np.concatenate([w[keep], w[keep]])
    order = np.lexsort((data, cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    first = np.ones(rows.shape[0], dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sparse.csr_matrix((data[first], (rows[first], cols[first])), shape=(n, n))


def network_info(net: Network) -> dict[str, Any]:
    """Plain-dict summary (for JSON logs and the CLI)."""
    info = dict(vars(net.report))
    if net.report.coincident is not None:
        info["coincident"] = {**vars(net.report.coincident),
                              "kept_apart": dict(net.report.coincident.kept_apart)}
    return info


__all__ = ["Network", "NetworkReport", "csr_min", "network_info"]
