"""The interactive planning map: layers, popups, escaping, offline assets, size, determinism.

The browser-side behaviour (what Chromium draws and runs) is in test_browser.py; this module
checks the HTML itself.  ``synthetic_layers`` builds a small study in the pipeline's column
contract and is shared with test_browser.py and test_staticmap.py.
"""

from __future__ import annotations

import json
import re
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.core.labels import label
from siteplan.outputs.maps.assets import js_json, map_html
from siteplan.outputs.maps.webmap import make_map, save_map

XSS = "<img src=x onerror=alert(1)>"
METRIC = "EPSG:32649"  # UTM 49N, Taiyuan
ORIGIN = (640_000.0, 4_190_000.0)
CRITERIA = [("kg_dist", "Distance to kindergarten", "至幼儿园距离", 0.6),
            ("area", "Parcel area", "地块面积", 0.4)]


def _parcel_shapes(n: int, vertices: int, size: float = 80.0, gap: float = 15.0) -> np.ndarray:
    """``n`` parcels on a grid, each a wobbly ring of ``vertices`` points (wobble ~3 m, so
    display simplification at 1 m keeps most vertices: a realistic, not a best, case)."""
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    cx = ORIGIN[0] + (i % side) * (size + gap)
    cy = ORIGIN[1] + (i // side) * (size + gap)
    t = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    rng = np.random.default_rng(7)
    r = size / 2 * (0.85 + 0.1 * rng.random((n, vertices)))
    x = cx[:, None] + r * np.cos(t)[None, :]
    y = cy[:, None] + r * np.sin(t)[None, :]
    coords = np.stack([x, y], axis=-1)
    coords = np.concatenate([coords, coords[:, :1]], axis=1)
    return shapely.polygons(coords)


def synthetic_layers(n: int = 40, vertices: int = 6, crs: str = "EPSG:4326") -> dict:
    """Parcels, catchments, facilities, blind spots and boundary in the pipeline's contract.

    Parcel 0 is named with an XSS payload; every 7th parcel is excluded; the rest are ranked by
    score (1 = best).
    """
    rng = np.random.default_rng(42)
    geoms = _parcel_shapes(n, vertices)
    ids = [f"P-{k:04d}" for k in range(n)]
    excluded = np.arange(n) % 7 == 3
    score = np.round(rng.uniform(5, 95, n), 3)
    score[excluded] = np.nan
    rank = pd.Series(score).rank(ascending=False, method="first").astype("Int64")
    kg = rng.uniform(50, 900, n)
    parcels = gpd.GeoDataFrame({
        "parcel_id": ids,
        "name": [XSS] + [f"地块 {k}" for k in range(1, n)],
        "score": score,
        "rank": rank,
        "excluded": excluded,
        "exclusion_reason": np.where(excluded, "not clean land", ""),
        "exclusion_reason_zh": np.where(excluded, "非净地", ""),
        "kg_dist_raw": kg,
        "kg_dist_points": np.clip(100 - kg / 9, 0, 100),
        "area_raw": shapely.area(geoms) / 1e4,
        "area_points": rng.uniform(0, 100, n),
        "meets_kindergarten_radius": kg <= 300,
        "meets_primary_school_radius": rng.random(n) < 0.7,
        "meets_middle_school_radius": np.ones(n, dtype=bool),
        "compliance_required": np.where(kg <= 300, "", "must provide a kindergarten"),
        "compliance_required_zh": np.where(kg <= 300, "", "须配建幼儿园"),
        "required_childcare_places": rng.integers(10, 80, n),
        "required_parking_spaces": rng.integers(100, 900, n),
        "dist_kindergarten_m": kg,
        "dist_primary_school_m": rng.uniform(100, 1500, n),
    }, geometry=geoms, crs=METRIC)
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    fac_xy = np.array([[xmin + 100, ymin + 100], [xmax - 100, ymax - 100],
                       [(xmin + xmax) / 2, ymin + 50], [xmin + 50, ymax - 50]])
    fac_geom = list(shapely.points(fac_xy[:3])) + [shapely.box(*(fac_xy[3] - 20),
                                                                 *(fac_xy[3] + 20))]
    facilities = gpd.GeoDataFrame({
        "facility_id": ["F1", "F2", "F3", "F4"],
        "class": ["kindergarten", "primary_school", "middle_school", "hospital"],
        "name": ["阳光幼儿园", "第一小学", "</script><script>alert(2)</script>", "人民医院"],
        "source": ["osm", "osm", "bureau", "osm"],
    }, geometry=fac_geom, crs=METRIC)
    radius = {"kindergarten": 300.0, "primary_school": 500.0, "middle_school": 1000.0,
              "hospital": 800.0}
    catchments = gpd.GeoDataFrame({
        "facility_id": facilities["facility_id"],
        "class": facilities["class"],
        "radius_m": facilities["class"].map(radius),
    }, geometry=[shapely.buffer(shapely.point_on_surface(g), radius[c] * 0.7)
                 for g, c in zip(fac_geom, facilities["class"], strict=True)], crs=METRIC)
    blind = gpd.GeoDataFrame({"class": ["kindergarten"], "name": ["盲区 1"], "area_m2": [4.0e4]},
                             geometry=[shapely.box(xmax - 200, ymin, xmax, ymin + 200)],
                             crs=METRIC)
    boundary = gpd.GeoDataFrame(geometry=[shapely.box(xmin - 30, ymin - 30, xmax + 30, ymax + 30)],
                                crs=METRIC)
    out = {"parcels": parcels, "catchments": catchments, "facilities": facilities,
           "blind_spots": blind, "boundary": boundary}
    return {k: v.to_crs(crs) for k, v in out.items()}


def build(layers: dict, **kw) -> object:
    with warnings.catch_warnings():
        # The tests have no Tianditu key: those basemaps are left out, with this warning.
        warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
        return make_map(layers["parcels"], catchments=layers["catchments"],
                        facilities=layers["facilities"], blind_spots=layers["blind_spots"],
                        boundary=layers["boundary"], criteria=kw.pop("criteria", CRITERIA), **kw)


# ----------------------------------------------------------------------------- helpers


def calls(html: str, factory: str) -> list[list]:
    """The JSON arguments of every ``factory(...)`` call in the page, decoded."""
    dec = json.JSONDecoder()
    out = []
    html = html[html.rindex("<body>"):]  # the map's script, not the inlined libraries
    for match in re.finditer(re.escape(factory) + r"\((map_\d+,?)?", html):
        pos, args = match.end(), []  # JsCall's first argument is the map variable
        while html[pos] != ")":
            value, pos = dec.raw_decode(html, pos)
            args.append(value)
            pos += html[pos] == ","
        out.append(args)
    return out


def layer_names(html: str) -> list[str]:
    """Names in the layer control, in order (basemaps, then overlays)."""
    block = html[html.index("base_layers : {"):html.index("new SP.LayerControl(")]
    return [json.loads(s) for s in re.findall(r'^\s*("(?:[^"\\]|\\.)*")\s*:', block, re.M)]


@pytest.fixture(scope="module")
def layers() -> dict:
    return synthetic_layers(40, 8)


@pytest.fixture(scope="module")
def page(layers) -> str:
    return map_html(build(layers))


# ----------------------------------------------------------------------------- tests


def test_same_input_gives_the_same_bytes(layers, tmp_path):
    a = save_map(build(layers), tmp_path / "a.html").read_bytes()
    b = save_map(build(layers), tmp_path / "b.html").read_bytes()
    assert a == b
    m = build(layers)
    assert map_html(m) == map_html(m)  # rendering twice does not change the map


def test_inputs_are_not_modified(layers):
    before = {k: v.copy() for k, v in layers.items()}
    build(layers)
    for k, v in layers.items():
        pd.testing.assert_frame_equal(v, before[k])


def test_offline_page_links_nothing_and_inlines_leaflet(page):
    assert not re.search(r"<(script|link)\b[^>]*\b(src|href)=", page, re.I)
    assert re.search(r'version\s*=\s*"1\.9\.3"', page)  # Leaflet itself, from xstatic-leaflet
    assert "url(data:image/png;base64," in page  # its layer-control icon
    assert "jsdelivr" not in page and "unpkg" not in page


def test_online_page_links_leaflet_from_the_cdn(layers):
    html = map_html(build(layers, offline=False))
    assert '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js">' in html
    assert 'href="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"' in html
    # OSM is the opening basemap online.
    tiles = calls(html, "SP.tiles")
    assert tiles[0][0][0]["url"] == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


def test_data_text_is_escaped(page):
    assert XSS not in page
    assert "</script><script>alert(2)" not in page
    assert "alert(2)" in page  # the facility name is there, escaped
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in page


def test_every_layer_is_its_own_toggle(page, layers):
    names = layer_names(page)
    assert names[:3] == ["无底图 / No basemap", "OpenStreetMap",
                         "浅色底图 (OSM 灰度) / Light (OSM greyscale)"]
    overlays = names[3:]
    for cls in layers["catchments"]["class"]:
        assert sum("Catchment" in n and label(cls, "en") in n for n in overlays) == 1
    for cls in layers["facilities"]["class"]:
        assert sum("Facilities" in n and label(cls, "en") in n for n in overlays) == 1
    for word in ("Candidate parcels", "Excluded parcels", "Top 10 ranks", "blind spots",
                 "Study boundary"):
        assert sum(word in n for n in overlays) == 1, word


def test_parcel_layers_hold_every_parcel_once_with_its_colour_and_popup(page, layers):
    p = layers["parcels"]
    geo = {args[1].get("className"): args[0] for args in calls(page, "SP.geoLayer")}
    scored, excluded = geo["sp-parcel"], geo["sp-parcel sp-excluded"]
    assert sorted(scored["id"] + excluded["id"]) == sorted(p["parcel_id"])
    assert set(excluded["id"]) == set(p.loc[p["excluded"], "parcel_id"])
    assert set(excluded["c"]) == {"#9e9e9e"}
    # Colour ramp, recomputed here: linear between the 5 RdYlBu stops at 0, 25, ..., 100.
    stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)]
                      for c in ("#d7191c", "#fdae61", "#ffffbf", "#abd9e9", "#2c7bb6")], float)
    for pid, c in zip(scored["id"], scored["c"], strict=True):
        t = p.set_index("parcel_id").loc[pid, "score"] / 25.0
        i = min(int(t), 3)
        want = stops[i] + (stops[i + 1] - stops[i]) * (t - i)
        got = np.array([int(c[k:k + 2], 16) for k in (1, 3, 5)])
        assert np.abs(got - want).max() <= 6, (pid, c)  # colours are per whole score point
    # Tooltips: id and score, one decimal.
    row = p.iloc[1]
    i = scored["id"].index(row["parcel_id"])
    assert scored["t"][i] == f"{row['parcel_id']} · 得分 / Score {row['score']:.1f}"


