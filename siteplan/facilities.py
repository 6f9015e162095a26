"""Facilities: which features are kindergartens, schools, hospitals, stops, parks...

Two kinds of source give the facility layer (DESIGN.md: ``facility_id``, ``class``, ``name``,
``source``, geometry):

- **OSM features** (a ``.osm``/``.osm.pbf`` file, an Overpass download, or a GDAL export such
  as the Taiyuan polygons) are classified by :func:`classify_facilities` with one rules table,
  :data:`DEFAULT_RULES`, which users can extend.
- **Municipal layers** (points, polygons, lon/lat CSV) declare their class, per row in a column
  or once for the whole file: :func:`load_facility_layer`.

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

Every ``amenity=school``/``college`` that gets no school class is reported, with the reason, in
:attr:`FacilityResult.unclassified_schools`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from siteplan.crs import CoordSystem, is_metric_crs, metric_crs_for_bounds
from siteplan.errors import ConfigError, InputError
from siteplan.io import read_layer
from siteplan.labels import CLASSES as CLASS_LABELS
from siteplan.network import is_osm_file
from siteplan.tags import tag_column

#: The facility classes (DESIGN.md); their labels are in :data:`siteplan.labels.CLASSES`.
CLASSES: tuple[str, ...] = (
    "kindergarten", "primary_school", "middle_school", "high_school", "hospital", "clinic",
    "bus_stop", "metro_station", "park", "elderly_care",
)

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
HEALTH_SCOPE: dict[str, str] = {"amenity": "hospital|clinic|doctors", "healthcare": ".+"}
ELDERLY_SCOPE: dict[str, str] = {"amenity": "social_facility|nursing_home"}
_NUM = "一二三四五六七八九十百〇零0-9"
# An abbreviation such as 十二中 / 清华附小 ends the name or comes before a bracket/space.
_ABBR_END = r"(?=$|[（(\s])"

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
    # -- schools: Chinese names ------------------------------------------------------------------
    Rule(("kindergarten",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="幼儿园|托儿所|幼稚园", note="name: 幼儿园/托儿所"),
    Rule(("primary_school",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE, name="小学",
         note="name: 小学"),
    Rule(("primary_school",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name=f"(?:附|[{_NUM}])小{_ABBR_END}", note="name: 附小/N小 (abbreviated 小学)"),
    Rule(("middle_school",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="初中|初级中学", note="name: 初中"),
    Rule(("middle_school",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE, name="中学",
         name_not="高级|高中|职业", note="name: 中学 (not 高级/高中/职业)"),
    Rule(("middle_school",), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name=f"(?:附|[{_NUM}])中{_ABBR_END}", note="name: 附中/N中 (abbreviated 中学)"),
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
    Rule((), "school", RANK_NAME, any_tags=SCHOOL_SCOPE,
         name="职业(?:高级中学|高中|中学|学校)?|职教|中专|中等专业|技工|技师|卫校",
         note="vocational school (职业/中专/技工): not a catchment school"),
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
    # -- transport -------------------------------------------------------------------------------
    Rule(("bus_stop",), "bus", RANK_TAG, {"highway": "bus_stop"}, note="highway=bus_stop"),
    Rule(("bus_stop",), "bus", RANK_TAG, {"public_transport": "platform", "bus": "yes"},
         note="public_transport=platform + bus=yes"),
    Rule(("metro_station",), "metro", RANK_TAG, {"railway": "station"},
         {"station": "subway", "subway": "yes"},
         note="railway=station + station=subway (or subway=yes)"),
    Rule(("metro_station",), "metro", RANK_TAG, {"public_transport": "station", "subway": "yes"},
         note="public_transport=station + subway=yes"),
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

#: Same-name facilities of these classes closer than the distance (m) are one facility.  OSM
#: maps a metro station as one stop position per track or line (Beijing 2017: two nodes per
#: station, 4-31 m apart) or as its entrance buildings (Taiyuan: 府西街（A2出口）, 府西街（C出口）,
#: 府西街（D出口）); counting each would inflate the station counts.  Names are compared without
#: a bracketed suffix, a trailing 站/地铁站 and an exit letter such as "C口".
DEFAULT_MERGE_M: dict[str, float] = {"metro_station": 500.0}
_MERGE_SUFFIX = re.compile(r"\s*[（(][^（()）]*[)）]\s*$|(?:地铁站|站)?(?:[A-Za-z]\d*(?:出入口|出口|入口|口))?$")

#: Class values accepted in a municipal layer's class column, besides the class names and
#: their English labels (compared after stripping and lower-casing).
CLASS_ALIASES: dict[str, tuple[str, ...]] = {
    "幼儿园": ("kindergarten",), "托儿所": ("kindergarten",), "幼稚园": ("kindergarten",),
    "小学": ("primary_school",),
    "初中": ("middle_school",), "初级中学": ("middle_school",), "中学": ("middle_school",),
    "高中": ("high_school",), "高级中学": ("high_school",),
    "九年一贯制": ("primary_school", "middle_school"),
    "九年一贯制学校": ("primary_school", "middle_school"),
    "完全中学": ("middle_school", "high_school"),
    "十二年一贯制": ("primary_school", "middle_school", "high_school"),
    "医院": ("hospital",), "综合医院": ("hospital",), "专科医院": ("hospital",),
    "社区卫生服务中心": ("clinic",), "社区卫生服务站": ("clinic",), "卫生服务中心": ("clinic",),
    "卫生服务站": ("clinic",), "卫生院": ("clinic",), "诊所": ("clinic",), "卫生室": ("clinic",),
    "公交站": ("bus_stop",), "公交车站": ("bus_stop",), "公交站点": ("bus_stop",),
    "地铁站": ("metro_station",), "轨道交通站": ("metro_station",), "地铁": ("metro_station",),
    "公园": ("park",), "游园": ("park",), "社区公园": ("park",),
    "养老院": ("elderly_care",), "敬老院": ("elderly_care",), "养老机构": ("elderly_care",),
    "日间照料中心": ("elderly_care",), "养老服务设施": ("elderly_care",),
}
# Several classes in one cell: "小学;初中", "primary_school, middle_school", "小学、初中".
_CLASS_SEPARATORS = re.compile(r"\s*[;,，；、/|+]\s*")

_NAME_COLUMNS = ("name", "名称", "名字", "mc", "name_zh", "学校名称", "机构名称")
_OUT_COLUMNS = ["facility_id", "class", "name", "source", "matched_by"]


@dataclass(frozen=True)
class FacilityResult:
    """Classified facilities and what could not be classified.

    Attributes
    ----------
    facilities
        ``facility_id``, ``class``, ``name``, ``source``, ``matched_by`` and geometry (input
        CRS), one row per (feature, class).
    unclassified_schools
        ``amenity=school``/``college`` features with no school class: ``facility_id``,
        ``name``, ``amenity``, ``reason`` and geometry.
    source
        Where the features came from.
    """

    facilities: gpd.GeoDataFrame
    unclassified_schools: gpd.GeoDataFrame
    source: str

    def counts(self) -> dict[str, int]:
        """Number of facilities per class (every class, zeros included)."""
        found = self.facilities["class"].value_counts()
        return {c: int(found.get(c, 0)) for c in CLASSES}

    def summary(self) -> str:
        """A few lines for the terminal: counts per class and the unclassified schools."""
        counts = self.counts()
        lines = [f"{self.source}: {len(self.facilities):,} facilities"]
        lines += [f"  {c} ({CLASS_LABELS[c][1]}): {n:,}" for c, n in counts.items()]
        un = self.unclassified_schools
        if len(un):
            lines.append(f"  {len(un)} school(s) not classified:")
            names = un["name"].astype("string").fillna("(no name)")
            lines += [f"    {fid}  {n}  ({r})" for fid, n, r
                      in zip(un["facility_id"], names, un["reason"], strict=True)]
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Classification


def _check_rules(rules: Sequence[Rule]) -> None:
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


class _Tags:
    """Tag values of the features, read once per key (columns or hstore ``other_tags``)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.cache: dict[str, pd.Series] = {}

    def get(self, key: str) -> pd.Series:
        if key not in self.cache:
            self.cache[key] = tag_column(self.frame, key)
        return self.cache[key]

    def matches(self, key: str, regex: str) -> np.ndarray:
        # The whole value or one of its ;-separated parts must match (OSM multi-values).
        pattern = rf"(?:^|;)\s*(?:{regex})\s*(?:;|$)"
        hit = self.get(key).str.contains(pattern, regex=True, na=False)
        return hit.to_numpy(dtype=bool)


