"""Web-map plumbing: inlined Leaflet, safe JSON in ``<script>``, folium elements, stable ids.

folium links Leaflet, jQuery, Bootstrap and font-awesome from CDNs and gives every element a
random id.  The planning map must open from a USB stick on an intranet with no internet and be
byte-for-byte reproducible, so this module

- replaces the links by inlined copies: Leaflet's JS, CSS and images from the ``xstatic-leaflet``
  package, siteplan's own controls from ``siteplan/assets`` (no package on PyPI ships the
  fullscreen, measure and search plugins; see the module docstring of
  :mod:`siteplan.outputs.maps.webmap`);
- embeds data with :func:`js_json`, which cannot end a ``<script>`` element;
- renames elements in tree order before rendering (:func:`stable_ids`).
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from folium.map import Layer
from folium.template import Template

from siteplan.core.atomic import atomic_path
from siteplan.core.errors import InputError

ASSETS = Path(__file__).resolve().parent / "static"
LEAFLET_VERSION = "1.9.3"  # the version xstatic-leaflet ships; online maps link the same one
LEAFLET_CDN_JS = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.js"
LEAFLET_CDN_CSS = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.css"

# Characters that must not appear raw inside an inline <script>: "<" could start "</script>" or
# "<!--", and U+2028/2029 end a line in older JS engines.
_SCRIPT_UNSAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                                "\u2028": "\\u2028", "\u2029": "\\u2029"})
# An external resource in rendered HTML: <script src=...> or <link href=...>.
_EXTERNAL = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=", re.IGNORECASE)


class RawJson(str):
    """Text that is already safe JSON, which :func:`js_json` inserts unchanged.

    For example GEOS GeoJSON geometries: numbers and keywords only.
    """


def js_json(obj: Any) -> str:
    r"""Return JSON that is safe to place inside an HTML ``<script>`` element.

    ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\u003c`` etc., so data containing
    ``</script>`` or ``<!--`` cannot end the script or change how the HTML parser reads it.
    NaN and infinities are refused (they are not JSON).
    """
    if isinstance(obj, RawJson):
        return str(obj)
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.translate(_SCRIPT_UNSAFE)


def _no_closing_script(text: str, what: str) -> str:
    # An inlined library containing "</script" would end its own <script> element.
    if re.search(r"</script", text, flags=re.IGNORECASE):
        raise RuntimeError(f"{what} contains '</script' and cannot be inlined safely.")
    return text


@functools.cache
def leaflet_inline() -> tuple[str, str]:
    """Read Leaflet's JS and CSS from ``xstatic-leaflet``: images as data: URIs, no source map."""
    import xstatic.pkg.leaflet as xleaflet

    base = Path(xleaflet.BASE_DIR)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    # The source-map comment makes developer tools fetch a file that is not there.
    js = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        png = (base / "images" / match.group(1)).read_bytes()
        return "url(data:image/png;base64," + base64.b64encode(png).decode("ascii") + ")"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", data_uri, css)
    if re.search(r"url\((?!data:|#)", css):  # "#default#VML" is an old-IE no-op
        raise RuntimeError("leaflet.css refers to a file that is not inlined.")
    return _no_closing_script(js, "leaflet.js"), _no_closing_script(css, "leaflet.css")


@functools.cache
def own_assets() -> tuple[str, str]:
    """Read siteplan's own controls (``static/siteplan_map.js`` and ``.css``)."""
    js = (ASSETS / "siteplan_map.js").read_text(encoding="utf-8")
    css = (ASSETS / "siteplan_map.css").read_text(encoding="utf-8")
    return _no_closing_script(js, "siteplan_map.js"), _no_closing_script(css, "siteplan_map.css")


def install_assets(m: folium.Map, *, offline: bool) -> None:
    """Replace folium's CDN links by Leaflet (inlined when ``offline``) and siteplan's controls.

    Nothing siteplan draws needs jQuery, Bootstrap or font-awesome, so those links go in both
    modes; online mode links Leaflet from its CDN as folium does, offline mode inlines it.
    """
    m.default_js = []
    m.default_css = []
    own_js, own_css = own_assets()
    if offline:
        leaflet_js, leaflet_css = leaflet_inline()
        head = f"<style>{leaflet_css}</style>\n<script>{leaflet_js}</script>\n"
    else:
        head = (f'<link rel="stylesheet" href="{LEAFLET_CDN_CSS}"/>\n'
                f'<script src="{LEAFLET_CDN_JS}"></script>\n')
    head += f"<style>{own_css}</style>\n<script>{own_js}</script>\n"
    root = m.get_root()
    assert isinstance(root, Figure)  # a folium.Map always sits in a branca Figure
    root.header.add_child(Element(head), name="siteplan_assets")
    # A mark on the map for map_html's offline check; folium.Map declares no such attribute.
    m._siteplan_offline = offline  # type: ignore[attr-defined]


