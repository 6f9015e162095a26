"""Facilities: which features are kindergartens, schools, hospitals, stops, parks...

Two kinds of source give the facility layer (docs/design.md: ``facility_id``, ``class``, ``name``,
``source``, geometry):

- **OSM features** (a ``.osm``/``.osm.pbf`` file, an Overpass download, or a GDAL export such
  as the Taiyuan polygons) are classified by :func:`classify_facilities` with one rules table,
  :data:`DEFAULT_RULES`, which users can extend.
- **Municipal layers** (points, polygons, lon/lat CSV) declare their class, per row in a column
  or once for the whole file: :func:`load_facility_layer`.

Classification follows the rules table of :mod:`siteplan.facilities.rules` (how the rules decide
is explained there); duplicate ids and same-name features (a metro station mapped once per
exit) are resolved by :mod:`siteplan.facilities.merge`; municipal layers are read by
:mod:`siteplan.facilities.layers`.

Every school or health feature that gets no class of its group is reported, with its tags and
the reason, in :attr:`FacilityResult.report` (:mod:`siteplan.facilities.report`; the
``facilities_report`` output layer); the ``amenity=school``/``college`` ones are also in
:attr:`FacilityResult.unclassified_schools`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.core.defaults import HOSPITAL_BUILDING_MERGE_M, MERGE_SAME_NAME_M, MERGE_UNNAMED_M
from siteplan.core.errors import InputError
from siteplan.core.labels import CLASSES as CLASS_LABELS
from siteplan.core.tags import tag_column
from siteplan.facilities.layers import (
    CLASS_ALIASES,
    FACILITY_COLUMNS,
    load_facility_layer,
    parse_class_values,
)
from siteplan.facilities.merge import absorb_buildings, merge_key, merge_same_name, unique_ids
from siteplan.facilities.report import empty_report, facilities_report
from siteplan.facilities.rules import (
    CLASSES,
    DEFAULT_RULES,
    ELDERLY_SCOPE,
    HEALTH_SCOPE,
    RANK_LEVEL,
    RANK_NAME,
    RANK_TAG,
    SCHOOL_REPORT_SCOPE,
    SCHOOL_SCOPE,
    Rule,
    check_rules,
)
from siteplan.io.layers import is_polygonal, read_layer
from siteplan.osm.features import read_osm_features
from siteplan.osm.parse import is_osm_file


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
    report
        Every school or health feature with no class of its group: ``facility_id``, ``name``,
        ``group``, ``tags``, ``reason`` and geometry (:mod:`siteplan.facilities.report`);
        empty for a municipal layer, which declares its classes.
    """

    facilities: gpd.GeoDataFrame
    unclassified_schools: gpd.GeoDataFrame
    source: str
    report: gpd.GeoDataFrame | None = None

    def counts(self) -> dict[str, int]:
        """Return the number of facilities per class (every class, zeros included)."""
        found = self.facilities["class"].value_counts()
        return {c: int(found.get(c, 0)) for c in CLASSES}

    def summary(self) -> str:
        """Return a few lines for the terminal: counts per class and the unclassified schools."""
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


