"""Life-circle completeness: which facility types each parcel's or estate's circles hold.

For every type of the life-circle preset (:mod:`siteplan.facilities.lifecircle`) one
multi-source walk from all its facilities gives every target its distance to the nearest one
(:func:`siteplan.access.distances.facility_access` for parcels,
:func:`siteplan.access.served.served_units` from the entrances of residential units); a type is
present in a checklist when that distance is within the checklist's radius: the circle's
(GB 50180-2018 表3.0.4: 300/500/1000 m) for the 5/10/15-minute lists, 500 m for the 完整居住社区
list.  Per checklist ``<list>`` the columns are

- ``lc_<list>_share``: the completeness index, types present / types listed (0-1; NaN for a
  target that cannot reach the network);
- ``lc_<list>_present``, ``lc_<list>_missing`` (English, ``; ``-separated) and their ``_zh``
  siblings (中文, ``、``-separated): the types by name.

Each circle's list holds the types of that circle's own tier (the 15-minute list is the
middle school, health centre, elderly home..., not the kindergarten again): the lower tiers
have their own lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from siteplan.access.distances import facility_access
from siteplan.access.served import served_units
from siteplan.core.columns import distance_column, lc_column
from siteplan.core.defaults import (
    COMPLETE_COMMUNITY_RADIUS_M,
    ENTRANCE_SPACING_M,
    GB50180_CIRCLES_M,
    MAX_SNAP_M,
)
from siteplan.core.labels import LIFE_CIRCLE_TYPES as TYPE_LABELS
from siteplan.facilities.lifecircle import CHECKLISTS, LIFE_CIRCLE_PRESET, LifeCircleType, checklist
from siteplan.network.graph import Network
from siteplan.network.snapping import SnapPoint


def checklist_radius(name: str) -> float:
    """Return the walking radius (m) of a checklist: its circle's, or the 完整居住社区 one."""
    return COMPLETE_COMMUNITY_RADIUS_M if name == "community" else GB50180_CIRCLES_M[name]


def _names_by_mask(present: np.ndarray, keys: Sequence[str], lang: int, sep: str
                   ) -> np.ndarray:
    """Join the names of the columns set in each row: one join per distinct row pattern."""
    if present.shape[1] == 0:
        return np.full(present.shape[0], "", dtype=object)
    # Each row's pattern as one integer (np.unique along axis 0 sorts rows as bytes: ~30x
    # slower on a province's parcels); the labelled types (TYPE_LABELS) are far fewer than 63.
    codes = present.astype(np.int64) @ (np.int64(1) << np.arange(present.shape[1],
                                                                  dtype=np.int64))
    patterns, inverse = np.unique(codes, return_inverse=True)
    texts = np.array([sep.join(TYPE_LABELS[k][lang] for j, k in enumerate(keys)
                               if (code >> j) & 1) for code in patterns.tolist()], dtype=object)
    out: np.ndarray = texts[inverse.ravel()]
    return out


def completeness_columns(
    distances: Mapping[str, np.ndarray],
    index: pd.Index,
    *,
    types: Sequence[LifeCircleType] = LIFE_CIRCLE_PRESET,
    reachable: np.ndarray | None = None,
    lists: Sequence[str] = CHECKLISTS,
) -> pd.DataFrame:
    """Turn distances to each type's nearest facility into the completeness columns.

    Parameters
    ----------
    distances
        ``{type: (N,) metres}`` (NaN: none within the search limit); a type missing here has
        no facility at all.
    index
        The targets' index.
    types
        The life-circle types.
    reachable
        ``(N,)`` False where a target cannot reach the network (its shares become NaN).
    lists
        The checklists to report.

    Returns
    -------
    pandas.DataFrame
        ``lc_<list>_share``, ``_present``, ``_present_zh``, ``_missing``, ``_missing_zh``.

    Examples
    --------
    A parcel 200 m from a kindergarten and 400 m from a pharmacy, nothing else:

    >>> import numpy as np, pandas as pd
    >>> out = completeness_columns({"kindergarten": np.array([200.0]),
    ...                             "pharmacy": np.array([400.0])}, pd.RangeIndex(1))
    >>> float(out.at[0, "lc_5min_share"]), out.at[0, "lc_5min_present_zh"]
    (0.1, '幼儿园')
    >>> out.at[0, "lc_community_present"]
    'kindergarten; pharmacy'
    """
    n = len(index)
    out: dict[str, object] = {}
    for name in lists:
        listed = [t.name for t in checklist(name, types)]
        radius = checklist_radius(name)
        present = np.zeros((n, len(listed)), dtype=bool)
        for j, key in enumerate(listed):
            d = distances.get(key)
            if d is not None:
                present[:, j] = np.asarray(d, dtype=float) <= radius  # NaN compares False
        share = present.mean(axis=1) if listed else np.full(n, np.nan)
        if reachable is not None:
            share = np.where(reachable, share, np.nan)
        out[lc_column(name, "share")] = share
        for what, mask in (("present", present), ("missing", ~present)):
            out[lc_column(name, what)] = pd.array(_names_by_mask(mask, listed, 0, "; "),
                                                  dtype="string")
            out[lc_column(name, f"{what}_zh")] = pd.array(_names_by_mask(mask, listed, 1, "、"),
                                                          dtype="string")
    return pd.DataFrame(out, index=index)


def _search_limit(types: Sequence[LifeCircleType], lists: Sequence[str]) -> float:
    return max(checklist_radius(name) for name in lists if checklist(name, types))


