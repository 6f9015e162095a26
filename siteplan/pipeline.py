"""A whole study, end to end: the Python API behind ``siteplan run`` and ``siteplan demo``.

:func:`run_study` reads a study file (or takes a :class:`~siteplan.study.model.Study`), builds the
walking network, classifies the facilities, computes the parcels' network access, the catchments,
coverage and blind spots, and scores the parcels.  It returns a :class:`StudyResult` of
GeoDataFrames and writes nothing; :func:`write_outputs` writes the shortlist (CSV, XLSX,
GeoPackage with every layer), the interactive map and the static map.  Notebooks call these two;
the CLI and the batch runner only call them in order.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from siteplan.access.catchments import catchments as build_catchments
from siteplan.access.distances import facility_access
from siteplan.access.lifecircle import life_circle_completeness, unit_completeness
from siteplan.access.reach import release_class_streets
from siteplan.access.service import ServiceCoverage, service_coverage
from siteplan.access.split import Mapper, split_access
from siteplan.core.errors import ConfigError, NothingRankedError, SiteplanWarning
from siteplan.core.progress import Progress, Steps, trim_memory
from siteplan.facilities.classify import classify_facilities, load_facility_layer
from siteplan.facilities.lifecircle import life_circle_facilities
from siteplan.facilities.proxies import transport_proxies
from siteplan.facilities.report import empty_report
from siteplan.facilities.rules import PROXY_CLASSES
from siteplan.inputs import (
    check_layer_offset,
    load_study_parcels,
    read_boundary,
    read_buildings,
    read_entrances,
    read_hazards,
    read_residential,
    read_sources,
    residential_buildings,
)
from siteplan.io.crs import MetricKind, lonlat_bounds
from siteplan.network.build import graph_from_lines
from siteplan.network.graph import Network
from siteplan.network.walkfilter import walk_profile
from siteplan.osm.parse import is_osm_file
from siteplan.parcels.plausible import implausible_parcels, spanned_area_m2
from siteplan.scoring.compliance import compliance_counts
from siteplan.scoring.robustness import study_robustness
from siteplan.scoring.score import assess_parcels
from siteplan.scoring.thin import thin_layers
from siteplan.study.access_gaps import access_warnings
from siteplan.study.checks import require_inputs
from siteplan.study.model import Study, load_study
from siteplan.study.result import CatchmentResult, StudyResult

#: The bundled Taiyuan study: ``data/taiyuan`` in a checkout, shipped inside the wheel as
#: ``siteplan/demo/taiyuan`` (a link to it in the source tree), so ``siteplan demo`` also works
#: from an installed package.
DEMO_STUDY = Path(__file__).parent / "demo" / "taiyuan" / "study.toml"


def _network(study: Study, lines: gpd.GeoDataFrame) -> Network:
    cfg = study.network
    if cfg.snap_tolerance_m > 0 and is_osm_file(str(study.inputs.streets)):
        # OSM connects ways by shared node ids; merging close ends would join bridges to the
        # roads under them.
        raise ConfigError(
            f"snap_tolerance_m = {cfg.snap_tolerance_m:g} cannot be used with raw OSM streets.",
            where="network.snap_tolerance_m",
            fix="remove it (OSM ways already meet at shared nodes); it is for line layers "
            "whose lines do not quite meet.")
    walk = walk_profile(cfg.walk_profile)
    if cfg.exclude_highway is not None:
        walk = walk.with_exclusions(highway="|".join(cfg.exclude_highway) or "^$")
    # [crs] metric is "utm", "cgcs2000" or a projected CRS the study's validation accepted.
    metric = None if study.crs.metric in ("utm", "cgcs2000") else CRS.from_user_input(
        study.crs.metric)
    kind: MetricKind = "cgcs2000" if study.crs.metric == "cgcs2000" else "utm"
    return graph_from_lines(lines, walk_filter=walk, snap_tolerance_m=cfg.snap_tolerance_m,
                            metric_crs=metric, metric_kind=kind,
                            keep_largest=cfg.keep_largest, source=str(study.inputs.streets),
                            coincident_nodes=cfg.coincident_nodes,
                            coincident_tolerance_m=cfg.coincident_tolerance_m)


def _facilities(study: Study, lines: gpd.GeoDataFrame, features: gpd.GeoDataFrame | None,
                crs: Any) -> tuple[gpd.GeoDataFrame, pd.DataFrame, gpd.GeoDataFrame]:
    frames = []
    unclassified = pd.DataFrame({"name": pd.Series([], dtype="string")})
    report = empty_report(crs)
    if features is not None:
        result = classify_facilities(features, source="osm")
        frames.append(result.facilities)
        unclassified = pd.DataFrame(result.unclassified_schools.drop(
            columns="geometry", errors="ignore"))
        if result.report is not None:
            report = result.report.to_crs(crs)
    osm = frames[0] if frames else None
    for layer in study.inputs.layers:
        spec = study.input_layer(layer, "facility layer")
        frame = load_facility_layer(
            spec, class_=layer.class_, class_column=layer.class_column,
            name_column=layer.name_column, id_column=layer.id_column,
            capacity_column=layer.capacity_column)
        # Amap/Baidu exports are often GCJ-02/BD-09 without saying so: ~500 m off.
        check_layer_offset(study, frame, f"facility layer {layer.path}", streets=lines,
                           facilities=osm)
        frames.append(frame)
    needed = set(study.facility_classes())
    if needed & set(PROXY_CLASSES):
        present = set().union(*(set(f["class"]) for f in frames)) if frames else set()
        if not (needed & set(PROXY_CLASSES)) <= present:
            proxies = transport_proxies(lines, metric_crs=crs)
            frames.append(proxies[proxies["class"].isin(sorted(needed - present))])
    columns = ["facility_id", "class", "name", "source"]
    # Places (capacity) travel along where a source has them, for places per 1,000 residents.
    frames = [f.to_crs(crs)[[*columns, *(["capacity"] if "capacity" in f else []), "geometry"]]
              for f in frames if len(f)]
    if not frames:
        empty = gpd.GeoDataFrame({c: pd.Series([], dtype="string") for c in columns},
                                 geometry=[], crs=crs)
        return empty, unclassified, report
    out = pd.concat(frames, ignore_index=True)
    if "capacity" in out:
        out["capacity"] = pd.to_numeric(out["capacity"], errors="coerce").astype(float)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crs), unclassified, report


@dataclass
class Prepared:
    """The study's inputs, read and prepared.

    The walking network, the facilities, residential land, building footprints (where the OSM
    features have them), the study boundary, hazard polygons and the mapped entrances of
    estates (OSM entrances and gates, or ``inputs.entrances``).
    """

    #: The street lines as read; None once the parcels are checked against them
    #: (:func:`release_lines`).
    lines: gpd.GeoDataFrame | None
    network: Network
    facilities: gpd.GeoDataFrame
    unclassified: pd.DataFrame
    residential: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame | None
    boundary: gpd.GeoDataFrame | None
    hazards: gpd.GeoDataFrame | None
    entrances: gpd.GeoDataFrame | None = None
    facilities_report: gpd.GeoDataFrame | None = None
    # The facilities of the life-circle types (class = type), when the study measures them.
    life_circle: gpd.GeoDataFrame | None = None


def prepare(study: Study, step: Steps) -> Prepared:
    """Read the sources, build the network and classify the facilities."""
    study.check_inputs_exist()
    with step("read inputs"):
        lines, features = read_sources(study)
        facilities_file = study.inputs.facilities
        if features is not None and facilities_file is not None \
                and facilities_file != study.inputs.streets:
            check_layer_offset(study, features, f"facility file {_path(facilities_file)}",
                               streets=lines)
    with step("network"):
        net = _network(study, lines)
    with step("facilities"):
        facilities, unclassified, report = _facilities(study, lines, features, net.crs)
        counts = facilities["class"].value_counts().to_dict()
        study.check_against_facilities({str(k): int(v) for k, v in counts.items()})
        residential = read_residential(study, features, net.crs)
        buildings = read_buildings(features, net.crs)
        boundary = read_boundary(study, net.crs)
        hazards = read_hazards(study, net.crs)
        entrances = read_entrances(study, features, net.crs)
        life = None
        if study.uses_life_circles():
            life = life_circle_facilities(
                facilities, None if features is None else features.to_crs(net.crs))
    return Prepared(lines, net, facilities, unclassified, residential, buildings, boundary,
                    hazards, entrances, report, life)


def _catchments(study: Study, inp: Prepared, step: Steps,
                parcels: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame, ServiceCoverage]:
    """Catchments in the study's mode, plus coverage and blind spots of every class.

    Coverage is that of the served units (:func:`siteplan.access.service.service_coverage`),
    with the street-frontage land share beside it.

    Proxy classes (thousands of points along roads or track) are always the streets they reach,
    as lines: one polygon per proxy point would say nothing, and their dissolved polygon is a
    city-wide union of minutes.  So is a class with more than ``catchments.max_polygons``
    facilities (with a warning).  The frontage land figures are those of each class's dissolved
    catchment, whatever the mode, computed without building it
    (:func:`siteplan.access.coverage.class_coverage`): only the polygons that are written and
    drawn are built.
    """
    cfg = study.network
    radii = {c: r for c in study.facility_classes() if (r := study.class_radius(c)) is not None}
    frontage_m = study.catchments.frontage_m
    # Coverage first: the catchment lines it does not need are not alive while it runs (at a
    # million nodes the coverage step is the study's peak of memory).
    with step("coverage"):
        cov = study.coverage
        gates = inp.entrances
        served = service_coverage(
            inp.network, inp.facilities, radii, inp.residential,
            buildings=residential_buildings(inp.buildings, inp.residential), parcels=parcels,
            entrances=None if gates is None else gates.geometry.to_numpy(),
            population_column=cov.population_column, households_column=cov.households_column,
            residential_far=cov.residential_far,
            dwelling_size_m2=study.programme.dwelling_size_m2,
            persons_per_household=study.programme.persons_per_household,
            entrance_spacing_m=cov.entrance_spacing_m, supply_norms=cov.supply_norms,
            frontage_m=frontage_m, facility_point=cfg.facility_point, max_snap_m=cfg.max_snap_m,
            search_limit_m=cfg.search_limit_m)
        trim_memory()  # the class unions' freed pages, before the units' passes
        if inp.life_circle is not None and len(served.units):
            # Each unit's life circles, from its entrances (the parcels' are a step of their own).
            served.units = served.units.join(unit_completeness(
                inp.network, served.units, inp.life_circle, entrances=None if gates is None
                else gates.geometry.to_numpy(), spacing_m=cov.entrance_spacing_m,
                facility_point=cfg.facility_point, max_snap_m=cfg.max_snap_m))
    with step("catchments"):
        polys = build_catchments(
            inp.network, inp.facilities, radii, mode=study.catchments.mode,
            rings_m=study.catchments.rings_m, frontage_m=frontage_m,
            facility_point=cfg.facility_point, max_snap_m=cfg.max_snap_m,
            as_lines=line_classes(study, inp.facilities, radii))
    release_class_streets(inp.network)
    return polys, served


def line_classes(study: Study, facilities: gpd.GeoDataFrame,
                 radii: dict[str, float]) -> list[str]:
    """Classes whose catchment is drawn as the streets they reach: proxies and large classes.

    A class with more facilities than ``catchments.max_polygons`` is warned about (in
    ``mode = "dissolve"`` only the proxies are lines: the study asked for one polygon per
    class).
    """
    counts = facilities["class"].astype(str).value_counts()
    out = [c for c in radii if c in PROXY_CLASSES]
    if study.catchments.mode == "dissolve":
        return out
    limit = study.catchments.max_polygons
    for cls in sorted(set(radii) - set(out)):
        n = int(counts.get(cls, 0))
        if n > limit:
            out.append(cls)
            warnings.warn(
                f"{study.source_path or 'study config'}: {n:,} {cls} facilities, more than "
                f"catchments.max_polygons = {limit:,}: the {cls} catchment is the streets they "
                f"reach within {radii[cls]:g} m (one row of lines), not one polygon per "
                "facility. Fix: raise catchments.max_polygons to build the polygons (about 9 ms "
                "each at 1000 m), or set catchments.mode = \"dissolve\" for one polygon.",
                SiteplanWarning, stacklevel=3)
    return out


def _path(source: Any) -> str:
    return str(getattr(source, "path", source))


def checked_parcels(study: Study, inp: Prepared) -> gpd.GeoDataFrame:
    """Load the study's parcels, check them against the streets, return them in the metric CRS."""
    parcels = load_study_parcels(study)
    assert study.inputs.parcels is not None  # (load_study_parcels refuses a study without)
    check_layer_offset(study, parcels, f"parcels {_path(study.inputs.parcels)}",
                       streets=inp.lines, outline=True)
    return parcels.to_crs(inp.network.crs)


