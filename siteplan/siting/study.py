"""Gap filling on a study run: :func:`site_study`.

:func:`site_study` takes the network, facilities, radius, frontage and snapping settings from a
:class:`~siteplan.study.result.StudyResult` and calls
:func:`siteplan.siting.cover.maximal_cover`; :func:`check_request` refuses a bad request before
the study runs; :func:`siteplan.outputs.siting.write_siting` writes the GeoPackage, the CSV of
proposed sites and the planning map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.core.atomic import check_stem
from siteplan.core.defaults import SEED_RADII_M
from siteplan.core.errors import ConfigError, InputError
from siteplan.network.graph import Network
from siteplan.siting.cover import (
    EXCLUSION_COLUMNS,
    Measure,
    Method,
    SitingResult,
    check_options,
    maximal_cover,
)

if TYPE_CHECKING:
    from siteplan.study.model import Study
    from siteplan.study.result import StudyResult


def study_radius(study: Study, cls: str) -> float:
    """Return the class's radius from the study (else the seed radius); ConfigError if none."""
    radius = study.class_radius(cls)
    if radius is None:
        radius = SEED_RADII_M.get(cls)
    if radius is None:
        known = sorted(set(study.classes) | set(SEED_RADII_M))
        raise ConfigError(f"unknown facility class {cls!r} (no radius configured).",
                          where="siting class", fix=f"use one of {', '.join(known)}.")
    return float(radius)


def check_request(study: Study, cls: str, *, k: int | None = None,
                  target_share: float | None = None, method: str = "greedy",
                  time_limit_s: float = 60.0, stem: str = "siting") -> float:
    """Check a siting request against the study's configuration before running the study.

    Raises ConfigError for a class without a radius, InputError for ``k < 1``, a target
    share outside (0, 1], both or neither of ``k`` and ``target_share``, an unknown method,
    a time limit that is not a positive number or an output stem that is empty or holds a
    path separator or ``..``.  (Whether ``k`` exceeds the candidates is known only later.)

    Returns
    -------
    float
        The class's walking radius in metres.
    """
    radius = study_radius(study, cls)
    check_options(radius, k, target_share, method, time_limit_s)
    check_stem(stem)
    return radius


def node_candidates(net: Network) -> gpd.GeoDataFrame:
    """Offer every network node as a candidate site ``node_<id>``.

    The ids are zero-padded, so they sort as numbers.
    """
    width = len(str(max(net.n_nodes - 1, 0)))
    ids = np.strings.add("node_", np.strings.zfill(np.arange(net.n_nodes).astype(str), width))
    return gpd.GeoDataFrame({"site_id": ids}, geometry=shapely.points(net.node_xy), crs=net.crs)


