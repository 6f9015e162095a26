"""Labels, colours and display helpers shared by the web map and the static map.

Until ``siteplan.labels`` (the project-wide bilingual table) is wired in, the map labels live in
:data:`MAP_LABELS`; every lookup goes through :func:`label_pair`, so switching is one function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# (中文, English)
MAP_LABELS: dict[str, tuple[str, str]] = {
    # facility classes (DESIGN.md)
    "kindergarten": ("幼儿园", "Kindergarten"),
    "primary_school": ("小学", "Primary school"),
    "middle_school": ("初中", "Middle school"),
    "high_school": ("高中", "High school"),
    "hospital": ("医院", "Hospital"),
    "clinic": ("诊所/社区卫生", "Clinic"),
    "bus_stop": ("公交站", "Bus stop"),
    "metro_station": ("地铁站", "Metro station"),
    "park": ("公园", "Park"),
    "elderly_care": ("养老设施", "Elderly care"),
    # parcel columns
    "parcel_id": ("地块编号", "Parcel ID"),
    "name": ("名称", "Name"),
    "rank": ("排名", "Rank"),
    "score": ("得分", "Score"),
    "excluded": ("已排除", "Excluded"),
    "exclusion_reason": ("排除原因", "Exclusion reason"),
    "raw_points": ("原始值 → 得分", "raw → points"),
    "meets_kindergarten_radius": ("幼儿园300米服务半径", "Kindergarten within 300 m"),
    "meets_primary_school_radius": ("小学500米服务半径", "Primary school within 500 m"),
    "meets_middle_school_radius": ("初中1000米服务半径", "Middle school within 1000 m"),
    "compliance_required": ("配建要求", "Provision required"),
    "required_childcare_places": ("托位需求(个)", "Childcare places"),
    "required_childcare_m2": ("托育面积(m²)", "Childcare floor area (m²)"),
    "required_elderly_land_m2": ("养老用地(m²)", "Elderly-care land (m²)"),
    "required_parking_spaces": ("停车位(个)", "Parking spaces"),
    "required_charging_spaces": ("充电车位(个)", "Charging spaces"),
    "required_property_service_m2": ("物业服务用房(m²)", "Property-service rooms (m²)"),
    # facilities, catchments, blind spots
    "facility_id": ("设施编号", "Facility ID"),
    "class": ("类别", "Class"),
    "source": ("来源", "Source"),
    "radius_m": ("服务半径(m)", "Service radius (m)"),
    "area_m2": ("面积(m²)", "Area (m²)"),
    # layers and UI
    "layer_parcels": ("候选地块（按得分）", "Candidate parcels (score)"),
    "layer_excluded": ("已排除地块", "Excluded parcels"),
    "layer_ranks": ("前{n}名", "Top {n} ranks"),
    "layer_catchment": ("服务范围", "Catchment"),
    "layer_facilities": ("公共服务设施", "Facilities"),
    "layer_blind_spots": ("服务盲区", "Service blind spots"),
    "layer_boundary": ("研究范围", "Study boundary"),
    "layer_proposed": ("拟建设施", "Proposed facilities"),
    "layer_proposed_catchments": ("拟建设施服务范围", "Proposed catchments"),
    "basemap_osm": ("开放街道地图", "OpenStreetMap"),
    "basemap_positron": ("浅色底图", "Light (CARTO Positron)"),
    "basemap_tianditu_vec": ("天地图 矢量", "Tianditu vector"),
    "basemap_tianditu_img": ("天地图 影像", "Tianditu imagery"),
    "basemap_none": ("无底图", "No basemap"),
    "search": ("按地块编号查找", "Find parcel by ID"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "legend_score": ("适宜性得分", "Suitability score"),
    "north": ("北", "N"),
    "title": ("好房子选址 适宜性评价", "Good-housing site suitability"),
    "credit_data": ("数据", "Data"),
}

OSM_CREDIT = "© OpenStreetMap contributors"

# One colour per facility class; catchments use the same hue.
CLASS_COLOURS: dict[str, str] = {
    "kindergarten": "#e7298a",
    "primary_school": "#1f78b4",
    "middle_school": "#6a3d9a",
    "high_school": "#b15928",
    "hospital": "#e31a1c",
    "clinic": "#fb9a99",
    "bus_stop": "#33a02c",
    "metro_station": "#ff7f00",
    "park": "#4daf4a",
    "elderly_care": "#a6761d",
}
OTHER_COLOUR = "#666666"
EXCLUDED_COLOUR = "#9e9e9e"
SCORE_STOPS = ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"]

# Seed clause 三(二)8: walking radii shown by default.
SEED_CLASSES = ("kindergarten", "primary_school", "middle_school")
CLASS_ORDER = tuple(CLASS_COLOURS)


def label_pair(key: str) -> tuple[str, str]:
    """(中文, English) for ``key``; unknown keys fall back to the key itself, tidied."""
    if key in MAP_LABELS:
        return MAP_LABELS[key]
    if key.startswith("proposed_") and key[9:] in MAP_LABELS:
        zh, en = MAP_LABELS[key[9:]]
        return "拟建" + zh, "Proposed " + en.lower()
    text = key.replace("_", " ")
    return text, text


def bilingual(key: str) -> str:
    """Label as ``中文 English`` (not escaped)."""
    zh, en = label_pair(key)
    return en if zh == en else f"{zh} {en}"


def class_colour(cls: str) -> str:
    return CLASS_COLOURS.get(cls, OTHER_COLOUR)


def class_sort_key(cls: str) -> tuple[int, str]:
    return (CLASS_ORDER.index(cls) if cls in CLASS_ORDER else len(CLASS_ORDER), cls)


def score_lut() -> list[str]:
    """101 hex colours for scores 0, 1, ..., 100 from the branca ramp."""
    from branca.colormap import LinearColormap

    cmap = LinearColormap(SCORE_STOPS, vmin=0.0, vmax=100.0)
    return [cmap.rgb_hex_str(float(v)) for v in range(101)]


def score_colours(score: pd.Series | np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """Hex colour per parcel: the score ramp, grey where excluded or unscored."""
    s = np.asarray(pd.to_numeric(pd.Series(score), errors="coerce"), dtype=float)
    lut = np.asarray(score_lut(), dtype=object)
    ok = np.isfinite(s) & ~excluded
    idx = np.clip(np.rint(np.where(ok, s, 0.0)), 0, 100).astype(int)
    return np.where(ok, lut[idx], EXCLUDED_COLOUR)
