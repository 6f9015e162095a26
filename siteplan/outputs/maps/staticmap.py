"""Static map (PNG) of a study for printed reports: matplotlib, no browser, no network.

:func:`static_map` draws the scored parcels on the same colour ramp as the web map, excluded
parcels greyed and hatched, the top-N rank numbers, catchment outlines per facility class,
facilities with one colour and marker per class (transport proxies as the lines they sample),
service blind spots (服务盲区) per class and the parcels meeting all three seed radii above the
parcels, and the study boundary, with a legend, a north arrow, a scale bar and the data credit.
Everything is drawn in the study's metric CRS, so the scale bar is true.  The size is a figure
size and DPI, or a paper (A4/A3, portrait or landscape).

Chinese labels need a CJK font; :func:`cjk_font` uses the Noto Sans CJK SC that the project
ships through its ``mplfonts`` dependency (so ``make demo`` on a fresh machine draws Chinese,
and every machine the same pixels), else an installed one.  Without any the map is labelled in
English only, with a warning, rather than printing empty boxes.

An OpenStreetMap basemap is drawn only when asked (``basemap=True``), and only if ``contextily``
is installed and the tiles can be fetched; otherwise the map is drawn without it, with a warning.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import textwrap
import warnings
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib import font_manager
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from pyproj import CRS

from siteplan.core.atomic import atomic_path
from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.labels import OSM_CREDIT, Lang, label
from siteplan.io.layers import is_polygonal
from siteplan.outputs.maps.style import (
    CLASS_ORDER,
    COMPLIANCE_COLOUR,
    EXCLUDED_COLOUR,
    PROXY_STYLE,
    RANK_COLOUR,
    SCORE_STOPS,
    SEED_CLASSES,
    blind_colour,
    class_colour,
    class_sort_key,
    group_label,
    has_symbol,
    score_colours,
)
from siteplan.outputs.maps.webmap import check_layer, metric_crs, prepare_parcels

__all__ = ["CJK_FONTS", "PAPERS", "cjk_font", "packaged_cjk_font", "paper_size", "place_labels",
           "save_static_map", "static_map"]

# Fonts with simplified Chinese, in order of preference (Debian, Windows, macOS names).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
             "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "AR PL UMing CN")
# One matplotlib marker per class, in CLASS_ORDER, so classes differ in shape as well as colour.
_MARKERS = ("o", "s", "D", "^", "P", "h", "v", "X", "*", "p")
_OSM_BASEMAP_CREDIT = "Tiles © OpenStreetMap contributors"
# The CJK font the project ships through PyPI: (package, file inside it); SIL Open Font Licence.
PACKAGED_FONT = ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf")
# ISO 216 paper sizes in inches (A4 210 x 297 mm, A3 297 x 420 mm), portrait.
PAPER_SIZES = {"a4": (210 / 25.4, 297 / 25.4), "a3": (297 / 25.4, 420 / 25.4)}
PAPERS = ("a4", "a4-landscape", "a3", "a3-landscape")


def _known_cjk() -> str | None:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def packaged_cjk_font() -> Path | None:
    """Return the Noto Sans CJK SC file shipped by the ``mplfonts`` dependency, if installed.

    Found without importing the package (its import pulls in a command-line library).
    """
    spec = importlib.util.find_spec(PACKAGED_FONT[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGED_FONT[1]
    return path if path.is_file() else None


@functools.cache
def cjk_font() -> str | None:
    """Name of a font that has simplified Chinese, or None.

    The project's own font first (Noto Sans CJK SC from ``mplfonts``, a dependency: every
    machine draws the same PNG, no system font needed), then an installed one.
    """
    packaged = packaged_cjk_font()
    if packaged is not None:
        font_manager.fontManager.addfont(str(packaged))
        return str(font_manager.FontProperties(fname=str(packaged)).get_name())
    if (name := _known_cjk()) is not None:
        return name
    # matplotlib caches its font list on first use; fonts installed after that (e.g. by
    # scripts/install_system_deps.sh) are missing from it until they are added.
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            with contextlib.suppress(Exception):  # a font file FreeType cannot read
                font_manager.fontManager.addfont(path)
    return _known_cjk()


def paper_size(paper: str) -> tuple[float, float]:
    """Return the figure size in inches of ``paper`` (``a4``, ``a3``, ``-landscape`` suffix)."""
    key = paper.strip().lower()
    if key not in PAPERS:
        raise InputError(f"unknown paper size {paper!r}.", where="static map paper",
                         fix=f"use one of {', '.join(PAPERS)}.")
    w, h = PAPER_SIZES[key.split("-")[0]]
    return (h, w) if key.endswith("-landscape") else (w, h)


def _marker(cls: str) -> str:
    return _MARKERS[CLASS_ORDER.index(cls) % len(_MARKERS)] if cls in CLASS_ORDER else "o"


def _nice_length(span_m: float) -> float:
    """Return a round scale-bar length (1, 2 or 5 × 10^k metres) near a fifth of ``span_m``."""
    target = max(span_m / 5.0, 1.0)
    k = 10.0 ** math.floor(math.log10(target))
    return max(f * k for f in (1.0, 2.0, 5.0) if f * k <= target)


def _fit_view(ax: Axes, fig: Figure, bounds: tuple[float, float, float, float]) -> None:
    """Show ``bounds`` (plus a margin) at equal x/y scale, widened to fill the axes box."""
    xmin, ymin, xmax, ymax = bounds
    pad = 0.04 * max(xmax - xmin, ymax - ymin, 1.0)
    w, h = xmax - xmin + 2 * pad, ymax - ymin + 2 * pad
    box = ax.get_position(original=True)  # the box as laid out, before any aspect shrink
    ratio = (box.height * fig.get_figheight()) / (box.width * fig.get_figwidth())
    w, h = max(w, h / ratio), max(h, w * ratio)
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)


def _scale_bar(ax: Axes, family: list[str]) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length(x1 - x0)
    h = (y1 - y0) * 0.008
    left, bottom = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.04
    for i in range(2):  # two alternating halves, as on printed maps
        ax.add_patch(Rectangle((left + i * length / 2, bottom), length / 2, h,
                               facecolor="black" if i == 0 else "white", edgecolor="black",
                               linewidth=0.8, zorder=20))
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(left + length / 2, bottom + 2.5 * h, text, ha="center", va="bottom", fontsize=8,
            family=family, zorder=20)


def _north_arrow(ax: Axes, north: str, family: list[str]) -> None:
    # The metric CRS is a transverse Mercator zone: grid north is within a degree or two of true
    # north at study scale, well below what an arrow can show.
    ax.annotate(north, xy=(0.95, 0.95), xytext=(0.95, 0.86), xycoords="axes fraction",
                ha="center", va="center", fontsize=11, family=family,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none",
                      "alpha": 0.8},
                arrowprops={"facecolor": "black", "width": 4, "headwidth": 12, "headlength": 10},
                zorder=20)


def _try_basemap(ax: Axes, crs: CRS) -> bool:
    try:
        import contextily
    except ImportError:
        warnings.warn("basemap=True but contextily is not installed: drawn without a basemap.",
                      SiteplanWarning, stacklevel=3)
        return False
    try:
        contextily.add_basemap(ax, crs=crs, source=contextily.providers.OpenStreetMap.Mapnik,
                               attribution=False, zorder=0)
    except Exception as exc:  # noqa: BLE001 - no tiles (offline, blocked) must not stop the map
        warnings.warn(f"no basemap tiles ({exc}): drawn without a basemap.", SiteplanWarning,
                      stacklevel=3)
        return False
    return True


def _draw_catchments(ax: Axes, catch: gpd.GeoDataFrame, shown: Sequence[str], crs: CRS,
                     tol: float, lang: Lang) -> list[Artist]:
    """Draw the catchments of the ``shown`` classes, merged per class; return legend handles."""
    handles: list[Artist] = []
    present = catch["class"].astype(str)
    for cls in sorted(set(present) & set(shown), key=class_sort_key):
        geoms = shapely.simplify(np.asarray(
            catch.geometry[(present == cls).to_numpy()].to_crs(crs).values), tol)
        colour = class_colour(cls)
        if not is_polygonal(geoms).any():  # the streets a class reaches (proxies, large classes)
            gpd.GeoSeries(geoms, crs=crs).plot(ax=ax, color=colour, linewidth=0.8, alpha=0.7,
                                                zorder=2)
            handles.append(Line2D([], [], color=colour, linewidth=1.5, label=group_label(
                "layer_catchments", cls, lang=lang)))
            continue
        sub = gpd.GeoSeries(shapely.union_all(geoms), crs=crs)
        sub.plot(ax=ax, facecolor=colour, alpha=0.07, edgecolor="none", zorder=1)
        sub.boundary.plot(ax=ax, color=colour, linewidth=0.8, zorder=2)
        handles.append(Patch(facecolor=colour + "22", edgecolor=colour,
                             label=group_label("layer_catchments", cls, lang=lang)))
    return handles


def _draw_blind_spots(ax: Axes, blind: gpd.GeoDataFrame, shown: Sequence[str], crs: CRS,
                      tol: float, lang: Lang) -> list[Artist]:
    """Draw the shown classes' blind spots above the parcels; return legend handles.

    Each class hatched in its own colour and pattern (all in one colour, if unclassed).
    """
    handles: list[Artist] = []
    cls_all = blind["class"].astype(str) if "class" in blind else None
    for k, cls in enumerate([c for c in shown if cls_all is not None and (cls_all == c).any()]
                            if cls_all is not None else [""]):
        sub = blind[(cls_all == cls).to_numpy()] if cls_all is not None else blind
        colour = blind_colour(cls)
        hatch = ("xx", "\\\\", "////", "++")[k % 4]  # overlapping classes stay readable
        sub.to_crs(crs).simplify(tol).plot(ax=ax, facecolor=colour + "30", edgecolor=colour,
                                           hatch=hatch, linewidth=0.9, zorder=4.5)
        name = group_label("layer_blind_spots", cls, lang=lang) if cls \
            else label("layer_blind_spots", lang)
        handles.append(Patch(facecolor=colour + "30", edgecolor=colour, hatch=hatch, label=name))
    return handles


def _draw_compliance(ax: Axes, pm: gpd.GeoDataFrame, excluded: np.ndarray,
                     lang: Lang) -> list[Artist]:
    """Outline the parcels meeting all three seed radii, above the parcels; return handles."""
    if "compliant_all" not in pm:
        return []
    ok = pm["compliant_all"].astype("boolean").fillna(False).to_numpy(dtype=bool) & ~excluded
    if not ok.any():
        return []
    pm[ok].boundary.plot(ax=ax, color=COMPLIANCE_COLOUR, linewidth=1.6, zorder=4.6)
    return [Line2D([], [], color=COMPLIANCE_COLOUR, linewidth=1.6,
                   label=group_label("layer_compliance", "compliance_all", lang=lang))]


def proxy_lines(points: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Join a proxy class's sample points back into lines, one per source line.

    Proxy ids are ``<class>:<line id>:<sample number>`` (:mod:`siteplan.facilities.proxies`):
    points of one line, in sample order, make a line string; a line with one sample is left
    out (a dot would say nothing a line does not).
    """
    parts = points["facility_id"].astype(str).str.rsplit(":", n=1, expand=True)
    order = np.lexsort((pd.to_numeric(parts[1], errors="coerce").to_numpy(),
                        parts[0].to_numpy()))
    line = parts[0].to_numpy()[order]
    codes = np.unique(line, return_inverse=True)[1]
    counts = np.bincount(codes)
    keep = counts[codes] >= 2
    pts = np.asarray(points.geometry.values, dtype=object)[order][keep]
    xy = shapely.get_coordinates(pts)
    lines = shapely.linestrings(xy, indices=np.unique(codes[keep], return_inverse=True)[1])
    return gpd.GeoSeries(lines, crs=points.crs)


