"""Candidate parcels: loading a user's parcel layer, and urban blocks from street lines.

A parcels GeoDataFrame has a string ``parcel_id`` plus the user's attributes.  Chinese field
names common in land-supply tables are recognised (地块编号, 用地性质, 面积, 容积率, 净地,
闲置收回) and renamed to English column names; values are normalised (booleans from 是/否,
land-use codes as zero-padded strings).

Where a city has no parcel layer, :func:`blocks_from_streets` makes candidate parcels as urban
blocks: the faces enclosed by the street lines, minus blocks mostly covered by parks, water,
schools or hospitals.  ``scripts/make_taiyuan_parcels.py`` builds the bundled Taiyuan demo
candidates this way.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from siteplan.crs import CoordSystem, is_metric_crs, metric_crs_for_bounds
from siteplan.errors import InputError
from siteplan.tags import tag_column

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

_POLYGON_TYPES = ("Polygon", "MultiPolygon")

# Streets that bound urban blocks: the public road hierarchy down to residential streets.
# Footways, service roads and paths are left out: they run *inside* blocks (estate roads,
# campus paths) and would cut a block into courtyards.
BLOCK_HIGHWAYS: tuple[str, ...] = (
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential",
    "living_street", "pedestrian",
)
# Other lines that split the city into blocks (surface rail and rivers); subways run underground.
BLOCK_RAILWAYS: tuple[str, ...] = ("rail", "light_rail", "tram", "narrow_gauge")
BLOCK_WATERWAYS: tuple[str, ...] = ("river", "canal")


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
        where = str(path_or_gdf)
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
    bad = ~geom_type.isin(_POLYGON_TYPES).to_numpy() | gdf.geometry.is_empty.to_numpy()
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


# --------------------------------------------------------------------------------------------
# Shape measures (vectorised over parcels)

# Vertices closer than this to the simplified outline are digitising noise, not corners.
CORNER_SIMPLIFY_M = 0.5


def metric_geometries(parcels: gpd.GeoDataFrame | gpd.GeoSeries,
                      metric_crs: CRS | str | None = None) -> np.ndarray:
    """Parcel geometries in a metric CRS: ``metric_crs``, else the layer's own if it is metric,
    else the local UTM zone."""
    if parcels.crs is None:
        raise InputError("the parcels have no CRS.", where="parcels",
                         fix="declare it (gdf.set_crs(...)) before measuring shapes.")
    if metric_crs is not None:
        geo = parcels.to_crs(metric_crs)
    elif is_metric_crs(parcels.crs):
        geo = parcels
    else:
        geo = parcels.to_crs(metric_crs_for_bounds(parcels.to_crs(4326).total_bounds))
    return np.asarray(geo.geometry.values, dtype=object)


def area_ha(geoms: np.ndarray) -> np.ndarray:
    """Area in hectares of metric geometries."""
    return shapely.area(np.asarray(geoms, dtype=object)) / 1e4


def compactness(geoms: np.ndarray) -> np.ndarray:
    """方正度: area / area of the minimum rotated rectangle (1 for a rectangle, about 0.785
    for a circle, lower for L-shapes and slivers).  NaN for empty or zero-area geometries."""
    geoms = np.asarray(geoms, dtype=object)
    rect = shapely.area(shapely.oriented_envelope(geoms))
    area = shapely.area(geoms)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rect > 0, area / rect, np.nan)


def concave_corners(geoms: np.ndarray, *, min_turn_deg: float = 15.0,
                    simplify_m: float = CORNER_SIMPLIFY_M) -> np.ndarray:
    """Number of concave (reflex) corners of each polygon.

    Every ring is oriented so that the parcel lies on its left (exterior counter-clockwise,
    holes clockwise); a vertex where the outline turns right by more than ``min_turn_deg`` is a
    concave corner of the parcel, so an L-shape has 1, a U-shape 2, a square hole adds 4.
    Outlines are first simplified by ``simplify_m`` (metres) so digitising noise and
    near-collinear vertices along curved streets do not count.

    Parameters
    ----------
    geoms
        (Multi)Polygons in a metric CRS.

    Returns
    -------
    numpy.ndarray
        int64 counts; 0 for empty geometries.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = geoms.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    clean = shapely.orient_polygons(shapely.simplify(geoms, simplify_m, preserve_topology=True),
                                    exterior_cw=False)
    parts, part_owner = shapely.get_parts(clean, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    if xy.shape[0] == 0:
        return np.zeros(n, dtype=np.int64)
    n_ring = np.bincount(vertex_ring, minlength=rings.shape[0])
    start = np.cumsum(n_ring) - n_ring
    pos = np.arange(xy.shape[0]) - start[vertex_ring]
    size = n_ring[vertex_ring] - 1  # rings repeat their first vertex at the end
    keep = pos < size
    idx, ring, pos, size = np.flatnonzero(keep), vertex_ring[keep], pos[keep], size[keep]
    prev = start[ring] + (pos - 1) % size
    nxt = start[ring] + (pos + 1) % size
    e1 = xy[idx] - xy[prev]
    e2 = xy[nxt] - xy[idx]
    cross = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    dot = (e1 * e2).sum(axis=1)
    turn = np.degrees(np.arctan2(cross, dot))
    concave = turn < -min_turn_deg
    per_ring = np.bincount(ring[concave], minlength=rings.shape[0])
    per_part = np.bincount(ring_part, weights=per_ring, minlength=parts.shape[0])
    return np.bincount(part_owner, weights=per_part, minlength=n).astype(np.int64)


def shape_measure(geoms: np.ndarray, measure: str, *, corner_angle_deg: float = 15.0
                  ) -> np.ndarray:
    """One of ``"area_ha"``, ``"compactness"``, ``"concave_corners"`` for metric geometries."""
    if measure == "area_ha":
        return area_ha(geoms)
    if measure == "compactness":
        return compactness(geoms)
    if measure == "concave_corners":
        return concave_corners(geoms, min_turn_deg=corner_angle_deg).astype(float)
    raise InputError(f"unknown shape measure {measure!r}.", where="parcels",
                     fix="use area_ha, compactness or concave_corners.")


# --------------------------------------------------------------------------------------------
# Urban blocks from street lines


def block_lines(
    lines: gpd.GeoDataFrame,
    *,
    highways: Sequence[str] = BLOCK_HIGHWAYS,
    railways: Sequence[str] = BLOCK_RAILWAYS,
    waterways: Sequence[str] = BLOCK_WATERWAYS,
) -> gpd.GeoDataFrame:
    """The lines that bound urban blocks: streets of the given ``highway`` classes plus surface
    railways and rivers/canals.  Tags may be columns or sit in an hstore ``other_tags`` column."""
    hw = tag_column(lines, "highway").isin(list(highways)).fillna(False)
    rw = tag_column(lines, "railway").isin(list(railways)).fillna(False)
    ww = tag_column(lines, "waterway").isin(list(waterways)).fillna(False)
    return lines[(hw | rw | ww).to_numpy(dtype=bool)]


def exclusion_polygons(polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Areas that are not housing land: parks, water, schools, kindergartens, colleges,
    universities and hospitals (OSM tags ``leisure=park``, ``natural=water``,
    ``waterway=riverbank``, ``landuse=reservoir|basin``, ``amenity=school|kindergarten|college|
    university|hospital``)."""
    tests = {
        "leisure": ("park",),
        "natural": ("water",),
        "waterway": ("riverbank",),
        "landuse": ("reservoir", "basin"),
        "amenity": ("school", "kindergarten", "college", "university", "hospital"),
    }
    hit = np.zeros(len(polygons), dtype=bool)
    for key, values in tests.items():
        hit |= tag_column(polygons, key).isin(values).fillna(False).to_numpy(dtype=bool)
    out = polygons[hit]
    return out[out.geometry.geom_type.isin(_POLYGON_TYPES)]


def _covered_share(blocks: np.ndarray, cover: np.ndarray) -> np.ndarray:
    """Share of each block's area covered by the union of ``cover`` polygons."""
    share = np.zeros(blocks.shape[0])
    if cover.size == 0 or blocks.size == 0:
        return share
    union = shapely.union_all(shapely.make_valid(cover))
    shapely.prepare(union)
    touched = shapely.intersects(blocks, union)
    if touched.any():
        inter = shapely.intersection(blocks[touched], union)
        share[touched] = shapely.area(inter) / shapely.area(blocks[touched])
    return share


def blocks_from_streets(
    lines: gpd.GeoDataFrame | gpd.GeoSeries,
    exclude_polygons: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    min_ha: float = 0.5,
    max_ha: float = 50.0,
    max_covered_share: float = 0.5,
    *,
    residential_polygons: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    residential_share: float = 0.5,
    residential_code: str = "0701",
    default_far: float = 2.5,
    id_prefix: str = "TY-",
    metric_crs: CRS | str | None = None,
) -> gpd.GeoDataFrame:
    """Urban blocks enclosed by street lines, as candidate parcels.

    The lines are noded at every crossing (``shapely.union_all``), so bridges and overpasses
    also bound blocks, which is what a block outline should do; the faces of the noded network
    (``shapely.polygonize``) are the blocks.  Dangling streets are ignored.

    Parameters
    ----------
    lines
        Bounding lines with a CRS, already selected (see :func:`block_lines`).
    exclude_polygons
        Land that is not a housing candidate (see :func:`exclusion_polygons`).
    min_ha, max_ha
        Keep blocks with an area in ``[min_ha, max_ha]`` hectares: smaller faces are traffic
        islands and the gaps between dual carriageways; larger ones are open country at the edge
        of the street data.
    max_covered_share
        Drop blocks whose area is covered by ``exclude_polygons`` by more than this share.
    residential_polygons
        ``landuse=residential`` areas; a block covered by them by more than
        ``residential_share`` gets ``landuse_code = residential_code`` (0701 城镇住宅用地).
    default_far
        ``far`` given to every block.  An assumption for the demo (a typical new urban
        residential FAR in Taiyuan), not a planning condition.
    id_prefix
        Ids are ``<prefix>0001``... ordered by centroid (easting, then northing, rounded to
        0.01 m) in the metric CRS, so the same lines always give the same ids.
    metric_crs
        CRS for areas: when ``None``, the lines' own CRS if it is projected in metres, else
        the UTM zone of the data.

    Returns
    -------
    geopandas.GeoDataFrame
        ``parcel_id``, ``area_m2``, ``far``, ``landuse_code``, ``covered_share``, geometry, in
        the metric CRS.  ``attrs["counts"]`` holds how many faces were found, in the area
        range, dropped as covered, kept and residential.
    """
    if lines.crs is None:
        raise InputError("the street lines have no CRS.", where="blocks_from_streets",
                         fix="declare the CRS of the line layer.")
    if not 0 < min_ha <= max_ha:
        raise InputError(f"need 0 < min_ha <= max_ha, got {min_ha} and {max_ha}.",
                         where="blocks_from_streets", fix="choose a valid area range in hectares.")
    if metric_crs is not None:
        metric = CRS.from_user_input(metric_crs)
    elif is_metric_crs(lines.crs):
        metric = CRS.from_user_input(lines.crs)
    else:
        metric = metric_crs_for_bounds(lines.to_crs(4326).total_bounds)
    geoms = lines.to_crs(metric).geometry.values
    geoms = geoms[~shapely.is_empty(geoms) & ~pd.isna(geoms)]
    noded = shapely.union_all(geoms)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    area = shapely.area(faces)
    n_faces = int(faces.shape[0])
    faces = faces[(area >= min_ha * 1e4) & (area <= max_ha * 1e4)]

    def _metric(layer: gpd.GeoDataFrame | gpd.GeoSeries | None) -> np.ndarray:
        if layer is None or len(layer) == 0:
            return np.empty(0, dtype=object)
        return np.asarray(layer.to_crs(metric).geometry.values)

    covered = _covered_share(faces, _metric(exclude_polygons))
    keep = covered <= max_covered_share
    faces, covered = faces[keep], covered[keep]
    residential = _covered_share(faces, _metric(residential_polygons))

    centroid = shapely.get_coordinates(shapely.centroid(faces))
    order = np.lexsort((np.round(centroid[:, 1], 2), np.round(centroid[:, 0], 2)))
    faces, covered, residential = faces[order], covered[order], residential[order]
    # Normalised outlines: the same blocks always serialise to the same coordinates.
    faces = shapely.normalize(faces)
    n = faces.shape[0]
    width = max(4, len(str(n)))
    landuse = np.full(faces.shape[0], None, dtype=object)
    landuse[residential > residential_share] = residential_code
    blocks = gpd.GeoDataFrame(
        {
            "parcel_id": (id_prefix + pd.Series(np.arange(1, n + 1)).astype(str).str.zfill(width))
            .astype("string")
            .to_numpy(),
            "area_m2": np.round(shapely.area(faces), 1),
            "far": np.full(n, float(default_far)),
            "landuse_code": pd.array(landuse, dtype="string"),
            "covered_share": np.round(covered, 4),
        },
        geometry=faces,
        crs=metric,
    )
    blocks.attrs["counts"] = {
        "faces": n_faces,
        "in_area_range": int(keep.shape[0]),
        "dropped_covered": int((~keep).sum()),
        "kept": n,
        "residential": int((residential > residential_share).sum()),
    }
    return blocks


__all__ = [
    "area_ha",
    "compactness",
    "concave_corners",
    "load_study_parcels",
    "metric_geometries",
    "shape_measure",
    "BLOCK_HIGHWAYS",
    "BLOCK_RAILWAYS",
    "BLOCK_WATERWAYS",
    "DEFAULT_ALIASES",
    "block_lines",
    "blocks_from_streets",
    "exclusion_polygons",
    "load_parcels",
    "parse_bool",
]
