"""A new city in one command: ``siteplan init`` and ``siteplan parcels``.

The block rules are checked on a hand-made OSM file whose answer is known (a 600 m x 400 m
square of streets cut by a railway and a river into four 6 ha blocks, one of them a park), the
transport rule on hand-made stops, and the whole chain end to end on real extracts: the
Beijing .osm of tests/data and pyrosm's bundled test .osm.pbf, each initialised and then run
by ``siteplan run`` with no edits.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from test_cli import SHOWS_NO_TIANDITU_KEY, _cli

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.version import __version__
from siteplan.init_study.blocks import BlockOptions, make_parcels
from siteplan.init_study.build import init_study
from siteplan.init_study.sources import CITY_TAGS, read_city
from siteplan.init_study.survey import choose_transport
from siteplan.study.model import load_study

ROOT = Path(__file__).resolve().parents[1]
BEIJING = ROOT / "tests" / "data" / "beijing_haidian_pku_tsinghua_2017.osm"
TAIYUAN = ROOT / "data" / "taiyuan"
UTM = "EPSG:32650"  # Beijing's UTM zone: the hand-made city's metres
ORIGIN = (440_000.0, 4_427_000.0)



@pytest.mark.parametrize("name", ["init", "parcels"])
def test_the_new_commands_are_listed_with_an_example(capsys, name):
    code, out, _ = _cli(capsys, "--help")
    assert code == 0 and name in out
    code, out, _ = _cli(capsys, name, "--help")
    assert code == 0 and "Example: siteplan " + name in " ".join(out.split())


def test_version_prints_the_package_version(capsys):
    code, out, _ = _cli(capsys, "--version")
    assert code == 0 and out.strip() == f"siteplan {__version__}"
    assert __version__ != "0+unknown"  # the installed package's metadata


# ------------------------------------------------------------------------------ hand-made city


def _osm_xml(ways: list[tuple[dict[str, str], list[tuple[float, float]]]],
             nodes: list[tuple[dict[str, str], tuple[float, float]]] = ()) -> str:
    """An .osm file of ways (tags, metre coordinates) and tagged nodes; shared points, one node."""
    to_lonlat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    ids: dict[tuple[float, float], int] = {}
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']

    def node(xy: tuple[float, float], tags: dict[str, str] | None = None) -> int:
        if xy in ids and not tags:
            return ids[xy]
        nid = len(ids) + 1 if tags is None else 10_000 + len(out)
        lon, lat = to_lonlat.transform(ORIGIN[0] + xy[0], ORIGIN[1] + xy[1])
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in (tags or {}).items())
        out.append(f'<node id="{nid}" lat="{lat:.7f}" lon="{lon:.7f}">{body}</node>')
        if tags is None:
            ids[xy] = nid
        return nid

    way_xml = []
    for i, (tags, coords) in enumerate(ways, start=1):
        refs = "".join(f'<nd ref="{node(xy)}"/>' for xy in coords)
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        way_xml.append(f'<way id="{i}">{refs}{body}</way>')
    for tags, xy in nodes:
        node(xy, tags)
    return "\n".join([*out, *way_xml, "</osm>"])


def _square_city(tmp_path: Path, *, park: bool = True) -> Path:
    """600 m x 400 m of streets; a railway (x = 300) and a river (y = 200) cut it in four."""
    ring = [(0.0, 0.0), (600.0, 0.0), (600.0, 400.0), (0.0, 400.0), (0.0, 0.0)]
    ways = [({"highway": "residential"}, ring),
            ({"railway": "rail"}, [(300.0, -50.0), (300.0, 450.0)]),
            ({"waterway": "river"}, [(-50.0, 200.0), (650.0, 200.0)]),
            # A footway inside a block does not cut it (estate paths).
            ({"highway": "footway"}, [(-20.0, 100.0), (320.0, 100.0)]),
            ({"landuse": "residential"}, [(310.0, 10.0), (590.0, 10.0), (590.0, 190.0),
                                          (310.0, 190.0), (310.0, 10.0)])]
    if park:  # covers the north-west block
        ways.append(({"leisure": "park"}, [(5.0, 205.0), (295.0, 205.0), (295.0, 395.0),
                                           (5.0, 395.0), (5.0, 205.0)]))
    path = tmp_path / "square.osm"
    path.write_text(_osm_xml(ways, [({"amenity": "kindergarten", "name": "示范幼儿园"},
                                     (150.0, 0.0))]), encoding="utf-8")
    return path


def test_blocks_are_bounded_by_streets_rail_and_water(tmp_path):
    osm = _square_city(tmp_path)
    blocks = make_parcels(osm, tmp_path / "parcels.gpkg")
    # Four 300 m x 200 m faces; the park's is dropped as covered (0.92 of it is park).
    assert blocks.attrs["counts"]["faces"] == 4
    assert blocks.attrs["counts"]["dropped_covered"] == 1
    assert len(blocks) == 3
    np.testing.assert_allclose(blocks["area_m2"], 60_000.0, rtol=1e-4)
    # The residential land use covers 0.84 of the south-east block: it gets 0701.
    codes = blocks.set_index("parcel_id")["landuse_code"]
    assert codes.notna().sum() == 1 and codes.dropna().tolist() == ["0701"]
    written = pyogrio.read_dataframe(tmp_path / "parcels.gpkg", layer="parcels")
    assert written["parcel_id"].tolist() == blocks["parcel_id"].tolist() == [
        "B-0001", "B-0002", "B-0003"]


def test_block_options_decide_what_bounds_a_block(tmp_path):
    osm = _square_city(tmp_path, park=False)
    out = tmp_path / "p.gpkg"
    no_rail = make_parcels(osm, out, options=BlockOptions(rail=False))
    assert len(no_rail) == 2
    np.testing.assert_allclose(no_rail["area_m2"], 120_000.0, rtol=1e-4)
    neither = make_parcels(osm, out, options=BlockOptions(rail=False, water=False))
    assert len(neither) == 1 and neither["area_m2"].iloc[0] == pytest.approx(240_000, rel=1e-4)
    # The area range: 6 ha blocks fall outside 7-50 ha, so nothing is left: a clear error.
    with pytest.raises(InputError, match="no street block") as err:
        make_parcels(osm, out, options=BlockOptions(min_ha=7.0))
    assert "--min-ha" in str(err.value.fix)
    # The footway is read but bounds nothing: with every line, it splits a block in two.
    every = make_parcels(osm, out, options=BlockOptions(all_lines=True, min_ha=0.1))
    assert len(every) == 5


def test_parcels_command_writes_the_blocks(capsys, tmp_path):
    osm = _square_city(tmp_path)
    out = tmp_path / "blocks.gpkg"
    code, text, _ = _cli(capsys, "parcels", str(osm), "--out", str(out), "--id-prefix", "SQ-",
                         "--far", "1.8", "--no-water")
    assert code == 0, text
    # Without the river: two 12 ha halves; the park covers 46 % of the west one, so it stays.
    assert "2 parcels" in text and "0 mostly parks" in text
    got = pyogrio.read_dataframe(out, layer="parcels")
    assert got["parcel_id"].tolist() == ["SQ-0001", "SQ-0002"]
    assert (got["far"] == 1.8).all()
    code, _, err = _cli(capsys, "parcels", str(tmp_path / "none.osm"), "--out", str(out))
    assert code == 2 and "file not found" in err
    code, _, err = _cli(capsys, "parcels", str(osm), "--out", str(out), "--min-ha", "5",
                        "--max-ha", "1")
    assert code == 2 and "min_ha <= max_ha" in err and "--min-ha 0.5 --max-ha 50" in err


def test_parcels_command_reproduces_the_bundled_taiyuan_blocks(tmp_path):
    """The bundled demo parcels were built by the same rules (scripts/make_taiyuan_parcels.py)."""
    with pytest.warns(SiteplanWarning, match="repaired 1 invalid geometry"):  # as mapped
        blocks = make_parcels(TAIYUAN / "taiyuan_osm_lines.geojson", tmp_path / "p.gpkg",
                              features=TAIYUAN / "taiyuan_osm_multipolygons.geojson",
                              options=BlockOptions(id_prefix="TY-"))
    bundled = pyogrio.read_dataframe(TAIYUAN / "parcels.gpkg", layer="parcels")
    assert blocks["parcel_id"].tolist() == bundled["parcel_id"].tolist()
    np.testing.assert_allclose(blocks["area_m2"], bundled["area_m2"])
    assert blocks["landuse_code"].fillna("").tolist() == bundled["landuse_code"].fillna(
        "").tolist()


# ------------------------------------------------------------------------------------ transport


def _corridor(stops_x: list[float]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    lines = gpd.GeoDataFrame({"highway": ["primary"]},
                             geometry=[shapely.LineString([(0, 0), (4000, 0)])], crs=UTM)
    fac = gpd.GeoDataFrame({"class": ["bus_stop"] * len(stops_x)},
                           geometry=[shapely.Point(x, 15) for x in stops_x], crs=UTM)
    return lines, fac


def test_mapped_stops_are_used_when_they_cover_the_corridors():
    bus, metro = choose_transport(*_corridor([float(x) for x in range(0, 4001, 500)]))
    assert bus.use == "bus_stop" and bus.share == 1.0 and bus.n_proxy == 41
    assert metro.use is None and "not scored" in metro.explain()


def test_a_few_stops_give_way_to_the_labelled_proxy():
    # Two stops at one end: proxy points up to 500 m from them are x <= 500 m, 6 of 41.
    bus, _ = choose_transport(*_corridor([0.0, 10.0]))
    assert bus.share == pytest.approx(6 / 41)
    assert bus.use == "bus_corridor"
    assert "PROXY bus_corridor" in bus.explain() and "15%" in bus.explain()


def test_stops_without_corridors_are_used_as_they_are():
    lines = gpd.GeoDataFrame({"highway": ["residential"]},
                             geometry=[shapely.LineString([(0, 0), (900, 0)])], crs=UTM)
    fac = gpd.GeoDataFrame({"class": ["bus_stop"]}, geometry=[shapely.Point(0, 5)], crs=UTM)
    bus, _ = choose_transport(lines, fac)
    assert bus.use == "bus_stop" and bus.share is None and bus.n_proxy == 0


# ------------------------------------------------------------------------------------ init


def test_init_writes_a_study_for_what_the_data_has(tmp_path):
    osm = _square_city(tmp_path)
    res = init_study(osm, tmp_path / "study")
    study = load_study(res.study)
    # A kindergarten node and a park: their criteria; no schools: none, and the report says so.
    assert [c.name for c in study.criteria] == ["kindergarten_walk", "parks_nearby",
                                                "block_shape", "block_size"]
    report = res.files["report"].read_text(encoding="utf-8")
    assert "no primary_school in the data" in report and "no middle_school" in report
    assert "none mapped and no bus corridor" in report
    assert study.inputs.parcels is not None and study.inputs.parcels.id_column == "parcel_id"
    lines = pyogrio.read_dataframe(res.files["osm"], layer="lines")
    # Rail and the river are kept with the streets (block edges; the metro proxy's track).
    assert sorted(lines["railway"].dropna()) == ["rail"]
    assert sorted(lines["waterway"].dropna()) == ["river"]
    with pytest.raises(InputError, match="already holds a study"):
        init_study(osm, tmp_path / "study")
    again = init_study(osm, tmp_path / "study", force=True, name='方形城市\n[study]\nname = "x"')
    assert load_study(again.study).study.name == '方形城市\n[study]\nname = "x"'  # quoted


def test_init_from_a_line_layer_uses_the_labelled_proxies(tmp_path):
    """Taiyuan's extract maps 15 bus platforms and one metro station: too few to measure by."""
    with pytest.warns(SiteplanWarning, match="repaired 1 invalid geometry"):
        res = init_study(TAIYUAN / "taiyuan_osm_lines.geojson", tmp_path / "ty",
                         features=TAIYUAN / "taiyuan_osm_multipolygons.geojson")
    bus, metro = res.survey.transport
    assert (bus.use, metro.use) == ("bus_corridor", "metro_line")
    assert bus.share is not None and bus.share < 0.1
    text = res.study.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    assert raw["classes"]["bus_corridor"]["description"].startswith("PROXY")
    assert {c["class"] for c in raw["criteria"] if "class" in c} >= {"bus_corridor",
                                                                     "metro_line"}
    assert len(pyogrio.read_dataframe(res.files["parcels"])) == 1328
    report = res.files["report"].read_text(encoding="utf-8")
    assert "15 mapped, within 500 m of 4% of the bus_corridor proxy's" in report
    assert "(< 50%: too few mapped)" in report and "Proxies are labelled" in report


