"""A city's OSM data for a new study: streets with the rail and water that bound blocks.

:func:`read_city` reads a raw OSM file (``.osm``, ``.osm.pbf``...), a line layer (a GDAL OSM
export, ``siteplan fetch-osm``'s GeoPackage, a bureau's street layer) or an Overpass query (a
place name or a bbox, online, cached) into one :class:`CitySources`: the lines (streets, and
the railways, rivers, canals and metro track that ``siteplan run`` and the block builder
read next to them) and the OSM features (facilities, land use, water).

Raw OSM readers give street lines only (ways with ``highway``), so the rail and water lines are
picked from the features, read with :data:`CITY_TAGS`, and moved to the lines.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from siteplan.core.defaults import MAX_SNAP_M
from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.tags import tag_column
from siteplan.io.crs import analysis_crs
from siteplan.io.layers import read_layer, repair_geometries
from siteplan.osm.features import FACILITY_TAGS, features_from_elements, lines_from_elements
from siteplan.osm.parse import is_osm_file, parse_osm
from siteplan.parcels.blocks import BLOCK_RAILWAYS, BLOCK_WATERWAYS

#: Lines that bound blocks or feed a proxy besides streets: surface rail, metro track (the
#: ``metro_line`` proxy), rivers and canals, and motorways (Overpass's walking network leaves
#: them out, yet they cut the city).
BARRIER_TAGS: dict[str, list[str]] = {
    "railway": [*BLOCK_RAILWAYS, "subway"],
    "waterway": [*BLOCK_WATERWAYS, "riverbank"],
    "natural": ["water"],
    "highway": ["motorway", "motorway_link"],
}

#: File suffixes read as a layer or raw OSM; anything else that is not an existing file is a
#: place name or bbox for Overpass.
FILE_SUFFIXES: tuple[str, ...] = (
    ".osm", ".pbf", ".gz", ".bz2", ".xml", ".gpkg", ".shp", ".geojson", ".json", ".fgb",
    ".gml", ".kml", ".sqlite", ".zip",
)


def _merge_tags(*specs: dict[str, Any]) -> dict[str, bool | list[str]]:
    """Join osmnx-style tag selections: ``True`` (any value) wins over lists, lists unite."""
    out: dict[str, bool | list[str]] = {}
    for spec in specs:
        for key, wanted in spec.items():
            have = out.get(key)
            if have is True or wanted is True:
                out[key] = True
            else:
                values = [wanted] if isinstance(wanted, str) else list(wanted)
                out[key] = list(dict.fromkeys([*(have or []), *values]))
    return out


#: What a new study reads of OSM: the facilities and land use, and the barrier lines.
CITY_TAGS: dict[str, bool | list[str]] = _merge_tags(FACILITY_TAGS, BARRIER_TAGS)


@dataclass(frozen=True)
class CitySources:
    """The lines and features of a city, as ``siteplan init`` writes them for the study.

    Attributes
    ----------
    lines
        Streets plus rail, metro track, rivers/canals and motorways (OSM tag columns or an
        ``other_tags`` hstore); ``siteplan run`` builds its walking network from the
        ``highway`` lines among them.
    features
        OSM-like features (facilities, land use, water areas), or None when the source has none.
    source
        What was read, for messages and the report.
    kind
        ``"osm"`` (a raw OSM file), ``"overpass"`` (a query) or ``"layer"`` (a line layer).
    area
        The area the streets span (:func:`street_area`), in the lines' CRS.
    repaired
        Geometries repaired or dropped as empty (broken as mapped, or cut by the extract).
    outside
        Features left out because they lie beyond ``area``.
    """

    lines: gpd.GeoDataFrame
    features: gpd.GeoDataFrame | None
    source: str
    kind: str
    area: BaseGeometry | None = None
    repaired: int = 0
    outside: int = 0


def is_file_source(text: str) -> bool:
    """Tell a file (existing, or named like one) from a place name or bbox for Overpass."""
    path = Path(text)
    return path.exists() or path.name.lower().endswith(FILE_SUFFIXES) or "/" in text \
        or "\\" in text


def barrier_lines(features: gpd.GeoDataFrame) -> np.ndarray:
    """Mask the line features that are rail, metro track, rivers/canals or motorways."""
    line_like = features.geometry.geom_type.isin(["LineString", "MultiLineString"]).to_numpy(
        dtype=bool)
    hit = np.zeros(len(features), dtype=bool)
    for key, values in BARRIER_TAGS.items():
        hit |= tag_column(features, key).isin(values).fillna(False).to_numpy(dtype=bool)
    out: np.ndarray = line_like & hit
    return out


def _way_ids(osm_ids: pd.Series) -> pd.Series:
    """``"way/123"`` (features) -> ``"123"`` (lines, as GDAL's OSM driver writes way ids)."""
    return osm_ids.astype("string").str.replace(r"^way/", "", regex=True)


def split_features(lines: gpd.GeoDataFrame,
                   features: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame,
                                                             gpd.GeoDataFrame | None]:
    """Move the barrier lines from the features to the lines (each way once).

    Returns
    -------
    lines, features
        The lines with the rail/water/motorway lines appended (ways already among the lines
        are not added twice), and the other features.
    """
    if features is None or len(features) == 0:
        return lines, features
    mask = barrier_lines(features)
    if not mask.any():
        return lines, features
    moved = features[mask].copy()
    if "osm_id" in moved:
        moved["osm_id"] = _way_ids(moved["osm_id"])
        if "osm_id" in lines:
            have = set(lines["osm_id"].astype(str))
            moved = moved[~moved["osm_id"].astype(str).isin(have)]
    keep = [c for c in moved.columns if c in lines.columns or c in BARRIER_TAGS
            or c == moved.geometry.name]
    moved = moved[keep].drop(columns="osm_type", errors="ignore").to_crs(lines.crs)
    if moved.geometry.name != lines.geometry.name:
        moved = moved.rename_geometry(lines.geometry.name)
    out = pd.concat([lines, moved], ignore_index=True)
    rest = features[~mask].reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry=lines.geometry.name, crs=lines.crs), rest


