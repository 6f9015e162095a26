"""Interactive planning map (folium / Leaflet) that works offline.

:func:`make_map` draws scored parcels, excluded parcels, the top-N ranks, catchments (one layer
per facility class), facilities (one layer per class, own colour and symbol), service blind
spots (服务盲区) and the study boundary, each as its own toggle, with bilingual popups, a legend,
a scale bar and fullscreen, measure and parcel-search controls; it fits the view to the data.
:func:`save_map` writes it atomically; the same input always gives the same bytes.

Offline (the default) the HTML is one self-contained file: Leaflet, its CSS and images come
inlined from the ``xstatic-leaflet`` package and nothing is fetched unless the user picks a
basemap.  The fullscreen, measure and search controls are siteplan's own
(``siteplan/outputs/maps/static/siteplan_map.js``): PyPI has no package that ships those Leaflet plugins as
files (there is no xstatic package for them, folium only links them from CDNs, and the
applications that vendor some of them, such as ``umap-project``, pin a whole Django stack).

Every text value that comes from data is HTML-escaped in Python before it reaches the page, and
data is embedded with :func:`siteplan.outputs.maps.assets.js_json`, so a name such as
``<img src=x onerror=alert(1)>`` or ``</script>`` shows as text and runs nothing.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Figure
from pyproj import CRS

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.labels import OSM_CREDIT_HTML, label
from siteplan.io.crs import analysis_crs
from siteplan.io.layers import is_polygonal
from siteplan.outputs.maps.assets import (
    GroupedLayerControl,
    JsCall,
    JsLayer,
    install_assets,
    save_map,
)
from siteplan.outputs.maps.basemaps import add_basemaps, custom_tiles
from siteplan.outputs.maps.mapdata import col as _col
from siteplan.outputs.maps.mapdata import css_name as _css_name
from siteplan.outputs.maps.mapdata import display as _display
from siteplan.outputs.maps.mapdata import esc as _esc
from siteplan.outputs.maps.mapdata import payload as _payload
from siteplan.outputs.maps.mapdata import points as _points
from siteplan.outputs.maps.overlays import add_blind_spots, add_compliance, add_ranks
from siteplan.outputs.maps.style import (
    SEED_CLASSES,
    CriterionMeta,
    class_colour,
    class_sort_key,
    class_symbol,
    compliance_legend,
    criteria_meta,
    escape,
    fmt_number,
    fmt_text,
    group_label,
    has_symbol,
    legend_html,
    parcel_popup,
    score_colours,
)

__all__ = ["make_map", "save_map"]

# Leaflet panes, bottom to top (tiles 200, Leaflet's own overlays 400, tooltips 650, popups 700).
# Blind spots and compliance outlines lie above the parcels: they answer where a service is
# missing, and 75 % opaque parcels would hide them.
_PANES = {"sp-catchments": 405, "sp-excluded": 415, "sp-parcels": 420, "sp-blind": 422,
          "sp-compliance": 423, "sp-boundary": 425, "sp-proposed-catchments": 430, "sp-facilities": 630,
          "sp-ranks": 640, "sp-proposed": 645}

# Gap-filling proposals (siteplan.siting.study): (中文, English).
_PROPOSED = {"site": ("拟建选址", "Proposed site"),
             "catchment": ("拟建服务范围", "Proposed catchment"),
             "rank": ("序号", "Rank"), "site_id": ("选址编号", "Site ID"),
             "marginal": ("新增覆盖", "Added coverage"),
             "marginal_share": ("新增覆盖占比", "Added share"),
             "cumulative_share": ("累计覆盖占比", "Cumulative share")}
# Black: no facility class uses it, so proposals never read as an existing kindergarten.
_PROPOSED_COLOUR = "#111111"


# ----------------------------------------------------------------------------- inputs


def check_layer(frame: Any, what: str, columns: Sequence[str]) -> gpd.GeoDataFrame:
    """Check a map layer: a GeoDataFrame with a CRS and ``columns``, else :class:`InputError`.

    Rows without geometry are left out of the returned layer, with a warning.
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"{what} is a {type(frame).__name__}, not a GeoDataFrame.",
                         where=f"map layer {what!r}", fix="pass a GeoDataFrame with geometry.")
    if frame.crs is None:
        raise InputError(f"{what} has no CRS.", where=f"map layer {what!r}",
                         fix="declare it with .set_crs(...) before mapping.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what} lacks the column(s) {missing}.", where=f"map layer {what!r}",
                         fix="map the output of the siteplan pipeline (see docs/design.md).")
    drawable = frame.geometry.notna().to_numpy() & ~frame.geometry.is_empty.to_numpy()
    if not drawable.all():
        warnings.warn(f"{what}: {int((~drawable).sum())} row(s) without geometry are not drawn.",
                      SiteplanWarning, stacklevel=3)
        frame = frame[drawable]
    return frame


