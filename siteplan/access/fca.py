"""Two-step floating catchment (2SFCA): supply per demand within walking reach.

:func:`two_step_fca` measures how much of a facility class's supply (school places, beds, or one
per facility) is available per unit of demand (residents, or residential hectares) around each
parcel, both steps along the street network (Luo & Wang 2003).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.access.distances import reach_pairs
from siteplan.core.errors import InputError
from siteplan.network.graph import Network
from siteplan.network.snapping import snap


def two_step_fca(
    net: Network,
    parcels: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    radius_m: float,
    capacity_column: str | None = None,
    demand_column: str | None = None,
    per: float = 1000.0,
    target_point: Any = "representative",
    facility_point: Any = "representative",
    max_snap_m: float = 200.0,
) -> np.ndarray:
    """Measure the two-step floating catchment supply-to-demand ratio at each parcel.

    Step 1, per facility *j*: ``R_j = S_j / sum(D_k)`` over the demand locations *k* within
    ``radius_m`` along the network.  Step 2, per parcel *i*: ``A_i = per * sum(R_j)`` over the
    facilities within ``radius_m`` of the parcel (Luo & Wang 2003).

    Parameters
    ----------
    net
        Walking network.
    parcels, facilities, demand
        Targets, supply points (already one class) and demand locations, with CRSs.
    radius_m
        Catchment radius along the network.
    capacity_column
        Supply ``S_j`` per facility; each facility counts 1 without it.
    demand_column
        Demand ``D_k`` (e.g. population) per demand feature; without it, the feature's area in
        hectares (residential land), or 1 per point.
    per
        Report the ratio per this many demand units (e.g. places per 1000 residents).
    target_point, facility_point
        Which point of a parcel and of a facility snaps
        (:func:`siteplan.network.snapping.snap`); demand snaps by its representative point.
    max_snap_m
        Features farther than this from every walkable street cannot reach it.

    Returns
    -------
    numpy.ndarray
        ``A_i``; 0 where no facility is within the radius, NaN for parcels that cannot reach
        the network.  A facility whose catchment holds no demand has no defined ratio and adds
        nothing.

    Raises
    ------
    InputError
        A layer without a CRS, a missing capacity or demand column, or a capacity that is not
        a number >= 0.

    Examples
    --------
    One kindergarten on a 2 km street and 4 ha of housing along it (the block 500 m away
    cannot reach the street): a quarter of a kindergarten per hectare.

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import graph_from_lines, two_step_fca
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"]},
    ...                       geometry=[Point(1000, 0)], crs=crs)
    >>> housing = gpd.GeoDataFrame(geometry=[box(0, 0, 2000, 20), box(0, 500, 100, 600)],
    ...                            crs=crs)
    >>> parcels = gpd.GeoDataFrame(
    ...     {"parcel_id": ["a", "b"]},
    ...     geometry=[box(1100, -80, 1200, -20), box(1600, -80, 1700, -20)], crs=crs)
    >>> two_step_fca(net, parcels, kg, housing, radius_m=1000, per=1).tolist()
    [0.25, 0.25]
    """
    def geoms(frame: gpd.GeoDataFrame, what: str) -> np.ndarray:
        if frame.crs is None:
            raise InputError(f"the {what} have no CRS.", where="2SFCA", fix="declare it.")
        return np.asarray(frame.to_crs(net.crs).geometry.values, dtype=object)

    if capacity_column is None:
        supply = np.ones(len(facilities))
    else:
        if capacity_column not in facilities.columns:
            raise InputError(f"the facilities have no capacity column {capacity_column!r}.",
                             where="2SFCA", fix="add it, or remove capacity_column to count "
                             "each facility as 1.")
        supply = pd.to_numeric(facilities[capacity_column], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(supply) | (supply < 0)
        if bad.any():
            ids = facilities["facility_id"].astype(str).to_numpy()[bad][:10].tolist()
            raise InputError(f"{int(bad.sum())} facilities have no valid {capacity_column!r} "
                             f"(ids {ids}).", where="2SFCA",
                             fix="fill in a capacity >= 0 for every facility of the class.")
    dgeoms = geoms(demand, "demand locations")
    if demand_column is not None:
        if demand_column not in demand.columns:
            raise InputError(f"the demand layer has no column {demand_column!r}.",
                             where="2SFCA", fix="correct demand_column, or remove it to use "
                             "residential area.")
        weight = pd.to_numeric(demand[demand_column], errors="coerce").fillna(0.0).to_numpy(float)
    else:
        area = shapely.area(dgeoms) / 1e4
        weight = np.where(area > 0, area, 1.0)
    fsnap = snap(net, geoms(facilities, "facilities"), how=facility_point, max_snap_m=max_snap_m)
    dsnap = snap(net, dgeoms, how="representative", max_snap_m=max_snap_m)
    psnap = snap(net, geoms(parcels, "parcels"), how=target_point, max_snap_m=max_snap_m)

    reach_d = reach_pairs(net, dsnap, fsnap, radius_m)  # (F, K)
    reach_d.data[:] = 1.0
    demand_in = reach_d @ weight
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(demand_in > 0, supply / demand_in, 0.0)
    reach_p = reach_pairs(net, psnap, fsnap, radius_m)  # (F, P)
    reach_p.data[:] = 1.0
    access = per * (reach_p.T @ ratio)
    return np.where(psnap.reachable, access, np.nan)


__all__ = ["two_step_fca"]
