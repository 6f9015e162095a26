"""Reading input layers: one function every stage calls, with errors a planner can act on.

:func:`read_layer` reads GeoPackage, Shapefile, GeoJSON (anything GDAL reads, via pyogrio) and
CSV tables with longitude/latitude columns.  It never writes to the input, insists on a CRS,
checks the coordinates against that CRS (swapped lon/lat, metres declared as degrees), converts
Chinese map offsets (GCJ-02, BD-09) to WGS84 on request, warns about mis-decoded Chinese text,
and repairs invalid geometries instead of failing on them.
"""

from __future__ import annotations

import codecs
import os
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.i18n import _, ngettext
from siteplan.io.crs import check_lonlat, to_wgs84
from siteplan.io.inputs import CoordSystem, InputLayer
from siteplan.io.mojibake import warn_if_mojibake
from siteplan.io.postgis.layers import is_postgis_url, read_postgis_layer

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}

# Column names recognised as coordinates in CSV files, compared case-insensitively.
LON_NAMES = ("lon", "lng", "long", "longitude", "经度", "x")
LAT_NAMES = ("lat", "latitude", "纬度", "y")
# Names that say "degrees"; a CSV with only x/y columns must declare its CRS.
_DEGREE_NAMES = set(LON_NAMES[:-1]) | set(LAT_NAMES[:-1])

# shapely type ids by family: points, lines, polygons.
_FAMILY_IDS = {
    "points": np.array([0, 4]),
    "lines": np.array([1, 2, 5]),
    "polygons": np.array([3, 6]),
}

# Family code per shapely type id (+1, so that -1 = missing maps to slot 0): 0 points,
# 1 lines, 2 polygons, -1 collections and missing.
_FAMILY_CODE = np.array([-1, 0, 1, 1, 2, 0, 1, 2, -1])


