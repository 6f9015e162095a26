"""A whole study, end to end: the Python API behind ``siteplan run`` and ``siteplan demo``.

:func:`run_study` reads a study file (or takes a :class:`~siteplan.study.model.Study`), builds the
walking network, classifies the facilities, computes the parcels' network access, the catchments,
coverage and blind spots, and scores the parcels.  It returns a :class:`StudyResult` of
GeoDataFrames and writes nothing; :func:`write_outputs` writes the shortlist (CSV, XLSX,
GeoPackage with every layer), the interactive map and the static map.  Notebooks call these two;
the CLI and the batch runner only call them in order.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siteplan.access.catchments import catchments as build_catchments
from siteplan.access.coverage import class_coverage
from siteplan.access.distances import distance_column, facility_access
from siteplan.core.errors import ConfigError, SiteplanWarning
from siteplan.core.tags import tag_column
from siteplan.facilities.classify import classify_facilities, load_facility_layer, residential_land
from siteplan.facilities.proxies import transport_proxies
from siteplan.io.layers import is_polygonal, read_layer
from siteplan.io.offsets import check_offset
from siteplan.network.graph import Network, WalkFilter, graph_from_lines, is_osm_file
from siteplan.osm.features import read_osm
from siteplan.outputs.shortlist import order_parcels
from siteplan.parcels.load import load_study_parcels
from siteplan.study.model import Study, load_study

ROOT = Path(__file__).resolve().parents[1]
DEMO_STUDY = ROOT / "data" / "taiyuan" / "study.toml"
PROXY_CLASSES = ("bus_corridor", "metro_line")

Progress = Callable[[str, str], None]


@dataclass
class StudyResult:
    """Everything a study computed; all frames in the analysis (metric) CRS.

    Attributes
    ----------
    study
        The validated configuration.
    network
        The walking network.
    facilities
        Classified facilities: ``facility_id``, ``class``, ``name``, ``source``, geometry.
    parcels
        Candidate parcels with access, criterion, score, rank, exclusion, compliance and
        programme columns.
    catchments
        Catchment polygons of every class with a radius (``facility_id``, ``class``,
        ``radius_m``...).
    coverage
        Residential coverage per class.
    blind_spots
        Residential land outside each class's catchment.
    unreachable
        Parcels and facilities that could not reach the network, with distances.
    unclassified
        Schools the rules could not classify (names to add to the rules table).
    timings
        Seconds per step.
    """

    study: Study
    network: Network
    facilities: gpd.GeoDataFrame
    parcels: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame
    coverage: pd.DataFrame
    blind_spots: gpd.GeoDataFrame
    unreachable: pd.DataFrame
    unclassified: pd.DataFrame
    residential: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame | None = None
    boundary: gpd.GeoDataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def ranked(self, top_n: int | None = None) -> gpd.GeoDataFrame:
        """Parcels that are not excluded, by rank (then id); the first ``top_n`` if given."""
        ordered = order_parcels(self.parcels, top_n)
        return ordered[~ordered["excluded"].astype(bool)]


class _Steps:
    """Times each step and reports it to an optional progress callback."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.progress:
            self.progress(name, "start")
        start = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - start
        if self.progress:
            self.progress(name, "done")


def _read_sources(study: Study) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """Street lines and OSM-like facility features from the study's inputs."""
    inputs = study.inputs
    if inputs.streets is None:
        raise ConfigError("the study has no street network input.", where="inputs.streets",
                          fix='add streets = "path/to/streets.gpkg" (or an .osm/.pbf file).')
    features = None
    if is_osm_file(inputs.streets):
        lines, features = read_osm(inputs.streets)
    else:
        lines = read_layer(inputs.streets, crs=study.crs.input, encoding=study.crs.encoding,
                           coord_system=study.crs.coord_system, kind="street layer")
    if inputs.facilities is not None:
        if is_osm_file(inputs.facilities):
            _, features = read_osm(inputs.facilities)
        else:
            features = read_layer(inputs.facilities, crs=study.crs.input,
                                  encoding=study.crs.encoding,
                                  coord_system=study.crs.coord_system, kind="facility layer")
    return lines, features


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
    walk = None
    if cfg.exclude_highway is not None:
        walk = WalkFilter().with_exclusions(highway="|".join(cfg.exclude_highway) or "^$")
    metric = None if study.crs.metric in ("utm", "cgcs2000") else study.crs.metric
    kind = study.crs.metric if study.crs.metric in ("utm", "cgcs2000") else "utm"
    return graph_from_lines(lines, walk_filter=walk, snap_tolerance_m=cfg.snap_tolerance_m,
                            metric_crs=metric, metric_kind=kind,  # type: ignore[arg-type]
                            keep_largest=cfg.keep_largest, source=str(study.inputs.streets))


