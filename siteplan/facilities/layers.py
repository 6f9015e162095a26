"""Municipal facility layers: points, polygons or lon/lat CSVs whose class is declared.

:func:`load_facility_layer` reads a bureau's table of schools, hospitals... where the class is
given once for the whole file or per row in a column.  :func:`parse_class_values` reads the
class cells: class names, their English or Chinese labels, common Chinese synonyms
(:data:`CLASS_ALIASES`) and several classes in one cell (``"小学;初中"``, ``"九年一贯制"``).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from siteplan.core.errors import ConfigError, InputError
from siteplan.core.labels import CLASSES as CLASS_LABELS
from siteplan.facilities.rules import CLASSES
from siteplan.io.inputs import CoordSystem, InputLayer
from siteplan.io.layers import read_input
from siteplan.io.mojibake import reread_as_gbk
from siteplan.io.postgis.layers import display_source, is_postgis_url, parse_postgis_url

#: Class values accepted in a municipal layer's class column, besides the class names and
#: their English labels (compared after stripping and lower-casing).
CLASS_ALIASES: dict[str, tuple[str, ...]] = {
    "幼儿园": ("kindergarten",), "托儿所": ("kindergarten",), "幼稚园": ("kindergarten",),
    "小学": ("primary_school",),
    "初中": ("middle_school",), "初级中学": ("middle_school",), "中学": ("middle_school",),
    "高中": ("high_school",), "高级中学": ("high_school",),
    "九年一贯制": ("primary_school", "middle_school"),
    "九年一贯制学校": ("primary_school", "middle_school"),
    "完全中学": ("middle_school", "high_school"),
    "十二年一贯制": ("primary_school", "middle_school", "high_school"),
    "医院": ("hospital",), "综合医院": ("hospital",), "专科医院": ("hospital",),
    "社区卫生服务中心": ("clinic",), "社区卫生服务站": ("clinic",), "卫生服务中心": ("clinic",),
    "卫生服务站": ("clinic",), "卫生院": ("clinic",), "诊所": ("clinic",), "卫生室": ("clinic",),
    "公交站": ("bus_stop",), "公交车站": ("bus_stop",), "公交站点": ("bus_stop",),
    "地铁站": ("metro_station",), "轨道交通站": ("metro_station",), "地铁": ("metro_station",),
    "公园": ("park",), "游园": ("park",), "社区公园": ("park",),
    "养老院": ("elderly_care",), "敬老院": ("elderly_care",), "养老机构": ("elderly_care",),
    "日间照料中心": ("elderly_care",), "养老服务设施": ("elderly_care",),
}
# Several classes in one cell: "小学;初中", "primary_school, middle_school", "小学、初中".
_CLASS_SEPARATORS = re.compile(r"\s*[;,，；、/|+]\s*")

_NAME_COLUMNS = ("name", "名称", "名字", "mc", "name_zh", "学校名称", "机构名称")
#: Columns of a facility table (docs/design.md), plus ``matched_by``: why the row has its class.
FACILITY_COLUMNS = ("facility_id", "class", "name", "source", "matched_by")


def _class_lookup() -> dict[str, tuple[str, ...]]:
    lookup: dict[str, tuple[str, ...]] = {c: (c,) for c in CLASSES}
    for c in CLASSES:
        en, zh = CLASS_LABELS[c]
        lookup.setdefault(en.lower(), (c,))
        lookup.setdefault(zh, (c,))
    for alias, classes in CLASS_ALIASES.items():
        lookup.setdefault(alias.lower(), classes)
    return lookup


def parse_class_values(values: pd.Series) -> pd.Series:
    """Map class cells (``"kindergarten"``, ``"幼儿园"``, ``"小学;初中"``) to tuples of classes.

    Unknown values map to ``None``; missing cells stay missing.
    """
    lookup = _class_lookup()

    def one(cell: str) -> tuple[str, ...] | None:
        parts = [p for p in _CLASS_SEPARATORS.split(cell.strip().lower()) if p]
        mapped = [lookup.get(p) for p in parts]
        if not parts or any(m is None for m in mapped):
            return None
        return tuple(dict.fromkeys(c for m in mapped if m is not None for c in m))

    text = values.astype("string")
    uniq = {v: one(v) for v in text.dropna().unique().tolist()}
    return text.map(uniq, na_action="ignore").astype(object)


def _accepted_values() -> str:
    zh = [CLASS_LABELS[c][1] for c in CLASSES]
    return f"{', '.join(CLASSES)}; or 中文 such as {', '.join(dict.fromkeys(zh))}, 九年一贯制, 完全中学"


def load_facility_layer(
    path: str | os.PathLike[str] | InputLayer,
    *,
    class_: str | None = None,
    class_column: str | None = None,
    name_column: str | None = None,
    id_column: str | None = None,
    capacity_column: str | None = None,
    layer: str | None = None,
    crs: Any = None,
    encoding: str | None = None,
    coord_system: CoordSystem = "wgs84",
    lon_column: str | None = None,
    lat_column: str | None = None,
) -> gpd.GeoDataFrame:
    r"""Read a municipal facility layer whose class is declared.

    Parameters
    ----------
    path
        Points or polygons (GeoPackage, Shapefile, GeoJSON...) or a CSV with lon/lat columns.
    class_
        One class for the whole file (``"kindergarten"`` or ``"幼儿园"``).
    class_column
        Column holding each row's class: class names, their English labels or Chinese labels
        (幼儿园, 小学, 初中, 高中, 医院, 社区卫生服务站...; :data:`CLASS_ALIASES`).  A cell may name
        several classes (``"小学;初中"``, ``"九年一贯制"``): the row then yields one facility per
        class.
    name_column
        Column of names; by default the first of ``name``, ``名称``, ``名字``, ``mc``... present.
    id_column
        Column of unique ids; by default ``"<file name>:<row>"``.
    capacity_column
        Column of places (学位, 托位, beds); by default a ``capacity`` column, if any.
    layer, crs, encoding, coord_system, lon_column, lat_column
        How to read the file (:func:`siteplan.io.layers.read_layer`); replaced by the
        settings of ``path`` when it is an :class:`~siteplan.io.inputs.InputLayer`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``facility_id``, ``class``, ``name``, ``source`` (the file name), ``matched_by``,
        ``capacity`` (with a capacity column) and geometry in the layer's CRS (EPSG:4326 after
        a GCJ-02/BD-09 conversion).

    Raises
    ------
    ConfigError
        Neither or both of ``class_`` and ``class_column``.
    InputError
        Unreadable file, no features, a missing declared column, unknown or empty class
        values, duplicate ids.

    Examples
    --------
    A school list with lon/lat columns; a 九年一贯制 school is both a primary and a middle
    school:

    >>> import tempfile
    >>> from pathlib import Path
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = Path(tmp.name) / "schools.csv"
    >>> _ = path.write_text("编号,名称,类别,经度,纬度\n"
    ...                     "S01,五一路小学,小学,112.5634,37.8706\n"
    ...                     "S02,新建路学校,九年一贯制,112.5712,37.8651\n", encoding="utf-8")
    >>> schools = load_facility_layer(path, class_column="类别", id_column="编号")
    >>> schools[["facility_id", "class", "name", "matched_by"]]
      facility_id           class   name        matched_by
    0         S01  primary_school  五一路小学     column 类别: 小学
    1         S02  primary_school  新建路学校  column 类别: 九年一贯制
    2         S02   middle_school  新建路学校  column 类别: 九年一贯制
    >>> schools.crs.to_string()
    'EPSG:4326'
    >>> tmp.cleanup()
    """
    spec = (path if isinstance(path, InputLayer) else
            InputLayer(os.fspath(path), kind="facility layer", layer=layer, crs=crs,
                       encoding=encoding, coord_system=coord_system, lon_column=lon_column,
                       lat_column=lat_column))
    source, where = _source_and_where(spec)
    if (class_ is None) == (class_column is None):
        raise ConfigError(
            "say which class the facilities are: give either class_ (one class for the whole "
            "file) or class_column (a column of classes), not " +
            ("both." if class_ is not None else "neither."),
            where=where,
            fix="e.g. class_='kindergarten' or class_column='类别'.",
        )
    gdf = read_input(spec)
    if len(gdf) == 0:
        raise InputError("has no features with a geometry.", where=where,
                         fix="check the file and the layer; every facility needs a location.")
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    for role, col in (("class", class_column), ("name", name_column), ("id", id_column),
                      ("capacity", capacity_column)):
        if col is not None and col not in gdf.columns:
            raise _missing_column(col, role, columns, encoding, where)
    parsed, matched_by = _declared_classes(gdf, class_, class_column, encoding, where)
    names = _facility_names(gdf, columns, name_column)
    ids = _facility_ids(gdf, id_column, source, where)

    classes = parsed.to_numpy()
    n_classes = np.fromiter((len(c) for c in classes), dtype=np.int64, count=len(classes))
    row = np.repeat(np.arange(len(gdf)), n_classes)
    out = gpd.GeoDataFrame(
        {
            "facility_id": ids.to_numpy()[row],
            "class": [c for cs in classes for c in cs],
            "name": names.to_numpy()[row],
            "source": source,
            "matched_by": matched_by.to_numpy()[row],
        },
        geometry=np.asarray(gdf.geometry.values, dtype=object)[row],
        crs=gdf.crs,
    )
    for col in FACILITY_COLUMNS:
        out[col] = out[col].astype("string")
    cap = capacity_column or ("capacity" if "capacity" in gdf.columns else None)
    if cap is not None:
        out["capacity"] = pd.array(pd.to_numeric(gdf[cap], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)[row], dtype="Float64")
    out.attrs["siteplan_repairs"] = gdf.attrs.get("siteplan_repairs", {})
    return out


def _source_and_where(spec: InputLayer) -> tuple[str, str]:
    """Return the ``source`` value of the layer's rows and its name in messages."""
    layer = spec.layer
    if is_postgis_url(spec.source):
        source = layer or parse_postgis_url(spec.source).table or "postgis query"
        where = f"facility layer {display_source(spec.source)}"
    else:
        source = Path(spec.source).name + (f":{layer}" if layer else "")
        where = f"facility layer {spec.source}" + (f" (layer {layer!r})" if layer else "")
    return source, where


