"""User-facing labels in English and 中文: one table for columns, facility classes and reasons.

Every module that shows a column name, a facility class or a reason to a person (spreadsheets,
map popups, reports, the CLI) takes the words from here, so a term is translated once.

>>> label("kindergarten")
'幼儿园 / Kindergarten'
>>> label("dist_primary_school_m", "en")
'Walking distance to primary school (m)'
>>> label("dist_primary_school_m", "zh")
'至小学步行距离 (米)'

Column names made from a pattern (``dist_<class>_m``, ``meets_<class>_radius``,
``<criterion>_points`` ...) are composed from the class/criterion label; a key that is not in the
table (a user's own attribute) is returned unchanged, so no column ever loses its header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

Lang = Literal["en", "zh", "both"]

# Facility classes (docs/design.md class list).  (English, 中文)
CLASSES: dict[str, tuple[str, str]] = {
    "kindergarten": ("kindergarten", "幼儿园"),
    "primary_school": ("primary school", "小学"),
    "middle_school": ("middle school", "初中"),
    "high_school": ("high school", "高中"),
    "hospital": ("hospital", "医院"),
    "clinic": ("clinic", "社区卫生服务站"),
    "bus_stop": ("bus stop", "公交站"),
    "metro_station": ("metro station", "地铁站"),
    "park": ("park", "公园"),
    "elderly_care": ("elderly care", "养老服务设施"),
    # Labelled stand-ins where a data set has no stops or stations (siteplan.facilities.proxies).
    "bus_corridor": ("bus corridor (proxy: primary/secondary road)", "公交走廊 (代理: 主次干道)"),
    "metro_line": ("metro line (proxy: open track)", "地铁线路 (代理: 运营线路)"),
}

# Plain columns and terms.  (English, 中文)
TERMS: dict[str, tuple[str, str]] = {
    # parcels
    "parcel_id": ("Parcel ID", "地块ID"),
    "parcel_code": ("Parcel code", "地块编号"),
    "landuse_code": ("Land-use code", "用地性质"),
    "area_m2": ("Area (m²)", "面积 (平方米)"),
    "area_ha": ("Area (ha)", "面积 (公顷)"),
    "far": ("Floor-area ratio", "容积率"),
    "clean_land": ("Clean land", "净地"),
    "idle_recovered": ("Recovered idle land", "闲置收回"),
    "households": ("Households (declared)", "户数 (申报)"),
    "name": ("Name", "名称"),
    "geometry": ("Geometry", "几何"),
    "lon": ("Longitude (WGS84)", "经度 (WGS84)"),
    "lat": ("Latitude (WGS84)", "纬度 (WGS84)"),
    "covered_share": ("Share covered by parks, water, schools, hospitals", "公园、水体、学校、医院覆盖比例"),
    "households_declared": ("Households declared", "户数为申报值"),
    # scoring
    "score": ("Score (0-100)", "综合得分 (0-100)"),
    "rank": ("Rank", "排名"),
    "excluded": ("Excluded", "已排除"),
    "exclusion_reason": ("Exclusion reason", "排除原因 (英文)"),
    "exclusion_reason_zh": ("Exclusion reason (Chinese)", "排除原因"),
    "unreachable": ("Cannot reach the street network", "无法接入路网"),
    "nearest_street_m": ("Distance to nearest street (m)", "至最近道路距离 (米)"),
    "access_leg_m": ("Access leg to the street (m)", "至道路接入距离 (米)"),
    "compactness": ("Compactness (area / minimum rotated rectangle)", "方正度"),
    "concave_corners": ("Concave corners", "凹角数"),
    "programme_basis": ("Programme estimate based on", "测算依据"),
    # compliance
    "compliance_required": ("Must provide on site", "须配建 (英文)"),
    "compliance_required_zh": ("Must provide on site (Chinese)", "须配建"),
    "compliant_all": ("Meets all service radii", "满足全部服务半径"),
    # programme
    "est_gfa_m2": ("Estimated GFA (m²)", "估算总建筑面积 (平方米)"),
    "est_households": ("Estimated households", "估算户数"),
    "est_residents": ("Estimated residents", "估算居住人口"),
    "required_childcare_places": ("Required childcare places", "应配托位数"),
    "required_childcare_m2": ("Required childcare floor area (m²)", "托育建筑面积 (平方米)"),
    "required_elderly_land_m2": ("Required elderly-care land (m²)", "养老服务设施用地 (平方米)"),
    "required_parking_spaces": ("Required parking spaces", "应配停车位"),
    "required_parking_bay_m2": ("Total parking-bay area (m²)", "停车位面积合计 (平方米)"),
    "required_charging_spaces": ("Spaces with charging provision", "具备充电条件车位"),
    "required_property_service_m2": ("Required property-service rooms (m²)", "物业服务用房 (平方米)"),
    # study metadata
    "key": ("Key", "项目"),
    "value": ("Value", "值"),
    "siteplan_version": ("siteplan version", "siteplan 版本"),
    "created_utc": ("Created (UTC)", "生成时间 (UTC)"),
    "config_sha256": ("Config SHA-256", "配置文件 SHA-256"),
    "crs": ("CRS", "坐标参考系"),
    # sheets
    "sheet_ranking": ("Ranking", "排名"),
    "sheet_excluded": ("Excluded", "排除地块"),
    "sheet_metadata": ("Study metadata", "研究元数据"),
    "sheet_compliance": ("Seed compliance", "达标统计"),
    "sheet_coverage": ("Service coverage", "服务覆盖"),
    # seed compliance counts (siteplan.scoring.compliance.compliance_counts)
    "rule": ("Rule", "规则"),
    "n_parcels": ("Parcels", "地块数"),
    "n_meeting": ("Parcels meeting the rule", "达标地块数"),
    "share_meeting": ("Share meeting the rule", "达标比例"),
    "n_candidates": ("Parcels not excluded", "未排除地块数"),
    "n_candidates_meeting": ("Not excluded, meeting the rule", "未排除且达标地块数"),
    "share_candidates_meeting": ("Share of those not excluded meeting the rule",
                                 "未排除地块达标比例"),
    # service coverage by served units (siteplan.access.service.service_coverage)
    "n_units": ("Residential areas", "居住小区数"),
    "n_units_served": ("Residential areas served", "覆盖小区数"),
    "units_served_share": ("Share of residential areas served", "小区覆盖率"),
    "residential_m2": ("Residential area (m²)", "居住用地面积 (平方米)"),
    "served_m2": ("Residential area served (m²)", "覆盖居住用地面积 (平方米)"),
    "area_served_share": ("Share of residential area served", "居住用地覆盖率"),
    "residents": ("Residents", "居住人口"),
    "residents_served": ("Residents served", "覆盖人口"),
    "residents_served_share": ("Share of residents served", "人口覆盖率"),
    "residents_estimated": ("Residents estimated (area x FAR)", "人口为估算值 (面积×容积率)"),
    "residents_basis": ("Residents: source", "人口来源"),
    "n_buildings": ("Residential buildings", "住宅楼栋数"),
    "n_buildings_served": ("Residential buildings served", "覆盖楼栋数"),
    "buildings_served_share": ("Share of residential buildings served", "楼栋覆盖率"),
    "n_parcels_served": ("Parcels within the radius", "服务半径内地块数"),
    "parcels_served_share": ("Share of parcels within the radius", "服务半径内地块比例"),
    "n_with_capacity": ("Facilities with known places", "已知学位/床位的设施数"),
    "places": ("Places", "学位/床位数"),
    "places_per_1000": ("Places per 1,000 residents", "千人指标 (个/千人)"),
    "supply_norm_per_1000": ("Norm: places per 1,000 residents", "千人指标要求"),
    "residents_meeting_norm_share": ("Share of residents where the norm is met",
                                     "千人指标达标人口比例"),
    "covered_land_m2_frontage": ("Residential land in street-frontage catchment (m²)",
                                 "临街服务范围内居住用地 (平方米)"),
    "covered_land_share_frontage": ("Share of residential land in street-frontage catchment",
                                    "临街服务范围居住用地比例"),
    "frontage_m2": ("Residential land within the frontage of any street (m²)",
                    "任一街道临街范围内居住用地 (平方米)"),
    "covered_share_of_frontage": ("Share of the street-frontage land covered",
                                  "临街居住用地覆盖率"),
    "n_parcels_in_frontage": ("Parcels in street-frontage catchment", "临街服务范围内地块数"),
    "n_buildings_in_frontage": ("Buildings in street-frontage catchment",
                                "临街服务范围内楼栋数"),
    # served units and their blind spots (siteplan.access.served)
    "residential_id": ("Residential area ID", "小区编号"),
    "unit_id": ("Unit ID", "单元编号"),
    "entrance_kind": ("Entrances: how found", "出入口来源"),
    "n_entrances": ("Entrances", "出入口数"),
    "dist_m": ("Walking distance (m)", "步行距离 (米)"),
    "missed_by_m": ("Beyond the service radius by (m)", "超出服务半径 (米)"),
    "nearest_name": ("Nearest facility", "最近设施"),
    "layer_blind_spots_frontage": ("Residential land outside street-frontage catchments",
                                   "临街服务范围外居住用地"),
    "legend_compliance": ("Seed compliance (三(二)8): parcels", "三(二)8 达标地块"),
    "compliance_all": ("all three", "三项均达标"),
    "sheet_facilities_report": ("Facilities report", "设施识别报告"),
    # facilities report (features that did not become facilities)
    "group": ("Group", "类别组"),
    "tags": ("OSM tags", "OSM 标签"),
    "reason": ("Reason", "原因"),
    # thin facility layers (summary, metadata, map)
    "thin_layer": ("Data gap: thin facility layer", "数据缺口: 设施数据过少"),
    # documents: the report-ready workbook and the parcel report (siteplan.outputs.workbook,
    # siteplan.outputs.report)
    "area_mu": ("Area (mu)", "面积 (亩)"),
    "sheet_summary": ("Summary", "汇总"),
    "sheet_criteria": ("Criteria", "评价因子"),
    "summary_study": ("Study", "研究"),
    "summary_sources": ("Data sources", "数据来源"),
    "summary_coverage": ("Service coverage per class", "各类设施服务覆盖"),
    "summary_compliance": ("Seed compliance (三(二)8)", "三(二)8 达标统计"),
    "summary_gaps": ("Data gaps and caveats", "数据缺口与说明"),
    "summary_top": ("Top parcels", "排名靠前地块"),
    "description": ("Description", "说明"),
    "parcels_ranked": ("Parcels ranked", "参与排名地块数"),
    "parcels_excluded": ("Parcels excluded", "排除地块数"),
    "input": ("Input", "输入"),
    "file": ("File", "文件"),
    "factor": ("Factor", "评价因子"),
    "factor_zh": ("Factor (Chinese)", "评价因子 (中文)"),
    "kind": ("Kind", "类型"),
    "weight_given": ("Weight (as given)", "权重 (原值)"),
    "weight_share": ("Weight (share of score)", "权重 (占比)"),
    "transform_en": ("How the value is rated", "评分方法 (英文)"),
    "transform_zh": ("How the value is rated (Chinese)", "评分方法"),
    "report_title": ("Parcel evaluation report", "地块评价报告"),
    "report_breakdown": ("Score by criterion", "分项得分"),
    "report_distances": ("Walking distances and nearest facilities", "步行距离与最近设施"),
    "report_compliance": ("Seed compliance (三(二)8)", "三(二)8 达标情况"),
    "report_programme": ("Programme requirements", "配套指标测算"),
    "report_caveats": ("Data caveats", "数据说明"),
    "report_map": ("Parcel and nearest facilities", "地块及最近设施"),
    "report_parcel": ("This parcel", "本地块"),
    "raw_value": ("Value", "原始值"),
    "rating": ("Rating (0-100)", "评分 (0-100)"),
    "points": ("Points", "得分"),
    "meets": ("Meets the radius", "满足服务半径"),
    "minutes": ("Walking time (min)", "步行时间 (分钟)"),
    "item": ("Requirement", "指标"),
    # common reasons (exclusion and compliance)
    "reason_unreachable": ("not reachable on the street network", "路网不可达"),
    "reason_too_small": ("smaller than the minimum area", "面积小于下限"),
    "reason_not_clean_land": ("not clean land", "非净地"),
    "reason_outside_study_area": ("outside the study area", "位于研究范围外"),
    "reason_radius_failed": ("outside the service radius", "超出服务半径"),
    "same_time_delivery": (
        "must be designed, built, accepted and delivered together with the housing",
        "同时设计、同时施工、同时验收、同时交付",
    ),
    # maps: layers, basemaps, legends, popups (the popup shows both languages, so its
    # reason and must-provide labels do not say which language follows)
    "title": ("Good-housing site suitability", "好房子选址适宜性评价"),
    "layer_parcels": ("Candidate parcels (by score)", "候选地块 (按得分着色)"),
    "layer_excluded": ("Excluded parcels", "已排除地块"),
    "layer_ranks": ("Top {n} ranks", "前 {n} 名"),
    "layer_catchments": ("Catchment", "服务范围"),
    "layer_facilities": ("Facilities", "设施"),
    "layer_blind_spots": ("Service blind spots", "服务盲区"),
    "layer_proposed_sites": ("Proposed sites", "拟建选址"),
    "layer_proposed_catchments": ("Proposed catchments", "拟建服务范围"),
    "layer_boundary": ("Study boundary", "研究范围"),
    "layer_compliance": ("Meets the radius", "服务半径达标"),
    "rank_list": ("Top {n} parcels", "前 {n} 名地块"),
    "legend": ("Legend", "图例"),
    "group_basemaps": ("Basemap", "底图"),
    "group_parcels": ("Parcels", "地块"),
    "group_compliance": ("Seed compliance (三(二)8)", "三(二)8 达标"),
    "group_other": ("Other", "其他"),
    "data_gaps": ("Data gaps", "数据缺口"),
    "proxy_note": ("a proxy, drawn as lines: not the facilities themselves",
                   "代理图层, 以线表示: 并非设施本身"),
    "basemap_custom": ("Custom tiles", "自定义底图"),
    "basemap_none": ("No basemap", "无底图"),
    "basemap_osm": ("OpenStreetMap", "OpenStreetMap"),
    "basemap_light": ("Light (OSM greyscale)", "浅色底图 (OSM 灰度)"),
    "basemap_tianditu_vec": ("Tianditu vector", "天地图 矢量"),
    "basemap_tianditu_img": ("Tianditu imagery", "天地图 影像"),
    "legend_score": ("Suitability score", "适宜性得分"),
    "legend_classes": ("Facilities · catchments", "设施 · 服务范围"),
    "section_criteria": ("Criteria (raw value → points)", "评价因子 (原始值 → 得分)"),
    "section_compliance": ("Service radii (seed clause 三(二)8)", "服务半径达标 (三(二)8)"),
    "section_programme": ("Programme requirements", "配建要求"),
    "section_distance": ("Walking distances", "步行距离"),
    "section_robustness": ("Rank robustness (weights varied)", "排名稳健性 (权重扰动)"),
    "rank_interval": ("Rank interval (5-95 % of the draws)", "排名区间 (5-95 %)"),
    "rank_low": ("Rank interval, low end (weights varied)", "排名区间下限 (权重扰动)"),
    "rank_high": ("Rank interval, high end (weights varied)", "排名区间上限 (权重扰动)"),
    "section_life_circle": ("Life circles: facility types within reach (GB 50180-2018)",
                            "生活圈设施"),
    "weight": ("weight", "权重"),
    "score_short": ("Score", "得分"),
    "popup_exclusion_reason": ("Exclusion reason", "排除原因"),
    "popup_compliance_required": ("Must provide on site", "须配建"),
    "search": ("Find parcel by ID", "按地块ID查找"),
    "not_found": ("Not found", "未找到"),
    "fullscreen": ("Full screen", "全屏"),
    "measure": ("Measure distance / area", "测距/测面积"),
    "measure_hint": ("Click the map to add points", "单击地图加点"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "facility_id": ("Facility ID", "设施编号"),
    "class": ("Class", "类别"),
    "source": ("Source", "来源"),
    "radius_m": ("Service radius (m)", "服务半径 (米)"),
    "facility": ("Facility", "设施"),
    "n_facilities": ("Facilities", "设施数"),
    "merged": ("merged", "合并显示"),
    "north": ("N", "北"),
    "credit": ("Data", "数据"),
    # batch summary columns
    "overall_rank": ("Overall rank", "总排名"),
    "study": ("Study", "研究"),
    "study_name": ("Study name", "研究名称"),
    "study_file": ("Study file", "研究文件"),
    "status": ("Status", "状态"),
    "error": ("Why it failed", "失败原因"),
    "n_top": ("Parcels in summary", "汇总地块数"),
    "map": ("Map", "地图"),
    "shortlist": ("Shortlist", "清单"),
}

# Life-circle facility types (siteplan.facilities.lifecircle) and checklists.  (English, 中文)
LIFE_CIRCLE_TYPES: dict[str, tuple[str, str]] = {
    "kindergarten": ("kindergarten", "幼儿园"),
    "community_service": ("community service station", "社区服务站"),
    "culture_station": ("culture station", "文化活动站"),
    "fitness_ground": ("outdoor fitness ground", "室外综合健身场地"),
    "elderly_day_care": ("elderly day care", "老年人日间照料中心"),
    "health_station": ("community health station", "社区卫生服务站"),
    "shops": ("convenience shops", "社区商业网点"),
    "pharmacy": ("pharmacy", "药店"),
    "public_toilet": ("public toilet", "公共厕所"),
    "bus_stop": ("bus stop", "公交车站"),
    "primary_school": ("primary school", "小学"),
    "market": ("food market or fresh supermarket", "菜市场或生鲜超市"),
    "sports_ground": ("multi-use sports ground", "中型多功能运动场地"),
    "shopping": ("shopping centre", "商场"),
    "bank": ("bank", "银行营业网点"),
    "middle_school": ("middle school", "初中"),
    "health_centre": ("community health centre", "社区卫生服务中心"),
    "elderly_home": ("elderly home", "养老院"),
    "culture_centre": ("culture centre", "文化活动中心"),
    "sports_centre": ("sports hall or fitness centre", "体育馆或全民健身中心"),
    "district_service": ("sub-district service centre", "街道服务中心"),
    "post": ("post office", "邮政营业场所"),
    "park": ("park", "公园"),
}
LIFE_CIRCLE_LISTS: dict[str, tuple[str, str]] = {
    "5min": ("5-minute life circle", "5分钟生活圈"),
    "10min": ("10-minute life circle", "10分钟生活圈"),
    "15min": ("15-minute life circle", "15分钟生活圈"),
    "community": ("complete community", "完整居住社区"),
}

# Patterns for generated columns: regex -> (English template, 中文 template); {c} is the class
# or criterion label, {r} a radius in metres.
_PATTERNS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^dist_(?P<c>.+)_m$"), "Walking distance to {c} (m)", "至{c}步行距离 (米)"),
    (re.compile(r"^time_(?P<c>.+)_min$"), "Walking time to {c} (min)", "至{c}步行时间 (分钟)"),
    (re.compile(r"^nearest_(?P<c>.+)_id$"), "Nearest {c} ID", "最近{c}编号"),
    (re.compile(r"^nearest_(?P<c>.+)_name$"), "Nearest {c}", "最近{c}名称"),
    (re.compile(r"^served_(?P<c>.+)$"), "Served by {c}", "{c}服务覆盖"),
    (re.compile(r"^places_per_1000_(?P<c>.+)$"), "{c}: places per 1,000 residents",
     "{c}千人指标"),
    (re.compile(r"^blind_spots_(?P<c>.+)$"), "Blind spots: {c}", "服务盲区：{c}"),
    (re.compile(r"^n_(?P<c>.+)_(?P<r>\d+)m$"), "{c}: number within {r} m",
     "{r}米内{c}数量"),
    (re.compile(r"^meets_(?P<c>.+)_radius$"), "Within {c} service radius", "满足{c}服务半径"),
    (re.compile(r"^lc_(?P<c>[a-z0-9]+)_share$"), "{c}: share of types present",
     "{c}：设施齐全率"),
    (re.compile(r"^lc_(?P<c>[a-z0-9]+)_present$"), "{c}: present", "{c}：已有设施"),
    (re.compile(r"^lc_(?P<c>[a-z0-9]+)_present_zh$"), "{c}: present (中文)", "{c}：已有设施 (中文)"),
    (re.compile(r"^lc_(?P<c>[a-z0-9]+)_missing$"), "{c}: missing", "{c}：缺少设施"),
    (re.compile(r"^lc_(?P<c>[a-z0-9]+)_missing_zh$"), "{c}: missing (中文)", "{c}：缺少设施 (中文)"),
    (re.compile(r"^p_top_(?P<c>\d+)$"), "Probability of the top {c} (weights varied)",
     "进入前{c}名的概率 (权重扰动)"),
    (re.compile(r"^(?P<c>.+)_raw$"), "{c} (raw value)", "{c} (原始值)"),
    (re.compile(r"^(?P<c>.+)_rating$"), "{c} (rating 0-100)", "{c} (评分 0-100)"),
    (re.compile(r"^(?P<c>.+)_points$"), "{c} (weighted points)", "{c} (加权得分)"),
    (re.compile(r"^catchments_(?P<c>.+)$"), "Catchments: {c}", "服务范围：{c}"),
    (re.compile(r"^proposed_(?P<c>.+)$"), "Proposed {c}", "拟新增{c}"),
]


Pairs = Mapping[str, tuple[str, str]]


def _pair(key: str, extra: Pairs | None = None) -> tuple[str, str] | None:
    if extra and key in extra:
        return extra[key]
    if key in TERMS:
        return TERMS[key]
    if key in CLASSES:
        en, zh = CLASSES[key]
        return en[:1].upper() + en[1:], zh
    for pattern, en_t, zh_t in _PATTERNS:
        m = pattern.match(key)
        if m is None:
            continue
        sub = m.group("c")
        en_c, zh_c = ((extra or {}).get(sub) or CLASSES.get(sub) or TERMS.get(sub)
                      or LIFE_CIRCLE_LISTS.get(sub) or (sub.replace("_", " "), sub))
        r = m.groupdict().get("r", "")
        en = en_t.format(c=en_c, r=r)
        return en[:1].upper() + en[1:], zh_t.format(c=zh_c, r=r)
    return None


def label(key: str, lang: Lang = "both", extra: Pairs | None = None) -> str:
    """Return the user-facing label of a column, class or term.

    Parameters
    ----------
    key
        A column name (``score``, ``dist_kindergarten_m``), a facility class (``kindergarten``)
        or a term key (``reason_unreachable``).
    lang
        ``"en"``, ``"zh"`` or ``"both"`` (``"中文 / English"``).
    extra
        More ``{key: (English, 中文)}`` pairs that take precedence, e.g. a study's criterion
        labels (:func:`siteplan.scoring.score.criterion_labels`); they also fill the patterns, so
        ``<criterion>_points`` gets the criterion's label.

    Returns
    -------
    str
        The label; ``key`` itself when the table does not know it (a user's own attribute).

    Raises
    ------
    ValueError
        ``lang`` is not ``"en"``, ``"zh"`` or ``"both"``.

    Examples
    --------
    >>> label("kindergarten")
    '幼儿园 / Kindergarten'
    >>> label("n_primary_school_500m", "en")
    'Primary school: number within 500 m'
    >>> label("walkability_points", "zh", extra={"walkability": ("walkability", "步行性")})
    '步行性 (加权得分)'
    >>> label("my_own_column")
    'my_own_column'
    """
    if lang not in ("en", "zh", "both"):
        raise ValueError(f"lang must be 'en', 'zh' or 'both', got {lang!r}")
    pair = _pair(key, extra)
    if pair is None:
        return key
    en, zh = pair
    if lang == "en":
        return en
    if lang == "zh":
        return zh
    return en if zh == en else f"{zh} / {en}"


#: The credit every map and report carries (ODbL: the data's source must be attributed).
OSM_CREDIT = "© OpenStreetMap contributors"
OSM_CREDIT_HTML = ('&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
                   "contributors")


def has_label(key: str, extra: Pairs | None = None) -> bool:
    """Tell whether :func:`label` knows ``key`` (directly or through a column pattern)."""
    return _pair(key, extra) is not None


__all__ = ["CLASSES", "LIFE_CIRCLE_LISTS", "LIFE_CIRCLE_TYPES", "OSM_CREDIT", "OSM_CREDIT_HTML",
           "TERMS", "Lang", "Pairs", "has_label", "label"]
