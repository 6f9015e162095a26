"""A GeoPackage that opens well in QGIS: default styles, Chinese field aliases, clean layers.

- :func:`facility_layers`: facilities split by geometry type (``facilities_points``,
  ``facilities_areas``, ``facilities_lines``), since a layer of mixed points and polygons has
  no single symbol;
- :func:`coverage_layer`: the coverage table of each class with the area its catchments cover
  as geometry, so that the numbers sit on a map;
- :func:`style_geopackage`: the ``layer_styles`` table QGIS reads a layer's default style from
  (parcels on a score ramp, catchments and blind spots in their class colour, facilities by
  class) and the field aliases (中文) in ``gpkg_data_columns`` (the GeoPackage schema
  extension, read by GDAL as the fields' alternative names) and in each style.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from siteplan.core.labels import Pairs, has_label, label
from siteplan.outputs.maps.style import BLIND_COLOUR, CLASS_STYLE, OTHER_STYLE, PROXY_STYLE

#: Score classes of the parcels' ramp (ColorBrewer RdYlBu, low red, high blue).
SCORE_RAMP = ((0, 20, "#d7191c"), (20, 40, "#fdae61"), (40, 60, "#ffffbf"),
              (60, 80, "#abd9e9"), (80, 100, "#2c7bb6"))
_GEOMETRY_LAYERS = {"Point": "facilities_points", "MultiPoint": "facilities_points",
                    "Polygon": "facilities_areas", "MultiPolygon": "facilities_areas",
                    "LineString": "facilities_lines", "MultiLineString": "facilities_lines"}
#: The facility layers' names (:func:`facility_layers`).
FACILITY_LAYERS = ("facilities_points", "facilities_areas", "facilities_lines")


def facility_layers(facilities: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Split facilities by geometry type: ``facilities_points``, ``_areas``, ``_lines``.

    Only the non-empty layers are returned; other geometry types (collections) go with the
    points, as their representative point.
    """
    kinds = facilities.geom_type.map(_GEOMETRY_LAYERS).fillna("facilities_points")
    out: dict[str, gpd.GeoDataFrame] = {}
    for name in FACILITY_LAYERS:
        part = facilities[kinds.to_numpy() == name].reset_index(drop=True)
        if name == "facilities_points":
            odd = ~part.geom_type.isin(["Point", "MultiPoint"])
            if odd.any():
                part = part.copy()
                part.loc[odd, part.geometry.name] = part.geometry[odd].representative_point()
        if len(part):
            out[name] = part
    return out


