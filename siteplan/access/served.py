"""Coverage by served units, as 生活圈 assessments report it: units, area and residents served.

A demand unit (a residential area or 小区, a residential building, a parcel) is **served** for a
facility class when the walking distance from its nearest entrance
(:mod:`siteplan.access.entrances`) to the nearest facility of the class is within the class's
radius.  :func:`served_units` measures every unit once per class (one bounded multi-source
Dijkstra pass, then the best of each unit's entrances); :func:`served_table` turns that into the
shares of units, of residential area and of residents served; :func:`unit_blind_spots` lists
the units left unserved (服务盲区), with the distance they miss by.

Residents come from a population field, else a household field times the persons per
household, else an estimate: area x floor-area ratio / dwelling size x persons per household
(the programme calculator's assumptions), stated as such in ``residents_basis``.  Where the
facilities carry a ``capacity`` (places), :func:`served_units` also gives each unit the
places per 1,000 residents within the radius (two-step floating catchment on the same
entrances; Luo & Wang 2003).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from siteplan.access.distances import ids_at, reach_pairs, snap_facilities
from siteplan.access.entrances import Entrances, unit_entrances
from siteplan.core.columns import (
    distance_column,
    nearest_column,
    nearest_name_column,
    served_column,
)
from siteplan.core.defaults import (
    ENTRANCE_SPACING_M,
    MAX_SNAP_M,
    PROGRAMME,
    RESIDENTIAL_FAR,
    SEARCH_LIMIT_M,
)
from siteplan.core.errors import InputError
from siteplan.network.graph import Network
from siteplan.network.paths import nearest_source_nodes, target_distances
from siteplan.network.snapping import Snap, SnapPoint, snap

#: Field names read as a unit's residents or households when none is declared.
POPULATION_FIELDS = ("population", "人口", "常住人口", "居住人口", "人口数")
HOUSEHOLD_FIELDS = ("households", "户数", "住户数", "总户数")


def supply_column(cls: str) -> str:
    """Name a unit's places per 1,000 residents within the radius: ``places_per_1000_<class>``."""
    return f"places_per_1000_{cls}"


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    values: np.ndarray = pd.to_numeric(frame[column], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)
    return values


def _field(frame: pd.DataFrame, declared: str | None, usual: Sequence[str],
           what: str) -> str | None:
    """Return the declared field (refused when missing), else the first usual one present."""
    if declared is not None:
        if declared not in frame.columns:
            raise InputError(f"the residential layer has no {what} field {declared!r}.",
                             where="coverage", fix="name one of its columns: "
                             f"{', '.join(map(str, frame.columns))}.")
        return declared
    lowered = {str(c).lower(): c for c in frame.columns}
    return next((str(lowered[n]) for n in usual if n in lowered), None)


def unit_residents(
    units: pd.DataFrame,
    area_m2: np.ndarray,
    *,
    population_column: str | None = None,
    households_column: str | None = None,
    far: float = RESIDENTIAL_FAR,
    dwelling_size_m2: float = PROGRAMME["dwelling_size_m2"],
    persons_per_household: float = PROGRAMME["persons_per_household"],
) -> tuple[np.ndarray, np.ndarray]:
    """Count or estimate the residents of each unit, and say how.

    Parameters
    ----------
    units
        The units' attributes.
    area_m2
        ``(U,)`` the units' areas.
    population_column, households_column
        Declared fields; without them the usual names (:data:`POPULATION_FIELDS`,
        :data:`HOUSEHOLD_FIELDS`) are used when present.
    far, dwelling_size_m2, persons_per_household
        The estimate's assumptions, for units without a count.

    Returns
    -------
    residents, basis
        ``(U,)`` residents and the text saying where each figure comes from (``"estimate:
        ..."`` for the estimated ones); NaN for a point without a count (it has no area).

    Raises
    ------
    InputError
        A declared field the layer does not have, or negative counts.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> res, basis = unit_residents(pd.DataFrame({"人口": [1200, None]}),
    ...                             np.array([10_000.0, 10_000.0]))
    >>> res.round(1).tolist()
    [1200.0, 524.0]
    >>> basis.tolist()
    ['field 人口', 'estimate: area x FAR 2 / 100 m² x 2.62 persons']
    """
    n = len(units)
    residents = np.full(n, np.nan)
    basis = np.full(n, "", dtype=object)
    pop = _field(units, population_column, POPULATION_FIELDS, "population")
    hh = _field(units, households_column, HOUSEHOLD_FIELDS, "households")
    for col, factor, text in ((pop, 1.0, "field {c}"),
                              (hh, persons_per_household,
                               f"field {{c}} x {persons_per_household:g} persons")):
        if col is None:
            continue
        values = _numbers(units, col)
        if (values < 0).any():
            raise InputError(f"the residential layer's {col!r} has negative values.",
                             where="coverage", fix="counts are >= 0; fix or blank them.")
        fill = np.isnan(residents) & np.isfinite(values)
        residents[fill] = values[fill] * factor
        basis[fill] = text.format(c=col)
    # A unit without a count is estimated from its area; a point has none: unknown (NaN).
    est = np.isnan(residents) & (area_m2 > 0)
    residents[est] = area_m2[est] * far / dwelling_size_m2 * persons_per_household
    basis[est] = (f"estimate: area x FAR {far:g} / {dwelling_size_m2:g} m² x "
                  f"{persons_per_household:g} persons")
    basis[np.isnan(residents)] = "unknown: no count and no area"
    return residents, basis.astype(str)


