"""Interactive planning map (folium / Leaflet) that works offline.

:func:`make_map` draws scored parcels, catchments, facilities, service blind spots (服务盲区), the
study boundary and proposed sites, each as its own layer, with bilingual popups, a legend, scale
bar, fullscreen, measure and parcel search controls.  With ``offline=True`` (the default) the HTML
is one self-contained file: Leaflet and the controls are inlined and no script, style sheet or tile
is fetched unless the user picks a basemap.  :func:`save_map` writes it atomically; the same input
always gives the same bytes.

Every text value that comes from data is HTML-escaped in Python before it reaches the page, and
data is embedded with :func:`siteplan.webassets.js_json`, so a name such as
``<img src=x onerror=alert(1)>`` or ``</script>`` shows as text and runs nothing.
"""

from __future__ import annotations

import html
import os
import urllib.parse
import warnings
from collections.abc import Mapping, Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from siteplan.errors import InputError
from siteplan.maplabels import (
    EXCLUDED_COLOUR,
    OSM_CREDIT,
    SCORE_STOPS,
    SEED_CLASSES,
    bilingual,
    class_colour,
    class_sort_key,
    label_pair,
    score_colours,
)
from siteplan.mapdata import (
    LayerData,
    as_class_frames,
    display_geometry,
    esc,
    fmt_bool,
    fmt_num,
    fmt_text,
    layer_data,
    parcel_popup_columns,
    prepare_parcels,
    study_metric_crs,
)
from siteplan.webassets import JsCall, JsLayer, install_assets, save_map

__all__ = ["make_map", "save_map", "BASEMAPS"]

BASEMAPS = ("none", "osm", "positron", "tianditu_vec", "tianditu_img")

_OSM_ATTR = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
_TDT_ATTR = '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'
_TDT_URL = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)

# Leaflet panes, bottom to top; popups (700) and tooltips (650) stay above all of them.
_PANES = {
    "sp-catchments": 405,
    "sp-proposed-catchments": 406,
    "sp-blind": 410,
    "sp-excluded": 415,
    "sp-parcels": 420,
    "sp-boundary": 425,
    "sp-facilities": 430,
    "sp-proposed": 435,
    "sp-ranks": 640,
}


