"""How the shortlist workbook's sheets look and print: widths, headers, filters, page setup.

A table sheet gets a wrapped two-line header (中文 above English) sized to its column, columns as
wide as their content (CJK characters count double), an autofilter on the column-name row,
conditional formats (是 green / 否 red on the pass/fail columns, a colour scale on the score),
and a print setup: landscape, A4 or A3 by width, header rows and the id columns repeated on
every page.  The summary sheet is a few titled blocks laid out for A4 portrait.

openpyxl's write-only sheets take the column widths, panes and sheet properties before the
first row (:func:`prepare_sheet`) and the filter, formats and page setup after the rows
(:func:`lay_out`).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from siteplan.core.labels import Pairs, label
from siteplan.outputs.cells import FORMULA_PREFIXES, column_decimals, number_format, xlsx_text

#: Column widths (Excel character units): never narrower, never wider.
MIN_WIDTH, MAX_WIDTH = 6.0, 48.0
#: Header lines the bilingual header may wrap to before its column is widened further.
HEADER_LINES = 3
#: Points per header line (Excel's default row is 15 pt for an 11 pt font).
LINE_POINTS = 15.0
#: Rows whose values size a column (the widest of the first ones is representative).
SIZE_ROWS = 500
#: Printable width of a landscape page at 100 % in character units (A4 27.7 cm, A3 40 cm
#: less margins, ~0.19 cm per unit).
PAGE_UNITS = {"A4": 140.0, "A3": 205.0}
#: OOXML paper size codes.
PAPER_SIZES = {"A3": "8", "A4": "9"}
#: Pass/fail columns coloured 是 green / 否 red.
PASS_FAIL_PREFIXES = ("meets_", "compliant_", "served_")
GREEN, GREEN_TEXT, RED, RED_TEXT = "C6EFCE", "006100", "FFC7CE", "9C0006"
HEADER_FILL = "DDEBF7"


@dataclass(frozen=True)
class Block:
    """A titled table of the summary sheet.

    Attributes
    ----------
    title
        The block's label key (:func:`siteplan.core.labels.label`).
    table
        Its rows; with ``header`` False a two-column key/value table whose first column holds
        label keys.
    header
        Whether the table's column labels are written above its rows.
    """

    title: str
    table: pd.DataFrame
    header: bool = True


def display_width(text: str) -> int:
    """Width of ``text`` in spreadsheet character units: wide (CJK) characters count two.

    Examples
    --------
    >>> display_width("幼儿园 kindergarten")
    19
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrapped_lines(text: str, width: float) -> int:
    r"""Lines ``text`` takes in a cell ``width`` units wide, wrapped at spaces and new lines.

    A word wider than the cell is broken (as Excel does with CJK text without spaces).

    Examples
    --------
    >>> wrapped_lines("排名\\nRank of the parcel", 10)
    3
    """
    lines = 0
    for part in text.split("\n"):
        used = 0
        lines += 1
        for word in part.split(" "):
            w = display_width(word)
            if used and used + 1 + w <= width:
                used += 1 + w
                continue
            if used:
                lines += 1
            extra = max(1, math.ceil(w / width)) - 1
            lines += extra
            used = w - extra * int(width)
    return lines


def header_text(column: str, labels: Pairs | None = None) -> str:
    """Return the bilingual header of ``column``: 中文 on the first line, English below."""
    zh, en = label(column, "zh", labels), label(column, "en", labels)
    return zh if zh == en else f"{zh}\n{en}"


def _cell_text(value: Any, decimals: int | None) -> str:
    if value is None:
        return ""
    if decimals is not None and isinstance(value, int | float):
        return f"{value:,.{decimals}f}"
    return str(value)


def column_width(header: str, values: Sequence[Any], decimals: int | None) -> float:
    """Width of a column: its widest value, widened until the header wraps to few lines."""
    content = max((display_width(_cell_text(v, decimals)) for v in values[:SIZE_ROWS]),
                  default=0)
    # A word is never broken (Excel breaks only CJK text between characters).
    words = max((display_width(w) for w in header.split() if display_width(w) == len(w)),
                default=0)
    width = min(MAX_WIDTH, max(MIN_WIDTH, content + 2.0, words + 1.0))
    while width < MAX_WIDTH and wrapped_lines(header, width - 1) > HEADER_LINES:
        width += 1.0
    return width