def site_study(
    result: StudyResult,
    cls: str,
    *,
    k: int | None = None,
    target_share: float | None = None,
    candidates: Literal["parcels", "nodes"] | gpd.GeoDataFrame = "parcels",
    demand: Literal["residential", "parcels", "buildings"] = "residential",
    population: str | None = None,
    method: Method = "greedy",
    time_limit_s: float = 60.0,
    skip_excluded: bool = False,
    measure: Measure = "units",
) -> SitingResult:
    """Propose sites for new facilities of a class on a study run.

    :func:`~siteplan.siting.cover.maximal_cover` with the study's network, facilities, radius,
    entrances, frontage and snapping settings; the candidates are the study's parcels, the
    network nodes or a site layer.  With ``measure="units"`` (the default) and residential
    demand, the units and residents are those of the study's coverage report
    (``result.units``), so the shares before and after are the report's residents served.

    Parameters
    ----------
    result
        A study run (:func:`siteplan.pipeline.run_study`).
    cls
        The facility class; its radius is the study's (else the seed radius).
    k
        Number of new sites (give ``k`` or ``target_share``, not both).
    target_share
        Share (0-1] of all demand to cover with the existing and the new sites.
    candidates
        ``"parcels"`` (the study's parcels), ``"nodes"`` (every network node) or a
        GeoDataFrame of sites.
    demand
        The study layer that holds the demand: ``"residential"``, ``"parcels"`` or
        ``"buildings"``.
    population
        Demand column of weights; default: the residents of the coverage report (residential
        units, when every one is known), else each unit counts 1 (``"units"``) or each m²
        (``"frontage"``).
    method
        ``"greedy"``, ``"exact"`` (integer programme) or ``"both"``.
    time_limit_s
        Time limit of the integer programme.
    skip_excluded
        Offer only the candidates whose ``excluded`` is False (the parcels the study's
        constraints keep; nodes have no exclusions).  Either way the sites carry the
        candidates' ``excluded`` and ``exclusion_reason`` columns.
    measure
        ``"units"`` (served units, the coverage report's measure) or ``"frontage"`` (land in
        the street-frontage catchments); see :func:`~siteplan.siting.cover.maximal_cover`.

    Returns
    -------
    SitingResult
        As :func:`~siteplan.siting.cover.maximal_cover` gives it, with the study's map layers
        and input files (which the outputs never overwrite).

    Raises
    ------
    ConfigError
        A class without a radius.
    InputError
        Unknown candidates or demand, a demand layer the study does not have, or a bad
        request (see :func:`~siteplan.siting.cover.maximal_cover`).

    Examples
    --------
    A study run by hand: a 2 km street with a kindergarten at its west end, three parcels
    south of it and five estates north of it (the first served already).

    >>> import geopandas as gpd
    >>> import pandas as pd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import Study, StudyResult, graph_from_lines, site_study
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k"], "class": ["kindergarten"]},
    ...                       geometry=[Point(0, 0)], crs=crs)
    >>> parcels = gpd.GeoDataFrame(
    ...     {"parcel_id": ["p600", "p1200", "p1800"]},
    ...     geometry=[box(x - 50, -120, x + 50, -20) for x in (600, 1200, 1800)], crs=crs)
    >>> housing = gpd.GeoDataFrame(
    ...     geometry=[box(x, 10, x + 100, 110) for x in (100, 500, 900, 1300, 1700)], crs=crs)
    >>> none = gpd.GeoDataFrame({"class": []}, geometry=[], crs=crs)
    >>> result = StudyResult(Study.model_validate({"study": {"name": "demo"}}), net, kg,
    ...                      parcels, none, pd.DataFrame(), none, pd.DataFrame(),
    ...                      pd.DataFrame(), housing)
    >>> res = site_study(result, "kindergarten", k=1)
    >>> res.sites["site_id"].tolist()
    ['p1200']
    >>> res.coverage[["share_before", "share_after"]].round(2).values.tolist()
    [[0.2, 0.6]]
    """
    radius = study_radius(result.study, cls)
    net = result.network
    cfg = result.study.network
    if isinstance(candidates, gpd.GeoDataFrame):
        cand = candidates
    elif candidates == "parcels":
        keep = [c for c in ("parcel_id", *EXCLUSION_COLUMNS) if c in result.parcels.columns]
        cand = result.parcels[[*keep, result.parcels.geometry.name]]
    elif candidates == "nodes":
        cand = node_candidates(net)
    else:
        raise InputError(f"unknown candidates {candidates!r}.", where="siting candidates",
                         fix='use "parcels", "nodes" or a GeoDataFrame of sites.')
    if skip_excluded and "excluded" in cand.columns:
        cand = cand[~cand["excluded"].fillna(False).astype(bool).to_numpy()]
    layers = {"residential": result.residential, "parcels": result.parcels,
              "buildings": result.buildings}
    if demand not in layers:
        raise InputError(f"unknown demand {demand!r}.", where="siting demand",
                         fix='use "residential", "parcels" or "buildings".')
    dem = layers[demand]
    if dem is None or len(dem) == 0:
        raise InputError(f"the study has no {demand} layer to use as demand.",
                         where="siting demand", fix="choose another demand layer.")
    units = result.units
    if (measure == "units" and demand == "residential" and population is None
            and units is not None and "residents" in units and units["residents"].notna().all()):
        dem, population = units, "residents"  # the coverage report's units and residents
    point = cfg.parcel_point if not isinstance(candidates, gpd.GeoDataFrame) else "representative"
    gates = result.entrances
    out = maximal_cover(net, result.facilities, cls, radius, cand, dem, k=k,
                        target_share=target_share, population=population, method=method,
                        time_limit_s=time_limit_s, measure=measure,
                        entrances=None if gates is None else gates.geometry.to_numpy(),
                        entrance_spacing_m=result.study.coverage.entrance_spacing_m,
                        frontage_m=result.study.catchments.frontage_m,
                        facility_point=cfg.facility_point, candidate_point=point,
                        max_snap_m=cfg.max_snap_m)
    catch = result.catchments
    spots = result.blind_spots
    out.map_layers = {
        "parcels": result.parcels, "facilities": result.facilities,
        "catchments": catch[catch["class"].astype(str) == cls],
        "blind_spots": spots[spots["class"].astype(str) == cls],
        "boundary": result.boundary, "title": result.study.study.name,
        "criteria": result.study}
    out.inputs = result.study.input_files()
    return out


def sites_table(result: SitingResult) -> pd.DataFrame:
    """Return the proposed sites as a plain table with ``lon``/``lat`` (for the CSV)."""
    pts = result.sites.to_crs(4326).geometry
    table = pd.DataFrame(result.sites.drop(columns="geometry"))
    table.insert(1, "class", result.cls)
    table["lon"] = pts.x.to_numpy()
    table["lat"] = pts.y.to_numpy()
    return table.reset_index(drop=True)