def _missing_column(col: str, role: str, columns: list[Any], encoding: str | None,
                    where: str) -> InputError:
    """Return the error for a declared column the layer lacks, with near and garbled names."""
    close = difflib.get_close_matches(col, [str(c) for c in columns], n=3)
    hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
    garbled = {str(c): g for c in columns if (g := reread_as_gbk(str(c))) is not None}
    if garbled and encoding is None:
        name, reads = next(iter(garbled.items()))
        hint += (f"; the column names look garbled ({name!r} reads as {reads!r} in GBK): "
                 'declare encoding = "gbk" for this layer')
    return InputError(
        f"has no column {col!r}, declared as the {role} column{hint}; columns present: "
        f"{', '.join(map(repr, columns))}.",
        where=where,
        fix=f"declare the {role} column by one of those names"
        + (", or give one class for the whole file with class_=..." if role == "class"
           else "."),
    )


def _declared_classes(gdf: gpd.GeoDataFrame, class_: str | None, class_column: str | None,
                      encoding: str | None, where: str) -> tuple[pd.Series, pd.Series]:
    """Return each row's classes (tuples) and why it has them; refuse empty or unknown ones."""
    if class_column is not None:
        raw = gdf[class_column]
        parsed = parse_class_values(raw)
        matched_by = "column " + class_column + ": " + raw.astype("string")
    else:
        assert class_ is not None
        raw = pd.Series(class_, index=gdf.index, dtype="string")
        parsed = parse_class_values(raw)
        matched_by = pd.Series(f"declared class {class_}", index=gdf.index, dtype="string")
    empty = raw.isna() | (raw.astype("string").str.strip() == "")
    if empty.any():
        rows = gdf.index[empty.to_numpy(bool)].tolist()
        raise InputError(
            f"{int(empty.sum())} feature(s) have no class in {class_column!r} (rows {rows[:10]}).",
            where=where, fix="fill in the class of every row, or drop those rows.")
    unknown = parsed.isna() & ~empty
    if unknown.any():
        bad = raw[unknown].astype(str).value_counts()
        listed = ", ".join(f"{v!r} ({n})" for v, n in bad.head(10).items())
        what = f"column {class_column!r}" if class_column else "class_"
        fix = f"use one of: {_accepted_values()}."
        odd = [(v, g) for v in bad.index[:10] if (g := reread_as_gbk(str(v))) is not None]
        if odd and encoding is None:
            fix = (f"the values look garbled ({odd[0][0]!r} reads as {odd[0][1]!r} in "
                   'GBK): declare encoding = "gbk" for this layer. Otherwise ' + fix)
        raise InputError(f"unknown class value(s) in {what}: {listed}.", where=where, fix=fix)
    return parsed, matched_by


