"""Writing a study's results: shortlist files, one GeoPackage with every layer, and maps.

:func:`write_outputs` is what ``siteplan run`` writes after :func:`siteplan.pipeline.run_study`:
``shortlist.csv``/``.xlsx``/``.gpkg`` (the GeoPackage also holds ``facilities_points``/
``_areas``/``_lines``, ``catchments_<class>``, ``coverage``, ``residential_units``, ``blind_spots_<class>``,
``blind_spots_frontage`` and ``unreachable``), the interactive map
``<name>.html`` and the printable ``<name>.png``.  Every file is written atomically.  The smaller
writers serve the single-stage commands (``siteplan network``, ``facilities``, ``catchments``)
and :func:`maps_from_results` redraws the maps from a saved GeoPackage.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from siteplan.core.atomic import atomic_path
from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.outputset import OutputPlan, plan_outputs, safe_stem, staged_outputs
from siteplan.core.progress import Progress, Steps
from siteplan.outputs.mapcontext import MAP_CONTEXT_LAYER, map_context_table, read_map_context
from siteplan.study.result import CatchmentResult, StudyResult, order_parcels

MAP_FORMATS = ("html", "png")
# Parcels drawn on the maps at most.  A browser does not open a map of 200,000 polygons
# (~180 MB of HTML) usefully, nor does a printed PNG show them; beyond this the maps show the
# best-ranked parcels, say so in their title, and the GeoPackage keeps every parcel.
MAP_PARCEL_LIMIT = 20_000


def map_stem(study: Any) -> str:
    """Return the file-name stem of a study's maps.

    The TOML file's stem, or its folder's name when the file is called ``study.toml``
    (``data/taiyuan/study.toml`` -> ``taiyuan``), else the study name; made a bounded,
    portable stem by :func:`siteplan.core.outputset.safe_stem`.
    """
    if study.source_path:
        path = Path(study.source_path)
        stem = path.parent.name if path.stem == "study" else path.stem
        if stem:
            return safe_stem(stem)
    return safe_stem(study.study.name)


def write_layers(path: str | Path, layers: Mapping[str, pd.DataFrame],
                 inputs: Sequence[str | Path] = ()) -> Path:
    """Write several layers (GeoDataFrames, or plain tables) to one GeoPackage, atomically."""
    path = Path(path)
    with atomic_path(path, inputs=list(inputs)) as tmp:
        for name, frame in layers.items():
            if isinstance(frame, gpd.GeoDataFrame):
                frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
            else:
                pyogrio.write_dataframe(pd.DataFrame(frame), tmp, layer=name, driver="GPKG")
    return path


def catchment_layers(result: StudyResult | CatchmentResult) -> dict[str, pd.DataFrame]:
    """Return the GeoPackage layers of the catchments, coverage and blind spots.

    They are ``facilities_points``/``_areas``/``_lines`` (split by geometry type),
    ``catchments_<class>``, ``coverage`` (with each class's catchments as geometry),
    ``residential_units`` (with their served flags), ``blind_spots_<class>`` (the units not
    served, per class with any) and ``blind_spots_frontage`` (the land outside the
    street-frontage catchments).
    """
    from siteplan.outputs.gpkg_styles import coverage_layer, facility_layers

    layers: dict[str, pd.DataFrame] = dict(facility_layers(result.facilities))
    for cls, frame in result.catchments.groupby("class", sort=True):
        layers[f"catchments_{cls}"] = frame.reset_index(drop=True)
    layers["coverage"] = (coverage_layer(result.coverage, result.catchments)
                          if len(result.catchments) else result.coverage)
    if result.units is not None:
        layers["residential_units"] = result.units
    if "class" in result.blind_spots:
        for cls, frame in result.blind_spots.groupby("class", sort=True):
            layers[f"blind_spots_{cls}"] = frame.reset_index(drop=True)
    if result.blind_spots_frontage is not None and len(result.blind_spots_frontage):
        layers["blind_spots_frontage"] = result.blind_spots_frontage
    return layers


def result_layers(result: StudyResult, *, network_edges: bool = False) -> dict[str, pd.DataFrame]:
    """Return the GeoPackage layers besides ``parcels``.

    They are :func:`catchment_layers`, ``unreachable``, ``boundary`` (with a study boundary)
    and optionally ``network_edges``.
    """
    layers = catchment_layers(result)
    layers["unreachable"] = result.unreachable
    if result.facilities_report is not None:
        layers["facilities_report"] = result.facilities_report
    if result.life_circle_facilities is not None:
        layers["life_circle_facilities"] = result.life_circle_facilities
    if result.boundary is not None:
        layers["boundary"] = result.boundary
    if network_edges:
        layers["network_edges"] = result.network.edges_gdf()
    return layers


def map_parcels(parcels: gpd.GeoDataFrame, title: str | None,
                limit: int = MAP_PARCEL_LIMIT) -> tuple[gpd.GeoDataFrame, str | None]:
    """Choose the parcels the maps draw, and the maps' title.

    Up to ``limit`` parcels: all of them; beyond, the best ``limit`` by rank (then excluded
    parcels, by id, while there is room), with a :class:`~siteplan.core.errors.SiteplanWarning` and
    a note in the title, so that nobody reads the map as the whole candidate set.
    """
    if len(parcels) <= limit:
        return parcels, title
    note = (f"map: best {limit:,} of {len(parcels):,} parcels; every parcel is in "
            "shortlist.gpkg")
    warnings.warn(f"{len(parcels):,} parcels: the maps draw the best-ranked {limit:,} "
                  "(a browser cannot usefully show more), and say so in their title; the "
                  "shortlist GeoPackage, CSV and XLSX have all of them.", SiteplanWarning,
                  stacklevel=3)
    shown = order_parcels(parcels).iloc[:limit]
    return shown, f"{title} ({note})" if title else note


def _map_context(result: StudyResult, top_n: int) -> pd.DataFrame:
    """Return the ``map_context`` table: `siteplan map` redraws the maps as the run drew them."""
    from siteplan.outputs.maps.style import criteria_meta

    study = result.study
    return map_context_table(study.study.name, map_stem(study),
                             criteria_meta(study, result.parcels),
                             top_n, [thin.message for thin in result.thin_layers])


def _maps(result: StudyResult, out: Path, *, stem: str, offline: bool, top_n: int,
          formats: Sequence[str]) -> dict[str, Path]:
    from siteplan.outputs.maps.staticmap import save_static_map, static_map
    from siteplan.outputs.maps.webmap import make_map, save_map

    written: dict[str, Path] = {}
    study = result.study
    parcels, title = map_parcels(result.parcels, study.study.name)
    layers = {"catchments": result.catchments, "facilities": result.facilities,
              "blind_spots": result.blind_spots, "boundary": result.boundary}
    if "html" in formats:
        from siteplan.scoring.compliance import compliance_counts

        counts = compliance_counts(result.parcels, study.compliance.radii)
        m = make_map(parcels, criteria=study, top_n=top_n, offline=offline,
                     tianditu_key=study.tianditu_key(), title=title, compliance=counts,
                     notes=[thin.message for thin in result.thin_layers], **layers)
        written["map"] = save_map(m, out / f"{stem}.html")
    if "png" in formats:
        fig = static_map(parcels, top_n=top_n, title=title, paper=study.outputs.png_paper,
                         dpi=study.outputs.png_dpi, **layers)
        written["png"] = save_static_map(fig, out / f"{stem}.png")
    return written


def write_outputs(
    result: StudyResult,
    out: str | Path | None = None,
    *,
    offline: bool | None = None,
    top_n: int | None = None,
    formats: Sequence[str] | None = None,
    network_edges: bool = False,
    postgis: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write a :class:`~siteplan.study.result.StudyResult` to ``out``.

    Parameters
    ----------
    result
        What :func:`siteplan.pipeline.run_study` returned.
    out
        Output folder; the study's ``outputs.folder`` by default.
    offline
        Self-contained HTML map (no CDN, no tiles needed); the study's ``outputs.offline`` by
        default.
    top_n
        Rows of the shortlist and parcels labelled on the map; the study's ``outputs.top_n``.
    formats
        Any of ``csv``, ``xlsx``, ``gpkg``, ``html``, ``png``; the study's by default.
    network_edges
        Also write the walking network as layer ``network_edges``.
    postgis
        Also write the ranked shortlist to this PostGIS table
        (``postgresql://user@host/db?table=schema.name``), with its CRS and a spatial index;
        the study's ``outputs.postgis`` by default.  ``outputs.postgis_if_exists`` says whether
        an existing table is replaced.
    progress
        ``progress(step, "start" | "done")`` callback; step timings go to ``result.timings``.

    Returns
    -------
    dict
        ``{kind: path}`` of every file written.

    Examples
    --------
    >>> import tempfile
    >>> import warnings
    >>> from siteplan import SiteplanWarning, Study, run_study, write_outputs
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
    >>> with tempfile.TemporaryDirectory() as out:
    ...     written = write_outputs(result, out, formats=["csv", "gpkg"], top_n=20)
    ...     {kind: path.name for kind, path in written.items()}
    {'csv': 'shortlist.csv', 'gpkg': 'shortlist.gpkg', 'meta': 'shortlist.meta.json'}
    """
    from siteplan.outputs.shortlist import shortlist_files, study_run_metadata
    from siteplan.outputs.workbook import study_sheets, summary_blocks
    from siteplan.scoring.compliance import compliance_counts
    from siteplan.scoring.score import criterion_labels

    study = result.study
    cfg = study.outputs
    formats = list(cfg.formats if formats is None else formats)
    # The whole set is checked again here (it was before the analysis, by the CLI).
    plan = plan_study_outputs(study, out, formats)
    top = cfg.top_n if top_n is None else top_n
    step = Steps(progress)
    table_formats = [f for f in formats if f in ("csv", "xlsx", "gpkg")]
    map_formats = [f for f in formats if f in MAP_FORMATS]
    written: dict[str, Path] = {}
    with staged_outputs(plan) as stage:
        with step("shortlist"):
            if table_formats:
                meta = study_run_metadata(study, result.network.crs)
                counts = compliance_counts(result.parcels, study.compliance.radii)
                meta["seed_compliance"] = {
                    str(r["rule"]): {"n_meeting": int(r["n_meeting"]),
                                     "n_parcels": int(r["n_parcels"]),
                                     "share_meeting": round(float(r["share_meeting"]), 4)}
                    for r in counts.to_dict("records")}
                meta["thin_layers"] = [thin.as_dict() for thin in result.thin_layers]
                written.update(shortlist_files(
                    result.parcels, stage, top_n=top, metadata=meta, formats=table_formats,
                    layers={**result_layers(result, network_edges=network_edges),
                            MAP_CONTEXT_LAYER: _map_context(result, min(top, 20))},
                    labels=criterion_labels(study), tables=study_sheets(result),
                    summary=summary_blocks(result, meta, result.ranked(min(top, 20)))))
        if map_formats:
            with step("maps"):
                written.update(_maps(result, stage, stem=map_stem(study),
                                     offline=bool(cfg.offline if offline is None else offline),
                                     top_n=min(top, 20), formats=map_formats))
        url = cfg.postgis if postgis is None else postgis
        if url:
            # Inside the set: a refused PostGIS write leaves the previous files as they were.
            from siteplan.io.postgis.layers import display_source, write_postgis_layer

            with step("postgis"):
                table = write_postgis_layer(result.ranked(top), url,
                                            if_exists=cfg.postgis_if_exists)
    paths = {kind: plan.path(path.name) for kind, path in written.items()}
    if url:
        paths["postgis"] = Path(f"{display_source(url).split('?')[0]}?table={table}")
    result.timings.update(step.timings)
    return paths


def plan_study_outputs(study: Any, out: str | Path | None = None,
                       formats: Sequence[str] | None = None) -> OutputPlan:
    """Check the output set of a study run before any analysis (:func:`write_outputs`'s files).

    The folder (``out``, else the study's ``outputs.folder``) must be, or be creatable as, a
    writable folder; every name must fit the file system; no output may be an input or land
    where a folder is.  Nothing is created.

    Examples
    --------
    >>> from siteplan import load_study
    >>> plan = plan_study_outputs(load_study("data/taiyuan/study.toml"), "maps/taiyuan",
    ...                           ["csv", "html"])
    >>> plan.names
    ('shortlist.csv', 'shortlist.meta.json', 'taiyuan.html')
    """
    from siteplan.outputs.shortlist import shortlist_names

    cfg = study.outputs
    formats = list(cfg.formats if formats is None else formats)
    unknown = sorted(set(formats) - {"csv", "xlsx", "gpkg", *MAP_FORMATS})
    if unknown:
        raise InputError(f"unknown output format(s) {unknown}.", where="outputs.formats",
                         fix='use any of "csv", "xlsx", "gpkg", "html", "png".')
    table_formats = [f for f in formats if f in ("csv", "xlsx", "gpkg")]
    names = shortlist_names(table_formats) if table_formats else []
    names += [f"{map_stem(study)}.{f}" for f in MAP_FORMATS if f in formats]
    return plan_outputs(Path(out) if out is not None else Path(cfg.folder), names,
                        inputs=study.input_files())


CATCHMENT_FILES = ("catchments.gpkg", "coverage.csv")


def plan_catchment_outputs(study: Any, out: str | Path | None = None) -> OutputPlan:
    """Check :func:`write_catchments`'s output set before the analysis; create nothing."""
    return plan_outputs(Path(out) if out is not None else Path(study.outputs.folder),
                        CATCHMENT_FILES, inputs=study.input_files())


def write_catchments(result: CatchmentResult, out: str | Path | None = None) -> Path:
    """Write a :class:`~siteplan.study.result.CatchmentResult` and its coverage table.

    ``<out>/catchments.gpkg`` gets the layers of :func:`catchment_layers`; ``<out>/coverage.csv``
    the coverage table; both as one set.
    """
    plan = plan_catchment_outputs(result.study, out)
    with staged_outputs(plan) as stage:
        write_layers(stage / CATCHMENT_FILES[0], catchment_layers(result))
        result.coverage.to_csv(stage / CATCHMENT_FILES[1], index=False, encoding="utf-8-sig",
                               float_format="%.4f")
    return plan.path(CATCHMENT_FILES[0])


def write_network(net: Any, out: str | Path, source: str | Path | None = None) -> Path:
    """Write a network's edges and nodes to ``<out>/network.gpkg``."""
    plan = plan_outputs(out, ["network.gpkg"], inputs=[source] if source else [])
    with staged_outputs(plan) as stage:
        write_layers(stage / "network.gpkg",
                     {"network_edges": net.edges_gdf(), "network_nodes": net.nodes_gdf()})
    return plan.path("network.gpkg")


def write_facilities(facilities: gpd.GeoDataFrame, unclassified: pd.DataFrame,
                     out: str | Path, source: str | Path | None = None) -> Path:
    """Write classified facilities and unclassified schools to ``<out>/facilities.gpkg``."""
    plan = plan_outputs(out, ["facilities.gpkg"], inputs=[source] if source else [])
    layers: dict[str, pd.DataFrame] = {"facilities": facilities}
    if len(unclassified):
        layers["unclassified_schools"] = unclassified
    with staged_outputs(plan) as stage:
        write_layers(stage / "facilities.gpkg", layers)
    return plan.path("facilities.gpkg")


def plan_map_outputs(results: str | Path, out: str | Path | None = None) -> OutputPlan:
    """Check :func:`maps_from_results`'s output set (``<stem>.html``, ``<stem>.png``)."""
    path = Path(results)
    # The study's own stem when the run stored it (a redraw replaces the run's maps).
    stem = read_map_context(path).stem if path.is_file() else None
    stem = stem or (safe_stem(path.stem) if path.stem != "shortlist" else "map")
    return plan_outputs(Path(out) if out is not None else path.parent,
                        [f"{stem}.html", f"{stem}.png"], inputs=[path])


def maps_from_results(results: str | Path, out: str | Path | None = None, *,
                      offline: bool = True, top_n: int | None = None, paper: str | None = None,
                      dpi: int = 150) -> dict[str, Path]:
    """Redraw the interactive and static maps from a ``shortlist.gpkg`` written by a run.

    The run's ``map_context`` table gives back the title, the file stem, the criterion labels
    and weights, the number of ranks labelled (unless ``top_n`` is given; else 10) and the
    data gaps of the legend.  ``paper`` and ``dpi`` size the PNG
    (:func:`siteplan.outputs.maps.staticmap.static_map`).
    """
    from siteplan.outputs.gpkg_styles import read_facilities
    from siteplan.outputs.maps.staticmap import save_static_map, static_map
    from siteplan.outputs.maps.webmap import make_map, save_map

    path = Path(results)
    if not path.is_file():
        raise InputError("results file not found.", where=str(path),
                         fix="give the shortlist.gpkg that `siteplan run` wrote.")
    try:
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:
        raise InputError(f"cannot be read as a GeoPackage ({exc}).", where=str(path),
                         fix="give the shortlist.gpkg that `siteplan run` wrote.") from None
    if "parcels" not in names:
        raise InputError(f"has no 'parcels' layer (layers: {', '.join(names)}).",
                         where=str(path), fix="give the shortlist.gpkg that `siteplan run` wrote.")

    def read(name: str) -> gpd.GeoDataFrame | None:
        return gpd.read_file(path, layer=name, engine="pyogrio") if name in names else None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        parcels = read("parcels")
        catch = [c for n in names if n.startswith("catchments_") and (c := read(n)) is not None]
        catchments = (gpd.GeoDataFrame(pd.concat(catch, ignore_index=True), crs=catch[0].crs)
                      if catch else None)
        facilities = read_facilities(path, names)
        # The served-unit blind spots, one layer per class (a file of an older run: one layer).
        parts = [b for n in names if (n.startswith("blind_spots_") and n != "blind_spots_frontage"
                                      or n == "blind_spots") and (b := read(n)) is not None]
        spots = (gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)
                 if parts else None)
        boundary = read("boundary")
    assert parcels is not None
    ctx = read_map_context(path)
    top_n = top_n if top_n is not None else ctx.top_n if ctx.top_n is not None else 10
    plan = plan_map_outputs(path, out)
    html, png = plan.names
    parcels, title = map_parcels(parcels, ctx.title)
    with staged_outputs(plan) as stage:
        m = make_map(parcels, catchments=catchments, facilities=facilities, blind_spots=spots,
                     boundary=boundary, top_n=top_n, offline=offline, title=title,
                     criteria=ctx.criteria, notes=ctx.notes)
        save_map(m, stage / html)
        fig = static_map(parcels, catchments=catchments, facilities=facilities,
                         blind_spots=spots, boundary=boundary, top_n=top_n, title=title,
                         paper=paper, dpi=dpi)
        save_static_map(fig, stage / png)
    return {"map": plan.path(html), "png": plan.path(png)}