def coverage_layer(coverage: pd.DataFrame, catchments: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the coverage table with, per class, the union of its catchments as geometry."""
    union = {cls: shapely.union_all(group.geometry.to_numpy())
             for cls, group in catchments.groupby("class", sort=False)}
    geoms = [union.get(cls) for cls in coverage["class"]]
    return gpd.GeoDataFrame(pd.DataFrame(coverage).reset_index(drop=True),
                            geometry=gpd.GeoSeries(geoms, crs=catchments.crs).to_numpy(),
                            crs=catchments.crs)


def read_facilities(path: str | Path, names: Iterable[str]) -> gpd.GeoDataFrame | None:
    """Read the facilities back from the split layers (or the single one of an older file)."""
    names = list(names)
    parts = [gpd.read_file(path, layer=n, engine="pyogrio")
             for n in (*FACILITY_LAYERS, "facilities") if n in names]
    if not parts:
        return None
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=parts[0].crs)


# --------------------------------------------------------------------------------- styles (QML)


def _rgba(colour: str, alpha: int = 255) -> str:
    c = colour.lstrip("#")
    return f"{int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},{alpha}"


def _options(props: Mapping[str, str]) -> str:
    return ('<Option type="Map">' + "".join(
        f'<Option type="QString" name="{k}" value={quoteattr(v)}/>' for k, v in props.items())
        + "</Option>")


def _symbol(name: str, kind: str, colour: str, *, alpha: int = 255,
            outline: str = "#505050", style: str = "solid") -> str:
    if kind == "fill":
        layer, props = "SimpleFill", {"color": _rgba(colour, alpha), "style": style,
                                      "outline_color": _rgba(outline), "outline_width": "0.26",
                                      "outline_style": "solid"}
    elif kind == "line":
        layer, props = "SimpleLine", {"line_color": _rgba(colour), "line_width": "0.6"}
    else:
        layer, props = "SimpleMarker", {"color": _rgba(colour), "name": "circle", "size": "2.2",
                                        "outline_color": "255,255,255,255"}
    return (f'<symbol type="{kind}" name={quoteattr(name)} alpha="1" clip_to_extent="1" '
            f'force_rhr="0"><layer class="{layer}" enabled="1" locked="0" pass="0">'
            f"{_options(props)}</layer></symbol>")


def _aliases(columns: Iterable[str], labels: Pairs | None) -> str:
    rows = [f"<alias field={quoteattr(c)} index=\"{i}\" name={quoteattr(label(c, 'zh', labels))}/>"
            for i, c in enumerate(columns) if has_label(c, labels)]
    return "<aliases>" + "".join(rows) + "</aliases>"


def _qml(renderer: str, columns: Iterable[str], labels: Pairs | None) -> str:
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
            '<qgis version="3.28.0" styleCategories="Symbology|Fields">'
            f"{renderer}{_aliases(columns, labels)}</qgis>")


def _class_colour(cls: str) -> str:
    return CLASS_STYLE.get(cls, (PROXY_STYLE.get(cls, OTHER_STYLE[0]), ""))[0]


def _single(kind: str, colour: str, **kw: object) -> str:
    return ('<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" '
            f'forceraster="0"><symbols>{_symbol("0", kind, colour, **kw)}</symbols>'  # type: ignore[arg-type]
            "</renderer-v2>")


def _score_renderer() -> str:
    ranges = "".join(f'<range lower="{lo}" upper="{hi}" symbol="{i}" label="{lo}–{hi}" '
                     'render="true"/>' for i, (lo, hi, _) in enumerate(SCORE_RAMP))
    symbols = "".join(_symbol(str(i), "fill", c, alpha=220) for i, (_, _, c) in
                      enumerate(SCORE_RAMP))
    return ('<renderer-v2 type="graduatedSymbol" attr="score" graduatedMethod="GraduatedColor" '
            'symbollevels="0" enableorderby="0" forceraster="0">'
            f"<ranges>{ranges}</ranges><symbols>{symbols}</symbols></renderer-v2>")


def _class_renderer(kind: str, classes: Iterable[str]) -> str:
    classes = list(classes)
    cats = "".join(f'<category value={quoteattr(c)} symbol="{i}" '
                   f'label={quoteattr(label(c, "both"))} render="true"/>'
                   for i, c in enumerate(classes))
    symbols = "".join(_symbol(str(i), kind, _class_colour(c), alpha=200 if kind == "fill"
                              else 255) for i, c in enumerate(classes))
    return ('<renderer-v2 type="categorizedSymbol" attr="class" symbollevels="0" '
            'enableorderby="0" forceraster="0">'
            f"<categories>{cats}</categories><symbols>{symbols}</symbols></renderer-v2>")


def layer_style(name: str, frame: pd.DataFrame, labels: Pairs | None = None) -> str | None:
    """Return the QGIS style (QML) of a shortlist GeoPackage layer, or None for a plain table.

    Parcels: graduated by ``score`` (0-20 … 80-100).  ``catchments_<class>``: the class colour
    at 30 % opacity.  ``blind_spots_<class>``: hatched in the class colour, red outline.
    Facilities: categorised by ``class``.  Every style carries the columns' 中文 aliases.
    """
    columns = [str(c) for c in frame.columns if c != "geometry"]
    cls = name.split("_", 2)[-1] if name.startswith(("catchments_", "blind_spots_")) else ""
    if name == "parcels":
        renderer = _score_renderer()
    elif name.startswith("catchments_"):
        renderer = _single("fill", _class_colour(cls), alpha=77, outline=_class_colour(cls))
    elif name.startswith("blind_spots_"):
        renderer = _single("fill", _class_colour(cls) if cls != "frontage" else BLIND_COLOUR,
                           style="b_diagonal", outline=BLIND_COLOUR)
    elif name in FACILITY_LAYERS:
        kind = {"facilities_points": "marker", "facilities_areas": "fill"}.get(name, "line")
        present = [str(c) for c in pd.unique(frame["class"])] if "class" in frame else []
        renderer = _class_renderer(kind, present)
    elif name in ("coverage", "residential_units", "boundary", "unreachable"):
        renderer = _single("fill", "#9e9e9e", alpha=60)
    else:
        return None
    return _qml(renderer, columns, labels)


# ------------------------------------------------------------------------- writing the tables


def style_geopackage(path: str | Path, layers: Mapping[str, pd.DataFrame],
                     labels: Pairs | None = None, *, updated: str | None = None) -> None:
    """Add ``layer_styles`` (QGIS default styles) and 中文 field aliases to a GeoPackage.

    ``layers`` are the file's layers as written (``{name: frame}``); those with geometry get a
    default style, every layer's labelled columns an alias.  ``updated`` (ISO 8601, UTC) is the
    styles' ``update_time``: the run's ``created_utc``, so the time is the file's only
    run-specific value (now when not given).
    """
    now = (dt.datetime.fromisoformat(updated) if updated else dt.datetime.now(dt.UTC))
    now = now.replace(microsecond=0, tzinfo=None)
    rows = []
    for name, frame in layers.items():
        if not isinstance(frame, gpd.GeoDataFrame):
            continue
        qml = layer_style(name, frame, labels)
        if qml is None:
            continue
        rows.append({"f_table_catalog": "", "f_table_schema": "", "f_table_name": name,
                     "f_geometry_column": "geom", "styleName": f"siteplan {name}",
                     "styleQML": qml, "styleSLD": "", "useAsDefault": True,
                     "description": f"{label(name, 'both')} (siteplan)", "owner": "",
                     "ui": "", "update_time": now})
    if rows:
        pyogrio.write_dataframe(pd.DataFrame(rows), path, layer="layer_styles", driver="GPKG")
    _write_aliases(Path(path), layers, labels)


_DATA_COLUMNS = """CREATE TABLE IF NOT EXISTS gpkg_data_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT,
  description TEXT, mime_type TEXT, constraint_name TEXT,
  CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
  CONSTRAINT gdc_tn UNIQUE (table_name, name))"""
_EXTENSIONS = """CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))"""


def _write_aliases(path: Path, layers: Mapping[str, pd.DataFrame], labels: Pairs | None) -> None:
    """Write each labelled column's 中文 name (unique per table) to ``gpkg_data_columns``."""
    rows: list[tuple[str, str, str, str]] = []
    for table, frame in layers.items():
        seen: set[str] = set()
        for col in (str(c) for c in frame.columns if c != "geometry"):
            if not has_label(col, labels):
                continue
            zh = label(col, "zh", labels)
            if zh in seen:  # the spec wants the names unique within a table
                zh = f"{zh} ({col})"
            seen.add(zh)
            rows.append((table, col, zh, label(col, "en", labels)))
    if not rows:
        return
    with sqlite3.connect(path) as con:
        con.execute(_DATA_COLUMNS)
        con.execute(_EXTENSIONS)
        con.execute("INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkg_data_columns', NULL, "
                    "'gpkg_schema', 'http://www.geopackage.org/spec/#extension_schema', "
                    "'read-write')")
        con.executemany("INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, "
                        "name, title) VALUES (?, ?, ?, ?)", rows)
    con.close()


__all__ = ["FACILITY_LAYERS", "SCORE_RAMP", "coverage_layer", "facility_layers",
           "layer_style", "read_facilities", "style_geopackage"]