def _facilities(study: Study, lines: gpd.GeoDataFrame, features: gpd.GeoDataFrame | None,
                crs: Any) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    frames = []
    unclassified = pd.DataFrame({"name": pd.Series([], dtype="string")})
    if features is not None:
        result = classify_facilities(features, source="osm")
        frames.append(result.facilities)
        unclassified = pd.DataFrame(result.unclassified_schools.drop(
            columns="geometry", errors="ignore"))
    osm = frames[0] if frames else None
    for layer in study.inputs.layers:
        coord_system = layer.coord_system or study.crs.coord_system
        frame = load_facility_layer(
            layer.path, class_=layer.class_, class_column=layer.class_column,
            name_column=layer.name_column, id_column=layer.id_column, layer=layer.layer,
            crs=layer.crs, encoding=layer.encoding, coord_system=coord_system)
        if coord_system == "wgs84":
            # Amap/Baidu exports are often GCJ-02/BD-09 without saying so: ~500 m off.
            check_offset(frame, facilities=osm, streets=lines,
                         where=f"facility layer {layer.path}")
        frames.append(frame)
    needed = set(study.facility_classes())
    if needed & set(PROXY_CLASSES):
        present = set().union(*(set(f["class"]) for f in frames)) if frames else set()
        if not (needed & set(PROXY_CLASSES)) <= present:
            proxies = transport_proxies(lines)
            frames.append(proxies[proxies["class"].isin(sorted(needed - present))])
    columns = ["facility_id", "class", "name", "source"]
    frames = [f.to_crs(crs)[[*columns, "geometry"]] for f in frames if len(f)]
    if not frames:
        empty = gpd.GeoDataFrame({c: pd.Series([], dtype="string") for c in columns},
                                 geometry=[], crs=crs)
        return empty, unclassified
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crs), unclassified


def _parcels(study: Study, crs: Any) -> gpd.GeoDataFrame:
    return load_study_parcels(study).to_crs(crs)


def _residential(study: Study, features: gpd.GeoDataFrame | None, crs: Any) -> gpd.GeoDataFrame:
    """Residential land: ``inputs.residential`` (an OSM-tagged layer keeps only
    ``landuse=residential``; any other layer is residential as a whole), else the
    ``landuse=residential`` areas among the OSM facility features."""
    path = study.inputs.residential
    if path is not None and path == study.inputs.facilities and features is not None:
        res = residential_land(features)
    elif path is not None:
        res = read_layer(path, crs=study.crs.input, encoding=study.crs.encoding,
                         coord_system=study.crs.coord_system, kind="residential layer")
        if "landuse" in res.columns or "other_tags" in res.columns:
            res = residential_land(res)
    elif features is not None:
        res = residential_land(features)
    else:
        res = gpd.GeoDataFrame({"name": []}, geometry=[], crs=crs)
    return res.to_crs(crs)


def _buildings(features: gpd.GeoDataFrame | None, crs: Any) -> gpd.GeoDataFrame | None:
    """Building footprints among the OSM features (``building=*``), for the coverage counts."""
    if features is None:
        return None
    tag = tag_column(features, "building")
    keep = (tag.notna() & (tag != "no")).to_numpy(bool) & is_polygonal(features.geometry.values)
    if not keep.any():
        return None
    return features.loc[keep, [features.geometry.name]].to_crs(crs)


def _boundary(study: Study, crs: Any) -> gpd.GeoDataFrame | None:
    if study.study.boundary is None:
        return None
    frame = read_layer(study.study.boundary, crs=study.crs.input, encoding=study.crs.encoding,
                       coord_system=study.crs.coord_system, kind="study boundary")
    return frame.to_crs(crs)


@dataclass
class Prepared:
    """The study's inputs, read and prepared: network, facilities, residential land, building
    footprints (where the OSM features have them) and the study boundary."""

    lines: gpd.GeoDataFrame
    network: Network
    facilities: gpd.GeoDataFrame
    unclassified: pd.DataFrame
    residential: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame | None
    boundary: gpd.GeoDataFrame | None