class _Tags:
    """Tag values of the features, read once per key (columns or hstore ``other_tags``)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.cache: dict[str, pd.Series] = {}
        self.codes: dict[str, tuple[np.ndarray, pd.Series]] = {}

    def get(self, key: str) -> pd.Series:
        if key not in self.cache:
            self.cache[key] = tag_column(self.frame, key)
        return self.cache[key]

    def matches(self, key: str, regex: str) -> np.ndarray:
        # A key has few distinct values (a city's million features, a few hundred amenity
        # values): each rule's regex runs on those, not on every feature.
        if key not in self.codes:
            codes, uniques = pd.factorize(self.get(key))
            self.codes[key] = (codes, pd.Series(uniques, dtype="string"))
        codes, uniques = self.codes[key]
        # The whole value or one of its ;-separated parts must match (OSM multi-values).
        pattern = rf"(?:^|;)\s*(?:{regex})\s*(?:;|$)"
        hit = uniques.str.contains(pattern, regex=True, na=False).to_numpy(dtype=bool)
        mask: np.ndarray = np.zeros(codes.size, dtype=bool)
        known = codes >= 0  # -1: no value
        mask[known] = hit[codes[known]]
        return mask


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
            # at its last occurrence: its end and length rank competing name rules
            # (siteplan.facilities.rules docstring, step 2).
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
    """Which matches count: the rank and last-keyword steps of :mod:`siteplan.facilities.rules`."""
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


def rule_hits(features: pd.DataFrame, rules: Sequence[Rule], source: str = "osm"
              ) -> tuple[np.ndarray, np.ndarray, pd.Series, np.ndarray]:
    """Decide a rules table on features: ``(rule, feature)`` index pairs, names and ids.

    The decision of :func:`classify_facilities` (ranks and the last keyword within each group),
    without its checks, merging and report: for tables of other kinds of places, such as the
    life-circle preset (:mod:`siteplan.facilities.lifecircle`).  ``features`` needs a plain
    ``RangeIndex``.
    """
    names = _feature_names(features, None)
    match, score = _rule_matches(rules, _Tags(features), names)
    rule_idx, feat_idx = np.nonzero(_decide(rules, match, score))
    ids = np.asarray(_osm_ids(features, None, source).to_numpy(), dtype=object)
    return rule_idx, feat_idx, names, ids


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
        :func:`siteplan.osm.features.read_osm_features`, :func:`siteplan.osm.overpass.fetch_osm`, or a GDAL
        OSM export such as the Taiyuan polygons), with a CRS.
    rules
        The rules table; :data:`DEFAULT_RULES` by default (see :mod:`siteplan.facilities.rules`).
    source
        Written to the ``source`` column (``"osm"`` or the layer name).
    merge_same_name_m
        ``{class: metres}``: same-name facilities of the class closer than this become one
        (at the centroid of their points; ``merged_ids`` lists them).  :data:`MERGE_SAME_NAME_M`
        by default (metro stations 500 m, bus stops 150 m; unnamed bus stop features within
        30 m, :data:`~siteplan.core.defaults.MERGE_UNNAMED_M`, also merge); ``{}`` merges
        nothing.  Hospitals mapped only as ``building=hospital`` within
        :data:`~siteplan.core.defaults.HOSPITAL_BUILDING_MERGE_M` of a hospital are its
        buildings, merged into it.
    name_column, id_column
        Columns to use instead of ``name``/``name:zh`` and the OSM ids.

    Returns
    -------
    FacilityResult
        The facilities, one row per (feature, class), and the schools left unclassified.

    Raises
    ------
    InputError
        No CRS, or a ``name_column``/``id_column`` that is not in ``features``.
    ConfigError
        A rule with an unknown class, no condition or an invalid regular expression.

    Examples
    --------
    >>> import geopandas as gpd
    >>> import shapely
    >>> features = gpd.GeoDataFrame(
    ...     {"amenity": ["kindergarten", "school", "school", "hospital", "school"],
    ...      "name": ["阳光幼儿园", "五一路小学", "山西大学附属中学", "山西省人民医院", "育才培训学校"]},
    ...     geometry=shapely.points([(112.55 + i / 100, 37.87) for i in range(5)]),
    ...     crs="EPSG:4326")
    >>> result = classify_facilities(features)
    >>> result.facilities[["class", "name", "matched_by"]]
                class      name               matched_by
    0        hospital   山西省人民医院                 name: 医院
    1    kindergarten     阳光幼儿园            name: 幼儿园/托儿所
    2   middle_school  山西大学附属中学  name: 中学 (not 高级/高中/职业)
    3  primary_school     五一路小学                 name: 小学
    >>> result.unclassified_schools["name"].tolist()
    ['育才培训学校']
    >>> result.report[["name", "group", "reason"]].values.tolist()
    [['育才培训学校', 'school', 'training centre or special school: not a catchment school']]
    """
    if features.crs is None:
        raise InputError("the features have no CRS.", where=source,
                         fix="declare the CRS when reading them (e.g. crs='EPSG:4326').")
    for col in (name_column, id_column):
        if col is not None and col not in features.columns:
            raise InputError(f"has no column {col!r}; columns: {list(features.columns)}.",
                             where=source, fix="name one of the columns present.")
    check_rules(rules)
    merge = MERGE_SAME_NAME_M if merge_same_name_m is None else merge_same_name_m
    unnamed = MERGE_UNNAMED_M if merge_same_name_m is None else {}
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
    for col in FACILITY_COLUMNS:
        out[col] = out[col].astype("string")
    # OSM ``capacity``: places (pupils, children, beds); "约120" and the like are left out.
    out["capacity"] = pd.array(pd.to_numeric(tags.get("capacity"), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)[f], dtype="Float64")
    out = unique_ids(out)
    building_only = _building_only_hospitals(tags)
    weak = np.isin(out["facility_id"].to_numpy(dtype=object), ids.to_numpy()[building_only])
    out = absorb_buildings(out, weak, "hospital", HOSPITAL_BUILDING_MERGE_M)
    out = merge_same_name(out, merge, unnamed)
    scopes = {"school": _in_scope(tags, SCHOOL_SCOPE), "health": _in_scope(tags, HEALTH_SCOPE)}
    report, report_rows = facilities_report(rules, keep, scopes, features, names, ids)
    is_school = (report["group"] == "school").to_numpy(dtype=bool)
    in_report = _in_scope(tags, SCHOOL_REPORT_SCOPE)[report_rows] & is_school
    unclassified = gpd.GeoDataFrame(
        {"facility_id": report["facility_id"].to_numpy()[in_report],
         "name": report["name"].to_numpy()[in_report],
         "amenity": tags.get("amenity").to_numpy()[report_rows[in_report]],
         "reason": report["reason"].to_numpy()[in_report]},
        geometry=np.asarray(report.geometry.values, dtype=object)[in_report],
        crs=features.crs,
    ).astype({"facility_id": "string", "name": "string", "amenity": "string",
              "reason": "string"})
    return FacilityResult(out, unclassified, source, report)


