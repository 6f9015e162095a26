"""Duplicate facilities: repeated ids, and one place mapped as several same-name features.

:func:`unique_ids` keeps one row per element and class (overlapping downloads list an element
twice) and makes the ids of distinct rows unique.  :func:`merge_same_name` merges same-name
facilities of a class that lie close together (a metro station mapped once per exit) into one,
so counts within a radius count places, not map features.
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


def merge_same_name(out: gpd.GeoDataFrame, merge: Mapping[str, float]) -> gpd.GeoDataFrame:
    """Merge same-name facilities of the classes in ``merge`` closer than its distance (m).

    Each cluster keeps the member with the smallest id, moved to the centroid of the members'
    points, named by :func:`merge_key`; ``merged_ids`` lists the members (``<NA>`` elsewhere).
    """
    out = out.copy()
    out["merged_ids"] = pd.array([pd.NA] * len(out), dtype="string")
    todo = out["class"].isin(list(merge)).to_numpy(dtype=bool) & out["name"].notna().to_numpy(bool)
    if not todo.any():
        return out
    sub = out[todo]
    metric = analysis_crs(sub)
    pts = shapely.get_coordinates(sub.to_crs(metric).geometry.representative_point().values)
    radius = sub["class"].map(dict(merge)).to_numpy(dtype=float)
    key = merge_key(sub["name"]).to_numpy(dtype=object)
    pairs = cKDTree(pts).query_pairs(float(radius.max()), output_type="ndarray")
    if pairs.size:
        a, b = pairs[:, 0], pairs[:, 1]
        dist = np.hypot(*(pts[a] - pts[b]).T)
        same = (sub["class"].to_numpy()[a] == sub["class"].to_numpy()[b]) & (
            key[a] == key[b]) & (dist <= radius[a])
        a, b = a[same], b[same]
    else:
        a = b = np.empty(0, dtype=np.int64)
    n = len(sub)
    graph = sparse.coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
    _, label = csgraph.connected_components(graph, directed=False)
    size = np.bincount(label)
    if (size == 1).all():
        return out
    ids = sub["facility_id"].to_numpy(dtype=object)
    order = np.lexsort((ids, label))
    first = np.r_[True, label[order][1:] != label[order][:-1]]
    keeper = order[first]  # per cluster, the member with the smallest id
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
    merged.loc[multi, "name"] = key[keeper][multi]
    rest = out[~todo]
    result = pd.concat([rest, merged]).sort_values(["class", "facility_id"])
    return gpd.GeoDataFrame(result, geometry="geometry", crs=out.crs).reset_index(drop=True)


__all__ = ["merge_key", "merge_same_name", "unique_ids"]
