"""Raw OpenStreetMap files parsed into arrays: :class:`OsmElements`.

:func:`parse_osm` reads ``.osm`` XML (optionally ``.gz`` / ``.bz2``, streamed so memory stays
flat) or ``.osm.pbf`` (through pyrosm) into one array form: every node with its coordinates,
every way with its node ids, every relation with its members, and the tags.  Keeping the node
ids of ways is what lets :mod:`siteplan.osm.features` connect ways only where OSM connects them.
:func:`elements_from_lists` builds the same form from per-element records (the XML parser here,
the Overpass JSON answers in :mod:`siteplan.osm.overpass`).
"""

from __future__ import annotations

import bz2
import gzip
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from siteplan.core.errors import InputError

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


#: File names read as raw OpenStreetMap by :func:`graph_from_file` (compared lower-case).
OSM_SUFFIXES: tuple[str, ...] = (".osm", ".osm.xml", ".osm.gz", ".osm.bz2", ".pbf")


def is_osm_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a raw OSM file (``.osm``, ``.osm.gz``, ``.osm.bz2``, ``.pbf``)."""
    return Path(path).name.lower().endswith(OSM_SUFFIXES)


__all__ = [
    "OSM_SUFFIXES", "is_osm_file","BBox", "OsmElements", "elements_from_lists", "parse_osm", "parse_osm_pbf",
           "parse_osm_xml"]
