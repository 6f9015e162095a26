"""Suitability scoring: criteria, transforms, weights, hard constraints, score and rank.

:func:`score_parcels` turns a study's criteria into columns a planner can check by hand:

- ``<criterion>_raw``: the measured value (metres, a count, a ratio, a slope, hectares...);
- ``<criterion>_rating``: the raw value through the criterion's transform, 0-100 (a missing raw
  value rates 0: an unknown is never treated as good);
- ``<criterion>_points``: ``weight x rating``, rounded to 0.01, where the weights are normalised
  to sum 1 (direct, or AHP);
- ``score``: the sum of the points columns (0-100), so the score adds up visibly in the
  spreadsheet;
- ``rank``: 1, 2, 3... without gaps over the parcels that are not excluded, by score
  (descending), ties broken by ``parcel_id`` (ascending, as text); ``<NA>`` for excluded parcels;
- ``excluded``, ``exclusion_reason`` and ``exclusion_reason_zh``: hard constraints.  Excluded
  parcels stay in the output with their scores and reasons; they are never dropped.

Network criteria read the access stage's columns (``dist_<class>_m``, ``n_<class>_<r>m``,
``unreachable``); when some are missing and a network and facilities are given, they are
computed with :func:`siteplan.access.facility_access`.  Raster and hazard inputs come from the
study's ``[inputs]``.  Everything is vectorised over parcels; the loops are per criterion.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from siteplan.access import count_column, distance_column, facility_access, reach_pairs
from siteplan.compliance import seed_compliance
from siteplan.config import (
    AccessCriterion,
    AttributeCriterion,
    Constraint,
    CountCriterion,
    Criterion,
    DistanceCriterion,
    GeometryCriterion,
    RasterCriterion,
    SlopeCriterion,
    Study,
)
from siteplan.crs import is_metric_crs
from siteplan.errors import ConfigError, InputError
from siteplan.labels import label
from siteplan.network import Network
from siteplan.parcels import DEFAULT_ALIASES, metric_geometries, parse_bool, shape_measure
from siteplan.programme import programme
from siteplan.raster import zonal_slope, zonal_stats
from siteplan.snapping import snap
from siteplan.tags import tag_column
from siteplan.transforms import BooleanTransform, StepTransform

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}
SCORE_COLUMNS = ("score", "rank", "excluded", "exclusion_reason", "exclusion_reason_zh")


# ----------------------------------------------------------------------------- labels, metadata


_KIND_WORDS: dict[str, tuple[str, str]] = {
    "distance": ("walking distance", "步行距离"),
    "count": ("count", "数量"),
    "access_2sfca": ("supply/demand ratio", "供需比"),
    "slope": ("slope", "坡度"),
}


def criterion_labels(study: Study) -> dict[str, tuple[str, str]]:
    """``{key: (English, 中文)}`` for :func:`siteplan.labels.label`'s ``extra``: the study's
    class labels (``[classes.<name>] label/label_zh``) and its criterion labels (the configured
    ``label``/``label_zh``, else one made from the class and kind)."""
    out: dict[str, tuple[str, str]] = {
        name: (fc.label or label(name, "en"), fc.label_zh or label(name, "zh"))
        for name, fc in study.classes.items() if fc.label or fc.label_zh
    }
    for c in study.criteria:
        kind_en, kind_zh = _KIND_WORDS.get(c.kind, ("", ""))
        if c.facility_class is not None:
            en = f"{label(c.facility_class, 'en', out)}: {kind_en}"
            zh = f"{label(c.facility_class, 'zh', out)}{kind_zh}"
        elif isinstance(c, GeometryCriterion):
            en, zh = label(c.measure, "en"), label(c.measure, "zh")
        elif isinstance(c, AttributeCriterion):
            col = DEFAULT_ALIASES.get(c.column, c.column)  # 净地 -> clean_land
            en, zh = label(col, "en"), label(col, "zh")
        elif isinstance(c, SlopeCriterion):
            en, zh = f"Slope ({c.units})", "坡度"
        else:
            en, zh = c.name.replace("_", " "), c.name
        out[c.name] = (c.label or en, c.label_zh or zh)
    return out


def _radius(study: Study, c: Criterion) -> float:
    radius = study.criterion_radius(c)
    if radius is None:  # the study's validation already refuses this; kept for direct callers
        raise ConfigError(f"criterion {c.name!r} needs a radius.",
                          where=study.source_path or "study config",
                          fix=f"add radius_m to the criterion or to [classes.{c.facility_class}].")
    return radius


def _transform_of(study: Study, c: Criterion) -> Any:
    """The criterion's transform, or its default (distance: 100 within the radius, else 0;
    attribute with a value: boolean 100/0)."""
    if c.transform is not None:
        return c.transform
    if isinstance(c, DistanceCriterion):
        return StepTransform(steps=[(_radius(study, c), 100.0)], op="<=", otherwise=0.0)
    return BooleanTransform()


def scoring_metadata(study: Study) -> dict[str, Any]:
    """How the score is made, for the shortlist metadata: criteria (kind, class, weight,
    transform, source), weighting method and AHP consistency, constraints."""
    weights = study.weights_vector()
    meta: dict[str, Any] = {
        "weights_method": study.weights.method,
        "criteria": [
            {"name": c.name, "kind": c.kind, "class": c.facility_class,
             "weight": round(weights[c.name], 6),
             "transform": _transform_of(study, c).describe(), "source": c.source}
            for c in study.criteria
        ],
        "constraints": [
            {"target": k.target, "op": k.op, "value": k.value,
             "reason_en": k.reasons()[0], "reason_zh": k.reasons()[1]}
            for k in study.constraints
        ],
    }
    if study.ahp is not None:
        meta["ahp"] = {"lambda_max": round(study.ahp.lambda_max, 6),
                       "consistency_index": round(study.ahp.consistency_index, 6),
                       "consistency_ratio": round(study.ahp.consistency_ratio, 6),
                       "allow_inconsistent": study.weights.allow_inconsistent}
    return meta


# ----------------------------------------------------------------------------- access columns


def access_columns(study: Study) -> list[str]:
    """The access-stage columns :func:`score_parcels` reads for this study."""
    cols = [distance_column(c.class_) for c in study.criteria if isinstance(c, DistanceCriterion)]
    cols += [count_column(c.class_, c.radius_m) for c in study.criteria
             if isinstance(c, CountCriterion)]
    if any(k.builtin == "unreachable" for k in study.constraints):
        cols.append("unreachable")
    return list(dict.fromkeys(cols))


def ensure_access(parcels: gpd.GeoDataFrame, study: Study, *, net: Network | None = None,
                  facilities: gpd.GeoDataFrame | None = None,
                  columns: list[str] | None = None) -> gpd.GeoDataFrame:
    """``parcels`` with the access columns the study needs (``columns``, default
    :func:`access_columns`), computing the missing ones from ``net`` and ``facilities``."""
    need = columns if columns is not None else access_columns(study)
    missing = [c for c in need if c not in parcels.columns]
    if not missing:
        return parcels
    if net is None or facilities is None:
        raise InputError(
            f"the parcels lack the access column(s) {missing}.", where="scoring",
            fix="run the access stage first (siteplan.access.facility_access) and join its "
            "table, or pass net= and facilities= to compute them.")
    classes = study.facility_classes()
    radii = {c: study.count_radii(c) for c in classes if study.count_radii(c)}
    res = facility_access(
        net, parcels, facilities, classes=classes, count_radii=radii,
        search_limit_m=study.network.search_limit_m, max_snap_m=study.network.max_snap_m,
        target_point=study.network.parcel_point, facility_point=study.network.facility_point,
        speed_mps=study.network.speed_mps)
    add = [c for c in res.table.columns if c not in parcels.columns]
    out = parcels.copy()
    for c in add:
        out[c] = res.table[c].to_numpy()
    return out


def _column(parcels: pd.DataFrame, name: str, study: Study, where: str) -> pd.Series:
    """A parcel column by its siteplan name or its source (Chinese) name."""
    if name in parcels.columns:
        return parcels[name]
    aliases = dict(DEFAULT_ALIASES)
    if study.inputs.parcels is not None:
        aliases.update(study.inputs.parcels.aliases())
    mapped = aliases.get(name)
    if mapped is not None and mapped in parcels.columns:
        return parcels[mapped]
    shown = [str(c) for c in parcels.columns if c != "geometry"]
    raise InputError(f"the parcels have no column {name!r} (columns: {', '.join(shown)}).",
                     where=where, fix="correct the column name in the study file, or add the "
                     "attribute to the parcel layer.")


def _numeric(values: pd.Series, where: str, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values):
        return values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() & values.notna() & (values.astype("string").str.strip() != "")
    if bad.any():
        raise InputError(f"column {name!r} has {int(bad.sum())} value(s) that are not numbers "
                         f"(e.g. {values[bad].iloc[0]!r}).", where=where,
                         fix="give numbers, or compare the column with a text value.")
    return num.to_numpy(dtype=float, na_value=np.nan)


# ----------------------------------------------------------------------------- 2SFCA


def _demand_layer(study: Study, demand: gpd.GeoDataFrame | None, where: str) -> gpd.GeoDataFrame:
    """The demand locations: ``demand``, else ``inputs.residential``; a layer carrying OSM
    ``landuse`` tags keeps only ``landuse=residential`` (an OSM area layer mixes all uses)."""
    if demand is None:
        if study.inputs.residential is None:
            raise ConfigError("a supply/demand (access_2sfca) criterion needs a demand layer.",
                              where=where, fix='set [inputs] residential = "residential.gpkg" '
                              "(residential areas or population points), or pass demand=.")
        from siteplan.io import read_layer

        demand = read_layer(study.inputs.residential, kind="residential layer")
    landuse = tag_column(demand, "landuse")
    if landuse.fillna("").ne("").any():
        demand = demand[(landuse == "residential").fillna(False).to_numpy(dtype=bool)]
    return demand


def two_step_fca(
    net: Network,
    parcels: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    radius_m: float,
    capacity_column: str | None = None,
    demand_column: str | None = None,
    per: float = 1000.0,
    target_point: Any = "representative",
    facility_point: Any = "representative",
    max_snap_m: float = 200.0,
) -> np.ndarray:
    """Two-step floating catchment supply-to-demand ratio at each parcel (Luo & Wang 2003).

    Step 1, per facility *j*: ``R_j = S_j / sum(D_k)`` over the demand locations *k* within
    ``radius_m`` along the network.  Step 2, per parcel *i*: ``A_i = per * sum(R_j)`` over the
    facilities within ``radius_m`` of the parcel.

    Parameters
    ----------
    net
        Walking network.
    parcels, facilities, demand
        Targets, supply points (already one class) and demand locations, with CRSs.
    radius_m
        Catchment radius along the network.
    capacity_column
        Supply ``S_j`` per facility; each facility counts 1 without it.
    demand_column
        Demand ``D_k`` (e.g. population) per demand feature; without it, the feature's area in
        hectares (residential land), or 1 per point.
    per
        Report the ratio per this many demand units (e.g. places per 1000 residents).

    Returns
    -------
    numpy.ndarray
        ``A_i``; 0 where no facility is within the radius, NaN for parcels that cannot reach
        the network.  A facility whose catchment holds no demand has no defined ratio and adds
        nothing.
    """
    def geoms(frame: gpd.GeoDataFrame, what: str) -> np.ndarray:
        if frame.crs is None:
            raise InputError(f"the {what} have no CRS.", where="2SFCA", fix="declare it.")
        return np.asarray(frame.to_crs(net.crs).geometry.values, dtype=object)

    if capacity_column is None:
        supply = np.ones(len(facilities))
    else:
        if capacity_column not in facilities.columns:
            raise InputError(f"the facilities have no capacity column {capacity_column!r}.",
                             where="2SFCA", fix="add it, or remove capacity_column to count "
                             "each facility as 1.")
        supply = pd.to_numeric(facilities[capacity_column], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(supply) | (supply < 0)
        if bad.any():
            ids = facilities["facility_id"].astype(str).to_numpy()[bad][:10].tolist()
            raise InputError(f"{int(bad.sum())} facilities have no valid {capacity_column!r} "
                             f"(ids {ids}).", where="2SFCA",
                             fix="fill in a capacity >= 0 for every facility of the class.")
    dgeoms = geoms(demand, "demand locations")
    if demand_column is not None:
        if demand_column not in demand.columns:
            raise InputError(f"the demand layer has no column {demand_column!r}.",
                             where="2SFCA", fix="correct demand_column, or remove it to use "
                             "residential area.")
        weight = pd.to_numeric(demand[demand_column], errors="coerce").fillna(0.0).to_numpy(float)
    else:
        area = shapely.area(dgeoms) / 1e4
        weight = np.where(area > 0, area, 1.0)
    fsnap = snap(net, geoms(facilities, "facilities"), how=facility_point, max_snap_m=max_snap_m)
    dsnap = snap(net, dgeoms, how="representative", max_snap_m=max_snap_m)
    psnap = snap(net, geoms(parcels, "parcels"), how=target_point, max_snap_m=max_snap_m)

    reach_d = reach_pairs(net, dsnap, fsnap, radius_m)  # (F, K)
    reach_d.data[:] = 1.0
    demand_in = reach_d @ weight
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(demand_in > 0, supply / demand_in, 0.0)
    reach_p = reach_pairs(net, psnap, fsnap, radius_m)  # (F, P)
    reach_p.data[:] = 1.0
    access = per * (reach_p.T @ ratio)
    return np.where(psnap.reachable, access, np.nan)


# ----------------------------------------------------------------------------- raw values


def raw_values(
    parcels: gpd.GeoDataFrame,
    study: Study,
    *,
    net: Network | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    demand: gpd.GeoDataFrame | None = None,
    metric_crs: CRS | None = None,
) -> dict[str, np.ndarray]:
    """``{criterion name: raw values}`` for every criterion of the study, in parcel order.

    ``parcels`` must carry the access columns of :func:`access_columns` (see
    :func:`ensure_access`).  ``net`` and ``facilities`` are needed only for 2SFCA criteria;
    ``demand`` overrides ``inputs.residential`` for them.
    """
    src = study.source_path or "study config"
    geoms: np.ndarray | None = None
    out: dict[str, np.ndarray] = {}
    for i, c in enumerate(study.criteria):
        where = f"{src}: criteria[{i}] ({c.name})"
        if isinstance(c, DistanceCriterion | CountCriterion):
            col = (distance_column(c.class_) if isinstance(c, DistanceCriterion)
                   else count_column(c.class_, c.radius_m))
            if col not in parcels.columns:
                raise InputError(f"the parcels have no {col!r} column.", where=where,
                                 fix="run the access stage for this class first (ensure_access).")
            out[c.name] = pd.to_numeric(parcels[col], errors="coerce").to_numpy(dtype=float)
        elif isinstance(c, AccessCriterion):
            if net is None or facilities is None:
                raise InputError("a 2SFCA criterion needs the network and the facilities.",
                                 where=where, fix="pass net= and facilities= to score_parcels.")
            fac = facilities[facilities["class"].astype(str) == c.class_]
            out[c.name] = two_step_fca(
                net, parcels, fac, _demand_layer(study, demand, where),
                radius_m=_radius(study, c),
                capacity_column=c.capacity_column, demand_column=c.demand_column, per=c.per,
                target_point=study.network.parcel_point,
                facility_point=study.network.facility_point,
                max_snap_m=study.network.max_snap_m)
        elif isinstance(c, RasterCriterion):
            out[c.name] = zonal_stats(parcels, study.inputs.rasters[c.raster], stat=c.stat,
                                      threshold=c.threshold, band=c.band)
        elif isinstance(c, SlopeCriterion):
            out[c.name] = zonal_slope(parcels, study.inputs.rasters[c.raster], units=c.units,
                                      stat=c.stat, threshold=c.threshold, z_factor=c.z_factor)
        elif isinstance(c, GeometryCriterion):
            if geoms is None:
                geoms = metric_geometries(parcels, metric_crs)
            out[c.name] = shape_measure(geoms, c.measure, corner_angle_deg=c.corner_angle_deg)
        elif isinstance(c, AttributeCriterion):
            out[c.name] = _attribute_raw(_column(parcels, c.column, study, where), c.value,
                                         where, c.column)
    return out


def _attribute_raw(values: pd.Series, value: Any, where: str, name: str) -> np.ndarray:
    """1/0 for ``column == value`` (NaN where the attribute is missing), else the numbers."""
    if value is None:
        return _numeric(values, where, name)
    missing = values.isna().to_numpy(dtype=bool)
    if isinstance(value, bool):
        hit = parse_bool(values, where=where, column=name).fillna(not value).to_numpy(dtype=bool)
        eq = hit == value
    elif isinstance(value, int | float):
        eq = _numeric(values, where, name) == float(value)
    else:
        eq = (values.astype("string").str.strip() == str(value)).fillna(False).to_numpy(bool)
    return np.where(missing, np.nan, eq.astype(float))


# ----------------------------------------------------------------------------- constraints


def _hazard_hits(parcels: gpd.GeoDataFrame, study: Study) -> np.ndarray:
    """Parcels whose interior overlaps a hazard polygon of ``inputs.hazards``."""
    from siteplan.io import read_layer

    hit = np.zeros(len(parcels), dtype=bool)
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    for path in study.inputs.hazards:
        hz = read_layer(path, kind="hazard layer").to_crs(parcels.crs)
        hz_geoms = np.asarray(hz.geometry.values, dtype=object)
        tree = shapely.STRtree(hz_geoms)
        pi, hi = tree.query(geoms, predicate="intersects")
        inside = ~shapely.touches(geoms[pi], hz_geoms[hi])
        hit[pi[inside]] = True
    return hit


def _fmt(values: np.ndarray) -> np.ndarray:
    return np.char.mod("%.4g", np.asarray(values, dtype=float)).astype(object)


def constraint_mask(
    parcels: gpd.GeoDataFrame,
    study: Study,
    k: Constraint,
    raw: Mapping[str, np.ndarray],
    metric: np.ndarray | None,
    where: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(hit, reason_en, reason_zh)`` arrays of one constraint (reasons only meaningful where
    ``hit``).  A missing value never triggers a comparison."""
    n = len(parcels)
    en, zh = k.reasons()
    if k.builtin == "unreachable":
        if "unreachable" not in parcels.columns:
            raise InputError("the parcels have no 'unreachable' column.", where=where,
                             fix="run the access stage first (ensure_access).")
        hit = parcels["unreachable"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        return hit, np.full(n, en, dtype=object), np.full(n, zh, dtype=object)
    if k.builtin == "inside_hazard":
        return _hazard_hits(parcels, study), np.full(n, en, dtype=object), \
            np.full(n, zh, dtype=object)
    op, value = _OPS[str(k.op)], k.value
    if k.criterion is not None:
        x: Any = raw[k.criterion]
        name_en, name_zh = criterion_labels(study)[k.criterion]
    elif k.measure is not None:
        geoms = metric if metric is not None else metric_geometries(parcels)
        x = shape_measure(geoms, k.measure)
        name_en, name_zh = label(k.measure, "en"), label(k.measure, "zh")
    else:
        col = str(k.column)
        series = _column(parcels, col, study, where)
        name_en, name_zh = label(col, "en"), label(col, "zh")
        if isinstance(value, bool):
            if k.op not in ("==", "!="):
                raise InputError(f"a yes/no column can only be compared with == or !=, not "
                                 f"{k.op}.", where=where, fix='use op = "==" or "!=".')
            x = parse_bool(series, where=where, column=col).astype("Float64").to_numpy(
                dtype=float, na_value=np.nan)
            value = float(value)
        elif isinstance(value, str):
            if k.op not in ("==", "!="):
                raise InputError(f"text can only be compared with == or !=, not {k.op}.",
                                 where=where, fix="compare with a number, or use == / !=.")
            text = series.astype("string").str.strip()
            hit = (op(text, value).fillna(False)).to_numpy(dtype=bool)
            shown = text.fillna("").to_numpy(dtype=object)
            return hit, _reason(k, k.reason_en, name_en, shown, True), \
                _reason(k, k.reason_zh, name_zh, shown, True)
        else:
            x = _numeric(series, where, col)
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        hit = np.isfinite(x) & op(x, float(value))  # type: ignore[arg-type]
    shown = _fmt(x)
    return hit, _reason(k, k.reason_en, name_en, shown, False), \
        _reason(k, k.reason_zh, name_zh, shown, False)


def _reason(k: Constraint, configured: str | None, name: str, shown: np.ndarray, text: bool
            ) -> np.ndarray:
    """The configured reason, else ``"<label>: <value> <op> <threshold>"`` per parcel."""
    if configured is not None:
        return np.full(shown.shape[0], configured, dtype=object)
    if text:
        value = f"'{k.value}'"
    elif isinstance(k.value, float):
        value = f"{k.value:g}"
    else:
        value = str(k.value)
    return (name + ": " + shown.astype(str).astype(object) + f" {k.op} {value}").astype(object)


def apply_constraints(parcels: gpd.GeoDataFrame, study: Study,
                      raw: Mapping[str, np.ndarray], metric: np.ndarray | None = None
                      ) -> pd.DataFrame:
    """``excluded``, ``exclusion_reason`` and ``exclusion_reason_zh`` for every parcel (reasons
    of several constraints joined by ``"; "`` / ``"；"``, empty when not excluded)."""
    n = len(parcels)
    src = study.source_path or "study config"
    excluded = np.zeros(n, dtype=bool)
    en = np.full(n, "", dtype=object)
    zh = np.full(n, "", dtype=object)
    for i, k in enumerate(study.constraints):
        hit, r_en, r_zh = constraint_mask(parcels, study, k, raw, metric,
                                          f"{src}: constraints[{i}]")
        excluded |= hit
        en = np.where(hit, np.where(en == "", r_en, en + "; " + r_en), en)
        zh = np.where(hit, np.where(zh == "", r_zh, zh + "；" + r_zh), zh)
    return pd.DataFrame({
        "excluded": excluded,
        "exclusion_reason": pd.array(en.astype(str), dtype="string"),
        "exclusion_reason_zh": pd.array(zh.astype(str), dtype="string"),
    }, index=parcels.index)


# ----------------------------------------------------------------------------- score and rank


def dense_rank(score: np.ndarray, excluded: np.ndarray, parcel_id: np.ndarray) -> pd.arrays.IntegerArray:
    """1..K over the parcels not excluded, by score descending then ``parcel_id`` ascending
    (compared as text); ``<NA>`` for excluded parcels."""
    ids = np.asarray(parcel_id).astype(str)
    order = np.lexsort((ids, -np.asarray(score, dtype=float)))
    order = order[~np.asarray(excluded, dtype=bool)[order]]
    rank = np.full(score.shape[0], np.nan)
    rank[order] = np.arange(1, order.shape[0] + 1)
    return pd.array(rank, dtype="Float64").astype("Int64")


def _metric_crs(parcels: gpd.GeoDataFrame, study: Study, net: Network | None) -> CRS:
    if is_metric_crs(parcels.crs):
        return CRS.from_user_input(parcels.crs)
    if net is not None:
        return net.crs
    return study.metric_crs(tuple(parcels.to_crs(4326).total_bounds))  # type: ignore[arg-type]


def score_parcels(
    parcels: gpd.GeoDataFrame,
    study: Study,
    *,
    net: Network | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    demand: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Score, constrain and rank candidate parcels as the study says.

    Parameters
    ----------
    parcels
        Parcels with ``parcel_id``, a CRS, their attributes and normally the access columns of
        :func:`access_columns` (``dist_<class>_m``, ``n_<class>_<r>m``, ``unreachable``).  Not
        modified.
    study
        The validated study.
    net, facilities
        The walking network and the classified facilities: needed for 2SFCA criteria, and to
        compute access columns that are missing.  When ``facilities`` is given, a criterion
        whose class has no facilities is refused (:meth:`Study.check_against_facilities`).
    demand
        Demand locations for 2SFCA (default: ``inputs.residential``).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``<criterion>_raw``, ``<criterion>_rating``, ``<criterion>_points``,
        ``score``, ``rank``, ``excluded``, ``exclusion_reason``, ``exclusion_reason_zh``; same
        rows and order.  ``attrs["scoring"]`` is :func:`scoring_metadata`.
    """
    if "parcel_id" not in parcels.columns:
        raise InputError("the parcels have no parcel_id column.", where="scoring",
                         fix="load them with siteplan.parcels.load_parcels.")
    if parcels.crs is None:
        raise InputError("the parcels have no CRS.", where="scoring", fix="declare it.")
    if not study.criteria:
        raise ConfigError("the study has no criteria to score.",
                          where=study.source_path or "study config",
                          fix="add [[criteria]] entries.")
    if facilities is not None:
        study.check_against_facilities(
            facilities["class"].astype(str).value_counts().to_dict())
    work = ensure_access(parcels, study, net=net, facilities=facilities)
    metric_crs = _metric_crs(work, study, net)
    raw = raw_values(work, study, net=net, facilities=facilities, demand=demand,
                     metric_crs=metric_crs)
    weights = study.weights_vector()
    out = work.copy()
    total = np.zeros(len(out))
    for c in study.criteria:
        rating = _transform_of(study, c).apply(raw[c.name])
        points = np.round(weights[c.name] * rating, 2)
        out[c.raw_column] = raw[c.name]
        out[f"{c.name}_rating"] = np.round(rating, 2)
        out[c.points_column] = points
        total += points
    metric = (metric_geometries(work, metric_crs)
              if any(k.measure is not None for k in study.constraints) else None)
    cons = apply_constraints(work, study, raw, metric)
    out["score"] = np.round(total, 2)
    out["rank"] = dense_rank(out["score"].to_numpy(), cons["excluded"].to_numpy(),
                             out["parcel_id"].to_numpy())
    for col in cons.columns:
        out[col] = cons[col]
    out.attrs["scoring"] = scoring_metadata(study)
    return _order_columns(out)


def _order_columns(out: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geom = out.geometry.name
    lead = ["parcel_id", *SCORE_COLUMNS]
    rest = [c for c in out.columns if c not in lead and c != geom]
    return out[[*lead, *rest, geom]]


def assess_parcels(
    parcels: gpd.GeoDataFrame,
    study: Study,
    *,
    net: Network | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    demand: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """:func:`score_parcels`, then seed compliance (``meets_<class>_radius``,
    ``compliance_required``, ``compliance_required_zh``, ``compliant_all``) and the programme
    calculator (``est_*``, ``required_*``) with the study's radii and assumptions.

    ``attrs`` carries ``scoring`` and ``programme_assumptions``.
    """
    radii = study.compliance.radii
    work = ensure_access(parcels, study, net=net, facilities=facilities,
                         columns=access_columns(study) + [distance_column(c) for c in radii])
    scored = score_parcels(work, study, net=net, facilities=facilities, demand=demand)
    checked = seed_compliance(scored, radii_m=radii)
    out = programme(checked, default_far=study.programme.default_far,
                    **study.programme.assumptions())
    out.attrs["scoring"] = scored.attrs["scoring"]
    out.attrs["compliance_radii"] = dict(radii)
    return gpd.GeoDataFrame(out, geometry=scored.geometry.name, crs=scored.crs)


__all__ = [
    "access_columns",
    "apply_constraints",
    "assess_parcels",
    "criterion_labels",
    "dense_rank",
    "ensure_access",
    "raw_values",
    "score_parcels",
    "scoring_metadata",
    "two_step_fca",
]
