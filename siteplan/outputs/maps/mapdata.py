"""Layer data for the web map: display geometries in lon/lat and column-wise payloads.

Shared by :mod:`siteplan.outputs.maps.webmap` and :mod:`siteplan.outputs.maps.overlays`.
"""

from __future__ import annotations

import html
import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from siteplan.io.layers import is_polygonal
from siteplan.outputs.maps.assets import RawJson, js_json
from siteplan.outputs.maps.style import as_cells


def display(geoms: gpd.GeoSeries, metric: CRS, tol: float, coverage: bool) -> np.ndarray:
    """Simplified (``tol`` metres, topology kept) lon/lat geometries rounded to 6 decimals.

    Parcels that form a valid coverage are simplified together (shared edges stay shared, no
    slivers between neighbours); anything else polygon by polygon.
    """
    g = np.asarray(geoms.to_crs(metric).values, dtype=object)
    if tol > 0:
        polygonal = bool(is_polygonal(g).all())
        if coverage and polygonal and shapely.coverage_is_valid(g):
            g = shapely.coverage_simplify(g, tol)
        else:
            g = shapely.simplify(g, tol, preserve_topology=True)
    lonlat = np.asarray(gpd.GeoSeries(g, crs=metric).to_crs(4326).values, dtype=object)
    rounded: np.ndarray = shapely.transform(lonlat, lambda c: np.round(c, 6))
    return rounded


def points(geoms: gpd.GeoSeries, metric: CRS) -> np.ndarray:
    """Marker positions: the point itself, or a point inside a polygon, in lon/lat."""
    g = np.asarray(geoms.to_crs(metric).values, dtype=object)
    pts = shapely.point_on_surface(g)
    lonlat = np.asarray(gpd.GeoSeries(pts, crs=metric).to_crs(4326).values, dtype=object)
    rounded: np.ndarray = shapely.transform(lonlat, lambda c: np.round(c, 6))
    return rounded


def payload(geoms: np.ndarray, **columns: Any) -> RawJson:
    """Column-wise layer data: ``{"g": [GeoJSON geometries], "<key>": [...], ...}``.

    Geometries come from GEOS (numbers and keywords only, so already script-safe); every other
    column goes through :func:`js_json`.  One label per column, not per feature, keeps the file
    small.
    """
    parts = ['"g":[' + ",".join(shapely.to_geojson(geoms).tolist()) + "]"]
    for key, val in columns.items():
        if val is not None:
            parts.append(f'"{key}":{js_json(val)}')
    return RawJson("{" + ",".join(parts) + "}")


def col(values: pd.Series | np.ndarray) -> list[str | None]:
    """Return a column for the page: missing values (None, NaN, NA) become null."""
    cells: list[str | None] = as_cells(values).tolist()
    return cells


def esc(text: str) -> str:
    """HTML-escape a text made in Python (quotes included)."""
    return html.escape(text, quote=True)


def css_name(cls: str) -> str:
    """Return a class name usable in a CSS class (anything else becomes ``-``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", cls)


__all__ = ["col", "css_name", "display", "esc", "payload", "points"]
