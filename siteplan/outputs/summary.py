"""The plain-text run summary ``siteplan run`` and ``siteplan demo`` print."""

from __future__ import annotations

import numpy as np
import pandas as pd

from siteplan.study.result import StudyResult


def summary_text(result: StudyResult, top: int = 10) -> str:
    """A short plain-text report: network, facilities, coverage and the best parcels."""
    net = result.network
    lines = [f"Study: {result.study.study.name}", net.summary()]
    counts = result.facilities["class"].value_counts().sort_index()
    lines.append("Facilities: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    if len(result.unclassified):
        lines.append(f"Unclassified schools: {len(result.unclassified)} (see the report)")
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
