"""The shortlist workbook (XLSX): ranked and excluded sheets plus the run metadata.

Written with openpyxl in write-only mode (streamed, so 200,000 parcels fit in memory); cell text
is cleaned of the control characters XLSX cannot hold, and formula-like text is stored as text.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siteplan.core.errors import SiteplanWarning
from siteplan.core.labels import Pairs, label
from siteplan.outputs.cells import (
    FORMULA_PREFIXES,
    XLSX_ILLEGAL,
    column_decimals,
    number_format,
    xlsx_text,
)
from siteplan.outputs.xlsx_layout import (
    Block,
    header_text,
    lay_out,
    prepare_sheet,
    report_order,
    seed_classes_of,
    write_summary,
)


def _xlsx_values(name: str, values: pd.Series) -> tuple[list[Any], int | None]:
    decimals = column_decimals(name, values)
    out: list[Any]
    if pd.api.types.is_bool_dtype(values):
        # 是/否, as a bureau's tables write them (the CSV keeps TRUE/FALSE for machines).
        yes, no = label("yes", "zh"), label("no", "zh")
        out = [None if v is pd.NA else (yes if v else no) for v in values.astype("boolean")]
    elif decimals is not None:
        num = values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        rounded = np.round(num, decimals) + 0.0
        if decimals == 0:
            out = [None if math.isnan(v) else int(v) for v in rounded]
        else:
            out = [None if math.isnan(v) else float(v) for v in rounded]
    else:
        out = [None if pd.isna(v) else xlsx_text(str(v)) for v in values.to_numpy(dtype=object)]
    return out, decimals


def _write_sheet(ws: Any, table: pd.DataFrame, labels: Pairs | None = None) -> None:
    """Stream one table into a write-only sheet: bilingual header, column-name row, rows.

    Rows go to disk as they are appended (openpyxl's write-only mode), so a sheet of 100,000
    excluded parcels does not hold millions of cell objects in memory.  A styled cell (a number
    format, a quote prefix) is one reusable cell per column, written before the next row is
    built.  Yes/no columns read 是/否; the sheet is laid out for print and filtering by
    :func:`siteplan.outputs.xlsx_layout.lay_out` (widths, wrapped headers, autofilter,
    conditional formats, page setup).
    """
    from openpyxl.cell import WriteOnlyCell

    columns: list[list[Any]] = []
    numbers: list[Any] = []
    quoted: list[Any] = []
    decimals_of: list[int | None] = []
    for col in table.columns:
        values, decimals = _xlsx_values(str(col), table[col])
        columns.append(values)
        decimals_of.append(decimals)
        num = None
        if decimals is not None:
            num = WriteOnlyCell(ws)
            num.number_format = number_format(decimals)
        numbers.append(num)
        quote = WriteOnlyCell(ws)
        quote.quotePrefix = True
        quoted.append(quote)
    headers = [header_text(str(c), labels) for c in table.columns]
    names = [str(c) for c in table.columns]
    header_style = prepare_sheet(ws, headers, names, columns, decimals_of)
    ws.append([_text_cell(WriteOnlyCell(ws), text, **header_style) for text in headers])
    ws.append([_text_cell(WriteOnlyCell(ws), text, font=header_style["font"]) for text in names])
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
    lay_out(ws, names, columns, len(table))


def _text_cell(cell: Any, text: str, font: Any = None, alignment: Any = None) -> Any:
    """``cell`` holding ``text`` as a string (never a formula), in ``font`` if given."""
    cell.value = xlsx_text(text)
    cell.data_type = "s"
    if font is not None:
        cell.font = font
    if alignment is not None:
        cell.alignment = alignment
    return cell


def write_xlsx(path: Path, ranked: pd.DataFrame, excluded: pd.DataFrame,
               meta_rows: list[tuple[str, str]], labels: Pairs | None,
               tables: Mapping[str, pd.DataFrame] | None = None,
               summary: tuple[str, Sequence[Block]] | None = None) -> None:
    """Write the shortlist workbook: summary, ranked, excluded, extra and metadata sheets.

    Parameters
    ----------
    path
        The file to write (a staging path; the caller swaps it in).
    ranked, excluded
        The attribute tables of the ranked and the excluded parcels, in shortlist order.
    meta_rows
        ``(key, value)`` rows of the run metadata.
    labels
        Extra ``{column: (English, 中文)}`` header labels (the study's criteria).
    tables
        Extra sheets ``{label key: table}`` after the excluded parcels (seed compliance counts,
        coverage), each named by its key's label.
    summary
        ``(title, blocks)`` of a *汇总 Summary* sheet written first
        (:func:`siteplan.outputs.workbook.summary_blocks`); none without.

    The ranked and excluded sheets put rank, id, name, score, the seed rules (distance, 是/否,
    nearest facility) and the area in m², ha and 亩 first
    (:func:`siteplan.outputs.xlsx_layout.report_order`); the excluded sheet then gives only the
    criteria's raw values and the FAR (every column stays in the CSV and the GeoPackage).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    cleaned = sum(_illegal_cells(t) for t in (ranked, excluded))
    cleaned += sum(bool(XLSX_ILLEGAL.search(t)) for row in meta_rows for t in row)
    if cleaned:
        warnings.warn(f"{path.name.split('.tmp')[0].lstrip('.')}: {cleaned} cell(s) hold control "
                      "characters an XLSX file cannot store; they are shown as \ufffd there "
                      "(the CSV and the GeoPackage keep the text as it is). Fix: remove the "
                      "control characters from the input's text columns.", SiteplanWarning,
                      stacklevel=4)
    seeds = seed_classes_of(ranked)
    wb = Workbook(write_only=True)
    try:
        if summary is not None:
            write_summary(wb.create_sheet(_sheet_name("sheet_summary")), summary[0], summary[1],
                          labels)
        _write_sheet(wb.create_sheet(_sheet_name("sheet_ranking")), report_order(ranked, seeds),
                     labels)
        _write_sheet(wb.create_sheet(_sheet_name("sheet_excluded")),
                     report_order(excluded, seeds, brief=True), labels)
        for key, extra in (tables or {}).items():
            _write_sheet(wb.create_sheet(_sheet_name(key)),
                         pd.DataFrame(extra).reset_index(drop=True), labels)
        wm = wb.create_sheet(_sheet_name("sheet_metadata"))
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
        wb.save(path)
    except BaseException:
        _abandon(wb)
        raise


def _sheet_name(key: str) -> str:
    """``中文 English`` of a sheet's label key, within Excel's 31 characters."""
    return f"{label(key, 'zh')} {label(key, 'en')}"[:31]


def _abandon(wb: Any) -> None:
    """Close a write-only workbook's half-written sheets after an error or Ctrl-C.

    Left open, each sheet's row generator is closed later by the garbage collector, writing to
    a file that is already closed: Python then prints "Exception ignored ..." with a traceback
    (seen after Ctrl-C during the XLSX write).  Their temporary files go too.
    """
    for ws in wb.worksheets:
        for gen in (getattr(ws, "_rows", None), getattr(getattr(ws, "_writer", None), "xf", None)):
            if gen is not None:
                with contextlib.suppress(Exception):
                    gen.close()
        with contextlib.suppress(Exception):
            ws._writer.cleanup()


def _illegal_cells(table: pd.DataFrame) -> int:
    """Count the text cells (and column names) of ``table`` an XLSX file cannot hold."""
    count = sum(bool(XLSX_ILLEGAL.search(str(c))) for c in table.columns)
    for col in table.columns:
        values = table[col]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        hits = values.astype("string").str.contains(XLSX_ILLEGAL.pattern, regex=True)
        count += int(hits.fillna(False).sum())
    return count


__all__ = ["XLSX_ILLEGAL", "write_xlsx", "xlsx_text"]
