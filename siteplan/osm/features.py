"""Street lines and facility features from raw OpenStreetMap files (.osm XML, .osm.pbf).

The readers return GeoDataFrames in EPSG:4326 with the same schema as GDAL's OSM driver (tag
columns plus an hstore ``other_tags``), so :func:`siteplan.network.build.graph_from_lines` and the
facility classifier take them unchanged.  Everything here is offline; :mod:`siteplan.osm.overpass`
downloads the same elements from Overpass and builds them with the same functions.  Files are
parsed into :class:`~siteplan.osm.parse.OsmElements` by :mod:`siteplan.osm.parse`; this module
turns those into tables.

Noding.  OSM ways meet where they share a *node id*; a line layer's lines meet where they share
a *coordinate*.  Two distinct nodes can also sit at identical coordinates: unmerged ends of one
street (they should meet) or a bridge node above a road node (it must not).  So
:func:`read_osm_lines` keeps every way's node ids, space-separated, in the
:data:`NODE_IDS_COLUMN` column, and :func:`~siteplan.network.build.graph_from_lines` joins
vertices of one id and decides about distinct coincident nodes by level
(:mod:`siteplan.network.coincident`).  The column is text, so the lines survive a GeoPackage
(the Overpass cache, ``siteplan fetch-osm``) with their topology.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.core.errors import InputError
from siteplan.core.tags import hstore
from siteplan.osm.parse import (
    BBox,
    OsmElements,
    elements_from_lists,
    parse_osm,
    parse_osm_pbf,
    parse_osm_xml,
)

#: Tag columns of :func:`read_osm_lines`: what the walk filter and the network report read.
LINE_COLUMNS: tuple[str, ...] = (
    "highway",
    "name",
    "area",
    "access",
    "foot",
    "service",
    "sidewalk",
    "sidewalk:both",
    "sidewalk:left",
    "sidewalk:right",
    "oneway",
    "bridge",
    "tunnel",
    "layer",
    "expressway",
    "motorroad",
)

#: Which elements :func:`read_osm_features` keeps, in osmnx's ``tags`` format: a key maps to
#: ``True`` (any value) or to the accepted values.  Landuse is kept whole because the coverage
#: stage needs residential areas; ``building=hospital`` because some hospitals are mapped only
#: as their buildings.
FACILITY_TAGS: dict[str, bool | list[str]] = {
    "amenity": True,
    "healthcare": True,
    "highway": ["bus_stop"],
    "public_transport": True,
    "railway": ["station", "halt", "subway_entrance", "tram_stop"],
    "station": True,
    "subway": True,
    "leisure": ["park", "garden", "playground", "pitch", "sports_centre", "stadium", "track",
                "fitness_station"],
    "social_facility": True,
    "landuse": True,
    "building": ["hospital"],
    # Shops and government offices: the life-circle preset (siteplan.facilities.lifecircle).
    "shop": True,
    "office": ["government"],
}

#: Tag columns of :func:`read_osm_features` (besides the ``tags`` keys); the rest go to
#: ``other_tags``.
FEATURE_COLUMNS: tuple[str, ...] = (
    "name",
    "name:zh",
    "name:en",
    "amenity",
    "healthcare",
    "highway",
    "public_transport",
    "railway",
    "station",
    "subway",
    "leisure",
    "social_facility",
    "social_facility:for",
    "landuse",
    "building",
    "isced:level",
    "school:level",
    "operator",
    "capacity",
)

#: The column of :func:`read_osm_lines` holding each line's OSM node ids, space-separated.
NODE_IDS_COLUMN = "osm_node_ids"


# ----------------------------------------------------------------------------------------------
# Builders


def _way_refs(el: OsmElements, way_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node row, owning position (index into ``way_rows``) and found flag of every reference."""
    starts = el.way_offsets[way_rows]
    counts = el.way_offsets[way_rows + 1] - starts
    owner = np.repeat(np.arange(way_rows.size), counts)
    ref_index = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    refs = el.way_refs[np.repeat(starts, counts) + ref_index]
    node_row = np.searchsorted(el.node_id, refs)
    node_row = np.minimum(node_row, max(el.node_id.size - 1, 0))
    found = el.node_id[node_row] == refs if el.node_id.size else np.zeros(refs.size, bool)
    return node_row, owner, found