def release_lines(inp: Prepared) -> None:
    """Drop the street lines once the network, facilities and parcel check have used them.

    The rest of a study needs only the network; the lines with their tags are ~0.4 GB at a
    million nodes, which would otherwise stay alive through every later stage.
    """
    inp.lines = None


def _load(study: Study | str | Path) -> Study:
    return study if isinstance(study, Study) else load_study(study)


def run_study(study: Study | str | Path, *, progress: Progress | None = None,
              access_map: Mapper | None = None, tiles: tuple[int, int] = (2, 2)) -> StudyResult:
    """Run a study end to end in memory.

    Parameters
    ----------
    study
        A :class:`~siteplan.study.model.Study` or the path of its TOML file.
    progress
        Called as ``progress(step, "start" | "done")`` around each step (for progress bars).
    access_map
        Split the access stage into ``tiles`` spatial tiles and run them with this mapper
        (:func:`siteplan.access.split.split_access`; :func:`siteplan.batch.dask_mapper` for a
        Dask cluster): the same numbers as one process.
    tiles
        ``(nx, ny)`` tiles of the split.

    Returns
    -------
    StudyResult
        The network, facilities, scored parcels, catchments, coverage, blind spots and step
        timings; nothing is written (:func:`siteplan.outputs.writers.write_outputs` does).

    Warns
    -----
    SiteplanWarning
        For what the inputs or the access stage could not do (a repaired geometry, a class
        without facilities, facilities off the network...), one warning each.

    Examples
    --------
    >>> import warnings
    >>> from siteplan import SiteplanWarning, Study, run_study
    >>> study = Study.model_validate({
    ...     "study": {"name": "Taiyuan: primary schools"},
    ...     "inputs": {"streets": "data/taiyuan/taiyuan_osm_lines.geojson",
    ...                "facilities": "data/taiyuan/taiyuan_osm_multipolygons.geojson",
    ...                "parcels": {"path": "data/taiyuan/parcels.gpkg", "id_column": "parcel_id"}},
    ...     "criteria": [{"name": "primary_school_walk", "kind": "distance",
    ...                   "class": "primary_school", "weight": 1,
    ...                   "transform": {"type": "linear", "best": 500, "worst": 1500}}]})
    >>> with warnings.catch_warnings():  # one OSM polygon is invalid as mapped: repaired
    ...     warnings.filterwarnings("ignore", ".*repaired 1 invalid geometry", SiteplanWarning)
    ...     result = run_study(study)
    >>> len(result.parcels), result.network.crs.to_epsg()
    (1328, 32649)
    >>> result.ranked(3)["rank"].tolist()
    [1, 2, 3]
    """
    study = _load(study)
    require_inputs(study, ("streets", "parcels"), "siteplan run")  # before reading any data
    step = Steps(progress)
    inp = prepare(study, step)
    net = inp.network
    cfg = study.network
    classes = study.facility_classes()
    with step("parcels"):
        parcels = checked_parcels(study, inp)
        release_lines(inp)
        # Sizes alone were checked when the parcels were loaded; here, against the study area.
        for text in implausible_parcels(parcels, spanned_area_m2(net.node_xy), max_ha=math.inf):
            warnings.warn(f"{study.source_path or 'study config'}: {text}", SiteplanWarning,
                          stacklevel=2)
    with step("access"):
        settings: dict[str, Any] = {
            "classes": classes, "count_radii": {c: study.count_radii(c) for c in classes},
            "search_limit_m": cfg.search_limit_m, "max_snap_m": cfg.max_snap_m,
            "target_point": cfg.parcel_point, "facility_point": cfg.facility_point,
            "speed_mps": cfg.speed_mps}
        access = (facility_access(net, parcels, inp.facilities, **settings)
                  if access_map is None else
                  split_access(net, parcels, inp.facilities, tiles=tiles, mapper=access_map,
                               **settings))
        parcels = parcels.join(access.table)
        for text in access_warnings(study, inp.facilities, access.table, access.unreachable):
            warnings.warn(text, SiteplanWarning, stacklevel=2)
    if inp.life_circle is not None:
        with step("life circles"):
            parcels = parcels.join(life_circle_completeness(
                net, parcels, inp.life_circle, target_point=cfg.parcel_point,
                facility_point=cfg.facility_point, max_snap_m=cfg.max_snap_m))
    polys, served = _catchments(study, inp, step, parcels)
    units = served.units
    net.release_indexes()  # rebuilt if scoring needs them (2SFCA); otherwise ~0.7 GB freed
    with step("scoring"):
        scored = assess_parcels(parcels, study, net=net, facilities=inp.facilities,
                                demand=inp.residential, hazards=inp.hazards)
        if study.robustness is not None:
            # Columns added, not joined: a join copies every column of a province's parcels.
            for col, values in study_robustness(scored, study).items():
                scored[col] = values.to_numpy()
    thin = thin_layers(study, inp.facilities, inp.residential, scored)
    result = StudyResult(study=study, network=net, facilities=inp.facilities, parcels=scored,
                         catchments=polys, coverage=served.table,
                         blind_spots=served.blind_spots, unreachable=access.unreachable,
                         unclassified=inp.unclassified, residential=inp.residential,
                         buildings=inp.buildings, boundary=inp.boundary, timings=step.timings,
                         units=units, blind_spots_frontage=served.blind_spots_frontage,
                         entrances=inp.entrances, facilities_report=inp.facilities_report,
                         thin_layers=thin, life_circle_facilities=inp.life_circle)
    check_ranked(result)
    return result