def _draw_parcels(ax: Axes, pm: gpd.GeoDataFrame, excluded: np.ndarray,
                  lang: Lang) -> list[Artist]:
    """Draw scored parcels on the score ramp and excluded ones hatched; return legend handles."""
    handles: list[Artist] = []
    colours = score_colours(pm["score"], excluded)
    if (~excluded).any():
        pm[~excluded].plot(ax=ax, color=colours[~excluded], edgecolor="#333333", linewidth=0.3,
                           zorder=4)
    if excluded.any():
        pm[excluded].plot(ax=ax, facecolor=EXCLUDED_COLOUR, edgecolor="#666666", hatch="///",
                          linewidth=0.3, zorder=4)
        handles.append(Patch(facecolor=EXCLUDED_COLOUR, edgecolor="#666666", hatch="///",
                             label=label("layer_excluded", lang)))
    return handles


def _boundary_frame(boundary: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame:
    """Return the boundary as a GeoDataFrame (a GeoSeries becomes its geometry column)."""
    return boundary if isinstance(boundary, gpd.GeoDataFrame) else gpd.GeoDataFrame(
        geometry=boundary)


def _draw_boundary(ax: Axes, bm: gpd.GeoDataFrame, lang: Lang) -> list[Artist]:
    """Draw the study boundary (in the map's CRS) dashed; return its legend handle."""
    bm.boundary.plot(ax=ax, color="#222222", linewidth=1.4, linestyle="--", zorder=5)
    return [Line2D([], [], color="#222222", linestyle="--", label=label("layer_boundary", lang))]


def _draw_facilities(ax: Axes, fac: gpd.GeoDataFrame, lang: Lang) -> list[Artist]:
    """Draw the facilities (in the map's CRS), one colour and marker per class; return handles."""
    handles: list[Artist] = []
    pts = shapely.point_on_surface(np.asarray(fac.geometry.values, dtype=object))
    cls_all = fac["class"].astype(str).to_numpy()
    for cls in sorted(set(cls_all), key=class_sort_key):
        sel = cls_all == cls
        if cls in PROXY_STYLE:  # thousands of points sampled along routes: drawn as the routes
            proxy_lines(fac[sel]).plot(ax=ax, color=class_colour(cls), linewidth=0.8,
                                       alpha=0.6, zorder=6)
            handles.append(Line2D([], [], color=class_colour(cls), linewidth=0.8,
                                  label=group_label("layer_facilities", cls, lang=lang)))
            continue
        # Other classes without a symbol of their own as small dots under the real facilities.
        big = has_symbol(cls)
        ax.scatter(shapely.get_x(pts[sel]), shapely.get_y(pts[sel]), s=28 if big else 3,
                   marker=_marker(cls) if big else "o", color=class_colour(cls),
                   edgecolor="white" if big else "none", linewidth=0.6,
                   zorder=7 if big else 6)
        handles.append(Line2D([], [], marker=_marker(cls) if big else "o",
                              markersize=None if big else 3, color=class_colour(cls),
                              linestyle="none", markeredgecolor="white",
                              label=group_label("layer_facilities", cls, lang=lang)))
    return handles


def place_labels(xy: np.ndarray, size: tuple[float, float], gap: float = 1.0) -> np.ndarray:
    """Return label centres near ``xy`` (pixels, in priority order) whose boxes do not overlap.

    Each label goes at its point when that spot is free, else at the first free spot on rings
    of growing radius around it (8k candidates on ring k), as the web map's ``SP.rankLayer``
    does.  Greedy, one label at a time: the best rank keeps its place.
    """
    w, h = size[0] + 2 * gap, size[1] + 2 * gap
    placed = np.empty((0, 2))
    out = np.empty_like(xy, dtype=float)
    for n, (x, y) in enumerate(np.asarray(xy, dtype=float)):
        for k in range(400):
            a = 2 * np.pi * np.arange(max(8 * k, 1)) / max(8 * k, 1) - np.pi / 2
            cand = np.column_stack([x + 0.75 * k * w * np.cos(a), y + 0.75 * k * h * np.sin(a)])
            # Boxes of equal size overlap when both centre offsets are under the size.
            dx = np.abs(cand[:, None, 0] - placed[None, :, 0])
            dy = np.abs(cand[:, None, 1] - placed[None, :, 1])
            free = ~((dx < w) & (dy < h)).any(axis=1)
            if free.any():
                out[n] = cand[np.argmax(free)]
                break
        else:
            out[n] = (x, y)
        placed = np.vstack([placed, out[n]])
    return out


def _draw_ranks(ax: Axes, pm: gpd.GeoDataFrame, excluded: np.ndarray, top_n: int,
                lang: Lang) -> list[Artist]:
    """Label the parcels ranked 1..``top_n`` without overlap; return the legend handle.

    Called once the view is final: labels are placed in pixels.  A label moved off its
    parcel is tied to it by a leader line ending in a dot.
    """
    rank = pm["rank"].astype("Float64").to_numpy(dtype=float, na_value=np.nan) \
        if "rank" in pm else np.full(len(pm), np.nan)
    top = ~excluded & np.isfinite(rank) & (rank <= top_n)
    if not top.any():
        return []
    order = np.argsort(rank[top], kind="stable")
    at = shapely.point_on_surface(np.asarray(pm.geometry.values, dtype=object)[top])[order]
    xy = np.column_stack([shapely.get_x(at), shapely.get_y(at)])
    ax.apply_aspect()
    to_px = ax.transData
    px = to_px.transform(xy)
    fontsize = 7.0
    diameter = fontsize * 1.9 * ax.figure.dpi / 72  # the circle around two digits, in pixels
    centres = to_px.inverted().transform(place_labels(px, (diameter, diameter)))
    moved = np.hypot(*(centres - xy).T) > 0
    for (x0, y0), (x, y), r, m in zip(xy, centres, rank[top][order], moved, strict=True):
        if m:
            ax.plot([x0, x], [y0, y], color=RANK_COLOUR, linewidth=0.7, zorder=8)
            ax.plot([x0], [y0], marker="o", markersize=2.5, color=RANK_COLOUR, zorder=8)
        ax.text(x, y, f"{int(r)}", ha="center", va="center", fontsize=fontsize, color="white",
                fontweight="bold", zorder=9,
                bbox={"boxstyle": "circle,pad=0.25", "facecolor": RANK_COLOUR,
                      "edgecolor": "white", "linewidth": 0.8})
    return [Line2D([], [], marker="o", color=RANK_COLOUR, linestyle="none",
                   label=label("layer_ranks", lang).format(n=top_n))]


def _draw_legend(fig: Figure, handles: list[Artist], lang: Lang, family: list[str]) -> None:
    """Add the score colour bar and the legend of ``handles`` in the right-hand column."""
    cax = fig.add_axes((0.76, 0.86, 0.2, 0.02))
    cmap = LinearSegmentedColormap.from_list("siteplan_score", list(SCORE_STOPS))
    cax.imshow(np.linspace(0, 1, 256)[None, :], aspect="auto", cmap=cmap, extent=(0, 100, 0, 1))
    cax.set_yticks([])
    cax.set_xticks([0, 25, 50, 75, 100])
    cax.tick_params(labelsize=7)
    cax.set_title(label("legend_score", lang), fontsize=9, family=family)
    for h in handles:  # one language per line, wrapped: the legend column is narrow
        lines = str(h.get_label()).split(" / ")
        h.set_label("\n".join(textwrap.fill(line, 40) for line in lines))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.745, 0.8), fontsize=7.5,
               frameon=False, prop={"family": family, "size": 7.5})


