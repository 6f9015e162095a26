"""A province as a batch: every city's coverage and compliance in one table, and one index map.

When the studies of a batch return their coverage tables and seed compliance counts (as
:func:`siteplan.pipeline.run_study_file` does), :func:`write_province_outputs` writes beside the
batch summary:

- ``province_coverage.csv``: one row per city and facility class (served units, residents and
  area served, the frontage measure), the city's own coverage table with ``study`` and
  ``study_name`` in front;
- ``province_compliance.csv``: one row per city and seed rule (``all`` included): parcels and
  candidate parcels meeting it;
- ``province_map.html``: one map of the cities' parcel extents, each shaded by its share of
  parcels meeting every seed rule and linking to the city's own map; failed cities are listed
  under it with the reason.  Plain SVG in one HTML file: no network, no script.

A failed city has no rows and does not stop the others.  The tables follow the study order
only, so a cluster run writes the same bytes as a serial one.
"""

from __future__ import annotations

import html
import math
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from siteplan.core.atomic import write_bytes_atomic
from siteplan.outputs.batch_report import StudyOutcome, _relative
from siteplan.outputs.shortlist import shortlist_csv_bytes

MAP_WIDTH_PX = 900
MAP_MARGIN_PX = 24


def province_table(outcomes: Sequence[StudyOutcome], kind: str) -> pd.DataFrame:
    """Stack the ``coverage`` or ``compliance`` tables of the successful studies.

    Parameters
    ----------
    outcomes
        The batch's outcomes in study order.
    kind
        ``"coverage"`` or ``"compliance"``.

    Returns
    -------
    pandas.DataFrame
        ``study`` (the output folder), ``study_name``, then the study's own table; empty
        when no study gave one.

    Examples
    --------
    >>> import pandas as pd
    >>> from siteplan.outputs.batch_report import StudyOutcome, _relative
    >>> from siteplan.outputs.province import province_table
    >>> cov = pd.DataFrame({"class": ["kindergarten"], "units_served_share": [0.5]})
    >>> done = StudyOutcome(index=0, study_file="a.toml", folder="a", name="太原",
    ...                     coverage=cov)
    >>> failed = StudyOutcome(index=1, study_file="b.toml", folder="b", error="no parcels")
    >>> province_table([done, failed], "coverage").values.tolist()
    [['a', '太原', 'kindergarten', 0.5]]
    """
    frames = [getattr(o, kind).assign(study=o.folder, study_name=o.name or o.folder)
              for o in outcomes if o.ok and isinstance(getattr(o, kind), pd.DataFrame)]
    if not frames:
        return pd.DataFrame({"study": pd.Series([], dtype="str"),
                             "study_name": pd.Series([], dtype="str")})
    table = pd.concat(frames, ignore_index=True)
    return table[["study", "study_name", *[c for c in table.columns
                                           if c not in ("study", "study_name")]]]


def _share_all(o: StudyOutcome) -> float:
    table = o.compliance
    if table is None or "rule" not in table or not (table["rule"] == "all").any():
        return math.nan
    return float(table.loc[table["rule"] == "all", "share_meeting"].iloc[0])


def _colour(share: float) -> str:
    """Red (none meet every rule) to green (all do); grey without a figure."""
    if not np.isfinite(share):
        return "#bbbbbb"
    s = min(max(share, 0.0), 1.0)
    return f"#{round(215 - 180 * s):02x}{round(48 + 130 * s):02x}{round(39 + 30 * s):02x}"


