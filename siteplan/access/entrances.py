"""Where residents leave their estate: the entrances of demand units (小区, buildings, parcels).

A unit (a residential area, a building, a parcel) is served when its residents can walk from
one of its entrances to a facility within the radius, so distances start at the entrances, not
at a centroid deep inside a large estate.  :func:`unit_entrances` picks them, in this order:

1. **mapped**: entrance points (OSM ``entrance=*`` or ``barrier=gate`` nodes, or a bureau's
   layer of 小区出入口) within ``tolerance_m`` of the unit's boundary;
2. **boundary**: else the boundary is cut into stretches of about ``spacing_m`` (one for a small
   estate, several for a large one) and each stretch's entrance is its point nearest to a
   walkable street, where a gate would open onto it; stretches farther than ``max_snap_m``
   from every street give none;
3. **representative**: else (points, or outlines with no street near) the representative
   point, which then reaches the network by its straight access leg, as a parcel does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from siteplan.core.defaults import (
    ENTRANCE_SPACING_M,
    ENTRANCE_TOLERANCE_M,
    MAX_ENTRANCES,
    MAX_SNAP_M,
)
from siteplan.core.errors import InputError
from siteplan.io.layers import is_polygonal
from siteplan.network.graph import Network
from siteplan.network.linear import substrings
from siteplan.network.snapping import snap

#: How a unit's entrances were found, in the order they are tried.
ENTRANCE_KINDS = ("mapped", "boundary", "representative")


@dataclass(frozen=True)
class Entrances:
    """The entrances of ``n_units`` demand units.

    Attributes
    ----------
    xy
        ``(K, 2)`` entrance coordinates in the network's CRS, grouped by unit.
    owner
        ``(K,)`` index of the unit of each entrance, ascending; every unit has at least one.
    kind
        ``(n_units,)`` how each unit's entrances were found: ``"mapped"``, ``"boundary"`` or
        ``"representative"``.
    """

    xy: np.ndarray
    owner: np.ndarray
    kind: np.ndarray

    @property
    def n_units(self) -> int:
        """Number of units."""
        return int(self.kind.shape[0])

    def counts(self) -> np.ndarray:
        """Return the number of entrances of each unit."""
        counts: np.ndarray = np.bincount(self.owner, minlength=self.n_units)
        return counts


def _mapped(geoms: np.ndarray, todo: np.ndarray, points: np.ndarray,
            tolerance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (unit, point index) pairs of the mapped entrances on the boundary of ``todo``."""
    pts = np.asarray(points, dtype=object)
    pts = pts[~shapely.is_missing(pts) & ~shapely.is_empty(pts)]
    if pts.size == 0 or todo.size == 0:
        return np.empty(0, np.int64), np.empty(0)
    tree = shapely.STRtree(pts)
    unit_i, pt_i = tree.query(shapely.boundary(geoms[todo]), predicate="dwithin",
                              distance=tolerance_m)
    return todo[unit_i], shapely.get_coordinates(pts[pt_i])