def prepare(study: Study, step: _Steps) -> Prepared:
    """Read the sources, build the network and classify the facilities."""
    study.check_inputs_exist()
    with step("read inputs"):
        lines, features = _read_sources(study)
    with step("network"):
        net = _network(study, lines)
    with step("facilities"):
        facilities, unclassified = _facilities(study, lines, features, net.crs)
        counts = facilities["class"].value_counts().to_dict()
        study.check_against_facilities({str(k): int(v) for k, v in counts.items()})
        residential = _residential(study, features, net.crs)
        buildings = _buildings(features, net.crs)
        boundary = _boundary(study, net.crs)
    return Prepared(lines, net, facilities, unclassified, residential, buildings, boundary)


def _catchments(study: Study, inp: Prepared, step: _Steps,
                parcels: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame, pd.DataFrame,
                                                           gpd.GeoDataFrame]:
    """Catchments in the study's mode, plus coverage and blind spots of every class.

    Proxy classes (thousands of points along roads or track) are always dissolved: one polygon
    per proxy point would say nothing and cost minutes.  Coverage and blind spots are those of
    each class's dissolved catchment, whatever the mode, computed without building it
    (:func:`siteplan.access.coverage.class_coverage`): only the polygons that are written and drawn
    are built, since a city-wide dissolve is one large union of every reached street.
    """
    cfg = study.network
    radii = {c: r for c in study.facility_classes() if (r := study.class_radius(c)) is not None}
    mode = study.catchments.mode
    frontage_m = study.catchments.frontage_m

    def build(classes: dict[str, float], how: Any) -> gpd.GeoDataFrame:
        return build_catchments(inp.network, inp.facilities, classes, mode=how,
                                rings_m=study.catchments.rings_m, frontage_m=frontage_m,
                                facility_point=cfg.facility_point, max_snap_m=cfg.max_snap_m)

    with step("catchments"):
        if mode == "dissolve":
            polys = build(radii, "dissolve")
        else:
            proxy = {c: r for c, r in radii.items() if c in PROXY_CLASSES}
            polys = build({c: r for c, r in radii.items() if c not in proxy}, mode)
            proxies = build(proxy, "dissolve") if proxy else polys.iloc[:0]
            if len(proxies):  # (an empty frame would turn the columns' dtypes to object)
                polys = gpd.GeoDataFrame(pd.concat([polys, proxies], ignore_index=True),
                                         geometry="geometry", crs=inp.network.crs)
    with step("coverage"):
        cov, spots = class_coverage(inp.network, inp.facilities, radii, inp.residential,
                                    parcels=parcels, buildings=inp.buildings,
                                    frontage_m=frontage_m, facility_point=cfg.facility_point,
                                    max_snap_m=cfg.max_snap_m)
    return polys, cov, spots


def access_warnings(study: Study, facilities: gpd.GeoDataFrame, access: pd.DataFrame,
                    unreachable: pd.DataFrame) -> list[str]:
    """What the access stage could not measure, per facility class, as one line each.

    A class whose facilities cannot reach the walking network (farther than
    ``network.max_snap_m``, e.g. on an island of streets that was dropped), a compliance class
    with no facilities at all, and a class that no parcel reaches within ``search_limit_m``
    leave NaN distances behind (scored 0, failing the radius): right, but only if the user
    knows why.

    Parameters
    ----------
    study
        The study (its classes, limits and file name).
    facilities
        The classified facilities (``facility_id``, ``class``, ``source``).
    access
        The parcels' access table (``unreachable``, ``dist_<class>_m``).
    unreachable
        The access stage's report (``kind``, ``class``, ``id``).

    Returns
    -------
    list of str
    """
    where = study.source_path or "study config"
    cfg = study.network
    out = []
    counts = facilities["class"].astype(str).value_counts()
    reached = ~access["unreachable"].astype(bool).to_numpy()
    fac = unreachable[unreachable["kind"] == "facility"]
    for cls in study.facility_classes():
        n = int(counts.get(cls, 0))
        col = distance_column(cls)
        if n == 0:
            radius = study.compliance.radii.get(cls)
            fails = f" and fails the {radius:g} m radius" if radius is not None else ""
            out.append(f"{where}: the facility data has no {cls} facilities: every parcel's "
                       f"{col} is NaN{fails}. Fix: add a facility layer of class {cls} in "
                       "[inputs] if the area has them.")
            continue
        bad = fac.loc[fac["class"] == cls, "id"].astype(str).tolist()
        if cls in PROXY_CLASSES and len(bad) < n:
            bad = []  # points along track or expressways by design, not the user's data
        if bad:
            ids = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
            sources = sorted(set(facilities.loc[
                facilities["facility_id"].astype(str).isin(bad), "source"].astype(str)))
            what = f"all {n}" if len(bad) == n else f"{len(bad)} of {n}"
            tail = (f": every parcel's {col} is NaN" if len(bad) == n
                    else ": they are left out of the distances")
            out.append(f"{where}: {what} {cls} facilities ({', '.join(sources)}: {ids}) are "
                       f"farther than network.max_snap_m = {cfg.max_snap_m:g} m from the "
                       f"walking network{tail}. Fix: check their location and CRS, or whether "
                       "the streets around them were dropped as an island (network.keep_largest"
                       " = false keeps every component).")
            if len(bad) == n:
                continue
        if col in access and reached.any() and access.loc[reached, col].isna().all():
            out.append(f"{where}: no parcel reaches a {cls} facility within network."
                       f"search_limit_m = {cfg.search_limit_m:g} m along the streets (they may "
                       f"be on another component of the network): every parcel's {col} is NaN. "
                       "Fix: check that facilities and parcels share one connected street "
                       "network, or raise search_limit_m.")
    return out


