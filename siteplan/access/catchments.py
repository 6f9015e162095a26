"""Service areas (catchments) along the street network.

A catchment is the street frontage a facility reaches on foot within its service radius: every
street point whose network distance from the facility (access leg included) is at most the radius,
buffered by a frontage width so that the blocks facing those streets count as served.  Partial
edges are cut at the exact remaining budget; nothing is a convex or concave hull, so a polygon never
covers land that is not near a reachable street.

Which stretches of street are reached is computed in :mod:`siteplan.access.reach`; cutting them
out of the edge geometries in :mod:`siteplan.network.linear`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.access.distances import snap_facilities
from siteplan.access.reach import (
    class_streets,
    per_facility_vees,
    pieces_within,
    reached_pieces,
    split_pieces,
)

# Seed clause 三(二)8 (好房子) service radii and the GB 50180-2018 5/10/15-minute life circles.
from siteplan.core.defaults import FRONTAGE_M, GB50180_CIRCLES_M, MAX_SNAP_M, SEED_RADII_M
from siteplan.core.errors import ConfigError, InputError
from siteplan.network.graph import Network
from siteplan.network.linear import substrings
from siteplan.network.snapping import Snap, SnapPoint

Mode = Literal["overlap", "dissolve", "split", "rings"]

# Round joins and caps with 6 segments per quarter circle: chords stay inside the true buffer
# (never false coverage) and fall short of it by at most w * (1 - cos(pi/24)), 0.26 m at 30 m.
DEFAULT_QUAD_SEGS = 6

# Cells of one padded block of buffered parts in buffer_streets (object pointers).
_PAD_CELLS = 1_000_000


def pieces_to_lines(net: Network, pieces: pd.DataFrame, n_groups: int) -> np.ndarray:
    """Return ``(n_groups,)`` MultiLineStrings (line-merged) of the pieces of each group."""
    out = np.full(n_groups, None, dtype=object)
    out[:] = shapely.MultiLineString()
    if len(pieces) == 0:
        return out
    pieces = pieces.sort_values(["group", "edge", "s"], kind="stable")
    lines = substrings(net.edge_geometry, pieces["edge"].to_numpy(), pieces["s"].to_numpy(),
                       pieces["t"].to_numpy(), vertices=net.vertices)
    group = pieces["group"].to_numpy()
    present = np.unique(group)
    multi = shapely.multilinestrings(lines, indices=np.searchsorted(present, group))
    out[present] = shapely.line_merge(multi)
    return out


def buffer_streets(lines: np.ndarray, frontage_m: float,
                   quad_segs: int = DEFAULT_QUAD_SEGS) -> np.ndarray:
    """Return street-frontage polygons: the lines buffered by ``frontage_m`` (round caps).

    GEOS buffers a MultiLineString far more slowly than it buffers its parts one by one and
    unions them (4.4 s against 0.3 s for the 5,000 pieces of a city-wide class; 3x faster for
    single facilities at 500 m), so each part is buffered alone and the parts of each geometry
    unioned.
    """
    lines = np.asarray(lines, dtype=object)
    parts, owner = shapely.get_parts(lines, return_index=True)
    if parts.size == 0:
        empty: np.ndarray = shapely.buffer(lines, frontage_m, quad_segs=quad_segs)
        return empty
    polys = shapely.buffer(parts, frontage_m, quad_segs=quad_segs)
    out = grouped_reduce(polys, owner, lines.shape[0], shapely.union_all, _PAD_CELLS)
    out[shapely.is_missing(out)] = shapely.Polygon()
    return out


def grouped_reduce(values: np.ndarray, group: np.ndarray, n: int, fn: Any,
                   pad_cells: int = _PAD_CELLS) -> np.ndarray:
    """Apply ``fn(table, axis=1)`` to the values of each of ``n`` groups (``group`` sorted).

    Groups without values get None.  Ragged groups go into padded 2-D blocks of groups of
    similar size, so that the padding stays small and each block is one vectorised call
    (shapely's reductions skip the None padding); ``pad_cells`` bounds the cells of one block.
    """
    counts = np.bincount(group, minlength=n)
    starts = np.cumsum(counts) - counts
    out = np.full(n, None, dtype=object)
    by_size = np.argsort(counts, kind="stable")
    by_size = by_size[counts[by_size] > 0]
    start = 0
    while start < by_size.size:
        stop = start + 1
        while stop < by_size.size and counts[by_size[stop]] * (stop + 1 - start) <= pad_cells:
            stop += 1
        block = by_size[start:stop]
        width = int(counts[block].max())
        table = np.full((block.size, width), None, dtype=object)
        row = np.repeat(np.arange(block.size), counts[block])
        col = np.arange(row.size) - np.repeat(np.cumsum(counts[block]) - counts[block],
                                              counts[block])
        table[row, col] = values[np.repeat(starts[block], counts[block]) + col]
        out[block] = fn(table, axis=1)
        start = stop
    return out


# --------------------------------------------------------------------------------------------
# Catchment polygons
# --------------------------------------------------------------------------------------------
def check_radii(radii: Mapping[str, float]) -> None:
    """Refuse, with a :class:`~siteplan.core.errors.ConfigError`, a radius that is not positive."""
    for cls, r in radii.items():
        if not (isinstance(r, int | float) and np.isfinite(r) and r > 0):
            raise ConfigError(f"catchment radius for {cls!r} must be a positive number of "
                              f"metres, got {r!r}.", where=f"radii.{cls}",
                              fix="give e.g. 300, 500 or 1000.")


def catchments(
    net: Network,
    facilities: gpd.GeoDataFrame,
    radii: Mapping[str, float] | None = None,
    *,
    mode: Mode = "overlap",
    rings_m: Sequence[float] = tuple(GB50180_CIRCLES_M.values()),
    frontage_m: float = FRONTAGE_M,
    facility_point: SnapPoint = "representative",
    max_snap_m: float = MAX_SNAP_M,
    budget_bytes: int = 64 * 2**20,
    as_lines: Collection[str] = (),
) -> gpd.GeoDataFrame:
    """Draw the service areas of facilities along the street network.

    Parameters
    ----------
    net
        The walking network.
    facilities
        ``facility_id``, ``class`` and geometry, with a CRS.
    radii
        ``{class: radius_m}``; the seed radii (kindergarten 300 m, primary school 500 m,
        middle school 1000 m; seed clause 三(二)8) by default.  Classes absent from the data get
        no rows.
    mode
        ``"overlap"``: one polygon per facility.  ``"dissolve"``: one (multi)polygon per class.
        ``"split"``: one polygon per facility from the streets nearest to it (network Voronoi;
        neighbours' polygons may overlap only within ``frontage_m`` of the streets they split).
        ``"rings"``: one polygon per facility and cutoff in ``rings_m``; each contains the
        previous one (built as their union, so exactly up to floating-point rounding, under a
        micrometre).
    rings_m
        Cutoffs in metres for ``"rings"`` (GB 50180-2018 5/10/15-minute life circles by default).
    frontage_m
        Depth of the street frontage counted as served (default 30 m).
    facility_point, max_snap_m
        How facilities reach the network (:func:`siteplan.network.snapping.snap`).  Facilities that
        cannot reach it get no polygon (they are in the access report).
    budget_bytes
        Memory bound of one block of per-facility passes.
    as_lines
        Classes whose catchment is the streets they reach, whatever the mode: one row per class,
        the reached stretch of each edge as one part (a MultiLineString), ``area_m2`` NaN.
        For proxies (thousands of points along roads) and classes with thousands of
        facilities, whose polygons would take minutes to build and are drawn merged anyway.

    Returns
    -------
    geopandas.GeoDataFrame
        In ``net.crs``: ``facility_id`` (missing for ``"dissolve"`` and ``as_lines``),
        ``class``, ``radius_m``, ``street_m`` (length of reached street), ``area_m2`` and
        geometry; rows ordered by class then facility.

    Raises
    ------
    ConfigError
        A radius, ring cutoff or frontage that is not a positive number, or an unknown mode.
    InputError
        Facilities without ``facility_id``, ``class`` or a CRS.

    Examples
    --------
    A kindergarten in the middle of a 2 km street reaches 300 m of it each way:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point
    >>> from siteplan import catchments, graph_from_lines
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"]},
    ...                       geometry=[Point(1000, 0)], crs=crs)
    >>> areas = catchments(net, kg, {"kindergarten": 300.0})
    >>> areas[["facility_id", "class", "radius_m", "street_m"]].values.tolist()
    [['k1', 'kindergarten', 300.0, 600.0]]
    >>> round(float(areas["area_m2"].iloc[0]) / 1e4, 1)  # 600 m x 60 m and round caps, in ha
    3.9

    As the street it reaches:

    >>> lines = catchments(net, kg, {"kindergarten": 300.0}, as_lines=["kindergarten"])
    >>> lines.geometry.iloc[0].geom_type, float(lines["street_m"].iloc[0])
    ('MultiLineString', 600.0)
    """
    radii = dict(SEED_RADII_M if radii is None else radii)
    check_radii(radii)
    if not (np.isfinite(frontage_m) and frontage_m > 0):
        raise ConfigError(f"frontage_m must be a positive number of metres, got {frontage_m}.",
                          where="catchments.frontage_m", fix="use e.g. 30.")
    if mode not in ("overlap", "dissolve", "split", "rings"):
        raise ConfigError(f"unknown catchment mode {mode!r}.", where="catchments.mode",
                          fix='use "overlap", "dissolve", "split" or "rings".')
    rings = sorted(float(r) for r in rings_m)
    if mode == "rings":
        check_radii({f"rings_m[{i}]": r for i, r in enumerate(rings)})
    missing = [c for c in ("facility_id", "class") if c not in facilities.columns]
    if missing:
        raise InputError(f"the facilities have no {', '.join(missing)} column(s).",
                         where="facilities", fix="classify them first or add the columns.")
    if facilities.crs is None:
        raise InputError("the facilities have no CRS.", where="facilities",
                         fix="set one (gdf.set_crs(...)).")
    present = set(facilities["class"].astype(str))
    snaps = snap_facilities(net, facilities, [c for c in sorted(radii) if c in present],
                            how=facility_point, max_snap_m=max_snap_m)
    frames = []
    for cls, (sn, ids) in snaps.items():
        if cls in as_lines:
            frames.append(_line_rows(net, sn, cls, float(radii[cls])))
            continue
        order = np.argsort(ids, kind="stable")
        frames.append(_class_catchments(net, sn.subset(order), ids[order], cls,
                                        float(radii[cls]), mode, rings, frontage_m,
                                        budget_bytes))
    columns = ["facility_id", "class", "radius_m", "street_m", "area_m2"]
    if not frames:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=net.crs)
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=net.crs)


def _class_catchments(net: Network, sn: Snap, ids: np.ndarray, cls: str, radius: float,
                      mode: Mode, rings: list[float], frontage_m: float,
                      budget_bytes: int) -> pd.DataFrame:
    n = len(sn)
    if mode == "dissolve":
        pieces = reached_pieces(net, sn, radius, per_facility=False)
        lines = pieces_to_lines(net, pieces, 1)
        return _rows([None], cls, radius, pieces, lines, frontage_m)
    if mode == "split":
        pieces = split_pieces(net, sn, radius, budget_bytes)
        keep = sn.reachable
        lines = pieces_to_lines(net, pieces, n)
        return _rows(ids, cls, radius, pieces, lines, frontage_m)[keep].reset_index(drop=True)
    if mode == "overlap":
        pieces = reached_pieces(net, sn, radius, budget_bytes=budget_bytes)
        lines = pieces_to_lines(net, pieces, n)
        return _rows(ids, cls, radius, pieces, lines, frontage_m)[sn.reachable].reset_index(
            drop=True)
    vees = per_facility_vees(net, sn, rings[-1], budget_bytes)
    frames = []
    previous = None
    for r in rings:
        pieces = pieces_within(net, vees, r)
        lines = pieces_to_lines(net, pieces, n)
        rows = _rows(ids, cls, r, pieces, lines, frontage_m)
        if previous is not None:
            # Buffers of nested line sets nest only up to the chord error of round joins; the
            # union makes every outer ring contain its inner ring exactly.
            geom = shapely.union(rows["geometry"].to_numpy(), previous)
            rows["geometry"] = geom
            rows["area_m2"] = shapely.area(geom)
        previous = rows["geometry"].to_numpy()
        rows.insert(3, "ring", rings.index(r))
        frames.append(rows[sn.reachable])
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["facility_id", "ring"], kind="stable").reset_index(drop=True)


def _line_rows(net: Network, sn: Snap, cls: str, radius: float) -> pd.DataFrame:
    """One row: the streets the class reaches within ``radius``, as lines.

    The reached stretch of each edge is one part, not line-merged across edges: merging a
    city's worth of pieces is one GEOS call of seconds, and the row is drawn as lines anyway.
    """
    pieces, parts = class_streets(net, sn, radius)
    lines = np.array([shapely.multilinestrings(parts)], dtype=object)
    return pd.DataFrame({
        "facility_id": pd.array([None], dtype="string"),
        "class": cls,
        "radius_m": radius,
        "street_m": float((pieces["t"] - pieces["s"]).sum()),
        "area_m2": np.nan,
        "geometry": lines,
    })


def _rows(ids: Sequence[object] | np.ndarray, cls: str, radius: float, pieces: pd.DataFrame,
          lines: np.ndarray, frontage_m: float) -> pd.DataFrame:
    polys = buffer_streets(lines, frontage_m)
    street = np.bincount(pieces["group"].to_numpy(), weights=(pieces["t"] - pieces["s"]).to_numpy(),
                         minlength=len(lines))
    return pd.DataFrame({
        "facility_id": pd.array(list(ids), dtype="string"),
        "class": cls,
        "radius_m": radius,
        "street_m": street,
        "area_m2": shapely.area(polys),
        "geometry": polys,
    })
