"""Web map layers that answer the planning questions: blind spots, compliance, top-N ranks.

- Blind spots (服务盲区) per class, in the class's colour, drawn above the parcels (a blind
  spot under 75 % opaque parcels cannot be seen), one toggle per class.
- Compliance: the parcels meeting each seed radius, and all three (三(二)8), as outlines over
  the parcels; built in the page from the parcels already drawn, so no geometry is repeated.
- The top-N ranks: labels placed without overlap (``SP.rankLayer``, leader lines where a label
  had to move) and a ranked side list that zooms to and outlines a parcel on click.
"""

from __future__ import annotations

import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from siteplan.core.labels import label
from siteplan.outputs.maps.assets import JsCall, JsLayer
from siteplan.outputs.maps.mapdata import col, css_name, display, esc, payload
from siteplan.outputs.maps.style import (
    COMPLIANCE_COLOUR,
    SEED_CLASSES,
    blind_colour,
    class_colour,
    class_sort_key,
    fmt_number,
    fmt_text,
    group_label,
)

# Drawn on opening: the blind spots of the first seed class (more would stack on one another).
_BLIND_SHOWN = SEED_CLASSES[:1]


def add_blind_spots(m: folium.Map, blind: gpd.GeoDataFrame, metric: CRS, tol: float) -> list[str]:
    """Add one blind-spot layer per class above the parcels; return the classes drawn."""
    cls_all = blind["class"].astype(str) if "class" in blind else pd.Series(
        "", index=blind.index)
    classes = sorted(cls_all.unique(), key=class_sort_key)
    for cls in classes:
        sub = blind[(cls_all == cls).to_numpy()]
        cls_txt = esc(label(cls)) if cls else ""
        keys = [("class", pd.Series(cls_txt, index=sub.index))]
        if "name" in sub:
            keys.append(("name", fmt_text(sub["name"])))
        keys += [(k, fmt_number(sub[k], 0)) for k in ("dist_m", "missed_by_m", "residents",
                                                      "area_m2") if k in sub]
        name = group_label("layer_blind_spots", cls) if cls else label("layer_blind_spots")
        tip = pd.Series(esc(name), index=sub.index)
        if "name" in sub:
            unit = keys[1][1]
            tip = tip.where(unit.isna(), tip + " · " + unit.fillna(""))
        head = [{"l": esc(label(k)), "k": i} for i, (k, _) in enumerate(keys)]
        data = payload(display(sub.geometry, metric, tol, coverage=False), t=col(tip),
                       v=[col(v) for _, v in keys])
        colour = blind_colour(cls)
        opts = {"pane": "sp-blind", "className": f"sp-blind-spot sp-blind-{css_name(cls)}",
                "head": head, "style": {"color": colour, "weight": 2.5, "dashArray": "5 3",
                                        "fillColor": colour, "fillOpacity": 0.35}}
        m.add_child(JsLayer("SP.geoLayer", data, opts, name=esc(name), group="blind",
                            show=not cls or cls in _BLIND_SHOWN))
    return classes


def compliance_flags(parcels: pd.DataFrame) -> dict[str, np.ndarray]:
    """Return ``{rule: bool array}``: each ``meets_<class>_radius`` column, then ``all``."""
    cols = [c for c in parcels.columns if re.fullmatch(r"meets_.+_radius", str(c))]
    rules = {c[6:-7]: c for c in sorted(cols, key=lambda c: class_sort_key(c[6:-7]))}
    if rules and "compliant_all" in parcels:
        rules["all"] = "compliant_all"
    return {rule: parcels[c].astype("boolean").fillna(False).to_numpy(dtype=bool)
            for rule, c in rules.items()}


def add_compliance(m: folium.Map, parcels: gpd.GeoDataFrame) -> list[str]:
    """Outline the parcels meeting each seed radius, and all three; return the rules drawn.

    Off on opening (the legend counts them); the outlines reuse the parcel shapes in the page.
    """
    flags = compliance_flags(parcels)
    scored = ~parcels["_excluded"].to_numpy()
    drawn = []
    for rule, ok in flags.items():
        ids = parcels["_id"][ok & scored].tolist()
        if not ids:
            continue
        both = label("compliance_all") if rule == "all" else label(rule)
        name = group_label("layer_compliance", "compliance_all" if rule == "all" else rule,
                           f" ({len(ids):,})")
        colour = COMPLIANCE_COLOUR if rule == "all" else class_colour(rule)
        style = {"color": colour, "weight": 4 if rule == "all" else 2.5, "fill": False,
                 "opacity": 0.95, "dashArray": None if rule == "all" else "2 4"}
        m.add_child(JsLayer("SP.flagLayer", ids, {
            "pane": "sp-compliance", "style": style, "tip": esc(both),
            "className": f"sp-compliant sp-compliant-{css_name(rule)}"},
            name=esc(name), group="compliance", show=False))
        drawn.append(rule)
    return drawn


def add_ranks(m: folium.Map, parcels: gpd.GeoDataFrame, geoms: np.ndarray, top_n: int) -> bool:
    """Add the top-N rank labels and the ranked side list; return whether any parcel has one."""
    excluded = parcels["_excluded"].to_numpy()
    rank = pd.to_numeric(parcels["rank"], errors="coerce").to_numpy(
        dtype=float, na_value=np.nan) if "rank" in parcels else np.full(len(parcels), np.nan)
    top = ~excluded & np.isfinite(rank) & (rank <= top_n)
    if not top.any():
        return False
    pts = shapely.point_on_surface(geoms[top])
    order = np.argsort(rank[top], kind="stable")
    ranks = rank[top][order].astype(int).tolist()
    rows = [[round(float(y), 6), round(float(x), 6), r] for x, y, r in
            zip(shapely.get_x(pts)[order], shapely.get_y(pts)[order], ranks, strict=True)]
    m.add_child(JsLayer("SP.rankLayer", rows, "sp-ranks", group="parcels",
                        name=esc(label("layer_ranks").format(n=top_n))))
    ids = parcels["_id"].to_numpy()[top][order].tolist()
    score = fmt_number(parcels["score"][top], 1).fillna("–").to_numpy()[order].tolist()
    listed = [[r, i, s] for r, i, s in zip(ranks, ids, score, strict=True)]
    m.add_child(JsCall("SP.rankList", esc(label("rank_list").format(n=top_n)), listed))
    return True


__all__ = ["add_blind_spots", "add_compliance", "add_ranks", "compliance_flags"]
