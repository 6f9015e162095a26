"""Land-supply shortlists: CSV, XLSX and GeoPackage outputs with reproducibility metadata.

:func:`write_shortlist` writes the scored parcels as

- ``shortlist.csv``: UTF-8 with BOM (Excel on Windows shows Chinese), English column names in
  row 1, byte-deterministic (fixed decimals per column, rows ordered by rank then
  ``parcel_id``, excluded parcels last, no timestamp);
- ``shortlist.xlsx``: sheets *排名 Ranking*, *排除地块 Excluded* and *研究元数据 Study metadata*,
  with a bilingual header row (``中文 / English``) above the column-name row, frozen headers and
  number formats;
- ``shortlist.gpkg``: layer ``parcels`` with **every** parcel (by rank, excluded last, whatever
  the top-N, so a map redrawn from it shows them all) plus any extra layers given (spatial or
  plain tables) and a ``metadata`` table;
- ``shortlist.meta.json``: the run metadata (siteplan version, config and input hashes, CRS,
  time) and the sha256 of each output.

Spreadsheet safety: a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage
return is written to the CSV with a leading ``'`` so that Excel shows it as text instead of
running it as a formula.  In the XLSX such cells are stored as literal text (string cell with
Excel's quote-prefix style), never as formulas.  Numbers, including negative ones, are numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import platform
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS

from siteplan.core.atomic import atomic_path, check_writable_dir, write_bytes_atomic
from siteplan.core.errors import InputError
from siteplan.core.labels import Pairs, label
from siteplan.core.version import __version__
from siteplan.study.result import bool_column, order_parcels

if TYPE_CHECKING:
    from siteplan.study.model import Study

FORMATS = ("csv", "xlsx", "gpkg")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
LEAD_COLUMNS = ("parcel_id", "rank", "score", "excluded", "exclusion_reason",
                "exclusion_reason_zh", "compliant_all", "compliance_required",
                "compliance_required_zh")
RESERVED_LAYERS = ("parcels", "metadata")


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
    return meta


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
    if isinstance(value, float):
        return repr(value)
    return str(value)


# ---------------------------------------------------------------------------------------------
# Cell formatting shared by CSV and XLSX


def neutralise(text: str) -> str:
    """Prefix ``'`` to text that a spreadsheet would run as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _is_integer_column(name: str, values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_integer_dtype(values):
        return True
    return (name == "rank" or name.startswith("n_") or name == "est_households"
            or name.endswith(("_places", "_spaces")))


def column_decimals(name: str, values: pd.Series) -> int | None:
    """Decimals a numeric column is written with (``0`` for counts); ``None`` if not numeric.

    Metres and minutes 1, square metres 2, score/points/ratings/FAR 2, shares 4, lon/lat 6,
    others (raw criterion values) 4.
    """
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return None
    if _is_integer_column(name, values):
        return 0
    if name in ("lon", "lat"):
        return 6
    if name.endswith(("_m", "_min")):
        return 1
    if name.endswith(("_m2", "_points", "_rating")) or name in ("score", "far"):
        return 2
    if name.endswith("_share"):
        return 4
    return 4


def _number_format(decimals: int) -> str:
    return "0" if decimals == 0 else "0." + "0" * decimals


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


def _xlsx_values(name: str, values: pd.Series) -> tuple[list[Any], int | None]:
    decimals = column_decimals(name, values)
    out: list[Any]
    if pd.api.types.is_bool_dtype(values):
        out = [None if v is pd.NA else bool(v) for v in values.astype("boolean")]
    elif decimals is not None:
        num = values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        rounded = np.round(num, decimals) + 0.0
        if decimals == 0:
            out = [None if math.isnan(v) else int(v) for v in rounded]
        else:
            out = [None if math.isnan(v) else float(v) for v in rounded]
    else:
        out = [None if pd.isna(v) else str(v) for v in values.to_numpy(dtype=object)]
    return out, decimals


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


def _write_sheet(ws: Any, table: pd.DataFrame, labels: Pairs | None = None) -> None:
    """Stream one table into a write-only sheet: bilingual header, column-name row, rows.

    Rows go to disk as they are appended (openpyxl's write-only mode), so a sheet of 100,000
    excluded parcels does not hold millions of cell objects in memory.  A styled cell (a number
    format, a quote prefix) is one reusable cell per column, written before the next row is
    built.
    """
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    columns: list[list[Any]] = []
    numbers: list[Any] = []
    quoted: list[Any] = []
    for j, col in enumerate(table.columns, start=1):
        values, decimals = _xlsx_values(str(col), table[col])
        columns.append(values)
        num = None
        if decimals is not None:
            num = WriteOnlyCell(ws)
            num.number_format = _number_format(decimals)
        numbers.append(num)
        quote = WriteOnlyCell(ws)
        quote.quotePrefix = True
        quoted.append(quote)
        width = 12 if decimals is not None else min(60, max(12, len(str(col)) + 2))
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = "B3"  # (column widths and panes precede the rows in the file)
    for texts in ([label(str(c), "both", labels) for c in table.columns],
                  [str(c) for c in table.columns]):
        ws.append([_text_cell(WriteOnlyCell(ws), text, font=bold) for text in texts])
    for i in range(len(table)):
        row: list[Any] = []
        for j, values in enumerate(columns):
            value = values[i]
            if isinstance(value, str):
                # Literal text, never a formula: openpyxl would store "=..." as a formula.
                row.append(_text_cell(quoted[j], value) if value.startswith(FORMULA_PREFIXES)
                           else value)
            elif value is not None and numbers[j] is not None:
                numbers[j].value = value
                row.append(numbers[j])
            else:
                row.append(value)
        ws.append(row)


