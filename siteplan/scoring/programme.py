"""Programme calculator: what the 好房子 pilot seed requires a housing project to provide.

From a parcel's area and floor-area ratio (容积率), or a declared number of households, estimate
floor area, households and residents, then the seed's per-project minimums (clause 三(二)8):

==============================  ===========================================  ====================
column                          rule                                         rounding
==============================  ===========================================  ====================
required_childcare_places       ≥ 10 childcare places (托位) per 1000        up to a whole place
                                residents
required_childcare_m2           ≥ 8 m² floor area per place                  places × 8 (exact)
required_elderly_land_m2        ≥ 0.1 m² elderly-care land per resident      up to a whole m²
required_parking_spaces         ≥ 1.2 spaces per household                   up to a whole space
required_parking_bay_m2         each bay ≥ 2.5 m × 5.3 m = 13.25 m²          spaces × 13.25
required_charging_spaces        100 % of fixed spaces with charging          up to a whole space
                                provision
required_property_service_m2    ≥ 3 % of total GFA as property-service       up to a whole m²
                                rooms (物业服务用房)
==============================  ===========================================  ====================

Estimates (assumptions, all keyword parameters, reported by :func:`programme_assumptions` and
printed by :func:`format_assumptions`):

- GFA = area × FAR (``default_far`` for parcels without a FAR, when given).  Where only households
  are declared, GFA = households × dwelling size.  A parcel without an area attribute uses its
  polygon area (measured in a metric CRS); ``programme_basis`` says which inputs were used.
- households = GFA / dwelling size, rounded **up** (a requirement is a minimum; a part dwelling
  rounds to a whole one).  A declared ``households`` value is used instead, rounded to the whole
  number the outputs show (with a warning when that moved it).
- Dwelling size 100 m² GFA per household: the gross floor area of a typical new urban
  three-bedroom flat (about 90 m² usable plus shared space); an assumption, change it for the
  project's unit mix.
- Persons per household 2.62: the 2020 (seventh) national census average household size.
- residents = households × persons per household (not rounded; the rounding happens once, on
  each requirement).

The property-service share is read as 3 % (per cent) of total GFA, as the study brief states;
some local rules write 3‰ (per mille).  Pass ``property_service_share=0.003`` for that reading.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siteplan.core.defaults import CENSUS_SOURCE, PROGRAMME, PROGRAMME_CLAUSES
from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.labels import label

# (unit, source) of each assumption, for printing.
ASSUMPTION_NOTES: dict[str, tuple[str, str]] = {
    "dwelling_size_m2": ("m² GFA per household", "assumption (typical new urban flat)"),
    "persons_per_household": ("persons per household", CENSUS_SOURCE),
    "childcare_places_per_1000": ("places per 1000 residents", PROGRAMME_CLAUSES["childcare"]),
    "childcare_m2_per_place": ("m² floor area per place", PROGRAMME_CLAUSES["childcare"]),
    "elderly_land_m2_per_resident": ("m² land per resident", PROGRAMME_CLAUSES["elderly"]),
    "parking_per_household": ("spaces per household", PROGRAMME_CLAUSES["parking"]),
    "parking_bay_width_m": ("m bay width", PROGRAMME_CLAUSES["parking"]),
    "parking_bay_length_m": ("m bay length", PROGRAMME_CLAUSES["parking"]),
    "charging_share": ("share of fixed spaces with charging provision", PROGRAMME_CLAUSES["parking"]),
    "property_service_share": ("share of total GFA", PROGRAMME_CLAUSES["property_service"]),
}

REQUIRED_COLUMNS = (
    "required_childcare_places",
    "required_childcare_m2",
    "required_elderly_land_m2",
    "required_parking_spaces",
    "required_parking_bay_m2",
    "required_charging_spaces",
    "required_property_service_m2",
)


def _ceil(x: np.ndarray) -> np.ndarray:
    """Round up, after rounding away float noise (13.000000000000002 places stays 13)."""
    return np.ceil(np.round(x, 6))


# Assumptions that divide or size things must be > 0; ratios may be 0 (requirement switched off).
_STRICTLY_POSITIVE = ("dwelling_size_m2", "persons_per_household", "parking_bay_width_m",
                      "parking_bay_length_m")
_AT_MOST_ONE = ("charging_share", "property_service_share")


def programme_assumptions(**overrides: float) -> dict[str, float]:
    """Return the assumptions in force (defaults updated with ``overrides``), for metadata.

    Parameters
    ----------
    **overrides
        Assumptions to change, by name (those of :data:`siteplan.core.defaults.PROGRAMME`).

    Returns
    -------
    dict
        ``{name: value}`` of every assumption.

    Raises
    ------
    InputError
        An unknown name, or a value that is not a finite number in its range (sizes > 0,
        ratios >= 0, shares <= 1).
    """
    unknown = sorted(set(overrides) - set(PROGRAMME))
    if unknown:
        raise InputError(f"unknown programme assumption(s) {unknown}.", where="programme",
                         fix=f"use only {sorted(PROGRAMME)}.")
    out = dict(PROGRAMME)
    for key, value in overrides.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        ok = math.isfinite(v) and (v > 0 if key in _STRICTLY_POSITIVE else v >= 0)
        if key in _AT_MOST_ONE:
            ok = ok and v <= 1
        if not ok:
            rng = "> 0" if key in _STRICTLY_POSITIVE else ("in [0, 1]" if key in _AT_MOST_ONE
                                                           else ">= 0")
            raise InputError(f"programme assumption {key} must be a number {rng}, got {value!r}.",
                             where="programme", fix=f"e.g. {key} = {PROGRAMME[key]}.")
        out[key] = v
    return out


def format_assumptions(assumptions: dict[str, float] | None = None) -> list[str]:
    """Print each assumption on one line: value, unit and source."""
    a = programme_assumptions(**(assumptions or {}))
    return [f"{key} = {a[key]:g} {unit} ({source})"
            for key, (unit, source) in ASSUMPTION_NOTES.items()]


def _metric_area(parcels: pd.DataFrame) -> np.ndarray:
    """Return polygon areas in m² in a metric CRS (NaN without geometry or CRS)."""
    if not isinstance(parcels, gpd.GeoDataFrame) or parcels.crs is None or len(parcels) == 0:
        return np.full(len(parcels), np.nan)
    from siteplan.io.crs import analysis_crs

    geo = parcels.geometry
    return np.asarray(geo.to_crs(analysis_crs(geo)).area, dtype=float)


def programme(
    parcels: pd.DataFrame,
    *,
    area_column: str = "area_m2",
    far_column: str = "far",
    households_column: str = "households",
    default_far: float | None = None,
    dwelling_size_m2: float = PROGRAMME["dwelling_size_m2"],
    persons_per_household: float = PROGRAMME["persons_per_household"],
    childcare_places_per_1000: float = PROGRAMME["childcare_places_per_1000"],
    childcare_m2_per_place: float = PROGRAMME["childcare_m2_per_place"],
    elderly_land_m2_per_resident: float = PROGRAMME["elderly_land_m2_per_resident"],
    parking_per_household: float = PROGRAMME["parking_per_household"],
    parking_bay_width_m: float = PROGRAMME["parking_bay_width_m"],
    parking_bay_length_m: float = PROGRAMME["parking_bay_length_m"],
    charging_share: float = PROGRAMME["charging_share"],
    property_service_share: float = PROGRAMME["property_service_share"],
) -> pd.DataFrame:
    """Estimate each parcel's households and residents and the seed's required provisions.

    The defaults of the assumptions and their sources are in the module docstring;
    ``Study.programme.assumptions()`` gives the assumptions of a study file.

    Parameters
    ----------
    parcels
        A (Geo)DataFrame with ``area_column`` (else the polygon area of a GeoDataFrame is used)
        and ``far_column`` and/or ``households_column`` (a declared number of households, which
        wins over the estimate where given).  Not modified.
    area_column, far_column, households_column
        Column names (as produced by :func:`siteplan.parcels.load.load_parcels`).
    default_far
        FAR for parcels whose FAR is missing (``None``: they get no estimate).
    dwelling_size_m2
        Gross floor area per dwelling (assumption: 100 m²).
    persons_per_household
        Residents per household (2020 census: 2.62).
    childcare_places_per_1000
        Childcare places (托位) per 1000 residents (三(二)8: 10).
    childcare_m2_per_place
        Floor area per childcare place (三(二)8: 8 m²).
    elderly_land_m2_per_resident
        Elderly-care land per resident (三(二)8: 0.1 m²).
    parking_per_household
        Parking spaces per household (三(二)8: 1.2).
    parking_bay_width_m, parking_bay_length_m
        Size of one parking bay (三(二)8: 2.5 m x 5.3 m).
    charging_share
        Share of the fixed spaces with charging provision (三(二)8: all, 1.0).
    property_service_share
        Share of the total floor area for property-service rooms (三(二)8: 3 %, 0.03).

    Returns
    -------
    pandas.DataFrame
        A copy with ``est_gfa_m2``, ``est_households``, ``est_residents``, ``households_declared``,
        ``programme_basis`` (which inputs the estimate used) and the ``required_*`` columns (see
        the module docstring).  Counts are nullable integers; a parcel with neither area × FAR
        nor households gets ``<NA>``/NaN, never a made-up number.
        ``attrs["programme_assumptions"]`` holds the assumptions.

    Raises
    ------
    InputError
        An assumption out of its range, a negative area, FAR or number of households, or
        neither area and FAR nor households to estimate from.

    Examples
    --------
    A 2 ha parcel at a floor-area ratio of 2.5: 50 000 m² of floor area, 500 households:

    >>> import pandas as pd
    >>> from siteplan import programme
    >>> out = programme(pd.DataFrame({"area_m2": [20000.0], "far": [2.5]}))
    >>> out[["est_households", "est_residents"]].values.tolist()
    [[500, 1310.0]]
    >>> out[["required_childcare_places", "required_parking_spaces"]].values.tolist()
    [[14, 600]]
    """
    a = programme_assumptions(
        dwelling_size_m2=dwelling_size_m2,
        persons_per_household=persons_per_household,
        childcare_places_per_1000=childcare_places_per_1000,
        childcare_m2_per_place=childcare_m2_per_place,
        elderly_land_m2_per_resident=elderly_land_m2_per_resident,
        parking_per_household=parking_per_household,
        parking_bay_width_m=parking_bay_width_m,
        parking_bay_length_m=parking_bay_length_m,
        charging_share=charging_share,
        property_service_share=property_service_share,
    )
    if default_far is not None and not (math.isfinite(default_far) and default_far > 0):
        raise InputError(f"default_far must be a positive number, got {default_far!r}.",
                         where="programme", fix="e.g. default_far = 2.5, or leave it out.")
    has_area = area_column in parcels.columns or isinstance(parcels, gpd.GeoDataFrame)
    has_far = far_column in parcels.columns or default_far is not None
    if not (has_area and has_far) and households_column not in parcels.columns:
        raise InputError(
            f"the programme needs {area_column!r} and {far_column!r} (area × FAR) or "
            f"{households_column!r} (declared households).",
            where="parcels", fix="add 面积 (area_m2) and 容积率 (far) to the parcel layer, or "
            "set [programme] default_far.",
        )

    def num(col: str) -> np.ndarray:
        if col not in parcels.columns:
            return np.full(len(parcels), np.nan)
        values: np.ndarray = pd.to_numeric(parcels[col], errors="coerce").to_numpy(dtype=float)
        return values

    area, far, declared = num(area_column), num(far_column), num(households_column)
    for name, values in ((area_column, area), (far_column, far), (households_column, declared)):
        if (values < 0).any():
            ids = parcels.get("parcel_id", pd.Series(parcels.index, index=parcels.index))
            bad = ids[values < 0].astype(str).tolist()
            raise InputError(f"{name} is negative for parcel(s) {bad[:20]}.", where="parcels",
                             fix="check the values; areas, FARs and households are >= 0.")
    area_from_geom = ~np.isfinite(area)
    if area_from_geom.any():
        area = np.where(area_from_geom, _metric_area(parcels), area)
    far_default = ~np.isfinite(far) & (default_far is not None)
    if default_far is not None:
        far = np.where(far_default, default_far, far)

    gfa_from_far = area * far
    is_declared = np.isfinite(declared)
    declared = _whole_households(parcels, declared, households_column)
    households = np.where(is_declared, declared, _ceil(gfa_from_far / a["dwelling_size_m2"]))
    gfa = np.where(np.isfinite(gfa_from_far), gfa_from_far, households * a["dwelling_size_m2"])
    residents = households * a["persons_per_household"]

    places = _ceil(residents * a["childcare_places_per_1000"] / 1000.0)
    spaces = _ceil(households * a["parking_per_household"])
    bay_m2 = a["parking_bay_width_m"] * a["parking_bay_length_m"]

    basis = np.where(np.isfinite(gfa_from_far),
                     np.where(area_from_geom, "polygon area", "area") + " × "
                     + np.where(far_default, "default FAR", "FAR"), "")
    basis = np.where(is_declared, np.where(basis == "", "declared households",
                                           "declared households; GFA " + basis), basis)

    out = parcels.copy(deep=False)  # copy-on-write (pandas >= 3): no data copied
    out["est_gfa_m2"] = np.round(gfa, 2)
    out["est_households"] = pd.array(np.where(np.isfinite(households), households, np.nan),
                                     dtype="Float64").round().astype("Int64")
    out["est_residents"] = np.round(residents, 2)
    out["households_declared"] = is_declared
    out["programme_basis"] = pd.array(basis.astype(str), dtype="string")
    ints = {
        "required_childcare_places": places,
        "required_parking_spaces": spaces,
        "required_charging_spaces": _ceil(spaces * a["charging_share"]),
    }
    for col, values in ints.items():
        out[col] = pd.array(np.where(np.isfinite(values), values, np.nan),
                            dtype="Float64").astype("Int64")
    out["required_childcare_m2"] = places * a["childcare_m2_per_place"]
    out["required_elderly_land_m2"] = _ceil(residents * a["elderly_land_m2_per_resident"])
    out["required_parking_bay_m2"] = np.round(spaces * bay_m2, 2)
    out["required_property_service_m2"] = _ceil(gfa * a["property_service_share"])
    # Required columns in one fixed order, whatever order they were computed in.
    out = out[[c for c in out.columns if c not in REQUIRED_COLUMNS] + list(REQUIRED_COLUMNS)]
    out.attrs["programme_assumptions"] = a
    return out


def _whole_households(parcels: pd.DataFrame, declared: np.ndarray, column: str) -> np.ndarray:
    """Round declared households to whole ones, as the outputs show them, warning if any moved.

    ``est_households`` is written as a whole number; the residents and requirements must come
    from that same number, not from a fraction nobody sees.
    """
    whole: np.ndarray = np.round(declared)
    moved = np.isfinite(declared) & (np.abs(declared - whole) > 1e-9)
    if moved.any():
        ids = parcels.get("parcel_id", pd.Series(parcels.index, index=parcels.index))
        shown = [f"{i}: {v:g} -> {w:g}" for i, v, w in
                 zip(ids[moved].astype(str), declared[moved], whole[moved], strict=True)][:10]
        warnings.warn(f"{int(moved.sum())} parcel(s) declare a number of households in "
                      f"{column!r} that is not whole ({', '.join(shown)}); the nearest whole "
                      "number is used, as the outputs show it.", SiteplanWarning, stacklevel=4)
    return whole


def _fmt(value: Any) -> float | int | None:
    """Return a number for a report: a whole float as int, missing or not finite as None."""
    if value is None or value is pd.NA:
        return None
    v = float(value)
    if not math.isfinite(v):
        return None
    return int(v) if v == int(v) else v


# (column, unit, topic) of each requirement, in output order.
_SPEC: tuple[tuple[str, str, str], ...] = (
    ("required_childcare_places", "places", "childcare"),
    ("required_childcare_m2", "m²", "childcare"),
    ("required_elderly_land_m2", "m²", "elderly"),
    ("required_parking_spaces", "spaces", "parking"),
    ("required_parking_bay_m2", "m²", "parking"),
    ("required_charging_spaces", "spaces", "parking"),
    ("required_property_service_m2", "m²", "property_service"),
)


def _rules(a: dict[str, float]) -> dict[str, str]:
    """Word each requirement's rule with the assumptions ``a``."""
    bay = a["parking_bay_width_m"] * a["parking_bay_length_m"]
    return {
        "required_childcare_places":
            f"≥ {a['childcare_places_per_1000']:g} per 1000 residents, rounded up",
        "required_childcare_m2": f"≥ {a['childcare_m2_per_place']:g} m² per childcare place",
        "required_elderly_land_m2":
            f"≥ {a['elderly_land_m2_per_resident']:g} m² land per resident, rounded up to 1 m²",
        "required_parking_spaces": f"≥ {a['parking_per_household']:g} per household, rounded up",
        "required_parking_bay_m2": f"each bay ≥ {a['parking_bay_width_m']:g} m × "
                                   f"{a['parking_bay_length_m']:g} m = {bay:g} m²",
        "required_charging_spaces":
            f"{a['charging_share']:.0%} of fixed spaces with charging provision, rounded up",
        "required_property_service_m2":
            f"≥ {a['property_service_share']:.1%} of total GFA, rounded up to 1 m²",
    }