def _tile_specs(name: str, key: str | None) -> list[dict]:
    if name == "osm":
        return [{"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                 "options": {"maxZoom": 19, "attribution": _OSM_ATTR}}]
    if name == "positron":
        return [{"url": "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
                 "options": {"maxZoom": 20, "subdomains": "abcd",
                             "attribution": _OSM_ATTR + ' &copy; <a href="https://carto.com/attributions">CARTO</a>'}}]
    assert key is not None
    quoted = urllib.parse.quote(key, safe="")
    pair = ("vec", "cva") if name == "tianditu_vec" else ("img", "cia")
    return [{"url": _TDT_URL.format(layer=layer, key=quoted),
             "options": {"maxZoom": 18, "subdomains": "01234567", "attribution": _TDT_ATTR}}
            for layer in pair]


def _add_basemaps(m: folium.Map, basemap: str | None, offline: bool, key: str | None) -> str:
    names = list(BASEMAPS)
    if not key:
        names = [n for n in names if not n.startswith("tianditu")]
        warnings.warn("no Tianditu key (argument tianditu_key or environment variable TIANDITU_KEY): "
                      "the Tianditu basemaps are left out.", stacklevel=3)
    if basemap is None:
        basemap = "none" if offline else "osm"
    if basemap not in BASEMAPS:
        raise InputError(f"unknown basemap {basemap!r}.", where="make_map(basemap=...)",
                         fix=f"use one of {', '.join(BASEMAPS)}.")
    if basemap not in names:
        warnings.warn(f"basemap {basemap!r} needs a Tianditu key; showing no basemap instead.",
                      stacklevel=3)
        basemap = "none"
    # The chosen basemap first in the list, so it reads as the default.
    for name in [basemap] + [n for n in names if n != basemap]:
        label = html.escape(bilingual(f"basemap_{name}"))
        if name == "none":
            layer = JsLayer("SP.empty", name=label, overlay=False, show=name == basemap)
        else:
            layer = JsLayer("SP.tiles", _tile_specs(name, key), name=label, overlay=False,
                            show=name == basemap)
        m.add_child(layer)
    return basemap


def _legend_html(classes_fac: list[str], classes_catch: list[str], top_n: int,
                 has_excluded: bool, has_blind: bool, has_proposed: bool) -> str:
    e = html.escape
    ramp = ",".join(SCORE_STOPS)
    parts = [f"<h4>{e(bilingual('legend_score'))}</h4>",
             f'<div class="sp-ramp" style="background:linear-gradient(to right,{ramp})"></div>',
             '<div class="sp-ticks"><span>0</span><span>50</span><span>100</span></div>']

    def swatch(colour: str, text: str, dot: bool = False, style: str = "") -> str:
        cls = "sp-sw sp-dot" if dot else "sp-sw"
        return (f'<div><span class="{cls}" style="background:{colour};{style}"></span>'
                f"{e(text)}</div>")

    if has_excluded:
        parts.append(swatch(EXCLUDED_COLOUR, bilingual("layer_excluded")))
    if top_n:
        parts.append(f'<div><span class="sp-sw sp-dot" style="background:#1b3a6b"></span>'
                     f"{e(bilingual('layer_ranks').format(n=top_n))}</div>")
    if classes_fac:
        parts.append(f"<h4>{e(bilingual('layer_facilities'))}</h4>")
        parts += [swatch(class_colour(c), bilingual(c), dot=True) for c in classes_fac]
    if classes_catch:
        parts.append(f"<h4>{e(bilingual('layer_catchment'))}</h4>")
        parts += [swatch(class_colour(c) + "33", bilingual(c),
                         style=f"border-color:{class_colour(c)}") for c in classes_catch]
    if has_blind:
        parts.append(swatch("#e31a1c55", bilingual("layer_blind_spots"), style="border-style:dashed"))
    if has_proposed:
        parts.append(swatch("#ffffff", bilingual("layer_proposed"), dot=True,
                            style="border:3px solid #000"))
    return "".join(parts)


def _catchment_name(cls: str, frame: gpd.GeoDataFrame) -> str:
    radius = ""
    if "radius_m" in frame:
        vals = pd.to_numeric(frame["radius_m"], errors="coerce").dropna().unique()
        if len(vals):
            radius = " (" + "/".join(f"{v:g}" for v in sorted(vals)) + " m)"
    return f"{bilingual('layer_catchment')} · {bilingual(cls)}{radius}"


def _facility_layer_data(frame: gpd.GeoDataFrame, metric, *, points: bool) -> LayerData:
    cls = frame["class"].astype(str) if "class" in frame else pd.Series("", index=frame.index)
    cols = {
        "name": fmt_text(frame["name"]) if "name" in frame else None,
        "class": esc(cls.map(bilingual)),
        "facility_id": fmt_text(frame["facility_id"]) if "facility_id" in frame else None,
        "radius_m": fmt_num(frame["radius_m"], "%.0f") if "radius_m" in frame else None,
        "source": fmt_text(frame["source"]) if "source" in frame else None,
    }
    cols = {k: v for k, v in cols.items() if v is not None}
    ident = cols.get("name", cols.get("facility_id", esc(cls.map(bilingual))))
    tooltip = esc(cls.map(bilingual)) + " · " + ident
    colours = cls.map(class_colour)
    return layer_data(frame, metric, cols, tooltip=tooltip, colour=colours, points=points)


def make_map(
    parcels: gpd.GeoDataFrame,
    *,
    catchments: Mapping[str, gpd.GeoDataFrame] | gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    blind_spots: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    proposed: Mapping[str, gpd.GeoDataFrame] | gpd.GeoDataFrame | None = None,
    proposed_catchments: Mapping[str, gpd.GeoDataFrame] | gpd.GeoDataFrame | None = None,
    top_n: int = 10,
    offline: bool = True,
    tianditu_key: str | None = None,
    title: str | None = None,
    criteria: Sequence[str] | Mapping[str, str] | None = None,
    basemap: str | None = None,
    tolerance_m: float = 1.0,
) -> folium.Map:
    """Build the interactive planning map.

    Parameters
    ----------
    parcels
        Scored parcels (any declared CRS): ``parcel_id``, ``score`` and optionally ``name``,
        ``rank``, ``excluded``, ``exclusion_reason``, ``<criterion>_raw``/``_points``,
        ``meets_<class>_radius``, ``compliance_required``, ``required_<item>``.
    catchments
        Class → polygons (``class``, ``radius_m``, ``facility_id``), or one frame with ``class``.
        One layer per class; the seed classes (kindergarten 300 m, primary 500 m, middle 1000 m)
        are shown on opening, the others can be switched on.
    facilities
        ``facility_id``, ``class``, ``name``, ``source``; points or polygons (drawn as a marker at
        a point inside the polygon).
    blind_spots
        服务盲区 polygons with ``class``, ``name``, ``area_m2``.
    boundary
        Study boundary polygon(s).
    proposed, proposed_catchments
        Sites proposed by gap filling and their catchments (class → frame, or a frame with
        ``class``); drawn in a distinct style.
    top_n
        Rank labels are drawn for parcels ranked 1..top_n (0 for none).
    offline
        Inline Leaflet and the controls (one self-contained file).  Online maps link Leaflet
        from its CDN.
    tianditu_key
        天地图 key; defaults to the ``TIANDITU_KEY`` environment variable.  Without a key the
        Tianditu basemaps are left out (with a warning).
    title
        Shown at the top of the map and as the page title.
    criteria
        Criterion names (or name → display label) for the popups; default: every ``X`` with
        both ``X_raw`` and ``X_points`` columns.
    basemap
        Basemap shown on opening: one of :data:`BASEMAPS`; default ``"none"`` offline (no tile
        request at all) and ``"osm"`` online.  All others stay selectable.
    tolerance_m
        Simplification tolerance for display, metres.

    Returns
    -------
    folium.Map
        Save it with :func:`save_map`.
    """
    prepared = prepare_parcels(parcels)
    metric = study_metric_crs(prepared)
    key = tianditu_key if tianditu_key is not None else os.environ.get("TIANDITU_KEY") or None
    title = title if title is not None else bilingual("title")

    m = folium.Map(location=[0.0, 0.0], zoom_start=2, tiles=None, control_scale=True,
                   prefer_canvas=False)
    m.get_root().title = html.escape(title)
    install_assets(m, offline=offline)
    for pane, z in _PANES.items():
        m.add_child(JsCall("SP.pane", pane, z))
    _add_basemaps(m, basemap, offline, key)

    # Catchments below everything else.
    catch_frames = as_class_frames(catchments, "catchments")
    for cls in sorted(catch_frames, key=class_sort_key):
        frame = catch_frames[cls]
        data = _facility_layer_data(frame, metric, points=False)
        colour = class_colour(cls)
        opts = {"pane": "sp-catchments", "className": f"sp-catchment sp-catchment-{len(m._children)}",
                "head": data.head, "style": {"color": colour, "weight": 1.5, "fillColor": colour,
                                             "fillOpacity": 0.08, "opacity": 0.8}}
        m.add_child(JsLayer("SP.geoLayer", data.payload, opts,
                            name=html.escape(_catchment_name(cls, frame)),
                            show=cls in SEED_CLASSES))

    prop_catch = as_class_frames(proposed_catchments, "proposed_catchments")
    if prop_catch:
        frame = pd.concat([prop_catch[c] for c in sorted(prop_catch, key=class_sort_key)])
        data = _facility_layer_data(gpd.GeoDataFrame(frame, crs=frame.crs), metric, points=False)
        opts = {"pane": "sp-proposed-catchments", "className": "sp-proposed-catchment",
                "head": data.head, "strokeFromColour": True,
                "style": {"weight": 2.5, "dashArray": "6 4", "fillOpacity": 0.05}}
        m.add_child(JsLayer("SP.geoLayer", data.payload, opts,
                            name=html.escape(bilingual("layer_proposed_catchments"))))

    has_blind = blind_spots is not None and len(blind_spots) > 0
    if has_blind:
        cls = blind_spots["class"].astype(str) if "class" in blind_spots else pd.Series(
            "", index=blind_spots.index)
        cols = {"class": esc(cls.map(bilingual))}
        if "name" in blind_spots:
            cols["name"] = fmt_text(blind_spots["name"])
        if "area_m2" in blind_spots:
            cols["area_m2"] = fmt_num(blind_spots["area_m2"], "%.0f")
        data = layer_data(blind_spots, metric, cols,
                          tooltip=esc(pd.Series(bilingual("layer_blind_spots"), index=cls.index))
                          + " · " + cols["class"])
        opts = {"pane": "sp-blind", "className": "sp-blind-spot", "head": data.head,
                "style": {"color": "#b10026", "weight": 1.5, "dashArray": "4 3",
                          "fillColor": "#e31a1c", "fillOpacity": 0.3}}
        m.add_child(JsLayer("SP.geoLayer", data.payload, opts,
                            name=html.escape(bilingual("layer_blind_spots"))))

    # Parcels: scored and excluded as two layers; ranks on top.
    excluded = prepared["excluded"].to_numpy(dtype=bool)
    cols, head = parcel_popup_columns(prepared, criteria)
    colours = score_colours(prepared["score"], excluded)
    score_txt = fmt_num(prepared["score"], "%.1f")
    ids = fmt_text(prepared["parcel_id"])
    tip = ids + " · " + html.escape(bilingual("score")) + " " + score_txt
    tip = tip.where(~excluded, ids + " · " + html.escape(bilingual("excluded")))
    for mask, pane, cls_name, label_key, style in (
        (~excluded, "sp-parcels", "sp-parcel", "layer_parcels",
         {"color": "#333", "weight": 1, "fillOpacity": 0.75}),
        (excluded, "sp-excluded", "sp-parcel sp-excluded", "layer_excluded",
         {"color": "#777", "weight": 1, "fillOpacity": 0.45, "dashArray": "3 3"}),
    ):
        if not mask.any():
            continue
        sub = prepared[mask]
        data = layer_data(sub, metric, {k: v[mask] for k, v in cols.items()},
                          tooltip=tip[mask], colour=pd.Series(colours[mask], index=sub.index),
                          ids=sub["parcel_id"].astype(str), title=ids[mask], head=head,
                          tolerance_m=tolerance_m)
        opts = {"pane": pane, "className": cls_name, "head": data.head, "style": style,
                "search": True}
        m.add_child(JsLayer("SP.geoLayer", data.payload, opts,
                            name=html.escape(bilingual(label_key))))

    rank = pd.to_numeric(prepared["rank"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    top = (~excluded) & np.isfinite(rank) & (rank <= top_n)
    if top.any():
        pts = display_geometry(prepared.geometry[top], metric, tolerance_m).representative_point()
        order = np.argsort(-rank[top], kind="stable")  # best rank drawn last, on top
        rows = np.column_stack([pts.y.round(6), pts.x.round(6), rank[top]])[order]
        rows_list = [[float(a), float(b), int(r)] for a, b, r in rows.tolist()]
        m.add_child(JsLayer("SP.rankLayer", rows_list, "sp-ranks",
                            name=html.escape(bilingual("layer_ranks").format(n=top_n))))

    if boundary is not None and len(boundary) > 0:
        bframe = boundary if isinstance(boundary, gpd.GeoDataFrame) else gpd.GeoDataFrame(
            geometry=boundary)
        data = layer_data(bframe, metric, {}, tolerance_m=tolerance_m)
        opts = {"pane": "sp-boundary", "className": "sp-boundary", "head": [],
                "interactive": False,
                "style": {"color": "#222", "weight": 2.5, "dashArray": "8 4", "fill": False}}
        m.add_child(JsLayer("SP.geoLayer", data.payload, opts,
                            name=html.escape(bilingual("layer_boundary"))))

    fac_classes: list[str] = []
    if facilities is not None and len(facilities) > 0:
        if "class" in facilities:
            fac_classes = sorted(facilities["class"].astype(str).unique(), key=class_sort_key)
        data = _facility_layer_data(facilities, metric, points=True)
        opts = {"pane": "sp-facilities", "className": "sp-facility", "head": data.head,
                "radius": 5, "style": {"color": "#222", "weight": 1, "fillOpacity": 0.95}}
        m.add_child(JsLayer("SP.geoLayer", data.payload, opts,
                            name=html.escape(bilingual("layer_facilities"))))

    prop = as_class_frames(proposed, "proposed")
    if prop:
        frame = pd.concat([prop[c] for c in sorted(prop, key=class_sort_key)])
        data = _facility_layer_data(gpd.GeoDataFrame(frame, crs=frame.crs), metric, points=True)
        opts = {"pane": "sp-proposed", "className": "sp-proposed", "head": data.head,
                "radius": 8, "style": {"color": "#000", "weight": 3, "fillOpacity": 1.0}}
        m.add_child(JsLayer("SP.geoLayer", data.payload, opts,
                            name=html.escape(bilingual("layer_proposed"))))

    legend = _legend_html(fac_classes, sorted(catch_frames, key=class_sort_key),
                          top_n if top.any() else 0, bool(excluded.any()), has_blind, bool(prop))
    m.add_child(JsCall("SP.legend", legend))
    m.add_child(JsCall("SP.title", html.escape(title)))
    m.add_child(JsCall("SP.credit", html.escape(f"{bilingual('credit_data')} {OSM_CREDIT}")))
    m.add_child(JsCall("SP.fullscreen"))
    m.add_child(JsCall("SP.measure"))
    m.add_child(JsCall("SP.search", bilingual("search")))
    m.add_child(folium.LayerControl(position="topright", collapsed=True))

    bounds = prepared.to_crs(4326).total_bounds
    if boundary is not None and len(boundary) > 0 and boundary.crs is not None:
        b = boundary.to_crs(4326).total_bounds
        bounds = np.array([min(bounds[0], b[0]), min(bounds[1], b[1]),
                           max(bounds[2], b[2]), max(bounds[3], b[3])])
    m.fit_bounds([[round(float(bounds[1]), 6), round(float(bounds[0]), 6)],
                  [round(float(bounds[3]), 6), round(float(bounds[2]), 6)]])
    return m


# label_pair is re-exported for callers that want the raw (中文, English) pair.
_ = label_pair