def _draw_furniture(fig: Figure, ax: Axes, lang: Lang, family: list[str], title: str | None,
                    credit: str) -> None:
    """Add the north arrow, the scale bar, the title and the data credit."""
    _north_arrow(ax, label("north", lang), family)
    _scale_bar(ax, family)
    fig.suptitle(title if title is not None else label("title", lang), fontsize=14,
                 family=family, x=0.37, y=0.97)
    fig.text(0.98, 0.02, f"{label('credit', lang)}: {credit}", ha="right", va="bottom",
             fontsize=7, color="#444444", family=family)


def _extent(bounds: np.ndarray, extra: np.ndarray | None) -> tuple[float, float, float, float]:
    """Return the bounds ``(xmin, ymin, xmax, ymax)`` covering ``bounds`` and ``extra``."""
    xmin, ymin, xmax, ymax = np.concatenate([np.minimum(bounds[:2], extra[:2]),
                                             np.maximum(bounds[2:], extra[2:])]) \
        if extra is not None else bounds
    return xmin, ymin, xmax, ymax


def static_map(
    parcels: gpd.GeoDataFrame,
    *,
    catchments: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    blind_spots: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    classes: Sequence[str] = SEED_CLASSES,
    top_n: int = 10,
    title: str | None = None,
    basemap: bool = False,
    figsize: tuple[float, float] = (10.0, 10.0),
    dpi: int = 150,
    paper: str | None = None,
) -> Figure:
    """Draw the study as a static map.

    Parameters
    ----------
    parcels
        Scored parcels: ``parcel_id`` (unique), ``score`` and, where available, ``rank`` and
        ``excluded``; any declared CRS; not modified (as for
        :func:`siteplan.outputs.maps.webmap.make_map`).
    catchments
        Catchment polygons with a ``class`` column, or None.
    facilities
        Facilities (points, or polygons drawn at a point inside) with a ``class`` column, or None.
    blind_spots
        Blind-spot (服务盲区) polygons, with a ``class`` column where there are several classes,
        or None.
    boundary
        Study boundary polygon(s), or None.
    classes
        Facility classes whose catchments and blind spots (服务盲区, above the parcels, one
        hatch and colour per class) are drawn.  Default: the seed classes (kindergarten,
        primary school, middle school).  A printed map with every class would be unreadable.
    top_n
        Rank numbers for parcels ranked 1..``top_n`` (0: none).
    title
        Map title; default the study title in Chinese and English.
    basemap
        Draw OpenStreetMap tiles under the data (needs ``contextily`` and the internet).
    figsize
        Figure size in inches (10 x 10: 1500 x 1500 pixels at 150 dpi).
    dpi
        Resolution in dots per inch (300 for print).
    paper
        ``"a4"``, ``"a3"``, ``"a4-landscape"`` or ``"a3-landscape"``: the figure takes the
        paper's size (``figsize`` is then ignored).

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot (nothing to close); write it with :func:`save_static_map`.

    Examples
    --------
    >>> import warnings
    >>> import geopandas as gpd
    >>> import shapely
    >>> from siteplan import SiteplanWarning, static_map
    >>> parcels = gpd.GeoDataFrame(
    ...     {"parcel_id": ["A", "B", "C"], "score": [82.0, 55.5, None], "rank": [1, 2, None],
    ...      "excluded": [False, False, True]},
    ...     geometry=[shapely.box(x, 0, x + 90, 90) for x in (0, 100, 200)], crs="EPSG:32649")
    >>> with warnings.catch_warnings():  # without a CJK font the labels are English only
    ...     warnings.filterwarnings("ignore", "no CJK font", SiteplanWarning)
    ...     fig = static_map(parcels, top_n=2, title="Three parcels", figsize=(4, 4), dpi=50)
    >>> sorted(t.get_text() for t in fig.axes[0].texts if t.get_text().isdigit())
    ['1', '2']
    """
    p = prepare_parcels(parcels)
    crs = metric_crs(p)
    shown = list(classes)
    font = cjk_font()
    lang: Lang = "both" if font else "en"
    if font is None:
        warnings.warn("no CJK font installed (e.g. Debian fonts-wqy-microhei or fonts-noto-cjk): "
                      "the static map is labelled in English only.", SiteplanWarning,
                      stacklevel=2)
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]

    # No Agg canvas yet: geopandas asks the canvas to redraw after every layer, which on an Agg
    # canvas draws the whole figure each time.  savefig picks the PNG renderer itself.
    fig = Figure(figsize=paper_size(paper) if paper else figsize, dpi=dpi)
    ax = fig.add_axes((0.02, 0.05, 0.70, 0.87))
    ax.set_aspect("equal")
    ax.set_axis_off()
    pm = p.to_crs(crs)
    excluded = pm["_excluded"].to_numpy()
    handles: list[Artist] = []

    xmin, ymin, xmax, ymax = pm.total_bounds
    # Nothing finer than about a tenth of a millimetre on a 25 cm wide print.
    tol = max(xmax - xmin, ymax - ymin, 1.0) / 2500.0
    pm = pm.set_geometry(pm.geometry.simplify(tol))
    # The layers are checked here, not in the helpers, so that check_layer's warnings name
    # the caller's line.
    if catchments is not None:
        handles += _draw_catchments(ax, check_layer(catchments, "catchments", ["class"]),
                                    shown, crs, tol, lang)
    handles += _draw_parcels(ax, pm, excluded, lang)
    if blind_spots is not None and len(blind_spots):
        handles += _draw_blind_spots(ax, check_layer(blind_spots, "blind_spots", []), shown,
                                     crs, tol, lang)
    handles += _draw_compliance(ax, pm, excluded, lang)
    bounds = pm.total_bounds
    extent_extra = None
    if boundary is not None and len(boundary):
        bm = check_layer(_boundary_frame(boundary), "boundary", []).to_crs(crs)
        handles += _draw_boundary(ax, bm, lang)
        extent_extra = bm.total_bounds
    if facilities is not None and len(facilities):
        handles += _draw_facilities(
            ax, check_layer(facilities, "facilities", ["class"]).to_crs(crs), lang)
    _fit_view(ax, fig, _extent(bounds, extent_extra))
    handles += _draw_ranks(ax, pm, excluded, top_n, lang)
    credit = OSM_CREDIT
    if basemap and _try_basemap(ax, crs):
        credit += "; " + _OSM_BASEMAP_CREDIT
    _draw_legend(fig, handles, lang, family)
    _draw_furniture(fig, ax, lang, family, title, credit)
    return fig


def save_static_map(fig: Figure, path: str | Path) -> Path:
    """Write the figure as a PNG, atomically; the same figure always gives the same bytes."""
    path = Path(path)
    with atomic_path(path) as tmp:
        # No "Software" stamp: the bytes should not change with the matplotlib version.
        fig.savefig(tmp, format="png", metadata={"Software": None})
    return path