def programme_table(row: pd.Series | dict[str, Any], **assumptions: float) -> list[dict[str, Any]]:
    """One parcel's requirements as rows for a popup or report.

    Parameters
    ----------
    row
        One row of :func:`programme`'s output (a Series or dict with the ``required_*`` columns).
    **assumptions
        The assumptions used for that output (defaults when omitted), for the rule text.

    Returns
    -------
    list of dict
        ``item`` (column name), ``value`` (int/float, None if unknown), ``unit``, ``rule``
        (the ratio and the rounding), ``clause``, ``label_zh``, ``label_en``.
    """
    rules = _rules(programme_assumptions(**assumptions))
    get = row.get
    return [
        {
            "item": col,
            "value": _fmt(get(col)),
            "unit": unit,
            "rule": rules[col],
            "clause": PROGRAMME_CLAUSES[topic],
            "label_zh": label(col, "zh"),
            "label_en": label(col, "en"),
        }
        for col, unit, topic in _SPEC
    ]


def requirements_reference(**assumptions: float) -> pd.DataFrame:
    """Tabulate the requirement rules (item, unit, rule, clause, labels) for output metadata.

    Parameters
    ----------
    **assumptions
        The assumptions of the output (defaults when omitted), for the rule text.

    Returns
    -------
    pandas.DataFrame
        One row per ``required_*`` column.
    """
    rules = _rules(programme_assumptions(**assumptions))
    return pd.DataFrame([
        {"item": col, "unit": unit, "rule": rules[col], "clause": PROGRAMME_CLAUSES[topic],
         "label_zh": label(col, "zh"), "label_en": label(col, "en")}
        for col, unit, topic in _SPEC
    ])


__all__ = [
    "PROGRAMME_CLAUSES",
    "PROGRAMME",
    "REQUIRED_COLUMNS",
    "format_assumptions",
    "programme",
    "programme_assumptions",
    "programme_table",
    "requirements_reference",
]