def _best_of_entrances(dist: np.ndarray, owner: np.ndarray, n_units: int) -> np.ndarray:
    """Return, per unit, the index of its entrance with the smallest distance (NaN last)."""
    key = np.where(np.isnan(dist), np.inf, dist)
    order = np.lexsort((key, owner))
    starts = np.searchsorted(owner[order], np.arange(n_units))
    best: np.ndarray = order[starts]
    return best


def _incidence(owner: np.ndarray, n_units: int) -> sparse.csr_matrix:
    """``(K, U)`` 0/1: entrance ``k`` belongs to unit ``u``."""
    return sparse.csr_matrix((np.ones(owner.size), (np.arange(owner.size), owner)),
                             shape=(owner.size, n_units))


def units_within(net: Network, esnap: Snap, owner: np.ndarray, n_units: int, sources: Snap,
                 radius_m: float) -> sparse.csr_matrix:
    """Return the ``(S, U)`` 0/1 matrix: source ``s`` is within ``radius_m`` of unit ``u``.

    Within means from at least one of the unit's entrances (:func:`reach_pairs` per entrance).
    """
    pairs = reach_pairs(net, esnap, sources, radius_m)
    pairs.data[:] = 1.0
    out = (pairs @ _incidence(owner, n_units)).tocsr()
    out.data[:] = 1.0
    out.eliminate_zeros()
    return out


def _supply(net: Network, esnap: Snap, ent: Entrances, fsnap: Snap, capacity: np.ndarray,
            residents: np.ndarray, radius_m: float) -> np.ndarray:
    """Places per 1,000 residents within ``radius_m`` of each unit (two-step FCA on entrances)."""
    known = np.isfinite(capacity)
    within = units_within(net, esnap, ent.owner, ent.n_units, fsnap.subset(known), radius_m)
    demand = within @ np.nan_to_num(residents)
    ratio = np.divide(capacity[known], demand, out=np.zeros(demand.size), where=demand > 0)
    access: np.ndarray = 1000.0 * (within.T @ ratio)
    return access


