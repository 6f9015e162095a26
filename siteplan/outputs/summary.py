"""The plain-text run summary ``siteplan run`` and ``siteplan demo`` print."""

from __future__ import annotations

import numpy as np
import pandas as pd

from siteplan.core.columns import distance_column
from siteplan.core.defaults import SEED_SOURCE
from siteplan.scoring.compliance import compliance_counts, compliance_lines
from siteplan.study.result import StudyResult


def _pct(x: object) -> str:
    return "n/a" if pd.isna(x) else f"{100 * float(x):.1f} %"  # type: ignore[arg-type]


def coverage_lines(coverage: pd.DataFrame) -> list[str]:
    """Describe a service coverage table in one line per class (the run summary's words).

    Served units first (residential areas, their area and residents, estimated or counted),
    then the street-frontage land share, labelled as such; a table without served units (from
    :func:`siteplan.access.coverage.coverage`) gives the frontage figures alone.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"class": ["kindergarten"], "radius_m": [300.0], "n_units": [76],
    ...                       "n_units_served": [3], "area_served_share": [0.031],
    ...                       "residents_served_share": [0.031], "residents_estimated": [True],
    ...                       "covered_land_share_frontage": [0.005]})
    >>> print(coverage_lines(table)[0])
    Coverage kindergarten (300 m): 3 of 76 residential areas served (3.9 %), 3.1 % of residential area, 3.1 % of residents (estimated); street-frontage land 0.5 %
    """
    lines = []
    for row in coverage.to_dict("records"):
        head = f"Coverage {row['class']} ({row['radius_m']:g} m): "
        parts = []
        if "n_units" in row:
            n, k = int(row["n_units"]), int(row["n_units_served"])
            parts.append(f"{k:,} of {n:,} residential areas served "
                         f"({_pct(k / n if n else np.nan)}), "
                         f"{_pct(row.get('area_served_share'))} of residential area")
            if "residents_served_share" in row:
                how = " (estimated)" if row.get("residents_estimated") else ""
                parts[-1] += f", {_pct(row['residents_served_share'])} of residents{how}"
        if "places_per_1000" in row and pd.notna(row["places_per_1000"]):
            parts.append(f"{row['places_per_1000']:.1f} places per 1,000 residents")
        land = row.get("covered_land_share_frontage", row.get("covered_share"))
        if land is not None:
            parts.append(f"street-frontage land {_pct(land)}")
        lines.append(head + "; ".join(parts))
    return lines


def summary_text(result: StudyResult, top: int = 10) -> str:
    """Return a short plain-text report: network, facilities, coverage, compliance, best parcels.

    Parameters
    ----------
    result
        What :func:`siteplan.pipeline.run_study` returned.
    top
        How many of the best-ranked parcels are listed.

    Returns
    -------
    str
        The report, one line per item (what ``siteplan run`` prints).

    Examples
    --------
    >>> import warnings
    >>> from siteplan import SiteplanWarning, Study, run_study, summary_text
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
    >>> print(summary_text(result, top=2))
    Study: Taiyuan: primary schools
    data/taiyuan/taiyuan_osm_lines.geojson: 5,896 nodes, 8,359 edges, ...
      walk profile china-walk: 227 elevated or expressway line(s) (108.1 km) not walkable
      coincident nodes: 0 merged, 18 kept apart (10 bridge, 3 tunnel, 5 layer)
    Facilities: bus_stop 15, elderly_care 1, ..., primary_school 19
    Unclassified schools: 4 (see the report)
    Parcels: 1328 (19 excluded, 19 cannot reach the network)
    Coverage kindergarten (300 m): ...
    Seed compliance (好房子 三(二)8, walking distance along streets):
      kindergarten within 300 m: ...
      all three: ...
    Top 2 parcels:
        1  TY-0045  score 100.0
        2  TY-0093  score 100.0
    """
    net = result.network
    lines = [f"Study: {result.study.study.name}", net.summary()]
    counts = result.facilities["class"].value_counts().sort_index()
    lines.append("Facilities: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    if len(result.unclassified):
        lines.append(f"Unclassified schools: {len(result.unclassified)} (see the report)")
    lines += [f"Data gap: {thin.message}" for thin in result.thin_layers]
    n_unreach = int((result.unreachable["kind"] == "target").sum())
    excluded = int(result.parcels["excluded"].astype(bool).sum())
    lines.append(f"Parcels: {len(result.parcels)} ({excluded} excluded, {n_unreach} cannot "
                 "reach the network)")
    lines.extend(coverage_lines(result.coverage))
    if all(distance_column(c) in result.parcels for c in result.study.compliance.radii):
        lines.append(f"Seed compliance ({SEED_SOURCE}, walking distance along streets):")
        lines.extend(compliance_lines(compliance_counts(result.parcels,
                                                        result.study.compliance.radii)))
    best = result.ranked(top)
    lines.append(f"Top {len(best)} parcels:")
    for row in best.itertuples(index=False):
        lines.append(f"  {int(row.rank):>3}  {row.parcel_id}  score {row.score:.1f}")
    return "\n".join(lines)


__all__ = ["coverage_lines", "summary_text"]
