"""Served units as the demand of gap filling: the coverage study's own definition.

With ``measure="units"`` (the default of :func:`siteplan.siting.cover.maximal_cover`), the
demand is a set of units (residential areas, buildings, parcels) and a unit is covered by a
site exactly when the coverage report calls it served
(:mod:`siteplan.access.served`): the walk from one of its entrances to the site is within the
radius.  So "10 new kindergartens raise coverage from A % to B %" speaks of the residents (or
units) the report counts, and a unit served by an existing facility is served already.

Each unit is one atom of the covering problem: :func:`unit_atoms` gives the units x
candidates matrix from one bounded pass per block of candidates
(:func:`siteplan.access.served.units_within`), and the units the existing facilities serve
from one multi-source pass.  :func:`served_by` recomputes the served units for any set of
sources independently (nearest-source distances), for the coverage before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.access.entrances import Entrances, unit_entrances
from siteplan.access.served import units_within
from siteplan.core.errors import InputError
from siteplan.network.graph import Network
from siteplan.network.paths import nearest_source_nodes, target_distances
from siteplan.network.snapping import Snap, snap
from siteplan.siting.demand import Atoms, useful_sites, without_sites


@dataclass(frozen=True)
class UnitReach:
    """The demand units' entrances, snapped: what every served-unit test starts from."""

    entrances: Entrances
    snap: Snap


def unit_demand(demand: gpd.GeoDataFrame, crs: Any,
                population: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the demand units in ``crs`` (any non-empty geometry), their weights and ids.

    Each unit weighs its ``population`` value (residents, households...), or 1 without it.
    """
    if demand.crs is None:
        raise InputError("the demand layer has no CRS.", where="siting demand",
                         fix="set one (gdf.set_crs(...)).")
    geoms = np.asarray(demand.to_crs(crs).geometry.values, dtype=object)
    keep = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if not keep.any():
        raise InputError("the demand layer has no geometries.", where="siting demand",
                         fix="use residential areas, parcels or buildings.")
    ids = np.asarray(demand.index.astype(str), dtype=object)
    if population is None:
        return geoms[keep], np.ones(int(keep.sum())), ids[keep]
    return geoms[keep], population_values(demand, population, ids)[keep], ids[keep]


def population_values(demand: gpd.GeoDataFrame, population: str, ids: np.ndarray) -> np.ndarray:
    """Return the demand's ``population`` column as numbers, refusing missing or negative ones.

    ``ids`` name the rows in the message.
    """
    if population not in demand.columns:
        raise InputError(f"the demand layer has no population field {population!r}.",
                         where="siting demand",
                         fix=f"use one of its columns: {', '.join(map(str, demand.columns))}.")
    pop: np.ndarray = pd.to_numeric(demand[population], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)
    bad = ~np.isfinite(pop) | (pop < 0)
    if bad.any():
        raise InputError(f"population field {population!r} has {int(bad.sum())} missing, "
                         f"non-numeric or negative value(s), e.g. row {ids[bad][0]}.",
                         where="siting demand", fix="fill them with counts >= 0.")
    return pop


def unit_reach(net: Network, geoms: np.ndarray, *, entrances: np.ndarray | None = None,
               spacing_m: float, max_snap_m: float) -> UnitReach:
    """Find and snap the units' entrances (:func:`siteplan.access.entrances.unit_entrances`)."""
    ent = unit_entrances(net, geoms, mapped=entrances, spacing_m=spacing_m,
                         max_snap_m=max_snap_m)
    return UnitReach(ent, snap(net, shapely.points(ent.xy), max_snap_m=max_snap_m))


def served_by(net: Network, reach: UnitReach, sources: Snap, radius_m: float) -> np.ndarray:
    """Tell which units some source serves: nearest-source walk from an entrance <= radius.

    One multi-source pass, independent of the per-candidate passes behind :func:`unit_atoms`.
    """
    ent = reach.entrances
    if not sources.reachable.any():
        return np.zeros(ent.n_units, dtype=bool)
    nodes = nearest_source_nodes(net, sources, radius_m)
    dist, _ = target_distances(net, nodes, reach.snap, sources, radius_m)
    ok = np.isfinite(dist)
    out: np.ndarray = np.bincount(ent.owner[ok], minlength=ent.n_units) > 0
    return out


def join_snaps(a: Snap, b: Snap) -> Snap:
    """Return the snaps of ``a`` followed by those of ``b`` (e.g. existing and new sites)."""
    return Snap(np.concatenate([a.edge, b.edge]), np.concatenate([a.offset_m, b.offset_m]),
                np.concatenate([a.access_m, b.access_m]),
                np.concatenate([a.nearest_m, b.nearest_m]),
                np.concatenate([a.origin_xy.reshape(-1, 2), b.origin_xy.reshape(-1, 2)]),
                np.concatenate([a.point_xy.reshape(-1, 2), b.point_xy.reshape(-1, 2)]),
                max(a.max_snap_m, b.max_snap_m))


def unit_atoms(net: Network, geoms: np.ndarray, weight: np.ndarray, reach: UnitReach,
               candidates: Snap, existing: Snap, radius_m: float) -> Atoms:
    """Make each demand unit an atom: which candidates serve it, and whether it is served now.

    Parameters
    ----------
    net
        The walking network.
    geoms, weight
        ``(U,)`` the units and their weights.
    reach
        Their entrances (:func:`unit_reach`).
    candidates, existing
        Snapped candidate sites and existing facilities of the class.
    radius_m
        The class's walking radius.

    Returns
    -------
    Atoms
        One atom per unit (``owner`` is the unit), ``before`` the units the existing
        facilities serve, ``cover`` the ``(U, J)`` units x candidates matrix; the geometry
        kept only for the units nothing serves.  Candidates farther than ``radius_m`` as the
        crow flies from every entrance get no network pass (they serve nothing).
    """
    ent = reach.entrances
    pts = shapely.points(ent.xy)
    useful = useful_sites(candidates, pts[~shapely.is_empty(pts)], radius_m)
    cover = units_within(net, reach.snap, ent.owner, ent.n_units,
                         without_sites(candidates, useful), radius_m).T.tocsr()
    before = served_by(net, reach, existing, radius_m)
    area = shapely.area(geoms)
    kept = np.asarray(geoms, dtype=object).copy()
    kept[before | (np.diff(cover.indptr) > 0)] = None
    return Atoms(kept, np.arange(ent.n_units), area, np.asarray(weight, dtype=float), before,
                 cover, 0, int(useful.sum()))


__all__ = ["UnitReach", "join_snaps", "population_values", "served_by", "unit_atoms",
           "unit_demand", "unit_reach"]