def prepare_sheet(ws: Any, headers: Sequence[str], names: Sequence[str],
                  columns: Sequence[Sequence[Any]],
                  decimals: Sequence[int | None]) -> dict[str, Any]:
    """Set widths, panes, header height and fit-to-page before a sheet's first row.

    Returns the ``font``/``alignment`` of the header cells.
    """
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    widths = [column_width(h, v, d) for h, v, d in zip(headers, columns, decimals, strict=True)]
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    lines = max((wrapped_lines(h, w - 1) for h, w in zip(headers, widths, strict=True)),
                default=1)
    ws.row_dimensions[1].height = LINE_POINTS * lines + 3
    ws.freeze_panes = "C3" if list(names[:2]) == ["rank", "parcel_id"] else "B3"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    paper = "A3" if sum(widths) > PAGE_UNITS["A4"] else "A4"
    ws.page_setup.paperSize = PAPER_SIZES[paper]
    # Across as many pages as keep the print near 100 %; down as many as the rows need.
    ws.page_setup.fitToWidth = max(1, math.ceil(sum(widths) / PAGE_UNITS[paper]))
    ws.page_setup.fitToHeight = 0
    return {"font": Font(bold=True),
            "alignment": Alignment(wrap_text=True, vertical="top")}


def lay_out(ws: Any, names: Sequence[str], columns: Sequence[Sequence[Any]], n_rows: int) -> None:
    """Add the autofilter, conditional formats and print setup after a sheet's rows."""
    from openpyxl.formatting.rule import CellIsRule, ColorScaleRule
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    if not names:
        return
    last = get_column_letter(len(names))
    end = max(3, n_rows + 2)
    ws.auto_filter.ref = f"A2:{last}{end}"
    yes, no = label("yes", "zh"), label("no", "zh")
    for j, (name, values) in enumerate(zip(names, columns, strict=True), start=1):
        col = get_column_letter(j)
        cells = f"{col}3:{col}{end}"
        if name.startswith(PASS_FAIL_PREFIXES) and set(values) <= {yes, no, None}:
            for text, fill, font in ((yes, GREEN, GREEN_TEXT), (no, RED, RED_TEXT)):
                ws.conditional_formatting.add(cells, CellIsRule(
                    operator="equal", formula=[f'"{text}"'],
                    fill=PatternFill(bgColor=fill), font=Font(color=font)))
        elif name == "score":
            ws.conditional_formatting.add(cells, ColorScaleRule(
                start_type="num", start_value=0, start_color="F8696B",
                mid_type="num", mid_value=50, mid_color="FFEB84",
                end_type="num", end_value=100, end_color="63BE7B"))
    ws.page_setup.orientation = "landscape"
    ws.print_title_rows = "1:2"
    if list(names[:2]) == ["rank", "parcel_id"]:
        ws.print_title_cols = "A:B"
    ws.print_options.gridLines = True
    ws.oddFooter.center.text = "&P / &N"


def report_order(table: pd.DataFrame, seed_classes: Sequence[str], *,
                 brief: bool = False) -> pd.DataFrame:
    """Order a shortlist for people: rank, id, name, score, the seed rules, areas, the rest.

    Each seed class brings its walking distance, pass/fail and nearest facility's name; the
    area is given in m², ha and 亩 (``area_ha``, ``area_mu`` added from ``area_m2``).  With
    ``brief`` (the excluded parcels) the rest is only the criteria's raw values and the FAR:
    what says why a parcel is out, not its ratings and points (the CSV and the GeoPackage keep
    every column; a city's tens of thousands of excluded rows stay quick to write and open).
    """
    from siteplan.core.defaults import AREA_UNIT_M2

    df = table.copy()
    if "area_m2" in df.columns:
        area = pd.to_numeric(df["area_m2"], errors="coerce")
        df["area_ha"] = area / AREA_UNIT_M2["ha"]
        df["area_mu"] = area / AREA_UNIT_M2["mu"]
    lead = ["rank", "parcel_id", "name", "score"]
    for cls in seed_classes:
        lead += [f"dist_{cls}_m", f"meets_{cls}_radius", f"nearest_{cls}_name"]
    lead += ["compliant_all", "compliance_required_zh", "compliance_required",
             "area_m2", "area_ha", "area_mu", "exclusion_reason_zh", "exclusion_reason"]
    lead = [c for c in lead if c in df.columns]
    rest = [c for c in df.columns if c not in lead
            and (not brief or str(c).endswith("_raw") or c == "far")]
    return df[lead + rest]