def _boundary(net: Network, geoms: np.ndarray, todo: np.ndarray, spacing_m: float,
              max_entrances: int, max_snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (unit, xy) of the boundary entrances of ``todo``: one per stretch of outline."""
    parts, part_of = shapely.get_parts(geoms[todo], return_index=True)
    rings = shapely.remove_repeated_points(shapely.get_exterior_ring(parts))
    length = shapely.length(rings)
    ok = length > 0
    rings, length, owner = rings[ok], length[ok], todo[part_of[ok]]
    n = np.clip(np.ceil(length / spacing_m), 1, max_entrances).astype(np.int64)
    ring = np.repeat(np.arange(rings.size), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    step = length[ring] / n[ring]
    pieces = substrings(rings, ring, k * step, (k + 1) * step)
    # Each stretch's point nearest to a walkable street (GEOS, as for large school grounds).
    sn = snap(net, pieces, how="nearest-boundary", max_snap_m=max_snap_m)
    keep = sn.reachable
    xy, unit = np.round(sn.origin_xy[keep], 3), owner[ring[keep]]
    # Neighbouring stretches may pick the same corner: keep each point once per unit.
    _, first = np.unique(np.column_stack([unit, xy]), axis=0, return_index=True)
    first = np.sort(first)
    return unit[first], xy[first]


def unit_entrances(
    net: Network,
    geoms: np.ndarray,
    *,
    mapped: np.ndarray | None = None,
    spacing_m: float = ENTRANCE_SPACING_M,
    max_entrances: int = MAX_ENTRANCES,
    tolerance_m: float = ENTRANCE_TOLERANCE_M,
    max_snap_m: float = MAX_SNAP_M,
) -> Entrances:
    """Find the entrances of demand units (see the module docstring for the rules).

    Parameters
    ----------
    net
        The walking network.
    geoms
        ``(U,)`` unit geometries in ``net.crs``: polygons (estates, buildings, parcels) or
        points (a bureau's 小区 points).
    mapped
        Entrance points in ``net.crs`` (OSM entrances and gates, or a bureau layer); those
        within ``tolerance_m`` of a unit's boundary are its entrances.
    spacing_m
        Perimeter per boundary entrance (one stretch of outline each), for units without
        mapped entrances.
    max_entrances
        Most boundary entrances per outline.
    tolerance_m
        How close to the boundary a mapped entrance must lie.
    max_snap_m
        A stretch of boundary farther than this from every walkable street has no entrance.

    Returns
    -------
    Entrances
        Every unit's entrance points, grouped by unit, and how they were found.

    Raises
    ------
    InputError
        A spacing, tolerance or entrance count that is not a positive number.

    Examples
    --------
    A 300 m x 100 m estate south of a street, a 50 m x 50 m one with a gate on its east side,
    and a point:

    >>> import geopandas as gpd
    >>> import numpy as np
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import graph_from_lines, unit_entrances
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (1000, 0)])],
    ...     crs="EPSG:32649"))
    >>> units = np.array([box(0, -110, 300, -10), box(500, -60, 550, -10), Point(800, -50)])
    >>> ent = unit_entrances(net, units, mapped=np.array([Point(550, -30)]))
    >>> ent.kind.tolist(), ent.counts().tolist()
    (['boundary', 'mapped', 'representative'], [3, 1, 1])

    The first estate's 800 m outline makes four stretches: two meet the street at the ends of
    its street side, one is the back, 110 m from the street (and never the nearest way out):

    >>> ent.xy[ent.owner == 0].tolist()
    [[300.0, -10.0], [0.0, -10.0], [100.0, -110.0]]
    """
    defaults = {"spacing_m": ENTRANCE_SPACING_M, "tolerance_m": ENTRANCE_TOLERANCE_M,
                "max_entrances": MAX_ENTRANCES}
    for name, value in (("spacing_m", spacing_m), ("tolerance_m", tolerance_m),
                        ("max_entrances", max_entrances)):
        if not (np.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a positive number, got {value!r}.",
                             where="entrances", fix=f"use e.g. {defaults[name]:g}.")
    geoms = np.asarray(geoms, dtype=object)
    u = geoms.shape[0]
    kind = np.full(u, "representative", dtype=object)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    polygon = np.flatnonzero(present & is_polygonal(geoms))
    units, xys = [], []
    if mapped is not None:
        m_unit, m_xy = _mapped(geoms, polygon, mapped, tolerance_m)
        units.append(m_unit)
        xys.append(m_xy.reshape(-1, 2))
        kind[m_unit] = "mapped"
    rest = polygon[kind[polygon] == "representative"]
    if rest.size:
        b_unit, b_xy = _boundary(net, geoms, rest, spacing_m, int(max_entrances), max_snap_m)
        units.append(b_unit)
        xys.append(b_xy)
        kind[b_unit] = "boundary"
    left = np.flatnonzero(kind == "representative")
    if left.size:
        pts = np.full((left.size, 2), np.nan)
        ok = present[left]
        pts[ok] = shapely.get_coordinates(shapely.point_on_surface(geoms[left[ok]]))
        units.append(left)
        xys.append(pts)
    owner = np.concatenate(units) if units else np.empty(0, np.int64)
    xy = np.concatenate(xys) if xys else np.empty((0, 2))
    order = np.argsort(owner, kind="stable")
    return Entrances(xy[order], owner[order].astype(np.int64), kind.astype(str))


__all__ = ["ENTRANCE_KINDS", "Entrances", "unit_entrances"]