def check_ranked(result: StudyResult) -> None:
    """Refuse a run that ranks no parcel, with the exclusion reasons counted.

    An empty shortlist with exit 0 reads as "no parcel qualifies"; mostly it means parcels in
    another city than the streets, a wrong CRS, or a column blank for every parcel.  The
    :class:`~siteplan.core.errors.NothingRankedError` keeps the result for inspection.
    """
    parcels = result.parcels
    if "rank" not in parcels or parcels["rank"].notna().any():
        return
    reasons = parcels.get("exclusion_reason", pd.Series("", index=parcels.index))
    counts = reasons.fillna("").astype(str).replace("", "no reason given").value_counts()
    listed = "; ".join(f"{r}: {n}" for r, n in counts.items())
    blank = [r for r in counts.index if "unknown (no data)" in r]
    fix = ("check that the parcels lie in the area of the streets (parcels of another city "
           "reach no street) and that their CRS is right, and relax [[constraints]] that "
           "exclude every parcel.")
    if blank:
        fix = (f"{blank[0].replace(' unknown (no data)', '')} is blank or missing for the "
               "parcels it excludes: fill it in the parcel layer, or set missing = \"keep\" on "
               "that constraint; " + fix)
    raise NothingRankedError(
        f"no parcel can be ranked: all {len(parcels)} parcels are excluded ({listed}); "
        "nothing was written.", where=str(result.study.source_path or "study"), fix=fix,
        result=result)


