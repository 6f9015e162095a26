"""Land-supply shortlists: CSV, XLSX and GeoPackage outputs with reproducibility metadata.

:func:`write_shortlist` writes the scored parcels as

- ``shortlist.csv``: UTF-8 with BOM (Excel on Windows shows Chinese), English column names in
  row 1, byte-deterministic (fixed decimals per column, rows ordered by rank then
  ``parcel_id``, excluded parcels last, no timestamp);
- ``shortlist.xlsx``: sheets *排名 Ranking*, *排除地块 Excluded*, any summary tables given (a
  study run gives the seed compliance counts and the service coverage) and *研究元数据 Study
  metadata*, with a bilingual header row (``中文 / English``) above the column-name row, frozen headers and
  number formats;
- ``shortlist.gpkg``: layer ``parcels`` with **every** parcel (by rank, excluded last, whatever
  the top-N, so a map redrawn from it shows them all) plus any extra layers given (spatial or
  plain tables), a ``metadata`` table, QGIS default styles (``layer_styles``) and 中文 field
  aliases (``gpkg_data_columns``; :mod:`siteplan.outputs.gpkg_styles`);
- ``shortlist.meta.json``: the run metadata (siteplan version, config and input hashes, CRS,
  time) and the sha256 of each output.

Spreadsheet safety: a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage
return is written to the CSV with a leading ``'`` so that Excel shows it as text instead of
running it as a formula.  In the XLSX such cells are stored as literal text (string cell with
Excel's quote-prefix style), never as formulas.  Numbers, including negative ones, are numbers.
Control characters an XLSX file cannot hold are shown there as U+FFFD, with a warning.

The files are written as one set (:mod:`siteplan.core.outputset`): all of them replace the
previous ones at once, or none does.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS

from siteplan.core.errors import InputError
from siteplan.core.labels import Pairs, label
from siteplan.core.outputset import plan_outputs, staged_outputs
from siteplan.core.version import __version__
from siteplan.outputs.cells import column_decimals, neutralise
from siteplan.outputs.gpkg_styles import style_geopackage
from siteplan.outputs.workbook import portable_metadata
from siteplan.outputs.xlsx import write_xlsx
from siteplan.outputs.xlsx_layout import Block
from siteplan.study.result import bool_column, order_parcels

if TYPE_CHECKING:
    from siteplan.study.model import Study

FORMATS = ("csv", "xlsx", "gpkg")
LEAD_COLUMNS = ("parcel_id", "rank", "score", "excluded", "exclusion_reason",
                "exclusion_reason_zh", "compliant_all", "compliance_required",
                "compliance_required_zh")
RESERVED_LAYERS = ("parcels", "metadata", "layer_styles")


# ---------------------------------------------------------------------------------------------
# Reproducibility metadata


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _crs_text(crs: Any) -> str | None:
    if crs is None:
        return None
    crs = CRS.from_user_input(crs)
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def run_metadata(
    config_path: str | Path | None,
    input_paths: Iterable[str | Path],
    crs: Any,
) -> dict[str, Any]:
    """Metadata that lets a run be reproduced and checked.

    Parameters
    ----------
    config_path
        The study config file (``None`` when the run had no config file).
    input_paths
        Every input data file of the run.
    crs
        The analysis CRS (anything :class:`pyproj.CRS` accepts).

    Returns
    -------
    dict
        ``siteplan_version``, ``created_utc`` (ISO 8601), ``python``, ``config_path``,
        ``config_sha256``, ``inputs`` (list of ``{path, bytes, sha256}`` in the given order),
        ``crs``.
    """
    def describe(p: str | Path) -> dict[str, Any]:
        path = Path(p)
        if not path.is_file():
            raise InputError("the input file does not exist (cannot hash it for the metadata).",
                             where=str(path), fix="check the path.")
        return {"path": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)}

    config = describe(config_path) if config_path is not None else None
    return {
        "siteplan_version": __version__,
        "created_utc": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "python": platform.python_version(),
        "config_path": config["path"] if config else None,
        "config_sha256": config["sha256"] if config else None,
        "inputs": [describe(p) for p in input_paths],
        "crs": _crs_text(crs),
    }


def study_run_metadata(study: Study, crs: Any) -> dict[str, Any]:
    """:func:`run_metadata` for a study run, plus how the score and the programme are made.

    Parameters
    ----------
    study
        The study (its TOML file and every local input file are hashed).
    crs
        The analysis CRS.

    Returns
    -------
    dict
        :func:`run_metadata`'s keys plus ``study`` (name), ``scoring``
        (:func:`siteplan.scoring.score.scoring_metadata`), ``compliance_radii_m`` and
        ``programme_assumptions``.
    """
    from siteplan.scoring.score import scoring_metadata

    inputs = list(dict.fromkeys(p for p in study.inputs.paths() if Path(p).is_file()))
    meta = run_metadata(study.source_path, inputs, crs)
    meta["study"] = study.study.name
    meta["scoring"] = scoring_metadata(study)
    meta["compliance_radii_m"] = dict(study.compliance.radii)
    meta["programme_assumptions"] = study.programme.assumptions()
    meta.update(reproduction_metadata(study))
    return meta


#: Libraries whose versions can change a result (the GEOS/PROJ/GDAL below them too).
LIBRARIES = ("numpy", "scipy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "networkx",
             "osmnx", "pyrosm", "rasterio", "openpyxl", "folium", "matplotlib", "pydantic")


def library_versions() -> dict[str, str]:
    """Return the versions of the libraries behind a result, and of GEOS, PROJ and GDAL."""
    import importlib.metadata

    import shapely

    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    import pyproj

    versions["geos"] = shapely.geos_version_string
    versions["proj"] = pyproj.proj_version_str
    versions["gdal"] = pyogrio.__gdal_version_string__
    return versions


def reproduction_metadata(study: Study) -> dict[str, Any]:
    """Describe what repeats a run: the study file as read, its settings, the software.

    Returns
    -------
    dict
        ``study_toml`` (the file's text; None without a file), ``settings`` (the resolved
        ``network`` (with the walking speed used), ``catchments`` (frontage, mode, rings), ``coverage`` and ``crs`` tables
        with every default filled in, and ``class_radii_m`` of each class used),
        ``libraries`` (:func:`library_versions`) and ``command_line`` (``sys.argv``).
    """
    toml = (Path(study.source_path).read_text(encoding="utf-8")
            if study.source_path and Path(study.source_path).is_file() else None)
    settings = {name: getattr(study, name).model_dump(mode="json")
                for name in ("network", "catchments", "coverage", "crs")
                if hasattr(study, name)}
    settings["network"]["speed_mps"] = study.network.speed_mps  # the profile's, resolved
    settings["class_radii_m"] = {cls: study.class_radius(cls)
                                 for cls in study.facility_classes()}
    return {"study_toml": toml, "settings": settings, "libraries": library_versions(),
            "command_line": list(sys.argv)}


def flatten_metadata(metadata: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested metadata as sorted-by-insertion ``(dotted.key, text)`` pairs for tables."""
    rows: list[tuple[str, str]] = []
    for key, value in metadata.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(flatten_metadata(value, name + "."))
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    rows.extend(flatten_metadata(item, f"{name}[{i}]."))
                else:
                    rows.append((f"{name}[{i}]", _meta_text(item)))
        else:
            rows.append((name, _meta_text(value)))
    return rows


