"""Candidate parcels: loading a user's parcel layer.

A parcels GeoDataFrame has a string ``parcel_id`` plus the user's attributes.  Chinese field
names common in land-supply tables are recognised (地块编号, 用地性质, 面积, 容积率, 净地,
闲置收回) and renamed to English column names; values are normalised (booleans from 是/否,
land-use codes as zero-padded strings, areas to square metres from the declared unit: m², 公顷
hectares or 亩 mu).  Declared areas are checked against the outlines' own areas, so a unit slip
(hectares read as m², off by 10 000x) stops the run instead of skewing the programme.

Where a city has no parcel layer, :func:`siteplan.parcels.blocks.blocks_from_streets` makes candidate
parcels as urban blocks.  Shape measures (area, compactness, concave corners) are in
:mod:`siteplan.parcels.shapes`.  Both are importable from here as well.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.core.defaults import AREA_UNIT_M2, AreaUnit
from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.io.inputs import CoordSystem, InputLayer
from siteplan.io.layers import read_input
from siteplan.io.mojibake import reread_as_gbk
from siteplan.io.postgis.layers import display_source
from siteplan.parcels.blocks import (
    BLOCK_HIGHWAYS,
    BLOCK_RAILWAYS,
    BLOCK_WATERWAYS,
    block_lines,
    blocks_from_streets,
    exclusion_polygons,
)
from siteplan.parcels.plausible import implausible_parcels
from siteplan.parcels.shapes import (
    CORNER_SIMPLIFY_M,
    POLYGON_TYPES,
    area_ha,
    compactness,
    concave_corners,
    metric_geometries,
    shape_measure,
)

# Chinese (and common English) field names -> siteplan column names.
DEFAULT_ALIASES: dict[str, str] = {
    "地块编号": "parcel_code",
    "用地性质": "landuse_code",
    "面积": "area_m2",
    "容积率": "far",
    "净地": "clean_land",
    "闲置收回": "idle_recovered",
    "户数": "households",
}

_UNIT_NAMES = {"m2": "square metres (平方米)", "ha": "hectares (公顷)", "mu": "mu (亩)"}
#: Declared areas more than this factor off the outline's own area are reported.
AREA_TOLERANCE = 2.0

BOOL_COLUMNS = ("clean_land", "idle_recovered")
NUMERIC_COLUMNS = ("area_m2", "far", "households")

_TRUE = {"是", "yes", "y", "true", "t", "1", "1.0"}
_FALSE = {"否", "no", "n", "false", "f", "0", "0.0"}


def _list_some(values: Sequence[object], limit: int = 20) -> str:
    shown = ", ".join(str(v) for v in list(values)[:limit])
    more = len(values) - limit
    return shown + (f" ... and {more} more" if more > 0 else "")


def parse_bool(values: pd.Series, *, where: str, column: str) -> pd.Series:
    """Parse 是/否, yes/no, true/false, 1/0 (any case) into a nullable boolean Series.

    Blank and missing values become ``<NA>``; anything else raises :class:`InputError`.
    """
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    text = values.astype("string").str.strip().str.lower()
    blank = text.isna() | (text == "")
    is_true = text.isin(_TRUE).fillna(False).to_numpy(dtype=bool)
    is_false = text.isin(_FALSE).fillna(False).to_numpy(dtype=bool)
    bad = ~(is_true | is_false | blank.to_numpy(dtype=bool))
    if bad.any():
        rows = np.flatnonzero(bad)
        sample = [f"row {i}: {values.iloc[i]!r}" for i in rows[:20]]
        raise InputError(
            f"column {column!r} has {bad.sum()} value(s) that are not yes/no: {_list_some(sample)}.",
            where=where,
            fix="use 是/否, yes/no, true/false or 1/0 (blank for unknown).",
        )
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[is_true] = True
    out[is_false] = False
    return out


def _parse_numeric(values: pd.Series, *, where: str, column: str) -> pd.Series:
    text = values.astype("string").str.strip().str.replace(",", "", regex=False)
    text = text.mask(text == "")
    num = pd.to_numeric(text, errors="coerce")
    bad = num.isna() & text.notna()
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        sample = [f"row {i}: {values.iloc[i]!r}" for i in rows[:20]]
        raise InputError(
            f"column {column!r} has {bad.sum()} value(s) that are not numbers: "
            f"{_list_some(sample)}.",
            where=where,
            fix="write plain numbers (e.g. 2.5 or 20000), or leave the cell blank.",
        )
    return num.astype("float64")


def _landuse_codes(values: pd.Series) -> pd.Series:
    # Land-use codes (国土空间用地用海分类) have 2, 4 or 6 digits with leading zeros; a
    # spreadsheet often stores 0701 as the number 701, so numbers are zero-padded to even length.
    if pd.api.types.is_numeric_dtype(values):
        out = pd.Series(pd.NA, index=values.index, dtype="string")
        ok = values.notna()
        digits = values[ok].astype("int64").astype("string")
        odd = (digits.str.len() % 2 == 1).to_numpy(dtype=bool)
        out[ok] = np.where(odd, "0" + digits.to_numpy(dtype=object), digits.to_numpy(dtype=object))
        return out
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def check_declared_area(parcels: gpd.GeoDataFrame, *, column: str, unit: AreaUnit,
                        where: str) -> None:
    """Compare the declared ``area_m2`` with each outline's own area in a metric CRS.

    ``area_m2`` is already converted from ``unit``.  Raises :class:`InputError` when the median ratio is off by more than
    :data:`AREA_TOLERANCE` (a unit slip: hectares given as m² are 10 000x off), naming
    ``column``, the unit the values most likely are in and the fix; warns
    (:class:`~siteplan.core.errors.SiteplanWarning`) when only some parcels disagree.  Parcels
    without a positive declared area are not compared.
    """
    declared = parcels["area_m2"].to_numpy(dtype=float, na_value=np.nan)
    measured = shapely.area(metric_geometries(parcels))
    ok = np.isfinite(declared) & (declared > 0) & (measured > 0)
    if not ok.any():
        return
    ratio = declared[ok] / measured[ok]
    median = float(np.median(ratio))
    if not 1 / AREA_TOLERANCE <= median <= AREA_TOLERANCE:
        # The unit whose factor brings the median ratio nearest to 1.
        as_given = median / AREA_UNIT_M2[unit]
        likely = min(AREA_UNIT_M2, key=lambda u: abs(math.log(as_given * AREA_UNIT_M2[u])))
        fits = 1 / AREA_TOLERANCE <= as_given * AREA_UNIT_M2[likely] <= AREA_TOLERANCE
        if fits and likely != unit:
            fix = (f'the values look like {_UNIT_NAMES[likely]}: set [inputs.parcels] '
                   f'area_unit = "{likely}" (load_parcels(..., area_unit="{likely}")).')
        else:
            fix = ("check that the column holds each parcel's area, and that the layer's CRS "
                   "is right (outlines are measured in a metric CRS).")
        raise InputError(
            f"the declared areas in column {column!r}, read as {_UNIT_NAMES[unit]}, are "
            f"{median:.4g} times the parcels' own outline areas (median over {int(ok.sum())} "
            "parcels).", where=where, fix=fix)
    off = (ratio > AREA_TOLERANCE) | (ratio < 1 / AREA_TOLERANCE)
    if off.any():
        ids = parcels["parcel_id"].to_numpy(dtype=object)[ok][off] \
            if "parcel_id" in parcels.columns else np.flatnonzero(ok)[off]
        warnings.warn(
            f"{where}: {int(off.sum())} of {int(ok.sum())} parcels have a declared area in "
            f"column {column!r} more than {AREA_TOLERANCE:g}x off their outline's own area "
            f"(ids {_list_some(ids.tolist())}); they are kept, with the declared area. Check "
            "the area or the outline of each.", SiteplanWarning, stacklevel=3)


def load_parcels(
    path_or_gdf: str | Path | InputLayer | gpd.GeoDataFrame,
    *,
    id_column: str,
    aliases: Mapping[str, str] | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    coord_system: CoordSystem = "wgs84",
    crs: Any = None,
    non_polygon: Literal["error", "drop"] = "error",
    area_unit: AreaUnit = "m2",
) -> gpd.GeoDataFrame:
    """Load candidate parcels and normalise their ids and attributes.

    Parameters
    ----------
    path_or_gdf
        A vector file (GeoPackage, Shapefile, GeoJSON...), its description
        (:class:`~siteplan.io.inputs.InputLayer`, whose settings then replace ``layer``,
        ``encoding``, ``coord_system`` and ``crs``) or a GeoDataFrame.  A GeoDataFrame is
        copied, never modified.
    id_column
        The column holding each parcel's unique id (e.g. ``"地块编号"`` or ``"id"``); it becomes
        the string column ``parcel_id``.
    aliases
        Extra ``{source column: siteplan column}`` renames on top of :data:`DEFAULT_ALIASES`
        (地块编号 → parcel_code, 用地性质 → landuse_code, 面积 → area_m2, 容积率 → far,
        净地 → clean_land, 闲置收回 → idle_recovered, 户数 → households).
    layer
        Layer name inside a multi-layer file.
    encoding, coord_system
        Attribute encoding (e.g. ``"gbk"``) and Chinese map offsets (``"gcj02"``, ``"bd09"``)
        of the file, passed to :func:`siteplan.io.layers.read_layer`.
    crs
        The file's CRS when it declares none (a Shapefile without ``.prj``).
    non_polygon
        What to do with rows whose geometry is not a (Multi)Polygon (points, lines, empty or
        missing): ``"error"`` (default) raises :class:`InputError` listing them, because a
        candidate silently missing from a shortlist is worse than a stopped run; ``"drop"``
        drops them with a warning giving the count (also kept in ``attrs["dropped_non_polygon"]``).
    area_unit
        Unit of the declared area column (面积 → ``area_m2``): ``"m2"`` (default), ``"ha"``
        (公顷, 10 000 m²) or ``"mu"`` (亩, 10 000/15 m²); converted to square metres and checked
        against the outlines (:func:`check_declared_area`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``parcel_id`` (string) first, then the attributes (renamed), then geometry; input CRS
        kept; a fresh RangeIndex in input order.

    Raises
    ------
    InputError
        No features, no CRS, a missing id column, null or duplicate ids, non-polygons (with
        ``non_polygon="error"``), attribute values that cannot be parsed, or declared areas that
        do not match the outlines (a unit slip).

    Examples
    --------
    >>> parcels = load_parcels("data/taiyuan/parcels.gpkg", id_column="parcel_id")
    >>> len(parcels), list(parcels.columns)
    (1328, ['parcel_id', 'area_m2', 'far', 'landuse_code', 'covered_share', 'geometry'])

    A land-supply table with Chinese field names and areas in 公顷:

    >>> import geopandas as gpd
    >>> import shapely
    >>> table = gpd.GeoDataFrame(
    ...     {"地块编号": ["XD-01", "XD-02"], "面积": ["1.2", "0.8"], "净地": ["是", "否"],
    ...      "容积率": [2.5, 2.0]},
    ...     geometry=[shapely.box(372000, 4192000, 372100, 4192120),
    ...               shapely.box(372200, 4192000, 372300, 4192080)],
    ...     crs="EPSG:4547")
    >>> load_parcels(table, id_column="地块编号", area_unit="ha").drop(columns="geometry")
      parcel_id parcel_code  area_m2  clean_land  far
    0     XD-01       XD-01  12000.0        True  2.5
    1     XD-02       XD-02   8000.0       False  2.0
    """
    if area_unit not in AREA_UNIT_M2:
        raise InputError(f"unknown area unit {area_unit!r}.", where="parcels",
                         fix=f"use one of {', '.join(AREA_UNIT_M2)}.")
    if isinstance(path_or_gdf, gpd.GeoDataFrame):
        where = "parcels"
        gdf = path_or_gdf.copy()
    else:
        spec = (path_or_gdf if isinstance(path_or_gdf, InputLayer) else
                InputLayer(os.fspath(path_or_gdf), kind="parcels", layer=layer, crs=crs,
                           encoding=encoding, coord_system=coord_system))
        # Dropped empty geometries are named by their parcel ids, not only file positions.
        spec = dataclasses.replace(spec, id_column=id_column)
        where = display_source(spec.source)
        gdf = read_input(spec)
    _check_layer(gdf, id_column, where)
    gdf = gdf.reset_index(drop=True)
    text_ids = _parcel_ids(gdf[id_column], id_column, where)
    gdf, text_ids = _polygons_only(gdf, text_ids, non_polygon, where)
    gdf, rename = _renamed(gdf, id_column, aliases, where)
    gdf = _normalised(gdf, area_unit, where)
    gdf.insert(0, "parcel_id", text_ids.astype(str).to_numpy())
    gdf["parcel_id"] = gdf["parcel_id"].astype("string")
    if "area_m2" in gdf.columns:
        source = next((src for src, dst in rename.items() if dst == "area_m2"), "area_m2")
        check_declared_area(gdf, column=source, unit=area_unit, where=where)
    metric = gpd.GeoDataFrame(gdf[["parcel_id"]], geometry=metric_geometries(gdf))
    for text in implausible_parcels(metric, None):
        warnings.warn(f"{where}: {text}", SiteplanWarning, stacklevel=2)
    return gdf


def _check_layer(gdf: gpd.GeoDataFrame, id_column: str, where: str) -> None:
    """Refuse a parcel layer without features, without a CRS or without the id column."""
    if len(gdf) == 0:
        # An empty shortlist that exits 0 looks like "no parcel qualifies"; it is not.
        raise InputError("the parcel layer has no features.", where=where,
                         fix="check the path and the layer name (a GeoPackage can hold several "
                         "layers), or the query or filter that made the layer.")
    if gdf.crs is None:
        raise InputError("the parcel layer has no CRS.", where=where,
                         fix="declare it (e.g. a .prj file, or gdf.set_crs('EPSG:4547')).")
    if id_column not in gdf.columns:
        columns = [str(c) for c in gdf.columns if c != gdf.geometry.name]
        fix = "set [inputs.parcels] id_column to one of the listed columns."
        if id_column in {reread_as_gbk(c) for c in columns}:
            fix = ('the column names are GBK text read as Latin-1: set encoding = "gbk" in '
                   "[inputs.parcels] (or put a .cpg file containing GBK next to the .shp).")
        raise InputError(
            f"the id column {id_column!r} is not in the parcel layer "
            f"(columns: {_list_some(columns)}).", where=where, fix=fix)


def _parcel_ids(ids: pd.Series, id_column: str, where: str) -> pd.Series:
    """Return the ids as text, exactly as given; refuse missing, repeated and unprintable ids.

    Ids are never changed: a user joins the shortlist back to their table by them, so an id
    with a leading tab (a tab, then ``=1+2``) is refused rather than quietly made ``"=1+2"``, and one
    with surrounding spaces is kept as it is, with a warning.
    """
    text_ids = ids.astype("string")
    null = text_ids.isna() | (text_ids.str.strip() == "")
    if null.any():
        rows = np.flatnonzero(null.to_numpy())
        raise InputError(
            f"{len(rows)} parcel(s) have no id in column {id_column!r}: rows "
            f"{_list_some(rows.tolist())} "
            "(0-based, in file order).",
            where=where, fix="give every parcel an id.",
        )
    control = text_ids.str.contains(r"[\x00-\x1f\x7f]", regex=True).to_numpy(dtype=bool)
    if control.any():
        rows = np.flatnonzero(control)
        sample = [f"row {i}: {text_ids.iloc[i]!r}" for i in rows[:20]]
        raise InputError(
            f"{len(rows)} parcel id(s) in column {id_column!r} hold control characters (tab, "
            f"line break...), which no spreadsheet shows: {_list_some(sample)}.",
            where=where, fix="remove them from the ids at the source (ids are kept exactly "
            "as given, so that the shortlist joins back to the parcel table).")
    padded = (text_ids != text_ids.str.strip()).to_numpy(dtype=bool)
    if padded.any():
        sample = [repr(v) for v in text_ids[padded].tolist()]
        warnings.warn(f"{where}: {int(padded.sum())} parcel id(s) in column {id_column!r} begin "
                      f"or end with spaces: {_list_some(sample, 10)}; they are kept exactly as "
                      "given. Trim them at the source if the spaces are not part of the id.",
                      SiteplanWarning, stacklevel=4)
    if pd.api.types.is_float_dtype(ids) and (ids == ids.round()).all():
        # Integer ids read as floats (a column with blanks elsewhere) must not become "12.0".
        text_ids = ids.astype("int64").astype("string")
    dup = text_ids[text_ids.duplicated(keep=False)]
    if len(dup):
        names = sorted(dup.unique())
        raise InputError(
            f"{len(names)} parcel id(s) occur more than once in column {id_column!r}: "
            f"{_list_some(names)}.",
            where=where, fix="make the ids unique (or choose another id_column).",
        )
    return text_ids


def _polygons_only(gdf: gpd.GeoDataFrame, text_ids: pd.Series,
                   non_polygon: Literal["error", "drop"],
                   where: str) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """Refuse, or drop with a warning, the rows whose geometry is not a (Multi)Polygon."""
    geom_type = gdf.geometry.geom_type
    bad = ~geom_type.isin(POLYGON_TYPES).to_numpy() | gdf.geometry.is_empty.to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        kinds = geom_type.iloc[rows].fillna("missing").value_counts().to_dict()
        msg = (f"{len(rows)} parcel(s) are not polygons ({kinds}): ids "
               f"{_list_some(text_ids.iloc[rows].tolist())}.")
        if non_polygon == "error":
            raise InputError(msg, where=where,
                             fix="give parcel outlines as polygons, or pass "
                             "non_polygon='drop' to leave them out.")
        if bad.all():
            raise InputError(f"none of the {len(rows)} features is a polygon ({kinds}).",
                             where=where, fix="give parcel outlines as polygons.")
        # stacklevel 3: the warning points at the caller of load_parcels.
        warnings.warn(f"{where}: {msg} They were dropped.", SiteplanWarning, stacklevel=3)
        keep = ~bad
        gdf, text_ids = gdf[keep].reset_index(drop=True), text_ids[keep].reset_index(drop=True)
        gdf.attrs["dropped_non_polygon"] = int(bad.sum())
    return gdf, text_ids


def _renamed(gdf: gpd.GeoDataFrame, id_column: str, aliases: Mapping[str, str] | None,
             where: str) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """Rename the aliased columns (and drop an id column named ``parcel_id``).

    Returns the renamed layer and the renames that applied.
    """
    rename = dict(DEFAULT_ALIASES)
    rename.update(aliases or {})
    rename = {src: dst for src, dst in rename.items() if src in gdf.columns}
    clash = [dst for src, dst in rename.items() if dst in gdf.columns and dst not in rename]
    if clash:
        raise InputError(
            f"both an alias and the column it maps to exist: {_list_some(clash)}.",
            where=where, fix="rename or drop one of the two columns.",
        )
    if id_column == "parcel_id":
        gdf = gdf.drop(columns="parcel_id")
    elif "parcel_id" in gdf.columns:
        raise InputError(
            f"the layer has a 'parcel_id' column, but id_column is {id_column!r}.",
            where=where, fix="set id_column = 'parcel_id', or rename the existing column.",
        )
    return gdf.rename(columns=rename), rename


def _normalised(gdf: gpd.GeoDataFrame, area_unit: AreaUnit, where: str) -> gpd.GeoDataFrame:
    """Parse the yes/no and numeric columns, convert areas to m², pad the land-use codes."""
    for col in BOOL_COLUMNS:
        if col in gdf.columns:
            gdf[col] = parse_bool(gdf[col], where=where, column=col)
    for col in NUMERIC_COLUMNS:
        if col in gdf.columns:
            gdf[col] = _parse_numeric(gdf[col], where=where, column=col)
    if "area_m2" in gdf.columns:
        gdf["area_m2"] = gdf["area_m2"] * AREA_UNIT_M2[area_unit]
    if "landuse_code" in gdf.columns:
        gdf["landuse_code"] = _landuse_codes(gdf["landuse_code"])
    return gdf


__all__ = [
    "AREA_TOLERANCE",
    "BOOL_COLUMNS",
    "DEFAULT_ALIASES",
    "NUMERIC_COLUMNS",
    "check_declared_area",
    "load_parcels",
    "parse_bool",
    # Also importable from here (homes: siteplan.parcels.shapes, siteplan.parcels.blocks):
    "BLOCK_HIGHWAYS",
    "BLOCK_RAILWAYS",
    "BLOCK_WATERWAYS",
    "CORNER_SIMPLIFY_M",
    "POLYGON_TYPES",
    "area_ha",
    "block_lines",
    "blocks_from_streets",
    "compactness",
    "concave_corners",
    "exclusion_polygons",
    "metric_geometries",
    "shape_measure",
]