def read_layer(
    source: str | os.PathLike[str],
    *,
    layer: str | None = None,
    crs: Any = None,
    encoding: str | None = None,
    coord_system: CoordSystem = "wgs84",
    lon_column: str | None = None,
    lat_column: str | None = None,
    kind: str = "layer",
    id_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Read one vector layer or lon/lat CSV, checked and repaired.

    Parameters
    ----------
    source
        Path to a GeoPackage, Shapefile (``.shp``), GeoJSON, any other GDAL vector format, or a
        CSV (``.csv``/``.tsv``/``.txt``) with coordinate columns.
    layer
        Layer name inside a multi-layer file.  Required when the file holds more than one layer.
    crs
        The layer's CRS, when the file does not carry one (a Shapefile without ``.prj``, a CSV
        with ``x``/``y`` columns).  If the file has a different CRS, the declared one wins and a
        :class:`~siteplan.core.errors.SiteplanWarning` says so.  CSVs whose columns are named
        lon/lat/longitude/latitude/经度/纬度 default to EPSG:4326.
    encoding
        Text encoding of the attributes, e.g. ``"gbk"`` for Shapefiles written by Chinese
        desktop GIS without a ``.cpg`` file, or for CSVs saved by Excel in GBK.
    coord_system
        ``"gcj02"`` (Amap, Tencent) or ``"bd09"`` (Baidu) converts the coordinates to WGS84
        (the result's CRS is EPSG:4326); only valid for a geographic layer.
    lon_column, lat_column
        CSV coordinate columns, when their names are not among the recognised ones.
    kind
        What the layer is for (``"facility layer"``, ``"parcels"``), used in messages.
    id_column
        The column identifying each feature: repaired or dropped geometries are named by it.

    Returns
    -------
    geopandas.GeoDataFrame
        Index = the feature's 0-based position in the file (rows dropped for empty geometry
        leave gaps, so positions stay traceable).  ``attrs["siteplan_repairs"]`` is
        ``{"repaired": n, "dropped_empty": m}``; ``attrs["siteplan_source"]`` is the path.

    Raises
    ------
    InputError
        Missing, unreadable, empty or corrupt file; unknown or ambiguous layer; no CRS;
        coordinates that contradict the CRS; bad CSV coordinate columns.

    Examples
    --------
    >>> parcels = read_layer("data/taiyuan/parcels.gpkg", kind="parcels")
    >>> len(parcels), parcels.crs.to_string()
    (1328, 'EPSG:4326')
    >>> parcels.attrs["siteplan_repairs"]
    {'repaired': 0, 'dropped_empty': 0}
    >>> read_layer("data/taiyuan/no_such_file.gpkg", kind="parcels")
    Traceback (most recent call last):
        ...
    siteplan.core.errors.InputError: parcels data/taiyuan/no_such_file.gpkg: file not found. ...
    """
    if is_postgis_url(source):
        # A PostGIS table or query: the database gives the CRS (SRID); ``layer`` is the table.
        gdf = read_postgis_layer(os.fspath(source), table=layer, crs=crs, kind=kind)
        label = gdf.attrs["siteplan_source"]  # the URL without its password
        return _checked(gdf, f"{kind} {label}", coord_system, label, id_column)
    path = Path(source)
    where = f"{kind} {path}" + (f" (layer {layer!r})" if layer else "")
    _check_file(path, where)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise _unknown_encoding(encoding, where) from None
    if path.suffix.lower() in CSV_SUFFIXES:
        gdf = _read_csv(path, where, crs, encoding, lon_column, lat_column)
    else:
        gdf = _read_vector(path, where, layer, encoding)
        gdf = _apply_crs(gdf, crs, where)
    return _checked(gdf, where, coord_system, str(path), id_column)


def read_input(spec: InputLayer) -> gpd.GeoDataFrame:
    """Read the input layer a study describes, with all of its settings.

    Parameters
    ----------
    spec
        Where the layer is and how to read it (:meth:`siteplan.study.model.Study.input_layer`).

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`read_layer`.

    Examples
    --------
    >>> from siteplan.io.inputs import InputLayer
    >>> spec = InputLayer("data/taiyuan/parcels.gpkg", kind="parcels")
    >>> len(read_input(spec)) > 0
    True
    """
    return read_layer(spec.source, layer=spec.layer, crs=spec.crs, encoding=spec.encoding,
                      coord_system=spec.coord_system, lon_column=spec.lon_column,
                      lat_column=spec.lat_column, kind=spec.kind, id_column=spec.id_column)


def _checked(gdf: gpd.GeoDataFrame, where: str, coord_system: CoordSystem,
             source_label: str, id_column: str | None = None) -> gpd.GeoDataFrame:
    """Repairs, the lon/lat sanity check and the GCJ-02/BD-09 conversion, for any source."""
    gdf, repairs = repair_geometries(gdf, where, id_column)
    check_lonlat(gdf.total_bounds, gdf.crs, where)
    if coord_system != "wgs84":
        if not gdf.crs.is_geographic:
            raise InputError(
                f"coord_system={coord_system!r} applies to longitude/latitude layers, but the "
                f"layer's CRS {gdf.crs.to_string()} is projected.",
                where=where,
                fix='remove coord_system (or set "wgs84"); GCJ-02/BD-09 offsets exist only '
                "for lon/lat coordinates from Chinese web maps.",
            )
        gdf = gpd.GeoDataFrame(
            gdf.drop(columns=gdf.geometry.name),
            geometry=gpd.GeoSeries(
                to_wgs84(gdf.geometry.to_numpy(), coord_system), index=gdf.index, name="geometry"
            ),
            crs="EPSG:4326",
        )
    gdf.attrs["siteplan_repairs"] = repairs
    gdf.attrs["siteplan_source"] = source_label
    return gdf


def _check_file(path: Path, where: str) -> None:
    try:
        path.stat()
    except PermissionError:
        # A folder on the path cannot be entered (no x permission): the file may well exist.
        raise InputError(
            _("cannot be reached (permission denied on a folder of its path)."),
            where=where,
            fix=_("give your user access to the folders on the path (chmod u+rx), or copy the "
                  "file somewhere readable."),
        ) from None
    except OSError:
        pass  # missing: reported below with similar names
    if not path.exists():
        hint = ""
        if path.parent.is_dir():
            similar = sorted(p.name for p in path.parent.glob(f"*{path.suffix}"))[:8]
            if similar:
                hint = _(" Files with that extension there: {names}.").format(
                    names=", ".join(similar))
        raise InputError(
            _("file not found.") + hint,
            where=where,
            fix=_("check the path (relative paths are relative to the working directory)."),
        )
    if path.is_dir():
        raise InputError(
            _("is a folder, not a file."),
            where=where,
            fix=_("point to the .gpkg/.shp/.geojson/.csv file inside it."),
        )
    if not path.is_file():
        # A FIFO, socket or device: reading it would block or read something else entirely
        # (and its size of 0 would be misreported as an empty file).
        raise InputError(
            _("is not a regular file (a pipe, socket or device)."),
            where=where,
            fix=_("point to the data file itself (copy it to disk first if it is streamed)."),
        )
    if not os.access(path, os.R_OK):
        raise InputError(
            _("file exists but cannot be read (permission denied)."),
            where=where,
            fix=_("give your user read permission (e.g. chmod u+r), or copy the file."),
        )
    if path.stat().st_size == 0:
        raise InputError(
            _("file is empty (0 bytes)."),
            where=where,
            fix=_("re-export or re-download it; an interrupted copy often leaves an empty "
                  "file."),
        )


def _read_vector(
    path: Path, where: str, layer: str | None, encoding: str | None
) -> gpd.GeoDataFrame:
    try:
        with warnings.catch_warnings():
            # GDAL's notes on odd files reach the user without the file name; real problems
            # raise and are reported below.
            warnings.simplefilter("ignore", RuntimeWarning)
            layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:  # pyogrio raises DataSourceError for anything GDAL cannot open
        raise InputError(
            _("cannot be read as a vector layer ({reason}).").format(reason=_first_line(exc)),
            where=where,
            fix=_("check the file is complete (a truncated download or copy is the usual "
                  "cause) and is a GeoPackage, Shapefile, GeoJSON or CSV."),
        ) from None
    if layer is not None and layer not in layers:
        raise InputError(
            _("has no layer {layer!r}; layers present: {layers}.").format(
                layer=layer, layers=", ".join(map(repr, layers))),
            where=where,
            fix=_("pass one of those names as the layer."),
        )
    if layer is None and len(layers) > 1:
        raise InputError(
            _("holds {n} layers ({layers}) and none was chosen.").format(
                n=len(layers), layers=", ".join(map(repr, layers))),
            where=where,
            fix=_("say which one to read (layer=...)."),
        )
    is_shp = path.suffix.lower() == ".shp"
    undeclared_dbf = is_shp and encoding is None and not path.with_suffix(".cpg").exists()
    undeclared_dbf = undeclared_dbf and not path.with_suffix(".CPG").exists()
    try:
        with warnings.catch_warnings():
            # GDAL's own notes (e.g. "Non-conformant content") would otherwise reach the user
            # without the file name; real problems raise and are reported below.
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf = gpd.read_file(path, layer=layer, engine="pyogrio", encoding=encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            _("its attribute text is not valid {encoding} ({reason}).").format(
                encoding=encoding or "UTF-8", reason=_first_line(exc)),
            where=where,
            fix=_('declare the encoding it was written in, e.g. encoding="gbk" for files from '
                  "Chinese desktop GIS."),
        ) from None
    except Exception as exc:
        raise InputError(
            _("cannot be read ({reason}).").format(reason=_first_line(exc)),
            where=where,
            fix=_("check the file is complete (for a Shapefile, the .shp, .shx and .dbf must "
                  "all be present) and opens in QGIS."),
        ) from None
    if undeclared_dbf:
        warn_if_mojibake(gdf, where)
    gdf.index = pd.RangeIndex(len(gdf))
    return gdf


def _apply_crs(gdf: gpd.GeoDataFrame, crs: Any, where: str) -> gpd.GeoDataFrame:
    declared = None
    if crs is not None:
        try:
            declared = CRS.from_user_input(crs)
        except Exception:
            raise InputError(
                _("the declared CRS {crs!r} is not a CRS pyproj understands.").format(crs=crs),
                where=where,
                fix=_("use an EPSG code such as 'EPSG:4326', 'EPSG:4490' or 'EPSG:4547'."),
            ) from None
    if gdf.crs is None:
        if declared is None:
            raise InputError(
                _("has no CRS (no .prj file or spatial reference)."),
                where=where,
                fix=_("declare it: in the study file [crs] input = \"EPSG:4326\" (or crs = ... "
                      "on the layer's [[inputs.layers]] entry), in Python "
                      "read_layer(..., crs=...); EPSG:4326 is WGS84 lon/lat, EPSG:4490 CGCS2000 "
                      "lon/lat, EPSG:4547 CGCS2000 3-degree zone CM 114°E.  Or add the .prj "
                      "file that came with the data."),
            )
        return gdf.set_crs(declared)
    if declared is not None and not declared.equals(gdf.crs):
        warnings.warn(
            _("{where}: the file says its CRS is {found}, but {declared} was declared; using "
              "the declared CRS.").format(where=where, found=gdf.crs.to_string(),
                                          declared=declared.to_string()),
            SiteplanWarning,
            stacklevel=3,
        )
        return gdf.set_crs(declared, allow_override=True)
    return gdf


def _unknown_encoding(encoding: str | None, where: str) -> InputError:
    return InputError(
        f"unknown text encoding {encoding!r}.",
        where=where,
        fix='use a Python codec name such as "gbk", "gb18030" or "utf-8".',
    )


def _read_csv(
    path: Path,
    where: str,
    crs: Any,
    encoding: str | None,
    lon_column: str | None,
    lat_column: str | None,
) -> gpd.GeoDataFrame:
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        df = pd.read_csv(path, sep=sep, encoding=encoding or "utf-8-sig", dtype=str)
    except UnicodeDecodeError:
        raise InputError(
            f"is not {encoding or 'UTF-8'} text.",
            where=where,
            fix='declare its encoding, e.g. encoding="gbk" for CSVs saved by Excel in Chinese '
            "Windows.",
        ) from None
    except LookupError:  # a codec that is not a text encoding, such as "base64"
        raise _unknown_encoding(encoding, where) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(
            f"is not a readable CSV table ({_first_line(exc)}).",
            where=where,
            fix="check the file is complete and comma-separated with one header row.",
        ) from None
    lon_col = _find_column(df, lon_column, LON_NAMES, "longitude", where)
    lat_col = _find_column(df, lat_column, LAT_NAMES, "latitude", where)
    lon = pd.to_numeric(df[lon_col].str.strip(), errors="coerce")
    lat = pd.to_numeric(df[lat_col].str.strip(), errors="coerce")
    bad = (lon.isna() & df[lon_col].notna()) | (lat.isna() & df[lat_col].notna())
    if bad.any():
        rows = (np.flatnonzero(bad.to_numpy()) + 2).tolist()  # +2: header line, 1-based lines
        example = df.loc[bad, [lon_col, lat_col]].iloc[0].tolist()
        raise InputError(
            f"{int(bad.sum())} row(s) have non-numeric coordinates in {lon_col!r}/{lat_col!r} "
            f"(lines {rows[:10]}{'...' if len(rows) > 10 else ''}; first: {example}).",
            where=where,
            fix="use decimal degrees such as 112.5634 (not 112°33'48\"), or leave the cell empty.",
        )
    geometry = gpd.points_from_xy(lon, lat)  # missing coordinates become empty points
    gdf = gpd.GeoDataFrame(df, geometry=geometry)
    if crs is None:
        if {lon_col.strip().lower(), lat_col.strip().lower()} <= _DEGREE_NAMES:
            crs = "EPSG:4326"
        else:
            raise InputError(
                f"coordinate columns {lon_col!r}/{lat_col!r} do not say whether they are "
                "degrees or metres, and no CRS was declared.",
                where=where,
                fix="declare crs=..., e.g. 'EPSG:4326' for lon/lat degrees or 'EPSG:4547' "
                "for CGCS2000 3-degree zone metres.",
            )
    return _apply_crs(gdf, crs, where)


def _find_column(
    df: pd.DataFrame, declared: str | None, names: tuple[str, ...], what: str, where: str
) -> str:
    if declared is not None:
        if declared not in df.columns:
            raise InputError(
                f"has no column {declared!r} (declared as {what}); columns: "
                f"{', '.join(map(repr, df.columns))}.",
                where=where,
                fix=f"declare the {what} column by one of those names.",
            )
        return declared
    lowered: dict[str, str] = {str(c).strip().lower(): c for c in df.columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    raise InputError(
        f"no {what} column found (looked for {', '.join(names)}); columns: "
        f"{', '.join(map(repr, df.columns))}.",
        where=where,
        fix="rename the column or declare it (lon_column=/lat_column=).",
    )


def repair_geometries(gdf: gpd.GeoDataFrame, where: str, id_column: str | None = None
                      ) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Repair invalid geometries and drop empty ones, keeping each geometry's type family.

    Invalid geometries go through ``shapely.make_valid`` (structure method); when the result
    mixes types (a polygon whose repair leaves a dangling line), only the parts of the input's
    family are kept, so polygons stay polygonal.  Missing and empty geometries, and those that
    collapse to nothing, are dropped.  Both counts are returned and, if non-zero, reported by a
    :class:`~siteplan.core.errors.SiteplanWarning` naming the features by ``id_column`` (when the
    layer has it) and by their positions in the file.
    """
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    # Index labels are the features' positions in the file (read_layer), so the warning can
    # say which features were touched.
    labels = np.asarray(gdf.index, dtype=object)
    named = id_column is not None and id_column in gdf.columns
    if named:
        ids = gdf[id_column].astype(str).to_numpy(dtype=object)
        labels = np.array([f"{id_column} {i} (#{n})" for i, n in zip(ids, labels, strict=True)],
                          dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    invalid = ~missing & ~shapely.is_valid(geoms)
    n_invalid = int(invalid.sum())
    if n_invalid:
        geoms = geoms.copy()
        geoms[invalid] = _make_valid_same_family(geoms[invalid])
    drop = missing | shapely.is_empty(geoms)
    repairs = {"repaired": int((invalid & ~drop).sum()), "dropped_empty": int(drop.sum())}
    if n_invalid or drop.any():
        out = gdf.copy()
        out[out.geometry.name] = gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs)
        gdf = out.loc[~drop]
    if repairs["repaired"] or repairs["dropped_empty"]:
        said = []
        if repairs["repaired"]:
            n = repairs["repaired"]
            said.append(ngettext(
                "repaired {n} invalid geometry (self-intersections, bow-ties...; "
                "shapely.make_valid) at feature(s) {features}",
                "repaired {n} invalid geometries (self-intersections, bow-ties...; "
                "shapely.make_valid) at feature(s) {features}", n).format(
                    n=n, features=_some(labels[invalid & ~drop])))
        if repairs["dropped_empty"]:
            n = repairs["dropped_empty"]
            said.append(ngettext(
                "dropped {n} empty or missing geometry at feature(s) {features}",
                "dropped {n} empty or missing geometries at feature(s) {features}", n).format(
                    n=n, features=_some(labels[drop])))
        warnings.warn(
            _("{where}: {what} ({named}0-based positions in the file). Fix the geometries at "
              "the source (e.g. QGIS 'Fix geometries') to make this warning go away.").format(
                where=where, what=_(" and ").join(said), named="#: " if named else ""),
            SiteplanWarning,
            stacklevel=3,
        )
    return gdf, repairs


