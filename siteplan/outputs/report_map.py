"""The parcel report's map: an inline SVG drawn from the run's own layers, needing nothing online.

The parcel in red among its neighbours, the walkable streets, the walking catchments of the
seed classes (where a facility of the class is within its radius along streets), and the
nearest facility of each seed class joined to the parcel by a dashed line labelled with the
walking distance; a scale bar and a north arrow.  Coordinates are the analysis CRS (metres),
so the drawing is true to scale.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.core.labels import label

#: Drawing size in CSS pixels (the PDF prints it 18.6 cm by 8 cm on A4).
WIDTH, HEIGHT = 720.0, 310.0
#: Least half-span of the view around the parcel (m), and most (a far facility is shown by
#: its line leaving the frame).
MIN_HALF_M, MAX_HALF_M = 300.0, 800.0
#: Seed class colours (kindergarten, primary school, middle school, then others).
COLOURS = ("#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


def _nice_length(span_m: float) -> float:
    """Return a round scale length (1, 2 or 5 × 10^k m) near a fifth of ``span_m``."""
    target = max(span_m / 5.0, 1.0)
    k = 10.0 ** math.floor(math.log10(target))
    return max(f * k for f in (1.0, 2.0, 5.0) if f * k <= target)


class _Frame:
    """Metres to SVG pixels for a square-metre view box centred on a point."""

    def __init__(self, cx: float, cy: float, half: float) -> None:
        self.half_x = half * max(1.0, WIDTH / HEIGHT)
        self.half_y = half * max(1.0, HEIGHT / WIDTH)
        self.x0, self.y0 = cx - self.half_x, cy - self.half_y
        self.scale = WIDTH / (2 * self.half_x)
        self.box = shapely.box(self.x0, self.y0, cx + self.half_x, cy + self.half_y)

    def xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (x - self.x0) * self.scale, HEIGHT - (y - self.y0) * self.scale

    def path(self, geoms: Iterable[shapely.Geometry]) -> str:
        """One SVG path ``d`` of polygon rings and lines, clipped to the frame."""
        parts: list[str] = []
        for geom in geoms:
            g = shapely.clip_by_rect(geom, *self.box.bounds)
            if g.is_empty:
                continue
            rings = (shapely.get_rings(g) if g.geom_type in ("Polygon", "MultiPolygon")
                     else shapely.get_parts(g))
            for ring in np.atleast_1d(rings):
                coords = shapely.get_coordinates(ring)
                if len(coords) < 2:
                    continue
                px, py = self.xy(coords[:, 0], coords[:, 1])
                pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
                parts.append(f"M{pts}" + ("Z" if ring.geom_type == "LinearRing" else ""))
        return " ".join(parts)


def _facility_point(facilities: gpd.GeoDataFrame, facility_id: object,
                    parcel: shapely.Geometry) -> shapely.Point | None:
    """Return the point of the facility nearest the parcel (its boundary, for grounds)."""
    if facility_id is None or (isinstance(facility_id, float) and math.isnan(facility_id)):
        return None
    rows = facilities.geometry[facilities["facility_id"].astype(str) == str(facility_id)]
    if rows.empty:
        return None
    line = shapely.shortest_line(rows.iloc[0], parcel)
    return shapely.Point(line.coords[0])


def parcel_svg(parcel: pd.Series, parcels: gpd.GeoDataFrame, *,
               facilities: gpd.GeoDataFrame | None, catchments: gpd.GeoDataFrame | None,
               streets: gpd.GeoDataFrame | None, classes: Sequence[str],
               labels: Mapping[str, tuple[str, str]] | None = None) -> str:
    """Draw one parcel and its surroundings as a self-contained SVG element.

    Parameters
    ----------
    parcel
        The parcel's row (geometry in the analysis CRS; ``nearest_<class>_id``,
        ``dist_<class>_m`` for each class drawn).
    parcels
        All parcels (neighbours drawn in grey).
    facilities, catchments, streets
        The run's facilities (``facility_id``, ``name``), catchments (``class``) and walkable
        street edges, all in the parcels' CRS; any may be None.
    classes
        The classes whose catchment and nearest facility are drawn (the seed classes).
    labels
        Extra ``{key: (English, 中文)}`` labels.

    Returns
    -------
    str
        ``<svg ...>...</svg>`` with every text escaped.
    """
    geom = parcel.geometry
    centre = geom.centroid
    nearest: list[tuple[str, shapely.Point, float]] = []
    for cls in classes:
        if facilities is None:
            break
        point = _facility_point(facilities, parcel.get(f"nearest_{cls}_id"), geom)
        if point is not None:
            nearest.append((cls, point, float(parcel.get(f"dist_{cls}_m", float("nan")))))
    reach = max([shapely.distance(centre, p) + 80.0 for _, p, _ in nearest], default=0.0)
    minx, miny, maxx, maxy = geom.bounds
    half = min(MAX_HALF_M, max(MIN_HALF_M, reach, (maxx - minx) * 0.9, (maxy - miny) * 0.9))
    frame = _Frame(centre.x, centre.y, half)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:g} {HEIGHT:g}" '
           f'width="100%" role="img" class="parcel-map" '
           f'aria-label="{html.escape(label("report_map", "both"))}">',
           f'<rect width="{WIDTH:g}" height="{HEIGHT:g}" fill="#fbfbf8"/>']
    if streets is not None and len(streets):
        near = streets.geometry[streets.intersects(frame.box)]
        out.append(f'<path d="{frame.path(near)}" fill="none" stroke="#9a9a9a" '
                   'stroke-width="1.2"/>')
    others = parcels.geometry[parcels.intersects(frame.box)]
    out.append(f'<path d="{frame.path(others)}" fill="#e8e4da" stroke="#b0a890" '
               'stroke-width="0.6" fill-rule="evenodd"/>')
    for j, cls in enumerate(classes):
        if catchments is None or "class" not in catchments:
            break
        shapes = catchments.geometry[catchments["class"] == cls]
        shapes = shapes[shapes.intersects(frame.box)]
        if len(shapes):
            out.append(f'<path d="{frame.path(shapes)}" fill="{COLOURS[j % len(COLOURS)]}" '
                       'fill-opacity="0.2" stroke="none" fill-rule="nonzero"/>')
    out.append(f'<path d="{frame.path([geom])}" fill="#e31a1c" fill-opacity="0.55" '
               'stroke="#a50f15" stroke-width="2" fill-rule="evenodd"/>')
    cx, cy = frame.xy(np.array([centre.x]), np.array([centre.y]))
    for cls, point, dist in nearest:
        j = list(classes).index(cls)
        colour = COLOURS[j % len(COLOURS)]
        fx, fy = frame.xy(np.array([point.x]), np.array([point.y]))
        out.append(f'<line x1="{cx[0]:.1f}" y1="{cy[0]:.1f}" x2="{fx[0]:.1f}" y2="{fy[0]:.1f}" '
                   f'stroke="{colour}" stroke-width="1.6" stroke-dasharray="5 3"/>')
        # The label sits at the facility, or where its line leaves the frame.
        t = _inside_fraction(cx[0], cy[0], fx[0], fy[0])
        lx, ly = cx[0] + t * (fx[0] - cx[0]), cy[0] + t * (fy[0] - cy[0])
        if t >= 1.0:
            out.append(f'<circle cx="{fx[0]:.1f}" cy="{fy[0]:.1f}" r="5" fill="{colour}" '
                       'stroke="#fff" stroke-width="1.5"/>')
        name = parcel.get(f"nearest_{cls}_name")
        name = "" if name is None or (isinstance(name, float) and math.isnan(name)) else name
        text = f"{label(cls, 'zh', labels)} {name} {dist:,.0f} m" if math.isfinite(dist) else \
            f"{label(cls, 'zh', labels)} {name}"
        anchor = "end" if lx > WIDTH * 0.6 else "start"
        dx = -7 if anchor == "end" else 7
        out.append(f'<text x="{lx + dx:.1f}" y="{min(max(ly, 14.0), HEIGHT - 24):.1f}" '
                   f'font-size="12" text-anchor="{anchor}" fill="{colour}" stroke="#fff" '
                   f'stroke-width="3" paint-order="stroke">{html.escape(text)}</text>')
    out += _scale_and_north(frame)
    out += _legend(classes, labels)
    out.append("</svg>")
    return "".join(out)


def _inside_fraction(x0: float, y0: float, x1: float, y1: float) -> float:
    """Return the share of the segment from (x0, y0) to (x1, y1) inside the drawing (<= 1)."""
    t = 1.0
    for start, end, limit in ((x0, x1, WIDTH), (y0, y1, HEIGHT)):
        if end < 8:
            t = min(t, (start - 8) / (start - end))
        elif end > limit - 8:
            t = min(t, (limit - 8 - start) / (end - start))
    return max(0.0, t)


def _legend(classes: Sequence[str], labels: Mapping[str, tuple[str, str]] | None) -> list[str]:
    """Name the catchment colours and the parcel, top left."""
    rows = [("#e31a1c", label("report_parcel", "zh"))]
    rows += [(COLOURS[j % len(COLOURS)],
              f"{label(cls, 'zh', labels)} {label('layer_catchments', 'zh')}")
             for j, cls in enumerate(classes)]
    out = [f'<rect x="6" y="6" width="150" height="{10 + 16 * len(rows)}" fill="#fff" '
           'fill-opacity="0.85"/>']
    for i, (colour, text) in enumerate(rows):
        y = 12 + 16 * i
        out.append(f'<rect x="12" y="{y}" width="12" height="10" fill="{colour}" '
                   'fill-opacity="0.6"/>'
                   f'<text x="30" y="{y + 9}" font-size="11">{html.escape(text)}</text>')
    return out


def _scale_and_north(frame: _Frame) -> list[str]:
    length = _nice_length(2 * frame.half_x)
    px = length * frame.scale
    x, y = 16.0, HEIGHT - 16.0
    text = f"{length:g} m" if length < 1000 else f"{length / 1000:g} km"
    return [f'<rect x="{x - 6}" y="{y - 22}" width="{px + 12:.1f}" height="30" fill="#fff" '
            'fill-opacity="0.8"/>',
            f'<line x1="{x}" y1="{y}" x2="{x + px:.1f}" y2="{y}" stroke="#000" '
            'stroke-width="3"/>',
            f'<text x="{x}" y="{y - 7}" font-size="11">{text}</text>',
            f'<g transform="translate({WIDTH - 26:g},30)"><path d="M0,-16 L7,6 L0,1 L-7,6 Z" '
            'fill="#000"/><text x="0" y="20" font-size="11" text-anchor="middle">N 北</text>'
            "</g>"]


__all__ = ["parcel_svg"]