def _way_vertices(el: OsmElements, way_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Node rows and owning position (index into ``way_rows``) of every vertex of the ways.

    References to nodes missing from the file are dropped; their count is returned.
    """
    node_row, owner, found = _way_refs(el, way_rows)
    return node_row[found], owner[found], int((~found).sum())


def _joined_ids(ids: np.ndarray, piece: np.ndarray, n_pieces: int) -> list[str]:
    """Join the ids of each piece's vertices into one space-separated string per piece."""
    text = ids.astype(str).tolist()
    bounds = np.r_[0, np.cumsum(np.bincount(piece, minlength=n_pieces))].tolist()
    return [" ".join(text[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _tag_frame(tags: Sequence[Mapping[str, str]], columns: Sequence[str]) -> pd.DataFrame:
    data = {c: pd.array([t.get(c) for t in tags], dtype="string") for c in columns}
    data["other_tags"] = pd.array([hstore(t, columns) for t in tags], dtype="string")
    return pd.DataFrame(data)


def _bbox_mask(geoms: np.ndarray, bbox: BBox | None) -> np.ndarray:
    if bbox is None:
        return np.ones(len(geoms), dtype=bool)
    inside: np.ndarray = shapely.intersects(geoms, shapely.box(*bbox))
    return inside


def _check_bbox(bbox: BBox | None, where: str) -> None:
    if bbox is None:
        return
    ok = len(bbox) == 4 and bbox[0] < bbox[2] and bbox[1] < bbox[3]
    if not ok or not (-180 <= bbox[0] <= 180 and -90 <= bbox[1] <= 90):
        raise InputError(f"invalid bbox {bbox!r}.", where=where,
                         fix="give (west, south, east, north) in degrees, west < east, "
                         "south < north.")


def lines_from_elements(el: OsmElements, bbox: BBox | None = None) -> gpd.GeoDataFrame:
    """Every way with a ``highway`` tag as a LineString (see :func:`read_osm_lines`).

    A way whose nodes are partly missing from the file (an extract cut with osmium's
    ``simple`` strategy) is split at each gap into several rows with the same ``osm_id``,
    rather than drawn straight across the gap.  ``attrs["missing_node_refs"]`` counts the
    missing references.
    """
    rows = np.fromiter((i for i, t in enumerate(el.way_tags) if "highway" in t), dtype=np.int64)
    node_row, owner, found = _way_refs(el, rows)
    gap = np.cumsum(~found)[found]
    node_row, owner = node_row[found], owner[found]
    lonlat = np.column_stack([el.node_lon, el.node_lat])
    # A piece is a run of found references of one way.
    new_piece = np.ones(owner.size, dtype=bool)
    new_piece[1:] = (owner[1:] != owner[:-1]) | (gap[1:] != gap[:-1])
    piece = np.cumsum(new_piece) - 1
    piece_way = rows[owner[new_piece]]
    ok = np.bincount(piece, minlength=piece_way.size) >= 2
    keep_vertex = ok[piece]
    new_piece_id = (np.cumsum(ok) - 1)[piece[keep_vertex]]
    piece_way = piece_way[ok]
    geoms = (
        shapely.linestrings(lonlat[node_row[keep_vertex]], indices=new_piece_id)
        if piece_way.size
        else np.empty(0, dtype=object)
    )
    node_ids = np.asarray(_joined_ids(el.node_id[node_row[keep_vertex]], new_piece_id,
                                      piece_way.size), dtype=object)
    in_box = _bbox_mask(geoms, bbox)
    piece_way, geoms, node_ids = piece_way[in_box], geoms[in_box], node_ids[in_box]
    frame = _tag_frame([el.way_tags[i] for i in piece_way.tolist()], LINE_COLUMNS)
    frame.insert(0, "osm_id", pd.array(el.way_id[piece_way].astype(str), dtype="string"))
    frame[NODE_IDS_COLUMN] = pd.array(node_ids.tolist(), dtype="string")
    out = gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")
    out.attrs["missing_node_refs"] = int((~found).sum())
    return out


def _matches(tags: Mapping[str, str], spec: Mapping[str, bool | str | Sequence[str]]) -> bool:
    for key, wanted in spec.items():
        value = tags.get(key)
        if value is None:
            continue
        if wanted is True:
            return True
        if isinstance(wanted, str):
            if value == wanted:
                return True
        elif wanted and value in wanted:
            return True
    return False


def _relation_polygon(el: OsmElements, members: list[tuple[str, int, str]]) -> Any:
    """Return a multipolygon relation's area: outer ways minus inner ways, polygonised."""
    way_members = [(ref, role) for kind, ref, role in members if kind == "way"]
    if not way_members or el.way_id.size == 0:
        return None
    refs = np.asarray([m[0] for m in way_members], dtype=np.int64)
    order = np.argsort(el.way_id)
    pos = np.minimum(np.searchsorted(el.way_id, refs, sorter=order), el.way_id.size - 1)
    rows = order[pos]
    found = el.way_id[rows] == refs
    if not found.any():
        return None
    inner = np.asarray([role == "inner" for _, role in way_members])[found]
    rows = rows[found]
    node_row, owner, _ = _way_vertices(el, rows)
    good = np.bincount(owner, minlength=rows.size) >= 2
    keep = good[owner]
    lines = shapely.linestrings(
        np.column_stack([el.node_lon, el.node_lat])[node_row[keep]],
        indices=(np.cumsum(good) - 1)[owner[keep]],
    )
    inner = inner[good]
    outer_area = shapely.union_all(shapely.get_parts(shapely.polygonize(lines[~inner])))
    if shapely.is_empty(outer_area):
        return None
    if inner.any():
        holes = shapely.union_all(shapely.get_parts(shapely.polygonize(lines[inner])))
        outer_area = shapely.difference(outer_area, holes)
    return None if shapely.is_empty(outer_area) else outer_area


def features_from_elements(
    el: OsmElements,
    tags: Mapping[str, bool | str | Sequence[str]] | None = None,
    bbox: BBox | None = None,
) -> gpd.GeoDataFrame:
    """Nodes, ways and multipolygon relations carrying ``tags`` (see :func:`read_osm_features`)."""
    spec = dict(FACILITY_TAGS if tags is None else tags)
    columns = list(FEATURE_COLUMNS) + [k for k in spec if k not in FEATURE_COLUMNS]
    lonlat = np.column_stack([el.node_lon, el.node_lat])

    # Nodes -> points.
    pick = [i for i, t in enumerate(el.tagged_node_tags) if _matches(t, spec)]
    n_rows = el.tagged_node_row[np.asarray(pick, dtype=np.int64)]
    node_geoms = shapely.points(lonlat[n_rows]) if n_rows.size else np.empty(0, dtype=object)
    node_tags = [el.tagged_node_tags[i] for i in pick]
    node_ids = el.node_id[n_rows]

    # Ways -> polygons when closed (and not area=no), else lines.
    w_rows = np.fromiter(
        (i for i, t in enumerate(el.way_tags) if _matches(t, spec)), dtype=np.int64
    )
    node_row, owner, _ = _way_vertices(el, w_rows)
    n_vert = np.bincount(owner, minlength=w_rows.size)
    starts = np.r_[0, np.cumsum(n_vert)[:-1]]
    ends = starts + n_vert - 1
    has = n_vert >= 2
    closed = np.zeros(w_rows.size, dtype=bool)
    closed[has] = node_row[starts[has]] == node_row[ends[has]]
    not_area = np.fromiter((el.way_tags[i].get("area") == "no" for i in w_rows.tolist()),
                           dtype=bool, count=w_rows.size)
    is_poly = closed & (n_vert >= 4) & ~not_area
    way_geoms = np.empty(w_rows.size, dtype=object)
    for mask, make in ((is_poly, _rings_to_polygons), (has & ~is_poly, shapely.linestrings)):
        if mask.any():
            vmask = mask[owner]
            idx = (np.cumsum(mask) - 1)[owner[vmask]]
            way_geoms[mask] = make(lonlat[node_row[vmask]], indices=idx)
    way_tags = [el.way_tags[i] for i in w_rows[has].tolist()]
    way_ids = el.way_id[w_rows[has]]
    way_geoms = way_geoms[has]

    # Multipolygon relations -> (multi)polygons; other relation types have no area.
    rel_ids, rel_tags, rel_geoms = [], [], []
    for rid, rtags, members in el.relations:
        if rtags.get("type") != "multipolygon" or not _matches(rtags, spec):
            continue
        geom = _relation_polygon(el, members)
        if geom is not None:
            rel_ids.append(rid)
            rel_tags.append(rtags)
            rel_geoms.append(geom)

    kinds = (["node"] * len(node_tags)) + (["way"] * len(way_tags)) + (["relation"] * len(rel_tags))
    ids = np.concatenate([node_ids, way_ids, np.asarray(rel_ids, dtype=np.int64)])
    geoms = np.concatenate([node_geoms, way_geoms, np.asarray(rel_geoms, dtype=object)])
    frame = _tag_frame(node_tags + way_tags + rel_tags, columns)
    frame.insert(0, "osm_type", pd.array(kinds, dtype="string"))
    frame.insert(0, "osm_id", pd.array([f"{k}/{i}" for k, i in zip(kinds, ids.tolist(),
                                                                   strict=True)], dtype="string"))
    in_box = _bbox_mask(geoms, bbox) if len(geoms) else np.zeros(0, dtype=bool)
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))
    return out[in_box].reset_index(drop=True)


def _rings_to_polygons(coords: np.ndarray, indices: np.ndarray) -> np.ndarray:
    polys: np.ndarray = shapely.polygons(shapely.linearrings(coords, indices=indices))
    bad = ~shapely.is_valid(polys)
    if bad.any():  # self-touching rings (common in OSM) would break areas and centroids
        polys[bad] = shapely.make_valid(polys[bad])
    return polys


# ----------------------------------------------------------------------------------------------
# Public readers


def read_osm_lines(path: str | os.PathLike[str], *, bbox: BBox | None = None) -> gpd.GeoDataFrame:
    """Read every OSM way with a ``highway`` tag as a street line.

    Parameters
    ----------
    path
        ``.osm`` XML (optionally ``.gz`` / ``.bz2``) or ``.osm.pbf``.
    bbox
        ``(west, south, east, north)`` degrees: keep ways that intersect it (whole, unclipped).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326; ``osm_id`` (the way id as text, as GDAL writes it), the :data:`LINE_COLUMNS`
        tag columns, ``other_tags`` (hstore of the other tags), ``osm_node_ids`` (the node ids
        of the vertices, space-separated; see the module docstring) and LineString geometry
        through the way's nodes.
    """
    _check_bbox(bbox, str(path))
    return lines_from_elements(parse_osm(path, bbox), bbox)


def read_osm_features(
    path: str | os.PathLike[str],
    *,
    tags: Mapping[str, bool | str | Sequence[str]] | None = None,
    bbox: BBox | None = None,
) -> gpd.GeoDataFrame:
    """Read the nodes, ways and multipolygon relations that carry facility tags.

    Parameters
    ----------
    path
        ``.osm`` XML (optionally ``.gz`` / ``.bz2``) or ``.osm.pbf``.
    tags
        osmnx-style tag selection (key -> ``True`` or accepted values); :data:`FACILITY_TAGS`
        by default.  Add ``{"building": True}`` for buildings.
    bbox
        ``(west, south, east, north)`` degrees: keep features that intersect it.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326; ``osm_id`` (``"node/123"``, ``"way/456"``, ``"relation/789"``), ``osm_type``,
        the :data:`FEATURE_COLUMNS` and ``tags`` keys as columns, ``other_tags`` (hstore).
        Nodes are points, closed ways polygons (unless ``area=no``), open ways lines,
        multipolygon relations (multi)polygons; other relations (``site``, ``stop_area``) are
        skipped because they have no area of their own.
    """
    _check_bbox(bbox, str(path))
    return features_from_elements(parse_osm(path, bbox), tags, bbox)


def read_osm(
    path: str | os.PathLike[str],
    *,
    tags: Mapping[str, bool | str | Sequence[str]] | None = None,
    bbox: BBox | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read the street lines and the facility features of a raw OSM file, parsing it once.

    Parameters
    ----------
    path
        ``.osm`` XML (optionally ``.gz`` / ``.bz2``) or ``.osm.pbf``.
    tags
        osmnx-style tag selection of the features (key -> ``True`` or accepted values);
        :data:`FACILITY_TAGS` by default.
    bbox
        ``(west, south, east, north)`` degrees: keep lines and features that intersect it.

    Returns
    -------
    lines, features : geopandas.GeoDataFrame
        What :func:`read_osm_lines` and :func:`read_osm_features` return for the file.

    Raises
    ------
    InputError
        The file is missing or unreadable, or ``bbox`` is not a valid box.

    Examples
    --------
    >>> lines, features = read_osm("tests/data/beijing_haidian_pku_tsinghua_2017.osm")
    >>> len(lines), len(features)
    (684, 506)
    >>> lines.crs.to_string(), list(lines.columns[:3])
    ('EPSG:4326', ['osm_id', 'highway', 'name'])
    >>> features["osm_type"].value_counts().sort_index().to_dict()
    {'node': 329, 'way': 177}
    """
    _check_bbox(bbox, str(path))
    el = parse_osm(path, bbox)
    return lines_from_elements(el, bbox), features_from_elements(el, tags, bbox)


__all__ = [
    "BBox", "FACILITY_TAGS", "FEATURE_COLUMNS", "LINE_COLUMNS",
    "OsmElements", "elements_from_lists", "features_from_elements", "hstore",
    "NODE_IDS_COLUMN", "lines_from_elements", "parse_osm", "parse_osm_pbf", "parse_osm_xml", "read_osm",
    "read_osm_features", "read_osm_lines",
]