def _in_scope(tags: _Tags, scope: Mapping[str, str]) -> np.ndarray:
    mask = np.zeros(len(tags.frame), dtype=bool)
    for key, regex in scope.items():
        mask |= tags.matches(key, regex)
    return mask


def _building_only_hospitals(tags: _Tags) -> np.ndarray:
    """Features tagged ``building=hospital`` and nothing that makes them a health facility."""
    tagged = tags.matches("amenity", "hospital|clinic|doctors") | tags.get(
        "healthcare").notna().to_numpy(dtype=bool)
    only: np.ndarray = tags.matches("building", "hospital") & ~tagged
    return only


# ----------------------------------------------------------------------------------------------
# Any file, and residential land


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
    """Load facilities from any file: raw OSM, an OSM-tagged layer, or a municipal layer.

    - ``.osm``/``.osm.gz``/``.osm.bz2``/``.osm.pbf``: :func:`siteplan.osm.features.read_osm_features`
      (optionally within ``bbox``, degrees) classified with ``rules``; ``source`` is ``"osm"``.
    - any other file with ``class_`` or ``class_column``: :func:`load_facility_layer`.
    - any other file: :func:`siteplan.io.layers.read_layer`, then classified with ``rules`` (an OSM
      export such as the Taiyuan polygons); ``source`` is the file name.

    Parameters
    ----------
    path
        The facility file.
    rules
        The rules table for OSM-tagged features; :data:`DEFAULT_RULES` by default.
    bbox
        ``(west, south, east, north)`` in degrees: keep the features that intersect it.
    class_, class_column
        The declared class of a municipal layer (see :func:`load_facility_layer`); not for raw
        OSM files.
    **layer_kwargs
        Passed to :func:`load_facility_layer` / :func:`siteplan.io.layers.read_layer`
        (``layer``, ``crs``, ``encoding``, ``coord_system``, ``lon_column``, ``lat_column``)
        and, for an OSM-tagged layer, to :func:`classify_facilities` (``name_column``,
        ``id_column``, ``merge_same_name_m``...); not for raw OSM files.

    Returns
    -------
    FacilityResult
        The facilities and the unclassified schools (none for a municipal layer).

    Raises
    ------
    InputError
        Options that do not apply to raw OSM files, or what reading and classifying raise.

    Examples
    --------
    >>> result = load_facilities("tests/data/beijing_haidian_pku_tsinghua_2017.osm")
    >>> {cls: n for cls, n in result.counts().items() if n}
    {'kindergarten': 2, 'primary_school': 1, 'middle_school': 4, 'hospital': 2, 'bus_stop': 20,
     'metro_station': 16, 'park': 12}
    >>> result.facilities.loc[result.facilities["class"] == "kindergarten", "name"].tolist()
    ['清华大学洁华幼儿园', '清华大学附属幼儿园']
    """
    path = Path(path)
    if is_osm_file(path):
        if class_ is not None or class_column is not None or layer_kwargs:
            raise InputError(
                "class_, class_column and layer options do not apply to raw OSM files, which "
                "are classified by the rules table.", where=str(path),
                fix="remove them, or convert the data to a layer with a class column.")
        return classify_facilities(read_osm_features(path, bbox=bbox), rules=rules,
                                   source="osm")
    if class_ is not None or class_column is not None:
        out = load_facility_layer(path, class_=class_, class_column=class_column, **layer_kwargs)
        if bbox is not None:
            out = out[out.to_crs(4326).intersects(shapely.box(*bbox))].reset_index(drop=True)
        return FacilityResult(out, _empty_unclassified(out.crs), out["source"].iloc[0]
                              if len(out) else path.name, empty_report(out.crs))
    read_keys = {"layer", "crs", "encoding", "coord_system", "lon_column", "lat_column"}
    read_kw = {k: v for k, v in layer_kwargs.items() if k in read_keys}
    class_kw = {k: v for k, v in layer_kwargs.items() if k not in read_keys}
    gdf = read_layer(path, kind="facility layer", **read_kw)
    if bbox is not None:
        gdf = gdf[gdf.to_crs(4326).intersects(shapely.box(*bbox))]
    return classify_facilities(gdf, rules=rules, source=path.name, **class_kw)


def residential_land(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the ``landuse=residential`` polygons (residential areas, 居住用地) with their names.

    Returns ``residential_id`` (OSM ids as in the facilities), ``name`` and the (multi)polygon
    geometry, in the input CRS; points and lines are left out.
    """
    tags = _Tags(features.reset_index(drop=True))
    is_res = tags.matches("landuse", "residential")
    polygonal = is_polygonal(features.geometry.values)
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


__all__ = [
    "CLASSES", "CLASS_ALIASES", "MERGE_SAME_NAME_M", "DEFAULT_RULES", "ELDERLY_SCOPE",
    "FACILITY_COLUMNS", "HEALTH_SCOPE", "RANK_LEVEL", "RANK_NAME", "RANK_TAG",
    "SCHOOL_REPORT_SCOPE", "SCHOOL_SCOPE", "FacilityResult", "Rule", "classify_facilities",
    "load_facilities", "load_facility_layer", "merge_key", "parse_class_values",
    "residential_land", "rule_hits",
]