def seed_classes_of(table: pd.DataFrame) -> list[str]:
    """Return the classes with a ``meets_<class>_radius`` column, in column order."""
    return [str(c)[len("meets_"):-len("_radius")] for c in table.columns
            if str(c).startswith("meets_") and str(c).endswith("_radius")]


def write_summary(ws: Any, title: str, blocks: Sequence[Block], labels: Pairs | None) -> None:
    """Write the summary sheet: a title, then each block under its heading."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    for j, width in enumerate(_summary_widths(blocks, labels)):
        ws.column_dimensions[chr(ord("A") + j)].width = width
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.paperSize = PAPER_SIZES["A4"]
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0

    def cell(value: Any, **style: Any) -> Any:
        c = WriteOnlyCell(ws, value=xlsx_text(value) if isinstance(value, str) else value)
        if isinstance(value, str):
            c.data_type = "s"  # literal text, never a formula
            c.quotePrefix = value.startswith(FORMULA_PREFIXES)
        for key, v in style.items():
            setattr(c, key, v)
        return c

    wrap = Alignment(wrap_text=True, vertical="top")
    ws.append([cell(title, font=Font(bold=True, size=14))])
    row_no = 1
    for block in blocks:
        ws.append([])
        ws.append([cell(label(block.title, "both"), font=Font(bold=True, size=12))])
        row_no += 3
        if block.header:
            ws.row_dimensions[row_no].height = 2 * LINE_POINTS + 3  # 中文 over English
            row_no += len(block.table)
            ws.append([cell(header_text(str(c), labels), font=Font(bold=True), alignment=wrap,
                            fill=PatternFill("solid", fgColor=HEADER_FILL))
                       for c in block.table.columns])
        formats = [_summary_format(str(c), block.table[c]) for c in block.table.columns]
        for row in block.table.itertuples(index=False):
            out: list[Any] = []
            for j, value in enumerate(row):
                if not block.header and j == 0:
                    value = label(str(value), "both", labels)
                if value is None or (not isinstance(value, str) and pd.isna(value)):
                    out.append(None)
                elif isinstance(value, bool | np.bool_):
                    out.append(cell(label("yes" if value else "no", "zh")))
                elif isinstance(value, int | float | np.number):
                    out.append(cell(value.item() if isinstance(value, np.number) else value,
                                    number_format=formats[j] or "General"))
                else:  # text spills over the empty cells to its right, as in Excel
                    out.append(cell(str(value)))
            ws.append(out)
        if not block.header:
            row_no += len(block.table) - 1


def _summary_widths(blocks: Sequence[Block], labels: Pairs | None) -> list[float]:
    """Return the summary's column widths: each fits its headers and values.

    A one-column block (the data gaps) and the values of a key/value block spill over the
    empty cells to their right: left out.
    """
    n = max((b.table.shape[1] for b in blocks), default=1)
    widths = [10.0] * n
    for block in blocks:
        if block.table.shape[1] < 2:
            continue
        for j, col in enumerate(block.table.columns):
            if not block.header and j > 0:  # a key's value spills to the right
                continue
            texts = [label(str(v), "both", labels) if not block.header and j == 0 else
                     _cell_text(v, 2) for v in block.table[col].tolist()]
            if block.header:
                texts += header_text(str(col), labels).split("\n")
            widest = max((display_width(t) for t in texts), default=0)
            widths[j] = max(widths[j], min(MAX_WIDTH + 24, widest + 2.0))
    return widths


def _summary_format(name: str, values: pd.Series) -> str | None:
    """Shares as percentages, other numbers by :func:`column_decimals`."""
    decimals = column_decimals(name, values)
    if decimals is None:
        return None
    return "0.0%" if name.endswith("_share") or name.startswith("share_") else number_format(
        decimals)


__all__ = ["Block", "column_width", "display_width", "header_text", "lay_out", "prepare_sheet",
           "report_order", "seed_classes_of", "wrapped_lines", "write_summary"]