def test_init_refuses_a_line_layer_without_highway_tags(tmp_path):
    layer = tmp_path / "roads.gpkg"
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.LineString([(0, 0), (500, 0)])],
                     crs=UTM).to_file(layer)
    with pytest.raises(InputError, match="highway") as err:
        init_study(layer, tmp_path / "s")
    assert "--all-lines" in str(err.value.fix)
    assert not (tmp_path / "s" / "study.toml").exists()


def test_init_from_a_cached_overpass_query_needs_no_network(tmp_path):
    """A place or bbox goes to Overpass through the cache; a cached answer is read offline."""
    from siteplan.osm.features import features_from_elements, lines_from_elements
    from siteplan.osm.overpass import cache_key, write_osm_cache
    from siteplan.osm.parse import parse_osm

    bbox = (116.30, 39.99, 116.33, 40.01)
    el = parse_osm(BEIJING, bbox)
    cache = tmp_path / "cache"
    write_osm_cache(cache / f"{cache_key(bbox, 'walk', CITY_TAGS)}.gpkg",
                    lines_from_elements(el, bbox), features_from_elements(el, CITY_TAGS, bbox))
    city = read_city("116.30,39.99,116.33,40.01", cache_dir=cache)
    assert city.kind == "overpass" and len(city.lines) > 100
    res = init_study("116.30,39.99,116.33,40.01", tmp_path / "q", cache_dir=cache)
    assert load_study(res.study).study.name == "116.30,39.99,116.33,40.01"


