"""Criterion raw values: what each criterion of a study measures at each parcel.

:func:`raw_values` gives ``{criterion: values}`` in parcel order, the ``<criterion>_raw`` columns
of the score (metres, a count, a ratio, a slope, hectares, an attribute...).  Network criteria
read the access stage's columns (``dist_<class>_m``, ``n_<class>_<r>m``, ``unreachable``;
:func:`access_columns`); when some are missing and a network and facilities are given,
:func:`ensure_access` computes them with :func:`siteplan.access.distances.facility_access`.
Raster inputs come from the study's ``[inputs]``.  Everything is vectorised over parcels; the
loops are per criterion.

:func:`criterion_labels` names the criteria for people (English and 中文).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from siteplan.access.distances import facility_access
from siteplan.access.fca import two_step_fca
from siteplan.access.lifecircle import life_circle_completeness
from siteplan.core.columns import count_column, distance_column, lc_column
from siteplan.core.errors import ConfigError, InputError, SiteplanWarning
from siteplan.core.labels import label
from siteplan.core.tags import tag_column
from siteplan.facilities.lifecircle import life_circle_facilities
from siteplan.io.layers import read_input
from siteplan.io.raster import zonal_slope, zonal_stats
from siteplan.network.graph import Network
from siteplan.parcels.load import DEFAULT_ALIASES, parse_bool
from siteplan.parcels.shapes import metric_geometries, shape_measure
from siteplan.study.criteria import (
    AccessCriterion,
    AttributeCriterion,
    CountCriterion,
    Criterion,
    DistanceCriterion,
    GeometryCriterion,
    LifeCircleCriterion,
    RasterCriterion,
    SlopeCriterion,
)

if TYPE_CHECKING:
    from siteplan.study.model import Study


# ----------------------------------------------------------------------------- labels


_KIND_WORDS: dict[str, tuple[str, str]] = {
    "distance": ("walking distance", "步行距离"),
    "count": ("count", "数量"),
    "access_2sfca": ("supply/demand ratio", "供需比"),
    "slope": ("slope", "坡度"),
}


def criterion_labels(study: Study) -> dict[str, tuple[str, str]]:
    """Name the study's classes and criteria for people, in English and 中文.

    Returns ``{key: (English, 中文)}`` for :func:`siteplan.core.labels.label`'s ``extra``: the
    study's class labels (``[classes.<name>] label/label_zh``) and its criterion labels (the
    configured ``label``/``label_zh``, else one made from the class and kind).
    """
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
        elif isinstance(c, LifeCircleCriterion):
            key = lc_column(c.circle, "share")
            en, zh = label(key, "en"), label(key, "zh")
        else:
            en, zh = c.name.replace("_", " "), c.name
        out[c.name] = (c.label or en, c.label_zh or zh)
    return out


def required_radius(study: Study, c: Criterion) -> float:
    """Return the radius a network criterion uses (its own, else its class's), or refuse it."""
    radius = study.criterion_radius(c)
    if radius is None:  # the study's validation already refuses this; kept for direct callers
        raise ConfigError(f"criterion {c.name!r} needs a radius.",
                          where=study.source_path or "study config",
                          fix=f"add radius_m to the criterion or to [classes.{c.facility_class}].")
    return radius


# ----------------------------------------------------------------------------- access columns


def access_columns(study: Study) -> list[str]:
    """List the access-stage columns :func:`siteplan.scoring.score.score_parcels` reads."""
    cols = [distance_column(c.class_) for c in study.criteria if isinstance(c, DistanceCriterion)]
    cols += [count_column(c.class_, c.radius_m) for c in study.criteria
             if isinstance(c, CountCriterion)]
    if any(k.builtin == "unreachable" for k in study.constraints):
        cols.append("unreachable")
    cols += [lc_column(c.circle, "share") for c in study.criteria
             if isinstance(c, LifeCircleCriterion)]
    return list(dict.fromkeys(cols))


def ensure_access(parcels: gpd.GeoDataFrame, study: Study, *, net: Network | None = None,
                  facilities: gpd.GeoDataFrame | None = None,
                  columns: list[str] | None = None) -> gpd.GeoDataFrame:
    """Return ``parcels`` with the access columns the study needs, computing missing ones.

    The columns are ``columns`` (default :func:`access_columns`); the missing ones come from
    ``net`` and ``facilities`` (:func:`siteplan.access.distances.facility_access`), without
    which they are refused.
    """
    need = columns if columns is not None else access_columns(study)
    missing = [c for c in need if c not in parcels.columns]
    if not missing:
        return parcels
    if net is None or facilities is None:
        raise InputError(
            f"the parcels lack the access column(s) {missing}.", where="scoring",
            fix="run the access stage first (siteplan.access.distances.facility_access) and join its "
            "table, or pass net= and facilities= to compute them.")
    if all(c.startswith("lc_") for c in missing):
        return _with_life_circles(parcels, study, net, facilities)
    classes = study.facility_classes()
    radii = {c: study.count_radii(c) for c in classes if study.count_radii(c)}
    res = facility_access(
        net, parcels, facilities, classes=classes, count_radii=radii,
        search_limit_m=study.network.search_limit_m, max_snap_m=study.network.max_snap_m,
        target_point=study.network.parcel_point, facility_point=study.network.facility_point,
        speed_mps=study.network.speed_mps)
    add = [c for c in res.table.columns if c not in parcels.columns]
    out = parcels.copy(deep=False)  # copy-on-write (pandas >= 3): no data copied
    for c in add:
        out[c] = res.table[c].to_numpy()
    if any(c.startswith("lc_") for c in missing):
        out = _with_life_circles(out, study, net, facilities)
    return out


def _with_life_circles(parcels: gpd.GeoDataFrame, study: Study, net: Network,
                       facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add the life-circle completeness columns from the classified facilities alone.

    A run (:func:`siteplan.pipeline.run_study`) also reads the OSM features' shops, markets and
    the like through the preset's rules; here only the types siteplan classes stand for count.
    """
    life = life_circle_completeness(
        net, parcels, life_circle_facilities(facilities), target_point=study.network.parcel_point,
        facility_point=study.network.facility_point, max_snap_m=study.network.max_snap_m)
    out = parcels.copy(deep=False)  # copy-on-write (pandas >= 3): no data copied
    for c in life.columns:
        out[c] = life[c].to_numpy()
    return out


def parcel_column(parcels: pd.DataFrame, name: str, study: Study, where: str) -> pd.Series:
    """Return a parcel column by its siteplan name or its source (Chinese) name."""
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


def numeric_values(values: pd.Series, where: str, name: str) -> np.ndarray:
    """Read a column as floats (booleans as 1/0, blanks as NaN), refusing text that is no number."""
    out: np.ndarray
    if pd.api.types.is_bool_dtype(values):
        out = values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        return out
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() & values.notna() & (values.astype("string").str.strip() != "")
    if bad.any():
        raise InputError(f"column {name!r} has {int(bad.sum())} value(s) that are not numbers "
                         f"(e.g. {values[bad].iloc[0]!r}).", where=where,
                         fix="give numbers, or compare the column with a text value.")
    out = num.to_numpy(dtype=float, na_value=np.nan)
    return out


# ----------------------------------------------------------------------------- raw values


def demand_layer(study: Study, demand: gpd.GeoDataFrame | None, where: str
                 ) -> gpd.GeoDataFrame:
    """Pick the 2SFCA demand locations: ``demand``, else ``inputs.residential``.

    The residential layer is read with the study's input settings; a layer carrying OSM
    ``landuse`` tags keeps only ``landuse=residential`` (an OSM area layer mixes all uses).
    """
    if demand is None:
        if study.inputs.residential is None:
            raise ConfigError("a supply/demand (access_2sfca) criterion needs a demand layer.",
                              where=where, fix='set [inputs] residential = "residential.gpkg" '
                              "(residential areas or population points), or pass demand=.")
        demand = read_input(study.input_layer(study.inputs.residential, "residential layer"))
    landuse = tag_column(demand, "landuse")
    if landuse.fillna("").ne("").any():
        demand = demand[(landuse == "residential").fillna(False).to_numpy(dtype=bool)]
    return demand


def raw_values(
    parcels: gpd.GeoDataFrame,
    study: Study,
    *,
    net: Network | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    demand: gpd.GeoDataFrame | None = None,
    metric_crs: CRS | None = None,
) -> dict[str, np.ndarray]:
    """Measure the raw value of every criterion of the study, in parcel order.

    ``parcels`` must carry the access columns of :func:`access_columns` (see
    :func:`ensure_access`).  ``net`` and ``facilities`` are needed only for 2SFCA criteria;
    ``demand`` overrides ``inputs.residential`` for them.

    Returns
    -------
    dict
        ``{criterion name: raw values}``, one float array per criterion.
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
                net, parcels, fac, demand_layer(study, demand, where),
                radius_m=required_radius(study, c),
                capacity_column=c.capacity_column, demand_column=c.demand_column, per=c.per,
                target_point=study.network.parcel_point,
                facility_point=study.network.facility_point,
                max_snap_m=study.network.max_snap_m)
        elif isinstance(c, RasterCriterion):
            out[c.name] = zonal_stats(parcels, study.inputs.rasters[c.raster], stat=c.stat,
                                      threshold=c.threshold, band=c.band)
            check_raster_cover(out[c.name], parcels, where, study.inputs.rasters[c.raster])
        elif isinstance(c, SlopeCriterion):
            out[c.name] = zonal_slope(parcels, study.inputs.rasters[c.raster], units=c.units,
                                      stat=c.stat, threshold=c.threshold, z_factor=c.z_factor)
            check_raster_cover(out[c.name], parcels, where, study.inputs.rasters[c.raster])
        elif isinstance(c, GeometryCriterion):
            if geoms is None:
                geoms = metric_geometries(parcels, metric_crs)
            out[c.name] = shape_measure(geoms, c.measure, corner_angle_deg=c.corner_angle_deg)
        elif isinstance(c, AttributeCriterion):
            out[c.name] = _attribute_raw(parcel_column(parcels, c.column, study, where), c.value,
                                         where, c.column)
        elif isinstance(c, LifeCircleCriterion):
            col = lc_column(c.circle, "share")
            if col not in parcels.columns:
                raise InputError(f"the parcels have no {col!r} column.", where=where,
                                 fix="run the study (siteplan run) or add the columns of "
                                 "siteplan.access.lifecircle.life_circle_completeness first.")
            out[c.name] = pd.to_numeric(parcels[col], errors="coerce").to_numpy(dtype=float)
    return out


def check_raster_cover(values: np.ndarray, parcels: pd.DataFrame, where: str,
                       raster: object) -> None:
    """Refuse a raster that covers no parcel; warn, naming them, about parcels it misses.

    A parcel without a valid pixel has no value and rates 0: a DEM of the wrong area (or CRS)
    would otherwise rate every parcel 0 without a word.
    """
    missing = np.isnan(values)
    if not len(values) or not missing.any():
        return
    if missing.all():
        raise InputError(f"the raster {raster} has no valid pixel under any of the "
                         f"{len(values)} parcels (it covers another area, or its CRS is wrong): "
                         "the criterion would rate every parcel 0.", where=where,
                         fix="give a raster that covers the parcels, and check its CRS.")
    ids = parcels["parcel_id"].astype(str).to_numpy()[missing] if "parcel_id" in parcels \
        else np.flatnonzero(missing)
    shown = ", ".join(map(str, ids[:10])) + (", ..." if len(ids) > 10 else "")
    warnings.warn(f"{where}: the raster {raster} has no valid pixel under {int(missing.sum())} "
                  f"of {len(values)} parcels ({shown}); they rate 0 on this criterion. Check "
                  "the raster's extent and nodata.", SiteplanWarning, stacklevel=3)


def _attribute_raw(values: pd.Series, value: Any, where: str, name: str) -> np.ndarray:
    """Return 1/0 for ``column == value`` (NaN where the attribute is missing), else numbers."""
    if value is None:
        return numeric_values(values, where, name)
    missing = values.isna().to_numpy(dtype=bool)
    if isinstance(value, bool):
        hit = parse_bool(values, where=where, column=name).fillna(not value).to_numpy(dtype=bool)
        eq = hit == value
    elif isinstance(value, int | float):
        eq = numeric_values(values, where, name) == float(value)
    else:
        eq = (values.astype("string").str.strip() == str(value)).fillna(False).to_numpy(bool)
    return np.where(missing, np.nan, eq.astype(float))


__all__ = [
    "access_columns", "criterion_labels", "demand_layer", "ensure_access", "numeric_values",
    "parcel_column",
    "raw_values", "required_radius",
]
