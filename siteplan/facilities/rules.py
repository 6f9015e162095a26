"""The facility classification rules table: which OSM tags and names make a feature a facility.

:data:`DEFAULT_RULES` recognises kindergartens, schools, hospitals and clinics, bus stops, metro
stations, parks and elderly care from OSM tags and Chinese names; users extend it with their own
:class:`Rule` lines.  :func:`siteplan.facilities.classify.classify_facilities` applies it.

How the rules decide
--------------------
Each :class:`Rule` belongs to a *group* (``school``, ``health``, ``bus``, ``metro``, ``park``,
``elderly``); groups are independent, so one feature can be, say, both a bus stop and a park.
Within a group:

1. only the matching rules of the lowest ``rank`` count: explicit level tags
   (``isced:level``, ``school:level``: :data:`RANK_LEVEL`) beat Chinese name keywords
   (:data:`RANK_NAME`), which beat generic tags such as ``amenity=hospital``
   (:data:`RANK_TAG`) -- many 社区卫生服务中心 are tagged ``amenity=hospital`` in OSM, and
   most Chinese schools carry only ``amenity=school``;
2. among name rules, the keyword that ends last in the name wins, because Chinese names put
   the kind of place last (山西大学附属中学 is a 中学, 清华大学洁华幼儿园 a 幼儿园); when two end at
   the same place the longer wins (完全中学 over 中学);
3. a feature gets every class of the rules left, one output row per class (九年一贯制 gives a
   ``primary_school`` and a ``middle_school`` row).  A rule with no classes marks a feature as
   recognised but not a facility (a vocational school, a disease-control centre).

Name rules only look at features in their scope (``any_tags``: schools at ``amenity=school``
and the like), so a bus stop called 八一小学 stays a bus stop.  English names are not used:
Chinese schools translate 中学 as "high school" or "middle school" indiscriminately.

A bare 中学 says nothing about the grades: it may be a 初中, a 高中 or a 完全中学.  Following the
issue, it is taken as ``middle_school`` (the compulsory-education level the siting radii are
about); ``isced:level`` tags or a municipal school layer with declared classes override it.
A school named ...学校 with no level (书池学校, 外国语学校, a university's 附属学校) is, by Chinese
naming practice, a 一贯制 school teaching primary and middle grades, and is taken as both;
vocational, special, training and driving schools are kept out by name.

Every rule's ``note`` is its reason: it is written to ``matched_by`` for the facilities a rule
made, and to the ``facilities_report`` for the features it kept out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from siteplan.core.errors import ConfigError

#: The facility classes (docs/design.md); their labels are in :data:`siteplan.core.labels.CLASSES`.
CLASSES: tuple[str, ...] = (
    "kindergarten", "primary_school", "middle_school", "high_school", "hospital", "clinic",
    "bus_stop", "metro_station", "park", "elderly_care",
)
#: The labelled proxy classes (docs/design.md) of :mod:`siteplan.facilities.proxies`: stand-ins
#: for stops a data set lacks, never shown as real stops.
PROXY_CLASSES: tuple[str, ...] = ("bus_corridor", "metro_line")

#: Rule ranks (lower wins within a group; see the module docstring).
RANK_LEVEL, RANK_NAME, RANK_TAG = 0, 1, 2


@dataclass(frozen=True)
class Rule:
    """One line of the classification table.

    A rule matches a feature when every ``tags`` key has a matching value, at least one
    ``any_tags`` key does (if any are given), ``name`` is found in the name and ``name_not``
    is not.  Tag values are regular expressions matched against the whole value or any of its
    ``;``-separated parts (OSM's multi-value convention); names are searched.

    Attributes
    ----------
    classes
        Classes the feature serves; ``()`` = recognised, but not one of the classes.
    group
        Rules compete only with rules of the same group.
    rank
        Strength of the evidence; only the lowest-ranked matches of a group count.
    tags, any_tags
        ``{key: regex}`` conditions, all of / any of.
    name, name_not
        Regular expressions searched in the feature's name.
    note
        Why the rule exists; shown in ``matched_by`` and in the unclassified-school reasons.
    """

    classes: tuple[str, ...]
    group: str
    rank: int
    tags: Mapping[str, str] = field(default_factory=dict)
    any_tags: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None
    name_not: str | None = None
    note: str = ""


#: Features whose names the school rules read, and those reported when left unclassified.
SCHOOL_SCOPE: dict[str, str] = {"amenity": "school|kindergarten|childcare|college"}
SCHOOL_REPORT_SCOPE: dict[str, str] = {"amenity": "school|college"}
HEALTH_SCOPE: dict[str, str] = {"amenity": "hospital|clinic|doctors", "healthcare": ".+",
                                "building": "hospital"}
ELDERLY_SCOPE: dict[str, str] = {"amenity": "social_facility|nursing_home"}
_NUM = "一二三四五六七八九十百〇零0-9"
# An abbreviation such as 十二中 / 清华附小 ends the name or comes before a bracket/space.
_ABBR_END = r"(?=$|[（(\s])"
#: Schools that are not catchment schools: vocational, special, training and driving schools.
#: Trades in the names of secondary vocational schools (中等职业学校: 经贸学校, 卫生学校...).
_TRADES = "艺术|体育运动|技术|卫生|财经|经贸|商贸|工业|交通|机电|建筑|电子|信息|旅游|护士|师范|警察"
_NOT_CATCHMENT = ("职业|职教|中专|中等专业|技工|技师|卫校|培训|辅导|特殊教育|特教|培智|启智|盲校|聋|"
                  f"驾驶|驾校|党校|艺校|体校|(?:{_TRADES})学校")
# grades=a-b (OSM, US-style grade numbers; K = kindergarten year): the classes whose grades the
# range overlaps (primary 1-6, middle 7-9, high 10-12).
_GRADES_PRIMARY = r"(?:[Kk]|0|[1-6])\s*-\s*(?:[1-9]|1[0-2])|[1-6]"
_GRADES_MIDDLE = r"(?:[Kk]|[0-9])\s*-\s*(?:[7-9]|1[0-2])|[7-9]"
_GRADES_HIGH = r"(?:[Kk]|[0-9]|1[0-2])\s*-\s*1[0-2]|1[0-2]"

#: The default rules.  Extend with ``DEFAULT_RULES + (Rule(...), ...)``.
DEFAULT_RULES: tuple[Rule, ...] = (
    # -- schools: explicit level tags (isced:level 0-3, also as ranges such as 1-3) ------------
    Rule(("kindergarten",), "school", RANK_LEVEL, {"isced:level": r"0|0-\d"}, SCHOOL_SCOPE,
         note="isced:level=0"),
    Rule(("primary_school",), "school", RANK_LEVEL, {"isced:level": r"1|[01]-[1-9]"},
         SCHOOL_SCOPE, note="isced:level=1"),
    Rule(("middle_school",), "school", RANK_LEVEL, {"isced:level": r"2|[0-2]-[2-9]"},
         SCHOOL_SCOPE, note="isced:level=2"),
    Rule(("high_school",), "school", RANK_LEVEL, {"isced:level": r"3|[0-3]-[3-9]"},
         SCHOOL_SCOPE, note="isced:level=3"),
    Rule(("kindergarten",), "school", RANK_LEVEL,
         {"school:level": "kindergarten|preschool|pre_school"}, SCHOOL_SCOPE,
         note="school:level=kindergarten"),
    Rule(("primary_school",), "school", RANK_LEVEL, {"school:level": "primary|elementary"},
         SCHOOL_SCOPE, note="school:level=primary"),
    Rule(("middle_school",), "school", RANK_LEVEL,
         {"school:level": "middle|junior_high|lower_secondary|secondary"}, SCHOOL_SCOPE,
         note="school:level=middle/secondary"),
    Rule(("high_school",), "school", RANK_LEVEL,
         {"school:level": "high|senior_high|upper_secondary|secondary"}, SCHOOL_SCOPE,
         note="school:level=high/secondary"),
    # ``school=*`` is the same key in some regions' tagging.
    Rule(("primary_school",), "school", RANK_LEVEL, {"school": "primary|elementary"},
         SCHOOL_SCOPE, note="school=primary"),
    Rule(("middle_school",), "school", RANK_LEVEL,
         {"school": "middle|junior_high|lower_secondary|secondary"}, SCHOOL_SCOPE,
         note="school=middle/secondary"),
    Rule(("high_school",), "school", RANK_LEVEL,
         {"school": "high|senior_high|upper_secondary|secondary"}, SCHOOL_SCOPE,
         note="school=high/secondary"),
    Rule(("primary_school",), "school", RANK_LEVEL, {"grades": _GRADES_PRIMARY}, SCHOOL_SCOPE,
         note="grades within 1-6"),
    Rule(("middle_school",), "school", RANK_LEVEL, {"grades": _GRADES_MIDDLE}, SCHOOL_SCOPE,
         note="grades within 7-9"),
    Rule(("high_school",), "school", RANK_LEVEL, {"grades": _GRADES_HIGH}, SCHOOL_SCOPE,
         note="grades within 10-12"),
    # -- schools: Chinese names ------------------------------------------------------------------
    Rule(("kindergarten",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="幼儿园|托儿所|幼稚园", note="name: 幼儿园/托儿所"),
    Rule(("primary_school",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE, name="小学",
         note="name: 小学"),
    Rule(("primary_school",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name=f"(?:附实|附|实|[{_NUM}])小{_ABBR_END}",
         note="name: 附小/附实小/实小/N小 (abbreviated 小学, 附属实验小学)"),
    Rule(("middle_school",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="初中|初级中学", note="name: 初中"),
    Rule(("middle_school",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE, name="中学",
         name_not="高级|高中|职业", note="name: 中学 (not 高级/高中/职业)"),
    Rule(("middle_school",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name=f"(?:附|铁|矿|钢|[{_NUM}])中{_ABBR_END}",
         note="name: 附中/铁中/矿中/N中 (abbreviated 中学: 铁中 = 铁路中学)"),
    Rule(("high_school",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="高中|高级中学", note="name: 高中/高级中学"),
    Rule(("primary_school", "middle_school"), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="九年一贯制", note="name: 九年一贯制 (grades 1-9)"),
    Rule(("primary_school", "middle_school", "high_school"), "school", RANK_NAME,
         any_tags=SCHOOL_SCOPE, name="十二年一贯制", note="name: 十二年一贯制 (grades 1-12)"),
    Rule(("middle_school", "high_school"), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="完全中学", note="name: 完全中学 (grades 7-12)"),
    # Most 实验学校 are nine-year schools; a twelve-year one needs isced:level or a layer.
    Rule(("primary_school", "middle_school"), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="实验学校", note="name: 实验学校 (taken as grades 1-9)"),
    # 中学校/小学校 are a 中学/小学; any other ...学校 without a level is a 一贯制 school.
    Rule(("primary_school", "middle_school"), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="(?<![中小])学校", name_not=f"一贯制|{_NOT_CATCHMENT}",
         note="name: ...学校 with no level (九年一贯制/外国语学校: taken as grades 1-9)"),
    Rule((), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="职业(?:高级中学|高中|中学|学校)?|职教|中专|中等专业|技工|技师|卫校|"
         f"(?:{_TRADES})学校|艺校|体校",
         note="vocational school (职业/中专/技工, 经贸/卫生/艺术...学校): not a catchment school"),
    Rule((), "school", RANK_NAME, any_tags=SCHOOL_SCOPE, name="驾驶(?:学校|培训)?|驾校|党校",
         note="driving or party school: not a catchment school"),
    Rule((), "school", RANK_NAME, any_tags=SCHOOL_SCOPE, name="大学|学院",
         note="higher education (大学/学院)"),
    Rule((), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="培训|辅导|特殊教育|特教|培智|启智|盲校|聋",
         note="training centre or special school: not a catchment school"),
    # -- schools: generic tags -------------------------------------------------------------------
    Rule(("kindergarten",), "school", RANK_TAG, {"amenity": "kindergarten"},
         note="amenity=kindergarten"),
    # -- health ----------------------------------------------------------------------------------
    Rule(("hospital",), "health", RANK_NAME, any_tags=HEALTH_SCOPE, name="医院|保健院",
         note="name: 医院"),
    Rule(("clinic",), "health", RANK_NAME, any_tags=HEALTH_SCOPE,
         name="卫生服务中心|卫生服务站|卫生院|卫生室|诊所|门诊部",
         note="name: 社区卫生服务中心/站, 卫生院, 诊所"),
    Rule((), "health", RANK_NAME, any_tags=HEALTH_SCOPE,
         name="疾病预防控制|疾控中心|血站|卫生监督",
         note="public-health agency, no patient care"),
    Rule(("hospital",), "health", RANK_TAG, any_tags={"amenity": "hospital",
                                                     "healthcare": "hospital"},
         note="amenity/healthcare=hospital"),
    Rule(("clinic",), "health", RANK_TAG, any_tags={"amenity": "clinic|doctors",
                                                   "healthcare": "clinic|doctor|centre"},
         note="amenity/healthcare=clinic/doctors"),
    # A hospital mapped only as its building; one of a mapped hospital's buildings is merged
    # into it (siteplan.facilities.merge.absorb_buildings).
    Rule(("hospital",), "health", RANK_TAG, {"building": "hospital"},
         note="building=hospital (no amenity/healthcare tag)"),
    # -- transport -------------------------------------------------------------------------------
    Rule(("bus_stop",), "bus", RANK_TAG, {"highway": "bus_stop"}, note="highway=bus_stop"),
    Rule(("bus_stop",), "bus", RANK_TAG, {"public_transport": "platform", "bus": "yes"},
         note="public_transport=platform + bus=yes"),
    Rule(("bus_stop",), "bus", RANK_TAG, {"public_transport": "stop_position", "bus": "yes"},
         note="public_transport=stop_position + bus=yes"),
    Rule(("metro_station",), "metro", RANK_TAG, {"railway": "station|halt|stop"},
         {"station": "subway", "subway": "yes"},
         note="railway=station + station=subway (or subway=yes)"),
    Rule(("metro_station",), "metro", RANK_TAG, {"public_transport": "station"},
         {"station": "subway", "subway": "yes"},
         note="public_transport=station + subway=yes (or station=subway)"),
    # A station mapped only by its stop positions (one per track): merged by name into one.
    Rule(("metro_station",), "metro", RANK_TAG, {"public_transport": "stop_position"},
         {"subway": "yes", "station": "subway"},
         note="public_transport=stop_position + subway=yes"),
    # -- parks and elderly care ------------------------------------------------------------------
    Rule(("park",), "park", RANK_TAG, {"leisure": "park"}, note="leisure=park"),
    Rule(("elderly_care",), "elderly", RANK_NAME, any_tags=ELDERLY_SCOPE,
         name="养老|敬老院|老年公寓|日间照料|颐养", note="name: 养老院/敬老院/日间照料"),
    Rule(("elderly_care",), "elderly", RANK_TAG, {"amenity": "social_facility"},
         {"social_facility": "nursing_home|assisted_living", "social_facility:for":
          "senior|elderly"}, note="social_facility=nursing_home / for=senior"),
    Rule(("elderly_care",), "elderly", RANK_TAG, {"amenity": "nursing_home"},
         note="amenity=nursing_home"),
)


def check_rules(rules: Sequence[Rule]) -> None:
    """Refuse rules with unknown classes, no condition or an invalid regular expression."""
    for i, rule in enumerate(rules):
        where = f"facility rule {i} ({rule.note or rule.classes})"
        unknown = [c for c in rule.classes if c not in CLASSES]
        if unknown:
            raise ConfigError(f"unknown class(es) {unknown}.", where=where,
                              fix=f"use classes from: {', '.join(CLASSES)}.")
        if not (rule.tags or rule.any_tags or rule.name):
            raise ConfigError("the rule has no condition and would match everything.",
                              where=where, fix="give tags, any_tags or name.")
        for pattern in [*rule.tags.values(), *rule.any_tags.values(), rule.name, rule.name_not]:
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"invalid regular expression {pattern!r} ({exc}).",
                                  where=where, fix="fix the pattern (Python re syntax).") from None


__all__ = [
    "CLASSES", "DEFAULT_RULES", "ELDERLY_SCOPE", "HEALTH_SCOPE", "PROXY_CLASSES", "RANK_LEVEL",
    "RANK_NAME", "RANK_TAG", "Rule", "SCHOOL_REPORT_SCOPE", "SCHOOL_SCOPE", "check_rules",
]