def test_rank_labels_are_the_top_n(layers):
    for top_n in (3, 10):
        html = map_html(build(layers, top_n=top_n))
        (rows, pane), = calls(html, "SP.rankLayer")
        assert sorted(r[2] for r in rows) == list(range(1, top_n + 1))
        assert pane == "sp-ranks"
    html = map_html(build(layers, top_n=0))
    assert calls(html, "SP.rankLayer") == []


def _wobbly_parcel(dx: float = 0.0) -> shapely.Polygon:
    # A 200 m x 100 m parcel whose south edge has 2001 vertices wobbling ±0.2 m.
    x = np.linspace(0, 200, 2001)
    ring = np.column_stack([np.r_[x, 200, 0] + dx, np.r_[0.2 * np.sin(x), 100, 100]])
    return shapely.Polygon(ring)


def _shown(gdf: gpd.GeoDataFrame) -> list[shapely.Polygon]:
    html = map_html(build({"parcels": gdf, "catchments": None, "facilities": None,
                           "blind_spots": None, "boundary": None}))
    g = [x for args in calls(html, "SP.geoLayer") for x in args[0]["g"]]
    assert not re.search(r"\d\.\d{7,}", json.dumps(g))  # at most 6 decimals (about 0.1 m)
    polys = [shapely.Polygon(np.array(x["coordinates"][0])) for x in g]
    return list(gpd.GeoSeries(polys, crs=4326).to_crs(METRIC))


