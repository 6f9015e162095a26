"""Building a walking :class:`~siteplan.network.graph.Network` from street lines or raw OSM.

Lines are noded where they share a vertex (:mod:`siteplan.network.noding`); distinct vertices
at one position are merged when their lines are at the same level and kept apart otherwise
(:mod:`siteplan.network.coincident`); with ``snap_tolerance_m``, dead ends that stop just short of
another line are joined to it.  Which lines are walkable is the walking profile's business
(:mod:`siteplan.network.walkfilter`), and their tags are read by :mod:`siteplan.core.tags`.

:func:`graph_from_file` is the one call for any street source on disk: raw OSM goes through
:mod:`siteplan.osm.features` (ways connect at shared node ids, and coincident nodes at the same
level), line layers through :func:`siteplan.io.layers.read_layer` and :func:`graph_from_lines`.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import csgraph

from siteplan.core.defaults import (
    COINCIDENT_NODES,
    COINCIDENT_TOLERANCE_M,
    CoincidentNodes,
)
from siteplan.core.errors import InputError, NetworkError, SiteplanWarning
from siteplan.io.crs import (
    MAX_SCALE_ERROR,
    MetricKind,
    analysis_crs,
    is_metric_crs,
    lonlat_bounds,
    scale_error,
)
from siteplan.io.inputs import CoordSystem
from siteplan.io.layers import read_layer
from siteplan.network.coincident import NO_NODE_ID, line_levels
from siteplan.network.graph import Network, NetworkReport, csr_min
from siteplan.network.noding import node_lines_counted
from siteplan.network.walkfilter import WalkFilter, walkable_mask
from siteplan.osm.features import NODE_IDS_COLUMN, read_osm_lines
from siteplan.osm.parse import BBox, is_osm_file


def _explode_lines(lines: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """Single LineStrings, one row per part; also the number of non-line features skipped."""
    geoms = np.asarray(lines.geometry.values, dtype=object)
    kinds = shapely.get_type_id(geoms)
    is_line = np.isin(kinds, [1, 2, 5])  # LineString, LinearRing, MultiLineString
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    n_not_lines = int((present & ~is_line).sum())
    exploded = lines[is_line & present].explode(index_parts=False)
    geom = np.asarray(exploded.geometry.values, dtype=object)
    rings = shapely.get_type_id(geom) == 2
    if rings.any():
        geom = geom.copy()
        n_coords = shapely.get_num_coordinates(geom[rings])
        geom[rings] = shapely.linestrings(shapely.get_coordinates(geom[rings]),
                                          indices=np.repeat(np.arange(rings.sum()), n_coords))
        exploded = exploded.set_geometry(gpd.GeoSeries(geom, index=exploded.index,
                                                       crs=exploded.crs))
    return exploded, n_not_lines


def _vertex_node_ids(lines: gpd.GeoDataFrame, geoms: np.ndarray) -> np.ndarray | None:
    """OSM node id of every vertex, from the ``osm_node_ids`` column of OSM lines.

    A row whose ids do not match its vertices (a geometry edited after reading) gets
    :data:`~siteplan.network.coincident.NO_NODE_ID` and is noded by its coordinates.
    """
    if NODE_IDS_COLUMN not in lines.columns:
        return None
    text = lines[NODE_IDS_COLUMN].astype("string").fillna("").str.strip()
    n_ids = np.where(text.to_numpy(dtype=object) == "", 0, text.str.count(" ").to_numpy() + 1)
    n_vertices = shapely.get_num_coordinates(geoms)
    ok = n_ids == n_vertices
    out = np.full(int(n_vertices.sum()), NO_NODE_ID, dtype=np.int64)
    try:
        ids = np.array(" ".join(text[ok].tolist()).split(), dtype=np.int64)
    except ValueError:
        return None  # not node ids after all: node by coordinates
    if ids.size != int(n_vertices[ok].sum()):
        return None  # irregular spacing: node by coordinates
    starts = np.cumsum(n_vertices) - n_vertices
    rows = np.flatnonzero(ok)
    at = np.repeat(starts[rows], n_vertices[rows]) + (
        np.arange(ids.size) - np.repeat(np.cumsum(n_vertices[rows]) - n_vertices[rows],
                                        n_vertices[rows]))
    out[at] = ids
    return out


def _profile_drops(lines: gpd.GeoDataFrame, walk_filter: WalkFilter, walkable: np.ndarray,
                   metric: CRS | None) -> tuple[int, float]:
    """Lines (and km) that osmnx's filter keeps but the profile's clauses leave out."""
    if not walk_filter.clauses or walkable.all():
        return 0, 0.0
    out = np.flatnonzero(~walkable)
    dropped = out[walkable_mask(lines.iloc[out], walk_filter.without_clauses())]
    if not dropped.size:
        return 0, 0.0
    part = lines.iloc[dropped]
    km = float(part.to_crs(metric).length.sum() / 1000.0) if metric is not None else 0.0
    return int(part.index.unique().size), km


def graph_from_lines(
    lines: gpd.GeoDataFrame,
    *,
    walk_filter: WalkFilter | None = None,
    filter_walkable: bool = True,
    snap_tolerance_m: float = 0.0,
    metric_crs: CRS | str | None = None,
    metric_kind: MetricKind = "utm",
    keep_largest: bool = True,
    source: str = "lines",
    coincident_nodes: CoincidentNodes = COINCIDENT_NODES,
    coincident_tolerance_m: float = COINCIDENT_TOLERANCE_M,
) -> Network:
    """Build a walking :class:`Network` from a GeoDataFrame of street lines.

    Parameters
    ----------
    lines
        LineStrings or MultiLineStrings with a CRS.  Tags (``highway``, ``foot``, ``access``,
        ``service``, ``area``, ``sidewalk``...) may be columns or sit in an hstore ``other_tags``.
    walk_filter
        Which lines are walkable: the ``china-walk`` profile by default (osmnx's
        ``network_type="walk"`` filter without elevated and expressway carriageways;
        :func:`siteplan.network.walkfilter.walk_profile`).
    filter_walkable
        ``False`` keeps every line (a bureau layer that holds only walkable streets and has no
        ``highway`` column).
    snap_tolerance_m
        For layers whose lines do not quite meet: a dead end within this many metres of
        another line is joined to it (to its nearest vertex, or to a new vertex on its nearest
        segment), and dead ends this close to each other are merged.  Interior vertices never
        move, so lines that cross without a shared vertex stay unconnected.  ``0`` (default)
        nodes only identical coordinates.
    metric_crs
        Analysis CRS.  When ``None``: the layer's own CRS if it is projected in metres,
        otherwise chosen from the data (UTM, or CGCS2000 3-degree GK per ``metric_kind``).
    metric_kind
        ``"utm"`` or ``"cgcs2000"`` when choosing automatically.
    keep_largest
        Keep only the largest connected component and report the dropped islands.
    source
        A name for reports and error messages (usually the file path).
    coincident_nodes
        ``"merge"`` (default): distinct vertices at one position are one node when their lines
        are at the same level (``layer``, ``bridge``, ``tunnel``), kept apart otherwise;
        ``"keep"``: node-id topology (OSM ids; identical coordinates for a line layer).  See
        :mod:`siteplan.network.coincident`.
    coincident_tolerance_m
        Vertices this close (m) are at one position (``"merge"`` only).

    Returns
    -------
    Network
        The walking network in the analysis CRS, with its build report.

    Raises
    ------
    InputError
        No CRS, or no line geometries.
    NetworkError
        A negative ``snap_tolerance_m``, an analysis CRS that is not metric (or distorts
        lengths), or nothing walkable after filtering.

    Examples
    --------
    A 100 m square block in CGCS2000 metres, with a diagonal footway and a motorway across:

    >>> import geopandas as gpd
    >>> import shapely
    >>> corners = [(372000, 4192000), (372100, 4192000), (372100, 4192100), (372000, 4192100)]
    >>> sides = [shapely.LineString([a, b]) for a, b in zip(corners, corners[1:] + corners[:1])]
    >>> lines = gpd.GeoDataFrame(
    ...     {"highway": ["residential"] * 4 + ["footway", "motorway"]},
    ...     geometry=sides + [shapely.LineString([corners[0], corners[2]]),
    ...                       shapely.LineString([(372000, 4192050), (372100, 4192050)])],
    ...     crs="EPSG:4547")
    >>> net = graph_from_lines(lines, source="square")
    >>> net.n_nodes, net.n_edges, round(float(net.edge_length.sum()), 1)
    (4, 5, 541.4)
    >>> net.report.n_lines_walkable, net.crs.to_string()
    (5, 'EPSG:4547')

    A footbridge (``bridge=yes``) drawn over the motorway-free square's diagonal shares its
    middle vertex with a street below: the two are kept apart, not joined.

    >>> below = shapely.LineString([(372000, 4192050), (372050, 4192050), (372100, 4192050)])
    >>> over = shapely.LineString([(372050, 4192000), (372050, 4192050), (372050, 4192100)])
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential", "footway"], "bridge": [None, "yes"]},
    ...     geometry=[below, over], crs="EPSG:4547"), keep_largest=False)
    >>> net.n_nodes, net.report.n_components
    (4, 2)
    >>> print(net.report.coincident.text())
    coincident nodes: 0 merged, 1 kept apart (1 bridge)
    """
    if lines.crs is None:
        raise InputError(
            "the line layer has no CRS.",
            where=source,
            fix="declare it (e.g. crs='EPSG:4326') or add a .prj / CRS to the file.",
        )
    if snap_tolerance_m < 0:
        raise NetworkError(f"snap_tolerance_m must be >= 0, got {snap_tolerance_m}.", where=source,
                           fix="use 0 for exact noding or a small positive tolerance in metres.")
    if coincident_tolerance_m < 0 or coincident_nodes not in ("merge", "keep"):
        raise NetworkError(
            f"coincident_nodes = {coincident_nodes!r} with coincident_tolerance_m = "
            f"{coincident_tolerance_m} is not a valid setting.", where=source,
            fix='use coincident_nodes = "merge" or "keep" and a tolerance >= 0 (0.01 m).')
    n_in = len(lines)
    exploded, n_not_lines = _explode_lines(lines)
    if n_not_lines and len(exploded):
        kinds = lines.geom_type[~lines.geom_type.isin(["LineString", "MultiLineString",
                                                         "LinearRing"])].value_counts()
        listed = ", ".join(f"{n} {k}" for k, n in kinds.items())
        warnings.warn(f"{source}: {n_not_lines} non-line feature(s) ({listed}) ignored; the "
                      "walking network is built from the lines only. Remove them from the "
                      "street layer to make this warning go away.", SiteplanWarning, stacklevel=2)
    if len(exploded) == 0:
        kinds = sorted({str(t) for t in lines.geom_type.dropna().unique()})
        raise InputError(
            f"the layer has no line geometries ({n_in} feature(s); geometry types: "
            f"{', '.join(kinds) or 'none'}).",
            where=source,
            fix="give a layer of LineStrings or MultiLineStrings (street centrelines), not "
            "points or polygons; in a multi-layer file choose the roads layer.",
        )
    walk_filter = walk_filter or WalkFilter()
    unfiltered = exploded
    if filter_walkable:
        walkable = walkable_mask(exploded, walk_filter)
        exploded = exploded[walkable]
    n_walk = int(exploded.index.unique().size)
    if len(exploded) == 0:
        raise NetworkError(
            "no walkable lines remain after filtering (no line has a walkable `highway` tag).",
            where=source,
            fix="check the highway tags, pass filter_walkable=False for a layer of walkable "
            "streets only, or relax the walk filter.",
        )

    if metric_crs is None:
        # A layer in a true local metric CRS (a bureau's CGCS2000 GK layer) stays in it; Web
        # Mercator and other distorting projections go to the local UTM / CGCS2000 zone.
        metric = analysis_crs(exploded, metric_kind)
    else:
        metric = CRS.from_user_input(metric_crs)
        error = scale_error(metric, lonlat_bounds(exploded))
        if not is_metric_crs(metric) or error > MAX_SCALE_ERROR:
            raise NetworkError(
                f"the analysis CRS {metric.to_string()} ({metric.name}) "
                + ("is not projected in metres" if not is_metric_crs(metric) else
                   f"distorts lengths by up to {100 * error:.1f} % over the data"),
                where=source,
                fix='use metric = "utm" or "cgcs2000" (chosen for the data), or a local '
                "projected CRS such as EPSG:4547 (CGCS2000 3-degree zone, CM 114°E).")
    projected = exploded.to_crs(metric)
    n_dropped, km_dropped = (_profile_drops(unfiltered, walk_filter, walkable, metric)
                             if filter_walkable else (0, 0.0))

    geoms = np.asarray(projected.geometry.values, dtype=object)
    noded = node_lines_counted(
        geoms, snap_tolerance_m, levels=line_levels(projected),
        node_ids=_vertex_node_ids(projected, geoms), coincident_nodes=coincident_nodes,
        coincident_tolerance_m=coincident_tolerance_m)
    node_xy, u, v, geom, edge_line = (noded.node_xy, noded.edge_u, noded.edge_v,
                                      noded.edge_geometry, noded.edge_line)
    length = shapely.length(geom)
    attr_cols = [c for c in ("osm_id", "highway", "name") if c in projected.columns]
    attrs = pd.DataFrame(projected[attr_cols].to_numpy()[edge_line], columns=attr_cols)

    n_nodes = node_xy.shape[0]
    n_comp, labels = csgraph.connected_components(csr_min(u, v, length, n_nodes), directed=False)
    # Relabel so that 0 is the largest component (ties: the one with more street length).
    sizes = np.bincount(labels, minlength=n_comp)
    comp_len = np.bincount(labels[u], weights=length, minlength=n_comp)
    rank = np.lexsort((-comp_len, -sizes))
    relabel = np.empty(n_comp, dtype=np.int64)
    relabel[rank] = np.arange(n_comp)
    labels = relabel[labels]

    islands_dropped, islands_km = 0, 0.0
    if keep_largest and n_comp > 1:
        keep_edge = labels[u] == 0
        islands_dropped = n_comp - 1
        islands_km = float(length[~keep_edge].sum() / 1000.0)
        keep_node = labels == 0
        new_id = np.cumsum(keep_node) - 1
        node_xy, labels = node_xy[keep_node], labels[keep_node]
        u, v = new_id[u[keep_edge]], new_id[v[keep_edge]]
        geom, length = geom[keep_edge], length[keep_edge]
        attrs = attrs[keep_edge].reset_index(drop=True)

    report = NetworkReport(
        source=source,
        n_lines_in=n_in,
        n_lines_walkable=n_walk,
        n_nodes=int(node_xy.shape[0]),
        n_edges=int(u.shape[0]),
        length_km=float(length.sum() / 1000.0),
        n_components=int(n_comp),
        islands_dropped=islands_dropped,
        islands_km=islands_km,
        crs=metric.to_string(),
        n_not_lines=n_not_lines,
        n_ends_snapped=noded.n_snapped,
        walk_profile=walk_filter.name if filter_walkable else "",
        n_profile_dropped=n_dropped,
        profile_dropped_km=km_dropped,
        coincident=noded.coincident,
    )
    return Network(
        crs=metric,
        node_xy=node_xy,
        edge_u=u,
        edge_v=v,
        edge_length=length,
        edge_geometry=geom,
        edge_attrs=attrs,
        component=labels,
        report=report,
    )


def graph_from_file(
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    crs: Any = None,
    encoding: str | None = None,
    coord_system: CoordSystem = "wgs84",
    bbox: tuple[float, float, float, float] | None = None,
    **kwargs: Any,
) -> Network:
    """Build a walking :class:`Network` from any street source on disk.

    Raw OpenStreetMap (``.osm``, ``.osm.gz``, ``.osm.bz2``, ``.osm.pbf``) goes to
    :func:`graph_from_osm`, where ways connect at shared node ids and at coincident nodes of
    the same level.  Any other
    file (GeoPackage, Shapefile, GeoJSON...) is read with :func:`siteplan.io.layers.read_layer` and
    built by :func:`graph_from_lines`.

    Parameters
    ----------
    path
        The street file.
    layer, crs, encoding, coord_system
        How to read a line layer (see :func:`siteplan.io.layers.read_layer`); not used for OSM files,
        which are always WGS84 lon/lat and UTF-8.
    bbox
        ``(west, south, east, north)`` in degrees: keep the lines that intersect it.
    **kwargs
        Passed to :func:`graph_from_lines`: ``walk_filter``, ``filter_walkable``,
        ``snap_tolerance_m`` (line layers only), ``metric_crs``, ``metric_kind``,
        ``keep_largest``, ``coincident_nodes``, ``coincident_tolerance_m``.

    Returns
    -------
    Network
        The walking network in the analysis CRS, with its build report.

    Raises
    ------
    InputError
        The file is missing, unreadable, has no lines or no CRS, or an option does not apply.
    NetworkError
        Nothing walkable remains after filtering.

    Examples
    --------
    >>> net = graph_from_file("data/taiyuan/taiyuan_osm_lines.geojson", metric_kind="cgcs2000")
    >>> print(net.summary())
    data/taiyuan/taiyuan_osm_lines.geojson: 5,896 nodes, 8,359 edges, 1,340.5 km of street
    (3,538 of 4,412 lines walkable); 54 component(s) before filtering, 53 island(s) dropped
    (54.80 km); CRS EPSG:4547
      walk profile china-walk: 227 elevated or expressway line(s) (108.2 km) not walkable
      coincident nodes: 0 merged, 18 kept apart (10 bridge, 3 tunnel, 5 layer)
    """
    kwargs.setdefault("source", str(path))
    if is_osm_file(path):
        given = {"layer": layer, "crs": crs, "encoding": encoding}
        wrong = [k for k, v in given.items() if v is not None]
        if coord_system != "wgs84":
            wrong.append("coord_system")
        if wrong:
            raise InputError(
                f"option(s) {', '.join(wrong)} do not apply to raw OSM files, which are always "
                "WGS84 lon/lat in UTF-8.",
                where=str(path),
                fix=f"remove {', '.join(wrong)} for this file.",
            )
        return graph_from_osm(path, bbox=bbox, **kwargs)
    lines = read_layer(path, layer=layer, crs=crs, encoding=encoding, coord_system=coord_system,
                       kind="street layer")
    if bbox is not None:
        box = gpd.GeoSeries([shapely.box(*bbox)], crs="EPSG:4326").to_crs(lines.crs)
        lines = lines[lines.intersects(box.iloc[0])]
    return graph_from_lines(lines, **kwargs)


def graph_from_osm(path: str | os.PathLike[str], *, bbox: BBox | None = None, **kwargs: Any) -> Network:
    """Build a walking :class:`~siteplan.network.graph.Network` from a raw OSM file.

    Ways connect where they share a node id (:func:`siteplan.osm.features.read_osm_lines`
    keeps the ids in ``osm_node_ids``) and, unless ``coincident_nodes="keep"``, where distinct
    nodes sit at one position on ways of the same level (:mod:`siteplan.network.coincident`).

    Parameters
    ----------
    path
        ``.osm`` XML (optionally ``.gz`` / ``.bz2``) or ``.osm.pbf``.
    bbox
        ``(west, south, east, north)`` in degrees: keep the ways that intersect it.
    **kwargs
        Passed to :func:`graph_from_lines` (``walk_filter``, ``filter_walkable``,
        ``metric_crs``, ``metric_kind``, ``keep_largest``, ``source``, ``coincident_nodes``,
        ``coincident_tolerance_m``).  Keep ``snap_tolerance_m`` at 0: it would join dead
        ends to bridges and tunnels whatever their level.

    Returns
    -------
    Network
        The walking network in the analysis CRS, with its build report.

    Raises
    ------
    NetworkError
        A non-zero ``snap_tolerance_m``, or nothing walkable after filtering.
    InputError
        The file is missing or unreadable, or ``bbox`` is not a valid box.

    Examples
    --------
    >>> net = graph_from_osm("tests/data/beijing_haidian_pku_tsinghua_2017.osm")
    >>> net.n_nodes, net.n_edges, net.crs.to_string()
    (827, 1134, 'EPSG:32650')
    >>> net.report.n_lines_walkable, net.report.n_lines_in
    (572, 684)
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


__all__ = ["graph_from_file", "graph_from_lines", "graph_from_osm"]
