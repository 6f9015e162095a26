"""Gap filling: where ``k`` new facilities of a class would cover the most uncovered demand.

:func:`maximal_cover` works on plain layers (network, existing facilities, candidate sites,
demand); :mod:`siteplan.siting.study` takes them from a study run and writes the outputs.

Two measures of coverage.  ``"units"`` (the default) is the coverage report's own: a demand
unit (residential area, building, parcel) is covered when the walk from one of its entrances
to a facility is within the radius (:mod:`siteplan.siting.units`), weighted by its residents
or counted.  ``"frontage"`` is the street-frontage land measure: demand polygons covered by
area of intersection with the catchment polygons (:mod:`siteplan.siting.demand`).  Either
way the coverage before and after is recomputed independently of the optimiser's atoms (a
nearest-facility pass per unit; exact shapely overlay for the frontage), so the two can be
compared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from siteplan.access.catchments import catchments
from siteplan.access.coverage import frontage_near
from siteplan.access.reach import reached_pieces
from siteplan.core.defaults import ENTRANCE_SPACING_M, FRONTAGE_M, MAX_SNAP_M
from siteplan.core.errors import ConfigError, InputError
from siteplan.io.layers import is_polygonal
from siteplan.network.graph import Network
from siteplan.network.linear import substrings
from siteplan.network.snapping import Snap, SnapPoint, snap
from siteplan.siting.demand import Atoms, build_atoms, grouped_union
from siteplan.siting.solvers import Cover, exact_cover, greedy_cover
from siteplan.siting.units import (
    join_snaps,
    population_values,
    served_by,
    unit_atoms,
    unit_demand,
    unit_reach,
)

Method = Literal["greedy", "exact", "both"]
Measure = Literal["units", "frontage"]
# Carried from the candidates to the proposed sites, so an excluded parcel shows as such.
EXCLUSION_COLUMNS = ("excluded", "exclusion_reason", "exclusion_reason_zh")


@dataclass
class SitingResult:
    """Proposed sites for one facility class and the coverage they bring.

    Attributes
    ----------
    cls, radius_m, weight
        The class, its walking radius and the demand weight: the population field, else
        ``"units"`` (each unit counts 1) or ``"area_m2"`` (frontage measure).
    sites
        Points: ``method``, ``rank``, ``site_id``, ``marginal`` (weight the site adds to those
        ranked before it), ``marginal_share``, ``cumulative_share`` (share of all demand covered
        with existing facilities and the sites up to this one), and the candidates'
        ``excluded``, ``exclusion_reason`` and ``exclusion_reason_zh`` when they have them
        (parcels do), so a planner sees a proposed site that the study's constraints exclude.
    catchments
        New catchments: ``method``, ``rank``, ``site_id``, ``class``, ``radius_m``, ``area_m2``.
    coverage
        One row per method: ``class``, ``method``, ``measure``, ``radius_m``, ``k``,
        ``weight``, ``demand_total``, ``covered_before``, ``covered_after``, ``share_before``,
        ``share_after``, ``unreachable``, ``unreachable_m2``, ``n_units``,
        ``n_served_before``, ``n_served_after`` (units measure; NaN for frontage),
        ``objective`` (covered weight, from the atoms), ``status``, ``bound``, ``gap``,
        ``bound_unit``, ``seconds``.  With
        ``k`` the solver maximises weight: ``bound_unit`` is ``"weight"``, ``bound`` an upper
        bound on the covered weight (existing coverage included) and ``gap = (bound -
        objective) / bound``.  With ``target_share`` it minimises the number of sites:
        ``bound_unit`` is ``"sites"``, ``bound`` the least number of new sites proved to be
        needed and ``gap = (k - bound) / k`` (0 when optimal or no site was needed).
    unreachable
        Demand no candidate and no existing facility can cover (units no site serves within
        the radius; land no catchment touches): ``demand_id``, ``area_m2``, ``weight`` and
        geometry.
    covers
        The solver results by method.
    n_atoms, n_candidates
        Size of the instance.
    n_candidates_near
        Candidates within the radius plus the frontage, as the crow flies, of some demand
        (the others cannot cover any and get no network pass).
    map_layers
        Context for the map (parcels, facilities, catchments, blind spots, boundary, title).
    timings
        Seconds per step: ``snap``, ``atoms``, ``before`` (exact coverage before), then per
        method ``solve_<m>``, ``catchments_<m>`` and ``after_<m>``.
    inputs
        The study's input files (and its TOML), which :func:`write_siting` never overwrites;
        empty for :func:`maximal_cover` on plain layers.
    """

    cls: str
    radius_m: float
    weight: str
    sites: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame
    coverage: pd.DataFrame
    unreachable: gpd.GeoDataFrame
    covers: dict[str, Cover]
    n_atoms: int
    n_candidates: int
    map_layers: dict[str, Any] = field(default_factory=dict)
    n_candidates_near: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)


def check_options(radius_m: float, k: int | None, target_share: float | None,
                   method: str, time_limit_s: float = 60.0) -> None:
    """Refuse a bad radius, k / target share, method or time limit (what, where, fix)."""
    if not (isinstance(radius_m, int | float) and np.isfinite(radius_m) and radius_m > 0):
        raise ConfigError(f"the radius must be a positive number of metres, got {radius_m!r}.",
                          where="siting.radius_m", fix="give e.g. 300 or 500.")
    if (k is None) == (target_share is None):
        raise InputError("give either k (number of new sites) or a target coverage share.",
                         where="siting", fix="pass k=5, or target_share=0.8.")
    if k is not None and not (isinstance(k, int | np.integer) and not isinstance(k, bool)
                              and k >= 1):
        raise InputError(f"k must be a whole number >= 1, got {k!r}.", where="siting.k",
                         fix="ask for at least one site.")
    if target_share is not None and not (isinstance(target_share, int | float)
                                         and 0 < target_share <= 1):
        raise InputError(f"target share must lie in (0, 1], got {target_share!r}.",
                         where="siting.target_share", fix="give e.g. 0.8 for 80 %.")
    if method not in ("greedy", "exact", "both"):
        raise InputError(f"unknown method {method!r}.", where="siting.method",
                         fix='use "greedy", "exact" or "both".')
    if not (isinstance(time_limit_s, int | float) and np.isfinite(time_limit_s)
            and time_limit_s > 0):
        raise InputError(f"time limit must be a positive number of seconds, got "
                         f"{time_limit_s!r}.", where="siting.time_limit_s", fix="use e.g. 60.")


def _demand(demand: gpd.GeoDataFrame, crs: Any,
            population: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the demand polygons in ``crs``, their density (weight per m²) and ids.

    Without ``population`` every m² weighs 1 and overlapping polygons are merged (land counts
    once); with it, each polygon's population is spread over its area.
    """
    if demand.crs is None:
        raise InputError("the demand layer has no CRS.", where="siting demand",
                         fix="set one (gdf.set_crs(...)).")
    geoms = np.asarray(demand.to_crs(crs).geometry.values, dtype=object)
    keep = is_polygonal(geoms) & ~shapely.is_empty(geoms)
    if not keep.any():
        raise InputError("the demand layer has no polygons.", where="siting demand",
                         fix="use residential land, parcels or building footprints.")
    ids = np.asarray(demand.index.astype(str), dtype=object)
    if population is None:
        geoms, ids = geoms[keep], ids[keep]
        area = shapely.area(geoms)
        union = shapely.union_all(geoms)
        if abs(float(shapely.area(union)) - float(area.sum())) > 1e-6 * float(area.sum()):
            # Overlapping polygons: land counts once.
            geoms = shapely.get_parts(union)
            ids = np.array([f"part_{i}" for i in range(geoms.size)], dtype=object)
        return geoms, np.ones(geoms.size), ids
    pop = population_values(demand, population, ids)
    geoms, pop, ids = geoms[keep], pop[keep], ids[keep]
    area = shapely.area(geoms)
    return geoms, np.where(area > 0, pop / np.where(area > 0, area, 1.0), 0.0), ids


