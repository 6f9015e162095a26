"""The run summary the commands print: tables with units, in the language of the command line.

The study's facts in lines (network, facilities, parcels, data gaps), then the service coverage
per class, the seed compliance counts and the best parcels as tables whose headers carry their
units (m, %).  :func:`siteplan.outputs.summary.summary_text` stays the plain-English summary of
the Python API.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from siteplan.core.columns import distance_column
from siteplan.core.defaults import SEED_SOURCE
from siteplan.core.i18n import _, language, pgettext
from siteplan.core.labels import label

if TYPE_CHECKING:
    import pandas as pd

    from siteplan.study.result import CatchmentResult, StudyResult


def show(parts: list[RenderableType]) -> None:
    """Print a summary on stdout (results go there, so that scripts can capture them).

    Lines of text are never wrapped (a path stays whole); tables fit the terminal, or 140
    columns when stdout is not one (a pipe, a file, a test).
    """
    console = Console(file=sys.stdout, highlight=False,
                      width=None if sys.stdout.isatty() else 140)
    for part in parts:
        console.print(part, soft_wrap=isinstance(part, Text))


def _pct(x: Any) -> str:
    """Show a share as a percentage (the % is in the column header); ``–`` when unknown."""
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def class_name(cls: str) -> str:
    """Name a facility class in the current language (幼儿园 / kindergarten)."""
    return label(cls, language())


def coverage_table(coverage: pd.DataFrame) -> Table:
    """Tabulate service coverage: one row per class, the units in the headers.

    Served units first (residential areas, their land and residents, estimated or counted),
    then places per 1,000 residents and the street-frontage land share, when the table has them.
    """
    table = Table(title=_("Service coverage (walking distance along streets)"))
    table.add_column(_("facility"))
    table.add_column(_("radius (m)"), justify="right")
    cols = set(coverage.columns)
    units = "n_units" in cols
    if units:
        table.add_column(_("areas served"), justify="right")
        table.add_column(_("areas (%)"), justify="right")
        table.add_column(_("residential land (%)"), justify="right")
    residents = "residents_served_share" in cols
    if residents:
        table.add_column(_("residents (%)"), justify="right")
    places = "places_per_1000" in cols and bool(coverage["places_per_1000"].notna().any())
    if places:
        table.add_column(_("places per 1,000 residents"), justify="right")
    land_col = "covered_land_share_frontage" if "covered_land_share_frontage" in cols else \
        "covered_share" if "covered_share" in cols else None
    if land_col:
        table.add_column(_("frontage land (%)"), justify="right")
    estimated = False
    for row in coverage.to_dict("records"):
        cells = [class_name(str(row["class"])), f"{row['radius_m']:g}"]
        if units:
            n, k = int(row["n_units"]), int(row["n_units_served"])
            cells += [_("{k:,} of {n:,}").format(k=k, n=n), _pct(k / n if n else math.nan),
                      _pct(row.get("area_served_share"))]
        if residents:
            mark = "*" if row.get("residents_estimated") else ""
            estimated = estimated or bool(mark)
            cells.append(_pct(row["residents_served_share"]) + mark)
        if places:
            value = row.get("places_per_1000")
            cells.append("–" if value is None or value != value else f"{value:.1f}")
        if land_col:
            cells.append(_pct(row.get(land_col)))
        table.add_row(*cells)
    if estimated:
        table.caption = _("* residents estimated, not counted (coverage.csv: residents_basis)")
    return table


def compliance_table(counts: pd.DataFrame) -> Table:
    """Tabulate the seed compliance counts: parcels within each walking radius, and all of them."""
    # Wide enough for the title on one line (Chinese characters take two columns each).
    table = Table(title=_("Seed compliance ({source}, walking distance along streets)").format(
        source=SEED_SOURCE), min_width=72)
    table.add_column(_("facility"))
    table.add_column(_("radius (m)"), justify="right")
    table.add_column(_("parcels within"), justify="right")
    table.add_column(_("share (%)"), justify="right")
    rules = counts[counts["rule"] != "all"]
    for row in rules.itertuples(index=False):
        table.add_row(class_name(str(row.rule)), f"{row.radius_m:g}",
                      _("{k:,} of {n:,}").format(k=row.n_meeting, n=row.n_parcels),
                      _pct(row.share_meeting))
    every = counts[counts["rule"] == "all"].iloc[0]
    table.add_row(_("all of them"), "",
                  _("{k:,} of {n:,}").format(k=every["n_meeting"], n=every["n_parcels"]),
                  _pct(every["share_meeting"]))
    table.caption = _("Parcels not excluded: {k:,} of {n:,} meet all ({share} %).").format(
        k=every["n_candidates_meeting"], n=every["n_candidates"],
        share=_pct(every["share_candidates_meeting"]))
    return table


def top_table(best: pd.DataFrame) -> Table:
    """Tabulate the best-ranked parcels."""
    table = Table(title=_("Top {n} parcels").format(n=len(best)))
    table.add_column(_("rank"), justify="right")
    table.add_column(_("parcel"))
    table.add_column(_("score (0–100)"), justify="right")
    for row in best.itertuples(index=False):
        table.add_row(str(int(row.rank)), str(row.parcel_id), f"{row.score:.1f}")
    return table


def _facts(result: StudyResult | CatchmentResult) -> list[str]:
    """Describe the study, its network, facilities and data gaps, one line each."""
    lines = [_("Study: {name}").format(name=result.study.study.name),
             result.network.summary()]
    counts = result.facilities["class"].value_counts().sort_index()
    lines.append(_("Facilities: {counts}").format(counts=_(", ").join(
        _("{name} {n:,}").format(name=class_name(str(c)), n=int(n)) for c, n in counts.items())))
    lines += [_("Data gap: {message}").format(message=thin.message)
              for thin in getattr(result, "thin_layers", [])]
    return lines


def run_summary(result: StudyResult, top: int = 10) -> list[RenderableType]:
    """Summarise a run: facts in lines, then coverage, compliance and the best parcels as tables.

    Parameters
    ----------
    result
        What :func:`siteplan.pipeline.run_study` returned.
    top
        How many of the best-ranked parcels are listed.

    Returns
    -------
    list of rich renderables
        What ``siteplan run`` prints (:func:`show`).
    """
    lines = _facts(result)
    if len(result.unclassified):
        lines.append(_("Unclassified schools: {n:,} (see the facilities report)").format(
            n=len(result.unclassified)))
    n_unreach = int((result.unreachable["kind"] == "target").sum())
    excluded = int(result.parcels["excluded"].astype(bool).sum())
    lines.append(_("Parcels: {n:,} ({excluded:,} excluded, {unreachable:,} cannot reach the "
                   "network)").format(n=len(result.parcels), excluded=excluded,
                                      unreachable=n_unreach))
    parts: list[RenderableType] = [Text("\n".join(lines)), coverage_table(result.coverage)]
    radii = result.study.compliance.radii
    if all(distance_column(c) in result.parcels for c in radii):
        from siteplan.scoring.compliance import compliance_counts

        parts.append(compliance_table(compliance_counts(result.parcels, radii)))
    parts.append(top_table(result.ranked(top)))
    return parts


def catchments_summary(result: CatchmentResult) -> list[RenderableType]:
    """Summarise a catchments run: the facts in lines, then the coverage table."""
    return [Text("\n".join(_facts(result))), coverage_table(result.coverage)]


def _class_word(cls: str) -> str:
    """Name a class inside a sentence: its id in English (as the study writes it), else the label."""
    return cls if language() == "en" else class_name(cls)


def _solver_word(word: str) -> str:
    """Name a siting method or solver status in the current language (as written if unknown)."""
    return {"greedy": pgettext("siting", "greedy"), "exact": pgettext("siting", "exact"),
            "optimal": pgettext("siting", "optimal"),
            "time_limit": pgettext("siting", "time_limit"),
            "no_gain": pgettext("siting", "no_gain")}.get(word, word)


def _siting_line(r: dict[str, Any], frontage_m: float) -> str:
    """Describe one method's coverage before and after its new sites."""
    solver = _solver_word(str(r["status"]))
    if r["method"] != "greedy" and r["gap"] == r["gap"]:  # NaN-safe: no gap, no text
        unit = _(" in sites") if r.get("bound_unit") == "sites" else ""
        solver += _(", gap {gap:.2%}").format(gap=r["gap"]) + unit
    lost = r["unreachable"] / r["demand_total"]
    if r.get("measure", "units") == "units":
        what = _("residents") if r["weight"] == "residents" else \
            _("the demand ({weight})").format(weight=r["weight"])
        tail = _(" ({before:,} and {after:,} of {n:,} units served); {lost:.1%} is in units no "
                 "candidate serves (none within the radius of their entrances).").format(
            before=int(r["n_served_before"]), after=int(r["n_served_after"]),
            n=int(r["n_units"]), lost=lost)
    else:
        what = _("the demand")
        tail = _("; {lost:.1%} lies beyond every catchment (farther than {frontage:g} m from the "
                 "streets any site reaches; the study's catchments.frontage_m).").format(
            lost=lost, frontage=frontage_m)
    return _("{method} ({solver}): {cls} within {radius:g} m covers {before:.1%} of {what} now, "
             "{after:.1%} with {k} new site(s)").format(
        method=_solver_word(str(r["method"])), solver=solver, cls=_class_word(str(r["class"])),
        radius=r["radius_m"], before=r["share_before"], what=what, after=r["share_after"],
        k=r["k"]) + tail