def metric_crs(frame: gpd.GeoDataFrame) -> CRS:
    """Return the frame's CRS if it measures true metres here, else its centre's UTM zone."""
    return analysis_crs(frame)


# ----------------------------------------------------------------------------- parcels


def prepare_parcels(parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a checked copy of the parcels with ``_id`` (text) and ``_excluded`` (bool)."""
    p = check_layer(parcels, "parcels", ["parcel_id", "score"])
    if len(p) == 0:
        raise InputError("there are no parcels to map.", where="make_map(parcels=...)",
                         fix="check the parcel layer and the exclusion rules.")
    types = set(p.geom_type.unique())
    if not types <= {"Polygon", "MultiPolygon"}:
        raise InputError(f"parcels must be polygons; found {sorted(types)}.",
                         where="make_map(parcels=...)", fix="map the parcel polygons.")
    ids = p["parcel_id"].astype("string")
    dup = ids[ids.duplicated()].unique().tolist()
    if dup or ids.isna().any():
        raise InputError(f"parcel_id must be unique and present; repeated: {dup[:5]}.",
                         where="make_map(parcels=...)", fix="give every parcel its own id.")
    p = p.copy()
    p["_id"] = ids
    exc = p["excluded"] if "excluded" in p else pd.Series(False, index=p.index)
    p["_excluded"] = exc.astype("boolean").fillna(False).astype(bool)
    return p


def _add_parcels(m: folium.Map, p: gpd.GeoDataFrame, geoms: np.ndarray,
                 crit: list[CriterionMeta], top_n: int) -> bool:
    excluded = p["_excluded"].to_numpy()
    head, cols = parcel_popup(p, crit)
    colours = score_colours(p["score"], excluded)
    score_txt = fmt_number(p["score"], 1).fillna("–")
    ids = escape(p["_id"])
    tip = ids + " · " + _esc(label("score_short")) + " " + score_txt
    tip = tip.where(~excluded, ids + " · " + _esc(label("excluded")))
    title = "<b>" + ids + "</b>"
    if "name" in p:
        name = fmt_text(p["name"])
        title = title.where(name.isna(), title + " · " + name.fillna(""))
    for mask, pane, css, key, style in (
        (~excluded, "sp-parcels", "sp-parcel", "layer_parcels",
         {"color": "#333", "weight": 1, "fillOpacity": 0.75, "opacity": 0.9}),
        (excluded, "sp-excluded", "sp-parcel sp-excluded", "layer_excluded",
         {"color": "#666", "weight": 1, "fillOpacity": 0.4, "dashArray": "3 3"}),
    ):
        if not mask.any():
            continue
        data = _payload(geoms[mask], id=_col(p["_id"][mask]), t=_col(tip[mask]),
                        c=colours[mask].tolist(), h=_col(title[mask]),
                        v=[_col(c[mask]) for c in cols])
        opts = {"pane": pane, "className": css, "head": head, "style": style, "search": True}
        m.add_child(JsLayer("SP.geoLayer", data, opts, name=_esc(label(key)), group="parcels"))

    return add_ranks(m, p, geoms, top_n)


# ----------------------------------------------------------------------------- other layers


def _classes(frame: gpd.GeoDataFrame) -> list[str]:
    return sorted(frame["class"].astype(str).unique(), key=class_sort_key)


def _merged(sub: gpd.GeoDataFrame, metric: CRS, tol: float) -> gpd.GeoSeries:
    """Merge a class's catchments into one outline, when there are too many to draw one by one.

    Street buffers of thousands of bus-route samples overlap almost everywhere.
    """
    g = shapely.simplify(np.asarray(sub.geometry.to_crs(metric).values, dtype=object), tol)
    return gpd.GeoSeries([shapely.union_all(g)], crs=metric)


def _add_catchments(m: folium.Map, catch: gpd.GeoDataFrame, fac: gpd.GeoDataFrame | None,
                    metric: CRS, tol: float, merge_above: int) -> list[str]:
    names = None
    if fac is not None and "name" in fac:
        named = fac.assign(facility_id=fac["facility_id"].astype(str))
        names = named.drop_duplicates("facility_id").set_index("facility_id")["name"]
    classes = _classes(catch)
    for cls in classes:
        sub = catch[catch["class"].astype(str) == cls]
        cls_txt = _esc(label(cls))
        radii = sorted(pd.to_numeric(sub["radius_m"], errors="coerce").dropna().unique()) \
            if "radius_m" in sub else []
        suffix = " (" + "/".join(f"{r:g}" for r in radii) + " m)" if len(radii) else ""
        name = group_label("layer_catchments", cls, suffix)
        if len(sub) > merge_above:
            tip = _esc(f"{name} · {label('merged')}")
            count = _esc(f"{len(sub)}")
            data = _payload(_display(_merged(sub, metric, tol), metric, tol, coverage=False),
                            t=[tip], h=[cls_txt], v=[[count]])
            head = [{"l": _esc(label("n_facilities")), "k": 0}]
        else:
            fname = fmt_text(sub["facility_id"].astype(str).map(names)) \
                if names is not None else None
            radius = fmt_number(sub["radius_m"], 0, " m") if "radius_m" in sub else None
            tip = pd.Series(_esc(label("layer_catchments")) + " · " + cls_txt,
                            index=sub.index)
            if fname is not None:
                tip = tip.where(fname.isna(), tip + " · " + fname.fillna(""))
            if radius is not None:
                tip = tip.where(radius.isna(), tip + " (" + radius.fillna("") + ")")
            cols = [_col(fmt_text(sub["facility_id"]))]
            head = [{"l": _esc(label("facility_id")), "k": 0}]
            for key, col in (("facility", fname), ("radius_m", radius)):
                if col is not None:
                    head.append({"l": _esc(label(key)), "k": len(cols)})
                    cols.append(_col(col))
            data = _payload(_display(sub.geometry, metric, tol, coverage=False), t=_col(tip),
                            h=[cls_txt] * len(sub), v=cols)
        colour = class_colour(cls)
        # A class drawn as the streets it reaches (proxies, thousands of facilities): lines.
        style = ({"color": colour, "weight": 3, "opacity": 0.6, "fill": False}
                 if not is_polygonal(sub.geometry.to_numpy()).any() else
                 {"color": colour, "weight": 1.5, "opacity": 0.8, "fillColor": colour,
                  "fillOpacity": 0.08})
        opts = {"pane": "sp-catchments", "className": f"sp-catchment sp-catchment-{_css_name(cls)}",
                "head": head, "style": style}
        m.add_child(JsLayer("SP.geoLayer", data, opts, name=_esc(name), group="catchments",
                            show=cls in SEED_CLASSES))
    return classes


def _add_facilities(m: folium.Map, fac: gpd.GeoDataFrame, metric: CRS,
                    merge_above: int) -> list[str]:
    classes = _classes(fac)
    keys = [k for k in ("name", "facility_id", "source") if k in fac]
    for cls in classes:
        sub = fac[fac["class"].astype(str) == cls]
        cols = {k: fmt_text(sub[k]) for k in keys}
        cls_txt = _esc(label(cls))
        ident = cols.get("name", cols.get("facility_id"))
        tip = pd.Series(cls_txt, index=sub.index, dtype=object)
        if ident is not None:
            tip = tip.where(ident.isna(), tip + " · " + ident.fillna(""))
        head = [{"l": _esc(label(k)), "k": i} for i, k in enumerate(keys)]
        data = _payload(_points(sub.geometry, metric), t=_col(tip),
                        v=[_col(cols[k]) for k in keys])
        many = len(sub) > merge_above
        dots = many or not has_symbol(cls)
        # Thousands of symbols would be thousands of HTML nodes: many points become small dots,
        # off on opening.
        opts = {"pane": "sp-facilities", "head": head, "dots": dots,
                "marker": {"colour": class_colour(cls), "symbol": class_symbol(cls),
                           "className": f"sp-facility sp-facility-{_css_name(cls)}"}}
        name = group_label("layer_facilities", cls, f" ({len(sub)})")
        m.add_child(JsLayer("SP.geoLayer", data, opts, name=_esc(name), group="facilities",
                            show=not many))
    return classes


def _both(key: str) -> str:
    zh, en = _PROPOSED[key]
    return f"{zh} / {en}"  # the map's other labels put Chinese first


def _add_proposed(m: folium.Map, sites: gpd.GeoDataFrame | None,
                  catch: gpd.GeoDataFrame | None, metric: CRS, tol: float) -> None:
    """Proposed sites (numbered markers) and their new catchments (dashed), per method."""
    for frame, key in ((catch, "catchment"), (sites, "site")):
        if frame is None or len(frame) == 0:
            continue
        frame = check_layer(frame, f"proposed {key}s", ["rank", "site_id"])
        method = frame["method"].astype(str) if "method" in frame else pd.Series(
            "", index=frame.index)
        for meth in sorted(method.unique()):
            sub = frame[(method == meth).to_numpy()]
            keys: list[tuple[str, pd.Series]] = [
                ("rank", fmt_number(sub["rank"], 0)),
                ("site_id", fmt_text(sub["site_id"]))]
            for col in ("marginal", "marginal_share", "cumulative_share"):
                if col in sub:
                    digits = 0 if col == "marginal" else 4
                    keys.append((col, fmt_number(sub[col], digits)))
            head = [{"l": _esc(_both(k) if k in _PROPOSED else label(k)), "k": i}
                    for i, (k, _) in enumerate(keys)]
            name = _both(key) + (f" ({meth})" if meth else "")
            tip = _esc(_both(key)) + " #" + keys[0][1].fillna("")
            if key == "site":
                data = _payload(_points(sub.geometry, metric), t=_col(tip),
                                v=[_col(v) for _, v in keys])
                opts: dict[str, Any] = {
                    "pane": "sp-proposed", "head": head, "dots": False,
                    "marker": {"colour": _PROPOSED_COLOUR, "symbol": "★",
                               "className": "sp-proposed-site"}}
            else:
                data = _payload(_display(sub.geometry, metric, tol, coverage=False),
                                t=_col(tip), v=[_col(v) for _, v in keys])
                opts = {"pane": "sp-proposed-catchments", "className": "sp-proposed-catchment",
                        "head": head,
                        "style": {"color": _PROPOSED_COLOUR, "weight": 2, "dashArray": "6 4",
                                  "fillColor": _PROPOSED_COLOUR, "fillOpacity": 0.12}}
            m.add_child(JsLayer("SP.geoLayer", data, opts, name=_esc(name), group="proposed",
                                show=meth in ("", "exact") or method.nunique() == 1))


# ----------------------------------------------------------------------------- the map


def make_map(
    parcels: gpd.GeoDataFrame,
    *,
    catchments: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    blind_spots: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    criteria: Any = None,
    top_n: int = 10,
    offline: bool = True,
    basemap: str | None = None,
    tianditu_key: str | None = None,
    title: str | None = None,
    tolerance_m: float = 1.0,
    merge_above: int = 300,
    proposed_sites: gpd.GeoDataFrame | None = None,
    proposed_catchments: gpd.GeoDataFrame | None = None,
    compliance: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
    tiles_url: str | None = None,
    tiles_attribution: str | None = None,
) -> folium.Map:
    """Build the interactive planning map.

    Parameters
    ----------
    parcels
        Scored parcels in any declared CRS: ``parcel_id`` (unique), ``score`` (0-100, NaN when
        excluded) and, where available, ``rank``, ``excluded``, ``exclusion_reason``
        (+ ``_zh``), ``<criterion>_raw``/``_points``, ``meets_<class>_radius``,
        ``compliant_all``, ``compliance_required``, ``required_<item>``, ``dist_<class>_m``,
        ``name``.  Not modified.
    catchments
        ``facility_id``, ``class``, ``radius_m`` polygons; one layer per class (the seed
        classes kindergarten, primary and middle school are shown on opening).
    facilities
        ``facility_id``, ``class``, ``name``, ``source``; points or polygons (drawn as a marker
        inside the polygon); one layer per class.
    blind_spots
        服务盲区: the units not served, ``class``, ``name`` and optionally ``dist_m``,
        ``missed_by_m``, ``residents``, ``area_m2``.
    boundary
        Study boundary polygon(s).
    criteria
        A :class:`siteplan.study.model.Study`, a list of ``(name, label_en, label_zh, weight)``, or
        None (every ``X`` with ``X_raw`` and ``X_points`` columns, no weights).
    top_n
        Rank labels for parcels ranked 1..``top_n`` (0: none).
    offline
        Inline Leaflet and the controls: one self-contained file that needs no request.  Online
        maps link Leaflet from its CDN.
    basemap
        Basemap on opening, one of :data:`siteplan.outputs.maps.basemaps.BASEMAPS`; default ``"none"`` offline (no tile
        request) and ``"osm"`` online.  The others stay selectable in the layer control.
    tianditu_key
        天地图 key; default: ``$TIANDITU_KEY``, then the study's ``outputs.tianditu_key``.  With
        no key the Tianditu basemaps are left out, with a warning.  The key ends up in the HTML
        (tile URLs need it).
    title
        Title shown on the map and as the page title.
    tolerance_m
        Display simplification tolerance in metres (0: none): Douglas-Peucker per polygon, or,
        where the parcels form a valid coverage, coverage simplification (Visvalingam-Whyatt,
        triangles under about ``tolerance_m``² go) that keeps shared edges shared.
    merge_above
        A class with more catchments than this is drawn as one merged outline, and its
        facilities as small dots, off on opening (e.g. thousands of bus-route samples), to keep
        the file small and the page fast.
    proposed_sites, proposed_catchments
        Gap-filling proposals (:func:`siteplan.siting.study.site_study`): sites as numbered star
        markers (popup: rank, site id, added coverage and shares), their new catchments dashed;
        ``rank``, ``site_id`` and optionally ``method`` (one layer per method).
    compliance
        Seed compliance counts of every parcel for the legend (``compliance_counts``); by
        default counted from the parcels' ``meets_<class>_radius`` and ``compliant_all``.
    notes
        Data gaps shown at the foot of the legend (the run's thin facility layers).
    tiles_url, tiles_attribution
        A custom basemap, e.g. an intranet tile server: a URL template with ``{z}``, ``{x}``,
        ``{y}`` and its attribution (default the server's name); shown on opening unless
        ``basemap`` says otherwise.  Default: the study's ``outputs.tiles_url``.

    Returns
    -------
    folium.Map
        Write it with :func:`save_map`.

    Raises
    ------
    InputError
        A layer is not a GeoDataFrame with a CRS, lacks a required column, parcel ids are
        missing or repeated, or the basemap name is unknown.

    Examples
    --------
    >>> import geopandas as gpd
    >>> import shapely
    >>> from siteplan import make_map
    >>> parcels = gpd.GeoDataFrame(
    ...     {"parcel_id": ["A", "B"], "score": [82.0, 55.5], "rank": [1, 2]},
    ...     geometry=[shapely.box(x, 4187000, x + 90, 4187090) for x in (634000, 634100)],
    ...     crs="EPSG:32649")
    >>> m = make_map(parcels, title="Two parcels", tianditu_key="<your key>")  # None: a warning
    >>> m.get_root().title
    'Two parcels'
    """
    p = prepare_parcels(parcels)
    metric = metric_crs(p)
    crit = criteria_meta(criteria, p)
    if tianditu_key is None:
        tianditu_key = os.environ.get("TIANDITU_KEY") or None
        if tianditu_key is None and hasattr(criteria, "tianditu_key"):
            tianditu_key = criteria.tianditu_key()
    title = title if title is not None else label("title")

    # zoomSnap 0.25: fitting to the data at whole zoom levels can leave half the screen empty.
    m = folium.Map(location=[0.0, 0.0], zoom_start=2, tiles=None, control_scale=False,
                   prefer_canvas=False, zoom_snap=0.25)
    root = m.get_root()
    assert isinstance(root, Figure)  # a folium.Map always sits in a branca Figure
    root.title = _esc(title)
    install_assets(m, offline=offline)
    m.add_child(JsCall("SP.init"))
    for pane, z in _PANES.items():
        m.add_child(JsCall("SP.pane", pane, z))
    if tiles_url is None and hasattr(criteria, "outputs"):
        tiles_url = criteria.outputs.tiles_url
        tiles_attribution = tiles_attribution or criteria.outputs.tiles_attribution
    add_basemaps(m, basemap, offline, tianditu_key,
                 custom_tiles(tiles_url, tiles_attribution) if tiles_url else None)

    geoms = _display(p.geometry, metric, tolerance_m, coverage=True)
    has_ranks = _add_parcels(m, p, geoms, crit, top_n)
    fac = None
    if facilities is not None:
        fac = check_layer(facilities, "facilities", ["facility_id", "class"])
    catch_classes: list[str] = []
    if catchments is not None:
        catch = check_layer(catchments, "catchments", ["facility_id", "class"])
        catch_classes = _add_catchments(m, catch, fac, metric, tolerance_m, merge_above)
    fac_classes = _add_facilities(m, fac, metric, merge_above) \
        if fac is not None and len(fac) else []
    blind_classes: list[str] = []
    if blind_spots is not None and len(blind_spots) > 0:
        blind_classes = add_blind_spots(m, check_layer(blind_spots, "blind_spots", []), metric,
                                        tolerance_m)
    add_compliance(m, p)

    _add_proposed(m, proposed_sites, proposed_catchments, metric, tolerance_m)
    has_proposed = proposed_sites is not None and len(proposed_sites) > 0

    bounds = shapely.total_bounds(geoms)
    has_boundary = boundary is not None and len(boundary) > 0
    if has_boundary:
        bframe = boundary if isinstance(boundary, gpd.GeoDataFrame) else gpd.GeoDataFrame(
            geometry=boundary)
        bframe = check_layer(bframe, "boundary", [])
        bgeoms = _display(bframe.geometry, metric, tolerance_m, coverage=False)
        opts = {"pane": "sp-boundary", "className": "sp-boundary", "interactive": False,
                "style": {"color": "#222", "weight": 2.5, "dashArray": "8 4", "fill": False}}
        m.add_child(JsLayer("SP.geoLayer", _payload(bgeoms), opts, group="other",
                            name=_esc(label("layer_boundary"))))
        b = shapely.total_bounds(bgeoms)
        bounds = np.concatenate([np.minimum(bounds[:2], b[:2]), np.maximum(bounds[2:], b[2:])])

    m.add_child(JsCall("SP.legend", legend_html(top_n if has_ranks else 0,
                                             bool(p["_excluded"].any()), fac_classes,
                                             catch_classes, blind_classes, has_boundary,
                                             _PROPOSED_COLOUR if has_proposed else None,
                                             notes)
                                 + compliance_legend(parcels, compliance),
                                 _esc(label("legend"))))
    m.add_child(JsCall("SP.title", _esc(title)))
    m.add_child(JsCall("SP.credit", OSM_CREDIT_HTML))
    m.add_child(JsCall("SP.scale"))
    m.add_child(JsCall("SP.fullscreen", label("fullscreen")))
    m.add_child(JsCall("SP.measure", label("measure"), label("measure_hint")))
    m.add_child(JsCall("SP.search", label("search"), label("not_found")))
    m.add_child(GroupedLayerControl([(key, _esc(label(word)), shown) for key, word, shown in (
        ("basemaps", "group_basemaps", True), ("parcels", "group_parcels", True),
        ("blind", "layer_blind_spots", True), ("compliance", "group_compliance", False),
        ("catchments", "layer_catchments", True), ("facilities", "layer_facilities", False),
        ("proposed", "layer_proposed_sites", True), ("other", "group_other", True))]))
    m.fit_bounds([[float(bounds[1]), float(bounds[0])], [float(bounds[3]), float(bounds[2])]])
    return m