def _make_valid_same_family(geoms: np.ndarray) -> np.ndarray:
    fam_in = _family(geoms)
    fixed: np.ndarray = shapely.make_valid(geoms, method="structure", keep_collapsed=False)
    same = (_family(fixed) == fam_in) | shapely.is_empty(fixed)
    if same.all():
        return fixed
    # Mixed results (GeometryCollections): explode twice (collection, then multi-part), keep
    # the parts of the input's family and reassemble one multi-geometry per input.
    todo = np.flatnonzero(~same)
    parts, idx = shapely.get_parts(fixed[todo], return_index=True)
    parts, idx2 = shapely.get_parts(parts, return_index=True)
    idx = idx[idx2]
    keep = _family(parts) == fam_in[todo][idx]
    parts, idx = parts[keep], idx[keep]
    rebuilt = np.full(len(todo), shapely.Point(), dtype=object)
    builders = {"points": shapely.multipoints, "lines": shapely.multilinestrings}
    builders["polygons"] = shapely.multipolygons
    for family, builder in builders.items():
        sel = np.isin(shapely.get_type_id(parts), _FAMILY_IDS[family])
        if sel.any():
            out = np.full(len(todo), shapely.Point(), dtype=object)
            builder(parts[sel], indices=idx[sel], out=out)
            has = np.zeros(len(todo), dtype=bool)
            has[idx[sel]] = True
            rebuilt[has] = out[has]
    single = shapely.get_num_geometries(rebuilt) == 1
    rebuilt[single] = shapely.get_geometry(rebuilt[single], 0)
    fixed = fixed.copy()
    fixed[todo] = rebuilt
    return fixed


