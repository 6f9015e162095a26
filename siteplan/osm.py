"""Street lines and facility features from raw OpenStreetMap files (.osm XML, .osm.pbf).

The readers return GeoDataFrames in EPSG:4326 with the same schema as GDAL's OSM driver (tag
columns plus an hstore ``other_tags``), so :func:`siteplan.network.graph_from_lines` and the
facility classifier take them unchanged.  Everything here is offline; :mod:`siteplan.overpass`
downloads the same elements from Overpass and builds them with the same functions.

Noding.  OSM ways meet where they share a *node id*; :func:`~siteplan.network.graph_from_lines`
nodes lines where they share a *coordinate*.  Shared node ids give identical coordinates, but
two distinct nodes can also sit at identical coordinates (a bridge node above a road node).
:func:`read_osm_lines` moves every such extra node east by ``k * 1e-9`` degrees (about 0.1 mm
per step; OSM stores 1e-7 degrees, so a nudged node can never land on another node) so that it
stays unconnected, exactly as it is in OSM.
"""

from __future__ import annotations

import bz2
import gzip
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.errors import InputError, NetworkError
from siteplan.network import Network, graph_from_lines

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
)

#: Which elements :func:`read_osm_features` keeps, in osmnx's ``tags`` format: a key maps to
#: ``True`` (any value) or to the accepted values.  Landuse is kept whole because the coverage
#: stage needs residential areas.
FACILITY_TAGS: dict[str, bool | list[str]] = {
    "amenity": True,
    "healthcare": True,
    "highway": ["bus_stop"],
    "public_transport": True,
    "railway": ["station", "halt", "subway_entrance", "tram_stop"],
    "station": True,
    "subway": True,
    "leisure": ["park", "garden", "playground"],
    "social_facility": True,
    "landuse": True,
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

#: The nudge per duplicate node, in degrees (see the module docstring).
DUPLICATE_NODE_NUDGE_DEG = 1e-9

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class OsmElements:
    """Parsed OSM elements as arrays (nodes, ways) and small lists (tags, relations).

    Attributes
    ----------
    node_id, node_lon, node_lat
        ``(N,)`` every node, sorted by id.
    tagged_node_row, tagged_node_tags
        Rows into the node arrays of the nodes with tags, and their tags.
    way_id
        ``(W,)`` way ids.
    way_refs, way_offsets
        Node ids of way ``i`` are ``way_refs[way_offsets[i]:way_offsets[i + 1]]``.
    way_tags
        ``W`` tag dicts.
    relations
        ``(id, tags, [(member_type, ref, role), ...])`` per relation.
    source
        File path or query, for error messages.
    """

    node_id: np.ndarray
    node_lon: np.ndarray
    node_lat: np.ndarray
    tagged_node_row: np.ndarray
    tagged_node_tags: list[dict[str, str]]
    way_id: np.ndarray
    way_refs: np.ndarray
    way_offsets: np.ndarray
    way_tags: list[dict[str, str]]
    relations: list[tuple[int, dict[str, str], list[tuple[str, int, str]]]]
    source: str


def elements_from_lists(
    nodes: Sequence[tuple[int, float, float, dict[str, str] | None]],
    ways: Sequence[tuple[int, Sequence[int], dict[str, str]]],
    relations: list[tuple[int, dict[str, str], list[tuple[str, int, str]]]],
    source: str,
) -> OsmElements:
    """Assemble :class:`OsmElements` from per-element records (XML and Overpass JSON parsers).

    ``nodes`` are ``(id, lon, lat, tags or None)``; ``ways`` are ``(id, node_ids, tags)``.
    Duplicate ids (Overpass answers for subdivided polygons overlap) keep their first record.
    """
    node_id = np.fromiter((n[0] for n in nodes), dtype=np.int64, count=len(nodes))
    lon = np.fromiter((n[1] for n in nodes), dtype=np.float64, count=len(nodes))
    lat = np.fromiter((n[2] for n in nodes), dtype=np.float64, count=len(nodes))
    node_id, first = np.unique(node_id, return_index=True)
    lon, lat = lon[first], lat[first]
    tagged_row, tagged_tags = [], []
    for row, src in enumerate(first.tolist()):
        tags = nodes[src][3]
        if tags:
            tagged_row.append(row)
            tagged_tags.append(tags)

    way_ids = np.fromiter((w[0] for w in ways), dtype=np.int64, count=len(ways))
    _, keep = np.unique(way_ids, return_index=True)
    keep.sort()
    ways = [ways[i] for i in keep.tolist()]
    counts = np.fromiter((len(w[1]) for w in ways), dtype=np.int64, count=len(ways))
    offsets = np.zeros(len(ways) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    refs = np.fromiter(
        (ref for w in ways for ref in w[1]), dtype=np.int64, count=int(offsets[-1])
    )
    seen: set[int] = set()
    rels = []
    for rel in relations:
        if rel[0] not in seen:
            seen.add(rel[0])
            rels.append(rel)
    return OsmElements(
        node_id=node_id,
        node_lon=lon,
        node_lat=lat,
        tagged_node_row=np.asarray(tagged_row, dtype=np.int64),
        tagged_node_tags=tagged_tags,
        way_id=way_ids[keep],
        way_refs=refs,
        way_offsets=offsets,
        way_tags=[w[2] for w in ways],
        relations=rels,
        source=source,
    )


# ----------------------------------------------------------------------------------------------
# Parsers


def _open_xml(path: Path) -> IO[bytes]:
    name = path.name.lower()
    if name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    if name.endswith(".bz2"):
        return cast(IO[bytes], bz2.open(path, "rb"))
    return open(path, "rb")


def _tags_of(elem: ET.Element) -> dict[str, str]:
    return {t.get("k", ""): t.get("v", "") for t in elem.iter("tag")}


def parse_osm_xml(path: str | os.PathLike[str]) -> OsmElements:
    """Stream an OSM XML file (``.osm``, ``.osm.gz``, ``.osm.bz2``) into :class:`OsmElements`.

    Elements marked ``action="delete"`` (JOSM) or ``visible="false"`` are skipped.
    """
    path = Path(path)
    nodes: list[tuple[int, float, float, dict[str, str] | None]] = []
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    relations: list[tuple[int, dict[str, str], list[tuple[str, int, str]]]] = []
    try:
        with _open_xml(path) as fh:
            context = ET.iterparse(fh, events=("start", "end"))
            _, root = next(context)
            if root.tag != "osm":
                raise InputError(
                    f"not an OSM XML file (root element <{root.tag}>, expected <osm>).",
                    where=str(path),
                    fix="give an .osm file exported from OpenStreetMap, JOSM or osmium.",
                )
            for event, elem in context:
                if event != "end" or elem.tag not in ("node", "way", "relation"):
                    continue
                if elem.get("action") == "delete" or elem.get("visible") == "false":
                    root.clear()
                    continue
                osm_id = int(elem.attrib["id"])
                if elem.tag == "node":
                    tags = _tags_of(elem)
                    nodes.append(
                        (osm_id, float(elem.attrib["lon"]), float(elem.attrib["lat"]), tags or None)
                    )
                elif elem.tag == "way":
                    refs = [int(nd.attrib["ref"]) for nd in elem.iter("nd")]
                    ways.append((osm_id, refs, _tags_of(elem)))
                else:
                    members = [
                        (m.get("type", ""), int(m.attrib["ref"]), m.get("role", ""))
                        for m in elem.iter("member")
                    ]
                    relations.append((osm_id, _tags_of(elem), members))
                # Processed top-level elements are dropped so memory stays flat.
                root.clear()
    except ET.ParseError as exc:
        line, col = exc.position
        raise InputError(
            f"the OSM XML is malformed at line {line}, column {col} ({exc}).",
            where=str(path),
            fix="re-export the file; a truncated download is the usual cause.",
        ) from exc
    except (KeyError, ValueError) as exc:
        raise InputError(
            f"an OSM element lacks a valid id, lon, lat or ref ({exc}).",
            where=str(path),
            fix="re-export the file from OpenStreetMap, JOSM or osmium.",
        ) from exc
    return elements_from_lists(nodes, ways, relations, str(path))


def parse_osm_pbf(path: str | os.PathLike[str], bbox: BBox | None = None) -> OsmElements:
    """Read an ``.osm.pbf`` file with pyrosm into :class:`OsmElements`.

    pyrosm's public readers return geometries without the node ids of ways, which noding needs,
    so this reads the arrays pyrosm parses (``OSM._nodes``, ``_way_records``, ``_relations``).
    """
    import pyrosm

    path = Path(path)
    try:
        osm = pyrosm.OSM(str(path), bounding_box=list(bbox) if bbox is not None else None)
        osm._read_pbf()
        nodes, ways, rels = osm._nodes, osm._way_records, osm._relations
    except Exception as exc:  # pyrosm raises bare Exceptions/ValueErrors for unreadable files
        raise InputError(
            f"pyrosm could not read the PBF file ({type(exc).__name__}: {exc}).",
            where=str(path),
            fix="check the file is a complete .osm.pbf (e.g. `osmium fileinfo`), or convert it "
            "to .osm XML with `osmium cat in.osm.pbf -o out.osm`.",
        ) from exc
    if isinstance(nodes, list):  # older pyrosm: one dict of arrays per block
        nodes = {k: np.concatenate([np.asarray(b[k]) for b in nodes]) for k in ("id", "lon", "lat")}
    if not all(hasattr(ways, a) for a in ("ids", "refs", "refs_off", "keys", "vals", "tags_off")):
        raise InputError(
            f"this pyrosm version ({getattr(pyrosm, '__version__', '?')}) does not expose the "
            "way node lists siteplan needs.",
            where=str(path),
            fix="install pyrosm 0.25, or convert the file to .osm XML with osmium.",
        )
    node_id = np.asarray(nodes["id"], dtype=np.int64)
    lon = np.asarray(nodes["lon"], dtype=np.float64)
    lat = np.asarray(nodes["lat"], dtype=np.float64)
    order = np.argsort(node_id, kind="stable")
    node_id, lon, lat = node_id[order], lon[order], lat[order]
    inverse_order = np.empty_like(order)
    inverse_order[order] = np.arange(order.size)

    tagged_row = np.empty(0, dtype=np.int64)
    tagged_tags: list[dict[str, str]] = []
    node_tags = nodes.get("tags") if isinstance(nodes, dict) else None
    if node_tags is not None and hasattr(node_tags, "rows"):
        rows = np.asarray(node_tags.rows, dtype=np.int64)
        tagged_tags = _tag_dicts(node_tags.keys, node_tags.vals, node_tags.tags_off,
                                 node_tags.strings)
        tagged_row = inverse_order[rows]
        by_row = np.argsort(tagged_row)
        tagged_row = tagged_row[by_row]
        tagged_tags = [tagged_tags[i] for i in by_row.tolist()]

    relations: list[tuple[int, dict[str, str], list[tuple[str, int, str]]]] = []
    if rels is not None and len(rels.get("id", [])):
        for rid, members, tags in zip(rels["id"].tolist(), rels["members"], rels["tags"],
                                      strict=True):
            kinds = [t.decode() if isinstance(t, bytes) else str(t)
                     for t in members["member_type"]]
            relations.append((
                int(rid),
                dict(tags or {}),
                list(zip(kinds, np.asarray(members["member_id"]).tolist(),
                         [str(r) for r in members["member_role"]], strict=True)),
            ))
    return OsmElements(
        node_id=node_id,
        node_lon=lon,
        node_lat=lat,
        tagged_node_row=tagged_row,
        tagged_node_tags=tagged_tags,
        way_id=np.asarray(ways.ids, dtype=np.int64),
        way_refs=np.asarray(ways.refs, dtype=np.int64),
        way_offsets=np.asarray(ways.refs_off, dtype=np.int64),
        way_tags=_tag_dicts(ways.keys, ways.vals, ways.tags_off, ways.strings),
        relations=relations,
        source=str(path),
    )


def _tag_dicts(keys: Any, vals: Any, offsets: Any, strings: list[str]) -> list[dict[str, str]]:
    table = np.asarray(strings, dtype=object)
    k = table[np.asarray(keys, dtype=np.int64)].tolist()
    v = table[np.asarray(vals, dtype=np.int64)].tolist()
    off = np.asarray(offsets, dtype=np.int64).tolist()
    return [dict(zip(k[a:b], v[a:b], strict=True)) for a, b in zip(off[:-1], off[1:], strict=True)]


def parse_osm(path: str | os.PathLike[str], bbox: BBox | None = None) -> OsmElements:
    """Parse ``.osm`` / ``.osm.gz`` / ``.osm.bz2`` (XML) or ``.pbf`` by file name."""
    path = Path(path)
    if not path.is_file():
        raise InputError("the OSM file does not exist.", where=str(path),
                         fix="check the path; download an extract from e.g. Geofabrik or "
                         "export one from openstreetmap.org.")
    name = path.name.lower()
    if name.endswith(".pbf"):
        return parse_osm_pbf(path, bbox)
    if name.endswith((".osm", ".xml", ".osm.gz", ".osm.bz2")):
        return parse_osm_xml(path)
    raise InputError(
        f"unknown OSM file type {path.suffix!r}.",
        where=str(path),
        fix="give a .osm (XML, optionally .gz/.bz2) or .osm.pbf file, or a line layer.",
    )


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


def _nudged_lonlat(el: OsmElements, used_rows: np.ndarray) -> np.ndarray:
    """Lon/lat of every node, distinct nodes at identical coordinates moved apart (used rows)."""
    lonlat = np.column_stack([el.node_lon, el.node_lat])
    rows = np.unique(used_rows)
    if rows.size == 0:
        return lonlat
    _, group, counts = np.unique(lonlat[rows], axis=0, return_inverse=True, return_counts=True)
    group = group.ravel()
    dup = counts[group] > 1
    if dup.any():
        # Rank within each group of coincident nodes (rows are sorted by node id, so the
        # lowest id keeps its position): 0, 1, 2...
        order = np.lexsort((rows, group))
        g_sorted = group[order]
        first = np.r_[True, g_sorted[1:] != g_sorted[:-1]]
        start_pos = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size) - start_pos
        moved = rows[dup & (rank > 0)]
        lonlat = lonlat.copy()
        lonlat[moved, 0] += rank[dup & (rank > 0)] * DUPLICATE_NODE_NUDGE_DEG
    return lonlat


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def hstore(tags: Mapping[str, str], exclude: Iterable[str] = ()) -> str | None:
    """Format tags as GDAL's OSM driver does: ``"k"=>"v","k2"=>"v2"``; ``None`` when empty."""
    skip = set(exclude)
    parts = [f'"{_escape(k)}"=>"{_escape(v)}"' for k, v in tags.items() if k not in skip]
    return ",".join(parts) if parts else None


def _tag_frame(tags: Sequence[Mapping[str, str]], columns: Sequence[str]) -> pd.DataFrame:
    data = {c: pd.array([t.get(c) for t in tags], dtype="string") for c in columns}
    data["other_tags"] = pd.array([hstore(t, columns) for t in tags], dtype="string")
    return pd.DataFrame(data)


def _bbox_mask(geoms: np.ndarray, bbox: BBox | None) -> np.ndarray:
    if bbox is None:
        return np.ones(len(geoms), dtype=bool)
    return shapely.intersects(geoms, shapely.box(*bbox))


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
    lonlat = _nudged_lonlat(el, node_row)
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
    in_box = _bbox_mask(geoms, bbox)
    piece_way, geoms = piece_way[in_box], geoms[in_box]
    frame = _tag_frame([el.way_tags[i] for i in piece_way.tolist()], LINE_COLUMNS)
    frame.insert(0, "osm_id", pd.array(el.way_id[piece_way].astype(str), dtype="string"))
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
    """A multipolygon relation's area: polygonised outer ways minus polygonised inner ways."""
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
    polys = shapely.polygons(shapely.linearrings(coords, indices=indices))
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
        tag columns, ``other_tags`` (hstore of the other tags) and LineString geometry through
        the way's nodes.  Distinct nodes at identical coordinates are nudged apart (see the
        module docstring) so that only shared node ids connect.
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
    """Parse the file once; return ``(read_osm_lines(...), read_osm_features(...))``."""
    _check_bbox(bbox, str(path))
    el = parse_osm(path, bbox)
    return lines_from_elements(el, bbox), features_from_elements(el, tags, bbox)


def graph_from_osm(path: str | os.PathLike[str], *, bbox: BBox | None = None, **kwargs: Any) -> Network:
    """Build a walking :class:`~siteplan.network.Network` from a raw OSM file.

    ``kwargs`` go to :func:`~siteplan.network.graph_from_lines` (``walk_filter``,
    ``filter_walkable``, ``metric_crs``, ``keep_largest``...).  Keep ``snap_tolerance_m`` at 0:
    a tolerance would merge the bridge/road node pairs that reading keeps apart.
    """
    if kwargs.get("snap_tolerance_m", 0) != 0:
        raise NetworkError(
            "snap_tolerance_m does not apply to raw OSM: ways connect where they share a node "
            "id, and snapping would join bridges and tunnels to the streets they cross.",
            where=str(path),
            fix="leave snap_tolerance_m at 0 for .osm/.osm.pbf files.",
        )
    kwargs.setdefault("source", str(path))
    return graph_from_lines(read_osm_lines(path, bbox=bbox), **kwargs)
