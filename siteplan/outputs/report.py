"""The printable per-parcel report (地块评价报告): one A4 page per parcel, HTML and PDF.

For each chosen parcel: its map (:func:`siteplan.outputs.report_map.parcel_svg`, inline SVG),
the key facts, the score broken down by criterion, the walking distances with the nearest
facilities' names, compliance with the seed clause 三(二)8, the programme requirements
(childcare places, elderly-care land, parking, service rooms) and the data caveats.  The HTML is
one self-contained file (no script, no external resource, a Content-Security-Policy that
forbids loading any) and every text in it is escaped.  The PDF is printed from it by headless
Chromium, the browser the project's browser tests already use.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from siteplan.core.columns import p_top_columns
from siteplan.core.errors import InputError, SiteplanError
from siteplan.core.labels import OSM_CREDIT, label
from siteplan.core.outputset import plan_outputs, staged_outputs
from siteplan.core.version import __version__
from siteplan.outputs.report_map import parcel_svg

if TYPE_CHECKING:
    from siteplan.study.result import StudyResult

REPORT_FILES = ("parcel_report.html", "parcel_report.pdf")
#: Parcels in a report when none are named.
DEFAULT_TOP = 10
#: Seconds headless Chromium may take to print a report.
PRINT_TIMEOUT_S = 180
SEED_CLAUSE = "好房子 三(二)8"

_CSS = """
@page { size: A4; margin: 12mm 12mm 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
  "Microsoft YaHei", "PingFang SC", sans-serif; font-size: 9pt; color: #1a1a1a; margin: 0; }
section.parcel { break-after: page; }
section.parcel:last-child { break-after: auto; }
h1 { font-size: 16pt; margin: 0 0 2pt 0; }
h1 small { font-size: 10pt; font-weight: normal; color: #555; }
h2 { font-size: 11pt; margin: 8pt 0 3pt 0; border-bottom: 1.5pt solid #a50f15; }
.meta { color: #444; margin-bottom: 4pt; }
.score { font-size: 20pt; font-weight: bold; color: #a50f15; }
.facts { display: flex; gap: 10pt; align-items: baseline; flex-wrap: wrap; }
.facts span b { font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.5pt solid #c8c8c8; padding: 1pt 3pt; text-align: left;
  vertical-align: top; }
th { background: #eef3f8; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.yes { color: #006100; background: #c6efce; font-weight: 600; }
.no { color: #9c0006; background: #ffc7ce; font-weight: 600; }
.bar { background: #e8e8e8; height: 7pt; width: 60pt; display: inline-block; }
.bar i { background: #2b8cbe; height: 7pt; display: block; }
h2.p2 { break-before: page; }
svg.parcel-map { border: 0.5pt solid #999; display: block; width: 100%; height: 62mm; }
ul { margin: 2pt 0; padding-left: 14pt; } li { margin: 1pt 0; }
footer { color: #666; font-size: 8pt; margin-top: 4pt; }
"""
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:")


class PrintError(SiteplanError):
    """The PDF could not be printed (no Chromium, or Chromium failed)."""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _both(key: str, labels: Any = None) -> str:
    zh, en = label(key, "zh", labels), label(key, "en", labels)
    return _e(zh) if zh == en else f"{_e(zh)} <small>{_e(en)}</small>"


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _num(value: object, decimals: int = 0, unit: str = "") -> str:
    if _missing(value):
        return "–"
    return f"{float(value):,.{decimals}f}{unit}"  # type: ignore[arg-type]


def _yes(flag: object) -> str:
    ok = bool(flag) and not _missing(flag)
    return (f'<td class="{"yes" if ok else "no"}">'
            f'{_e(label("yes" if ok else "no", "zh"))}</td>')


def _criteria_rows(result: StudyResult, parcel: pd.Series, labels: Any) -> str:
    from siteplan.outputs.workbook import RAW_UNITS

    weights = result.study.weights_vector()
    rows = []
    for c in result.study.criteria:
        raw, rating = parcel.get(c.raw_column), parcel.get(f"{c.name}_rating")
        unit = RAW_UNITS.get(c.kind, ("", ""))[0]
        raw_text = _num(raw, 0, unit) if unit.strip() == "m" else (
            "–" if _missing(raw) else f"{float(raw):.4g}{unit}")
        width = 0.0 if _missing(rating) else max(0.0, min(100.0, float(rating)))
        rows.append(f"<tr><td>{_both(c.name, labels)}</td><td class=n>{_e(raw_text)}</td>"
                    f"<td class=n>{_num(rating, 1)} <span class=bar><i style=\"width:"
                    f"{width:.0f}%\"></i></span></td><td class=n>{weights[c.name] * 100:.1f}%"
                    f"</td><td class=n>{_num(parcel.get(c.points_column), 2)}</td></tr>")
    head = "".join(f"<th>{_both(k)}</th>" for k in
                   ("factor", "raw_value", "rating", "weight_share", "points"))
    total = (f"<tr><th colspan=4>{_both('score')}</th>"
             f"<th class=n>{_num(parcel.get('score'), 2)}</th></tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}{total}</table>"


def _distance_rows(result: StudyResult, parcel: pd.Series, labels: Any) -> str:
    study = result.study
    radii = dict(study.compliance.radii)
    rows = []
    seeds = list(radii)
    for cls in seeds + [c for c in study.facility_classes() if c not in seeds]:
        if f"dist_{cls}_m" not in parcel.index:
            continue
        radius = radii.get(cls, study.class_radius(cls))
        dist = parcel.get(f"dist_{cls}_m")
        meets = (not _missing(dist) and radius is not None and float(dist) <= radius)
        name = parcel.get(f"nearest_{cls}_name")
        rows.append(f"<tr><td>{_both(cls, labels)}</td><td class=n>{_num(dist, 0, ' m')}</td>"
                    f"<td class=n>{_num(parcel.get(f'time_{cls}_min'), 1, ' min')}</td>"
                    f"<td>{'–' if _missing(name) else _e(name)}</td>"
                    f"<td class=n>{_num(radius, 0, ' m')}</td>"
                    + (_yes(meets) if radius is not None else "<td>–</td>") + "</tr>")
    head = "".join(f"<th>{_both(k)}</th>" for k in
                   ("class", "dist_m", "minutes", "nearest_name", "radius_m", "meets"))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _compliance(result: StudyResult, parcel: pd.Series) -> str:
    cells = []
    for cls, radius in result.study.compliance.radii.items():
        dist = parcel.get(f"dist_{cls}_m")
        cells.append(f"<tr><td>{_both(cls)}</td><td class=n>≤ {radius:,.0f} m</td>"
                     f"<td class=n>{_num(dist, 0, ' m')}</td>"
                     f"{_yes(parcel.get(f'meets_{cls}_radius'))}</tr>")
    required_zh = parcel.get("compliance_required_zh")
    required_en = parcel.get("compliance_required")
    need = ("" if _missing(required_zh) or not required_zh else
            f"<p><b>{_both('compliance_required_zh')}:</b> {_e(required_zh)}<br>"
            f"<small>{_e('' if _missing(required_en) else required_en)}</small></p>")
    head = "".join(f"<th>{_both(k)}</th>" for k in ("class", "radius_m", "dist_m", "meets"))
    return (f"<table><tr>{head}</tr>{''.join(cells)}<tr><th colspan=3>"
            f"{_both('compliant_all')}</th>{_yes(parcel.get('compliant_all'))}</tr></table>"
            f"<p><small>{_e(SEED_CLAUSE)}: walking distance along streets to a kindergarten, "
            "a primary school and a middle school; a project outside a radius must provide the "
            f"facility itself ({_e(label('same_time_delivery', 'zh'))}).</small></p>{need}")


def _programme(result: StudyResult, parcel: pd.Series) -> str:
    from siteplan.scoring.programme import programme_table

    rows = [f"<tr><td>{_both(key)}</td><td class=n>{_num(parcel.get(key), dec)}</td>"
            "<td></td><td></td></tr>"
            for key, dec in (("est_gfa_m2", 0), ("est_households", 0), ("est_residents", 0))
            if key in parcel.index]
    for item in programme_table(parcel, **result.study.programme.assumptions()):
        value = item["value"]
        rows.append(f"<tr><td>{_e(item['label_zh'])}<br><small>{_e(item['label_en'])}</small></td>"
                    f"<td class=n>{'–' if value is None else _e(f'{value:,}')} "
                    f"{_e(item['unit'])}</td><td>{_e(item['rule'])}</td>"
                    f"<td>{_e(item['clause'])}</td></tr>")
    basis = parcel.get("programme_basis")
    head = "".join(f"<th>{_both(k)}</th>" for k in ("item", "value", "rule", "source"))
    return (f"<table><tr>{head}</tr>{''.join(rows)}</table>"
            + ("" if _missing(basis) else
               f"<p><small>{_both('programme_basis')}: {_e(basis)}</small></p>"))


def _caveats(result: StudyResult, parcel: pd.Series) -> str:
    from siteplan.outputs.workbook import data_gaps

    notes = []
    if bool(parcel.get("excluded", False)) and not _missing(parcel.get("excluded")):
        notes.append(f"{label('excluded', 'both')}: "
                     f"{parcel.get('exclusion_reason_zh') or ''} {parcel.get('exclusion_reason') or ''}")
    for cls in result.study.compliance.radii:
        if _missing(parcel.get(f"dist_{cls}_m")):
            notes.append(f"{label(cls, 'both')}: none reachable within the search limit "
                         f"({result.study.network.search_limit_m:,.0f} m).")
    notes += data_gaps(result)
    return "<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"


def _robustness_facts(parcel: pd.Series) -> list[tuple[str, str]]:
    """P(top N) and the rank interval under varied weights, when the study asked for them."""
    tops = p_top_columns(parcel.index)
    if not tops or _missing(parcel.get(tops[0])) or _missing(parcel.get("rank_low")):
        return []
    return [(label(tops[0], "both"), f"{float(parcel[tops[0]]):.0%}"),
            (label("rank_interval", "both"),
             f"{int(parcel['rank_low'])} – {int(parcel['rank_high'])}")]


def _section(result: StudyResult, parcel: pd.Series, n_ranked: int, labels: Any,
             streets: Any) -> str:
    from siteplan.outputs.xlsx_layout import seed_classes_of

    study = result.study
    rank = parcel.get("rank")
    pid = parcel["parcel_id"]
    name = parcel.get("name")
    area = parcel.get("area_m2")
    if _missing(area):
        area = float(parcel.geometry.area)
    facts = [(label("rank", "both"), "–" if _missing(rank) else f"{int(rank)} / {n_ranked}"),
             (label("area_m2", "both"), _num(area, 0)),
             (label("area_ha", "both"), _num(float(area) / 1e4, 2)),
             (label("area_mu", "both"), _num(float(area) * 15 / 1e4, 2))]
    if "far" in parcel.index:
        facts.append((label("far", "both"), _num(parcel.get("far"), 2)))
    facts += _robustness_facts(parcel)
    fact_html = "".join(f"<span>{_e(k)}: <b>{_e(v)}</b></span>" for k, v in facts)
    seeds = seed_classes_of(pd.DataFrame(columns=list(parcel.index)))
    svg = parcel_svg(parcel, result.parcels, facilities=result.facilities,
                     catchments=result.catchments, streets=streets, classes=seeds,
                     labels=labels)
    title_name = "" if _missing(name) else f" · {_e(name)}"
    return f"""<section class="parcel" id="parcel-{_e(pid)}">
<h1>{_both('report_title')}</h1>
<div class="meta">{_e(study.study.name)}</div>
<div class="facts"><span class="score">{_num(parcel.get('score'), 1)}</span>
<span>{_e(label('parcel_id', 'both'))}: <b>{_e(pid)}</b>{title_name}</span>{fact_html}</div>
<h2>{_both('report_map')}</h2>{svg}
<h2>{_both('report_breakdown')}</h2>{_criteria_rows(result, parcel, labels)}
<h2>{_both('report_distances')}</h2>{_distance_rows(result, parcel, labels)}
<h2 class="p2">{_both('report_compliance')}</h2>{_compliance(result, parcel)}
<h2>{_both('report_programme')}</h2>{_programme(result, parcel)}
<h2>{_both('report_caveats')}</h2>{_caveats(result, parcel)}
<footer>siteplan {_e(__version__)} · {_e(dt.date.today().isoformat())} · {_e(OSM_CREDIT)}
</footer></section>"""


def choose_parcels(result: StudyResult, parcel_ids: Sequence[str] | None = None,
                   top_n: int | None = None) -> pd.DataFrame:
    """Return the parcels a report covers: those named, else the best ``top_n`` (10)."""
    if parcel_ids:
        ids = result.parcels["parcel_id"].astype(str)
        unknown = [p for p in parcel_ids if p not in set(ids)]
        if unknown:
            raise InputError(f"no parcel with id {', '.join(map(repr, unknown[:5]))} in the "
                             "study.", where="report",
                             fix="give ids from the shortlist's parcel_id column, or use --top.")
        order = {p: i for i, p in enumerate(parcel_ids)}
        chosen = result.parcels[ids.isin(order)]
        return chosen.iloc[ids[ids.isin(order)].map(order).argsort()]
    n = DEFAULT_TOP if top_n is None else top_n
    if n < 1:
        raise InputError(f"--top {n} asks for no parcel.", where="report",
                         fix="give --top 1 or more.")
    return result.ranked(n)


def report_html(result: StudyResult, parcel_ids: Sequence[str] | None = None,
                top_n: int | None = None) -> str:
    """Return the parcel report (地块评价报告) as one self-contained HTML page.

    Parameters
    ----------
    result
        A study run (:func:`siteplan.pipeline.run_study`).
    parcel_ids
        The parcels to report on, in this order; the best ``top_n`` when not given.
    top_n
        How many of the best-ranked parcels (10 when neither is given).

    Returns
    -------
    str
        The HTML: one A4 page per parcel, no script and no external resource.

    Raises
    ------
    InputError
        An id that is not a parcel of the study, or ``top_n`` below 1.
    """
    from siteplan.scoring.score import criterion_labels

    labels = criterion_labels(result.study)
    chosen = choose_parcels(result, parcel_ids, top_n)
    n_ranked = int(result.parcels["rank"].notna().sum()) if "rank" in result.parcels else 0
    streets = result.network.edges_gdf()
    sections = "".join(_section(result, row, n_ranked, labels, streets)
                       for _, row in chosen.iterrows())
    title = f"{label('report_title', 'zh')} / {label('report_title', 'en')}"
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f"<title>{_e(title)} · {_e(result.study.study.name)}</title>"
            f"<style>{_CSS}</style></head><body>{sections}</body></html>")


def find_chromium() -> str | None:
    """Return the headless browser used to print PDFs: ``$SITEPLAN_CHROMIUM``, else on PATH."""
    env = os.environ.get("SITEPLAN_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if (found := shutil.which(name)) is not None:
            return found
    return None


def print_pdf(html_path: str | Path, pdf_path: str | Path, chromium: str | None = None) -> Path:
    """Print an HTML file to PDF with headless Chromium (A4, as its CSS says).

    Raises :class:`PrintError` when no Chromium is found or it fails.
    """
    browser = chromium or find_chromium()
    if browser is None:
        raise PrintError("no Chromium to print the PDF with.", where="report",
                         fix="install it (`bash scripts/install_system_deps.sh` as root), set "
                             "SITEPLAN_CHROMIUM to its path, or use --no-pdf for the HTML alone.")
    pdf = Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory(prefix="siteplan-chromium-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={profile}", "--no-pdf-header-footer",
               "--print-to-pdf-no-header", f"--print-to-pdf={pdf}",
               Path(html_path).resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PrintError(f"Chromium could not print the PDF ({exc}).", where=browser,
                             fix="check that the browser starts (run it with its version option), "
                                 "or use --no-pdf.") from None
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        tail = (done.stderr or "").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise PrintError(f"Chromium did not print the PDF ({tail[0]}).", where=browser,
                         fix="check that the browser starts (run it with its version option), "
                             "or use --no-pdf.")
    return pdf


def parcel_report(result: StudyResult, out: str | Path | None = None, *,
                  parcel_ids: Sequence[str] | None = None, top_n: int | None = None,
                  pdf: bool = True, chromium: str | None = None) -> dict[str, Path]:
    """Write the parcel report (地块评价报告): ``parcel_report.html`` and ``.pdf``.

    Parameters
    ----------
    result
        A study run (:func:`siteplan.pipeline.run_study`).
    out
        Output folder; the study's ``outputs.folder`` by default.
    parcel_ids
        The parcels to report on, in this order; the best ``top_n`` when not given.
    top_n
        How many of the best-ranked parcels (10 when neither is given).
    pdf
        Also print the PDF through headless Chromium (:func:`print_pdf`).
    chromium
        The browser binary; ``$SITEPLAN_CHROMIUM`` or the one on PATH by default.

    Returns
    -------
    dict
        ``{"html": path, "pdf": path}`` of what was written (the two as one set).

    Raises
    ------
    InputError
        An unknown parcel id, or ``top_n`` below 1.
    PrintError
        ``pdf`` without a Chromium that prints.

    Examples
    --------
    >>> import tempfile, warnings
    >>> from siteplan import SiteplanWarning, load_study, parcel_report, run_study
    >>> with warnings.catch_warnings():  # one OSM polygon is invalid as mapped: repaired
    ...     warnings.simplefilter("ignore", SiteplanWarning)
    ...     result = run_study(load_study("data/taiyuan/study.toml"))
    >>> with tempfile.TemporaryDirectory() as out:
    ...     written = parcel_report(result, out, top_n=1, pdf=False)
    ...     page = written["html"].read_text(encoding="utf-8")
    >>> sorted(written), "地块评价报告" in page, "TY-0643" in page
    (['html'], True, True)
    """
    names = list(REPORT_FILES if pdf else REPORT_FILES[:1])
    plan = plan_outputs(Path(out) if out is not None else Path(result.study.outputs.folder),
                        names, inputs=result.study.input_files())
    text = report_html(result, parcel_ids, top_n)
    with staged_outputs(plan) as stage:
        page = stage / REPORT_FILES[0]
        page.write_text(text, encoding="utf-8")
        written = {"html": page}
        if pdf:
            written["pdf"] = print_pdf(page, stage / REPORT_FILES[1], chromium)
    return {kind: plan.path(path.name) for kind, path in written.items()}


__all__ = ["PrintError", "choose_parcels", "find_chromium", "parcel_report", "print_pdf",
           "report_html"]