def _candidate_frame(candidates: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """Return the candidates in ``crs`` with a unique ``site_id``, in id order.

    The id is ``site_id``, else ``parcel_id``, ``facility_id`` or the index; the exclusion
    columns are carried along.
    """
    if len(candidates) == 0:
        raise InputError("there are no candidate sites.", where="siting candidates",
                         fix="give candidate parcels, network nodes or a site layer.")
    if candidates.crs is None:
        raise InputError("the candidate sites have no CRS.", where="siting candidates",
                         fix="set one (gdf.set_crs(...)).")
    col = next((c for c in ("site_id", "parcel_id", "facility_id") if c in candidates.columns),
               None)
    ids = (candidates[col].astype("string") if col else
           pd.Series(candidates.index.astype(str), index=candidates.index, dtype="string"))
    if ids.isna().any() or ids.duplicated().any():
        raise InputError("candidate site ids must be present and unique.",
                         where="siting candidates", fix="give every site its own site_id.")
    frame = gpd.GeoDataFrame({"site_id": ids.to_numpy()},
                             geometry=np.asarray(candidates.to_crs(crs).geometry.values),
                             crs=crs)
    for name in EXCLUSION_COLUMNS:
        if name in candidates.columns:
            frame[name] = candidates[name].to_numpy()
    # Candidates in id order: ties between equal gains go to the lowest id.
    return frame.sort_values("site_id", kind="stable").reset_index(drop=True)


def _covered(net: Network, pieces: list[pd.DataFrame], demand: np.ndarray,
             density: np.ndarray, frontage_m: float) -> float:
    """Return the weight of the demand inside the frontage band of the street ``pieces``.

    Computed by exact overlay.  The band near each demand polygon is the union of the buffers
    of the pieces within the frontage of it (:func:`siteplan.access.coverage.frontage_near`):
    the same area as the dissolved catchment of the whole class, from small local unions
    instead of a city-wide one (whose intersection with every polygon grows with the city
    squared).
    """
    table = pd.concat(pieces, ignore_index=True)
    lines = substrings(net.edge_geometry, table["edge"].to_numpy(), table["s"].to_numpy(),
                       table["t"].to_numpy(), vertices=net.vertices)
    zones = frontage_near(lines, demand, frontage_m)
    return float((shapely.area(shapely.intersection(demand, zones)) * density).sum())


def maximal_cover(
    net: Network,
    existing: gpd.GeoDataFrame,
    cls: str,
    radius_m: float,
    candidates: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    k: int | None = None,
    target_share: float | None = None,
    population: str | None = None,
    method: Method = "greedy",
    time_limit_s: float = 60.0,
    measure: Measure = "units",
    entrances: np.ndarray | None = None,
    entrance_spacing_m: float = ENTRANCE_SPACING_M,
    frontage_m: float = FRONTAGE_M,
    facility_point: SnapPoint = "representative",
    candidate_point: SnapPoint = "representative",
    max_snap_m: float = MAX_SNAP_M,
) -> SitingResult:
    """Propose ``k`` sites (or enough to reach ``target_share``) for new facilities of a class.

    Parameters
    ----------
    net
        The walking network.
    existing
        Facilities (``facility_id``, ``class``); those of ``cls`` already serve their units
        (cover their catchments).
    cls
        The facility class.
    radius_m
        The class's walking radius in metres.
    candidates
        Candidate sites (points or polygons) with ``site_id`` (else ``parcel_id``,
        ``facility_id`` or the index as id).
    demand
        Demand units: residential areas, parcels or buildings (polygons; points too with
        ``measure="units"``).
    k
        Number of new sites (give ``k`` or ``target_share``, not both).
    target_share
        Share (0-1] of all demand to cover with the existing and the new sites, with as few
        new sites as possible.
    population
        Demand column of weights: each unit's residents (``"units"``), or spread over each
        polygon by area (``"frontage"``); default: each unit counts 1 (``"units"``), each m²
        counts 1 (``"frontage"``).
    method
        ``"greedy"``, ``"exact"`` (integer programme) or ``"both"``.
    time_limit_s
        Time limit of the integer programme.
    measure
        ``"units"``: a unit is covered when the walk from one of its entrances to a site is
        within the radius (the coverage report's served units); ``"frontage"``: demand land
        is covered by area of intersection with the street-frontage catchment polygons.
    entrances, entrance_spacing_m
        Mapped entrance points (in ``net.crs``) and the perimeter per boundary entrance of
        the units (:func:`siteplan.access.entrances.unit_entrances`); ``"units"`` only.
    frontage_m
        Depth of the street frontage counted as covered, as for
        :func:`siteplan.access.catchments.catchments`; also the depth of the proposed sites'
        catchment polygons.
    facility_point, candidate_point
        Which point of an existing facility or of a candidate snaps to the network
        (:func:`siteplan.network.snapping.snap`).
    max_snap_m
        Facilities, candidates and entrances farther than this from every walkable street
        cannot reach it.

    Returns
    -------
    SitingResult
        The proposed sites, their catchments, the coverage before and after per method and
        the demand no site can cover.

    Raises
    ------
    ConfigError
        A radius that is not a positive number.
    InputError
        Bad ``k``, ``target_share``, method, measure, time limit, candidates or demand, or a
        target no set of candidates reaches.

    Examples
    --------
    A 2 km street with a kindergarten at its west end, three candidate sites on it and five
    estates along its north side (100 m wide, from x = 100, 500, 900, 1300 and 1700): the
    first estate's gate is 110 m from the kindergarten, and the site at 1200 m is within
    300 m of two more estates' gates.

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import graph_from_lines, maximal_cover
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> existing = gpd.GeoDataFrame({"facility_id": ["k"], "class": ["kindergarten"]},
    ...                             geometry=[Point(0, 0)], crs=crs)
    >>> sites = gpd.GeoDataFrame({"site_id": ["c600", "c1200", "c1800"]},
    ...                          geometry=[Point(600, 0), Point(1200, 0), Point(1800, 0)], crs=crs)
    >>> estates = gpd.GeoDataFrame(
    ...     geometry=[box(x, 10, x + 100, 110) for x in (100, 500, 900, 1300, 1700)], crs=crs)
    >>> res = maximal_cover(net, existing, "kindergarten", 300.0, sites, estates, k=1)
    >>> res.sites["site_id"].tolist()
    ['c1200']
    >>> res.coverage[["n_served_before", "n_served_after", "share_after"]].values.tolist()
    [[1.0, 3.0, 0.6]]

    The street-frontage measure covers land within 30 m of the reached streets instead: of a
    20 m strip of housing along the street, 16 % now and 49 % with the site at 1200 m.

    >>> strip = gpd.GeoDataFrame(geometry=[box(0, 0, 2000, 20)], crs=crs)
    >>> res = maximal_cover(net, existing, "kindergarten", 300.0, sites, strip, k=1,
    ...                     measure="frontage")
    >>> res.coverage[["share_before", "share_after"]].round(2).values.tolist()
    [[0.16, 0.49]]
    """
    check_options(radius_m, k, target_share, method, time_limit_s)
    if measure not in ("units", "frontage"):
        raise InputError(f"unknown measure {measure!r}.", where="siting.measure",
                         fix='use "units" (served units) or "frontage" (land along streets).')
    radius_m = float(radius_m)
    cand = _candidate_frame(candidates, net.crs)
    if k is not None and k > len(cand):
        raise InputError(f"k = {k} is more than the {len(cand)} candidate sites.",
                         where="siting.k", fix="ask for fewer sites or give more candidates.")
    watch = _Stopwatch()
    ex_snap = snap(net, _class_geometries(existing, cls, net.crs), how=facility_point,
                   max_snap_m=max_snap_m)
    c_snap = snap(net, np.asarray(cand.geometry.values), how=candidate_point,
                  max_snap_m=max_snap_m)
    after: Callable[[np.ndarray], tuple[float, int | None]]
    if measure == "units":
        geoms, weight, ids = unit_demand(demand, net.crs, population)
        total = _total_weight(float(weight.sum()), population)
        reach = unit_reach(net, geoms, entrances=entrances, spacing_m=entrance_spacing_m,
                           max_snap_m=max_snap_m)
        watch.lap("snap")
        atoms = unit_atoms(net, geoms, weight, reach, c_snap, ex_snap, radius_m)
        watch.lap("atoms")

        def after(sites: np.ndarray) -> tuple[float, int | None]:
            served = served_by(net, reach, join_snaps(ex_snap, c_snap.subset(sites)), radius_m)
            return float(weight[served].sum()), int(served.sum())
    else:
        geoms, density, ids = _demand(demand, net.crs, population)
        total = _total_weight(float((shapely.area(geoms) * density).sum()), population)
        watch.lap("snap")
        atoms = build_atoms(net, geoms, density, c_snap, ex_snap, radius_m, frontage_m,
                            keep_geometry=False)
        watch.lap("atoms")
        reached_before = reached_pieces(net, ex_snap, radius_m, per_facility=False)

        def after(sites: np.ndarray) -> tuple[float, int | None]:
            new = reached_pieces(net, c_snap.subset(sites), radius_m, per_facility=False)
            return _covered(net, [reached_before, new], geoms, density, frontage_m), None
    before = after(np.empty(0, dtype=np.int64))
    watch.lap("before")
    open_atoms = ~atoms.before & (np.diff(atoms.cover.indptr) > 0)
    a, w = atoms.cover[open_atoms], atoms.weight[open_atoms]
    base_w = float(atoms.weight[atoms.before].sum())  # covered by the existing facilities
    target = _target_weight(cls, target_share, total, base_w, float(w.sum()))
    covers = _solve(method, a, w, k, target, time_limit_s, watch)
    unit = population or ("units" if measure == "units" else "area_m2")
    problem = _Problem(net=net, cls=cls, radius_m=radius_m, frontage_m=frontage_m,
                       candidate_point=candidate_point, max_snap_m=max_snap_m, cand=cand,
                       c_snap=c_snap, measure=measure, total=total, base_w=base_w,
                       before=before, after=after, n_units=int(geoms.size))
    sites, new_catch, coverage = _method_outputs(problem, covers, atoms, unit, watch)
    unreach = _unreachable_layer(atoms, ids, cls, net.crs)
    watch.lap("unreachable")
    return SitingResult(cls, radius_m, unit, sites, new_catch, coverage,
                        unreach, covers, int(atoms.geometry.size), len(cand),
                        n_candidates_near=atoms.n_near, timings=watch.timings)


class _Stopwatch:
    """Seconds per step, each measured from the end of the step before."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def lap(self, step: str) -> None:
        """Record the seconds since the previous lap as ``step``."""
        now = time.perf_counter()
        self.timings[step] = now - self._clock
        self._clock = now


@dataclass(frozen=True)
class _Problem:
    """One siting instance, as the per-method outputs need it.

    ``total`` is the demand's whole weight, ``base_w`` the weight the existing facilities
    cover according to the atoms, ``before`` the ``(weight, units)`` they cover by the
    independent count and ``after`` that count for the existing facilities plus a set of
    candidates (indices into ``cand``, in id order; ``c_snap`` their snaps).
    """

    net: Network
    cls: str
    radius_m: float
    frontage_m: float
    candidate_point: SnapPoint
    max_snap_m: float
    cand: gpd.GeoDataFrame
    c_snap: Snap
    measure: str
    total: float
    base_w: float
    before: tuple[float, int | None]
    after: Callable[[np.ndarray], tuple[float, int | None]]
    n_units: int


def _total_weight(total: float, population: str | None) -> float:
    """Return the demand's whole weight, refusing a demand that weighs nothing.

    Refused before any network work: a share of nothing is not a number.
    """
    if not total > 0:
        raise InputError(f"the demand weighs nothing: its {population or 'area'} adds up to "
                         f"{total:g}, so no share of it can be covered.", where="siting demand",
                         fix="use a population field with people in it, or weight by area.")
    return total


def _class_geometries(existing: gpd.GeoDataFrame, cls: str, crs: Any) -> np.ndarray:
    """Return the geometries of the existing facilities of ``cls`` in ``crs``."""
    mine = existing[existing["class"].astype(str) == cls] if len(existing) else existing
    return np.asarray(mine.to_crs(crs).geometry.values, dtype=object)


def _target_weight(cls: str, target_share: float | None, total: float, base_w: float,
                   open_w: float) -> float | None:
    """Return the weight the new sites must add to reach ``target_share`` (None with ``k``).

    ``base_w`` is the weight the existing facilities cover and ``open_w`` the uncovered weight
    some candidate covers; a share beyond their sum is refused, and a share the existing
    facilities reach already needs nothing (0).
    """
    if target_share is None:
        return None
    target = target_share * total - base_w
    best = (base_w + open_w) / total
    if best < target_share * (1 - 1e-9):
        raise InputError(f"no set of candidates reaches {target_share:.1%} coverage of "
                         f"{cls}: the most they can reach is {best:.1%}.",
                         where="siting.target_share",
                         fix="lower the target or add candidate sites.")
    return max(target, 0.0)


def _solve(method: Method, a: sparse.csr_matrix, w: np.ndarray, k: int | None,
           target: float | None, time_limit_s: float, watch: _Stopwatch) -> dict[str, Cover]:
    """Run the solver of each method (``"both"``: greedy, then exact) on the open atoms."""
    covers: dict[str, Cover] = {}
    for m in (("greedy", "exact") if method == "both" else (method,)):
        if target is not None and target <= 0:
            covers[m] = Cover(np.empty(0, np.int64), np.empty(0), 0.0, m, "target_met", 0.0,
                              0.0, 0.0, "sites")
        elif m == "greedy":
            covers[m] = greedy_cover(a, w, k=k, target=target)
        else:
            covers[m] = exact_cover(a, w, k=k, target=target, time_limit_s=time_limit_s)
        watch.lap(f"solve_{m}")
    return covers


def _method_outputs(p: _Problem, covers: dict[str, Cover], atoms: Atoms, unit: str,
                    watch: _Stopwatch) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    """Build the sites, their catchments and the coverage rows of every method."""
    site_rows, catch_rows, cov_rows = [], [], []
    unreachable_w = float(atoms.weight[~atoms.reachable].sum())
    unreachable_m2 = float(atoms.area[~atoms.reachable].sum())
    for m, cov in covers.items():
        chosen = p.cand.iloc[cov.sites].reset_index(drop=True)
        rank = np.arange(1, cov.sites.size + 1)
        site_rows.append(_site_rows(p, m, cov, chosen, rank))
        catch_rows.append(_new_catchments(p, m, chosen, rank))
        watch.lap(f"catchments_{m}")
        after, n_after = p.after(cov.sites)
        watch.lap(f"after_{m}")
        before, n_before = p.before
        units = p.measure == "units"
        cov_rows.append({
            "class": p.cls, "method": m, "measure": p.measure, "radius_m": p.radius_m,
            "k": int(cov.sites.size), "weight": unit, "demand_total": p.total,
            "covered_before": before, "covered_after": after,
            "share_before": before / p.total, "share_after": after / p.total,
            "unreachable": unreachable_w, "unreachable_m2": unreachable_m2,
            "n_units": p.n_units if units else np.nan,
            "n_served_before": n_before if units else np.nan,
            "n_served_after": n_after if units else np.nan,
            "objective": p.base_w + cov.objective,
            "status": cov.status,
            "bound": p.base_w + cov.bound if cov.unit == "weight" else cov.bound,
            "gap": cov.gap, "bound_unit": cov.unit, "seconds": cov.seconds})
    sites = gpd.GeoDataFrame(pd.concat(site_rows, ignore_index=True), geometry="geometry",
                             crs=p.net.crs)
    new_catch = gpd.GeoDataFrame(pd.concat(catch_rows, ignore_index=True), geometry="geometry",
                                 crs=p.net.crs)
    return sites, new_catch, pd.DataFrame(cov_rows)


def _site_rows(p: _Problem, m: str, cov: Cover, chosen: gpd.GeoDataFrame,
               rank: np.ndarray) -> pd.DataFrame:
    """Return the proposed sites of method ``m``: rank, gains, shares and exclusions."""
    return pd.DataFrame({
        "method": m, "rank": rank, "site_id": chosen["site_id"].to_numpy(),
        "marginal": cov.gains, "marginal_share": cov.gains / p.total,
        "cumulative_share": (p.base_w + np.cumsum(cov.gains)) / p.total,
        **{c: chosen[c].to_numpy() for c in EXCLUSION_COLUMNS if c in chosen.columns},
        "geometry": shapely.point_on_surface(np.asarray(chosen.geometry.values))})


def _new_catchments(p: _Problem, m: str, chosen: gpd.GeoDataFrame,
                    rank: np.ndarray) -> pd.DataFrame:
    """Return the catchments of the sites method ``m`` proposes, in rank order."""
    new = catchments(p.net, chosen.assign(facility_id=chosen["site_id"], **{"class": p.cls}),
                     {p.cls: p.radius_m}, mode="overlap", frontage_m=p.frontage_m,
                     facility_point=p.candidate_point, max_snap_m=p.max_snap_m)
    # (as text also when no site was chosen and the table is empty)
    new = new.astype({"facility_id": "string"}).merge(pd.DataFrame({
        "facility_id": chosen["site_id"].astype("string"), "rank": rank}), on="facility_id")
    new = new.rename(columns={"facility_id": "site_id"}).sort_values("rank")
    new.insert(0, "method", m)
    return new[["method", "rank", "site_id", "class", "radius_m", "area_m2", "geometry"]]


def _unreachable_layer(atoms: Atoms, ids: np.ndarray, cls: str, crs: Any) -> gpd.GeoDataFrame:
    """Return the demand no catchment reaches, one row per demand polygon that has some."""
    lost = ~atoms.reachable
    owners = np.unique(atoms.owner[lost])
    slot = np.searchsorted(owners, atoms.owner[lost])
    return gpd.GeoDataFrame({
        "class": cls, "demand_id": ids[owners],
        "area_m2": np.bincount(slot, weights=atoms.area[lost], minlength=owners.size),
        "weight": np.bincount(slot, weights=atoms.weight[lost], minlength=owners.size),
    }, geometry=grouped_union(atoms.geometry[lost], slot, owners.size), crs=crs)