def run_catchments(study: Study | str | Path, *, progress: Progress | None = None,
                   mode: str | None = None) -> CatchmentResult:
    """Compute the catchments, coverage and blind spots of a study's facilities, without scoring.

    Parcels, when the study has them, are counted in the coverage table.

    Parameters
    ----------
    study
        A :class:`~siteplan.study.model.Study` or the path of its TOML file.
    progress
        Called as ``progress(step, "start" | "done")`` around each step (for progress bars).
    mode
        Overrides the study's ``catchments.mode`` (``overlap``, ``dissolve``, ``split`` or
        ``rings``).

    Returns
    -------
    CatchmentResult
        The network, facilities, catchments, coverage table, blind spots and step timings.

    Examples
    --------
    >>> import warnings
    >>> from siteplan import SiteplanWarning, Study, run_catchments
    >>> study = Study.model_validate({
    ...     "study": {"name": "Taiyuan: primary schools"},
    ...     "inputs": {"streets": "data/taiyuan/taiyuan_osm_lines.geojson",
    ...                "facilities": "data/taiyuan/taiyuan_osm_multipolygons.geojson",
    ...                "parcels": {"path": "data/taiyuan/parcels.gpkg", "id_column": "parcel_id"}},
    ...     "criteria": [{"name": "primary_school_walk", "kind": "distance",
    ...                   "class": "primary_school", "weight": 1,
    ...                   "transform": {"type": "linear", "best": 500, "worst": 1500}}]})
    >>> with warnings.catch_warnings():  # one OSM polygon is invalid as mapped: repaired
    ...     warnings.filterwarnings("ignore", ".*repaired 1 invalid geometry", SiteplanWarning)
    ...     res = run_catchments(study, mode="dissolve")
    >>> sorted(res.catchments["class"])
    ['kindergarten', 'middle_school', 'primary_school']
    >>> res.coverage.columns[:5].tolist()
    ['class', 'radius_m', 'n_units', 'n_units_served', 'units_served_share']
    """
    study = _load(study)
    if mode is not None:
        # Not re-validated here: siteplan.access.catchments.catchments refuses an unknown mode
        # with a ConfigError that names it.
        study = study.model_copy(update={
            "catchments": study.catchments.model_copy(update={"mode": mode})})
    require_inputs(study, ("streets",), "siteplan catchments")
    step = Steps(progress)
    inp = prepare(study, step)
    parcels = checked_parcels(study, inp) if study.inputs.parcels is not None else None
    polys, served = _catchments(study, inp, step, parcels)
    return CatchmentResult(study, inp.network, inp.facilities, polys, served.table,
                           served.blind_spots, step.timings, units=served.units,
                           blind_spots_frontage=served.blind_spots_frontage)


