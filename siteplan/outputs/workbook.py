"""What the report-ready workbook says about a study run: its summary and its criteria.

:func:`summary_blocks` makes the *汇总 Summary* sheet (the study, its data sources, service
coverage per class, seed compliance counts, data gaps and the top parcels);
:func:`criteria_table` the *评价因子 Criteria* sheet, each transform worded in English and
中文; :func:`portable_path` keeps local folders out of a document that leaves the machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from siteplan.core.labels import OSM_CREDIT, label
from siteplan.outputs.xlsx_layout import Block

if TYPE_CHECKING:
    from siteplan.study.model import Study
    from siteplan.study.result import StudyResult

#: Units a raw value of each criterion kind is in, (English, 中文), for the worded transforms.
RAW_UNITS: dict[str, tuple[str, str]] = {"distance": (" m", "米"), "count": ("", "个")}
_OPS = {"<=": ("at most", "≤"), "<": ("below", "<"), ">=": ("at least", "≥"),
        ">": ("above", ">")}


def _g(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def transform_words(transform: Any, unit: tuple[str, str] = ("", "")) -> tuple[str, str]:
    """Word how a criterion turns its raw value into 0-100 points, in English and 中文.

    Examples
    --------
    >>> from siteplan.study.transforms import LinearTransform
    >>> en, zh = transform_words(LinearTransform(best=300, worst=800), (" m", "米"))
    >>> en
    '100 points at 300 m or better, falling linearly to 0 at 800 m'
    >>> zh
    '300米 得100分，线性递减至 800米 得0分'
    """
    u_en, u_zh = unit
    kind = transform.type
    if kind == "linear":
        better = "or better"
        return (f"100 points at {_g(transform.best)}{u_en} {better}, falling linearly to 0 at "
                f"{_g(transform.worst)}{u_en}",
                f"{_g(transform.best)}{u_zh} 得100分，线性递减至 {_g(transform.worst)}{u_zh} 得0分")
    if kind == "step":
        op_en, op_zh = _OPS[transform.op]
        en = "; ".join(f"{op_en} {_g(t)}{u_en}: {_g(p)} points" for t, p in transform.steps)
        zh = "；".join(f"{op_zh}{_g(t)}{u_zh} 得{_g(p)}分" for t, p in transform.steps)
        return (f"{en}; otherwise {_g(transform.otherwise)}",
                f"{zh}；其余 {_g(transform.otherwise)}分")
    if kind == "logistic":
        falling = transform.direction == "decreasing"
        return (f"S-curve: 50 points at {_g(transform.midpoint)}{u_en}, "
                f"{'fewer' if falling else 'more'} above it",
                f"S形曲线：{_g(transform.midpoint)}{u_zh} 得50分，"
                f"{'越大得分越低' if falling else '越大得分越高'}")
    if kind == "ideal":
        return (f"100 points from {_g(transform.low)} to {_g(transform.high)}{u_en}; 0 at "
                f"{_g(transform.zero_below)} and at {_g(transform.zero_above)}{u_en}",
                f"{_g(transform.low)}–{_g(transform.high)}{u_zh} 得100分；"
                f"{_g(transform.zero_below)} 及 {_g(transform.zero_above)}{u_zh} 得0分")
    return (f"yes: {_g(transform.true_points)} points, no: {_g(transform.false_points)}",
            f"是 {_g(transform.true_points)}分，否 {_g(transform.false_points)}分")


def criteria_table(study: Study) -> pd.DataFrame:
    """Return the criteria sheet: factor, class, weight, transform in words, source clause.

    One row per criterion in the study's order; ``weight_share`` is the normalised weight
    (direct or AHP) the score uses.
    """
    from siteplan.scoring.score import _transform_of, criterion_labels

    labels = criterion_labels(study)
    weights = study.weights_vector()
    rows = []
    for c in study.criteria:
        cls = c.facility_class
        en, zh = transform_words(_transform_of(study, c), RAW_UNITS.get(c.kind, ("", "")))
        rows.append({
            "factor": label(c.name, "en", labels), "factor_zh": label(c.name, "zh", labels),
            "class": label(cls, "both", labels) if cls else "",
            "weight_given": c.weight if c.weight is not None else float("nan"),
            "weight_share": weights[c.name], "transform_zh": zh, "transform_en": en,
            "source": c.source,
        })
    return pd.DataFrame(rows, columns=["factor_zh", "factor", "class", "weight_given",
                                       "weight_share", "transform_zh", "transform_en", "source"])


def portable_path(path: str | Path | None, base: str | Path | None) -> str:
    r"""Return ``path`` relative to ``base`` (the study's folder), else its file name alone.

    A document sent up carries no local folders (``/home/...``, ``C:\Users\...``).

    Examples
    --------
    >>> portable_path("/home/me/study/data/roads.gpkg", "/home/me/study")
    'data/roads.gpkg'
    >>> portable_path("/srv/shared/parcels.gpkg", "/home/me/study")
    'parcels.gpkg'
    """
    if path is None or str(path) == "":
        return ""
    p = Path(path)
    if base is not None and p.is_absolute():
        rel = os.path.relpath(p, base)
        if not rel.startswith(".."):
            return Path(rel).as_posix()
    return p.name if p.is_absolute() else p.as_posix()


def _sources(study: Study) -> pd.DataFrame:
    base = Path(study.source_path).parent if study.source_path else None
    inputs = study.inputs
    named: list[tuple[str, Any]] = [("streets", inputs.streets), ("facilities", inputs.facilities),
                                    ("residential", inputs.residential),
                                    ("entrances", inputs.entrances), ("parcels", inputs.parcels)]
    named += [(f"facilities ({layer.class_ or layer.class_column or ''})", layer)
              for layer in inputs.layers]
    named += [("hazards", layer) for layer in inputs.hazards]
    rows = [(kind, portable_path(src.path, base)) for kind, src in named if src is not None]
    rows += [(f"raster {name}", portable_path(path, base))
             for name, path in inputs.rasters.items()]
    if any("osm" in file.lower() for _, file in rows):
        rows.append(("credit", OSM_CREDIT))
    return pd.DataFrame(rows, columns=["input", "file"])


def data_gaps(result: StudyResult) -> list[str]:
    """List the data gaps a reader must know: thin layers, proxies, unreachable parcels."""
    from siteplan.facilities.rules import PROXY_CLASSES

    notes = [thin.message for thin in result.thin_layers]
    study = result.study
    for cls in study.facility_classes():
        if cls in PROXY_CLASSES:
            fc = study.classes.get(cls)
            notes.append(f"{label(cls, 'zh')} / {label(cls, 'en')}: "
                         f"{(fc.description if fc else '') or 'a labelled proxy, not real stops'}")
    n_unreachable = len(result.unreachable)
    if n_unreachable:
        notes.append(f"{n_unreachable} parcel(s) cannot reach the walking network "
                     f"({label('unreachable', 'zh')}); see the excluded sheet.")
    notes.append("Walking distances are measured along the street network of the input "
                 "streets (沿道路网络测算步行距离), not as the crow flies.")
    return notes


def summary_blocks(result: StudyResult, metadata: Mapping[str, Any],
                   top: pd.DataFrame) -> tuple[str, list[Block]]:
    """Return the summary sheet's title and blocks for a study run.

    Parameters
    ----------
    result
        The run.
    metadata
        The run metadata (:func:`siteplan.outputs.shortlist.study_run_metadata`).
    top
        The top parcels to list (rank order).

    Returns
    -------
    tuple
        ``(title, [Block, ...])`` for :func:`siteplan.outputs.xlsx.write_xlsx`.
    """
    from siteplan.scoring.compliance import compliance_counts
    from siteplan.study.result import bool_column

    study = result.study
    excluded = bool_column(result.parcels, "excluded")
    base = Path(study.source_path).parent if study.source_path else None
    facts = pd.DataFrame([
        ("study_name", study.study.name),
        ("description", study.study.description),
        ("created_utc", str(metadata.get("created_utc", ""))),
        ("siteplan_version", str(metadata.get("siteplan_version", ""))),
        ("study_file", portable_path(study.source_path, base)),
        ("crs", str(metadata.get("crs", ""))),
        ("parcels_ranked", int((~excluded).sum())),
        ("parcels_excluded", int(excluded.sum())),
    ], columns=["key", "value"])
    cov_cols = ["class", "radius_m", "n_units", "n_units_served", "units_served_share",
                "residents_served_share"]
    coverage = result.coverage[[c for c in cov_cols if c in result.coverage.columns]].copy()
    coverage["class"] = [label(str(c), "both") for c in coverage["class"]]
    counts = compliance_counts(result.parcels, study.compliance.radii)
    counts = counts[["rule", "radius_m", "n_parcels", "n_meeting", "share_meeting"]].copy()
    counts["rule"] = [label("compliance_all", "both") if r == "all" else label(str(r), "both")
                      for r in counts["rule"]]
    top_cols = ["rank", "parcel_id", "name", "score", "compliant_all", "compliance_required_zh"]
    blocks = [
        Block("summary_study", facts, header=False),
        Block("summary_sources", _sources(study)),
        Block("summary_coverage", coverage.reset_index(drop=True)),
        Block("summary_compliance", counts.reset_index(drop=True)),
        Block("summary_gaps", pd.DataFrame({"reason": data_gaps(result)})),
        Block("summary_top", top[[c for c in top_cols if c in top.columns]]
              .reset_index(drop=True)),
    ]
    return f"{label('sheet_summary', 'zh')} / {label('sheet_summary', 'en')}: " \
           f"{study.study.name}", blocks


def study_sheets(result: StudyResult) -> dict[str, pd.DataFrame]:
    """Return the extra sheets of a study run's workbook, in order: criteria first."""
    from siteplan.scoring.compliance import compliance_counts

    sheets = {"sheet_criteria": criteria_table(result.study),
              "sheet_compliance": compliance_counts(result.parcels,
                                                    result.study.compliance.radii),
              "sheet_coverage": result.coverage}
    if result.facilities_report is not None:
        sheets["sheet_facilities_report"] = result.facilities_report.drop(columns="geometry")
    return sheets


def portable_metadata(rows: Sequence[tuple[str, str]],
                      config_path: str | None) -> list[tuple[str, str]]:
    """Return metadata rows with every path made portable (:func:`portable_path`)."""
    base = Path(config_path).parent if config_path else None
    return [(key, portable_path(value, base)
             if value and (key.endswith("path") or key.startswith("command_line[")
                           and Path(value).is_absolute()) else value)
            for key, value in rows]


__all__ = ["RAW_UNITS", "criteria_table", "data_gaps", "portable_metadata", "portable_path", "study_sheets",
           "summary_blocks", "transform_words"]
