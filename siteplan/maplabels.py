"""Map-only words, colours and value formatting shared by the web map and the static map.

Column names, facility classes and reasons come from the project-wide table
(:func:`siteplan.labels.label`); this module only adds what a map needs on top of it (layer and
basemap names, legend words) plus colours and symbols.  The value formatters are vectorised
(pandas string methods, no Python loop per parcel) and return HTML-escaped text, because
everything they format ends up in the web page.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from siteplan.labels import has_label, label

# Words only the maps use.  (中文, English); "{n}" is filled in by the caller.
MAP_TERMS: dict[str, tuple[str, str]] = {
    "title": ("好房子选址适宜性评价", "Good-housing site suitability"),
    "layer_parcels": ("候选地块 (按得分着色)", "Candidate parcels (by score)"),
    "layer_excluded": ("已排除地块", "Excluded parcels"),
    "layer_ranks": ("前 {n} 名", "Top {n} ranks"),
    "layer_catchments": ("服务范围", "Catchment"),
    "layer_facilities": ("设施", "Facilities"),
    "layer_blind_spots": ("服务盲区", "Service blind spots"),
    "layer_boundary": ("研究范围", "Study boundary"),
    "basemap_none": ("无底图", "No basemap"),
    "basemap_osm": ("OpenStreetMap", "OpenStreetMap"),
    "basemap_light": ("浅色底图 (OSM 灰度)", "Light (OSM greyscale)"),
    "basemap_tianditu_vec": ("天地图 矢量", "Tianditu vector"),
    "basemap_tianditu_img": ("天地图 影像", "Tianditu imagery"),
    "legend_score": ("适宜性得分", "Suitability score"),
    "legend_facilities": ("设施", "Facilities"),
    "legend_catchments": ("服务范围", "Catchments"),
    "section_criteria": ("评价因子 (原始值 → 得分)", "Criteria (raw value → points)"),
    "section_compliance": ("服务半径达标 (三(二)8)", "Service radii (seed clause 三(二)8)"),
    "section_programme": ("配建要求", "Programme requirements"),
    "section_distance": ("步行距离", "Walking distances"),
    "weight": ("权重", "weight"),
    "score_short": ("得分", "Score"),
    # The popup shows these two in both languages, so the labels must not say "(英文)".
    "exclusion_reason": ("排除原因", "Exclusion reason"),
    "compliance_required": ("须配建", "Must provide on site"),
    "search": ("按地块ID查找", "Find parcel by ID"),
    "not_found": ("未找到", "Not found"),
    "fullscreen": ("全屏", "Full screen"),
    "measure": ("测距/测面积", "Measure distance / area"),
    "measure_hint": ("单击地图加点", "Click the map to add points"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "facility_id": ("设施编号", "Facility ID"),
    "class": ("类别", "Class"),
    "source": ("来源", "Source"),
    "radius_m": ("服务半径 (米)", "Service radius (m)"),
    "facility": ("设施", "Facility"),
    "north": ("北", "N"),
    "credit": ("数据", "Data"),
}

OSM_CREDIT = "© OpenStreetMap contributors"
OSM_CREDIT_HTML = ('&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
                   "contributors")

# One hue per facility class (catchments use the same hue) and a one- or two-letter symbol so
# classes stay distinguishable in grey print and for colour-blind readers.
CLASS_STYLE: dict[str, tuple[str, str]] = {
    "kindergarten": ("#e7298a", "K"),
    "primary_school": ("#1f78b4", "P"),
    "middle_school": ("#6a3d9a", "M"),
    "high_school": ("#b15928", "H"),
    "hospital": ("#e31a1c", "+"),
    "clinic": ("#fb6a4a", "C"),
    "bus_stop": ("#33a02c", "B"),
    "metro_station": ("#ff7f00", "S"),
    "park": ("#4daf4a", "G"),
    "elderly_care": ("#a6761d", "E"),
}
OTHER_STYLE = ("#555555", "•")
CLASS_ORDER = tuple(CLASS_STYLE)
SEED_CLASSES = ("kindergarten", "primary_school", "middle_school")

EXCLUDED_COLOUR = "#9e9e9e"
# ColorBrewer RdYlBu (5 classes): diverging and colour-blind safe, low scores red, high blue.
SCORE_STOPS = ("#d7191c", "#fdae61", "#ffffbf", "#abd9e9", "#2c7bb6")
BLIND_COLOUR = "#b10026"
RANK_COLOUR = "#1b3a6b"


def map_label(key: str, lang: str = "both") -> str:
    """Label for a map word or a column: ``"中文 / English"`` (or one language); not escaped.

    Map words (:data:`MAP_TERMS`) win; then the project table (:func:`siteplan.labels.label`);
    an unknown key comes back unchanged.
    """
    if key in MAP_TERMS:
        zh, en = MAP_TERMS[key]
    elif has_label(key):
        return label(key, lang)  # type: ignore[arg-type]
    else:
        return key
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return en if zh == en else f"{zh} / {en}"


def group_label(group: str, key: str, suffix: str = "", lang: str = "both") -> str:
    """``服务范围：幼儿园 (300 m) / Catchment: Kindergarten (300 m)``: a map word and a class,
    each language kept together; not escaped."""
    zh = f"{map_label(group, 'zh')}：{map_label(key, 'zh')}{suffix}"
    en = f"{map_label(group, 'en')}: {map_label(key, 'en')}{suffix}"
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return en if zh == en else f"{zh} / {en}"


def class_colour(cls: str) -> str:
    return CLASS_STYLE.get(cls, OTHER_STYLE)[0]


def class_symbol(cls: str) -> str:
    return CLASS_STYLE.get(cls, OTHER_STYLE)[1]


def class_sort_key(cls: str) -> tuple[int, str]:
    """Seed classes first, then the DESIGN.md order, then anything else alphabetically."""
    return (CLASS_ORDER.index(cls) if cls in CLASS_ORDER else len(CLASS_ORDER), cls)


def _hex_to_rgb(colours: tuple[str, ...]) -> np.ndarray:
    return np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colours], dtype=float)


def score_lut() -> np.ndarray:
    """101 ``#rrggbb`` colours for scores 0, 1, ..., 100 (linear between the stops)."""
    stops = _hex_to_rgb(SCORE_STOPS)
    at = np.linspace(0.0, 100.0, len(stops))
    x = np.arange(101, dtype=float)
    rgb = np.rint(np.column_stack([np.interp(x, at, stops[:, k]) for k in range(3)])).astype(int)
    return np.array([f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb], dtype=object)