def _load(study: Study | str | Path) -> Study:
    return study if isinstance(study, Study) else load_study(study)


def run_study(study: Study | str | Path, *, progress: Progress | None = None) -> StudyResult:
    """Run a study end to end in memory.

    Parameters
    ----------
    study
        A :class:`~siteplan.study.model.Study` or the path of its TOML file.
    progress
        Called as ``progress(step, "start" | "done")`` around each step (for progress bars).

    Returns
    -------
    StudyResult
    """
    from siteplan.scoring.score import assess_parcels

    study = _load(study)
    step = _Steps(progress)
    inp = prepare(study, step)
    net = inp.network
    cfg = study.network
    classes = study.facility_classes()
    with step("parcels"):
        parcels = _parcels(study, net.crs)
    with step("access"):
        access = facility_access(
            net, parcels, inp.facilities, classes=classes,
            count_radii={c: study.count_radii(c) for c in classes},
            search_limit_m=cfg.search_limit_m, max_snap_m=cfg.max_snap_m,
            target_point=cfg.parcel_point, facility_point=cfg.facility_point,
            speed_mps=cfg.speed_mps)
        parcels = parcels.join(access.table)
        for text in access_warnings(study, inp.facilities, access.table, access.unreachable):
            warnings.warn(text, SiteplanWarning, stacklevel=2)
    polys, cov, spots = _catchments(study, inp, step, parcels)
    with step("scoring"):
        scored = assess_parcels(parcels, study, net=net, facilities=inp.facilities,
                                demand=inp.residential)
    return StudyResult(study=study, network=net, facilities=inp.facilities, parcels=scored,
                       catchments=polys, coverage=cov, blind_spots=spots,
                       unreachable=access.unreachable, unclassified=inp.unclassified,
                       residential=inp.residential, buildings=inp.buildings,
                       boundary=inp.boundary, timings=step.timings)


@dataclass
class CatchmentResult:
    """What :func:`run_catchments` computed (catchments without scoring)."""

    study: Study
    network: Network
    facilities: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame
    coverage: pd.DataFrame
    blind_spots: gpd.GeoDataFrame
    timings: dict[str, float]


def run_catchments(study: Study | str | Path, *, progress: Progress | None = None,
                   mode: str | None = None) -> CatchmentResult:
    """Catchments, coverage and blind spots of a study's facilities, without scoring.

    ``mode`` overrides the study's ``catchments.mode``.  Parcels, when the study has them, are
    counted in the coverage table.
    """
    study = _load(study)
    if mode is not None:
        # Not re-validated here: siteplan.access.catchments.catchments refuses an unknown mode with a
        # ConfigError that names it.
        study = study.model_copy(update={
            "catchments": study.catchments.model_copy(update={"mode": mode})})
    step = _Steps(progress)
    inp = prepare(study, step)
    parcels = _parcels(study, inp.network.crs) if study.inputs.parcels is not None else None
    polys, cov, spots = _catchments(study, inp, step, parcels)
    return CatchmentResult(study, inp.network, inp.facilities, polys, cov, spots, step.timings)


