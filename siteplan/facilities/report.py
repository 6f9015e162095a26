"""The facilities report: every school or health feature that did not become a facility, and why.

A school that the rules leave unclassified (no level in its name or tags) or keep out (a
vocational school, a university), a health feature that is not a hospital or clinic (a
pharmacy, a disease-control centre): each is a row of the ``facilities_report`` layer of the
GeoPackage and of its XLSX sheet, with its id, name, tags and the reason, so that a user can
see what the counts leave out and add a bureau layer or a rule where the data is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from siteplan.core.tags import parse_hstore
from siteplan.facilities.rules import Rule

#: The columns of the report besides the geometry.
REPORT_COLUMNS: tuple[str, ...] = ("facility_id", "name", "group", "tags", "reason")
#: Columns that are not tags (ids, geometry, what classification adds).
_NOT_TAGS = {"osm_id", "osm_way_id", "osm_type", "geometry", "other_tags", "z_order",
             "facility_id", "class", "source", "matched_by", "merged_ids"}
_DEFAULT_REASON = {
    "school": "no level in the name and no level tag (isced:level / school:level / grades)",
    "health": "not a hospital or clinic by its tags or name (a pharmacy, laboratory...)",
}


def tag_text(features: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """Return the tags of some features as ``key=value; key=value`` text (for the report).

    Parameters
    ----------
    features
        Features with tag columns and/or an hstore ``other_tags``.
    rows
        Positions of the rows to describe (the report has a few hundred at most).

    Returns
    -------
    list of str
        One text per row, tags in column order, then ``other_tags``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"amenity": ["school"], "name": ["育才"],
    ...                       "other_tags": ['"grades"=>"1-9"']})
    >>> tag_text(frame, np.array([0]))
    ['amenity=school; name=育才; grades=1-9']
    """
    columns = [c for c in features.columns if c not in _NOT_TAGS]
    values = features[columns].iloc[rows].astype("string") if columns else None
    hstores = (features["other_tags"].iloc[rows].tolist() if "other_tags" in features.columns
               else [None] * len(rows))
    out = []
    for i in range(len(rows)):
        parts = []
        if values is not None:
            row = values.iloc[i]
            parts = [f"{k}={v}" for k, v in row.items() if pd.notna(v) and str(v) != ""]
        parts += [f"{k}={v}" for k, v in parse_hstore(hstores[i]).items()]
        out.append("; ".join(parts))
    return out


def facilities_report(
    rules: Sequence[Rule],
    keep: np.ndarray,
    in_group: Mapping[str, np.ndarray],
    features: gpd.GeoDataFrame,
    names: pd.Series,
    ids: pd.Series,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Return the features of each group's scope that got no class of that group.

    Parameters
    ----------
    rules
        The rules table.
    keep
        ``(R, N)``: which rules count for which feature (after ranking).
    in_group
        ``{group: (N,) mask}``: the features each group reports on (schools, health).
    features, names, ids
        The features (reset index), their names and ids.

    Returns
    -------
    report, rows
        :data:`REPORT_COLUMNS` and geometry (input CRS), one row per feature and group (the
        reason is the note of every class-less rule that kept the feature out, else what is
        missing), and the position of each row's feature in ``features``.
    """
    frames = []
    for group, scope in in_group.items():
        mine = np.array([rule.group == group for rule in rules])
        has_class = np.array([bool(rule.classes) for rule in rules])
        classified = keep[mine & has_class].any(axis=0)
        pick = np.flatnonzero(scope & ~classified)
        excluded = keep[mine & ~has_class]
        notes = [r.note for r, m, h in zip(rules, mine, has_class, strict=True) if m and not h]
        reasons = []
        for i in pick.tolist():
            hit = [notes[r] for r in np.flatnonzero(excluded[:, i])]
            if hit:
                reasons.append("; ".join(hit))
            elif group == "school" and pd.isna(names.iloc[i]):
                reasons.append("no name and no level tag (isced:level / school:level / grades)")
            else:
                reasons.append(_DEFAULT_REASON.get(group, "no rule gives it a class"))
        frames.append(pd.DataFrame({
            "row": pick,
            "facility_id": ids.to_numpy()[pick],
            "name": names.to_numpy()[pick],
            "group": group,
            "tags": tag_text(features, pick),
            "reason": reasons,
        }))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"row": pd.Series([], dtype=np.int64)})
    rows = table["row"].to_numpy(dtype=np.int64)
    out = gpd.GeoDataFrame(
        {c: pd.array(table[c].tolist() if c in table else [], dtype="string")
         for c in REPORT_COLUMNS},
        geometry=np.asarray(features.geometry.values, dtype=object)[rows],
        crs=features.crs,
    )
    return out, rows


def empty_report(crs: object) -> gpd.GeoDataFrame:
    """Return a report with no rows (a municipal layer declares its classes)."""
    return gpd.GeoDataFrame({c: pd.array([], dtype="string") for c in REPORT_COLUMNS},
                            geometry=gpd.GeoSeries([], crs=crs), crs=crs)


__all__ = ["REPORT_COLUMNS", "empty_report", "facilities_report", "tag_text"]
