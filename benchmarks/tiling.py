"""Benchmark data: the bundled Taiyuan network, and the same tiled k x k into one larger network.

How the tiles are stitched
--------------------------
The Taiyuan extract is a roughly rectangular city core (about 9.3 x 12.6 km) with a few streets
reaching beyond it.  The *core* rectangle is the 0.5 %-99.5 % quantile box of the network's
nodes; copy ``(i, j)`` of every layer is translated by ``(i * width, j * height)`` of that box, so
the cores abut.  Streets cut by the extract end in dead ends near the core's edges; each such
dead end (degree 1, within ``STRIP_M`` of an edge) is joined by a straight connector line to the
nearest node of the neighbouring copy's facing strip, if that node lies within
``MAX_CONNECTOR_M``.  Connector ends are existing node coordinates, so they node exactly and the
tiled network has exactly ``k**2`` times the Taiyuan network's nodes (checked by
:func:`check_stitched`); the connectors add edges only.  The few streets beyond the core overlap
the neighbouring copy without sharing vertices, so they stay unconnected to it, like bridges.

Every layer is in EPSG:32649 (UTM 49N, metres); far copies simply have large coordinates.
Facilities per tile: OSM schools (name with 小学 -> ``primary_school``, other schools ->
``middle_school``), OSM hospitals, the two OSM kindergartens plus seeded random kindergartens
near the streets.  Parcels are the bundled demo blocks; residential land is OSM
``landuse=residential``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from siteplan.network.build import graph_from_lines
from siteplan.network.graph import Network

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "taiyuan"
CRS = "EPSG:32649"
STRIP_M = 300.0
MAX_CONNECTOR_M = 600.0
RANDOM_KINDERGARTENS = 60
SEED = 20240601


@dataclass(frozen=True)
class Base:
    """The Taiyuan layers in metres, and the tile pitch."""

    lines: gpd.GeoDataFrame  # raw OSM lines (all tags), projected; the walk filter runs later
    polygons: gpd.GeoDataFrame  # raw OSM multipolygons (facilities, landuse...), projected
    net: Network  # the Taiyuan network (largest component)
    facilities: gpd.GeoDataFrame  # facility_id, class, geometry
    parcels: gpd.GeoDataFrame
    residential: gpd.GeoDataFrame
    lo: np.ndarray  # core box corner
    pitch: np.ndarray  # core box size = translation between neighbouring tiles
    connectors: tuple[np.ndarray, np.ndarray]  # per axis (x, y): (C, 2) node pairs; see _connectors


@dataclass(frozen=True)
class World:
    """One dataset: every layer of ``k x k`` tiles, in EPSG:32649."""

    k: int
    lines: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    parcels: gpd.GeoDataFrame
    residential: gpd.GeoDataFrame
    expected_nodes: int
    n_connectors: int


def _facilities(polygons: gpd.GeoDataFrame, net: Network) -> gpd.GeoDataFrame:
    amenity = polygons["amenity"].fillna("")
    name = polygons["name"].fillna("")
    schools = amenity == "school"
    cls = np.where(name.str.contains("小学"), "primary_school", "middle_school")[schools]
    geoms = polygons.geometry.values
    frames = [
        pd.DataFrame({"class": cls, "geometry": geoms[schools]}),
        pd.DataFrame({"class": "hospital", "geometry": geoms[amenity == "hospital"]}),
        pd.DataFrame({"class": "kindergarten", "geometry": geoms[amenity == "kindergarten"]}),
    ]
    rng = np.random.default_rng(SEED)
    at = rng.choice(net.n_nodes, RANDOM_KINDERGARTENS, replace=False)
    xy = net.node_xy[at] + rng.normal(0.0, 40.0, (RANDOM_KINDERGARTENS, 2))
    frames.append(pd.DataFrame({"class": "kindergarten", "geometry": shapely.points(xy)}))
    out = pd.concat(frames, ignore_index=True)
    # Polygons snap by their representative point; points keep themselves.
    out["geometry"] = shapely.point_on_surface(out.geometry.values)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=polygons.crs)


def _connectors(net: Network, lo: np.ndarray,
                hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connectors per axis as ``(C, 2)`` node pairs ``(a, b)`` of the Taiyuan network.

    Along x, ``a`` lies in the east strip of tile ``i`` and ``b`` in the west strip of tile
    ``i + 1``; along y likewise, north to south.
    """
    xy = net.node_xy
    deg = np.bincount(np.concatenate([net.edge_u, net.edge_v]), minlength=net.n_nodes)
    pitch = hi - lo
    out = []
    for axis in (0, 1):
        shift = np.zeros(2)
        shift[axis] = pitch[axis]
        high = np.flatnonzero(np.abs(xy[:, axis] - hi[axis]) <= STRIP_M)
        low = np.flatnonzero(np.abs(xy[:, axis] - lo[axis]) <= STRIP_M)
        pairs = set()
        # Dead ends of the high strip to the nearest node of the next tile's low strip ...
        d, j = cKDTree(xy[low] + shift).query(xy[high])
        for a, b, dist in zip(high, low[j], d, strict=True):
            if deg[a] == 1 and dist <= MAX_CONNECTOR_M:
                pairs.add((int(a), int(b)))
        # ... and dead ends of the low strip back to the previous tile's high strip.
        d, j = cKDTree(xy[high]).query(xy[low] + shift)
        for b, a, dist in zip(low, high[j], d, strict=True):
            if deg[b] == 1 and dist <= MAX_CONNECTOR_M:
                pairs.add((int(a), int(b)))
        out.append(np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2))
    return out[0], out[1]