def test_display_geometry_is_simplified_and_rounded():
    # Overlapping parcels are no coverage: each is simplified on its own (Douglas-Peucker, 1 m).
    polys = [_wobbly_parcel(), _wobbly_parcel(dx=50)]
    gdf = gpd.GeoDataFrame({"parcel_id": ["A", "B"], "score": [50.0, 60.0]}, geometry=polys,
                           crs=METRIC)
    for shown, poly in zip(_shown(gdf), polys, strict=True):
        assert 4 <= len(shown.exterior.coords) <= 8
        assert shapely.hausdorff_distance(shown, poly) < 1.0
    # One parcel is a (trivial) coverage: Visvalingam-Whyatt with triangles under ~1 m².
    (shown,) = _shown(gdf.iloc[:1])
    assert len(shown.exterior.coords) < 100
    assert shapely.hausdorff_distance(shown, polys[0]) < 1.0


def test_shared_edges_stay_shared_after_simplification():
    # Two parcels sharing a noisy edge (a valid coverage): no sliver opens between them.
    y = np.linspace(0, 100, 401)
    edge = np.column_stack([50 + 0.3 * np.sin(y), y])
    left = shapely.Polygon(np.vstack([[[0, 100], [0, 0]], edge]))
    right = shapely.Polygon(np.vstack([edge, [[100, 100], [100, 0]]]))
    gdf = gpd.GeoDataFrame({"parcel_id": ["L", "R"], "score": [10.0, 90.0]},
                           geometry=[left, right], crs=METRIC)
    html = map_html(build({"parcels": gdf, "catchments": None, "facilities": None,
                           "blind_spots": None, "boundary": None}))
    g = calls(html, "SP.geoLayer")[0][0]["g"]
    a, b = (shapely.Polygon(np.array(x["coordinates"][0])) for x in g)
    assert len(a.exterior.coords) < 200  # simplified
    union = shapely.union(a, b)
    assert shapely.area(shapely.intersection(a, b)) < 1e-14
    assert len(shapely.get_parts(union)) == 1 and len(union.interiors) == 0