def score_colours(score: pd.Series | np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """``#rrggbb`` per parcel: the score ramp, grey where excluded or not scored."""
    s = pd.to_numeric(pd.Series(np.asarray(score)), errors="coerce").to_numpy(dtype=float,
                                                                             na_value=np.nan)
    ok = np.isfinite(s) & ~np.asarray(excluded, dtype=bool)
    idx = np.clip(np.rint(np.where(ok, s, 0.0)), 0, 100).astype(int)
    return np.where(ok, score_lut()[idx], EXCLUDED_COLOUR)


# ----------------------------------------------------------------------------- value formatting
# Every formatter returns an object Series of HTML-escaped strings, None where there is no value
# (the popup leaves that row out).


def escape(values: pd.Series) -> pd.Series:
    """HTML-escape a Series of text (vectorised ``html.escape``); missing values stay None."""
    s = values.astype("string")
    out = (s.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False)
           .str.replace(">", "&gt;", regex=False).str.replace('"', "&quot;", regex=False)
           .str.replace("'", "&#x27;", regex=False))
    return out.astype(object).where(out.notna(), None)


def fmt_text(values: pd.Series) -> pd.Series:
    """Escaped text; empty strings count as missing."""
    out = escape(values)
    return out.where(out.astype("string").fillna("").str.strip() != "", None)


def fmt_number(values: pd.Series, decimals: int = 1, unit: str = "") -> pd.Series:
    """Fixed decimals (``12.5``), optional unit; non-numbers and NaN are missing."""
    x = pd.to_numeric(values, errors="coerce").astype(float)
    ok = np.isfinite(x.to_numpy(na_value=np.nan))
    text = pd.Series(np.char.mod(f"%.{decimals}f", np.where(ok, x.to_numpy(na_value=0.0), 0.0)),
                     index=values.index, dtype=object)
    if unit:
        text = text + unit
    return text.where(ok, None)


def fmt_value(values: pd.Series) -> pd.Series:
    """A raw value of any kind: numbers with at most 2 decimals (trailing zeros dropped),
    booleans as 是/yes, anything else as escaped text."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return fmt_bool(values)
    if pd.api.types.is_numeric_dtype(values.dtype):
        text = fmt_number(values, 2).astype("string")
        text = text.str.replace(r"\.?0+$", "", regex=True).str.replace(r"^-0$", "0", regex=True)
        return text.astype(object).where(text.notna(), None)
    return fmt_text(values)


def fmt_bool(values: pd.Series) -> pd.Series:
    """``✓ 是 / yes`` or ``✗ 否 / no``; missing stays missing."""
    yes = "✓ " + map_label("yes")
    no = "✗ " + map_label("no")
    flag = values.astype("boolean")
    out = pd.Series(np.where(flag.fillna(False).to_numpy(dtype=bool), yes, no), index=values.index,
                    dtype=object)
    return out.where(flag.notna().to_numpy(), None)