def _facility_names(gdf: gpd.GeoDataFrame, columns: list[Any],
                    name_column: str | None) -> pd.Series:
    """Return the names: ``name_column``, else the first usual name column present, else NA."""
    if name_column is None:
        lowered = {str(c).strip().lower(): c for c in columns}
        name_column = next((lowered[n] for n in _NAME_COLUMNS if n in lowered), None)
    return (gdf[name_column].astype("string").str.strip() if name_column is not None
            else pd.Series(pd.NA, index=gdf.index, dtype="string"))


def _facility_ids(gdf: gpd.GeoDataFrame, id_column: str | None, source: str,
                  where: str) -> pd.Series:
    """Return the ids: ``id_column`` (unique, none missing), else ``<source>:<row>``."""
    if id_column is None:
        return pd.Series([f"{source}:{i}" for i in gdf.index], index=gdf.index, dtype="string")
    ids = gdf[id_column].astype("string")
    dup = ids.duplicated(keep=False) | ids.isna()
    if dup.any():
        raise InputError(
            f"the id column {id_column!r} has missing or repeated values "
            f"({', '.join(map(str, ids[dup].fillna('<missing>').unique()[:10]))}).",
            where=where, fix="give every facility its own id, or leave id_column unset.")
    return ids


__all__ = ["CLASS_ALIASES", "FACILITY_COLUMNS", "load_facility_layer", "parse_class_values"]