def served_units(
    net: Network,
    units: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    radii: Mapping[str, float],
    *,
    entrances: np.ndarray | None = None,
    residents: np.ndarray | None = None,
    residents_basis: np.ndarray | None = None,
    spacing_m: float = ENTRANCE_SPACING_M,
    search_limit_m: float = SEARCH_LIMIT_M,
    facility_point: SnapPoint = "representative",
    max_snap_m: float = MAX_SNAP_M,
    name_column: str = "name",
) -> gpd.GeoDataFrame:
    """Measure every demand unit's walk from its entrances to each class's nearest facility.

    Parameters
    ----------
    net
        The walking network.
    units
        Demand units (residential areas, buildings, parcels; polygons or points) with a CRS.
    facilities
        ``facility_id``, ``class``, geometry and optionally ``name`` and ``capacity`` (places).
    radii
        ``{class: radius_m}``.
    entrances
        Mapped entrance points in ``net.crs`` (:func:`siteplan.access.entrances.unit_entrances`).
    residents, residents_basis
        ``(U,)`` residents per unit and where they come from (:func:`unit_residents`); without
        them every unit weighs its area only.
    spacing_m, max_snap_m
        Boundary entrances: perimeter per entrance, and the farthest a street may be.
    search_limit_m
        Distances beyond this are NaN.
    facility_point
        Which point of a facility snaps (:func:`siteplan.network.snapping.snap`).
    name_column
        The units' name column, if they have one.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per unit, in ``net.crs``, same index as ``units``: ``name``, ``area_m2``,
        ``residents`` and ``residents_basis`` (when given), ``entrance_kind``,
        ``n_entrances``, and per class ``dist_<class>_m`` (NaN: no facility within the search
        limit, or the unit cannot reach the network), ``nearest_<class>_id``,
        ``nearest_<class>_name``, ``served_<class>`` and, where the class's facilities have
        a capacity, ``places_per_1000_<class>``.

    Raises
    ------
    InputError
        Facilities without ``facility_id`` or ``class``, a layer without a CRS, or a bad
        entrance setting.

    Examples
    --------
    A kindergarten at the middle of a 1 km street; an estate south of it whose street side
    runs from 0 to 300 m, and one from 800 to 900 m:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import graph_from_lines, served_units
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (1000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"],
    ...                        "name": ["阳光幼儿园"]}, geometry=[Point(500, 0)], crs=crs)
    >>> estates = gpd.GeoDataFrame({"name": ["west", "east"]}, geometry=[
    ...     box(0, -110, 300, -10), box(800, -110, 900, -10)], crs=crs)
    >>> out = served_units(net, estates, kg, {"kindergarten": 300.0})
    >>> out[["dist_kindergarten_m", "served_kindergarten"]].values.tolist()
    [[210.0, True], [310.0, False]]
    >>> out["nearest_kindergarten_name"].tolist()
    ['阳光幼儿园', '阳光幼儿园']
    """
    if units.crs is None:
        raise InputError("the demand units have no CRS.", where="served units",
                         fix="set one (gdf.set_crs(...)) or declare it in the study file.")
    geoms = np.asarray(units.to_crs(net.crs).geometry.values, dtype=object)
    ent = unit_entrances(net, geoms, mapped=entrances, spacing_m=spacing_m,
                         max_snap_m=max_snap_m)
    esnap = snap(net, shapely.points(ent.xy), max_snap_m=max_snap_m)
    classes = sorted(radii)
    fsnaps = snap_facilities(net, facilities, classes, how=facility_point, max_snap_m=max_snap_m)
    cls_values = facilities["class"].astype(str).to_numpy()
    names = (facilities["name"].astype("string") if "name" in facilities.columns
             else pd.Series(pd.NA, index=facilities.index, dtype="string")).to_numpy()
    capacity = (pd.to_numeric(facilities["capacity"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan) if "capacity" in facilities.columns
        else np.full(len(facilities), np.nan))
    cols: dict[str, object] = {
        "name": (units[name_column].astype("string").to_numpy() if name_column in units.columns
                 else pd.array([pd.NA] * len(units), dtype="string")),
        "area_m2": shapely.area(geoms),
    }
    if residents is not None:
        cols["residents"] = np.asarray(residents, dtype=float)
        if residents_basis is not None:
            cols["residents_basis"] = pd.array(np.asarray(residents_basis, dtype=str),
                                               dtype="string")
    cols["entrance_kind"] = pd.array(ent.kind, dtype="string")
    cols["n_entrances"] = ent.counts()
    for cls in classes:
        fsnap, fids = fsnaps[cls]
        rows = np.flatnonzero(cls_values == cls)
        reach = nearest_source_nodes(net, fsnap, search_limit_m)
        dist, src = target_distances(net, reach, esnap, fsnap, search_limit_m)
        best = _best_of_entrances(dist, ent.owner, ent.n_units)
        d, s = dist[best], src[best]
        cols[distance_column(cls)] = d
        cols[nearest_column(cls)] = ids_at(fids, s)
        cols[nearest_name_column(cls)] = ids_at(names[rows], s)
        cols[served_column(cls)] = np.isfinite(d) & (d <= float(radii[cls]))
        if np.isfinite(capacity[rows]).any():
            cols[supply_column(cls)] = _supply(
                net, esnap, ent, fsnap, capacity[rows],
                np.asarray(residents, dtype=float) if residents is not None
                else shapely.area(geoms), float(radii[cls]))
    return gpd.GeoDataFrame(cols, geometry=geoms, crs=net.crs, index=units.index)


def served_table(units: pd.DataFrame, radii: Mapping[str, float], noun: str = "units",
                 *, area: bool = True) -> pd.DataFrame:
    """Count the units served per class: numbers, shares of units, of area and of residents.

    Parameters
    ----------
    units
        Output of :func:`served_units`.
    radii
        ``{class: radius_m}``, the classes to report.
    noun
        Names the count columns: ``n_<noun>``, ``n_<noun>_served``, ``<noun>_served_share``.
    area
        Also report ``residential_m2``, ``served_m2``, ``area_served_share`` and, when the
        units have ``residents``, ``residents``, ``residents_served``,
        ``residents_served_share`` and ``residents_estimated``.

    Returns
    -------
    pandas.DataFrame
        One row per class (``class``, ``radius_m`` and the columns above); shares are NaN
        where there is nothing to share.

    Examples
    --------
    >>> import pandas as pd
    >>> units = pd.DataFrame({"area_m2": [30_000.0, 10_000.0], "residents": [1572.0, 524.0],
    ...                       "residents_basis": ["estimate: ...", "estimate: ..."],
    ...                       "served_kindergarten": [True, False]})
    >>> table = served_table(units, {"kindergarten": 300.0})
    >>> table[["n_units", "n_units_served"]].values.tolist()
    [[2, 1]]
    >>> table[["area_served_share", "residents_served_share"]].values.tolist()
    [[0.75, 0.75]]
    """
    n = len(units)
    rows = []
    for cls in sorted(radii):
        col = served_column(cls)
        served = (units[col].to_numpy(dtype=bool) if col in units.columns
                  else np.zeros(n, dtype=bool))
        k = int(served.sum())
        row: dict[str, object] = {"class": cls, "radius_m": float(radii[cls]),
                                  f"n_{noun}": n, f"n_{noun}_served": k,
                                  f"{noun}_served_share": k / n if n else np.nan}
        if area:
            a = units["area_m2"].to_numpy(dtype=float)
            row.update(residential_m2=float(a.sum()), served_m2=float(a[served].sum()),
                       area_served_share=float(a[served].sum() / a.sum()) if a.sum() > 0
                       else np.nan)
            if "residents" in units.columns:
                r = np.nan_to_num(units["residents"].to_numpy(dtype=float))
                basis = units.get("residents_basis", pd.Series("", index=units.index))
                row.update(residents=float(r.sum()), residents_served=float(r[served].sum()),
                           residents_served_share=float(r[served].sum() / r.sum())
                           if r.sum() > 0 else np.nan,
                           residents_estimated=bool(basis.astype(str).str.startswith(
                               "estimate").any()))
        rows.append(row)
    return pd.DataFrame(rows)


def supply_table(units: pd.DataFrame, facilities: pd.DataFrame, radii: Mapping[str, float],
                 norms: Mapping[str, float]) -> pd.DataFrame:
    """Summarise the places per 1,000 residents of the classes whose facilities have places.

    Returns
    -------
    pandas.DataFrame
        Per class with a ``places_per_1000_<class>`` column in ``units``: ``class``,
        ``n_with_capacity`` (facilities with a known capacity), ``places`` (their sum),
        ``places_per_1000`` (residents-weighted mean over the units: the places of the
        facilities that reach any residents per 1,000 residents), ``supply_norm_per_1000`` and
        ``residents_meeting_norm_share`` where a norm is known.
    """
    rows = []
    res = np.nan_to_num(units["residents"].to_numpy(dtype=float)) if "residents" in units \
        else units["area_m2"].to_numpy(dtype=float)
    for cls in sorted(radii):
        col = supply_column(cls)
        if col not in units.columns:
            continue
        cap = pd.to_numeric(facilities.loc[facilities["class"].astype(str) == cls, "capacity"],
                            errors="coerce")
        a = units[col].to_numpy(dtype=float)
        norm = norms.get(cls, np.nan)
        rows.append({
            "class": cls, "n_with_capacity": int(cap.notna().sum()),
            "places": float(cap.sum()),
            "places_per_1000": float((a * res).sum() / res.sum()) if res.sum() > 0 else np.nan,
            "supply_norm_per_1000": norm,
            "residents_meeting_norm_share": (float(res[a >= norm].sum() / res.sum())
                                             if np.isfinite(norm) and res.sum() > 0
                                             else np.nan)})
    return pd.DataFrame(rows, columns=["class", "n_with_capacity", "places", "places_per_1000",
                                       "supply_norm_per_1000", "residents_meeting_norm_share"])


def unit_blind_spots(units: gpd.GeoDataFrame, radii: Mapping[str, float],
                     id_column: str | None = None) -> gpd.GeoDataFrame:
    """List the units not served per class (服务盲区), with the distance they miss by.

    Parameters
    ----------
    units
        Output of :func:`served_units`.
    radii
        ``{class: radius_m}``, the classes to report.
    id_column
        The units' id column (e.g. ``residential_id``); the index otherwise.

    Returns
    -------
    geopandas.GeoDataFrame
        ``class``, ``unit_id``, ``name``, ``dist_m`` (walk from the nearest entrance to the
        nearest facility; NaN where none lies within the search limit or the unit cannot
        reach the network), ``missed_by_m`` (``dist_m - radius_m``), ``radius_m``,
        ``nearest_name``, ``area_m2``, ``residents`` (when known) and the unit's geometry;
        by class, then by residents (else area) left unserved, most first.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> units = gpd.GeoDataFrame({"name": ["west", "east"], "area_m2": [3e4, 1e4],
    ...                           "dist_kindergarten_m": [210.0, 310.0],
    ...                           "nearest_kindergarten_name": ["k", "k"],
    ...                           "served_kindergarten": [True, False]},
    ...                          geometry=[box(0, 0, 1, 1), box(2, 0, 3, 1)], crs=32649)
    >>> unit_blind_spots(units, {"kindergarten": 300.0})[["name", "missed_by_m"]].values.tolist()
    [['east', 10.0]]
    """
    ids = (units[id_column].astype("string") if id_column is not None
           else pd.Series(units.index.astype(str), index=units.index, dtype="string"))
    weight = "residents" if "residents" in units.columns else "area_m2"
    frames = []
    for cls in sorted(radii):
        col = served_column(cls)
        if col not in units.columns:
            continue
        left = units[~units[col].to_numpy(dtype=bool)]
        dist = left[distance_column(cls)].to_numpy(dtype=float)
        frame = pd.DataFrame({
            "class": cls, "unit_id": ids.loc[left.index].to_numpy(),
            "name": left["name"].astype("string").to_numpy() if "name" in left else pd.NA,
            "dist_m": dist, "missed_by_m": dist - float(radii[cls]),
            "radius_m": float(radii[cls]),
            "nearest_name": left[nearest_name_column(cls)].astype("string").to_numpy(),
            "area_m2": left["area_m2"].to_numpy(dtype=float)})
        if "residents" in left.columns:
            frame["residents"] = left["residents"].to_numpy(dtype=float)
        frame["geometry"] = left.geometry.to_numpy()
        frames.append(frame.iloc[np.argsort(-left[weight].to_numpy(dtype=float),
                                            kind="stable")])
    if not frames:
        return gpd.GeoDataFrame({"class": [], "unit_id": [], "name": [], "dist_m": [],
                                 "missed_by_m": []}, geometry=[], crs=units.crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                            crs=units.crs)


__all__ = ["HOUSEHOLD_FIELDS", "POPULATION_FIELDS", "served_table", "served_units",
           "supply_column", "supply_table", "unit_blind_spots", "unit_residents",
           "units_within"]