def _feature_names(features: pd.DataFrame, name_column: str | None) -> pd.Series:
    if name_column is not None:
        return features[name_column].astype("string").str.strip()
    tags = _Tags(features)
    return tags.get("name").fillna(tags.get("name:zh")).str.strip()


def _rule_matches(
    rules: Sequence[Rule], tags: _Tags, names: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """``(R, N)`` match matrix and the name-keyword score (end * 1000 + length, or -1)."""
    n = len(names)
    match = np.zeros((len(rules), n), dtype=bool)
    score = np.full((len(rules), n), -1, dtype=np.int64)
    for r, rule in enumerate(rules):
        ok = np.ones(n, dtype=bool)
        for key, regex in rule.tags.items():
            ok &= tags.matches(key, regex)
        if rule.any_tags:
            any_ok = np.zeros(n, dtype=bool)
            for key, regex in rule.any_tags.items():
                any_ok |= tags.matches(key, regex)
            ok &= any_ok
        if rule.name is not None:
            # Only the rows the tags allow are searched (names of a whole city's features
            # would otherwise be scanned once per name rule).  Greedy ``.*`` puts the keyword
            # at its last occurrence: its end and length rank competing name rules (module
            # docstring, step 2).
            rows = np.flatnonzero(ok)
            sub = names.iloc[rows]
            found = sub.str.extract(rf"^(?P<_pre>.*)(?P<_kw>{rule.name})")
            pre, kw = found["_pre"], found["_kw"]
            has = kw.notna().to_numpy(dtype=bool, copy=True)
            if rule.name_not is not None:
                has &= ~sub.str.contains(rule.name_not, regex=True, na=False).to_numpy(bool)
            end = (pre.str.len() + kw.str.len()).fillna(-1).to_numpy(dtype=np.int64)
            length = kw.str.len().fillna(0).to_numpy(dtype=np.int64)
            ok[rows] = has
            score[r, rows] = np.where(has, end * 1000 + length, -1)
        match[r] = ok
    return match, score


def _decide(rules: Sequence[Rule], match: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Which matches count, after the rank and last-keyword steps (module docstring)."""
    ranks = np.array([rule.rank for rule in rules], dtype=np.int64)[:, None]
    groups = np.array([rule.group for rule in rules])
    is_name = np.array([rule.name is not None for rule in rules])[:, None]
    keep = np.zeros_like(match)
    big = np.iinfo(np.int64).max
    for group in np.unique(groups):
        g = groups == group
        m = match[g]
        best_rank = np.where(m, ranks[g], big).min(axis=0)
        k = m & (ranks[g] == best_rank)
        best_name = np.where(k & is_name[g], score[g], -1).max(axis=0)
        k &= ~is_name[g] | (score[g] == best_name)
        keep[g] = k
    return keep


def _osm_ids(features: pd.DataFrame, id_column: str | None, source: str) -> pd.Series:
    if id_column is not None:
        return features[id_column].astype("string")
    if "osm_way_id" in features.columns and "osm_id" in features.columns:
        # GDAL's OSM multipolygons layer: osm_way_id for closed ways, osm_id for relations.
        way = features["osm_way_id"].astype("string")
        rel = features["osm_id"].astype("string")
        return ("way/" + way).fillna("relation/" + rel)
    if "osm_id" in features.columns:
        return features["osm_id"].astype("string")
    return pd.Series([f"{source}:{i}" for i in features.index], index=features.index,
                     dtype="string")


def classify_facilities(
    features: gpd.GeoDataFrame,
    *,
    rules: Sequence[Rule] = DEFAULT_RULES,
    source: str = "osm",
    merge_same_name_m: Mapping[str, float] | None = None,
    name_column: str | None = None,
    id_column: str | None = None,
) -> FacilityResult:
    """Classify OSM-tagged features into facility classes with a rules table.

    Parameters
    ----------
    features
        Features with OSM tags as columns and/or an hstore ``other_tags`` (the output of
        :func:`siteplan.osm.read_osm_features`, :func:`siteplan.overpass.fetch_osm`, or a GDAL
        OSM export such as the Taiyuan polygons), with a CRS.
    rules
        The rules table; :data:`DEFAULT_RULES` by default (see the module docstring).
    source
        Written to the ``source`` column (``"osm"`` or the layer name).
    merge_same_name_m
        ``{class: metres}``: same-name facilities of the class closer than this become one
        (at the centroid of their points; ``merged_ids`` lists them).  :data:`DEFAULT_MERGE_M`
        by default; ``{}`` merges nothing.
    name_column, id_column
        Columns to use instead of ``name``/``name:zh`` and the OSM ids.

    Returns
    -------
    FacilityResult
    """
    if features.crs is None:
        raise InputError("the features have no CRS.", where=source,
                         fix="declare the CRS when reading them (e.g. crs='EPSG:4326').")
    for col in (name_column, id_column):
        if col is not None and col not in features.columns:
            raise InputError(f"has no column {col!r}; columns: {list(features.columns)}.",
                             where=source, fix="name one of the columns present.")
    _check_rules(rules)
    merge = DEFAULT_MERGE_M if merge_same_name_m is None else merge_same_name_m
    features = features.reset_index(drop=True)
    tags = _Tags(features)
    names = _feature_names(features, name_column)
    ids = _osm_ids(features, id_column, source)
    match, score = _rule_matches(rules, tags, names)
    keep = _decide(rules, match, score)

    rule_idx, feat_idx = np.nonzero(keep)
    rows = [(f, c, rules[r].note) for r, f in zip(rule_idx.tolist(), feat_idx.tolist(),
                                                    strict=True) for c in rules[r].classes]
    table = pd.DataFrame(rows, columns=["feature", "class", "matched_by"])
    # A feature reaching a class through two rules keeps one row (the first rule's note).
    table = table.drop_duplicates(["feature", "class"]).sort_values(["class", "feature"])
    f = table["feature"].to_numpy(dtype=np.int64)
    out = gpd.GeoDataFrame(
        {
            "facility_id": ids.to_numpy()[f],
            "class": table["class"].to_numpy(),
            "name": names.to_numpy()[f],
            "source": source,
            "matched_by": table["matched_by"].to_numpy(),
        },
        geometry=np.asarray(features.geometry.values, dtype=object)[f],
        crs=features.crs,
    )
    for col in ("facility_id", "class", "name", "source", "matched_by"):
        out[col] = out[col].astype("string")
    out = _merge_same_name(_unique_ids(out), merge)
    unclassified = _unclassified_schools(rules, features, tags, names, ids, match, keep)
    return FacilityResult(out, unclassified, source)


def _unique_ids(out: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # The same element listed twice (overlapping downloads) is one facility; distinct rows
    # that share an id (a user's layer) get a suffix so that ids stay unique within a class.
    same = out.duplicated(["class", "facility_id"])
    if not same.any():
        return out.reset_index(drop=True)
    geom_dup = pd.Series(shapely.to_wkb(out.geometry.values), index=out.index)
    exact = pd.DataFrame({"c": out["class"], "i": out["facility_id"], "g": geom_dup}).duplicated()
    out = out[~exact.to_numpy()].copy()
    k = out.groupby(["class", "facility_id"]).cumcount()
    out.loc[k > 0, "facility_id"] = out["facility_id"] + "~" + k.astype(str)
    return out.reset_index(drop=True)


def merge_key(names: pd.Series) -> pd.Series:
    """Names as compared when merging: 府西街（D出口） and 府西街地铁站C口 both give 府西街."""
    key = names.astype("string").str.strip()
    for _ in range(2):  # a bracketed suffix may hide an exit letter and vice versa
        key = key.str.replace(_MERGE_SUFFIX, "", regex=True).str.strip()
    return key


def _merge_same_name(out: gpd.GeoDataFrame, merge: Mapping[str, float]) -> gpd.GeoDataFrame:
    out = out.copy()
    out["merged_ids"] = pd.array([pd.NA] * len(out), dtype="string")
    todo = out["class"].isin(list(merge)).to_numpy(dtype=bool) & out["name"].notna().to_numpy(bool)
    if not todo.any():
        return out
    sub = out[todo]
    lonlat = sub.to_crs(4326)
    metric = sub.crs if is_metric_crs(sub.crs) else metric_crs_for_bounds(lonlat.total_bounds)
    pts = shapely.get_coordinates(sub.to_crs(metric).geometry.representative_point().values)
    radius = sub["class"].map(dict(merge)).to_numpy(dtype=float)
    key = merge_key(sub["name"]).to_numpy(dtype=object)
    pairs = cKDTree(pts).query_pairs(float(radius.max()), output_type="ndarray")
    if pairs.size:
        a, b = pairs[:, 0], pairs[:, 1]
        dist = np.hypot(*(pts[a] - pts[b]).T)
        same = (sub["class"].to_numpy()[a] == sub["class"].to_numpy()[b]) & (
            key[a] == key[b]) & (dist <= radius[a])
        a, b = a[same], b[same]
    else:
        a = b = np.empty(0, dtype=np.int64)
    n = len(sub)
    graph = sparse.coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
    _, label = csgraph.connected_components(graph, directed=False)
    size = np.bincount(label)
    if (size == 1).all():
        return out
    ids = sub["facility_id"].to_numpy(dtype=object)
    order = np.lexsort((ids, label))
    first = np.r_[True, label[order][1:] != label[order][:-1]]
    keeper = order[first]  # per cluster, the member with the smallest id
    centre = np.column_stack([np.bincount(label, weights=pts[:, i]) / size for i in (0, 1)])
    members = pd.Series(ids).groupby(label).agg(lambda s: ";".join(sorted(s)))
    merged = sub.iloc[keeper].copy()
    lab = label[keeper]
    multi = size[lab] > 1
    geoms = np.asarray(merged.geometry.values, dtype=object).copy()
    moved = gpd.GeoSeries(shapely.points(centre[lab[multi]]), crs=metric).to_crs(out.crs)
    geoms[multi] = np.asarray(moved.values, dtype=object)
    merged = merged.set_geometry(gpd.GeoSeries(geoms, index=merged.index, crs=out.crs))
    merged.loc[multi, "merged_ids"] = members.to_numpy()[lab[multi]]
    merged.loc[multi, "name"] = key[keeper][multi]
    rest = out[~todo]
    result = pd.concat([rest, merged]).sort_values(["class", "facility_id"])
    return gpd.GeoDataFrame(result, geometry="geometry", crs=out.crs).reset_index(drop=True)


def _unclassified_schools(
    rules: Sequence[Rule],
    features: gpd.GeoDataFrame,
    tags: _Tags,
    names: pd.Series,
    ids: pd.Series,
    match: np.ndarray,
    keep: np.ndarray,
) -> gpd.GeoDataFrame:
    in_scope = np.zeros(len(features), dtype=bool)
    for key, regex in SCHOOL_REPORT_SCOPE.items():
        in_scope |= tags.matches(key, regex)
    school = np.array([rule.group == "school" for rule in rules])
    has_class = np.array([bool(rule.classes) for rule in rules])
    classified = (keep[school & has_class]).any(axis=0)
    pick = np.flatnonzero(in_scope & ~classified)
    reasons = []
    excluded = keep[school & ~has_class]
    notes = [rule.note for rule, s, h in zip(rules, school, has_class, strict=True) if s and not h]
    for i in pick.tolist():
        hit = [notes[r] for r in np.flatnonzero(excluded[:, i])]
        if hit:
            reasons.append("; ".join(hit))
        elif pd.isna(names.iloc[i]):
            reasons.append("no name and no level tag (isced:level / school:level)")
        else:
            reasons.append("no level in the name and no level tag (isced:level / school:level)")
    return gpd.GeoDataFrame(
        {
            "facility_id": ids.to_numpy()[pick],
            "name": names.to_numpy()[pick],
            "amenity": tags.get("amenity").to_numpy()[pick],
            "reason": pd.array(reasons, dtype="string"),
        },
        geometry=np.asarray(features.geometry.values, dtype=object)[pick],
        crs=features.crs,
    )


# ----------------------------------------------------------------------------------------------
# Municipal layers


def _class_lookup() -> dict[str, tuple[str, ...]]:
    lookup: dict[str, tuple[str, ...]] = {c: (c,) for c in CLASSES}
    for c in CLASSES:
        en, zh = CLASS_LABELS[c]
        lookup.setdefault(en.lower(), (c,))
        lookup.setdefault(zh, (c,))
    for alias, classes in CLASS_ALIASES.items():
        lookup.setdefault(alias.lower(), classes)
    return lookup


def parse_class_values(values: pd.Series) -> pd.Series:
    """Map class cells (``"kindergarten"``, ``"幼儿园"``, ``"小学;初中"``) to tuples of classes.

    Unknown values map to ``None``; missing cells stay missing.
    """
    lookup = _class_lookup()

    def one(cell: str) -> tuple[str, ...] | None:
        parts = [p for p in _CLASS_SEPARATORS.split(cell.strip().lower()) if p]
        mapped = [lookup.get(p) for p in parts]
        if not parts or any(m is None for m in mapped):
            return None
        return tuple(dict.fromkeys(c for m in mapped if m is not None for c in m))

    text = values.astype("string")
    uniq = {v: one(v) for v in text.dropna().unique().tolist()}
    return text.map(uniq, na_action="ignore").astype(object)


def _accepted_values() -> str:
    zh = [CLASS_LABELS[c][1] for c in CLASSES]
    return f"{', '.join(CLASSES)}; or 中文 such as {', '.join(dict.fromkeys(zh))}, 九年一贯制, 完全中学"


def load_facility_layer(
    path: str | os.PathLike[str],
    *,
    class_: str | None = None,
    class_column: str | None = None,
    name_column: str | None = None,
    id_column: str | None = None,
    layer: str | None = None,
    crs: Any = None,
    encoding: str | None = None,
    coord_system: CoordSystem = "wgs84",
    lon_column: str | None = None,
    lat_column: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a municipal facility layer whose class is declared.

    Parameters
    ----------
    path
        Points or polygons (GeoPackage, Shapefile, GeoJSON...) or a CSV with lon/lat columns.
    class_
        One class for the whole file (``"kindergarten"`` or ``"幼儿园"``).
    class_column
        Column holding each row's class: class names, their English labels or Chinese labels
        (幼儿园, 小学, 初中, 高中, 医院, 社区卫生服务站...; :data:`CLASS_ALIASES`).  A cell may name
        several classes (``"小学;初中"``, ``"九年一贯制"``): the row then yields one facility per
        class.
    name_column
        Column of names; by default the first of ``name``, ``名称``, ``名字``, ``mc``... present.
    id_column
        Column of unique ids; by default ``"<file name>:<row>"``.
    layer, crs, encoding, coord_system, lon_column, lat_column
        How to read the file (:func:`siteplan.io.read_layer`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``facility_id``, ``class``, ``name``, ``source`` (the file name), ``matched_by`` and
        geometry in the layer's CRS (EPSG:4326 after a GCJ-02/BD-09 conversion).

    Raises
    ------
    ConfigError
        Neither or both of ``class_`` and ``class_column``.
    InputError
        Unreadable file, no features, a missing declared column, unknown or empty class
        values, duplicate ids.
    """
    path = Path(path)
    source = path.name + (f":{layer}" if layer else "")
    where = f"facility layer {path}" + (f" (layer {layer!r})" if layer else "")
    if (class_ is None) == (class_column is None):
        raise ConfigError(
            "say which class the facilities are: give either class_ (one class for the whole "
            "file) or class_column (a column of classes), not " +
            ("both." if class_ is not None else "neither."),
            where=where,
            fix="e.g. class_='kindergarten' or class_column='类别'.",
        )
    gdf = read_layer(path, layer=layer, crs=crs, encoding=encoding, coord_system=coord_system,
                     lon_column=lon_column, lat_column=lat_column, kind="facility layer")
    if len(gdf) == 0:
        raise InputError("has no features with a geometry.", where=where,
                         fix="check the file and the layer; every facility needs a location.")
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    for role, col in (("class", class_column), ("name", name_column), ("id", id_column)):
        if col is not None and col not in gdf.columns:
            close = difflib.get_close_matches(col, [str(c) for c in columns], n=3)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise InputError(
                f"has no column {col!r}, declared as the {role} column{hint}; columns present: "
                f"{', '.join(map(repr, columns))}.",
                where=where,
                fix=f"declare the {role} column by one of those names"
                + (", or give one class for the whole file with class_=..." if role == "class"
                   else "."),
            )

    if class_column is not None:
        raw = gdf[class_column]
        parsed = parse_class_values(raw)
        matched_by = "column " + class_column + ": " + raw.astype("string")
    else:
        assert class_ is not None
        raw = pd.Series(class_, index=gdf.index, dtype="string")
        parsed = parse_class_values(raw)
        matched_by = pd.Series(f"declared class {class_}", index=gdf.index, dtype="string")
    empty = raw.isna() | (raw.astype("string").str.strip() == "")
    if empty.any():
        rows = gdf.index[empty.to_numpy(bool)].tolist()
        raise InputError(
            f"{int(empty.sum())} feature(s) have no class in {class_column!r} (rows {rows[:10]}).",
            where=where, fix="fill in the class of every row, or drop those rows.")
    unknown = parsed.isna() & ~empty
    if unknown.any():
        bad = raw[unknown].astype(str).value_counts()
        listed = ", ".join(f"{v!r} ({n})" for v, n in bad.head(10).items())
        what = f"column {class_column!r}" if class_column else "class_"
        raise InputError(f"unknown class value(s) in {what}: {listed}.", where=where,
                         fix=f"use one of: {_accepted_values()}.")

    if name_column is None:
        lowered = {str(c).strip().lower(): c for c in columns}
        name_column = next((lowered[n] for n in _NAME_COLUMNS if n in lowered), None)
    names = (gdf[name_column].astype("string").str.strip() if name_column is not None
             else pd.Series(pd.NA, index=gdf.index, dtype="string"))
    if id_column is not None:
        ids = gdf[id_column].astype("string")
        dup = ids.duplicated(keep=False) | ids.isna()
        if dup.any():
            raise InputError(
                f"the id column {id_column!r} has missing or repeated values "
                f"({', '.join(map(str, ids[dup].fillna('<missing>').unique()[:10]))}).",
                where=where, fix="give every facility its own id, or leave id_column unset.")
    else:
        ids = pd.Series([f"{path.name}:{i}" for i in gdf.index], index=gdf.index, dtype="string")

    classes = parsed.to_numpy()
    n_classes = np.fromiter((len(c) for c in classes), dtype=np.int64, count=len(classes))
    row = np.repeat(np.arange(len(gdf)), n_classes)
    out = gpd.GeoDataFrame(
        {
            "facility_id": ids.to_numpy()[row],
            "class": [c for cs in classes for c in cs],
            "name": names.to_numpy()[row],
            "source": source,
            "matched_by": matched_by.to_numpy()[row],
        },
        geometry=np.asarray(gdf.geometry.values, dtype=object)[row],
        crs=gdf.crs,
    )
    for col in _OUT_COLUMNS:
        out[col] = out[col].astype("string")
    out.attrs["siteplan_repairs"] = gdf.attrs.get("siteplan_repairs", {})
    return out


def _empty_unclassified(crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.array([], dtype="string") for c in ("facility_id", "name", "amenity", "reason")},
        geometry=gpd.GeoSeries([], crs=crs), crs=crs,
    )


def load_facilities(
    path: str | os.PathLike[str],
    *,
    rules: Sequence[Rule] = DEFAULT_RULES,
    bbox: tuple[float, float, float, float] | None = None,
    class_: str | None = None,
    class_column: str | None = None,
    **layer_kwargs: Any,
) -> FacilityResult:
    """Facilities from any file: raw OSM, an OSM-tagged layer, or a municipal layer.

    - ``.osm``/``.osm.gz``/``.osm.bz2``/``.osm.pbf``: :func:`siteplan.osm.read_osm_features`
      (optionally within ``bbox``, degrees) classified with ``rules``; ``source`` is ``"osm"``.
    - any other file with ``class_`` or ``class_column``: :func:`load_facility_layer`.
    - any other file: :func:`siteplan.io.read_layer`, then classified with ``rules`` (an OSM
      export such as the Taiyuan polygons); ``source`` is the file name.

    ``layer_kwargs`` go to :func:`load_facility_layer` / :func:`siteplan.io.read_layer`
    (``layer``, ``crs``, ``encoding``, ``coord_system``, ``name_column``, ``id_column``...).
    """
    path = Path(path)
    if is_osm_file(path):
        if class_ is not None or class_column is not None or layer_kwargs:
            raise InputError(
                "class_, class_column and layer options do not apply to raw OSM files, which "
                "are classified by the rules table.", where=str(path),
                fix="remove them, or convert the data to a layer with a class column.")
        from siteplan.osm import read_osm_features  # siteplan.osm imports siteplan.network

        return classify_facilities(read_osm_features(path, bbox=bbox), rules=rules,
                                   source="osm")
    if class_ is not None or class_column is not None:
        out = load_facility_layer(path, class_=class_, class_column=class_column, **layer_kwargs)
        if bbox is not None:
            out = out[out.to_crs(4326).intersects(shapely.box(*bbox))].reset_index(drop=True)
        return FacilityResult(out, _empty_unclassified(out.crs), out["source"].iloc[0]
                              if len(out) else path.name)
    read_keys = {"layer", "crs", "encoding", "coord_system", "lon_column", "lat_column"}
    read_kw = {k: v for k, v in layer_kwargs.items() if k in read_keys}
    class_kw = {k: v for k, v in layer_kwargs.items() if k not in read_keys}
    gdf = read_layer(path, kind="facility layer", **read_kw)
    if bbox is not None:
        gdf = gdf[gdf.to_crs(4326).intersects(shapely.box(*bbox))]
    return classify_facilities(gdf, rules=rules, source=path.name, **class_kw)


def residential_land(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The ``landuse=residential`` polygons (residential areas, 居住用地) with their names.

    Returns ``residential_id`` (OSM ids as in the facilities), ``name`` and the (multi)polygon
    geometry, in the input CRS; points and lines are left out.
    """
    tags = _Tags(features.reset_index(drop=True))
    is_res = tags.matches("landuse", "residential")
    polygonal = np.isin(shapely.get_type_id(np.asarray(features.geometry.values, dtype=object)),
                        [3, 6])
    pick = np.flatnonzero(is_res & polygonal)
    frame = features.reset_index(drop=True)
    ids = _osm_ids(frame, None, "residential")
    return gpd.GeoDataFrame(
        {
            "residential_id": ids.to_numpy()[pick],
            "name": _feature_names(frame, None).to_numpy()[pick],
        },
        geometry=np.asarray(frame.geometry.values, dtype=object)[pick],
        crs=features.crs,
    ).astype({"residential_id": "string", "name": "string"})