def siting_summary(coverage: pd.DataFrame, sites: pd.DataFrame,
                   frontage_m: float) -> list[RenderableType]:
    """Describe coverage before/after per method, then the proposed sites in order (a table)."""
    lines = [_siting_line(r, frontage_m) for r in coverage.to_dict("records")]
    table = Table(title=_("Proposed sites"))
    for header in (_("method"), _("rank"), _("site"), _("added coverage (%)"),
                   _("cumulative coverage (%)"), _("longitude (°)"), _("latitude (°)")):
        table.add_column(header, justify="left" if header in (_("method"), _("site")) else
                         "right")
    for s in sites.itertuples(index=False):
        table.add_row(_solver_word(str(s.method)), str(s.rank), str(s.site_id), f"{100 * s.marginal_share:.2f}",
                      f"{100 * s.cumulative_share:.2f}", f"{s.lon:.6f}", f"{s.lat:.6f}")
    return [Text("\n".join(lines)), table]


def written(kind: str, path: object) -> str:
    """Say where an output was written (``csv: out/shortlist.csv``)."""
    return _("{kind}: {path}").format(kind=kind, path=path)


__all__ = ["catchments_summary", "class_name", "compliance_table", "coverage_table",
           "run_summary", "show", "siting_summary", "top_table", "written"]