def _text_cell(cell: Any, text: str, font: Any = None) -> Any:
    """``cell`` holding ``text`` as a string (never a formula), in ``font`` if given."""
    cell.value = text
    cell.data_type = "s"
    if font is not None:
        cell.font = font
    return cell


def _write_xlsx(path: Path, ranked: pd.DataFrame, excluded: pd.DataFrame,
                meta_rows: list[tuple[str, str]], labels: Pairs | None,
                sheets: Mapping[str, pd.DataFrame] | None = None) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    _write_sheet(wb.create_sheet(f"{label('sheet_ranking', 'zh')} "
                                 f"{label('sheet_ranking', 'en')}"), ranked, labels)
    _write_sheet(wb.create_sheet(f"{label('sheet_excluded', 'zh')} "
                                 f"{label('sheet_excluded', 'en')}"), excluded, labels)
    wm = wb.create_sheet(f"{label('sheet_metadata', 'zh')} {label('sheet_metadata', 'en')}")
    wm.column_dimensions["A"].width = 32
    wm.column_dimensions["B"].width = 80
    wm.freeze_panes = "A2"
    bold = Font(bold=True)
    wm.append([_text_cell(WriteOnlyCell(wm), label(key, "both"), font=bold)
               for key in ("key", "value")])
    for key, value in meta_rows:
        row = []
        for text in (key, value):
            cell = _text_cell(WriteOnlyCell(wm), text)
            if text.startswith(FORMULA_PREFIXES):
                cell.quotePrefix = True
            row.append(cell)
        wm.append(row)
    for key, table in (sheets or {}).items():
        _write_sheet(wb.create_sheet(f"{label(key, 'zh')} {label(key, 'en')}"),
                     pd.DataFrame(table).reset_index(drop=True), labels)
    wb.save(path)


def _write_gpkg(path: Path, parcels: pd.DataFrame, layers: Mapping[str, pd.DataFrame],
                meta_rows: list[tuple[str, str]]) -> None:
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
    sheets: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Path]:
    """Write the shortlist files and their metadata sidecar.

    Parameters
    ----------
    parcels
        Scored parcels (a GeoDataFrame for ``gpkg``): ``parcel_id`` and normally ``rank``,
        ``score``, ``excluded``, ``exclusion_reason`` plus any other columns.  Not modified.
    out_dir
        Output folder (created if needed).
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
    sheets
        Extra XLSX sheets after the metadata, ``{label key: table}`` (the sheet is named by the
        key's 中文 and English labels), e.g. the facilities report.

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
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown shortlist format(s) {unknown}.", where="shortlist",
                         fix=f"use any of {list(FORMATS)}.")
    layers = dict(layers or {})
    bad_layers = [n for n in layers if n in RESERVED_LAYERS]
    if bad_layers:
        raise InputError(f"extra layer name(s) {bad_layers} clash with the shortlist's own "
                         "layers.", where="shortlist", fix="rename the extra layers.")
    if inputs is None:
        inputs = [i["path"] for i in metadata.get("inputs", []) if isinstance(i, Mapping)]
        if metadata.get("config_path"):
            inputs.append(metadata["config_path"])
    out_dir = check_writable_dir(out_dir)

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
    meta_rows = flatten_metadata(meta)

    written: dict[str, Path] = {}
    if "csv" in formats:
        written["csv"] = write_bytes_atomic_checked(
            out_dir / f"{basename}.csv", shortlist_csv_bytes(table), inputs)
    if "xlsx" in formats:
        path = out_dir / f"{basename}.xlsx"
        with atomic_path(path, inputs=list(inputs)) as tmp:
            _write_xlsx(tmp, table[~excluded_mask], table[excluded_mask], meta_rows, labels,
                        sheets)
        written["xlsx"] = path
    if "gpkg" in formats:
        path = out_dir / f"{basename}.gpkg"
        with atomic_path(path, inputs=list(inputs)) as tmp:
            every = ordered if top_n is None else order_parcels(parcels)
            _write_gpkg(tmp, every.reset_index(drop=True), layers, meta_rows)
        written["gpkg"] = path

    meta["outputs"] = {
        kind: {"path": p.name, "sha256": file_sha256(p)} for kind, p in written.items()
    }
    meta_path = out_dir / f"{basename}.meta.json"
    text = json.dumps(meta, ensure_ascii=False, indent=2, default=_meta_text) + "\n"
    written["meta"] = write_bytes_atomic_checked(meta_path, text.encode("utf-8"), inputs)
    return written


def write_bytes_atomic_checked(path: Path, data: bytes, inputs: Sequence[str | Path]) -> Path:
    """:func:`siteplan.core.atomic.write_bytes_atomic` that also refuses to overwrite an input."""
    if not inputs:
        return write_bytes_atomic(path, data)
    with atomic_path(path, inputs=list(inputs)) as tmp:
        tmp.write_bytes(data)
    return path


__all__ = [
    "FORMATS",
    "column_decimals",
    "file_sha256",
    "flatten_metadata",
    "neutralise",
    "order_parcels",
    "run_metadata",
    "shortlist_csv_bytes",
    "study_run_metadata",
    "write_shortlist",
]