def _repaired(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """Repair invalid geometries and drop empty ones; return how many were touched.

    OSM has broken polygons as mapped, and an extract cuts ways at its edge.  The count goes
    into the report rather than a warning per step: the files written are clean.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SiteplanWarning)
        out, counts = repair_geometries(frame.reset_index(drop=True), "OSM")
    return out.reset_index(drop=True), counts["repaired"] + counts["dropped_empty"]


def street_area(lines: gpd.GeoDataFrame) -> BaseGeometry:
    """Return the area the streets span (convex hull plus the snapping distance), in their CRS.

    Features beyond it cannot reach the walking network: an .osm extract also holds the far
    members of the route relations it touches (Beijing's: metro stations 5-9 km away).
    """
    metric = analysis_crs(lines)
    highway = tag_column(lines, "highway").notna().to_numpy(dtype=bool)
    streets = lines[highway] if highway.any() else lines
    xy = shapely.get_coordinates(streets.to_crs(metric).geometry.values)
    hull = shapely.buffer(shapely.convex_hull(shapely.multipoints(xy)), MAX_SNAP_M)
    area: BaseGeometry = gpd.GeoSeries([hull], crs=metric).to_crs(lines.crs).iloc[0]
    return area


def _within(frame: gpd.GeoDataFrame, area: BaseGeometry, crs: Any) -> np.ndarray:
    """Mask the rows of ``frame`` that touch ``area`` (given in ``crs``)."""
    local = gpd.GeoSeries([area], crs=crs).to_crs(frame.crs).iloc[0]
    shapely.prepare(local)
    hit: np.ndarray = shapely.intersects(np.asarray(frame.geometry.values), local)
    return hit


def _read_features(path: str | Path, crs: Any) -> gpd.GeoDataFrame:
    """Read a facility features file: raw OSM (with :data:`CITY_TAGS`) or an OSM-like layer."""
    if is_osm_file(path):
        return features_from_elements(parse_osm(path), CITY_TAGS)
    return read_layer(path, crs=crs, kind="facility features")


def read_city(source: str | Path, *, features: str | Path | None = None, crs: Any = None,
              cache_dir: str | Path = ".siteplan_cache/osm",
              refresh: bool = False, need_highway: bool = True) -> CitySources:
    """Read a city's streets, rail, water and facility features for a new study.

    Parameters
    ----------
    source
        A raw OSM file (``.osm``, ``.osm.gz``, ``.osm.bz2``, ``.osm.pbf``), a line layer with
        OSM ``highway`` tags, or, when no such file exists, a place name or a
        ``west,south,east,north`` bbox downloaded from Overpass (online; cached in
        ``cache_dir``).
    features
        OSM-like facility features to use with a line layer (raw OSM or a GDAL OSM export);
        a raw OSM source brings its own.
    crs
        CRS of a layer that does not declare one.
    cache_dir, refresh
        The Overpass cache (see :func:`siteplan.osm.overpass.fetch_osm`).
    need_highway
        Refuse a line layer without ``highway`` tags (a study needs them; blocks do not).

    Returns
    -------
    CitySources

    Raises
    ------
    InputError
        A missing or unreadable file, or a line layer without ``highway`` tags.
    NetworkError
        A query while Overpass cannot be reached.

    Examples
    --------
    >>> city = read_city("tests/data/beijing_haidian_pku_tsinghua_2017.osm")
    >>> city.kind, len(city.lines), len(city.features), city.outside
    ('osm', 695, 486, 26)
    >>> sorted(set(city.lines["railway"].dropna()))
    ['rail', 'subway']
    """
    text = str(source)
    found: gpd.GeoDataFrame | None
    if not is_file_source(text):
        from siteplan.osm.overpass import fetch_osm, parse_query

        lines, found = fetch_osm(parse_query(text), cache_dir=cache_dir, tags=CITY_TAGS,
                                 refresh=refresh)
        kind = "overpass"
    elif is_osm_file(text):
        el = parse_osm(text)
        lines, found = lines_from_elements(el), features_from_elements(el, CITY_TAGS)
        kind = "osm"
    else:
        lines = read_layer(text, crs=crs, kind="street layer")
        found = None
        kind = "layer"
        if need_highway and tag_column(lines, "highway").isna().all():
            raise InputError(
                "no line has an OSM highway tag, which the walking network is built from.",
                where=text,
                fix="give an .osm/.osm.pbf file, or add a highway column to the layer (e.g. "
                "highway = residential for streets); siteplan parcels --all-lines makes blocks "
                "from untagged lines.")
    if features is not None:
        extra = _read_features(features, crs)
        found = extra if found is None else pd.concat([found, extra.to_crs(found.crs)],
                                                      ignore_index=True)
    lines, fixed = _repaired(lines)
    if found is not None:
        found, more = _repaired(found)
        fixed += more
    lines, found = split_features(lines, found)
    area = street_area(lines)
    # Streets define the area; other lines and features beyond it are left out.
    keep = _within(lines, area, lines.crs) | tag_column(lines, "highway").notna().to_numpy(bool)
    lines = lines[keep].reset_index(drop=True)
    outside = 0
    if found is not None:
        inside = _within(found, area, lines.crs)
        outside = int((~inside).sum())
        found = found[inside].reset_index(drop=True)
    return CitySources(lines=lines, features=found, source=text, kind=kind, area=area,
                       repaired=fixed, outside=outside)


__all__ = ["BARRIER_TAGS", "CITY_TAGS", "CitySources", "barrier_lines", "is_file_source",
           "read_city", "split_features", "street_area"]
