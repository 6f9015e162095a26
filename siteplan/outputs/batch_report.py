"""The batch's own outputs: the summary table, the study list and the map index page.

The summary table ranks the top parcels of every study together.

Everything here depends only on the :class:`StudyOutcome` list in study order, never on
which worker ran a study or when it finished, so a run on a cluster writes the same bytes as
a serial run.  :mod:`siteplan.batch` runs the studies and calls :func:`write_batch_outputs`.
"""

from __future__ import annotations

import html
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siteplan.core.atomic import atomic_path, write_bytes_atomic
from siteplan.core.labels import label
from siteplan.outputs.cells import FORMULA_PREFIXES, column_decimals
from siteplan.outputs.shortlist import shortlist_csv_bytes

SUMMARY_LEAD = ("overall_rank", "study", "study_name", "rank", "parcel_id", "score")


@dataclass(frozen=True)
class StudyOutcome:
    """What one study of a batch gave: its top parcels, or why it failed."""

    index: int
    study_file: str
    folder: str
    name: str | None = None
    out_dir: str | None = None
    map_html: str | None = None
    shortlist_csv: str | None = None
    top: pd.DataFrame | None = None
    error: str | None = None
    seconds: float = 0.0
    #: The study's coverage table, seed compliance counts and WGS84 parcel extent, when its
    #: runner gives them (the province summary: :mod:`siteplan.outputs.province`).
    coverage: pd.DataFrame | None = None
    compliance: pd.DataFrame | None = None
    extent: tuple[float, ...] | None = None

    @property
    def ok(self) -> bool:
        """Whether the study ran and returned its top parcels."""
        return self.error is None


def summary_table(outcomes: Sequence[StudyOutcome], top_n: int | None = None) -> pd.DataFrame:
    """Rank the top parcels of every successful study across studies.

    Rows are ordered by ``score`` (descending), then study order, then the study's own
    ``rank``; ``overall_rank`` numbers them 1..n (parcels without a score come last, without an
    overall rank).  Columns: ``overall_rank``, ``study`` (its output folder), ``study_name``,
    ``rank``, ``parcel_id``, ``score``, then any other columns the studies reported.
    """
    frames = []
    for o in outcomes:
        if o.ok and o.top is not None and len(o.top):
            top = o.top if top_n is None else o.top.head(top_n)
            top = top.drop(columns=[c for c in SUMMARY_LEAD if c in top.columns
                                    and c not in ("rank", "parcel_id", "score")])
            frames.append(top.assign(study=o.folder, study_name=o.name or o.folder,
                                     _order=o.index))
    if not frames:
        dtypes = {"overall_rank": "Int64", "rank": "Int64", "score": "float64"}
        return pd.DataFrame({c: pd.Series([], dtype=dtypes.get(c, "str")) for c in SUMMARY_LEAD})
    table = pd.concat(frames, ignore_index=True)
    score = pd.to_numeric(table["score"], errors="coerce").to_numpy(dtype=float)
    rank = pd.to_numeric(table["rank"], errors="coerce").to_numpy(dtype=float)
    key = np.where(np.isnan(score), np.inf, -score)
    order = np.lexsort((rank, table["_order"].to_numpy(), key))
    table = table.iloc[order].reset_index(drop=True)
    overall = pd.array(np.arange(1, len(table) + 1), dtype="Int64")
    overall[np.isnan(score[order])] = pd.NA
    table["overall_rank"] = overall
    rest = [c for c in table.columns if c not in SUMMARY_LEAD and c != "_order"]
    return table[[*SUMMARY_LEAD, *rest]]


def studies_table(outcomes: Sequence[StudyOutcome], out_dir: Path) -> pd.DataFrame:
    """One row per study: folder, name, file, status, parcels in the summary, links, error."""
    rows = [{
        "study": o.folder,
        "study_name": o.name or "",
        "study_file": o.study_file,
        "status": "ok" if o.ok else "failed",
        "n_top": len(o.top) if o.ok and o.top is not None else 0,
        "map": _relative(o.map_html, out_dir) or "",
        "shortlist": _relative(o.shortlist_csv, out_dir) or "",
        "error": o.error or "",
    } for o in outcomes]
    return pd.DataFrame(rows, columns=["study", "study_name", "study_file", "status", "n_top",
                                       "map", "shortlist", "error"])


def _relative(path: str | None, out_dir: Path) -> str | None:
    """``path`` relative to the output folder, with / separators (for links)."""
    if not path:
        return None
    try:
        return Path(os.path.relpath(Path(path).absolute(), out_dir)).as_posix()
    except ValueError:  # another drive (Windows): only an absolute link can work
        return Path(path).absolute().as_uri()