def test_tianditu_needs_a_key(layers, monkeypatch):
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    with pytest.warns(SiteplanWarning, match="Tianditu"):
        html = map_html(make_map(layers["parcels"]))
    assert "tianditu" not in html
    monkeypatch.setenv("TIANDITU_KEY", "abc&<def")
    html = map_html(make_map(layers["parcels"], basemap="tianditu_img"))
    urls = [s["url"] for args in calls(html, "SP.tiles") for s in args[0]]
    for layer in ("vec_w", "cva_w", "img_w", "cia_w"):
        assert sum(f"tianditu.gov.cn/{layer}/wmts" in u for u in urls) == 1
    assert all(u.endswith("tk=abc%26%3Cdef") for u in urls if "tianditu" in u)
    # The chosen basemap opens first; each carries its own credit.
    first = calls(html, "SP.tiles")[0][0]
    assert [s["url"].split("/")[3].split("?")[0] for s in first] == ["img_w", "cia_w"]
    assert all("天地图" in s["options"]["attribution"] for s in first)
    html = map_html(make_map(layers["parcels"], tianditu_key="k1"))
    urls = [s["url"] for args in calls(html, "SP.tiles") for s in args[0]]
    tdt = [u for u in urls if "tianditu" in u]
    assert len(tdt) == 4 and all(u.endswith("tk=k1") for u in tdt)  # the argument wins


def test_osm_credit_is_always_there(layers):
    html = map_html(build(layers, basemap="none"))
    (credit,), = calls(html, "SP.credit")
    assert "OpenStreetMap" in credit and "contributors" in credit


def test_criteria_labels_and_weights_from_a_study(layers):
    from siteplan.outputs.maps.style import criteria_meta

    class Crit:
        def __init__(self, name, lab, zh):
            self.name, self.label, self.label_zh, self.kind = name, lab, zh, "attribute"

    class FakeStudy:  # the two attributes make_map reads from siteplan.study.model.Study
        criteria = [Crit("kg_dist", "KG distance", "幼儿园距离"), Crit("area", None, None)]

        def weights_vector(self):
            return {"kg_dist": 0.75, "area": 0.25}

    meta = criteria_meta(FakeStudy(), layers["parcels"])
    assert meta[0] == ("kg_dist", "KG distance", "幼儿园距离", 0.75)
    assert meta[1][0] == "area" and meta[1][3] == 0.25
    html = map_html(build(layers, criteria=FakeStudy()))
    head = calls(html, "SP.geoLayer")[0][1]["head"]
    assert any(r.get("l") == "幼儿园距离 / KG distance (权重 / weight 75%)" for r in head)
    # Without metadata, criteria come from the X_raw / X_points column pairs.
    assert [c[0] for c in criteria_meta(None, layers["parcels"])] == ["kg_dist", "area"]


