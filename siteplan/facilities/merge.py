"""Duplicate facilities: repeated ids, and one place mapped as several same-name features.

:func:`unique_ids` keeps one row per element and class (overlapping downloads list an element
twice) and makes the ids of distinct rows unique.  :func:`merge_same_name` merges same-name
facilities of a class that lie close together (a metro station mapped once per exit) into one,
so counts within a radius count places, not map features: a metro station mapped once per exit
or per track, a bus stop mapped on both sides of the road or as a platform and a pole.
:func:`absorb_buildings` folds a hospital's buildings, mapped as ``building=hospital``, into the
hospital.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from siteplan.io.crs import analysis_crs

_MERGE_SUFFIX = re.compile(r"\s*[（(][^（()）]*[)）]\s*$|(?:地铁站|站)?(?:[A-Za-z]\d*(?:出入口|出口|入口|口))?$")


def unique_ids(out: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per element and class; distinct rows sharing an id get ``~1``, ``~2``... suffixes."""
    # The same element listed twice (overlapping downloads) is one facility; distinct rows
    # that share an id (a user's layer) get a suffix so that ids stay unique within a class.
    same = out.duplicated(["class", "facility_id"])
    if not same.any():
        return out.reset_index(drop=True)
    geom_dup = pd.Series(shapely.to_wkb(out.geometry.values), index=out.index)
    exact = pd.DataFrame({"c": out["class"], "i": out["facility_id"], "g": geom_dup}).duplicated()
    out = out[~exact.to_numpy()].copy()
    k = out.groupby(["class", "facility_id"]).cumcount()
    out.loc[k > 0, "facility_id"] = out["facility_id"] + "~" + k.astype(str)
    return out.reset_index(drop=True)


def merge_key(names: pd.Series) -> pd.Series:
    """Names as compared when merging: 府西街（D出口） and 府西街地铁站C口 both give 府西街."""
    key = names.astype("string").str.strip()
    for _ in range(2):  # a bracketed suffix may hide an exit letter and vice versa
        key = key.str.replace(_MERGE_SUFFIX, "", regex=True).str.strip()
    return key


def _cluster(pts: np.ndarray, classes: np.ndarray, key: np.ndarray, named: np.ndarray,
             radius: np.ndarray, radius_unnamed: np.ndarray) -> np.ndarray:
    """Return cluster labels of facilities that are one place.

    Two rows join when they have the same class and the same name within ``radius``, or,
    where either has no name, within ``radius_unnamed`` (per row, from its class).
    """
    reach = float(max(radius.max(), radius_unnamed.max()))
    pairs = cKDTree(pts).query_pairs(reach, output_type="ndarray") if reach > 0 else None
    if pairs is not None and pairs.size:
        a, b = pairs[:, 0], pairs[:, 1]
        dist = np.hypot(*(pts[a] - pts[b]).T)
        both = named[a] & named[b]
        same = (classes[a] == classes[b]) & np.where(
            both, (key[a] == key[b]) & (dist <= radius[a]), dist <= radius_unnamed[a])
        a, b = a[same], b[same]
    else:
        a = b = np.empty(0, dtype=np.int64)
    n = len(pts)
    graph = sparse.coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
    _, label = csgraph.connected_components(graph, directed=False)
    return np.asarray(label, dtype=np.int64)


