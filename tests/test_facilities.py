"""Facility classification: the rules table on real Taiyuan and Beijing data, municipal layers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import BEIJING_OSM, TAIYUAN_POLYGONS
from shapely.geometry import Point

from siteplan.core.errors import ConfigError, InputError, SiteplanWarning
from siteplan.core.tags import parse_hstore, tag_column
from siteplan.facilities.classify import (
    FacilityResult,
    classify_facilities,
    load_facilities,
    residential_land,
)
from siteplan.facilities.layers import load_facility_layer
from siteplan.facilities.merge import merge_key
from siteplan.facilities.rules import CLASSES, DEFAULT_RULES, RANK_NAME, Rule
from siteplan.io.crs import wgs84_to_gcj02

K, P, M, H = "kindergarten", "primary_school", "middle_school", "high_school"

# Every amenity=school feature of the Taiyuan polygons, classified by hand from its name
# (ids are the closed ways; 八一小学 is mapped twice).  () = no catchment-school class.
TAIYUAN_SCHOOLS: dict[str, tuple[str, tuple[str, ...]]] = {
    "way/806645820": ("太原市杏花岭区解放路小学", (P,)),
    "way/965288353": ("山西省实验中学", (M,)),
    "way/877693487": ("兴华街小学校", (P,)),
    "way/877693486": ("太原市第十三中学校", (M,)),
    "way/699343593": ("双喜小学", (P,)),
    "way/877693481": ("太原市外国语凤凰双语中学校", (M,)),
    "way/699350204": ("新建路小学", (P,)),
    "way/699523730": ("公园路小学", (P,)),
    "way/699523728": ("太原市第二十九中学校", (M,)),
    "way/877693479": ("太原市外国语学校(漪汾校区)", (P, M)),  # ...学校, no level: 一贯制
    "way/742068830": ("进山中学", (M,)),
    "way/742068831": ("太原市第二十三中学校", (M,)),
    "way/823646962": ("太原市迎泽区回民小学校", (P,)),
    "way/783519341": ("八一小学", (P,)),
    "way/806645821": ("太原市第七职业中学校", ()),  # vocational
    "way/877693480": ("太原市实验小学", (P,)),
    "way/699340205": ("南海中学", (M,)),
    "way/995983840": ("太原市第四十五中学校", (M,)),
    "way/699343579": ("太原第三实验小学校", (P,)),  # 实验小学, not 实验学校
    "way/177165487": ("山西大学附属中学", (M,)),
    "way/177271458": ("山西大学附属子弟小学", (P,)),
    "way/177575667": ("太原市第五十一中学校", (M,)),
    "way/177706776": ("八一小学", (P,)),
    "way/180632536": ("山西省经贸学校", ()),  # 经贸学校: a secondary vocational school
    "way/180632538": ("太原市第三十八中学校", (M,)),
    "way/180633746": ("太原市综合高级中学", (H,)),
    "way/180723297": ("太原市成成中学", (M,)),
    "way/331477741": ("太原市第十五中学校", (M,)),
    "way/355454831": ("太原育英中学", (M,)),
    "way/699343584": ("太原市第三十六中学校", (M,)),  # name:en says "high school"; not used
    "way/421644459": ("桃南小学", (P,)),
    "way/421661118": ("国师街小学", (P,)),
    "way/421150347": ("青年路小学", (P,)),
    "way/422972200": ("新西小学", (P,)),
    "way/422972201": ("太原市第三十中学校", (M,)),
    "way/423389706": ("太原市实验中学校", (M,)),
    "way/425319524": ("太原杏花实验学校", (P, M)),  # 实验学校: grades 1-9
    "way/699340198": ("太原市第三十七中学校", (M,)),
    "way/699340192": ("滨河小学", (P,)),
    "way/492697478": ("十二中", (M,)),  # abbreviation of 第十二中学
    "way/679996722": ("海边街小学校", (P,)),
}


def _way_ids(gdf: gpd.GeoDataFrame) -> pd.Series:
    return "way/" + gdf["osm_way_id"].astype("string")


def _classes_by_id(result: FacilityResult) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for fid, cls in zip(result.facilities["facility_id"], result.facilities["class"],
                        strict=True):
        out[fid].add(cls)
    return out


@pytest.fixture(scope="module")
def taiyuan_result(taiyuan_polygons) -> FacilityResult:
    return classify_facilities(taiyuan_polygons, source="taiyuan")


@pytest.fixture(scope="module")
def beijing_result() -> FacilityResult:
    return load_facilities(BEIJING_OSM)


def test_taiyuan_school_table_in_full(taiyuan_polygons, taiyuan_result):
    schools = taiyuan_polygons[taiyuan_polygons["amenity"] == "school"]
    ids = _way_ids(schools)
    assert len(schools) == 41 and len(TAIYUAN_SCHOOLS) == 41
    assert set(ids) == set(TAIYUAN_SCHOOLS)
    assert dict(zip(ids, schools["name"], strict=True)) == {
        k: v[0] for k, v in TAIYUAN_SCHOOLS.items()}
    got = _classes_by_id(taiyuan_result)
    school_classes = {K, P, M, H}
    for fid, (name, expected) in TAIYUAN_SCHOOLS.items():
        assert got.get(fid, set()) & school_classes == set(expected), name
    un = taiyuan_result.unclassified_schools
    expected_un = {fid for fid, (_, c) in TAIYUAN_SCHOOLS.items() if not c}
    colleges = set(_way_ids(taiyuan_polygons[taiyuan_polygons["amenity"] == "college"]))
    assert set(un["facility_id"]) == expected_un | colleges
    reasons = dict(zip(un["name"], un["reason"], strict=True))
    assert "vocational" in reasons["太原市第七职业中学校"]
    assert "higher education" in reasons["太原学院"]
    assert "vocational" in reasons["山西省经贸学校"]
    # The facilities report has them all, with their tags, and the excluded health feature.
    report = taiyuan_result.report
    assert set(report.loc[report["group"] == "school", "facility_id"]) == set(un["facility_id"])
    cdc = report[report["group"] == "health"]
    assert cdc["name"].tolist() == ["山西省疾病预防控制中心"]
    assert "amenity=hospital" in cdc["tags"].iloc[0] and "public-health" in cdc["reason"].iloc[0]


def test_taiyuan_name_rules_of_the_issue(taiyuan_polygons, taiyuan_result):
    fac = taiyuan_result.facilities
    by_name = fac.groupby("name")["class"].agg(set)
    named = taiyuan_polygons[taiyuan_polygons["amenity"] == "school"]["name"]
    with_xiaoxue = named[named.str.contains("小学")]
    assert len(with_xiaoxue) == 17
    assert all(by_name[n] == {P} for n in with_xiaoxue)
    numbered = named[named.str.fullmatch(r"太原市第[一二三四五六七八九十]+中学校")]
    assert "太原市第五十一中学校" in set(numbered) and len(numbered) == 10
    assert all(by_name[n] == {M} for n in numbered)


def test_taiyuan_other_classes(taiyuan_polygons, taiyuan_result):
    counts = taiyuan_result.counts()
    poly = taiyuan_polygons
    assert set(counts) == set(CLASSES)
    assert counts[K] == int((poly["amenity"] == "kindergarten").sum()) == 2
    hospitals = poly[poly["amenity"] == "hospital"]
    fac = taiyuan_result.facilities
    hosp = fac[fac["class"] == "hospital"]
    # The disease-control centre is tagged amenity=hospital but treats no patients.
    assert set(hosp["name"].dropna()) == set(hospitals["name"]) - {"山西省疾病预防控制中心"}
    # 8 hospitals mapped only as building=hospital: 2 within 150 m of 太原市第二中心医院 are its
    # buildings; the other 6, side by side with no hospital tag near, are one hospital.
    only = poly[tag_column(poly, "building").eq("hospital").fillna(False).to_numpy(bool)
                & tag_column(poly, "amenity").isna().to_numpy(bool)]
    assert len(only) == 8 and len(hosp) == len(hospitals) - 1 + 1
    second = hosp.loc[hosp["name"] == "太原市第二中心医院", "merged_ids"].item()
    assert len(second.split(";")) == 3
    unnamed = hosp[hosp["name"].isna()]
    assert len(unnamed) == 1 and len(unnamed["merged_ids"].item().split(";")) == 6
    assert unnamed["matched_by"].item().startswith("building=hospital")
    assert counts["park"] == int((poly["leisure"] == "park").sum())
    tags = poly["other_tags"].map(parse_hstore)
    platforms = tags.map(lambda t: t.get("public_transport") == "platform"
                         and t.get("bus") == "yes")
    assert counts["bus_stop"] == int(platforms.sum()) == 15
    # Three entrance buildings of 府西街 station, tagged as the station, are one station.
    metro = fac[fac["class"] == "metro_station"]
    assert len(metro) == 1 and metro["name"].iloc[0] == "府西街"
    assert len(metro["merged_ids"].iloc[0].split(";")) == 3
    assert counts["elderly_care"] == 1 and counts["clinic"] == 0
    assert fac["source"].eq("taiyuan").all()
    assert fac.crs == poly.crs
    assert not fac.duplicated(["class", "facility_id"]).any()
    text = taiyuan_result.summary()
    assert "primary_school (小学): 19" in text and "山西省经贸学校" in text


def _beijing_xml_tags():
    root = ET.parse(BEIJING_OSM).getroot()
    for elem in root:
        if elem.tag in ("node", "way", "relation"):
            yield elem.tag, elem.get("id"), {t.get("k"): t.get("v") for t in elem.iter("tag")}


def test_beijing_transport_and_schools(beijing_result):
    xml = list(_beijing_xml_tags())
    fac = beijing_result.facilities
    counts = beijing_result.counts()
    bus = {f"{k}/{i}": t.get("name") for k, i, t in xml if t.get("highway") == "bus_stop"}
    # 68 bus stop features (both sides of the road, several poles per side) are 20 stops: each
    # stop keeps its members, all of its name, within 150 m of each other.
    stops = fac[fac["class"] == "bus_stop"]
    members = [m.split(";") if isinstance(m, str) else [i]
               for i, m in zip(stops["facility_id"], stops["merged_ids"], strict=True)]
    assert len(bus) == 68 and len(stops) == 20
    assert sorted(i for m in members for i in m) == sorted(bus)
    keys = merge_key(pd.Series(bus)).to_dict()  # a merged stop is named by the common key
    assert all((keys[i] if len(m) > 1 else bus[i]) == name
               for m, name in zip(members, stops["name"], strict=True) for i in m)
    stations = defaultdict(set)
    for kind, i, t in xml:
        if t.get("railway") == "station" and (t.get("station") == "subway"
                                              or t.get("subway") == "yes"):
            stations[t["name"]].add(f"{kind}/{i}")
    metro = fac[fac["class"] == "metro_station"]
    assert set(metro["name"]) == set(stations) and len(stations) == 16
    for name, members in zip(metro["name"], metro["merged_ids"], strict=True):
        assert set(members.split(";")) == stations[name]
    got = {n: c for n, c in fac.groupby("name")["class"].agg(set).items()}
    # Stops named after schools (清华附中, 清华大学西门) are stops, and the schools are schools.
    assert got["清华附中"] == {M, "bus_stop"}
    assert len(fac[(fac["name"] == "清华附中") & (fac["class"] == M)]) == 1
    got = {n: c - {"bus_stop"} or c for n, c in got.items()}
    assert got["清华附小"] == {P}
    for name in ("清华附中", "中关村中学", "中关村中学分校", "清华大学附属中学"):
        assert got[name] == {M}, name
    assert got["清华大学洁华幼儿园"] == {K}  # mapped as amenity=school
    assert got["清华大学附属幼儿园"] == {K}
    assert got["清华大学西门"] == {"bus_stop"}  # a stop named after a university stays a stop
    assert got["清华大学医院"] == got["北京大学校医院"] == {"hospital"}
    assert (counts[K], counts[P], counts[M], counts[H]) == (2, 1, 4, 0)
    un = beijing_result.unclassified_schools
    assert set(un["facility_id"]) == {"node/380744293", "node/4503942369", "node/1732906960"}
    assert fac["source"].eq("osm").all() and fac.crs.to_epsg() == 4326


# Names written by hand with the class a planner would give them.
NAME_CASES = [
    ("amenity", "school", "某某中学附属小学", {P}),
    ("amenity", "school", "某某中学(高中部)", {H}),
    ("amenity", "school", "某某中学初中部", {M}),
    ("amenity", "school", "某某小学附属幼儿园", {K}),
    ("amenity", "school", "某某九年一贯制学校", {P, M}),
    ("amenity", "school", "某某完全中学", {M, H}),
    ("amenity", "school", "某某十二年一贯制学校", {P, M, H}),
    ("amenity", "school", "某某职业高中", set()),
    ("amenity", "school", "某某英语培训学校", set()),
    ("amenity", "school", "实验二小", {P}),
    ("amenity", "childcare", "某某托儿所", {K}),
    ("amenity", "hospital", "某某社区卫生服务中心", {"clinic"}),
    ("amenity", "hospital", "某某镇卫生院", {"clinic"}),
    ("amenity", "clinic", "某某人民医院", {"hospital"}),
    ("amenity", "doctors", "某某诊所", {"clinic"}),
    ("highway", "bus_stop", "八一小学", {"bus_stop"}),
    ("building", "yes", "某某小学", set()),
]


@pytest.mark.parametrize(("key", "value", "name", "expected"), NAME_CASES)
def test_name_rules(key, value, name, expected):
    gdf = gpd.GeoDataFrame({key: [value], "name": [name]}, geometry=[Point(112.5, 37.8)],
                           crs=4326)
    result = classify_facilities(gdf)
    assert set(result.facilities["class"]) == expected


def test_tags_in_other_tags_and_level_tags_win():
    gdf = gpd.GeoDataFrame(
        {
            "name": ["某某中学", "某某学校", None, "某某站"],
            "other_tags": ['"amenity"=>"school","isced:level"=>"1"',
                           '"amenity"=>"school","isced:level"=>"2;3"',
                           '"healthcare"=>"clinic"',
                           '"railway"=>"station","station"=>"subway"'],
        },
        geometry=[Point(112.5, 37.8 + i / 1000) for i in range(4)], crs=4326,
    )
    fac = classify_facilities(gdf, source="x").facilities
    got = fac.groupby("facility_id")["class"].agg(set).to_dict()
    # isced:level=1 on a school named 中学 is a primary school: the explicit tag wins.
    assert got == {"x:0": {P}, "x:1": {M, H}, "x:2": {"clinic"}, "x:3": {"metro_station"}}


def test_user_extended_rules(taiyuan_polygons):
    extra = Rule((M, H), "school", RANK_NAME, any_tags={"amenity": "school"},
                 name="外国语学校", note="name: 外国语学校 (Taiyuan: grades 7-12)")
    result = classify_facilities(taiyuan_polygons, rules=DEFAULT_RULES + (extra,))
    fac = result.facilities
    row = fac[fac["name"] == "太原市外国语学校(漪汾校区)"]
    assert set(row["class"]) == {M, H}
    assert row["matched_by"].str.contains("外国语学校").all()
    assert "way/877693479" not in set(result.unclassified_schools["facility_id"])
    elderly = Rule(("elderly_care",), "elderly", RANK_NAME, any_tags={"amenity": "school"},
                   name="不存在")
    assert classify_facilities(taiyuan_polygons, rules=[elderly]).facilities.empty
    with pytest.raises(ConfigError, match="unknown class"):
        classify_facilities(taiyuan_polygons, rules=[Rule(("school",), "s", 0, name="学")])
    with pytest.raises(ConfigError, match="regular expression"):
        classify_facilities(taiyuan_polygons, rules=[Rule((P,), "s", 0, name="小学(")])
    with pytest.raises(ConfigError, match="no condition"):
        classify_facilities(taiyuan_polygons, rules=[Rule((P,), "s", 0)])


def test_residential_land(taiyuan_polygons):
    res = residential_land(taiyuan_polygons)
    expected = taiyuan_polygons[taiyuan_polygons["landuse"] == "residential"]
    assert len(res) == len(expected) == 76
    assert set(res["residential_id"]) == set(
        ("way/" + expected["osm_way_id"].astype("string")).fillna(
            "relation/" + expected["osm_id"].astype("string")))
    # GDAL writes "" for a missing name; siteplan reads it as missing.
    assert set(res["name"].dropna()) == set(expected["name"].dropna()) - {""}
    assert res.geom_type.isin(["Polygon", "MultiPolygon"]).all()


# ---------------------------------------------------------------------------------------------
# Municipal layers


def _write_csv(path, rows, encoding="utf-8"):
    pd.DataFrame(rows).to_csv(path, index=False, encoding=encoding)
    return path


def test_csv_with_chinese_class_column(tmp_path):
    path = _write_csv(tmp_path / "设施.csv", {
        "名称": ["育红幼儿园", "解放路小学", "杏花实验学校", "桃园社区卫生服务站", "五一广场站"],
        "类别": ["幼儿园", "小学", "九年一贯制", "社区卫生服务站", "地铁站"],
        "lon": [112.55, 112.56, 112.57, 112.58, 112.59],
        "lat": [37.85, 37.86, 37.87, 37.88, 37.89],
    })
    fac = load_facility_layer(path, class_column="类别")
    assert list(fac.columns[:5]) == ["facility_id", "class", "name", "source", "matched_by"]
    got = fac.groupby("name")["class"].agg(set).to_dict()
    assert got == {"育红幼儿园": {K}, "解放路小学": {P}, "杏花实验学校": {P, M},
                   "桃园社区卫生服务站": {"clinic"}, "五一广场站": {"metro_station"}}
    assert len(fac) == 6 and fac["source"].eq("设施.csv").all()
    assert fac.crs.to_epsg() == 4326
    assert set(fac["facility_id"]) == {f"设施.csv:{i}" for i in range(5)}
    np.testing.assert_allclose(fac.geometry.x.unique(), [112.55, 112.56, 112.57, 112.58, 112.59])


def test_gpkg_single_class_and_ids(tmp_path):
    path = tmp_path / "kg.gpkg"
    gpd.GeoDataFrame({"code": ["A1", "A2"], "mc": ["甲幼儿园", "乙幼儿园"]},
                     geometry=[Point(500000, 4190000), Point(500100, 4190000)],
                     crs="EPSG:4547").to_file(path)
    for value in ("kindergarten", "幼儿园", " Kindergarten "):
        fac = load_facility_layer(path, class_=value, id_column="code")
        assert fac["class"].tolist() == [K, K]
        assert fac["facility_id"].tolist() == ["A1", "A2"]
        assert fac["name"].tolist() == ["甲幼儿园", "乙幼儿园"]  # found the 'mc' column
        assert fac.crs.to_epsg() == 4547
    res = load_facilities(path, class_="幼儿园")
    assert len(res.facilities) == 2 and res.unclassified_schools.empty


def test_missing_class_column_is_a_clear_error(tmp_path):
    path = _write_csv(tmp_path / "schools.csv", {"name": ["a"], "type": ["小学"],
                                                  "lon": [112.5], "lat": [37.8]})
    with pytest.raises(InputError) as err:
        load_facility_layer(path, class_column="class")
    text = str(err.value)
    assert str(path) in text and "'class'" in text
    assert "'name', 'type', 'lon', 'lat'" in text and "Fix:" in text and "class_=" in text


def test_bad_class_values_and_declarations(tmp_path):
    path = _write_csv(tmp_path / "f.csv", {"name": ["a", "b", "c"], "kind": ["小学", "学校", "学校"],
                                           "lon": [112.5, 112.6, 112.7], "lat": [37.8] * 3})
    with pytest.raises(InputError, match=r"unknown class value.*'学校' \(2\)") as err:
        load_facility_layer(path, class_column="kind")
    assert "kindergarten" in str(err.value) and "幼儿园" in str(err.value)
    with pytest.raises(InputError, match="unknown class"):
        load_facility_layer(path, class_="school")
    with pytest.raises(ConfigError, match="neither"):
        load_facility_layer(path)
    with pytest.raises(ConfigError, match="both"):
        load_facility_layer(path, class_=P, class_column="kind")
    empty = _write_csv(tmp_path / "e.csv", {"name": ["a", "b"], "kind": ["小学", None],
                                            "lon": [112.5, 112.6], "lat": [37.8] * 2})
    with pytest.raises(InputError, match="no class"):
        load_facility_layer(empty, class_column="kind")
    with pytest.raises(InputError, match="repeated"):
        load_facility_layer(path, class_=P, id_column="lat")
    with pytest.raises(InputError, match="name column"):
        load_facility_layer(path, class_=P, name_column="名称")


def test_gcj02_csv_is_converted(tmp_path):
    lon, lat = np.array([112.5495, 112.5601]), np.array([37.8571, 37.8702])
    glon, glat = wgs84_to_gcj02(lon, lat)
    path = _write_csv(tmp_path / "amap.csv", {"name": ["x", "y"], "lng": glon, "lat": glat})
    fac = load_facility_layer(path, class_=P, coord_system="gcj02")
    metres = fac.to_crs(32649).distance(
        gpd.GeoSeries(shapely.points(lon, lat), crs=4326).to_crs(32649))
    assert metres.max() < 0.01
    raw = load_facility_layer(path, class_=P)
    offset = raw.to_crs(32649).distance(fac.to_crs(32649))
    assert (offset > 100).all()  # GCJ-02 is a few hundred metres off WGS84


def test_load_facilities_dispatch(tmp_path):
    # One Taiyuan polygon is invalid as mapped; reading repairs it and says so.
    with pytest.warns(SiteplanWarning, match="repaired 1 invalid geometry"):
        res = load_facilities(TAIYUAN_POLYGONS)
    assert res.source == TAIYUAN_POLYGONS.name and res.counts()[P] == 19
    with pytest.raises(InputError, match="do not apply"):
        load_facilities(BEIJING_OSM, class_=P)
    bbox = (116.3084, 39.9905, 116.3320, 40.0123)
    small = load_facilities(BEIJING_OSM, bbox=bbox).facilities
    full = load_facilities(BEIJING_OSM).facilities
    inside = full[full.intersects(shapely.box(*bbox))]
    assert 0 < len(small) < len(full)
    # Merged stops and stations sit at their members' centroid, which the box may cut: those
    # are compared by member.
    merged = {"bus_stop", "metro_station"}
    a, b = small[~small["class"].isin(merged)], inside[~inside["class"].isin(merged)]
    assert set(zip(a["facility_id"], a["class"], strict=True)) == set(
        zip(b["facility_id"], b["class"], strict=True))

    def members(frame):
        frame = frame[frame["class"].isin(merged)]
        return {i for fid, m in zip(frame["facility_id"], frame["merged_ids"], strict=True)
                for i in (m.split(";") if isinstance(m, str) else [fid])}

    assert members(small) <= members(full) and members(small)


def test_classify_needs_crs():
    gdf = gpd.GeoDataFrame({"amenity": ["school"], "name": ["某小学"]}, geometry=[Point(0, 0)])
    with pytest.raises(InputError, match="no CRS"):
        classify_facilities(gdf)


def test_rules_table_is_consistent():
    # Every rule names known classes and compiles; every class can be reached by some rule.
    reached = {c for rule in DEFAULT_RULES for c in rule.classes}
    assert reached == set(CLASSES)
    for rule in DEFAULT_RULES:
        for pattern in [*rule.tags.values(), *rule.any_tags.values(), rule.name or ""]:
            re.compile(pattern)
