"""Noding: street lines split into edges between nodes, with optional dead-end snapping.

A node is every line end and every vertex shared by two or more lines (or twice by one line);
lines are noded where they share a vertex.  With a snap tolerance, dead ends that stop just short
of another line are joined to it; interior vertices never move.  Lines that cross without a
shared vertex (bridges, tunnels, overpasses) stay unconnected, as in OSM.  Everything runs in
array operations over all vertices; there is no loop per line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from siteplan.core.defaults import COINCIDENT_TOLERANCE_M, CoincidentNodes
from siteplan.network.coincident import CoincidentReport, coordinate_ids, vertex_nodes


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
    vid, counts = coordinate_ids(coords)
    dangling: np.ndarray = ends[counts[vid[ends]] == 1]
    return dangling


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
    noded = node_lines_counted(geoms, snap_tolerance_m)
    return noded.node_xy, noded.edge_u, noded.edge_v, noded.edge_geometry, noded.edge_line


@dataclass(frozen=True)
class Noded:
    """What :func:`node_lines_counted` returns: the edges, and what noding did."""

    node_xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_geometry: np.ndarray
    edge_line: np.ndarray
    n_snapped: int
    coincident: CoincidentReport


def _drop_consecutive(label: np.ndarray, coords: np.ndarray, line_idx: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop a vertex that is the same node as the one before it, then lines left with < 2."""
    same = np.zeros(label.shape[0], dtype=bool)
    same[1:] = (label[1:] == label[:-1]) & (line_idx[1:] == line_idx[:-1])
    label, coords, line_idx = label[~same], coords[~same], line_idx[~same]
    counts = np.bincount(line_idx, minlength=int(line_idx.max()) + 1 if line_idx.size else 0)
    valid = counts[line_idx] >= 2
    return label[valid], coords[valid], line_idx[valid]


def node_lines_counted(
    geoms: np.ndarray,
    snap_tolerance_m: float,
    *,
    levels: np.ndarray | None = None,
    node_ids: np.ndarray | None = None,
    coincident_nodes: CoincidentNodes = "keep",
    coincident_tolerance_m: float = COINCIDENT_TOLERANCE_M,
) -> Noded:
    """:func:`node_lines`, with coincident-node merging and what noding did (for the report).

    Parameters
    ----------
    geoms
        LineStrings in a metric CRS.
    snap_tolerance_m
        Dead ends this close to another line are joined to it (line layers).
    levels
        One :func:`siteplan.network.coincident.line_levels` code per line.
    node_ids
        OSM node id of every vertex of ``geoms`` (in :func:`shapely.get_coordinates` order),
        or None.  Dropped when snapping moves vertices.
    coincident_nodes, coincident_tolerance_m
        :func:`siteplan.network.coincident.vertex_nodes`'s ``mode`` and ``tolerance_m``.

    Returns
    -------
    Noded
        Nodes, edges, the line of each edge, the dead ends snapped and the coincident-node
        report.
    """
    coords, line_idx = shapely.get_coordinates(geoms, return_index=True)
    n_snapped = 0
    if snap_tolerance_m > 0 and coords.shape[0]:
        coords, line_idx = _drop_repeated_vertices(coords, line_idx)
        coords, line_idx, n_snapped = _snap_ends(coords, line_idx, snap_tolerance_m)
        node_ids = None  # snapping inserts vertices; the ids no longer line up
    vid, coords, report = vertex_nodes(coords, line_idx, levels=levels, node_ids=node_ids,
                                       mode=coincident_nodes, tolerance_m=coincident_tolerance_m)
    vid, coords, line_idx = _drop_consecutive(vid, coords, line_idx)
    if coords.shape[0] == 0:
        empty = np.empty(0, dtype=np.int64)
        return Noded(np.empty((0, 2)), empty, empty, np.empty(0, dtype=object), empty,
                     n_snapped, report)
    counts = np.bincount(vid)
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
    # Coordinates of each node: any occurrence of its vertex label (merged ones share them).
    first_occurrence = np.full(int(vid.max()) + 1, -1, dtype=np.int64)
    first_occurrence[vid[::-1]] = np.arange(n)[::-1]
    node_xy = coords[first_occurrence[node_vertex]]
    return Noded(node_xy, edge_u, edge_v, edge_geometry, edge_line, n_snapped, report)


__all__ = ["Noded", "node_lines", "node_lines_counted"]
