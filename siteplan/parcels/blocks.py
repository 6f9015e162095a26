"""Urban blocks from street lines, as candidate parcels where a city has no parcel layer.

The blocks are the faces enclosed by the streets (:func:`block_lines` picks the lines that bound
blocks), minus blocks mostly covered by parks, water, schools or hospitals
(:func:`exclusion_polygons`).  ``scripts/make_taiyuan_parcels.py`` builds the bundled Taiyuan
demo candidates this way.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from siteplan.core.defaults import (
    BLOCK_DEFAULT_FAR,
    BLOCK_HIGHWAYS,
    BLOCK_MAX_COVERED_SHARE,
    BLOCK_MAX_HA,
    BLOCK_MIN_HA,
    BLOCK_RAILWAYS,
    BLOCK_WATERWAYS,
)
from siteplan.core.errors import InputError
from siteplan.core.tags import tag_column
from siteplan.io.crs import analysis_crs
from siteplan.parcels.shapes import POLYGON_TYPES


def block_lines(
    lines: gpd.GeoDataFrame,
    *,
    highways: Sequence[str] = BLOCK_HIGHWAYS,
    railways: Sequence[str] = BLOCK_RAILWAYS,
    waterways: Sequence[str] = BLOCK_WATERWAYS,
) -> gpd.GeoDataFrame:
    """Select the lines that bound urban blocks.

    They are the streets of the given ``highway`` classes plus surface railways and
    rivers/canals.  Tags may be columns or sit in an hstore ``other_tags`` column.
    """
    hw = tag_column(lines, "highway").isin(list(highways)).fillna(False)
    rw = tag_column(lines, "railway").isin(list(railways)).fillna(False)
    ww = tag_column(lines, "waterway").isin(list(waterways)).fillna(False)
    return lines[(hw | rw | ww).to_numpy(dtype=bool)]


def exclusion_polygons(polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Select the areas that are not housing land.

    They are parks, water, schools, kindergartens, colleges, universities and hospitals (OSM
    tags ``leisure=park``, ``natural=water``, ``waterway=riverbank``,
    ``landuse=reservoir|basin``, ``amenity=school|kindergarten|college|university|hospital``).
    """
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
    return out[out.geometry.geom_type.isin(POLYGON_TYPES)]


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
    min_ha: float = BLOCK_MIN_HA,
    max_ha: float = BLOCK_MAX_HA,
    max_covered_share: float = BLOCK_MAX_COVERED_SHARE,
    *,
    residential_polygons: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    residential_share: float = 0.5,
    residential_code: str = "0701",
    default_far: float = BLOCK_DEFAULT_FAR,
    id_prefix: str = "TY-",
    metric_crs: CRS | str | None = None,
) -> gpd.GeoDataFrame:
    """Make candidate parcels of the urban blocks that street lines enclose.

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
        ``residential_share`` gets ``landuse_code = residential_code``.
    residential_share
        Share of a block that residential areas must cover for it to count as residential.
    residential_code
        Land-use code of residential blocks (0701 城镇住宅用地 by default).
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

    Raises
    ------
    InputError
        The lines have no CRS, or the area range is not ``0 < min_ha <= max_ha``.

    Examples
    --------
    >>> from siteplan.io.layers import read_layer
    >>> streets = read_layer("data/taiyuan/taiyuan_osm_lines.geojson")
    >>> blocks = blocks_from_streets(block_lines(streets))
    >>> len(blocks), blocks.crs.to_string()
    (1388, 'EPSG:32649')
    >>> blocks.attrs["counts"]
    {'faces': 3526, 'in_area_range': 1388, 'dropped_covered': 0, 'kept': 1388, 'residential': 0}
    >>> blocks[["parcel_id", "area_m2", "far"]].head(3)
      parcel_id   area_m2  far
    0   TY-0001   87920.2  2.5
    1   TY-0002   14248.5  2.5
    2   TY-0003  223579.5  2.5
    """
    if lines.crs is None:
        raise InputError("the street lines have no CRS.", where="blocks_from_streets",
                         fix="declare the CRS of the line layer.")
    if not 0 < min_ha <= max_ha:
        raise InputError(f"need 0 < min_ha <= max_ha, got {min_ha} and {max_ha}.",
                         where="blocks_from_streets", fix="choose a valid area range in hectares.")
    if metric_crs is not None:
        metric = CRS.from_user_input(metric_crs)
    else:
        metric = analysis_crs(lines)
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
    "BLOCK_HIGHWAYS", "BLOCK_RAILWAYS", "BLOCK_WATERWAYS", "block_lines", "blocks_from_streets",
    "exclusion_polygons",
]