class JsLayer(Layer):
    """A layer built by a siteplan JS factory: ``var <name> = factory(args...)``.

    Arguments are embedded with :func:`js_json`; the layer takes part in the LayerControl like any
    folium layer (``overlay=False`` makes it a basemap radio button), listed under ``group``.  ``name`` is shown by
    Leaflet's layer control as HTML, so it must be escaped by the caller.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = {{ this.factory }}({{ this.args_js }});
            {{ this.get_name() }}.spGroup = {{ this.group_js }};
        {% endmacro %}
        """
    )

    def __init__(self, factory: str, *args: Any, name: str, overlay: bool = True,
                 show: bool = True, control: bool = True, group: str = "other") -> None:
        super().__init__(name=name, overlay=overlay, control=control, show=show)
        self._name = "SiteplanLayer"
        self.factory = factory
        # The heading the layer is listed under in the layer control (SP.LayerControl).
        self.group_js = js_json(group)
        self.args_js = ",".join(js_json(a) for a in args)


class GroupedLayerControl(folium.LayerControl):
    """Leaflet's layer control with the layers under collapsible headings (``SP.LayerControl``).

    ``groups`` lists ``(key, heading HTML, open on opening)`` in display order; each
    :class:`JsLayer` names its key.  Collapsed headings keep the list short enough for a
    1366x768 screen; Leaflet scrolls what still does not fit.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }}_layers = {
                base_layers : {
                    {%- for key, val in this.base_layers.items() %}
                    {{ key|tojson }} : {{ val }},
                    {%- endfor %}
                },
                overlays : {
                    {%- for key, val in this.overlays.items() %}
                    {{ key|tojson }} : {{ val }},
                    {%- endfor %}
                },
            };
            var {{ this.get_name() }} = new SP.LayerControl(
                {{ this.get_name() }}_layers.base_layers, {{ this.get_name() }}_layers.overlays,
                {{ this.options_js }}
            ).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, groups: list[tuple[str, str, bool]]) -> None:
        super().__init__(position="topright", collapsed=True)
        self.options_js = js_json({"position": "topright", "collapsed": True,
                                   "groups": [list(g) for g in groups]})


class JsCall(MacroElement):
    """A call ``func(<map>, args...)`` placed in the map's script, in insertion order."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this.func }}({{ this._parent.get_name() }}{{ this.args_js }});
        {% endmacro %}
        """
    )

    def __init__(self, func: str, *args: Any) -> None:
        # branca's MacroElement.__init__ has no annotations (branca ships no types).
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "SiteplanCall"
        self.func = func
        self.args_js = "".join("," + js_json(a) for a in args)


def _walk(element: Element) -> Iterator[Element]:
    yield element
    if isinstance(element, Figure):
        for part in (element.header, element.html, element.script):
            yield from _walk(part)
    for child in list(element._children.values()):
        yield from _walk(child)


def stable_ids(m: folium.Map) -> None:
    """Give every element of the map's figure a sequential id (folium draws random ones)."""
    for i, element in enumerate(_walk(m.get_root())):
        element._id = f"{i:04d}"


def map_html(m: folium.Map) -> str:
    """Render the map to one HTML document; the same map always gives the same text.

    Raises
    ------
    InputError
        The map was built offline but something added to it later links an external script or
        style sheet (e.g. a folium plugin), so it would not work without internet.
    """
    # Rendering adds elements to the tree (folium's header blocks, "addTo" calls with fresh
    # random ids), so a second render of the same object would differ: render a copy.
    m = copy.deepcopy(m)
    stable_ids(m)
    text = m.get_root().render()
    found = _EXTERNAL.search(text) if getattr(m, "_siteplan_offline", False) else None
    if found is not None:
        raise InputError(
            f"the offline map links an external resource: {text[found.start():found.end() + 80]!r}.",
            where="save_map",
            fix="do not add folium plugins to an offline map, or build it with offline=False.",
        )
    return text


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write the map as one HTML file, atomically.

    Parameters
    ----------
    m
        A map from :func:`siteplan.outputs.maps.webmap.make_map` (any folium map works).
    path
        The ``.html`` file to write; its folder is created if needed.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    text = map_html(m)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(text.encode("utf-8"))
    return path