@pytest.mark.slow
@SHOWS_NO_TIANDITU_KEY
@pytest.mark.filterwarnings("always:.*the facility data has no:siteplan.core.errors.SiteplanWarning")
@pytest.mark.parametrize("source", ["beijing", "pbf"])
def test_init_then_run_works_with_no_edits(capsys, tmp_path, source):
    import pyrosm

    path = str(BEIJING) if source == "beijing" else pyrosm.get_data("test_pbf")
    folder = tmp_path / source
    lang = ["--lang", "zh"] if source == "pbf" else []  # what init prints follows --lang
    code, out, err = _cli(capsys, "init", path, "--out", str(folder), *lang)
    assert code == 0, err
    if lang:
        assert f"下一步：siteplan run {folder / 'study.toml'}" in out
        assert "地块：" in out and "交通：公交站：" in out and "数据缺失：" in out
        assert "Transport" in (folder / "REPORT.md").read_text(encoding="utf-8")
    else:
        assert f"Next: siteplan run {folder / 'study.toml'}" in out
    code, out, err = _cli(capsys, "run", str(folder / "study.toml"))
    assert code == 0, err
    assert "error" not in err
    outputs = folder / "outputs"
    shortlist = pd.read_csv(outputs / "shortlist.csv")
    parcels = pyogrio.read_dataframe(folder / "parcels.gpkg", layer="parcels")
    assert len(parcels) >= 15
    assert sorted(shortlist["parcel_id"]) == sorted(parcels["parcel_id"])  # every block, ranked
    assert shortlist["rank"].min() == 1 and shortlist["score"].notna().any()
    maps = list(outputs.glob("*.html"))
    assert len(maps) == 1 and parcels["parcel_id"].iloc[0] in maps[0].read_text(encoding="utf-8")
    assert list(outputs.glob("*.png"))
    study = load_study(folder / "study.toml")
    classes = {c.facility_class for c in study.criteria} - {None}
    if source == "beijing":  # 68 bus stops and 16 stations, mapped well: no proxy
        assert classes == {"kindergarten", "primary_school", "middle_school", "hospital",
                           "park", "bus_stop", "metro_station"}
    else:  # a small Finnish town: 36 bus stops, one kindergarten, one park, no metro
        assert classes == {"kindergarten", "park", "bus_stop"}
