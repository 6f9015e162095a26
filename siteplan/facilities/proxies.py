"""Honest stand-ins for transport facilities a data set lacks.

The bundled Taiyuan extract has no bus-stop or metro-station points.  Rather than pretend, the
Taiyuan study measures transport access with two labelled proxies:

- ``bus_corridor``: points every ``spacing_m`` along primary and secondary roads, where Taiyuan's
  bus routes run.  Distance to a corridor under-estimates distance to a stop by up to half the
  stop spacing (about 250 m).
- ``metro_line``: points every ``spacing_m`` along open metro track (``railway=subway`` without
  a ``proposed`` tag).  Stations are about 1 km apart, so this under-estimates distance to a
  station by up to about 500 m.

Both carry ``source = "proxy: ..."`` so maps and shortlists never show them as real stops.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.core.tags import tag_column
from siteplan.io.crs import analysis_crs

BUS_CORRIDOR_HIGHWAYS = ("primary", "secondary")


def _points_along(lines: gpd.GeoDataFrame, spacing_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``spacing_m`` along each line (ends included), in the lines' metric CRS."""
    geoms = lines.geometry.values
    lengths = shapely.length(geoms)
    counts = np.maximum(np.ceil(lengths / spacing_m).astype(np.int64), 1) + 1
    owner = np.repeat(np.arange(len(geoms)), counts)
    step = np.arange(owner.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    frac = step / (counts[owner] - 1)
    pts = shapely.line_interpolate_point(geoms[owner], frac, normalized=True)
    return pts, owner


def transport_proxies(
    lines: gpd.GeoDataFrame,
    *,
    spacing_m: float = 100.0,
    corridor_highways: tuple[str, ...] = BUS_CORRIDOR_HIGHWAYS,
    metric_crs: object | None = None,
) -> gpd.GeoDataFrame:
    """Proxy facilities ``bus_corridor`` and ``metro_line`` from a street/rail line layer.

    Parameters
    ----------
    lines
        OSM-style lines with ``highway`` and ``railway`` as columns or in ``other_tags``.
    spacing_m
        Distance between proxy points along each line.
    corridor_highways
        Highway classes that count as bus corridors.
    metric_crs
        The metric CRS to space the points in (the study's network CRS); by default the
        lines' own analysis CRS (:func:`siteplan.io.crs.analysis_crs`).

    Returns
    -------
    GeoDataFrame
        ``facility_id``, ``class``, ``name``, ``source``, point geometry, in the input CRS.
    """
    highway = tag_column(lines, "highway")
    railway = tag_column(lines, "railway")
    proposed = tag_column(lines, "proposed")
    kinds = {
        "bus_corridor": (highway.isin(list(corridor_highways)).fillna(False).to_numpy(bool),
                         "proxy: primary/secondary road (bus corridor)"),
        "metro_line": (((railway == "subway") & proposed.isna()).fillna(False).to_numpy(bool),
                       "proxy: open metro track (railway=subway)"),
    }
    metric = analysis_crs(lines) if metric_crs is None else metric_crs
    frames = []
    for cls, (mask, source) in kinds.items():
        chosen = lines[mask]
        if chosen.empty:
            continue
        projected = chosen.to_crs(metric)
        pts, owner = _points_along(projected, spacing_m)
        ids = chosen["osm_id"].astype(str).to_numpy() if "osm_id" in chosen else \
            np.arange(len(chosen)).astype(str)
        names = chosen["name"].to_numpy() if "name" in chosen else np.full(len(chosen), None)
        # owner is sorted: a point's number along its line is its distance from the first.
        seq = np.arange(owner.size) - np.searchsorted(owner, owner)
        frames.append(gpd.GeoDataFrame({
            "facility_id": np.char.add(np.char.add(np.char.add(cls + ":", ids[owner].astype(
                str)), ":"), seq.astype(str)).astype(object),
            "class": cls,
            "name": names[owner],
            "source": source,
        }, geometry=pts, crs=metric))
    if not frames:
        return gpd.GeoDataFrame({"facility_id": [], "class": [], "name": [], "source": []},
                                geometry=[], crs=lines.crs)
    out = pd.concat(frames, ignore_index=True)
    # Points on a line shared by two ways appear twice; one is enough (the same points as
    # GeoSeries.duplicated finds, from their coordinates).
    pts = out.geometry.to_numpy()
    xy = pd.DataFrame({"x": shapely.get_x(pts), "y": shapely.get_y(pts)})
    out = out[~xy.duplicated().to_numpy()].reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=metric).to_crs(lines.crs)
