"""Network access: nearest-facility distances, walking times and counts within radii.

:func:`facility_access` is the engine's main entry point.  For every target (parcel or any other
feature) and every facility class it adds the columns of the naming contract:

- ``dist_<class>_m``: walking distance along streets to the nearest facility of the class, access
  legs at both ends included; NaN when none lies within the search limit or the target cannot
  reach the network (never a sentinel number);
- ``time_<class>_min``: the same at the configured walking speed;
- ``nearest_<class>_id``: that facility's ``facility_id`` (missing where the distance is NaN);
- ``nearest_<class>_name``: its ``name``, when the facilities have names;
- ``n_<class>_<r>m``: how many facilities of the class lie within ``r`` metres.

Nearest distances come from one multi-source bounded Dijkstra pass per class
(:func:`siteplan.network.paths.nearest_source_nodes`); counts from per-facility bounded passes in
memory-bounded chunks, never an F x N matrix.  :func:`node_access` gives the same per network
node.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from siteplan.core.columns import (
    count_column,
    distance_column,
    nearest_column,
    nearest_name_column,
    time_column,
)
from siteplan.core.defaults import MAX_SNAP_M, SEARCH_LIMIT_M, WALK_SPEED_MPS
from siteplan.core.errors import InputError
from siteplan.network.graph import Network
from siteplan.network.paths import (
    NodeReach,
    bounded_from_each,
    nearest_source_nodes,
    target_distances,
)
from siteplan.network.snapping import Snap, SnapPoint, snap


@dataclass(frozen=True)
class AccessResult:
    """What :func:`facility_access` computed.

    Attributes
    ----------
    table
        One row per target (same index as the targets): ``unreachable``, ``access_leg_m`` and
        the distance, time, nearest-id (and name) and count columns of every class.
    unreachable
        Targets and facilities that could not reach the network: ``kind`` (``"target"`` or
        ``"facility"``), ``id``, ``class``, ``nearest_street_m``, ``reason``.
    facility_snaps
        Per class, the facilities' :class:`~siteplan.network.snapping.Snap` and their ids (for
        catchments and reports).
    """

    table: pd.DataFrame
    unreachable: pd.DataFrame
    facility_snaps: dict[str, tuple[Snap, np.ndarray]]


def _in_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries, net: Network, what: str) -> np.ndarray:
    """Return the geometries of ``frame`` in ``net.crs``, refusing a layer without a CRS."""
    if frame.crs is None:
        raise InputError(f"the {what} have no CRS.", where=what,
                         fix="set one (gdf.set_crs(...)) before computing access.")
    return np.asarray(frame.to_crs(net.crs).geometry.values, dtype=object)


def _check_facilities(facilities: gpd.GeoDataFrame) -> None:
    """Refuse facilities without the ``facility_id`` and ``class`` columns."""
    missing = [c for c in ("facility_id", "class") if c not in facilities.columns]
    if missing:
        raise InputError(
            f"the facilities have no {', '.join(missing)} column(s).",
            where="facilities",
            fix="classify them first (siteplan.facilities.classify.classify_facilities) or add the "
            "columns facility_id and class.",
        )


# Facility snaps already computed, per network: a study snaps the same facilities for access,
# catchments, served units and coverage; polygons at their nearest boundary cost seconds.
_SNAP_MEMO: weakref.WeakKeyDictionary[Network, OrderedDict[str, Snap]] = (
    weakref.WeakKeyDictionary())
_SNAP_MEMO_SIZE = 64


def _geometry_key(geoms: np.ndarray, how: SnapPoint, max_snap_m: float) -> str:
    """Return a digest of the geometries (types, counts, coordinates) and the snap rule."""
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{how}|{max_snap_m!r}|{geoms.shape[0]}".encode())
    for arr in (shapely.get_type_id(geoms), shapely.get_num_coordinates(geoms),
                shapely.get_num_geometries(geoms), shapely.get_num_interior_rings(geoms),
                shapely.get_coordinates(geoms)):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _snap_memo(net: Network, geoms: np.ndarray, how: SnapPoint, max_snap_m: float) -> Snap:
    """Snap ``geoms``, or return the snap of the same geometries on this network."""
    memo = _SNAP_MEMO.setdefault(net, OrderedDict())
    key = _geometry_key(geoms, how, max_snap_m)
    if key in memo:
        memo.move_to_end(key)
        return memo[key]
    out = snap(net, geoms, how=how, max_snap_m=max_snap_m)
    memo[key] = out
    while len(memo) > _SNAP_MEMO_SIZE:
        memo.popitem(last=False)
    return out


def snap_facilities(
    net: Network,
    facilities: gpd.GeoDataFrame,
    classes: Sequence[str],
    *,
    how: SnapPoint = "representative",
    max_snap_m: float = MAX_SNAP_M,
) -> dict[str, tuple[Snap, np.ndarray]]:
    """Snap the facilities of each class; ``{class: (snap, facility_ids)}``.

    A class's snap is computed once per network: the same facilities snapped again (by the
    next stage of a study) are looked up by a digest of their geometries.
    """
    _check_facilities(facilities)
    geoms = _in_crs(facilities, net, "facilities")
    cls_values = facilities["class"].astype(str).to_numpy()
    ids = facilities["facility_id"].astype(str).to_numpy()
    out = {}
    for cls in classes:
        rows = np.flatnonzero(cls_values == cls)
        out[cls] = (_snap_memo(net, geoms[rows], how, max_snap_m), ids[rows])
    return out


def ids_at(ids: np.ndarray, index: np.ndarray) -> pd.arrays.StringArray:
    """Return ``ids[index]`` as a string array, missing where ``index`` is -1."""
    # One vectorised take on the few facility ids, not an object array as long as the targets.
    return pd.array(ids, dtype="string").take(index, allow_fill=True)


def _unreachable_rows(sn: Snap, ids: np.ndarray, kind: str, cls: str | None) -> pd.DataFrame:
    """Return the unreachable report of one snap, with its ``kind`` and ``class``."""
    rep = sn.unreachable_report(ids)
    rep.insert(0, "kind", kind)
    rep.insert(2, "class", cls)
    return rep


def reach_pairs(
    net: Network,
    targets: Snap,
    sources: Snap,
    radius_m: float,
    *,
    budget_bytes: int = 256 * 2**20,
) -> sparse.csr_matrix:
    """Find every (source, target) pair within ``radius_m`` along the network.

    Per-source bounded passes on local subgraphs in memory-bounded blocks
    (:func:`siteplan.network.paths.bounded_from_each`; never an F x N matrix); access legs at
    both ends count, and a source on a target's own edge reaches it directly along the edge.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(S, M)``: entry ``(i, j)`` is the distance from source ``i`` to target ``j`` when it is
        ``<= radius_m``; absent otherwise.  A distance of exactly 0 is stored as 1e-9 m so that
        it is not dropped.  Column indices are sorted within each row.
    """
    shape = (len(sources), len(targets))
    ok = np.flatnonzero(targets.reachable)
    if ok.size == 0 or not sources.reachable.any():
        return sparse.csr_matrix(shape)
    e = targets.edge[ok]
    off = targets.offset_m[ok]
    acc = targets.access_m[ok]
    tu, tv = net.edge_u[e], net.edge_v[e]
    rest = net.edge_length[e] - off
    # Targets by end node and by edge: a block reaches a target through an end inside its
    # subgraph, or along a source's own edge (whose ends may both lie beyond the radius).
    by_node = sparse.csr_matrix(
        (np.ones(2 * ok.size), (np.concatenate([tu, tv]), np.tile(np.arange(ok.size), 2))),
        shape=(net.n_nodes, ok.size))
    by_edge = sparse.csr_matrix((np.ones(ok.size), (e, np.arange(ok.size))),
                                shape=(net.n_edges, ok.size))
    local = np.full(net.n_nodes, -1, dtype=np.int64)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for src, nodes, d in bounded_from_each(net, sources, radius_m, budget_bytes=budget_bytes):
        t = np.unique(np.concatenate([by_node[nodes].indices, by_edge[sources.edge[src]].indices]))
        if t.size == 0:
            continue
        local[nodes] = np.arange(nodes.size)
        lu, lv = local[tu[t]], local[tv[t]]  # -1: outside the subgraph, i.e. beyond reach
        local[nodes] = -1
        pad = np.concatenate([d, np.full((d.shape[0], 1), np.inf)], axis=1)
        best = np.minimum(pad[:, lu] + off[t], pad[:, lv] + rest[t]) + acc[t]
        same = sources.edge[src][:, None] == e[t][None, :]
        if same.any():
            si, ti = np.nonzero(same)
            direct = (sources.access_m[src][si] + np.abs(sources.offset_m[src][si] - off[t][ti])
                      + acc[t][ti])
            best[si, ti] = np.minimum(best[si, ti], direct)
        si, ti = np.nonzero(best <= radius_m)
        rows.append(src[si])
        cols.append(ok[t[ti]])
        vals.append(np.maximum(best[si, ti], 1e-9))
    if not rows:
        return sparse.csr_matrix(shape)
    pairs = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)
    # Blocks come in Morton order: sorted indices make the matrix (and any sum over its rows)
    # independent of that order.
    pairs.sort_indices()
    return pairs


def _reach_counts(
    net: Network, targets: Snap, sources: Snap, radii: Sequence[float], budget_bytes: int
) -> np.ndarray:
    """Count the sources within each radius of each target: ``(len(radii), M)``."""
    pairs = reach_pairs(net, targets, sources, max(radii), budget_bytes=budget_bytes).tocoo()
    counts = np.zeros((len(radii), len(targets)), dtype=np.int64)
    for k, r in enumerate(radii):
        within = pairs.data <= r
        counts[k] = np.bincount(pairs.col[within], minlength=len(targets))
    return counts


def facility_access(
    net: Network,
    targets: gpd.GeoDataFrame | gpd.GeoSeries,
    facilities: gpd.GeoDataFrame,
    *,
    classes: Sequence[str] | None = None,
    count_radii: Mapping[str, Sequence[float]] | None = None,
    search_limit_m: float = SEARCH_LIMIT_M,
    max_snap_m: float = MAX_SNAP_M,
    target_point: SnapPoint = "representative",
    facility_point: SnapPoint = "representative",
    speed_mps: float = WALK_SPEED_MPS,
    target_ids: Sequence[object] | None = None,
    budget_bytes: int = 256 * 2**20,
) -> AccessResult:
    """Measure walking access from every target to the facilities of each class.

    Parameters
    ----------
    net
        The walking network.
    targets
        Parcels (or any features) with a CRS; they are reprojected to ``net.crs``.
    facilities
        Classified facilities: ``facility_id``, ``class`` and geometry, with a CRS.
    classes
        Classes to compute; every class present in ``facilities`` by default.  A class with no
        facilities gets all-NaN distances and zero counts.
    count_radii
        ``{class: [r, ...]}``: radii in metres for the ``n_<class>_<r>m`` counts.
    search_limit_m
        Distances beyond this are NaN (default 3000 m).
    max_snap_m
        Features farther than this from every walkable edge are unreachable (default 200 m).
    target_point, facility_point
        Which point of a feature snaps (see :func:`siteplan.network.snapping.snap`): targets
        default to the representative point, ``"centroid"`` is the alternative; facilities
        default to the representative point, ``"nearest-boundary"`` suits large school or
        hospital grounds.
    speed_mps
        Walking speed for ``time_<class>_min``: 1.2 m/s (adult) by default, 0.8 m/s for the
        elderly profile (:data:`siteplan.core.defaults.ELDERLY_SPEED_MPS`).
    target_ids
        Ids for the unreachable report (the targets' ``parcel_id`` column, else their index).
    budget_bytes
        Memory bound of one block of per-facility passes (counts only).

    Returns
    -------
    AccessResult
        The per-target table of distances, times, nearest ids and counts, the report of what
        could not reach the network, and the facilities' snaps.

    Raises
    ------
    InputError
        A search limit, speed or count radius that is not a positive number, facilities
        without ``facility_id`` or ``class``, or a layer without a CRS.

    Examples
    --------
    Two parcels 50 m south of a street with a kindergarten in its middle:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import facility_access, graph_from_lines
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"]},
    ...                       geometry=[Point(1000, 0)], crs=crs)
    >>> parcels = gpd.GeoDataFrame(
    ...     {"parcel_id": ["a", "b"]},
    ...     geometry=[box(1100, -80, 1200, -20), box(1600, -80, 1700, -20)], crs=crs)
    >>> res = facility_access(net, parcels, kg, count_radii={"kindergarten": [500]})
    >>> res.table[["dist_kindergarten_m", "n_kindergarten_500m"]].values.tolist()
    [[200.0, 1.0], [700.0, 0.0]]
    >>> res.table["nearest_kindergarten_id"].tolist()
    ['k1', 'k1']
    """
    if not (np.isfinite(search_limit_m) and search_limit_m > 0):
        raise InputError(f"search_limit_m must be a positive number of metres, got "
                         f"{search_limit_m}.", where="access", fix="use e.g. 3000.")
    if not (np.isfinite(speed_mps) and speed_mps > 0):
        raise InputError(f"walking speed must be positive, got {speed_mps} m/s.",
                         where="access", fix="use 1.2 (adult) or 0.8 (elderly).")
    _check_facilities(facilities)
    if classes is None:
        classes = sorted(facilities["class"].dropna().astype(str).unique())
    count_radii = dict(count_radii or {})
    for cls, radii in count_radii.items():
        for r in radii:
            if not (np.isfinite(r) and r > 0):
                raise InputError(f"count radius {r!r} for {cls!r} is not a positive number.",
                                 where="access", fix="give radii in metres, > 0.")
    geoms = _in_crs(targets, net, "targets")
    if target_ids is not None:
        ids_arr = np.asarray(target_ids, dtype=object)
    elif isinstance(targets, gpd.GeoDataFrame) and "parcel_id" in targets.columns:
        ids_arr = targets["parcel_id"].to_numpy(dtype=object)
    else:
        ids_arr = np.asarray(targets.index, dtype=object)
    tsnap = snap(net, geoms, how=target_point, max_snap_m=max_snap_m)
    fsnaps = snap_facilities(net, facilities, classes, how=facility_point, max_snap_m=max_snap_m)
    cls_values = facilities["class"].astype(str).to_numpy()
    names = (facilities["name"].astype("string").to_numpy() if "name" in facilities.columns
             else None)

    cols: dict[str, object] = {
        "unreachable": ~tsnap.reachable,
        "nearest_street_m": tsnap.nearest_m,
        "access_leg_m": tsnap.access_m,
    }
    reports = [_unreachable_rows(tsnap, ids_arr, "target", None)]
    for cls in classes:
        fsnap, fids = fsnaps[cls]
        reports.append(_unreachable_rows(fsnap, fids, "facility", cls))
        reach = nearest_source_nodes(net, fsnap, search_limit_m)
        dist, src = target_distances(net, reach, tsnap, fsnap, search_limit_m)
        cols[distance_column(cls)] = dist
        cols[time_column(cls)] = dist / speed_mps / 60.0
        cols[nearest_column(cls)] = ids_at(fids, src)
        if names is not None:
            cols[nearest_name_column(cls)] = ids_at(names[cls_values == cls], src)
        radii = list(count_radii.get(cls, []))
        if radii:
            counts = _reach_counts(net, tsnap, fsnap, radii, budget_bytes)
            for r, c in zip(radii, counts, strict=True):
                cols[count_column(cls, r)] = c
    table = pd.DataFrame(cols, index=targets.index)
    unreachable = pd.concat(reports, ignore_index=True)
    return AccessResult(table, unreachable, fsnaps)


def node_access(
    net: Network,
    facilities: gpd.GeoDataFrame,
    *,
    classes: Sequence[str] | None = None,
    search_limit_m: float = SEARCH_LIMIT_M,
    max_snap_m: float = MAX_SNAP_M,
    facility_point: SnapPoint = "representative",
    speed_mps: float = WALK_SPEED_MPS,
) -> pd.DataFrame:
    """Measure the nearest-facility distance, time and id at every network node.

    Parameters
    ----------
    net
        The walking network.
    facilities
        Classified facilities: ``facility_id``, ``class`` and geometry, with a CRS.
    classes
        Classes to compute; every class present in ``facilities`` by default.
    search_limit_m
        Distances beyond this are NaN.
    max_snap_m
        Facilities farther than this from every walkable edge are unreachable.
    facility_point
        Which point of a facility snaps (see :func:`siteplan.network.snapping.snap`).
    speed_mps
        Walking speed for ``time_<class>_min``.

    Returns
    -------
    pandas.DataFrame
        ``N`` rows indexed by node id, with ``dist_<class>_m``, ``time_<class>_min``,
        ``nearest_<class>_id`` and (when the facilities have names) ``nearest_<class>_name``
        per class.

    Raises
    ------
    InputError
        Facilities without ``facility_id`` or ``class``, or without a CRS.

    Examples
    --------
    The two ends of a 2 km street with a kindergarten in its middle:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import node_access, graph_from_lines
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"]},
    ...                       geometry=[Point(1000, 0)], crs=crs)
    >>> nodes = node_access(net, kg)
    >>> nodes[["dist_kindergarten_m", "nearest_kindergarten_id"]].values.tolist()
    [[1000.0, 'k1'], [1000.0, 'k1']]
    """
    _check_facilities(facilities)
    if classes is None:
        classes = sorted(facilities["class"].dropna().astype(str).unique())
    fsnaps = snap_facilities(net, facilities, classes, how=facility_point, max_snap_m=max_snap_m)
    cls_values = facilities["class"].astype(str).to_numpy()
    names = (facilities["name"].astype("string").to_numpy() if "name" in facilities.columns
             else None)
    cols: dict[str, object] = {}
    for cls in classes:
        fsnap, fids = fsnaps[cls]
        reach: NodeReach = nearest_source_nodes(net, fsnap, search_limit_m)
        dist = np.where(np.isfinite(reach.dist), reach.dist, np.nan)
        cols[distance_column(cls)] = dist
        cols[time_column(cls)] = dist / speed_mps / 60.0
        cols[nearest_column(cls)] = ids_at(fids, reach.source)
        if names is not None:
            cols[nearest_name_column(cls)] = ids_at(names[cls_values == cls], reach.source)
    return pd.DataFrame(cols, index=pd.RangeIndex(net.n_nodes, name="node_id"))
