"""Coincident nodes: distinct street vertices at one position, merged or kept apart by level.

OSM often has two distinct nodes at exactly the same coordinates: a street split into two ways
whose ends were never merged, a side street ending on an interior vertex of another, a footway
drawn twice.  Followed by node id, those streets stay unconnected; a piece of network becomes an
island and is dropped, and points snap to a street much farther away.  But a bridge node above
a road node also sits at the road node's coordinates, and must stay apart.

:func:`vertex_nodes` decides, for every vertex of the street lines, which graph node it is:

- vertices with one OSM node id are one node (OSM's own topology);
- with ``mode="merge"`` (the default), vertices within ``tolerance_m`` of each other are one
  node when their lines are at the same *level*: the same ``layer``, and neither a bridge nor
  a tunnel relative to the other (:func:`line_levels`).  Otherwise they are kept apart, and the
  report says why (bridge, tunnel or layer);
- a line layer has no node ids: its lines meet where they share a coordinate.  Two lines of
  different levels that both pass *through* a shared coordinate are kept apart (a bridge over a
  street); where some line *ends*, every line there meets (that is how a line layer draws a
  bridge or ramp landing on a road, which raw OSM draws with a shared node id).  Measured on
  the bundled Beijing extract written out without its node ids, this rebuilds the node-id
  graph exactly; a street that ends right under a bridge's vertex is joined to the bridge,
  which a line layer cannot tell from a landing;
- ``mode="keep"`` is pure node-id topology: OSM ways meet only at shared node ids, line layers
  at identical coordinates whatever their level (siteplan before merging existed).

Everything is array work: coordinates grouped by value (and, with a tolerance, by a KD-tree
over the distinct positions), then one connected-components pass over vertices and their keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from siteplan.core.defaults import COINCIDENT_TOLERANCE_M, CoincidentNodes
from siteplan.core.tags import distinct_tags, tag_column

#: Why coincident vertices were kept apart, in the order a reason is chosen.
REASONS = ("bridge", "tunnel", "layer", "node ids")
#: ``tunnel`` values that are not below ground (a passage through a building is at street level).
_NOT_TUNNEL = ("no", "building_passage")
#: The node id of a vertex that has none (a row of a line layer mixed into OSM lines).
NO_NODE_ID = np.iinfo(np.int64).min


@dataclass(frozen=True)
class CoincidentReport:
    """How many coincident nodes were merged and how many kept apart, and why.

    Attributes
    ----------
    mode
        ``"merge"`` or ``"keep"``.
    tolerance_m
        The distance within which vertices are at one position.
    merged
        Distinct nodes joined to another node at their position.
    kept_apart
        Nodes left apart from another node at their position, by reason: ``bridge``,
        ``tunnel``, ``layer`` (different levels) or ``node ids`` (``mode="keep"``).
    """

    mode: str = "merge"
    tolerance_m: float = COINCIDENT_TOLERANCE_M
    merged: int = 0
    kept_apart: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_kept_apart(self) -> int:
        """Nodes kept apart, all reasons together."""
        return int(sum(self.kept_apart.values()))

    def text(self) -> str:
        """Return the report as a phrase for the network summary.

        Returns
        -------
        str
            E.g. ``"coincident nodes: 12 merged, 3 kept apart (2 bridge, 1 layer)"``.

        Examples
        --------
        >>> CoincidentReport(merged=12, kept_apart={"bridge": 2, "layer": 1}).text()
        'coincident nodes: 12 merged, 3 kept apart (2 bridge, 1 layer)'
        >>> CoincidentReport(mode="keep", kept_apart={"node ids": 4}).text()
        'coincident nodes: not merged (node-id topology), 4 left apart'
        """
        apart = ", ".join(f"{n:,} {r}" for r, n in self.kept_apart.items() if n)
        if self.mode == "keep":
            return f"coincident nodes: not merged (node-id topology), {self.n_kept_apart:,} left apart"
        tail = f" ({apart})" if apart else ""
        return (f"coincident nodes: {self.merged:,} merged, {self.n_kept_apart:,} kept "
                f"apart{tail}")


def _flag(values: pd.Series, not_set: tuple[str, ...]) -> np.ndarray:
    text = values.astype("string").str.strip().str.lower()
    flag: np.ndarray = (text.notna() & ~text.isin(list(not_set))).to_numpy(dtype=bool)
    return flag


def line_levels(lines: pd.DataFrame) -> np.ndarray:
    """Return one level code per line from its ``layer``, ``bridge`` and ``tunnel`` tags.

    Two lines are at the same level when their codes are equal.  ``layer`` is read as an
    integer (missing or unreadable: 0, OSM's default); ``bridge`` counts unless ``no``;
    ``tunnel`` unless ``no`` or ``building_passage`` (a passage at street level).  The code is
    ``(layer * 2 + bridge) * 2 + tunnel``, so :func:`level_parts` can take it apart.

    Parameters
    ----------
    lines
        Street lines with tags as columns or in an hstore ``other_tags``.

    Returns
    -------
    numpy.ndarray
        ``int64`` codes, 0 for a plain street at ground level.

    Examples
    --------
    >>> import pandas as pd
    >>> lines = pd.DataFrame({"highway": ["primary"] * 4, "bridge": [None, "yes", "yes", None],
    ...                       "layer": [None, "1", "2", "-1"], "tunnel": [None, None, None, "yes"]})
    >>> line_levels(lines).tolist()
    [0, 6, 10, -3]
    """
    if len(lines) == 0:
        return np.zeros(0, dtype=np.int64)
    first, inverse = distinct_tags(lines, ("layer", "bridge", "tunnel"))
    rows = lines.iloc[first]
    layer = pd.to_numeric(tag_column(rows, "layer").astype("string").str.strip()
                          .str.extract(r"^([+-]?\d+)", expand=False), errors="coerce")
    layer_int = layer.fillna(0).clip(-9, 9).to_numpy(dtype=np.int64)
    bridge = _flag(tag_column(rows, "bridge"), ("no",)).astype(np.int64)
    tunnel = _flag(tag_column(rows, "tunnel"), _NOT_TUNNEL).astype(np.int64)
    codes: np.ndarray = ((layer_int * 2 + bridge) * 2 + tunnel)[inverse]
    return codes


def level_parts(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split :func:`line_levels` codes into ``(layer, bridge, tunnel)``."""
    tunnel = np.mod(codes, 2)
    bridge = np.mod(codes // 2, 2)
    return codes // 4, bridge.astype(bool), tunnel.astype(bool)


def coordinate_ids(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the id of each vertex's coordinate pair, and how many vertices share each id.

    The ids are the ranks of the distinct coordinates sorted by x then y, exactly as
    ``np.unique(coords, axis=0, return_inverse=True, return_counts=True)`` numbers them, found
    by hashing each pair as one complex number and sorting only the distinct ones: numpy sorts
    every row, the slowest step of a large network build.
    """
    pairs = np.empty(coords.shape[0], dtype=np.complex128)
    pairs.real, pairs.imag = coords[:, 0], coords[:, 1]
    codes, distinct = pd.factorize(pairs, use_na_sentinel=False)
    order = np.lexsort((distinct.imag, distinct.real))
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    vid = rank[codes]
    return vid, np.bincount(vid, minlength=order.size)


def _positions(coords: np.ndarray, vid: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Position cluster of every vertex: its coordinate, or coordinates within the tolerance."""
    if tolerance_m <= 0:
        return vid
    n_distinct = int(vid.max()) + 1
    first = np.full(n_distinct, -1, dtype=np.int64)
    first[vid[::-1]] = np.arange(vid.size)[::-1]
    distinct = coords[first]
    tree = cKDTree(distinct, balanced_tree=False, compact_nodes=False)  # builds ~2x faster
    pairs = tree.query_pairs(tolerance_m, output_type="ndarray")
    if pairs.size == 0:
        return vid
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                              shape=(n_distinct, n_distinct))
    _, label = csgraph.connected_components(graph, directed=False)
    cluster: np.ndarray = label[vid]
    return cluster


def _union(n: int, pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, int]:
    """Label the connected components of ``n`` items joined by the given (a, b) index pairs.

    Returns the labels (``0..K-1``) and ``K``.
    """
    a = np.concatenate([p[0] for p in pairs]) if pairs else np.empty(0, dtype=np.int64)
    b = np.concatenate([p[1] for p in pairs]) if pairs else np.empty(0, dtype=np.int64)
    graph = sparse.coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n))
    n_comp, label = csgraph.connected_components(graph, directed=False)
    return np.asarray(label, dtype=np.int64), int(n_comp)


