"""The life-circle preset: GB 50180-2018's facility types of the 5/10/15-minute circles.

Each :class:`LifeCircleType` is one facility type a circle should hold (a kindergarten, a
菜市场, a 日间照料 centre...), with the circle it belongs to, the clause it comes from and how it
is recognised: the siteplan classes that already stand for it (``kindergarten``, ``clinic``...)
and/or lines of the facility rules table (:class:`siteplan.facilities.rules.Rule`: OSM tags and
Chinese name patterns, decided as in :mod:`siteplan.facilities.rules`, one group per type so a
feature may count for several types: a supermarket is both a 社区商业网点 and a 生鲜超市).
:func:`life_circle_facilities` turns the classified facilities and the raw OSM features into one
table whose ``class`` is the type; :mod:`siteplan.access.lifecircle` measures, per parcel and per
residential unit, which types each circle holds.

Sources, as siteplan reads them (the clause numbers are those of the 2018 edition; check the
printed text before quoting them in a decision):

- GB 50180-2018 附录 B, 表 B.0.1 (十五分钟、十分钟生活圈居住区配套设施设置规定) and 表 B.0.2
  (五分钟生活圈居住区配套设施设置规定): which facility goes with which circle; ▲ required,
  △ optional in the standard (both are on the checklist here);
- GB 50180-2018 表 4.0.4 (公共绿地控制指标): a park for the 15-minute circle;
- 《完整居住社区建设标准（试行）》 (建科规〔2020〕7号): the 完整居住社区 checklist, measured
  within :data:`siteplan.core.defaults.COMPLETE_COMMUNITY_RADIUS_M` (an assumption).

Where a type is one line of the standard grouping several things (社区商业网点: 超市、药店、
洗衣店、美发店...), siteplan splits off what OSM tags apart (``pharmacy``) and keeps the rest as
one type (``shops``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from siteplan.core.defaults import (
    COMPLETE_COMMUNITY_SOURCE,
    GB50180_CIRCLES_M,
    GB50180_FACILITY_SOURCES,
)
from siteplan.facilities.classify import rule_hits
from siteplan.facilities.rules import RANK_NAME, RANK_TAG, Rule

_B1, _B2, _GREEN = (GB50180_FACILITY_SOURCES[k] for k in ("B.0.1", "B.0.2", "4.0.4"))
#: Features whose names the type rules read: points of interest, not streets or stops.
POI_SCOPE: dict[str, str] = {k: ".+" for k in (
    "amenity", "shop", "office", "leisure", "healthcare", "social_facility", "club", "building")}


@dataclass(frozen=True)
class LifeCircleType:
    """One facility type of a life circle.

    Attributes
    ----------
    name
        The type's key (labels in :data:`siteplan.core.labels.LIFE_CIRCLE_TYPES`).
    circle
        ``"5min"``, ``"10min"`` or ``"15min"`` (radii in
        :data:`siteplan.core.defaults.GB50180_CIRCLES_M`).
    source
        The clause that puts the type in its circle.
    classes
        siteplan facility classes that count as this type.
    rules
        Rules table lines recognising the type from OSM tags and names (their ``classes`` is
        ``(name,)``).
    community
        On the 完整居住社区 checklist too.
    """

    name: str
    circle: str
    source: str
    classes: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = field(default_factory=tuple)
    community: bool = False


def _tag(name: str, tags: dict[str, str], note: str, any_tags: dict[str, str] | None = None
         ) -> Rule:
    return Rule((name,), name, RANK_TAG, tags, any_tags or {}, note=note)


def _name(name: str, pattern: str, note: str, name_not: str | None = None) -> Rule:
    return Rule((name,), name, RANK_NAME, any_tags=POI_SCOPE, name=pattern, name_not=name_not,
                note=note)


def _t(name: str, circle: str, source: str, *, classes: tuple[str, ...] = (),
       rules: tuple[Rule, ...] = (), community: bool = False) -> LifeCircleType:
    return LifeCircleType(name, circle, source, classes, rules, community)


#: The preset: GB 50180-2018's circles and the 完整居住社区 checklist (module docstring).
LIFE_CIRCLE_PRESET: tuple[LifeCircleType, ...] = (
    # -- 5-minute circle (300 m): 表 B.0.2 ------------------------------------------------------
    _t("kindergarten", "5min", _B2, classes=("kindergarten",), community=True),
    _t("community_service", "5min", _B2, community=True, rules=(
        _tag("community_service", {"amenity": "community_centre"}, "amenity=community_centre"),
        _name("community_service", "社区服务|居委会|居民委员会|社区工作站|党群服务|社区综合服务",
              "name: 社区服务站/居委会/党群服务", name_not="街道"),
    )),
    _t("culture_station", "5min", _B2, rules=(
        _name("culture_station", "文化活动站|文化站|文体活动室|老年活动室|活动室",
              "name: 文化活动站/活动室"),
    )),
    _t("fitness_ground", "5min", _B2, community=True, rules=(
        _tag("fitness_ground", {"leisure": "fitness_station|pitch"},
             "leisure=fitness_station/pitch"),
        _name("fitness_ground", "健身广场|健身场|健身苑|健身点", "name: 健身场地"),
    )),
    _t("elderly_day_care", "5min", _B2, community=True, rules=(
        _tag("elderly_day_care", {"social_facility": "day_care|outreach"},
             "social_facility=day_care + for=senior", {"social_facility:for": "senior|elderly"}),
        _name("elderly_day_care", "日间照料|托老所|老年服务站|养老服务站|居家养老|养老驿站",
              "name: 日间照料/托老所/养老服务站"),
    )),
    _t("health_station", "5min", _B2, classes=("clinic",), community=True),
    _t("shops", "5min", _B2, community=True, rules=(
        _tag("shops", {"shop": "convenience|supermarket|general|greengrocer|laundry|"
                               "dry_cleaning|hairdresser|beauty"},
             "shop=convenience/supermarket/laundry/hairdresser"),
        _name("shops", "便利店|便民店|超市|洗衣|理发|美发", "name: 便利店/超市/洗衣店/理发店"),
    )),
    _t("pharmacy", "5min", _B2, community=True, rules=(
        _tag("pharmacy", {"amenity": "pharmacy"}, "amenity=pharmacy"),
        _tag("pharmacy", {"shop": "chemist"}, "shop=chemist"),
        _name("pharmacy", "药店|药房|大药房", "name: 药店/药房"),
    )),
    _t("public_toilet", "5min", _B2, community=True, rules=(
        _tag("public_toilet", {"amenity": "toilets"}, "amenity=toilets"),
        _name("public_toilet", "公厕|公共厕所", "name: 公厕"),
    )),
    _t("bus_stop", "5min", _B2, classes=("bus_stop",)),
    # -- 10-minute circle (500 m): 表 B.0.1 -----------------------------------------------------
    _t("primary_school", "10min", _B1, classes=("primary_school",)),
    _t("market", "10min", _B1, rules=(
        _tag("market", {"amenity": "marketplace"}, "amenity=marketplace"),
        _tag("market", {"shop": "supermarket|greengrocer"}, "shop=supermarket/greengrocer"),
        _name("market", "菜市场|农贸市场|菜场|生鲜|超市", "name: 菜市场/农贸市场/生鲜超市"),
    )),
    _t("sports_ground", "10min", _B1, rules=(
        _tag("sports_ground", {"leisure": "pitch|sports_centre|stadium|track"},
             "leisure=pitch/sports_centre/stadium/track"),
        _name("sports_ground", "运动场|球场|体育场|体育馆|健身中心", "name: 运动场/球场"),
    )),
    _t("shopping", "10min", _B1, rules=(
        _tag("shopping", {"shop": "mall|department_store"}, "shop=mall/department_store"),
        _name("shopping", "商场|购物中心|商厦|百货", "name: 商场/购物中心/百货"),
    )),
    _t("bank", "10min", _B1, rules=(
        _tag("bank", {"amenity": "bank"}, "amenity=bank"),
        _name("bank", "银行|信用社", "name: 银行/信用社", name_not="ATM|自助"),
    )),
    # -- 15-minute circle (1000 m): 表 B.0.1, 表 4.0.4 ------------------------------------------
    _t("middle_school", "15min", _B1, classes=("middle_school",)),
    _t("health_centre", "15min", _B1, classes=("hospital",), rules=(
        _name("health_centre", "卫生服务中心|社区医院|卫生院", "name: 社区卫生服务中心/社区医院"),
    )),
    _t("elderly_home", "15min", _B1, rules=(
        _tag("elderly_home", {"amenity": "nursing_home"}, "amenity=nursing_home"),
        _tag("elderly_home", {"social_facility": "nursing_home|assisted_living"},
             "social_facility=nursing_home/assisted_living"),
        _name("elderly_home", "养老院|敬老院|老年公寓|养护院|福利院|护理院|颐养",
              "name: 养老院/敬老院/老年公寓"),
    )),
    _t("culture_centre", "15min", _B1, rules=(
        _tag("culture_centre", {"amenity": "arts_centre|library"}, "amenity=arts_centre/library"),
        _name("culture_centre", "文化活动中心|文化中心|文化馆|文化宫|青少年活动中心|"
              "老年活动中心|少年宫|图书馆", "name: 文化活动中心/文化馆/图书馆"),
    )),
    _t("sports_centre", "15min", _B1, rules=(
        _tag("sports_centre", {"leisure": "sports_centre|stadium"},
             "leisure=sports_centre/stadium"),
        _name("sports_centre", "体育馆|体育场|体育中心|全民健身中心", "name: 体育馆/全民健身中心"),
    )),
    _t("district_service", "15min", _B1, rules=(
        _name("district_service", "街道办事处|街道办|街道社区服务中心|街道便民服务中心",
              "name: 街道办事处/街道社区服务中心"),
    )),
    _t("post", "15min", _B1, rules=(
        _tag("post", {"amenity": "post_office"}, "amenity=post_office"),
        _name("post", "邮政|邮局", "name: 邮政/邮局", name_not="储蓄|银行"),
    )),
    _t("park", "15min", _GREEN, classes=("park",), community=True),
)

#: The checklists: one per circle, plus the 完整居住社区 one (``community``).
CHECKLISTS: tuple[str, ...] = (*GB50180_CIRCLES_M, "community")


def checklist(name: str, types: Sequence[LifeCircleType] = LIFE_CIRCLE_PRESET
              ) -> list[LifeCircleType]:
    """Return the types of one checklist (a circle, or ``"community"``), in preset order.

    Examples
    --------
    >>> [t.name for t in checklist("10min")]
    ['primary_school', 'market', 'sports_ground', 'shopping', 'bank']
    """
    if name == "community":
        return [t for t in types if t.community]
    return [t for t in types if t.circle == name]


def type_source(t: LifeCircleType) -> str:
    """Name a type's sources: its circle's clause, and the 完整居住社区 standard if listed."""
    return f"{t.source}; {COMPLETE_COMMUNITY_SOURCE}" if t.community else t.source


def life_circle_facilities(
    facilities: gpd.GeoDataFrame,
    features: pd.DataFrame | None = None,
    types: Sequence[LifeCircleType] = LIFE_CIRCLE_PRESET,
) -> gpd.GeoDataFrame:
    """Collect the facilities of every life-circle type, one row per (facility, type).

    Parameters
    ----------
    facilities
        Classified facilities (``facility_id``, ``class``, ``name``, geometry): each type's
        ``classes`` are taken from here.
    features
        The raw OSM-tagged features (tag columns and/or ``other_tags``, ``name``, geometry in
        ``facilities``' CRS), read through each type's ``rules``; None: classes only.
    types
        The types; :data:`LIFE_CIRCLE_PRESET` by default.

    Returns
    -------
    geopandas.GeoDataFrame
        ``facility_id``, ``class`` (the type), ``name``, ``matched_by`` and geometry.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> fac = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"],
    ...                         "name": ["阳光幼儿园"]}, geometry=[Point(0, 0)], crs=32649)
    >>> feats = gpd.GeoDataFrame({"osm_id": ["n1", "n2"], "name": ["老百姓大药房", "和平菜市场"],
    ...                           "amenity": ["pharmacy", "marketplace"]},
    ...                          geometry=[Point(50, 0), Point(90, 0)], crs=32649)
    >>> life_circle_facilities(fac, feats)[["facility_id", "class"]].values.tolist()
    [['k1', 'kindergarten'], ['n1', 'pharmacy'], ['n2', 'market']]
    """
    frames: list[pd.DataFrame] = []
    cls = facilities["class"].astype(str).to_numpy()
    for t in types:
        rows = facilities[np.isin(cls, t.classes)]
        if len(rows):
            frames.append(pd.DataFrame({
                "facility_id": rows["facility_id"].astype("string").to_numpy(),
                "class": t.name, "name": _names(rows),
                "matched_by": [f"class {c}" for c in rows["class"].astype(str)],
                "geometry": rows.geometry.to_numpy()}))
    rules = [r for t in types for r in t.rules]
    if features is not None and len(features) and rules:
        features = features.reset_index(drop=True)
        rule_idx, feat_idx, names, ids = rule_hits(features, rules)
        frames.append(pd.DataFrame({
            "facility_id": ids[feat_idx], "class": [rules[r].classes[0] for r in rule_idx],
            "name": names.to_numpy()[feat_idx], "matched_by": [rules[r].note for r in rule_idx],
            "geometry": features.geometry.to_numpy()[feat_idx]}))
    if not frames:
        return gpd.GeoDataFrame({c: pd.Series([], dtype="string") for c in
                                 ("facility_id", "class", "name", "matched_by")},
                                geometry=[], crs=facilities.crs)
    out = pd.concat(frames, ignore_index=True)
    # One row per facility and type (two rules of a type, or a class and a rule).
    out = out.drop_duplicates(["facility_id", "class"], ignore_index=True)
    out = out.astype({"facility_id": "string", "class": "string", "name": "string",
                      "matched_by": "string"})
    return gpd.GeoDataFrame(out, geometry="geometry", crs=facilities.crs)


def _names(frame: pd.DataFrame) -> np.ndarray:
    if "name" in frame.columns:
        return np.asarray(frame["name"].astype("string").to_numpy(), dtype=object)
    return np.full(len(frame), None, dtype=object)


__all__ = [
    "CHECKLISTS", "LIFE_CIRCLE_PRESET", "POI_SCOPE", "LifeCircleType", "checklist",
    "life_circle_facilities", "type_source",
]
