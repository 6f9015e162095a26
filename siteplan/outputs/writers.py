"""Writing a study's results: shortlist files, one GeoPackage with every layer, and maps.

:func:`write_outputs` is what ``siteplan run`` writes after :func:`siteplan.pipeline.run_study`:
``shortlist.csv``/``.xlsx``/``.gpkg`` (the GeoPackage also holds ``facilities``,
``catchments_<class>``, ``coverage``, ``blind_spots`` and ``unreachable``), the interactive map
``<name>.html`` and the printable ``<name>.png``.  Every file is written atomically.  The smaller
writers serve the single-stage commands (``siteplan network``, ``facilities``, ``catchments``)
and :func:`maps_from_results` redraws the maps from a saved GeoPackage.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from siteplan.core.atomic import atomic_path, check_outputs, check_writable_dir
from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.progress import Progress, Steps
from siteplan.study.result import CatchmentResult, StudyResult, order_parcels

MAP_FORMATS = ("html", "png")
# Parcels drawn on the maps at most.  A browser does not open a map of 200,000 polygons
# (~180 MB of HTML) usefully, nor does a printed PNG show them; beyond this the maps show the
# best-ranked parcels, say so in their title, and the GeoPackage keeps every parcel.
MAP_PARCEL_LIMIT = 20_000


def _slug(name: str) -> str:
    """Make a file-name stem of a name ("Taiyuan demo: central" -> "taiyuan_demo_central")."""
    text = re.sub(r"[^\w]+", "_", name.strip().lower(), flags=re.UNICODE).strip("_")
    return text or "study"


def map_stem(study: Any) -> str:
    """Return the file-name stem of a study's maps.

    The TOML file's stem, or its folder's name when the file is called ``study.toml``
    (``data/taiyuan/study.toml`` -> ``taiyuan``), else the study name.
    """
    if study.source_path:
        path = Path(study.source_path)
        stem = path.parent.name if path.stem == "study" else path.stem
        if stem:
            return _slug(stem)
    return _slug(study.study.name)


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
    """GeoPackage layers ``facilities``, ``catchments_<class>``, ``coverage``, ``blind_spots``."""
    layers: dict[str, pd.DataFrame] = {"facilities": result.facilities}
    for cls, frame in result.catchments.groupby("class", sort=True):
        layers[f"catchments_{cls}"] = frame.reset_index(drop=True)
    layers["coverage"] = result.coverage
    layers["blind_spots"] = result.blind_spots
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
        m = make_map(parcels, criteria=study, top_n=top_n, offline=offline,
                     tianditu_key=study.tianditu_key(), title=title,
                     notes=[thin.message for thin in result.thin_layers], **layers)
        written["map"] = save_map(m, out / f"{stem}.html")
    if "png" in formats:
        fig = static_map(parcels, top_n=top_n, title=title, **layers)
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
    from siteplan.outputs.shortlist import study_run_metadata, write_shortlist
    from siteplan.scoring.score import criterion_labels

    study = result.study
    cfg = study.outputs
    out_dir = check_writable_dir(Path(out) if out is not None else Path(cfg.folder))
    formats = list(cfg.formats if formats is None else formats)
    unknown = sorted(set(formats) - {"csv", "xlsx", "gpkg", *MAP_FORMATS})
    if unknown:
        raise InputError(f"unknown output format(s) {unknown}.", where="outputs.formats",
                         fix='use any of "csv", "xlsx", "gpkg", "html", "png".')
    top = cfg.top_n if top_n is None else top_n
    step = Steps(progress)
    inputs = study.input_files()
    # Refuse the whole set (an output that would overwrite an input) before writing any of it.
    table_formats = [f for f in formats if f in ("csv", "xlsx", "gpkg")]
    map_formats = [f for f in formats if f in MAP_FORMATS]
    planned = [out_dir / f"shortlist.{f}" for f in table_formats]
    planned += [out_dir / "shortlist.meta.json"]
    planned += [out_dir / f"{map_stem(study)}.{f}" for f in map_formats]
    check_outputs(planned, inputs)
    written: dict[str, Path] = {}
    with step("shortlist"):
        if table_formats:
            meta = study_run_metadata(study, result.network.crs)
            meta["thin_layers"] = [thin.as_dict() for thin in result.thin_layers]
            sheets = ({"sheet_facilities_report": result.facilities_report.drop(
                columns="geometry")} if result.facilities_report is not None else {})
            written.update(write_shortlist(
                result.parcels, out_dir, top_n=top, metadata=meta, formats=table_formats,
                layers=result_layers(result, network_edges=network_edges), inputs=inputs,
                labels=criterion_labels(study), sheets=sheets))
    url = cfg.postgis if postgis is None else postgis
    if url:
        from siteplan.io.postgis.layers import display_source, write_postgis_layer

        with step("postgis"):
            table = write_postgis_layer(result.ranked(top), url,
                                        if_exists=cfg.postgis_if_exists)
        written["postgis"] = Path(f"{display_source(url).split('?')[0]}?table={table}")
    if map_formats:
        with step("maps"):
            written.update(_maps(result, out_dir, stem=map_stem(study),
                                 offline=bool(cfg.offline if offline is None else offline),
                                 top_n=min(top, 20), formats=map_formats))
    result.timings.update(step.timings)
    return written


def write_catchments(result: CatchmentResult, out: str | Path | None = None) -> Path:
    """Write a :class:`~siteplan.study.result.CatchmentResult` and its coverage table.

    ``<out>/catchments.gpkg`` gets the layers ``facilities``, ``catchments_<class>``,
    ``coverage`` and ``blind_spots``; ``<out>/coverage.csv`` the coverage table.
    """
    out_dir = check_writable_dir(Path(out) if out is not None else
                                 Path(result.study.outputs.folder))
    path = write_layers(out_dir / "catchments.gpkg", catchment_layers(result))
    with atomic_path(out_dir / "coverage.csv") as tmp:
        result.coverage.to_csv(tmp, index=False, encoding="utf-8-sig", float_format="%.4f")
    return path


def write_network(net: Any, out: str | Path) -> Path:
    """Write a network's edges and nodes to ``<out>/network.gpkg``."""
    out_dir = check_writable_dir(out)
    return write_layers(out_dir / "network.gpkg",
                        {"network_edges": net.edges_gdf(), "network_nodes": net.nodes_gdf()})


