"""Walking street networks as compact array graphs.

A :class:`Network` is a CSR adjacency with edge lengths in metres, the edge geometries in a local
metric CRS (so that later stages can cut partial edges), and the connected-component labels.  It
is built from any GeoDataFrame of street lines: a bureau's road-centreline layer, the bundled
Taiyuan OSM lines, or ways read from raw OSM (:mod:`siteplan.osm`).

Lines are noded where they share a vertex.  With ``snap_tolerance_m``, dead ends that stop just
short of another line are joined to it; interior vertices never move.  Lines that cross without
a shared vertex (bridges, tunnels, overpasses) stay unconnected, as in OSM.

:func:`graph_from_file` is the one call for any street source on disk: raw OSM goes through
:mod:`siteplan.osm` (ways connect at shared node ids), line layers through
:func:`siteplan.io.read_layer` and :func:`graph_from_lines`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from siteplan.crs import CoordSystem, MetricKind, metric_crs_for_bounds
from siteplan.errors import InputError, NetworkError
from siteplan.io import read_layer

# osmnx 2.x network_type="walk": the same tags and the same unanchored regex matching as its
# Overpass filter, so a network built from a line layer equals one osmnx would download.
OSMNX_WALK_EXCLUDE: dict[str, str] = {
    "area": "yes",
    "highway": "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|"
    "proposed|raceway|razed|rest_area|services",
    "access": "private",
    "foot": "no",
    "service": "private",
    "sidewalk": "separate",
    "sidewalk:both": "separate",
    "sidewalk:left": "separate",
    "sidewalk:right": "separate",
}

_HSTORE_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=>\s*"((?:[^"\\]|\\.)*)"')
_HSTORE_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class WalkFilter:
    """Which lines are walkable.

    ``exclude`` maps a tag to a regular expression; a line whose tag value matches (anywhere in
    the value, as Overpass's ``!~`` does) is dropped.  Lines without ``highway`` are dropped.
    Tags are read from columns of that name or from an hstore ``other_tags`` column.
    Walking ignores ``oneway``.
    """

    exclude: dict[str, str] = field(default_factory=lambda: dict(OSMNX_WALK_EXCLUDE))

    def with_exclusions(self, **extra: str) -> WalkFilter:
        """A copy with more (or replaced) tag exclusions, e.g. ``highway="steps"``."""
        merged = dict(self.exclude)
        merged.update(extra)
        return WalkFilter(merged)


def hstore_tag(other_tags: pd.Series, key: str) -> pd.Series:
    """Extract one key from an hstore column such as ``"foot"=>"no","oneway"=>"yes"``.

    GDAL writes pairs separated by ``,`` and PostgreSQL by ``, ``; both are read.  Escaped
    quotes and backslashes in values (``\\"``, ``\\\\``) are unescaped.  Missing is ``<NA>``.
    """
    # Anchoring on the start or a comma means a key that only ends with ``key`` ("barefoot"
    # for "foot") never matches; a quote inside a value is escaped, so ``,"key"`` cannot occur
    # inside one.
    pattern = r'(?:^|,)\s*"' + re.escape(key) + r'"\s*=>\s*"((?:[^"\\]|\\.)*)"'
    values = other_tags.astype("string").str.extract(pattern, expand=False)
    return values.str.replace(_HSTORE_ESCAPE, r"\1", regex=True)


def parse_hstore(text: str | None) -> dict[str, str]:
    """Parse one hstore string into a dict (for display and tests, not for hot paths)."""
    if not isinstance(text, str):
        return {}
    return {
        _HSTORE_ESCAPE.sub(r"\1", k): _HSTORE_ESCAPE.sub(r"\1", v)
        for k, v in _HSTORE_PAIR.findall(text)
    }


def tag_column(lines: pd.DataFrame, key: str) -> pd.Series:
    """A tag's values from its own column, else from ``other_tags``; missing is <NA>."""
    values = pd.Series(pd.NA, index=lines.index, dtype="string")
    if key in lines.columns:
        values = lines[key].astype("string")
    if "other_tags" in lines.columns:
        values = values.fillna(hstore_tag(lines["other_tags"], key))
    return values


def walkable_mask(lines: pd.DataFrame, walk_filter: WalkFilter | None = None) -> np.ndarray:
    """Boolean mask of the walkable lines under ``walk_filter`` (osmnx's walk filter by default)."""
    walk_filter = walk_filter or WalkFilter()
    highway = tag_column(lines, "highway")
    keep = highway.notna().to_numpy(dtype=bool, copy=True)
    for key, regex in walk_filter.exclude.items():
        values = tag_column(lines, key)
        hit = values.str.contains(regex, regex=True, na=False).to_numpy(dtype=bool)
        keep &= ~hit
    return keep


@dataclass(frozen=True)
class NetworkReport:
    """What a build kept and dropped, for printing and for the run log."""

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

    def summary(self) -> str:
        extra = ""
        if self.n_not_lines:
            extra += f"; {self.n_not_lines:,} non-line feature(s) ignored"
        if self.n_ends_snapped:
            extra += f"; {self.n_ends_snapped:,} dead end(s) snapped"
        return (
            f"{self.source}: {self.n_nodes:,} nodes, {self.n_edges:,} edges, "
            f"{self.length_km:,.1f} km of street ({self.n_lines_walkable:,} of "
            f"{self.n_lines_in:,} lines walkable); {self.n_components} component(s) before "
            f"filtering, {self.islands_dropped} island(s) dropped ({self.islands_km:,.2f} km); "
            f"CRS {self.crs}{extra}"
        )


@dataclass(frozen=True, eq=False)
class Network:
    """An undirected walking network as arrays.

    Attributes
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
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.shape[0])

    @cached_property
    def csr(self) -> sparse.csr_matrix:
        """Symmetric ``(N, N)`` CSR adjacency; parallel edges keep their shortest length."""
        return _csr_min(self.edge_u, self.edge_v, self.edge_length, self.n_nodes)

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        """Spatial index over the edge geometries."""
        return shapely.STRtree(self.edge_geometry)

    def edges_gdf(self) -> gpd.GeoDataFrame:
        """The edges as a GeoDataFrame (layer ``network_edges``)."""
        data = self.edge_attrs.reset_index(drop=True).copy()
        data.insert(0, "edge_id", np.arange(self.n_edges))
        data["u"] = self.edge_u
        data["v"] = self.edge_v
        data["length_m"] = self.edge_length
        return gpd.GeoDataFrame(data, geometry=self.edge_geometry, crs=self.crs)

    def nodes_gdf(self) -> gpd.GeoDataFrame:
        """The nodes as points, with their component label."""
        return gpd.GeoDataFrame(
            {"node_id": np.arange(self.n_nodes), "component": self.component},
            geometry=shapely.points(self.node_xy),
            crs=self.crs,
        )

    def summary(self) -> str:
        return self.report.summary()


def _csr_min(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> sparse.csr_matrix:
    # coo->csr would *sum* parallel edges; shortest paths need the minimum of them.
    keep = u != v
    rows = np.concatenate([u[keep], v[keep]])
    cols = np.concatenate([v[keep], u[keep]])
    data = np.concatenate([w[keep], w[keep]])
    order = np.lexsort((data, cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    first = np.ones(rows.shape[0], dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sparse.csr_matrix((data[first], (rows[first], cols[first])), shape=(n, n))


def _drop_repeated_vertices(
    coords: np.ndarray, line_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    same = np.zeros(coords.shape[0], dtype=bool)
    same[1:] = (coords[1:] == coords[:-1]).all(axis=1) & (line_idx[1:] == line_idx[:-1])
    coords, line_idx = coords[~same], line_idx[~same]
    counts = np.bincount(line_idx, minlength=int(line_idx.max()) + 1 if line_idx.size else 0)
    valid = counts[line_idx] >= 2
    return coords[valid], line_idx[valid]


def _line_bounds(line_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the first and last vertex of every line (``line_idx`` sorted, no gaps)."""
    change = np.flatnonzero(line_idx[1:] != line_idx[:-1]) + 1
    first = np.r_[0, change]
    last = np.r_[change - 1, line_idx.shape[0] - 1]
    return first, last


def _dangling_ends(coords: np.ndarray, line_idx: np.ndarray) -> np.ndarray:
    """Positions of line ends whose coordinate no other vertex shares (dead ends)."""
    first, last = _line_bounds(line_idx)
    ends = np.unique(np.r_[first, last])
    _, vid, counts = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
    vid = vid.ravel()
    return ends[counts[vid[ends]] == 1]


def _cluster_representatives(points: np.ndarray, tolerance: float) -> tuple[np.ndarray, int]:
    """Move points closer than ``tolerance`` (transitively) onto one point per cluster.

    The representative is the cluster's lexicographically smallest point, so the result does
    not depend on the input order.  Returns the moved points and how many moved.
    """
    pairs = cKDTree(points).query_pairs(tolerance, output_type="ndarray")
    if pairs.size == 0:
        return points, 0
    n = points.shape[0]
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = csgraph.connected_components(graph, directed=False)
    order = np.lexsort((points[:, 1], points[:, 0], label))
    first = np.ones(n, dtype=bool)
    first[1:] = label[order][1:] != label[order][:-1]
    rep = np.empty(label.max() + 1, dtype=np.int64)
    rep[label[order][first]] = order[first]
    moved = points[rep[label]]
    return moved, int((moved != points).any(axis=1).sum())


def _snap_ends(
    coords: np.ndarray, line_idx: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Join dead ends within ``tolerance`` of another line (see :func:`_snap_dense_ends`)."""
    # Lines dropped earlier leave gaps in the ids; work on dense ids, hand back the originals.
    line_ids, dense = np.unique(line_idx, return_inverse=True)
    coords, dense, n_moved = _snap_dense_ends(coords, dense.ravel(), tolerance)
    return coords, line_ids[dense], n_moved


def _snap_dense_ends(
    coords: np.ndarray, line_idx: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Join dead ends that stop within ``tolerance`` of another line (near-miss digitising).

    Only dangling line ends move; interior vertices never do, so a bridge that passes over a
    road stays unconnected however close their vertices are, and an end that already meets
    another line stays where it is.  Two steps, both array operations:

    1. dead ends within ``tolerance`` of each other merge (onto the cluster's smallest point);
    2. a remaining dead end moves onto the nearest other line within ``tolerance``: onto its
       nearest vertex if one is that close, else onto the nearest point of a segment, which is
       inserted into that line as a new vertex so that the two share it.

    Returns the new ``coords`` and ``line_idx`` (vertices still grouped by line, in line
    order) and the number of ends moved.
    """
    coords = coords.copy()
    ends = _dangling_ends(coords, line_idx)
    if ends.size == 0:
        return coords, line_idx, 0
    coords[ends], n_moved = _cluster_representatives(coords[ends], tolerance)

    ends = _dangling_ends(coords, line_idx)
    if ends.size == 0:
        return coords, line_idx, n_moved
    end_line = line_idx[ends]
    # Nearest vertex of another line within tolerance.
    vert_tree = cKDTree(coords)
    dist = cKDTree(coords[ends]).sparse_distance_matrix(
        vert_tree, tolerance, output_type="ndarray"
    )
    best_vertex = np.full(ends.size, -1, dtype=np.int64)
    if dist.size:
        i, k, d = dist["i"], dist["j"], dist["v"]
        other = line_idx[k] != end_line[i]
        i, k, d = i[other], k[other], d[other]
        order = np.lexsort((k, d, i))
        i, k = i[order], k[order]
        first = np.r_[True, i[1:] != i[:-1]] if i.size else np.zeros(0, dtype=bool)
        best_vertex[i[first]] = k[first]
    # Otherwise the nearest point on a segment of another line within tolerance.
    lines = shapely.linestrings(coords, indices=line_idx)
    need = np.flatnonzero(best_vertex < 0)
    points = shapely.points(coords[ends[need]])
    pi, lj = shapely.STRtree(lines).query(points, predicate="dwithin", distance=tolerance)
    other = lj != end_line[need[pi]]
    pi, lj = pi[other], lj[other]
    seg_target = np.empty((0, 2))
    seg_end = np.empty(0, dtype=np.int64)
    seg_line = np.empty(0, dtype=np.int64)
    if pi.size:
        d = shapely.distance(points[pi], lines[lj])
        order = np.lexsort((lj, d, pi))
        pi, lj = pi[order], lj[order]
        first = np.r_[True, pi[1:] != pi[:-1]]
        pi, lj = pi[first], lj[first]
        measure = shapely.line_locate_point(lines[lj], points[pi])
        seg_target = shapely.get_coordinates(shapely.line_interpolate_point(lines[lj], measure))
        seg_end, seg_line = ends[need[pi]], lj

    has_vertex = best_vertex >= 0
    coords[ends[has_vertex]] = coords[best_vertex[has_vertex]]
    coords[seg_end] = seg_target
    n_moved += int(has_vertex.sum()) + int(seg_end.size)
    if seg_end.size == 0:
        return coords, line_idx, n_moved

    # Insert the segment targets into their lines, ordered by distance along the line.
    seg_len = np.zeros(coords.shape[0])
    step = np.hypot(*(coords[1:] - coords[:-1]).T)
    same = line_idx[1:] == line_idx[:-1]
    seg_len[1:] = np.where(same, step, 0.0)
    cum = np.cumsum(seg_len)
    line_first, _ = _line_bounds(line_idx)
    line_start = np.zeros(int(line_idx.max()) + 1)
    line_start[line_idx[line_first]] = cum[line_first]
    vertex_measure = cum - line_start[line_idx]
    target_measure = shapely.line_locate_point(lines[seg_line], shapely.points(seg_target))
    all_line = np.r_[line_idx, seg_line]
    all_measure = np.r_[vertex_measure, target_measure]
    all_coords = np.vstack([coords, seg_target])
    # Ties (a target at an existing vertex's measure) keep the original vertex first.
    is_new = np.r_[np.zeros(line_idx.size, dtype=np.int8), np.ones(seg_line.size, dtype=np.int8)]
    position = np.r_[np.arange(line_idx.size), np.zeros(seg_line.size, dtype=np.int64)]
    order = np.lexsort((position, is_new, all_measure, all_line))
    return all_coords[order], all_line[order], n_moved


def node_lines(
    geoms: np.ndarray, snap_tolerance_m: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split LineStrings into edges between nodes.

    A node is every line end and every vertex shared by two or more lines (or twice by one
    line).  Runs in array operations over all vertices; no loop per line.

    Returns
    -------
    node_xy, edge_u, edge_v, edge_geometry, edge_line
        ``edge_line`` is the index in ``geoms`` each edge came from.
    """
    node_xy, u, v, geom, line, _ = _node_lines(geoms, snap_tolerance_m)
    return node_xy, u, v, geom, line


def _node_lines(
    geoms: np.ndarray, snap_tolerance_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    coords, line_idx = shapely.get_coordinates(geoms, return_index=True)
    coords, line_idx = _drop_repeated_vertices(coords, line_idx)
    n_snapped = 0
    if snap_tolerance_m > 0 and coords.shape[0]:
        coords, line_idx, n_snapped = _snap_ends(coords, line_idx, snap_tolerance_m)
        coords, line_idx = _drop_repeated_vertices(coords, line_idx)
    if coords.shape[0] == 0:
        empty = np.empty(0, dtype=np.int64)
        return np.empty((0, 2)), empty, empty, np.empty(0, dtype=object), empty, n_snapped

    _, vid, counts = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
    vid = vid.ravel()
    n = coords.shape[0]
    is_first = np.ones(n, dtype=bool)
    is_first[1:] = line_idx[1:] != line_idx[:-1]
    is_last = np.ones(n, dtype=bool)
    is_last[:-1] = line_idx[1:] != line_idx[:-1]
    is_node = (counts[vid] >= 2) | is_first | is_last
    interior = is_node & ~is_first & ~is_last

    # An interior node ends one edge and starts the next, so its vertex appears twice.
    repeat = 1 + interior.astype(np.int64)
    pos = np.repeat(np.arange(n), repeat)
    first_copy = np.cumsum(repeat) - repeat
    start = np.zeros(pos.shape[0], dtype=bool)
    start[first_copy[is_first]] = True
    start[first_copy[interior] + 1] = True
    edge_of_pos = np.cumsum(start) - 1
    end = np.zeros(pos.shape[0], dtype=bool)
    end[:-1] = start[1:]
    end[-1] = True

    edge_geometry = shapely.linestrings(coords[pos], indices=edge_of_pos)
    u_vertex = vid[pos[start]]
    v_vertex = vid[pos[end]]
    edge_line = line_idx[pos[start]]

    node_vertex, inverse = np.unique(np.concatenate([u_vertex, v_vertex]), return_inverse=True)
    n_edges = u_vertex.shape[0]
    edge_u = inverse[:n_edges].astype(np.int64)
    edge_v = inverse[n_edges:].astype(np.int64)
    # Coordinates of each node: any occurrence of its unique vertex.
    first_occurrence = np.full(int(vid.max()) + 1, -1, dtype=np.int64)
    first_occurrence[vid[::-1]] = np.arange(n)[::-1]
    node_xy = coords[first_occurrence[node_vertex]]
    return node_xy, edge_u, edge_v, edge_geometry, edge_line, n_snapped


def _explode_lines(lines: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """Single LineStrings, one row per part; also the number of non-line features skipped."""
    geoms = np.asarray(lines.geometry.values, dtype=object)
    kinds = shapely.get_type_id(geoms)
    is_line = np.isin(kinds, [1, 2, 5])  # LineString, LinearRing, MultiLineString
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    n_not_lines = int((present & ~is_line).sum())
    exploded = lines[is_line & present].explode(index_parts=False)
    geom = np.asarray(exploded.geometry.values, dtype=object)
    rings = shapely.get_type_id(geom) == 2
    if rings.any():
        geom = geom.copy()
        n_coords = shapely.get_num_coordinates(geom[rings])
        geom[rings] = shapely.linestrings(shapely.get_coordinates(geom[rings]),
                                          indices=np.repeat(np.arange(rings.sum()), n_coords))
        exploded = exploded.set_geometry(gpd.GeoSeries(geom, index=exploded.index,
                                                       crs=exploded.crs))
    return exploded, n_not_lines


def is_metric_crs(crs: CRS) -> bool:
    crs = CRS.from_user_input(crs)
    if not crs.is_projected:
        return False
    units = {axis.unit_name for axis in crs.axis_info}
    return units <= {"metre", "meter"}


def graph_from_lines(
    lines: gpd.GeoDataFrame,
    *,
    walk_filter: WalkFilter | None = None,
    filter_walkable: bool = True,
    snap_tolerance_m: float = 0.0,
    metric_crs: CRS | str | None = None,
    metric_kind: MetricKind = "utm",
    keep_largest: bool = True,
    source: str = "lines",
) -> Network:
    """Build a walking :class:`Network` from a GeoDataFrame of street lines.

    Parameters
    ----------
    lines
        LineStrings or MultiLineStrings with a CRS.  Tags (``highway``, ``foot``, ``access``,
        ``service``, ``area``, ``sidewalk``...) may be columns or sit in an hstore ``other_tags``.
    walk_filter
        Which lines are walkable; osmnx's ``network_type="walk"`` semantics by default.
    filter_walkable
        ``False`` keeps every line (a bureau layer that holds only walkable streets and has no
        ``highway`` column).
    snap_tolerance_m
        For layers whose lines do not quite meet: a dead end within this many metres of
        another line is joined to it (to its nearest vertex, or to a new vertex on its nearest
        segment), and dead ends this close to each other are merged.  Interior vertices never
        move, so lines that cross without a shared vertex stay unconnected.  ``0`` (default)
        nodes only identical coordinates.
    metric_crs
        Analysis CRS.  When ``None``: the layer's own CRS if it is projected in metres,
        otherwise chosen from the data (UTM, or CGCS2000 3-degree GK per ``metric_kind``).
    metric_kind
        ``"utm"`` or ``"cgcs2000"`` when choosing automatically.
    keep_largest
        Keep only the largest connected component and report the dropped islands.
    source
        A name for reports and error messages (usually the file path).

    Returns
    -------
    Network
    """
    if lines.crs is None:
        raise InputError(
            "the line layer has no CRS.",
            where=source,
            fix="declare it (e.g. crs='EPSG:4326') or add a .prj / CRS to the file.",
        )
    if snap_tolerance_m < 0:
        raise NetworkError(f"snap_tolerance_m must be >= 0, got {snap_tolerance_m}.", where=source,
                           fix="use 0 for exact noding or a small positive tolerance in metres.")
    n_in = len(lines)
    exploded, n_not_lines = _explode_lines(lines)
    if len(exploded) == 0:
        kinds = sorted({str(t) for t in lines.geom_type.dropna().unique()})
        raise InputError(
            f"the layer has no line geometries ({n_in} feature(s); geometry types: "
            f"{', '.join(kinds) or 'none'}).",
            where=source,
            fix="give a layer of LineStrings or MultiLineStrings (street centrelines), not "
            "points or polygons; in a multi-layer file choose the roads layer.",
        )
    if filter_walkable:
        exploded = exploded[walkable_mask(exploded, walk_filter)]
    n_walk = int(exploded.index.unique().size)
    if len(exploded) == 0:
        raise NetworkError(
            "no walkable lines remain after filtering (no line has a walkable `highway` tag).",
            where=source,
            fix="check the highway tags, pass filter_walkable=False for a layer of walkable "
            "streets only, or relax the walk filter.",
        )

    if metric_crs is None and is_metric_crs(lines.crs):
        # A layer already in a projected metric CRS (a bureau's CGCS2000 GK layer) stays in it.
        metric = CRS.from_user_input(lines.crs)
    elif metric_crs is None:
        bounds = exploded.to_crs(4326).total_bounds
        metric = metric_crs_for_bounds(bounds, metric_kind)
    else:
        metric = CRS.from_user_input(metric_crs)
    projected = exploded.to_crs(metric)

    node_xy, u, v, geom, edge_line, n_snapped = _node_lines(
        np.asarray(projected.geometry.values, dtype=object), snap_tolerance_m
    )
    length = shapely.length(geom)
    attr_cols = [c for c in ("osm_id", "highway", "name") if c in projected.columns]
    attrs = pd.DataFrame(projected[attr_cols].to_numpy()[edge_line], columns=attr_cols)

    n_nodes = node_xy.shape[0]
    n_comp, labels = csgraph.connected_components(_csr_min(u, v, length, n_nodes), directed=False)
    # Relabel so that 0 is the largest component (ties: the one with more street length).
    sizes = np.bincount(labels, minlength=n_comp)
    comp_len = np.bincount(labels[u], weights=length, minlength=n_comp)
    rank = np.lexsort((-comp_len, -sizes))
    relabel = np.empty(n_comp, dtype=np.int64)
    relabel[rank] = np.arange(n_comp)
    labels = relabel[labels]

    islands_dropped, islands_km = 0, 0.0
    if keep_largest and n_comp > 1:
        keep_edge = labels[u] == 0
        islands_dropped = n_comp - 1
        islands_km = float(length[~keep_edge].sum() / 1000.0)
        keep_node = labels == 0
        new_id = np.cumsum(keep_node) - 1
        node_xy, labels = node_xy[keep_node], labels[keep_node]
        u, v = new_id[u[keep_edge]], new_id[v[keep_edge]]
        geom, length = geom[keep_edge], length[keep_edge]
        attrs = attrs[keep_edge].reset_index(drop=True)

    report = NetworkReport(
        source=source,
        n_lines_in=n_in,
        n_lines_walkable=n_walk,
        n_nodes=int(node_xy.shape[0]),
        n_edges=int(u.shape[0]),
        length_km=float(length.sum() / 1000.0),
        n_components=int(n_comp),
        islands_dropped=islands_dropped,
        islands_km=islands_km,
        crs=metric.to_string(),
        n_not_lines=n_not_lines,
        n_ends_snapped=n_snapped,
    )
    return Network(
        crs=metric,
        node_xy=node_xy,
        edge_u=u,
        edge_v=v,
        edge_length=length,
        edge_geometry=geom,
        edge_attrs=attrs,
        component=labels,
        report=report,
    )


#: File names read as raw OpenStreetMap by :func:`graph_from_file` (compared lower-case).
OSM_SUFFIXES: tuple[str, ...] = (".osm", ".osm.xml", ".osm.gz", ".osm.bz2", ".pbf")


def is_osm_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a raw OSM file (``.osm``, ``.osm.gz``, ``.osm.bz2``, ``.pbf``)."""
    return Path(path).name.lower().endswith(OSM_SUFFIXES)


def graph_from_file(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    crs: Any = None,
    encoding: str | None = None,
    coord_system: CoordSystem = "wgs84",
    bbox: tuple[float, float, float, float] | None = None,
    **kwargs: Any,
) -> Network:
    """Build a walking :class:`Network` from any street source on disk.

    Raw OpenStreetMap (``.osm``, ``.osm.gz``, ``.osm.bz2``, ``.osm.pbf``) goes to
    :func:`siteplan.osm.graph_from_osm`, where ways connect only at shared node ids.  Any other
    file (GeoPackage, Shapefile, GeoJSON...) is read with :func:`siteplan.io.read_layer` and
    built by :func:`graph_from_lines`.

    Parameters
    ----------
    path
        The street file.
    layer, crs, encoding, coord_system
        How to read a line layer (see :func:`siteplan.io.read_layer`); not used for OSM files,
        which are always WGS84 lon/lat and UTF-8.
    bbox
        ``(west, south, east, north)`` in degrees: keep the lines that intersect it.
    **kwargs
        Passed to :func:`graph_from_lines`: ``walk_filter``, ``filter_walkable``,
        ``snap_tolerance_m`` (line layers only), ``metric_crs``, ``metric_kind``,
        ``keep_largest``.

    Returns
    -------
    Network

    Raises
    ------
    InputError
        The file is missing, unreadable, has no lines or no CRS, or an option does not apply.
    NetworkError
        Nothing walkable remains after filtering.
    """
    kwargs.setdefault("source", str(path))
    if is_osm_file(path):
        given = {"layer": layer, "crs": crs, "encoding": encoding}
        wrong = [k for k, v in given.items() if v is not None]
        if coord_system != "wgs84":
            wrong.append("coord_system")
        if wrong:
            raise InputError(
                f"option(s) {', '.join(wrong)} do not apply to raw OSM files, which are always "
                "WGS84 lon/lat in UTF-8.",
                where=str(path),
                fix=f"remove {', '.join(wrong)} for this file.",
            )
        from siteplan.osm import graph_from_osm  # siteplan.osm builds on this module

        return graph_from_osm(path, bbox=bbox, **kwargs)
    lines = read_layer(path, layer=layer, crs=crs, encoding=encoding, coord_system=coord_system,
                       kind="street layer")
    if bbox is not None:
        box = gpd.GeoSeries([shapely.box(*bbox)], crs="EPSG:4326").to_crs(lines.crs)
        lines = lines[lines.intersects(box.iloc[0])]
    return graph_from_lines(lines, **kwargs)


def network_info(net: Network) -> dict[str, Any]:
    """Plain-dict summary (for JSON logs and the CLI)."""
    return dict(vars(net.report))
