"""Basemaps of the web map, each with its attribution.

None, OpenStreetMap (plain or light), Tianditu (with a key) and a custom tile URL template
(e.g. an intranet tile server).
"""

from __future__ import annotations

import html
import urllib.parse
import warnings
from typing import Any

import folium

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.labels import OSM_CREDIT_HTML, label
from siteplan.outputs.maps.assets import JsLayer

BASEMAPS = ("none", "osm", "light", "tianditu_vec", "tianditu_img", "custom")

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


def custom_tiles(url: str, attribution: str | None) -> dict[str, Any]:
    """Check a tile URL template (``{z}``, ``{x}``, ``{y}``) and return its Leaflet spec."""
    if not all(f"{{{k}}}" in url for k in "zxy") or not url.startswith(("http://", "https://")):
        raise InputError(f"the tile URL {url!r} is not an http(s) template with {{z}}, {{x}} "
                         "and {y}.", where="outputs.tiles_url",
                         fix='write it like "https://tiles.example.gov.cn/{z}/{x}/{y}.png".')
    text = attribution or urllib.parse.urlsplit(url).netloc
    return {"url": url, "options": {"maxZoom": 20, "attribution": html.escape(text)}}


def add_basemaps(m: folium.Map, basemap: str | None, offline: bool, key: str | None,
                 custom: dict[str, Any] | None = None) -> None:
    """Add the basemaps to the layer control, ``basemap`` shown on opening.

    ``None`` opens with the custom tiles when given (the user's own server), else with no tiles
    offline (the map then needs no network) and OSM online; the Tianditu basemaps are offered
    only with a key, the custom one only with a :func:`custom_tiles` spec.
    """
    if basemap is None:
        basemap = "custom" if custom else "none" if offline else "osm"
    if basemap not in BASEMAPS:
        raise InputError(f"unknown basemap {basemap!r}.", where="make_map(basemap=...)",
                         fix=f"use one of {', '.join(BASEMAPS)}.")
    names = [n for n in BASEMAPS if n != "custom" or custom]
    if basemap == "custom" and not custom:
        raise InputError("basemap 'custom' needs a tile URL.", where="make_map(basemap=...)",
                         fix="give tiles_url (make_map) or outputs.tiles_url (study file).")
    if not key:
        names = [n for n in names if not n.startswith("tianditu")]
        warnings.warn("no Tianditu key (argument tianditu_key, environment variable TIANDITU_KEY "
                      "or outputs.tianditu_key): the Tianditu basemaps are left out.",
                      SiteplanWarning, stacklevel=3)
        if basemap.startswith("tianditu"):
            basemap = "none"
    for name in [basemap] + [n for n in names if n != basemap]:
        specs = [] if name == "none" else [custom] if name == "custom" and custom \
            else _tile_specs(name, key)
        m.add_child(JsLayer("SP.tiles", specs, name=html.escape(label(f"basemap_{name}"), quote=True),
                            overlay=False, show=name == basemap, group="basemaps"))


__all__ = ["BASEMAPS", "add_basemaps", "custom_tiles"]
