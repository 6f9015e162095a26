"""The plain-text run summary ``siteplan run`` and ``siteplan demo`` print."""

from __future__ import annotations

import numpy as np
import pandas as pd

from siteplan.study.result import StudyResult


def summary_text(result: StudyResult, top: int = 10) -> str:
    """Return a short plain-text report: network, facilities, coverage and the best parcels.

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
    for row in result.coverage.itertuples(index=False):
        share = "n/a" if pd.isna(row.covered_share) else f"{100 * row.covered_share:.1f} %"
        text = f"Coverage {row[0]} ({row.radius_m:g} m): {share} of residential land"
        front = getattr(row, "covered_share_of_frontage", np.nan)
        if pd.notna(front):
            text += f", {100 * front:.1f} % of its street frontage"
        lines.append(text)
    best = result.ranked(top)
    lines.append(f"Top {len(best)} parcels:")
    for row in best.itertuples(index=False):
        lines.append(f"  {int(row.rank):>3}  {row.parcel_id}  score {row.score:.1f}")
    return "\n".join(lines)


__all__ = ["summary_text"]