def _meta_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # 是/否, as the workbook writes every yes/no
        return label("yes" if value else "no", "zh")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _csv_column(name: str, values: pd.Series) -> list[str]:
    decimals = column_decimals(name, values)
    missing = values.isna().to_numpy(dtype=bool)
    if pd.api.types.is_bool_dtype(values):
        text = np.where(values.fillna(False).to_numpy(dtype=bool), "TRUE", "FALSE")
    elif decimals is not None:
        num = values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        # + 0.0 turns -0.0 into 0.0 so that a rounded tiny negative does not print "-0.0".
        rounded = np.round(np.where(missing, 0.0, num), decimals) + 0.0
        text = np.char.mod(f"%.{decimals}f", rounded)
    else:
        text = np.array([neutralise(str(v)) for v in values.to_numpy(dtype=object)], dtype=object)
    cells: list[str] = np.where(missing, "", text).tolist()
    return cells


# ---------------------------------------------------------------------------------------------
# Row selection and order


def _table(parcels: pd.DataFrame) -> pd.DataFrame:
    """Return the attribute table written to CSV/XLSX: lead columns first, no geometry.

    With geometry, ``lon``/``lat`` (EPSG:4326) of a point inside each parcel are added.
    """
    df = pd.DataFrame(parcels.drop(columns=parcels.geometry.name)
                      if isinstance(parcels, gpd.GeoDataFrame) else parcels)
    if isinstance(parcels, gpd.GeoDataFrame) and parcels.crs is not None and len(parcels):
        pts = parcels.geometry.representative_point().to_crs(4326)
        df["lon"], df["lat"] = pts.x.to_numpy(), pts.y.to_numpy()
    lead = [c for c in LEAD_COLUMNS if c in df.columns]
    return df[lead + [c for c in df.columns if c not in lead]].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Writers


def shortlist_csv_bytes(table: pd.DataFrame) -> bytes:
    """Return the CSV bytes (UTF-8 with BOM, CRLF line ends, English header) of a table."""
    columns = [_csv_column(str(c), table[c]) for c in table.columns]
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([neutralise(str(c)) for c in table.columns])
    writer.writerows(zip(*columns, strict=True))
    return buf.getvalue().encode("utf-8-sig")


