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

The pieces live in their own modules: :mod:`siteplan.scoring.criteria` (raw values, access
columns, criterion labels), :mod:`siteplan.access.fca` (2SFCA), :mod:`siteplan.scoring.constraints`
(exclusions) and :mod:`siteplan.study.transforms` (value functions); this module puts them
together, weights, scores and ranks, and adds seed compliance and the programme
(:func:`assess_parcels`).  Everything is vectorised over parcels; the loops are per criterion.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from siteplan.access.fca import two_step_fca
from siteplan.core.columns import distance_column
from siteplan.core.errors import ConfigError, InputError
from siteplan.io.crs import analysis_crs, lonlat_bounds
from siteplan.network.graph import Network
from siteplan.parcels.shapes import metric_geometries
from siteplan.scoring.compliance import seed_compliance
from siteplan.scoring.constraints import apply_constraints, constraint_mask
from siteplan.scoring.criteria import (
    access_columns,
    criterion_labels,
    ensure_access,
    raw_values,
    required_radius,
)
from siteplan.scoring.programme import programme
from siteplan.study.criteria import Constraint, Criterion, DistanceCriterion
from siteplan.study.model import Study
from siteplan.study.transforms import BooleanTransform, StepTransform

SCORE_COLUMNS = ("score", "rank", "excluded", "exclusion_reason", "exclusion_reason_zh")


# ----------------------------------------------------------------------------- metadata


def _transform_of(study: Study, c: Criterion) -> Any:
    """Return the criterion's transform, or its default.

    The default of a distance is 100 within the radius, else 0; that of an attribute with a
    value is boolean 100/0.
    """
    if c.transform is not None:
        return c.transform
    if isinstance(c, DistanceCriterion):
        return StepTransform(steps=[(required_radius(study, c), 100.0)], op="<=", otherwise=0.0)
    return BooleanTransform()


def _missing_policy(study: Study, k: Constraint) -> str | None:
    """Say what a missing value does to a constraint, for the metadata.

    Distances are "beyond search limit", other comparisons follow ``missing``; builtins have
    none (None).
    """
    if k.builtin is not None:
        return None
    return "beyond search limit" if k.is_distance(study.criteria) else k.missing


def scoring_metadata(study: Study) -> dict[str, Any]:
    """Describe how the score is made, for the shortlist metadata.

    The description holds the criteria (kind, class, weight, transform, source), the weighting
    method and AHP consistency, and the constraints.
    """
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
             "missing": _missing_policy(study, k),
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


# ----------------------------------------------------------------------------- score and rank


def dense_rank(score: np.ndarray, excluded: np.ndarray,
               parcel_id: np.ndarray) -> pd.arrays.IntegerArray:
    """Rank the parcels not excluded 1..K, by score descending then ``parcel_id`` ascending.

    The ids are compared as text; excluded parcels get ``<NA>``.
    """
    ids = np.asarray(parcel_id).astype(str)
    order = np.lexsort((ids, -np.asarray(score, dtype=float)))
    order = order[~np.asarray(excluded, dtype=bool)[order]]
    rank = np.full(score.shape[0], np.nan)
    rank[order] = np.arange(1, order.shape[0] + 1)
    return pd.array(rank, dtype="Float64").astype("Int64")


def _metric_crs(parcels: gpd.GeoDataFrame, study: Study, net: Network | None) -> CRS:
    """Return the CRS the parcels' shapes are measured in.

    The network's CRS when there is one, so that shapes and distances share a CRS; else the
    parcels' own if it measures true metres there (not Web Mercator), else the study's.
    """
    if net is not None:
        return net.crs
    own = analysis_crs(parcels)
    if own == CRS.from_user_input(parcels.crs):
        return own
    return study.metric_crs(tuple(lonlat_bounds(parcels)))