def write_batch_outputs(outcomes: Sequence[StudyOutcome], out_dir: Path, *,
                        top_n: int | None = None, xlsx: bool = True) -> dict[str, Path]:
    """Write the batch's summary, study list and map index into ``out_dir``.

    ``summary.csv`` (UTF-8 with BOM), ``summary.xlsx`` (with ``xlsx``), ``studies.csv`` and
    ``index.html``, each atomically; their paths are returned by kind.
    """
    summary = summary_table(outcomes, top_n)
    studies = studies_table(outcomes, out_dir)
    files = {
        "summary_csv": write_bytes_atomic(out_dir / "summary.csv", shortlist_csv_bytes(summary)),
        "studies_csv": write_bytes_atomic(out_dir / "studies.csv", shortlist_csv_bytes(studies)),
    }
    if xlsx:
        path = out_dir / "summary.xlsx"
        with atomic_path(path) as tmp:
            _write_xlsx(tmp, {"汇总 Summary": summary, "研究 Studies": studies})
        files["summary_xlsx"] = path
    index = index_html(outcomes, out_dir, xlsx=xlsx)
    files["index_html"] = write_bytes_atomic(out_dir / "index.html", index.encode("utf-8"))
    return files


def _write_xlsx(path: Path, sheets: Mapping[str, pd.DataFrame]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for title, table in sheets.items():
        ws = wb.create_sheet(title)
        for j, col in enumerate(table.columns, start=1):
            for row, text in ((1, label(str(col), "both")), (2, str(col))):
                cell = ws.cell(row=row, column=j, value=text)
                cell.data_type, cell.font = "s", bold
            decimals = column_decimals(str(col), table[col])
            values = table[col].to_numpy(dtype=object)
            for i, value in enumerate(values, start=3):
                if value is None or value is pd.NA or (isinstance(value, float)
                                                       and np.isnan(value)):
                    continue
                if decimals is None or isinstance(value, (bool, np.bool_)):
                    value = value if isinstance(value, (bool, np.bool_)) else str(value)
                else:
                    value = round(float(value), decimals)
                    value = int(value) if decimals == 0 else value
                cell = ws.cell(row=i, column=j, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # literal text, never a formula
                    cell.quotePrefix = value.startswith(FORMULA_PREFIXES)
                elif decimals is not None:
                    cell.number_format = "0" if decimals == 0 else "0." + "0" * decimals
            width = 12 if decimals is not None else min(60, max(12, len(str(col)) + 2))
            ws.column_dimensions[get_column_letter(j)].width = width
        ws.freeze_panes = "A3"
    wb.save(path)


_CSS = """body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.35em .6em;text-align:left}
th{background:#f3f3f3}tr.failed td{background:#fff1f0}td.num{text-align:right}"""


def index_html(outcomes: Sequence[StudyOutcome], out_dir: Path, *, xlsx: bool = True) -> str:
    """Return the map index page: one row per study with its map, shortlist, top parcel, status.

    Every text is HTML-escaped and every link is relative to ``out_dir`` (percent-encoded),
    so the page works wherever the folder is copied.
    """
    esc = html.escape

    def link(path: str | None, text: str) -> str:
        rel = _relative(path, out_dir)
        if rel is None:
            return "—"
        href = rel if rel.startswith("file:") else urllib.parse.quote(rel, safe="/")
        return f'<a href="{esc(href)}">{esc(text)}</a>'

    def head(key: str) -> str:
        return esc(label(key, "both"))

    n_failed = sum(not o.ok for o in outcomes)
    rows = []
    for o in outcomes:
        top = o.top if o.ok and o.top is not None and len(o.top) else None
        best = "—" if top is None else esc(str(top["parcel_id"].iloc[0]))
        score = "—" if top is None else esc(_fmt_score(top["score"].iloc[0]))
        status = esc(label("status_ok" if o.ok else "status_failed", "both", extra=_STATUS))
        if not o.ok:
            status += f": {esc(o.error or '')}"
        rows.append(
            f'<tr class="{"ok" if o.ok else "failed"}"><td>{esc(o.folder)}</td>'
            f"<td>{esc(o.name or '')}</td><td>{link(o.map_html, 'map 地图')}</td>"
            f"<td>{link(o.shortlist_csv, 'shortlist.csv')}</td><td>{best}</td>"
            f'<td class="num">{score}</td><td>{status}</td></tr>')
    downloads = '<a href="summary.csv">summary.csv</a>'
    if xlsx:
        downloads += ' · <a href="summary.xlsx">summary.xlsx</a>'
    downloads += ' · <a href="studies.csv">studies.csv</a>'
    header = "".join(f"<th>{h}</th>" for h in (
        head("study"), head("study_name"), head("map"), head("shortlist"),
        esc(label("top_parcel", "both", extra=_STATUS)), esc(label("score", "both")),
        head("status")))
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>siteplan — 研究地图索引 Study maps</title>\n"
        f"<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
        "<h1>研究地图索引 / Study maps</h1>\n"
        f"<p>{len(outcomes)} studies 项研究, {n_failed} failed 项失败. "
        f"Summary 汇总: {downloads}</p>\n"
        f"<table>\n<thead><tr>{header}</tr></thead>\n<tbody>\n"
        + "\n".join(rows) + "\n</tbody>\n</table>\n</body>\n</html>\n")


_STATUS = {"status_ok": ("ok", "成功"), "status_failed": ("failed", "失败"),
           "top_parcel": ("Top parcel", "首选地块")}


def _fmt_score(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "—" if np.isnan(number) else f"{number:.2f}"


__all__ = ["SUMMARY_LEAD", "StudyOutcome", "index_html", "studies_table",
           "summary_table", "write_batch_outputs"]
