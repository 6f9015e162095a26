"""Hard constraints: which parcels a study excludes, and why, in English and 中文.

Each ``[[constraints]]`` entry compares a criterion's raw value, a parcel column or a shape
measure with a value, or is a builtin (``unreachable``, ``inside_hazard``).
:func:`apply_constraints` gives ``excluded``, ``exclusion_reason`` and ``exclusion_reason_zh``;
reasons name the value that triggered them (``Slope (percent): 31.2 > 25``) unless the study
words them itself.  Excluded parcels stay in the output: the scorer never drops rows.

A missing (NaN) value is never silently passed: a walking distance or time that is NaN (nothing
reachable within ``[network] search_limit_m``) compares as +infinity, so ``distance > 1000``
excludes a parcel with no kindergarten within the limit; any other missing value (a slope off
the DEM, a blank attribute) is unknown and excludes the parcel unless the constraint says
``missing = "keep"`` (see :class:`siteplan.study.criteria.Constraint`).

A parcel that cannot reach the street network at all is excluded whenever the score uses
walking access, with or without ``builtin = "unreachable"``: its access is unknown, and scoring
it 0 would rank it as if it had been measured (:func:`unreachable_always`).
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.labels import label
from siteplan.io.layers import read_input
from siteplan.parcels.load import DEFAULT_ALIASES, parse_bool
from siteplan.parcels.shapes import metric_geometries, shape_measure
from siteplan.scoring.criteria import criterion_labels, numeric_values, parcel_column
from siteplan.study.criteria import Constraint, NetworkCriterion

if TYPE_CHECKING:
    from siteplan.study.model import Study

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


def hazard_frame(frames: Sequence[gpd.GeoDataFrame], crs: Any) -> gpd.GeoDataFrame:
    """Join hazard layers into one frame of their geometries in ``crs``."""
    geoms = [np.asarray(f.to_crs(crs).geometry.values, dtype=object) for f in frames]
    return gpd.GeoDataFrame(geometry=np.concatenate(geoms) if geoms else [], crs=crs)


def hazard_hits(parcels: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame) -> np.ndarray:
    """Flag the parcels whose interior overlaps a hazard polygon.

    Parameters
    ----------
    parcels
        Parcel polygons with a CRS.
    hazards
        Hazard polygons (:func:`hazard_frame`), in any CRS.

    Returns
    -------
    numpy.ndarray
        One bool per parcel; touching a hazard at the boundary only is not a hit.
    """
    hit = np.zeros(len(parcels), dtype=bool)
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    hz_geoms = np.asarray(hazards.to_crs(parcels.crs).geometry.values, dtype=object)
    tree = shapely.STRtree(hz_geoms)
    pi, hi = tree.query(geoms, predicate="intersects")
    inside = ~shapely.touches(geoms[pi], hz_geoms[hi])
    hit[pi[inside]] = True
    return hit


def study_hazards(study: Study, crs: Any) -> gpd.GeoDataFrame:
    """Read the study's hazard layers (``inputs.hazards``) with its input settings."""
    return hazard_frame([read_input(spec) for spec in study.hazard_layers()], crs)


def _fmt(values: np.ndarray) -> np.ndarray:
    """Format numbers for a reason, with 4 significant digits."""
    return np.char.mod("%.4g", np.asarray(values, dtype=float)).astype(object)


