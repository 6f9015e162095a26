"""Basemaps of the web map: none, OpenStreetMap (plain or light) and Tianditu (with a key)."""

from __future__ import annotations

import html
import urllib.parse
import warnings
from typing import Any

import folium

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.labels import OSM_CREDIT_HTML, label
from siteplan.outputs.maps.assets import JsLayer

BASEMAPS = ("none", "osm", "light", "tianditu_vec", "tianditu_img")

_TDT_URL = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
            "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
            "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}")
_TDT_ATTR = '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'
_OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def _tile_specs(name: str, key: str | None) -> list[dict[str, Any]]:
    if name == "osm":
        return [{"url": _OSM_URL, "options": {"maxZoom": 19, "attribution": OSM_CREDIT_HTML}}]
    if name == "light":
        return [{"url": _OSM_URL, "options": {"maxZoom": 19, "attribution": OSM_CREDIT_HTML,
                                              "className": "sp-tiles-light"}}]
    quoted = urllib.parse.quote(key or "", safe="")
    pair = ("vec", "cva") if name == "tianditu_vec" else ("img", "cia")
    return [{"url": _TDT_URL.format(layer=layer, key=quoted),
             "options": {"maxZoom": 18, "subdomains": "01234567", "attribution": _TDT_ATTR}}
            for layer in pair]


def add_basemaps(m: folium.Map, basemap: str | None, offline: bool, key: str | None) -> None:
    """Add the basemaps to the layer control, ``basemap`` shown on opening.

    ``None`` opens with no tiles offline (the map then needs no network) and OSM online; the
    Tianditu basemaps are offered only with a key.
    """
    if basemap is None:
        basemap = "none" if offline else "osm"
    if basemap not in BASEMAPS:
        raise InputError(f"unknown basemap {basemap!r}.", where="make_map(basemap=...)",
                         fix=f"use one of {', '.join(BASEMAPS)}.")
    names = list(BASEMAPS)
    if not key:
        names = [n for n in names if not n.startswith("tianditu")]
        warnings.warn("no Tianditu key (argument tianditu_key, environment variable TIANDITU_KEY "
                      "or outputs.tianditu_key): the Tianditu basemaps are left out.",
                      SiteplanWarning, stacklevel=3)
        if basemap.startswith("tianditu"):
            basemap = "none"
    for name in [basemap] + [n for n in names if n != basemap]:
        specs = [] if name == "none" else _tile_specs(name, key)
        m.add_child(JsLayer("SP.tiles", specs, name=html.escape(label(f"basemap_{name}"), quote=True),
                            overlay=False, show=name == basemap, group="basemaps"))


__all__ = ["BASEMAPS", "add_basemaps"]