def summary_text(result: StudyResult, top: int = 10) -> str:
    """A short plain-text report: network, facilities, coverage and the best parcels."""
    net = result.network
    lines = [f"Study: {result.study.study.name}", net.summary()]
    counts = result.facilities["class"].value_counts().sort_index()
    lines.append("Facilities: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    if len(result.unclassified):
        lines.append(f"Unclassified schools: {len(result.unclassified)} (see the report)")
    n_unreach = int((result.unreachable["kind"] == "target").sum())
    excluded = int(result.parcels["excluded"].astype(bool).sum())
    lines.append(f"Parcels: {len(result.parcels)} ({excluded} excluded, {n_unreach} cannot "
                 "reach the network)")
    for row in result.coverage.itertuples(index=False):
        share = "n/a" if pd.isna(row.covered_share) else f"{100 * row.covered_share:.1f} %"
        text = f"Coverage {row[0]} ({row.radius_m:g} m): {share} of residential land"
        front = getattr(row, "covered_share_of_frontage", np.nan)
        if pd.notna(front):
            text += f", {100 * front:.1f} % of its street frontage"
        lines.append(text)
    best = result.ranked(top)
    lines.append(f"Top {len(best)} parcels:")
    for row in best.itertuples(index=False):
        lines.append(f"  {int(row.rank):>3}  {row.parcel_id}  score {row.score:.1f}")
    return "\n".join(lines)


def catchment_layers(result: StudyResult | CatchmentResult) -> dict[str, pd.DataFrame]:
    """GeoPackage layers ``facilities``, ``catchments_<class>``, ``coverage``, ``blind_spots``."""
    layers: dict[str, pd.DataFrame] = {"facilities": result.facilities}
    for cls, frame in result.catchments.groupby("class", sort=True):
        layers[f"catchments_{cls}"] = frame.reset_index(drop=True)
    layers["coverage"] = result.coverage
    layers["blind_spots"] = result.blind_spots
    return layers


def result_layers(result: StudyResult, *, network_edges: bool = False) -> dict[str, pd.DataFrame]:
    """The GeoPackage layers besides ``parcels``: :func:`catchment_layers`, ``unreachable``,
    ``boundary`` (with a study boundary) and optionally ``network_edges``."""
    layers = catchment_layers(result)
    layers["unreachable"] = result.unreachable
    if result.boundary is not None:
        layers["boundary"] = result.boundary
    if network_edges:
        layers["network_edges"] = result.network.edges_gdf()
    return layers


# ------------------------------------------------------------------------ single-stage helpers


def network_from_file(source: str | Path, *, snap_tolerance_m: float = 0.0,
                      keep_largest: bool = True, crs: Any = None) -> Network:
    """A walking network from a line layer or raw OSM file (``siteplan network``)."""
    from siteplan.network.graph import graph_from_file

    return graph_from_file(source, snap_tolerance_m=snap_tolerance_m,
                           keep_largest=keep_largest, crs=crs)


def facilities_from_file(source: str | Path, *, class_column: str | None = None,
                         class_: str | None = None,
                         crs: Any = None) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Classified facilities and unclassified schools of one file (``siteplan facilities``)."""
    from siteplan.facilities.classify import load_facilities

    kwargs: dict[str, Any] = {"crs": crs} if crs is not None else {}
    result = load_facilities(source, class_=class_, class_column=class_column, **kwargs)
    return result.facilities, result.unclassified_schools


def fetch_to_files(query: str, out: str | Path | None, *, cache_dir: str | Path,
                   refresh: bool = False) -> dict[str, Path]:
    """Download streets and facilities for a place or ``west,south,east,north`` bbox into the
    cache, and, with ``out``, also into ``<out>/osm.gpkg`` (layers ``lines``, ``features``)."""
    from siteplan.osm.overpass import fetch_osm
    from siteplan.outputs.writers import write_layers

    parts = [p.strip() for p in query.split(",")]
    spec: Any = query
    if len(parts) == 4:
        try:
            spec = tuple(float(p) for p in parts)
        except ValueError:
            spec = query
    lines, features = fetch_osm(spec, cache_dir=cache_dir, refresh=refresh)
    written = {"cache": Path(cache_dir)}
    if out is not None:
        written["osm"] = write_layers(Path(out) / "osm.gpkg",
                                      {"lines": lines, "features": features})
    return written


@dataclass
class StudySummary:
    """What the batch runner needs from one study run."""

    name: str
    out_dir: Path
    map_html: Path | None
    shortlist_csv: Path | None
    top: pd.DataFrame


def run_study_file(path: str | Path, out_dir: str | Path) -> StudySummary:
    """Run one study file and write its outputs into ``out_dir`` (the batch runner's task)."""
    from siteplan.outputs.writers import write_outputs

    result = run_study(path)
    written = write_outputs(result, out_dir)
    top_n = result.study.outputs.top_n
    top = pd.DataFrame(result.ranked(top_n)[["parcel_id", "rank", "score"]])
    return StudySummary(name=result.study.study.name, out_dir=Path(out_dir),
                        map_html=written.get("map"), shortlist_csv=written.get("csv"),
                        top=top.reset_index(drop=True))