def constraint_mask(
    parcels: gpd.GeoDataFrame,
    study: Study,
    k: Constraint,
    raw: Mapping[str, np.ndarray],
    metric: np.ndarray | None,
    where: str,
    hazards: gpd.GeoDataFrame | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return which parcels one constraint excludes, with the reasons in English and 中文.

    A NaN walking distance or time compares as +infinity; any other NaN (or blank text) is
    unknown and hits when ``k.missing == "exclude"``, with an "unknown (no data)" reason.

    Parameters
    ----------
    parcels
        The parcels, with a CRS (and the ``unreachable`` column for that builtin).
    study
        The validated study ``k`` belongs to.
    k
        The constraint: a builtin, or a criterion, measure or parcel column compared with a
        value.
    raw
        ``{criterion name: raw values}`` (:func:`siteplan.scoring.criteria.raw_values`).
    metric
        The parcels' geometries in a metric CRS for ``measure`` constraints (computed when
        None).
    where
        Where the constraint is, for error messages (``"study.toml: constraints[2]"``).
    hazards
        The study's hazard polygons (read from ``inputs.hazards`` when not given).

    Returns
    -------
    tuple of numpy.ndarray
        ``(hit, reason_en, reason_zh)``, one per parcel; the reasons mean something only
        where ``hit``.
    """
    if k.builtin is not None:
        return _builtin_mask(parcels, study, k, where, hazards)
    if k.criterion is not None:
        x: np.ndarray = raw[k.criterion]
        name_en, name_zh = criterion_labels(study)[k.criterion]
    elif k.measure is not None:
        geoms = metric if metric is not None else metric_geometries(parcels)
        x = shape_measure(geoms, k.measure)
        name_en, name_zh = label(k.measure, "en"), label(k.measure, "zh")
    else:
        return _column_mask(parcels, study, k, where)
    return _numeric_mask(study, k, x, name_en, name_zh)


def _builtin_mask(parcels: gpd.GeoDataFrame, study: Study, k: Constraint, where: str,
                  hazards: gpd.GeoDataFrame | None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``builtin = "unreachable"`` or ``"inside_hazard"``, with the same reason for all."""
    n = len(parcels)
    en, zh = k.reasons()
    if k.builtin == "unreachable":
        if "unreachable" not in parcels.columns:
            raise InputError("the parcels have no 'unreachable' column.", where=where,
                             fix="run the access stage first (ensure_access).")
        hit = parcels["unreachable"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        return hit, np.full(n, en, dtype=object), np.full(n, zh, dtype=object)
    if hazards is None:
        hazards = study_hazards(study, parcels.crs)
    return hazard_hits(parcels, hazards), np.full(n, en, dtype=object), \
        np.full(n, zh, dtype=object)


def _column_mask(parcels: gpd.GeoDataFrame, study: Study, k: Constraint, where: str
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compare a parcel column with the value: as yes/no, as text or as numbers.

    The column is found by its siteplan or its source name, and labelled by what it holds,
    so 净地 reads "Clean land" / "净地".
    """
    col = str(k.column)
    series = parcel_column(parcels, col, study, where)
    aliases = dict(DEFAULT_ALIASES)
    if study.inputs.parcels is not None:
        aliases.update(study.inputs.parcels.aliases())
    key = aliases.get(str(series.name), str(series.name))
    name_en, name_zh = label(key, "en"), label(key, "zh")
    if isinstance(k.value, bool):
        x = _yes_no_values(series, k, where, col)
    elif isinstance(k.value, str):
        return _text_mask(series, k, where, name_en, name_zh)
    else:
        x = numeric_values(series, where, col)
    return _numeric_mask(study, k, x, name_en, name_zh)


def _yes_no_values(series: pd.Series, k: Constraint, where: str, col: str) -> np.ndarray:
    """Read a yes/no column as 1/0 (NaN where blank), refusing an order comparison."""
    if k.op not in ("==", "!="):
        raise InputError(f"a yes/no column can only be compared with == or !=, not "
                         f"{k.op}.", where=where, fix='use op = "==" or "!=".')
    values: np.ndarray = parse_bool(series, where=where, column=col).astype(
        "Float64").to_numpy(dtype=float, na_value=np.nan)
    return values


def _text_mask(series: pd.Series, k: Constraint, where: str, name_en: str, name_zh: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compare a text column with the value (stripped; blank is unknown)."""
    if k.op not in ("==", "!="):
        raise InputError(f"text can only be compared with == or !=, not {k.op}.",
                         where=where, fix="compare with a number, or use == / !=.")
    op = _OPS[str(k.op)]
    text = series.astype("string").str.strip()
    unknown = (text.isna() | (text == "")).to_numpy(dtype=bool)
    hit = op(text, k.value).fillna(False).to_numpy(dtype=bool) & ~unknown
    shown = text.fillna("").to_numpy(dtype=object)
    return _with_unknown(k, hit, unknown, name_en, name_zh,
                         _reason(k, k.reason_en, name_en, shown, True),
                         _reason(k, k.reason_zh, name_zh, shown, True))


def _numeric_mask(study: Study, k: Constraint, values: np.ndarray, name_en: str, name_zh: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compare numbers with the value.

    A NaN walking distance or time is beyond the search limit (+infinity); any other NaN is
    unknown (:func:`_with_unknown`).
    """
    op = _OPS[str(k.op)]
    # The study's checks make the value of a numeric comparison a number (yes/no: 1/0).
    value = cast(float, k.value)
    x = np.asarray(values, dtype=float)
    unknown = np.isnan(x)
    shown = _fmt(x)
    r_en = _reason(k, k.reason_en, name_en, shown, False)
    r_zh = _reason(k, k.reason_zh, name_zh, shown, False)
    if k.is_distance(study.criteria):
        # NaN: nothing reachable within the search limit, i.e. farther than any threshold.
        hit = op(np.where(unknown, np.inf, x), float(value))
        far = unknown & hit
        if k.reason_en is None:
            r_en = np.where(far, _beyond_en(study, name_en, k), r_en)
        if k.reason_zh is None:
            r_zh = np.where(far, _beyond_zh(study, name_zh, k), r_zh)
        return np.asarray(hit, dtype=bool), r_en, r_zh
    with np.errstate(invalid="ignore"):
        hit = ~unknown & op(x, float(value))
    return _with_unknown(k, hit, unknown, name_en, name_zh, r_en, r_zh)


def _threshold(k: Constraint) -> str:
    return f"{k.value:g}" if isinstance(k.value, float) else str(k.value)


def _beyond_en(study: Study, name: str, k: Constraint) -> str:
    limit = study.network.search_limit_m
    return f"{name}: none within the {limit:g} m search limit ({k.op} {_threshold(k)})"


def _beyond_zh(study: Study, name: str, k: Constraint) -> str:
    limit = study.network.search_limit_m
    return f"{name}：{limit:g}米搜索范围内无可达设施（{k.op} {_threshold(k)}）"


def _with_unknown(k: Constraint, hit: np.ndarray, unknown: np.ndarray, name_en: str,
                  name_zh: str, r_en: np.ndarray, r_zh: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the parcels whose value is unknown when the constraint's ``missing`` is "exclude".

    Their reason says the value is unknown, not that it failed.  A value unknown for every
    parcel (a blank column) is said in a warning whatever ``missing`` is: the constraint then
    measured nothing.
    """
    if len(unknown) and unknown.all():
        what = ("every parcel is excluded as unknown" if k.missing == "exclude"
                else 'missing = "keep" keeps them all: the constraint excludes nothing')
        warnings.warn(f"constraint on {name_en}: the value is blank or missing for all "
                      f"{len(unknown)} parcels; {what}. Check the column in the parcel layer "
                      "(an empty column, or another name).", SiteplanWarning, stacklevel=2)
    if k.missing != "exclude" or not unknown.any():
        return hit, r_en, r_zh
    return (hit | unknown,
            np.where(unknown, f"{name_en} unknown (no data)", r_en).astype(object),
            np.where(unknown, f"{name_zh}未知（无数据）", r_zh).astype(object))


def _reason(k: Constraint, configured: str | None, name: str, shown: np.ndarray, text: bool
            ) -> np.ndarray:
    """Return the configured reason, else ``"<label>: <value> <op> <threshold>"`` per parcel."""
    if configured is not None:
        return np.full(shown.shape[0], configured, dtype=object)
    value = f"'{k.value}'" if text else _threshold(k)
    return (name + ": " + shown.astype(str).astype(object) + f" {k.op} {value}").astype(object)


def unreachable_always(parcels: pd.DataFrame, study: Study) -> bool:
    """Tell whether unreachable parcels are excluded without a builtin constraint.

    That is, although the study has no ``builtin = "unreachable"`` constraint: yes when the
    score uses walking access (a distance, count or 2SFCA criterion), since such a parcel's
    access is unknown, not far, and a score of 0 on it would rank the parcel as if it had
    been measured.
    """
    return ("unreachable" in parcels.columns
            and not any(k.builtin == "unreachable" for k in study.constraints)
            and any(isinstance(c, NetworkCriterion) for c in study.criteria))


def apply_constraints(parcels: gpd.GeoDataFrame, study: Study,
                      raw: Mapping[str, np.ndarray], metric: np.ndarray | None = None,
                      hazards: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Apply every constraint of the study to the parcels.

    Parcels that cannot reach the street network are excluded even without the builtin
    constraint when the score uses walking access (:func:`unreachable_always`).

    Parameters
    ----------
    parcels
        The parcels, with a CRS.
    study
        The validated study.
    raw
        ``{criterion name: raw values}`` (:func:`siteplan.scoring.criteria.raw_values`).
    metric
        The parcels' geometries in a metric CRS for ``measure`` constraints (computed when
        None).
    hazards
        The study's hazard polygons (read from ``inputs.hazards`` when not given and needed).

    Returns
    -------
    pandas.DataFrame
        ``excluded``, ``exclusion_reason`` and ``exclusion_reason_zh`` for every parcel
        (reasons of several constraints joined by ``"; "`` / ``"；"``, empty when not
        excluded), indexed like ``parcels``.
    """
    n = len(parcels)
    src = study.source_path or "study config"
    excluded = np.zeros(n, dtype=bool)
    en = np.full(n, "", dtype=object)
    zh = np.full(n, "", dtype=object)
    if hazards is None and any(k.builtin == "inside_hazard" for k in study.constraints):
        hazards = study_hazards(study, parcels.crs)
    masks = [constraint_mask(parcels, study, k, raw, metric, f"{src}: constraints[{i}]", hazards)
             for i, k in enumerate(study.constraints)]
    if unreachable_always(parcels, study):
        masks.append(constraint_mask(parcels, study, Constraint(builtin="unreachable"), raw,
                                     metric, src))
    for hit, r_en, r_zh in masks:
        excluded |= hit
        en = np.where(hit, np.where(en == "", r_en, en + "; " + r_en), en)
        zh = np.where(hit, np.where(zh == "", r_zh, zh + "；" + r_zh), zh)
    return pd.DataFrame({
        "excluded": excluded,
        "exclusion_reason": pd.array(en.astype(str), dtype="string"),
        "exclusion_reason_zh": pd.array(zh.astype(str), dtype="string"),
    }, index=parcels.index)


__all__ = ["apply_constraints", "constraint_mask", "hazard_frame", "hazard_hits", "study_hazards",
           "unreachable_always"]