def _write_gpkg(path: Path, parcels: pd.DataFrame, layers: Mapping[str, pd.DataFrame],
                meta_rows: list[tuple[str, str]], labels: Pairs | None = None) -> None:
    if not isinstance(parcels, gpd.GeoDataFrame):
        raise InputError("the parcels have no geometry; a GeoPackage needs a GeoDataFrame.",
                         where="shortlist", fix="pass a GeoDataFrame or drop 'gpkg' from formats.")
    pyogrio.write_dataframe(parcels, path, layer="parcels", driver="GPKG")
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame):
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG")
        else:
            # A table without geometry becomes a GeoPackage attributes table.
            pyogrio.write_dataframe(pd.DataFrame(frame), path, layer=name, driver="GPKG")
    meta = pd.DataFrame(meta_rows, columns=["key", "value"])
    pyogrio.write_dataframe(meta, path, layer="metadata", driver="GPKG")
    created = dict(meta_rows).get("created_utc")
    style_geopackage(path, {"parcels": parcels, **layers}, labels, updated=created)


def write_shortlist(
    parcels: pd.DataFrame,
    out_dir: str | Path,
    *,
    top_n: int | None = None,
    metadata: Mapping[str, Any],
    formats: Sequence[str] = FORMATS,
    layers: Mapping[str, pd.DataFrame] | None = None,
    inputs: Sequence[str | Path] | None = None,
    basename: str = "shortlist",
    labels: Pairs | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Path]:
    """Write the shortlist files and their metadata sidecar.

    Parameters
    ----------
    parcels
        Scored parcels (a GeoDataFrame for ``gpkg``): ``parcel_id`` and normally ``rank``,
        ``score``, ``excluded``, ``exclusion_reason`` plus any other columns.  Not modified.
    out_dir
        Output folder (created if needed).  The files replace the previous ones as one set.
    top_n
        Keep only the ``top_n`` best-ranked non-excluded parcels in the CSV and XLSX.  Excluded
        parcels are always written (after the ranked ones in the CSV, on their own XLSX sheet),
        so their reasons are never lost.  The GeoPackage ``parcels`` layer always holds every
        parcel, ordered the same way: it is the full result a map is redrawn from.
    metadata
        Run metadata, normally :func:`run_metadata` output plus anything else (weights,
        programme assumptions).  Goes into the JSON sidecar, the XLSX metadata sheet and the
        GPKG ``metadata`` table, never into the CSV (which stays byte-identical between runs).
    formats
        Any of ``"csv"``, ``"xlsx"``, ``"gpkg"``.
    layers
        Extra GeoPackage layers ``{name: GeoDataFrame or DataFrame}``, e.g. ``facilities``,
        ``catchments_kindergarten``, ``blind_spots``, ``coverage`` (a plain table).
    inputs
        The run's input files; an output path equal to one of them is refused.  Defaults to the
        paths in ``metadata["inputs"]`` and ``metadata["config_path"]``.
    basename
        File name stem (``shortlist``).
    labels
        Extra header labels ``{key: (English, 中文)}``, normally
        :func:`siteplan.scoring.score.criterion_labels` so criterion columns get readable headers.
    tables
        Extra XLSX sheets ``{label key: table}`` after *排除地块 Excluded*, e.g. the seed
        compliance counts (``sheet_compliance``) and the coverage table (``sheet_coverage``);
        the sheet is named by the key's label (:func:`siteplan.core.labels.label`).

    Returns
    -------
    dict
        ``{"csv": path, "xlsx": path, "gpkg": path, "meta": path}`` for what was written.

    Raises
    ------
    InputError
        An unknown format, an extra layer named ``parcels`` or ``metadata``, an output that
        would overwrite an input, or ``gpkg`` for parcels without geometry.

    Examples
    --------
    >>> import tempfile
    >>> import geopandas as gpd
    >>> import shapely
    >>> from siteplan import write_shortlist
    >>> parcels = gpd.GeoDataFrame(
    ...     {"parcel_id": ["A", "B", "C"], "rank": [2, 1, None], "score": [61.5, 80.25, None],
    ...      "excluded": [False, False, True],
    ...      "exclusion_reason": ["", "", "smaller than 1 ha"]},
    ...     geometry=[shapely.box(x, 4187000, x + 90, 4187090) for x in (634000, 634100, 634200)],
    ...     crs="EPSG:32649")
    >>> with tempfile.TemporaryDirectory() as out:
    ...     written = write_shortlist(parcels, out, metadata={"study": "example"},
    ...                               formats=["csv"])
    ...     print(sorted(written))
    ...     print(written["csv"].read_text(encoding="utf-8-sig"))
    ['csv', 'meta']
    parcel_id,rank,score,excluded,exclusion_reason,lon,lat
    B,1,80.25,FALSE,,...
    A,2,61.50,FALSE,,...
    C,,,TRUE,smaller than 1 ha,...
    """
    _check_request(formats, layers)
    if inputs is None:
        inputs = [i["path"] for i in metadata.get("inputs", []) if isinstance(i, Mapping)]
        if metadata.get("config_path"):
            inputs.append(metadata["config_path"])
    plan = plan_outputs(out_dir, shortlist_names(formats, basename), inputs=inputs)
    with staged_outputs(plan) as stage:
        written = shortlist_files(parcels, stage, top_n=top_n, metadata=metadata,
                                  formats=formats, layers=layers, basename=basename,
                                  labels=labels, tables=tables)
    return {kind: plan.path(path.name) for kind, path in written.items()}