def score_parcels(
    parcels: gpd.GeoDataFrame,
    study: Study,
    *,
    net: Network | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    demand: gpd.GeoDataFrame | None = None,
    hazards: gpd.GeoDataFrame | None = None,
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
        Demand locations for 2SFCA (default: ``inputs.residential``, read with the study's
        input settings).
    hazards
        Hazard polygons for ``inside_hazard`` constraints (default: ``inputs.hazards``, read
        with the study's input settings).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``<criterion>_raw``, ``<criterion>_rating``, ``<criterion>_points``,
        ``score``, ``rank``, ``excluded``, ``exclusion_reason``, ``exclusion_reason_zh``; same
        rows and order.  ``attrs["scoring"]`` is :func:`scoring_metadata`.

    Raises
    ------
    InputError
        Parcels without ``parcel_id`` or a CRS, or without access columns that cannot be
        computed.
    ConfigError
        A study without criteria, or a criterion whose class has no facilities.

    Examples
    --------
    One criterion, the walk to a kindergarten (100 points within its 300 m radius, else 0);
    parcel ``c`` cannot reach the street network, so it is excluded:

    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from siteplan import Study, score_parcels
    >>> study = Study.model_validate({"study": {"name": "demo"}, "criteria": [
    ...     {"name": "kg_walk", "kind": "distance", "class": "kindergarten", "weight": 1}]})
    >>> parcels = gpd.GeoDataFrame(
    ...     {"parcel_id": ["a", "b", "c"], "dist_kindergarten_m": [250.0, 600.0, float("nan")],
    ...      "unreachable": [False, False, True]},
    ...     geometry=[box(300 * i, 0, 300 * i + 200, 200) for i in range(3)], crs="EPSG:32649")
    >>> scored = score_parcels(parcels, study)
    >>> scored[["parcel_id", "score", "rank", "excluded"]].values.tolist()
    [['a', 100.0, 1, False], ['b', 0.0, 2, False], ['c', 0.0, <NA>, True]]
    >>> scored["exclusion_reason"].tolist()
    ['', '', 'cannot reach the street network']
    """
    if "parcel_id" not in parcels.columns:
        raise InputError("the parcels have no parcel_id column.", where="scoring",
                         fix="load them with siteplan.parcels.load.load_parcels.")
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
    out = work.copy(deep=False)  # copy-on-write (pandas >= 3): no data copied
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
    cons = apply_constraints(work, study, raw, metric, hazards)
    out["score"] = np.round(total, 2)
    out["rank"] = dense_rank(out["score"].to_numpy(), cons["excluded"].to_numpy(),
                             out["parcel_id"].to_numpy())
    for col in cons.columns:
        out[col] = cons[col]
    out.attrs["scoring"] = scoring_metadata(study)
    return _order_columns(out)


def _order_columns(out: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Put ``parcel_id`` and the score columns first and the geometry last."""
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
    hazards: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Score the parcels, then check seed compliance and estimate the programme.

    :func:`score_parcels`, then seed compliance
    (:func:`~siteplan.scoring.compliance.seed_compliance`) and the programme calculator
    (:func:`~siteplan.scoring.programme.programme`) with the study's radii and assumptions.

    Parameters
    ----------
    parcels
        Parcels with ``parcel_id``, a CRS, their attributes and normally the access columns
        (those of :func:`access_columns` and ``dist_<class>_m`` of every compliance class).
        Not modified.
    study
        The validated study.
    net, facilities
        The walking network and the classified facilities: needed for 2SFCA criteria, and to
        compute access columns that are missing.
    demand
        Demand locations for 2SFCA (default: ``inputs.residential``).
    hazards
        Hazard polygons for ``inside_hazard`` constraints (default: ``inputs.hazards``).

    Returns
    -------
    geopandas.GeoDataFrame
        :func:`score_parcels`'s columns plus ``meets_<class>_radius``,
        ``compliance_required``, ``compliance_required_zh``, ``compliant_all``, ``est_*`` and
        ``required_*``; ``attrs`` carries ``scoring``, ``compliance_radii`` and
        ``programme_assumptions``.

    Raises
    ------
    InputError
        As :func:`score_parcels`, and parcels without the area and FAR (or households) the
        programme needs.
    ConfigError
        As :func:`score_parcels`.

    Examples
    --------
    Three 4 ha parcels at a floor-area ratio of 2.5, with their walks to the three schools of
    the seed clause 三(二)8:

    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> from siteplan import Study, assess_parcels
    >>> study = Study.model_validate({"study": {"name": "demo"}, "criteria": [
    ...     {"name": "kg_walk", "kind": "distance", "class": "kindergarten", "weight": 1}]})
    >>> nan = float("nan")
    >>> parcels = gpd.GeoDataFrame(
    ...     {"parcel_id": ["a", "b", "c"], "far": [2.5, 2.5, 2.5],
    ...      "dist_kindergarten_m": [250.0, 600.0, nan],
    ...      "dist_primary_school_m": [400.0, 800.0, nan],
    ...      "dist_middle_school_m": [900.0, 900.0, nan], "unreachable": [False, False, True]},
    ...     geometry=[box(300 * i, 0, 300 * i + 200, 200) for i in range(3)], crs="EPSG:32649")
    >>> out = assess_parcels(parcels, study)
    >>> out[["parcel_id", "rank", "compliant_all"]].values.tolist()
    [['a', 1, True], ['b', 2, False], ['c', <NA>, False]]
    >>> out[["est_households", "required_childcare_places"]].iloc[0].tolist()
    [1000, 27]
    """
    radii = study.compliance.radii
    work = ensure_access(parcels, study, net=net, facilities=facilities,
                         columns=access_columns(study) + [distance_column(c) for c in radii])
    scored = score_parcels(work, study, net=net, facilities=facilities, demand=demand,
                           hazards=hazards)
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
    "SCORE_COLUMNS",
    "constraint_mask",
]