@pytest.mark.filterwarnings("ignore:no Tianditu key")
def test_bad_input_raises_input_errors(layers):
    p = layers["parcels"]
    with pytest.raises(InputError, match="parcel_id"):
        make_map(p.drop(columns="parcel_id"))
    with pytest.raises(InputError, match="unique"):
        make_map(p.assign(parcel_id="same"))
    with pytest.raises(InputError, match="CRS"):
        make_map(p.set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="GeoDataFrame"):
        make_map(pd.DataFrame(p.drop(columns="geometry")))
    with pytest.raises(InputError, match="polygons"):
        make_map(p.assign(geometry=p.representative_point()))
    with pytest.raises(InputError, match="basemap"):
        make_map(p, basemap="google")
    with pytest.raises(InputError, match="class"):
        make_map(p, facilities=layers["facilities"].drop(columns="class"))


def test_5000_parcel_map_stays_under_15_mb(tmp_path):
    big = synthetic_layers(5000, 24)
    path = save_map(build(big), tmp_path / "big.html")
    size = path.stat().st_size
    print(f"5,000 parcels x 24 vertices, all layers: {size / 1e6:.2f} MB")
    assert size < 15e6
    html = path.read_text(encoding="utf-8")
    geo = {args[1].get("className"): args[0] for args in calls(html, "SP.geoLayer")}
    assert len(geo["sp-parcel"]["id"]) + len(geo["sp-parcel sp-excluded"]["id"]) == 5000


def test_js_json_cannot_end_the_script():
    text = js_json({"a": "</script><!-- & \u2028", "b": [1.5, None]})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028", "b": [1.5, None]}
    with pytest.raises(ValueError):
        js_json(float("nan"))


def test_proposed_sites_get_their_own_layers_and_legend_rows(layers):
    parcels = layers["parcels"]
    pts = parcels.geometry.representative_point().iloc[:3]
    sites = gpd.GeoDataFrame({"method": ["greedy"] * 3, "rank": [1, 2, 3],
                              "site_id": ["<b>S1</b>", "S2", "S3"],
                              "marginal": [300.0, 200.0, 100.0]}, geometry=pts.values,
                             crs=parcels.crs)
    catch = sites.assign(geometry=sites.to_crs(METRIC).buffer(100).to_crs(parcels.crs).values)
    plain = map_html(build(layers))
    html = map_html(build(layers, proposed_sites=sites, proposed_catchments=catch))
    names = layer_names(html)
    assert "拟建选址 / Proposed site (greedy)" in names
    assert "拟建服务范围 / Proposed catchment (greedy)" in names
    assert not any("Proposed" in n for n in layer_names(plain))
    legend = calls(html, "SP.legend")[0][0]
    assert "拟建选址 / Proposed sites" in legend and "拟建服务范围 / Proposed catchments" in legend
    assert "Proposed" not in calls(plain, "SP.legend")[0][0]
    assert "<b>S1</b>" not in html  # the site id is data, shown escaped


def test_custom_tile_server_basemap_opens_first_with_its_credit(layers):
    url = "https://tiles.zrzyj.example/{z}/{x}/{y}.png"
    html = map_html(make_map(layers["parcels"], tiles_url=url, tianditu_key="k",
                             tiles_attribution="<b>市测绘院</b> & OSM"))
    first = calls(html, "SP.tiles")[0][0]
    assert first == [{"url": url, "options": {"maxZoom": 20, "attribution":
                                              "&lt;b&gt;市测绘院&lt;/b&gt; &amp; OSM"}}]
    assert layer_names(html)[0] == label("basemap_custom")
    # Without an attribution the server's host name is credited; "none" still opens bare.
    html = map_html(make_map(layers["parcels"], tiles_url=url, basemap="none", tianditu_key="k"))
    assert calls(html, "SP.tiles")[0][0] == []
    custom = [a[0] for a in calls(html, "SP.tiles") if a[0] and a[0][0]["url"] == url]
    assert custom[0][0]["options"]["attribution"] == "tiles.zrzyj.example"
    with pytest.raises(InputError, match=r"\{z\}"):
        make_map(layers["parcels"], tiles_url="https://tiles.example/tile.png", tianditu_key="k")
    with pytest.raises(InputError, match="tile URL"):
        make_map(layers["parcels"], basemap="custom", tianditu_key="k")