def life_circle_completeness(
    net: Network,
    targets: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    types: Sequence[LifeCircleType] = LIFE_CIRCLE_PRESET,
    lists: Sequence[str] = CHECKLISTS,
    target_point: SnapPoint = "representative",
    facility_point: SnapPoint = "representative",
    max_snap_m: float = MAX_SNAP_M,
) -> pd.DataFrame:
    """Measure each parcel's life-circle completeness (module docstring).

    Parameters
    ----------
    net
        The walking network.
    targets
        Parcels (any features) with a CRS.
    facilities
        The life-circle facilities (:func:`siteplan.facilities.lifecircle.life_circle_facilities`:
        ``class`` is the type).
    types, lists
        The types and the checklists to report.
    target_point, facility_point, max_snap_m
        As in :func:`siteplan.access.distances.facility_access`.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`completeness_columns`, same index as ``targets``.

    Examples
    --------
    A 2 km street; a parcel at its west end, a kindergarten 250 m along and a market 900 m:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point
    >>> from siteplan import graph_from_lines
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> fac = gpd.GeoDataFrame({"facility_id": ["k", "m"], "class": ["kindergarten", "market"]},
    ...                        geometry=[Point(250, 0), Point(900, 0)], crs=crs)
    >>> parcel = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=crs)
    >>> out = life_circle_completeness(net, parcel, fac)
    >>> out.at[0, "lc_5min_present"], out.at[0, "lc_10min_present"]
    ('kindergarten', '')
    """
    names = [t.name for t in types]
    access = facility_access(net, targets, facilities, classes=names,
                             search_limit_m=_search_limit(types, lists), max_snap_m=max_snap_m,
                             target_point=target_point, facility_point=facility_point)
    table = access.table
    dists = {k: table[distance_column(k)].to_numpy(dtype=float) for k in names}
    reachable = ~table["unreachable"].to_numpy(dtype=bool)
    return completeness_columns(dists, targets.index, types=types, reachable=reachable,
                                lists=lists)


def unit_completeness(
    net: Network,
    units: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    types: Sequence[LifeCircleType] = LIFE_CIRCLE_PRESET,
    lists: Sequence[str] = CHECKLISTS,
    entrances: np.ndarray | None = None,
    spacing_m: float = ENTRANCE_SPACING_M,
    facility_point: SnapPoint = "representative",
    max_snap_m: float = MAX_SNAP_M,
) -> pd.DataFrame:
    """Measure each residential unit's completeness from its entrances (as coverage does).

    The walk starts at the unit's entrance nearest each type
    (:func:`siteplan.access.served.served_units`); the arguments are those of
    :func:`life_circle_completeness` plus the mapped ``entrances`` and boundary entrance
    ``spacing_m`` of :func:`~siteplan.access.served.served_units`.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import graph_from_lines
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> fac = gpd.GeoDataFrame({"facility_id": ["k"], "class": ["kindergarten"]},
    ...                        geometry=[Point(250, 0)], crs=crs)
    >>> estates = gpd.GeoDataFrame(geometry=[box(200, -60, 400, -10),
    ...                                      box(1500, -60, 1700, -10)], crs=crs)
    >>> unit_completeness(net, estates, fac)["lc_5min_present"].tolist()
    ['kindergarten', '']
    """
    names = [t.name for t in types]
    limit = _search_limit(types, lists)
    served = served_units(net, units, facilities, dict.fromkeys(names, limit),
                          entrances=entrances, search_limit_m=limit,
                          facility_point=facility_point, max_snap_m=max_snap_m,
                          spacing_m=spacing_m)
    dists = {k: served[distance_column(k)].to_numpy(dtype=float) for k in names}
    reachable = served["n_entrances"].to_numpy() > 0
    return completeness_columns(dists, units.index, types=types, reachable=reachable,
                                lists=lists)


def life_circle_summary(units: pd.DataFrame, *, types: Sequence[LifeCircleType] = LIFE_CIRCLE_PRESET,
                        lists: Sequence[str] = CHECKLISTS) -> pd.DataFrame:
    """Summarise the units' completeness per checklist, weighted by residents.

    Parameters
    ----------
    units
        The columns of :func:`unit_completeness` and ``residents`` (else every unit weighs its
        ``area_m2``, else one).  Units that cannot reach the network are left out.
    types, lists
        The types and the checklists to summarise.

    Returns
    -------
    pandas.DataFrame
        One row per list: ``list``, ``radius_m``, ``n_types``, ``n_units``,
        ``mean_share`` (weighted), ``n_units_complete`` (every type present) and
        ``residents_complete_share`` (their weight's share).

    Examples
    --------
    >>> import pandas as pd
    >>> units = pd.DataFrame({"residents": [300.0, 100.0], "lc_15min_share": [1.0, 0.5]})
    >>> row = life_circle_summary(units, lists=["15min"]).iloc[0]
    >>> float(row["mean_share"]), int(row["n_units_complete"]), float(row["residents_complete_share"])
    (0.875, 1, 0.75)
    """
    weight = next((units[c].to_numpy(dtype=float) for c in ("residents", "area_m2")
                   if c in units.columns), np.ones(len(units)))
    rows = []
    for name in lists:
        share = units[lc_column(name, "share")].to_numpy(dtype=float)
        ok = np.isfinite(share) & np.isfinite(weight)
        w, x = weight[ok], share[ok]
        total = w.sum()
        rows.append({
            "list": name, "radius_m": checklist_radius(name),
            "n_types": len(checklist(name, types)), "n_units": int(ok.sum()),
            "mean_share": float((w * x).sum() / total) if total > 0 else np.nan,
            "n_units_complete": int((x >= 1.0).sum()),
            "residents_complete_share": float(w[x >= 1.0].sum() / total) if total > 0
            else np.nan})
    return pd.DataFrame(rows)


__all__ = [
    "checklist_radius", "completeness_columns", "life_circle_completeness", "life_circle_summary",
    "unit_completeness",
]
