"""Make the README's pictures of the documents: the parcel report and the XLSX summary sheet.

Runs the bundled Taiyuan study, prints the report of rank 1 to PDF (headless Chromium) and
rasterises its first page (pypdfium2) to ``docs/parcel_report.png``; renders the workbook's
summary sheet from its cells (values as their number formats show them) to an HTML table and
screenshots it with headless Chromium to ``docs/xlsx_summary.png`` (no spreadsheet program
is needed; fonts and grid are the browser's, the cells are the workbook's).

Usage: .venv/bin/python scripts/docs_screenshots.py
"""

from __future__ import annotations

import html
import subprocess
import tempfile
import warnings
from pathlib import Path

from siteplan import SiteplanWarning, load_study, parcel_report, run_study, write_outputs
from siteplan.outputs.report import find_chromium

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _shown(value: object, fmt: str) -> str:
    """Return a cell's value as its number format shows it (the formats siteplan writes)."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if fmt.endswith("%"):
            places = len(fmt.split(".")[1]) - 1 if "." in fmt else 0
            return f"{value * 100:.{places}f}%"
        places = len(fmt.split(".")[1]) if "." in fmt else 0
        return f"{value:,.{places}f}"
    return str(value)


def sheet_html(xlsx: Path, sheet: str, max_rows: int = 60) -> str:
    """Return one sheet of a workbook as an HTML table (bold, fills and widths kept)."""
    from openpyxl import load_workbook

    ws = load_workbook(xlsx)[sheet]
    rows = []
    for row in ws.iter_rows(max_row=max_rows):
        cells = []
        for cell in row:
            style = []
            if cell.font is not None and cell.font.bold:
                style.append("font-weight:bold")
            if cell.font is not None and cell.font.sz and cell.font.sz > 11:
                style.append(f"font-size:{cell.font.sz}pt")
            fill = cell.fill.fgColor.rgb if cell.fill is not None and cell.fill.fill_type else None
            if isinstance(fill, str):
                style.append(f"background:#{fill[-6:]}")
            text = html.escape(_shown(cell.value, cell.number_format)).replace("\n", "<br>")
            cells.append(f'<td style="{";".join(style)}">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    px = [(ws.column_dimensions[c].width or 13) * 7.5 for c in "ABCDEF"]
    widths = "".join(f'<col style="width:{w:.0f}px">' for w in px)
    return ('<!DOCTYPE html><meta charset="utf-8"><style>body{margin:8px;font:13px '
            '"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif}table{border-collapse:collapse;'
            f'table-layout:fixed;width:{sum(px):.0f}px}}td{{border:1px solid #d4d4d4;padding:2px 4px;'
            'vertical-align:top;white-space:nowrap;overflow:visible}</style>'
            f"<table>{widths}{''.join(rows)}</table>")


def main() -> None:
    """Write docs/parcel_report.png and docs/xlsx_summary.png."""
    import pypdfium2 as pdfium

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SiteplanWarning)
        result = run_study(load_study(ROOT / "data" / "taiyuan" / "study.toml"))
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium: install it with scripts/install_system_deps.sh")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        written = parcel_report(result, out / "report", top_n=1)
        pdf = pdfium.PdfDocument(str(written["pdf"]))
        pdf[0].render(scale=1.5).to_pil().save(DOCS / "parcel_report.png", optimize=True)
        pdf.close()
        xlsx = write_outputs(result, out / "run", formats=["xlsx"])["xlsx"]
        page = out / "summary.html"
        page.write_text(sheet_html(xlsx, "汇总 Summary"), encoding="utf-8")
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--user-data-dir={out / 'profile'}",
                        f"--screenshot={DOCS / 'xlsx_summary.png'}", "--window-size=1560,1420",
                        page.as_uri()], check=True, capture_output=True, timeout=120)
    print(f"wrote {DOCS / 'parcel_report.png'} and {DOCS / 'xlsx_summary.png'}")


if __name__ == "__main__":
    main()