def province_map_html(outcomes: Sequence[StudyOutcome], out_dir: Path) -> str:
    """Return the index map page: each city's parcel extent, shaded, linked to its map.

    Every text is HTML-escaped and every link relative to ``out_dir``.
    """
    esc = html.escape
    placed = [o for o in outcomes if o.ok and o.extent is not None
              and all(math.isfinite(v) for v in o.extent)]
    shapes = []
    height = MAP_WIDTH_PX // 2
    if placed:
        ext = np.array([o.extent for o in placed], dtype=float)
        west, south = ext[:, 0].min(), ext[:, 1].min()
        east, north = ext[:, 2].max(), ext[:, 3].max()
        kx = math.cos(math.radians((south + north) / 2))  # equirectangular at mid-latitude
        span = max((east - west) * kx, north - south, 1e-6)
        scale = (MAP_WIDTH_PX - 2 * MAP_MARGIN_PX) / span
        height = round((north - south) * scale) + 2 * MAP_MARGIN_PX
        for o in placed:
            w, s, e, n = o.extent  # type: ignore[misc]
            x, y = MAP_MARGIN_PX + (w - west) * kx * scale, MAP_MARGIN_PX + (north - n) * scale
            wd, ht = max((e - w) * kx * scale, 3.0), max((n - s) * scale, 3.0)
            share = _share_all(o)
            title = f"{o.name or o.folder}: " + (
                f"{share:.0%} of parcels meet every seed rule 满足全部配套要求"
                if math.isfinite(share) else "no compliance figure")
            rect = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{wd:.1f}" height="{ht:.1f}" '
                    f'fill="{_colour(share)}" fill-opacity="0.75" stroke="#333">'
                    f"<title>{esc(title)}</title></rect>"
                    f'<text x="{x + 3:.1f}" y="{y + 14:.1f}" font-size="12">'
                    f"{esc(o.name or o.folder)}</text>")
            rel = _relative(o.map_html, out_dir)
            if rel is not None and not rel.startswith("file:"):
                rel = urllib.parse.quote(rel, safe="/")
            shapes.append(f'<a href="{esc(rel)}">{rect}</a>' if rel else rect)
    failed = [f"<li>{esc(o.name or o.folder)}: {esc(o.error or '')}</li>"
              for o in outcomes if not o.ok]
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        "<title>siteplan — 全省索引图 Province map</title>\n</head>\n<body>\n"
        "<h1>全省索引图 / Province map</h1>\n"
        f"<p>{len(placed)} cities on the map 个城市; shade: share of parcels meeting every "
        "seed rule 满足全部配套要求的地块比例 (red 0 % – green 100 %). Tables 表: "
        '<a href="province_coverage.csv">province_coverage.csv</a> · '
        '<a href="province_compliance.csv">province_compliance.csv</a></p>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{MAP_WIDTH_PX}" height="{height}" '
        f'viewBox="0 0 {MAP_WIDTH_PX} {height}" style="border:1px solid #ccc">\n'
        + "\n".join(shapes) + "\n</svg>\n"
        + (f"<h2>Failed 失败</h2>\n<ul>\n{chr(10).join(failed)}\n</ul>\n" if failed else "")
        + "</body>\n</html>\n")


def write_province_outputs(outcomes: Sequence[StudyOutcome], out_dir: Path) -> dict[str, Path]:
    """Write the province tables and index map into ``out_dir`` (each atomically).

    Nothing is written when no study gave a coverage table (a runner of top parcels only).

    Parameters
    ----------
    outcomes
        The batch's outcomes in study order.
    out_dir
        The batch's output folder.

    Returns
    -------
    dict of str to pathlib.Path
        ``province_coverage_csv``, ``province_compliance_csv``, ``province_map_html``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> from siteplan.outputs.batch_report import StudyOutcome, _relative
    >>> from siteplan.outputs.province import write_province_outputs
    >>> comp = pd.DataFrame({"rule": ["all"], "n_meeting": [3], "share_meeting": [0.3]})
    >>> city = StudyOutcome(index=0, study_file="a.toml", folder="a", name="太原",
    ...                     coverage=pd.DataFrame({"class": ["park"]}), compliance=comp,
    ...                     extent=(112.5, 37.8, 112.6, 37.9))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     sorted(write_province_outputs([city], Path(tmp)))
    ['province_compliance_csv', 'province_coverage_csv', 'province_map_html']
    """
    if not any(o.ok and o.coverage is not None for o in outcomes):
        return {}
    files = {}
    for kind in ("coverage", "compliance"):
        files[f"province_{kind}_csv"] = write_bytes_atomic(
            out_dir / f"province_{kind}.csv",
            shortlist_csv_bytes(province_table(outcomes, kind)))
    files["province_map_html"] = write_bytes_atomic(
        out_dir / "province_map.html", province_map_html(outcomes, out_dir).encode("utf-8"))
    return files


__all__ = ["province_map_html", "province_table", "write_province_outputs"]