def _by_key(rows: np.ndarray, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs joining each of ``rows`` to the first row with the same keys (a star per group)."""
    if rows.size == 0:
        return rows, rows
    group = np.zeros(rows.size, dtype=np.int64)
    for key in keys:
        codes, distinct = pd.factorize(key)
        group = pd.factorize(group * (len(distinct) + 1) + codes)[0]
    first = np.full(int(group.max()) + 1, -1, dtype=np.int64)
    first[group[::-1]] = rows[::-1]
    return rows, first[group]


def _reasons(cluster: np.ndarray, label: np.ndarray, level: np.ndarray,
             mode: str) -> dict[str, int]:
    """Nodes kept apart per reason: extra labels at each position, by what tells them apart."""
    n_labels = pd.DataFrame({"c": cluster, "l": label}).drop_duplicates().groupby("c").size()
    extra = n_labels[n_labels > 1] - 1
    if extra.empty:
        return {}
    if mode == "keep":
        return {"node ids": int(extra.sum())}
    sel = np.isin(cluster, extra.index.to_numpy())
    layer, bridge, tunnel = level_parts(level[sel])
    groups = pd.DataFrame({"c": cluster[sel], "layer": layer, "bridge": bridge,
                           "tunnel": tunnel}).groupby("c")
    differs = groups.nunique().reindex(extra.index) > 1
    reason = np.where(differs["bridge"], "bridge", np.where(differs["tunnel"], "tunnel", "layer"))
    counts = pd.Series(extra.to_numpy()).groupby(reason).sum()
    return {r: int(counts[r]) for r in REASONS if r in counts.index}


def vertex_nodes(
    coords: np.ndarray,
    line_idx: np.ndarray,
    *,
    levels: np.ndarray | None = None,
    node_ids: np.ndarray | None = None,
    mode: CoincidentNodes = "merge",
    tolerance_m: float = COINCIDENT_TOLERANCE_M,
) -> tuple[np.ndarray, np.ndarray, CoincidentReport]:
    """Decide which graph node every vertex of the street lines is (module docstring).

    Parameters
    ----------
    coords
        ``(V, 2)`` vertices in a metric CRS, grouped by line in line order.
    line_idx
        ``(V,)`` the line of each vertex (sorted).
    levels
        One :func:`line_levels` code per line (indexed by ``line_idx``); all 0 when None.
    node_ids
        ``(V,)`` OSM node id of each vertex, :data:`NO_NODE_ID` where a vertex has none; None
        for a line layer.
    mode
        ``"merge"`` or ``"keep"`` (module docstring).
    tolerance_m
        Vertices this close are at one position (``mode="merge"`` only).

    Returns
    -------
    label, coords, report
        A node label per vertex (``0..K-1``, ordered by position), the coordinates with merged
        vertices moved onto their node's position, and the :class:`CoincidentReport`.

    Examples
    --------
    A road and a bridge over it, and a side street whose end sits on the road's interior
    vertex, all three with their own vertex at (50, 0):

    >>> import numpy as np
    >>> coords = np.array([[0, 0], [50, 0], [100, 0],      # road, ground level
    ...                    [50, -50], [50, 0], [50, 50],   # bridge over it
    ...                    [50, 0], [50, -80.0]])          # side street ending on the road
    >>> line_idx = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    >>> levels = np.array([0, 6, 0])                       # bridge=yes layer=1 on line 1
    >>> label, _, report = vertex_nodes(coords, line_idx, levels=levels,
    ...                                 node_ids=np.arange(8))
    >>> label[[1, 4, 6]].tolist()                          # road and side street meet
    [3, 4, 3]
    >>> report.text()
    'coincident nodes: 1 merged, 1 kept apart (1 bridge)'
    """
    n = coords.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64), coords, CoincidentReport(mode, float(tolerance_m))
    vid, _ = coordinate_ids(coords)
    levels_v = (np.zeros(n, dtype=np.int64) if levels is None
                else np.asarray(levels, dtype=np.int64)[line_idx])
    known = np.zeros(n, dtype=bool) if node_ids is None else node_ids != NO_NODE_ID
    # Identity: the OSM node id where known, else the exact coordinate (odd/even keep apart).
    ident = vid * 2
    if node_ids is not None:
        ident = np.where(known, np.where(known, node_ids, 0) * 2 + 1, ident)
    position = vid if mode == "keep" else _positions(coords, vid, tolerance_m)
    same_line = line_idx[1:] == line_idx[:-1]
    # Only vertices sharing a position with another vertex can be joined.
    busy = np.bincount(position)[position] > 1
    rows = np.flatnonzero(busy)
    pairs = [_by_key(rows[known[rows]], ident[rows][known[rows]])]
    consecutive = np.flatnonzero(same_line & (vid[1:] == vid[:-1]))
    pairs.append((consecutive, consecutive + 1))
    if mode == "keep":
        pairs.append(_by_key(rows[~known[rows]], vid[rows][~known[rows]]))
    else:
        pairs.append(_by_key(rows, position[rows], levels_v[rows]))
        is_end = np.ones(n, dtype=bool)
        is_end[1:-1] = ~(same_line[1:] & same_line[:-1])
        # A line layer's line end meets every line at its position, whatever the level.
        free = rows[~known[rows]]
        landing = np.zeros(int(position.max()) + 1, dtype=bool)
        landing[position[free[is_end[free]]]] = True
        at_end = free[landing[position[free]]]
        pairs.append(_by_key(at_end, position[at_end]))
    comp, n_comp = _union(n, pairs)
    # Dense labels ordered by position (x, then y, then first vertex), as coordinate noding was.
    first = np.full(n_comp, -1, dtype=np.int64)
    first[comp[::-1]] = np.arange(n)[::-1]
    order = np.lexsort((first, coords[first, 1], coords[first, 0]))
    dense = np.empty(n_comp, dtype=np.int64)
    dense[order] = np.arange(n_comp)
    label = dense[comp]
    moved = coords[first[comp]]

    ident_per_label = pd.DataFrame({"l": label[rows], "i": ident[rows]}).drop_duplicates()
    merged = int(len(ident_per_label) - ident_per_label["l"].nunique())
    kept = _reasons(position[rows], label[rows], levels_v[rows], mode)
    report = CoincidentReport(mode=mode, tolerance_m=float(tolerance_m), merged=merged,
                              kept_apart=kept)
    return label, moved, report


__all__ = ["NO_NODE_ID", "REASONS", "CoincidentReport", "coordinate_ids", "level_parts", "line_levels",
           "vertex_nodes"]
