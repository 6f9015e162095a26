"""Candidate parcels: loading a user's parcel layer.

A parcels GeoDataFrame has a string ``parcel_id`` plus the user's attributes.  Chinese field
names common in land-supply tables are recognised (地块编号, 用地性质, 面积, 容积率, 净地,
闲置收回) and renamed to English column names; values are normalised (booleans from 是/否,
land-use codes as zero-padded strings).

Where a city has no parcel layer, :func:`siteplan.blocks.blocks_from_streets` makes candidate
parcels as urban blocks.  Shape measures (area, compactness, concave corners) are in
:mod:`siteplan.parcel_shapes`.  Both are importable from here as well.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from siteplan.blocks import (
    BLOCK_HIGHWAYS,
    BLOCK_RAILWAYS,
    BLOCK_WATERWAYS,
    block_lines,
    blocks_from_streets,
    exclusion_polygons,
)
from siteplan.crs import CoordSystem
from siteplan.errors import InputError
from siteplan.parcel_shapes import (
    CORNER_SIMPLIFY_M,
    POLYGON_TYPES,
    area_ha,
    compactness,
    concave_corners,
    metric_geometries,
    shape_measure,
)
from siteplan.postgis import display_source

if TYPE_CHECKING:
    from siteplan.config import Study

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

BOOL_COLUMNS = ("clean_land", "idle_recovered")
NUMERIC_COLUMNS = ("area_m2", "far", "households")

_TRUE = {"是", "yes", "y", "true", "t", "1", "1.0"}
_FALSE = {"否", "no", "n", "false", "f", "0", "0.0"}


def _list_some(values: Sequence[object], limit: int = 20) -> str:
    shown = ", ".join(str(v) for v in list(values)[:limit])
    more = len(values) - limit
    return shown + (f" ... and {more} more" if more > 0 else "")


def _read_layer(path: str | Path, layer: str | None, encoding: str | None,
                coord_system: CoordSystem, crs: Any) -> gpd.GeoDataFrame:
    # The single place parcels are read from disk: siteplan.io checks CRS, coordinates and
    # encodings and repairs invalid polygons.
    from siteplan.io import read_layer

    return read_layer(path, layer=layer, crs=crs, encoding=encoding, coord_system=coord_system,
                      kind="parcels")


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


def load_parcels(
    path_or_gdf: str | Path | gpd.GeoDataFrame,
    *,
    id_column: str,
    aliases: Mapping[str, str] | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    coord_system: CoordSystem = "wgs84",
    crs: Any = None,
    non_polygon: Literal["error", "drop"] = "error",
) -> gpd.GeoDataFrame:
    """Load candidate parcels and normalise their ids and attributes.

    Parameters
    ----------
    path_or_gdf
        A vector file (GeoPackage, Shapefile, GeoJSON...) or a GeoDataFrame.  A GeoDataFrame is
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
        of the file, passed to :func:`siteplan.io.read_layer`.
    crs
        The file's CRS when it declares none (a Shapefile without ``.prj``).
    non_polygon
        What to do with rows whose geometry is not a (Multi)Polygon (points, lines, empty or
        missing): ``"error"`` (default) raises :class:`InputError` listing them, because a
        candidate silently missing from a shortlist is worse than a stopped run; ``"drop"``
        drops them with a warning giving the count (also kept in ``attrs["dropped_non_polygon"]``).

    Returns
    -------
    geopandas.GeoDataFrame
        ``parcel_id`` (string) first, then the attributes (renamed), then geometry; input CRS
        kept; a fresh RangeIndex in input order.

    Raises
    ------
    InputError
        No CRS, a missing id column, null or duplicate ids, non-polygons (with
        ``non_polygon="error"``), or attribute values that cannot be parsed.
    """
    if isinstance(path_or_gdf, gpd.GeoDataFrame):
        where = "parcels"
        gdf = path_or_gdf.copy()
    else:
        where = display_source(path_or_gdf)
        gdf = _read_layer(path_or_gdf, layer, encoding, coord_system, crs)
    if gdf.crs is None:
        raise InputError("the parcel layer has no CRS.", where=where,
                         fix="declare it (e.g. a .prj file, or gdf.set_crs('EPSG:4547')).")
    if id_column not in gdf.columns:
        raise InputError(
            f"the id column {id_column!r} is not in the parcel layer "
            f"(columns: {_list_some([c for c in gdf.columns if c != gdf.geometry.name])}).",
            where=where, fix="set [parcels] id_column to one of the listed columns.",
        )
    gdf = gdf.reset_index(drop=True)

    ids = gdf[id_column]
    text_ids = ids.astype("string").str.strip()
    null = text_ids.isna() | (text_ids == "")
    if null.any():
        rows = np.flatnonzero(null.to_numpy())
        raise InputError(
            f"{len(rows)} parcel(s) have no id in column {id_column!r}: rows "
            f"{_list_some(rows.tolist())} "
            "(0-based, in file order).",
            where=where, fix="give every parcel an id.",
        )
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
        warnings.warn(f"{where}: {msg} They were dropped.", stacklevel=2)
        keep = ~bad
        gdf, text_ids = gdf[keep].reset_index(drop=True), text_ids[keep].reset_index(drop=True)
        gdf.attrs["dropped_non_polygon"] = int(bad.sum())

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
    gdf = gdf.rename(columns=rename)

    for col in BOOL_COLUMNS:
        if col in gdf.columns:
            gdf[col] = parse_bool(gdf[col], where=where, column=col)
    for col in NUMERIC_COLUMNS:
        if col in gdf.columns:
            gdf[col] = _parse_numeric(gdf[col], where=where, column=col)
    if "landuse_code" in gdf.columns:
        gdf["landuse_code"] = _landuse_codes(gdf["landuse_code"])

    gdf.insert(0, "parcel_id", text_ids.astype(str).to_numpy())
    gdf["parcel_id"] = gdf["parcel_id"].astype("string")
    return gdf


def load_study_parcels(study: Study) -> gpd.GeoDataFrame:
    """The candidate parcels of a study's ``[inputs.parcels]``, loaded with :func:`load_parcels`
    (declared id column, field names, encoding and coordinate offsets)."""
    from siteplan.errors import ConfigError

    spec = study.inputs.parcels
    if spec is None:
        raise ConfigError("the study has no [inputs.parcels] section.",
                          where=study.source_path or "study config",
                          fix='add [inputs.parcels] with path = "parcels.gpkg" and id_column.')
    return load_parcels(spec.path, id_column=spec.id_column, aliases=spec.aliases(),
                        layer=spec.layer, encoding=spec.encoding,
                        coord_system=spec.coord_system or study.crs.coord_system,
                        crs=study.crs.input)


__all__ = [
    "BOOL_COLUMNS",
    "DEFAULT_ALIASES",
    "NUMERIC_COLUMNS",
    "load_parcels",
    "load_study_parcels",
    "parse_bool",
    # Also importable from here (homes: siteplan.parcel_shapes, siteplan.blocks):
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