def is_polygonal(geoms: np.ndarray) -> np.ndarray:
    """Boolean mask of the Polygons and MultiPolygons in an array of geometries."""
    return np.isin(shapely.get_type_id(np.asarray(geoms, dtype=object)), _FAMILY_IDS["polygons"])


def _family(geoms: np.ndarray) -> np.ndarray:
    codes: np.ndarray = _FAMILY_CODE[shapely.get_type_id(geoms) + 1]
    return codes


def split_by_geometry_type(gdf: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Split a mixed layer into ``{"points", "lines", "polygons"}`` frames.

    Multi-part geometries go with their single-part family; GeometryCollections are exploded
    into their parts first (each part keeps its row's attributes and index).  Every key is
    present; a family with no features maps to an empty frame with the same columns and CRS.
    """
    is_coll = (shapely.get_type_id(np.asarray(gdf.geometry.array, dtype=object)) == 7).astype(bool)
    if is_coll.any():
        gdf = pd.concat([gdf.loc[~is_coll], gdf.loc[is_coll].explode(index_parts=False)])
    type_id = shapely.get_type_id(np.asarray(gdf.geometry.array, dtype=object))
    return {family: gdf.loc[np.isin(type_id, ids)] for family, ids in _FAMILY_IDS.items()}


def _some(values: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" ... and {len(values) - limit} more" if len(values) > limit else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