def merge_same_name(out: gpd.GeoDataFrame, merge: Mapping[str, float],
                    unnamed: Mapping[str, float] | None = None) -> gpd.GeoDataFrame:
    """Merge same-name facilities of the classes in ``merge`` closer than its distance (m).

    With ``unnamed``, a facility of those classes without a name also merges with any facility
    of its class closer than that distance (a bus stop's platform and pole, mapped unnamed).
    Each cluster keeps its named member with the smallest id (else its smallest id), moved to
    the centroid of the members' points and named by :func:`merge_key`; ``merged_ids`` lists
    the members (``<NA>`` elsewhere).
    """
    unnamed = dict(unnamed or {})
    out = out.copy()
    if "merged_ids" not in out.columns:
        out["merged_ids"] = pd.array([pd.NA] * len(out), dtype="string")
    has_name = out["name"].notna().to_numpy(bool)
    in_merge = out["class"].isin(list(merge)).to_numpy(dtype=bool)
    in_unnamed = out["class"].isin(list(unnamed)).to_numpy(dtype=bool)
    todo = (in_merge & has_name) | in_unnamed
    if not todo.any():
        return out
    sub = out[todo]
    metric = analysis_crs(sub)
    pts = shapely.get_coordinates(sub.to_crs(metric).geometry.representative_point().values)
    radius = sub["class"].map(dict(merge)).fillna(0.0).to_numpy(dtype=float)
    radius_unnamed = sub["class"].map(unnamed).fillna(0.0).to_numpy(dtype=float)
    named = has_name[todo]
    key = merge_key(sub["name"]).fillna("").to_numpy(dtype=object)
    label = _cluster(pts, sub["class"].to_numpy(), key, named, radius, radius_unnamed)
    size = np.bincount(label)
    if (size == 1).all():
        return out
    ids = sub["facility_id"].to_numpy(dtype=object)
    order = np.lexsort((ids, ~named, label))
    first = np.r_[True, label[order][1:] != label[order][:-1]]
    keeper = order[first]  # per cluster, the named member with the smallest id
    centre = np.column_stack([np.bincount(label, weights=pts[:, i]) / size for i in (0, 1)])
    members = pd.Series(ids).groupby(label).agg(lambda s: ";".join(sorted(s)))
    merged = sub.iloc[keeper].copy()
    lab = label[keeper]
    multi = size[lab] > 1
    geoms = np.asarray(merged.geometry.values, dtype=object).copy()
    moved = gpd.GeoSeries(shapely.points(centre[lab[multi]]), crs=metric).to_crs(out.crs)
    geoms[multi] = np.asarray(moved.values, dtype=object)
    merged = merged.set_geometry(gpd.GeoSeries(geoms, index=merged.index, crs=out.crs))
    merged.loc[multi, "merged_ids"] = members.to_numpy()[lab[multi]]
    renamed = multi & named[keeper]
    merged.loc[renamed, "name"] = key[keeper][renamed]
    rest = out[~todo]
    result = pd.concat([rest, merged]).sort_values(["class", "facility_id"])
    return gpd.GeoDataFrame(result, geometry="geometry", crs=out.crs).reset_index(drop=True)


def absorb_buildings(out: gpd.GeoDataFrame, weak: np.ndarray, class_: str,
                     radius_m: float) -> gpd.GeoDataFrame:
    """Merge facilities mapped only as a building into a real one of their class nearby.

    A ``weak`` row (a ``building=hospital`` without any hospital tag) within ``radius_m`` of a
    facility of ``class_`` that is not weak is one of its buildings (门诊楼, 住院部): it is
    dropped and listed in that facility's ``merged_ids``.  Weak rows that are not near one are
    clustered among themselves within the same distance (one campus mapped as buildings only)
    and each cluster is one facility (the smallest id; ``merged_ids`` lists the members).
    """
    out = out.reset_index(drop=True)
    if "merged_ids" not in out.columns:
        out["merged_ids"] = pd.array([pd.NA] * len(out), dtype="string")
    in_class = (out["class"] == class_).to_numpy(dtype=bool)
    weak = weak & in_class
    if not weak.any():
        return out
    strong = in_class & ~weak
    rows = np.flatnonzero(in_class)
    metric = analysis_crs(out.iloc[rows])
    geoms = np.asarray(out.iloc[rows].to_crs(metric).geometry.values, dtype=object)
    pos = np.full(len(out), -1, dtype=np.int64)
    pos[rows] = np.arange(rows.size)
    ids = out["facility_id"].to_numpy(dtype=object)
    members: dict[int, list[str]] = {}
    drop = np.zeros(len(out), dtype=bool)
    strong_rows = np.flatnonzero(strong)
    weak_rows = np.flatnonzero(weak)
    if strong_rows.size:
        tree = shapely.STRtree(geoms[pos[strong_rows]])
        w_idx, s_idx = tree.query_nearest(geoms[pos[weak_rows]],
                                          max_distance=radius_m, all_matches=False)
        for w, s in zip(weak_rows[w_idx].tolist(), strong_rows[s_idx].tolist(), strict=True):
            members.setdefault(s, [ids[s]]).append(ids[w])
            drop[w] = True
    left = weak_rows[~drop[weak_rows]]
    if left.size > 1:
        pts = shapely.get_coordinates(shapely.point_on_surface(geoms[pos[left]]))
        no_name = np.zeros(left.size, dtype=bool)
        label = _cluster(pts, np.zeros(left.size), np.zeros(left.size), no_name,
                         np.zeros(left.size), np.full(left.size, radius_m))
        for lab in np.unique(label):
            group = left[label == lab]
            if group.size > 1:
                keeper = group[np.argmin(ids[group].astype(str))]
                members[int(keeper)] = sorted(ids[group].astype(str).tolist())
                drop[group[group != keeper]] = True
    for row, ids_of in members.items():
        out.loc[row, "merged_ids"] = ";".join(sorted(set(map(str, ids_of))))
    return out[~drop].reset_index(drop=True)


__all__ = ["absorb_buildings", "merge_key", "merge_same_name", "unique_ids"]
