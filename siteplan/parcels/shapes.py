"""Parcel shape measures, vectorised over parcels: area, compactness, concave corners.

Measures are taken in a metric CRS (:func:`metric_geometries`).  Compactness (方正度) is the
parcel's area over that of its minimum rotated rectangle; concave corners count the reflex
turns of the outline, after simplifying away digitising noise.  :func:`shape_measure` gives a
measure by the name a study's geometry criteria and constraints use.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from siteplan.core.errors import InputError
from siteplan.io.crs import analysis_crs

#: Geometry types a parcel may have.
POLYGON_TYPES = ("Polygon", "MultiPolygon")

# Vertices closer than this to the simplified outline are digitising noise, not corners.
CORNER_SIMPLIFY_M = 0.5


def metric_geometries(parcels: gpd.GeoDataFrame | gpd.GeoSeries,
                      metric_crs: CRS | str | None = None) -> np.ndarray:
    """Return the parcel geometries in a metric CRS.

    That is ``metric_crs``, else the layer's own CRS if it measures true metres
    (:func:`siteplan.io.crs.analysis_crs`), else the local UTM zone.
    """
    if parcels.crs is None:
        raise InputError("the parcels have no CRS.", where="parcels",
                         fix="declare it (gdf.set_crs(...)) before measuring shapes.")
    geo = parcels.to_crs(metric_crs if metric_crs is not None else analysis_crs(parcels))
    return np.asarray(geo.geometry.values, dtype=object)


def area_ha(geoms: np.ndarray) -> np.ndarray:
    """Return the area in hectares of metric geometries."""
    hectares: np.ndarray = shapely.area(np.asarray(geoms, dtype=object)) / 1e4
    return hectares


def compactness(geoms: np.ndarray) -> np.ndarray:
    """Return the 方正度: area / area of the minimum rotated rectangle.

    It is 1 for a rectangle, about 0.785 for a circle, and lower for L-shapes and slivers;
    NaN for empty or zero-area geometries.
    """
    geoms = np.asarray(geoms, dtype=object)
    rect = shapely.area(shapely.oriented_envelope(geoms))
    area = shapely.area(geoms)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rect > 0, area / rect, np.nan)


def concave_corners(geoms: np.ndarray, *, min_turn_deg: float = 15.0,
                    simplify_m: float = CORNER_SIMPLIFY_M) -> np.ndarray:
    """Count the concave (reflex) corners of each polygon.

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


__all__ = [
    "CORNER_SIMPLIFY_M", "POLYGON_TYPES", "area_ha", "compactness", "concave_corners",
    "metric_geometries", "shape_measure",
]
