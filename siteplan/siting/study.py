"""Gap filling on a study run: :func:`site_study` takes the network, facilities, radius,
frontage and snapping settings from a :class:`~siteplan.pipeline.StudyResult` and calls
:func:`siteplan.siting.cover.maximal_cover`; :func:`check_request` refuses a bad request before
the study runs; :func:`write_siting` writes the GeoPackage, the CSV of proposed sites and the
planning map.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.access.catchments import SEED_RADII
from siteplan.core.errors import ConfigError, InputError
from siteplan.network.graph import Network
from siteplan.siting.cover import (
    EXCLUSION_COLUMNS,
    Method,
    SitingResult,
    check_options,
    maximal_cover,
)

if TYPE_CHECKING:
    from siteplan.pipeline import StudyResult
    from siteplan.study.model import Study


def _check_stem(stem: str) -> None:
    """Output names are ``<stem>.gpkg`` etc. in the output folder: a stem must stay in it."""
    bad = (not isinstance(stem, str) or not stem.strip() or "/" in stem or "\\" in stem
           or ".." in stem or (os.altsep is not None and os.altsep in stem))
    if bad:
        raise InputError(f"bad output stem {stem!r}: it must be a plain file-name stem, "
                         "without a path separator or '..'.", where="siting stem",
                         fix="give e.g. siting or kindergarten_gaps, and choose the folder "
                         "with --out.")


def study_radius(study: Study, cls: str) -> float:
    """The class's radius from the study (else the seed radius); ConfigError if it has none."""
    radius = study.class_radius(cls)
    if radius is None:
        radius = SEED_RADII.get(cls)
    if radius is None:
        known = sorted(set(study.classes) | set(SEED_RADII))
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
    _check_stem(stem)
    return radius


def node_candidates(net: Network) -> gpd.GeoDataFrame:
    """Every network node as a candidate site ``node_<id>`` (zero-padded, so ids sort as
    numbers)."""
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
) -> SitingResult:
    """:func:`maximal_cover` on a study run: its network, facilities, radius, frontage and
    snapping settings; candidates the study's parcels, the network nodes or a site layer.

    With ``skip_excluded`` only candidates whose ``excluded`` is False are offered (the
    parcels the study's constraints keep; nodes have no exclusions).  Either way the sites
    carry the candidates' ``excluded`` and ``exclusion_reason`` columns.
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
    point = cfg.parcel_point if not isinstance(candidates, gpd.GeoDataFrame) else "representative"
    out = maximal_cover(net, result.facilities, cls, radius, cand, dem, k=k,
                        target_share=target_share, population=population, method=method,
                        time_limit_s=time_limit_s, frontage_m=result.study.catchments.frontage_m,
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
    """The proposed sites as a plain table with ``lon``/``lat`` (for the CSV)."""
    pts = result.sites.to_crs(4326).geometry
    table = pd.DataFrame(result.sites.drop(columns="geometry"))
    table.insert(1, "class", result.cls)
    table["lon"] = pts.x.to_numpy()
    table["lat"] = pts.y.to_numpy()
    return table.reset_index(drop=True)


def write_siting(result: SitingResult, out_dir: str | Path, stem: str = "siting") -> list[Path]:
    """Write ``<stem>.gpkg``, ``<stem>_sites.csv`` and, when the result comes from
    :func:`site_study`, ``<stem>.html``; each atomically.

    The GeoPackage holds ``proposed_<class>`` (the sites, the layer name of DESIGN.md),
    ``proposed_<class>_catchments`` (their new catchments), ``siting_coverage`` and
    ``siting_unreachable``; the CSV is UTF-8 with a BOM, formula-like text neutralised; the
    HTML is the planning map with the proposed sites and their catchments.

    Returns
    -------
    list of pathlib.Path
        The paths written.
    """
    from siteplan.core.atomic import check_outputs, check_writable_dir, write_bytes_atomic
    from siteplan.outputs.maps.webmap import make_map, save_map
    from siteplan.outputs.shortlist import shortlist_csv_bytes
    from siteplan.outputs.writers import map_parcels, write_layers

    _check_stem(stem)
    out = check_writable_dir(out_dir)
    ctx = result.map_layers
    planned = [out / f"{stem}.gpkg", out / f"{stem}_sites.csv"]
    if ctx.get("parcels") is not None:
        planned.append(out / f"{stem}.html")
    # Refuse the whole set (an output onto a study input) before writing any of it.
    check_outputs(planned, result.inputs)
    written = [write_layers(planned[0], {
        f"proposed_{result.cls}": result.sites,
        f"proposed_{result.cls}_catchments": result.catchments,
        "siting_coverage": result.coverage, "siting_unreachable": result.unreachable},
        inputs=result.inputs)]
    written.append(write_bytes_atomic(planned[1], shortlist_csv_bytes(sites_table(result))))
    if ctx.get("parcels") is not None:
        # The same parcel cap as the study's own maps (a 200,000-parcel map is unusable).
        parcels, title = map_parcels(ctx["parcels"], ctx.get("title"))
        m = make_map(parcels, catchments=ctx.get("catchments"),
                     facilities=ctx.get("facilities"), blind_spots=ctx.get("blind_spots"),
                     boundary=ctx.get("boundary"), criteria=ctx.get("criteria"),
                     title=title, proposed_sites=result.sites,
                     proposed_catchments=result.catchments)
        written.append(save_map(m, out / f"{stem}.html"))
    return written