@dataclass
class StudySummary:
    """What the batch runner needs from one study run."""

    name: str
    out_dir: Path
    map_html: Path | None
    shortlist_csv: Path | None
    top: pd.DataFrame
    #: The study's coverage table and seed compliance counts, for a province summary.
    coverage: pd.DataFrame | None = None
    compliance: pd.DataFrame | None = None
    #: The parcels' extent in WGS84 lon/lat (west, south, east, north), for the index map.
    extent: tuple[float, float, float, float] | None = None


def run_study_file(path: str | Path, out_dir: str | Path, *,
                   offline: bool | None = None) -> StudySummary:
    """Run one study file and write its outputs into ``out_dir`` (the batch runner's task).

    ``offline``: self-contained maps (True) or Leaflet from its CDN (False); default the
    study's ``outputs.offline``.
    """
    from siteplan.outputs.writers import plan_study_outputs, write_outputs

    study = load_study(path)
    plan_study_outputs(study, out_dir)  # refused before the analysis, not after it
    result = run_study(study)
    written = write_outputs(result, out_dir, offline=offline)
    top_n = result.study.outputs.top_n
    top = pd.DataFrame(result.ranked(top_n)[["parcel_id", "rank", "score"]])
    # Small tables only go back to the batch (over the network from a Dask worker).
    west, south, east, north = (float(v) for v in lonlat_bounds(result.parcels))
    return StudySummary(name=result.study.study.name, out_dir=Path(out_dir),
                        map_html=written.get("map"), shortlist_csv=written.get("csv"),
                        top=top.reset_index(drop=True), coverage=result.coverage.copy(),
                        compliance=compliance_counts(result.parcels,
                                                     result.study.compliance.radii),
                        extent=(west, south, east, north))