def shortlist_names(formats: Sequence[str], basename: str = "shortlist") -> list[str]:
    """Return the file names :func:`write_shortlist` writes for ``formats``."""
    return [f"{basename}.{f}" for f in FORMATS if f in formats] + [f"{basename}.meta.json"]


def _check_request(formats: Sequence[str], layers: Mapping[str, pd.DataFrame] | None) -> None:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown shortlist format(s) {unknown}.", where="shortlist",
                         fix=f"use any of {list(FORMATS)}.")
    bad_layers = [n for n in layers or {} if n in RESERVED_LAYERS]
    if bad_layers:
        raise InputError(f"extra layer name(s) {bad_layers} clash with the shortlist's own "
                         "layers.", where="shortlist", fix="rename the extra layers.")


def shortlist_files(
    parcels: pd.DataFrame,
    folder: Path,
    *,
    top_n: int | None,
    metadata: Mapping[str, Any],
    formats: Sequence[str],
    layers: Mapping[str, pd.DataFrame] | None = None,
    basename: str = "shortlist",
    labels: Pairs | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    summary: tuple[str, Sequence[Block]] | None = None,
) -> dict[str, Path]:
    """Write the shortlist files into ``folder`` (a staging folder; see :func:`write_shortlist`).

    ``summary`` is the XLSX's first sheet (:func:`siteplan.outputs.workbook.summary_blocks`).
    The XLSX and GeoPackage metadata name files relative to the study folder (no local
    folders); the JSON sidecar keeps the full paths.  Returns ``{kind: path}`` of the files
    written there.
    """
    _check_request(formats, layers)
    ordered = order_parcels(parcels, top_n)
    table = _table(ordered)
    excluded_mask = bool_column(table, "excluded")
    meta = dict(metadata)
    meta["shortlist"] = {
        "top_n": top_n,
        "n_parcels_in": int(len(parcels)),
        "n_ranked_written": int((~excluded_mask).sum()),
        "n_excluded_written": int(excluded_mask.sum()),
    }
    if "gpkg" in formats:
        meta["shortlist"]["n_parcels_gpkg"] = int(len(parcels))
    # The study file's text is in the JSON sidecar; the tables keep one line per setting.
    meta_rows = portable_metadata(
        flatten_metadata({k: v for k, v in meta.items() if k != "study_toml"}),
        meta.get("config_path"))

    written: dict[str, Path] = {}
    if "csv" in formats:
        written["csv"] = folder / f"{basename}.csv"
        written["csv"].write_bytes(shortlist_csv_bytes(table))
    if "xlsx" in formats:
        written["xlsx"] = folder / f"{basename}.xlsx"
        write_xlsx(written["xlsx"], table[~excluded_mask], table[excluded_mask], meta_rows,
                   labels, tables or {}, summary)
    if "gpkg" in formats:
        written["gpkg"] = folder / f"{basename}.gpkg"
        every = ordered if top_n is None else order_parcels(parcels)
        _write_gpkg(written["gpkg"], every.reset_index(drop=True), dict(layers or {}),
                    meta_rows, labels)

    meta["outputs"] = {
        kind: {"path": p.name, "sha256": file_sha256(p)} for kind, p in written.items()
    }
    text = json.dumps(meta, ensure_ascii=False, indent=2, default=_meta_text) + "\n"
    written["meta"] = folder / f"{basename}.meta.json"
    written["meta"].write_bytes(text.encode("utf-8"))
    return written


__all__ = [
    "FORMATS",
    "file_sha256",
    "flatten_metadata",
    "library_versions",
    "order_parcels",
    "reproduction_metadata",
    "run_metadata",
    "shortlist_csv_bytes",
    "shortlist_files",
    "shortlist_names",
    "study_run_metadata",
    "write_shortlist",
]