def write_facilities(facilities: gpd.GeoDataFrame, unclassified: pd.DataFrame,
                     out: str | Path) -> Path:
    """Write classified facilities and unclassified schools to ``<out>/facilities.gpkg``."""
    out_dir = check_writable_dir(out)
    layers: dict[str, pd.DataFrame] = {"facilities": facilities}
    if len(unclassified):
        layers["unclassified_schools"] = unclassified
    return write_layers(out_dir / "facilities.gpkg", layers)


def maps_from_results(results: str | Path, out: str | Path | None = None, *,
                      offline: bool = True, top_n: int = 10) -> dict[str, Path]:
    """Redraw the interactive and static maps from a ``shortlist.gpkg`` written by a run."""
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
        facilities = read("facilities")
        spots = read("blind_spots")
        boundary = read("boundary")
    assert parcels is not None
    out_dir = check_writable_dir(Path(out) if out is not None else path.parent)
    stem = path.stem if path.stem != "shortlist" else "map"
    parcels, title = map_parcels(parcels, None)
    m = make_map(parcels, catchments=catchments, facilities=facilities, blind_spots=spots,
                 boundary=boundary, top_n=top_n, offline=offline, title=title)
    written = {"map": save_map(m, out_dir / f"{stem}.html")}
    fig = static_map(parcels, catchments=catchments, facilities=facilities, blind_spots=spots,
                     boundary=boundary, top_n=top_n, title=title)
    written["png"] = save_static_map(fig, out_dir / f"{stem}.png")
    return written