def load_base() -> Base:
    """Read the bundled Taiyuan layers once and derive the tile geometry."""
    lines = gpd.read_file(DATA / "taiyuan_osm_lines.geojson").to_crs(CRS)
    net = graph_from_lines(lines, source="taiyuan_osm_lines.geojson")
    polygons = gpd.read_file(DATA / "taiyuan_osm_multipolygons.geojson").to_crs(CRS)
    residential = polygons[polygons["landuse"].fillna("") == "residential"][["name", "geometry"]]
    parcels = gpd.read_file(DATA / "parcels.gpkg").to_crs(CRS)
    lo = np.quantile(net.node_xy, 0.005, axis=0)
    hi = np.quantile(net.node_xy, 0.995, axis=0)
    return Base(lines=lines, polygons=polygons, net=net, facilities=_facilities(polygons, net),
                parcels=parcels.reset_index(drop=True),
                residential=residential.reset_index(drop=True), lo=lo, pitch=hi - lo,
                connectors=_connectors(net, lo, hi))


def _translate(geoms: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Every geometry translated by every offset, tile-major."""
    return np.concatenate([shapely.transform(geoms, lambda c, o=o: c + o) for o in offsets])


def _tile_frame(frame: gpd.GeoDataFrame, offsets: np.ndarray, id_col: str | None,
                prefix: str) -> gpd.GeoDataFrame:
    k2 = offsets.shape[0]
    data = pd.DataFrame(frame.drop(columns="geometry")).reset_index(drop=True)
    tiled = pd.concat([data] * k2, ignore_index=True)
    tile = np.repeat(np.arange(k2), len(frame))
    if id_col is not None:
        tiled[id_col] = [f"{prefix}{t}-{i}" for t, i in zip(tile, np.tile(np.arange(len(frame)),
                                                                             k2), strict=True)]
    geoms = _translate(np.asarray(frame.geometry.values, dtype=object), offsets)
    return gpd.GeoDataFrame(tiled, geometry=geoms, crs=CRS)


def tile(base: Base, k: int) -> World:
    """The Taiyuan layers tiled ``k x k`` and stitched into one network (see module docstring)."""
    ii, jj = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    offsets = np.column_stack([ii.ravel(), jj.ravel()]) * base.pitch
    lines = _tile_frame(base.lines, offsets, None, "")
    xy = base.net.node_xy
    extra = []
    tile_ij = np.column_stack([ii.ravel(), jj.ravel()])
    for axis, pairs in enumerate(base.connectors):
        step = np.zeros(2, dtype=np.int64)
        step[axis] = 1
        for t in np.flatnonzero(tile_ij[:, axis] < k - 1):
            nxt = np.flatnonzero((tile_ij == tile_ij[t] + step).all(axis=1))[0]
            # The same additions as _translate, so that the ends equal the tiles' nodes exactly.
            a = xy[pairs[:, 0]] + offsets[t]
            b = xy[pairs[:, 1]] + offsets[nxt]
            extra.append(np.stack([a, b], axis=1))
    if extra:
        geoms = shapely.linestrings(np.concatenate(extra))
        links = gpd.GeoDataFrame({"highway": "footway", "name": "tile connector"},
                                 index=pd.RangeIndex(len(geoms)), geometry=geoms, crs=CRS)
        lines = pd.concat([lines, links], ignore_index=True)
    facilities = _tile_frame(base.facilities, offsets, "facility_id", "f")
    parcels = _tile_frame(base.parcels, offsets, "parcel_id", "p")
    residential = _tile_frame(base.residential, offsets, None, "")
    return World(k=k, lines=gpd.GeoDataFrame(lines, geometry="geometry", crs=CRS),
                 facilities=facilities, parcels=parcels, residential=residential,
                 expected_nodes=k * k * base.net.n_nodes,
                 n_connectors=sum(len(e) for e in extra))


def check_stitched(world: World, net: Network) -> None:
    """Fail loudly if the tiles did not join into one network of the expected size."""
    if net.n_nodes != world.expected_nodes:
        raise RuntimeError(f"tiled network has {net.n_nodes:,} nodes in its largest component, "
                           f"expected {world.expected_nodes:,}: the tiles are not stitched")


def k_for_nodes(base: Base, n_nodes: int) -> int:
    """The smallest ``k`` whose ``k x k`` tiling has at least ``n_nodes`` nodes."""
    return int(np.ceil(np.sqrt(n_nodes / base.net.n_nodes)))


def write_study(base: Base, k: int, folder: Path) -> Path:
    """The Taiyuan demo study on ``k x k`` tiles: input files and a study TOML in ``folder``.

    Streets (with the connectors), every OSM multipolygon (schools, parks, residential land...)
    and the parcels are tiled and written as GeoPackages in EPSG:32649; the study file is
    ``data/taiyuan/study.toml`` with its input paths pointing at them.  Files already written
    for this ``k`` are reused.
    """
    folder.mkdir(parents=True, exist_ok=True)
    study = folder / "study.toml"
    if study.exists():
        return study
    ii, jj = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    offsets = np.column_stack([ii.ravel(), jj.ravel()]) * base.pitch
    world = tile(base, k)
    world.lines.to_file(folder / "streets.gpkg", layer="streets", engine="pyogrio")
    _tile_frame(base.polygons, offsets, None, "").to_file(
        folder / "features.gpkg", layer="features", engine="pyogrio")
    world.parcels.to_file(folder / "parcels.gpkg", layer="parcels", engine="pyogrio")
    text = (DATA / "study.toml").read_text(encoding="utf-8")
    for old, new in (('streets = "taiyuan_osm_lines.geojson"', 'streets = "streets.gpkg"'),
                     ('facilities = "taiyuan_osm_multipolygons.geojson"',
                      'facilities = "features.gpkg"')):
        if old not in text:
            raise RuntimeError(f"data/taiyuan/study.toml no longer has {old!r}")
        text = text.replace(old, new)
    tmp = study.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(study)  # last, so that a half-written folder is never reused
    return study
