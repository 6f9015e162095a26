"""The static PNG map: layers, legend, north arrow, true scale bar, credit, Chinese text."""

from __future__ import annotations

import importlib.util
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import Rectangle
from PIL import Image
from test_webmap import synthetic_layers

from siteplan.core.errors import SiteplanWarning
from siteplan.core.labels import label
from siteplan.outputs.maps import staticmap
from siteplan.outputs.maps.staticmap import save_static_map, static_map


@pytest.fixture(scope="module")
def layers() -> dict:
    return synthetic_layers(40, 8)


def draw(layers: dict, **kw):
    return static_map(layers["parcels"], catchments=layers["catchments"],
                      facilities=layers["facilities"], blind_spots=layers["blind_spots"],
                      boundary=layers["boundary"], **kw)


def all_text(fig) -> str:
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    return "\n".join(t for t in texts if isinstance(t, str))


def test_png_is_drawn_with_every_element(layers, tmp_path):
    fig = draw(layers, figsize=(8, 8), dpi=100)
    path = save_static_map(fig, tmp_path / "map.png")
    px = np.asarray(Image.open(path).convert("RGB"), dtype=float)
    assert px.shape == (800, 800, 3)
    assert px.std(axis=(0, 1)).mean() > 20 and len(np.unique(px.reshape(-1, 3), axis=0)) > 200
    text = all_text(fig)
    assert "OpenStreetMap contributors" in text
    for cls in layers["facilities"]["class"]:
        assert label(cls, "en") in text  # legend entries, one per facility class
    assert "Study boundary" in text and "Excluded parcels" in text
    assert re.search(r"^(N|北 / N)$", text, re.M)  # the north arrow
    ranks = sorted(int(t.get_text()) for t in fig.axes[0].texts if t.get_text().isdigit())
    assert ranks == list(range(1, 11))


def test_scale_bar_is_true_to_scale(layers):
    fig = draw(layers)
    ax = fig.axes[0]
    bar = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_zorder() == 20]
    length_m = sum(p.get_width() for p in bar)  # data units are metres of the UTM zone
    (caption,) = [t.get_text() for t in ax.texts if re.fullmatch(r"[\d.]+ k?m", t.get_text())]
    value, unit = caption.split()
    assert length_m == pytest.approx(float(value) * (1000 if unit == "km" else 1))
    span = np.diff(ax.get_xlim())[0]
    assert span / 10 <= length_m <= span / 2  # a readable length


def test_nice_scale_lengths():
    assert staticmap._nice_length(1000) == 200
    assert staticmap._nice_length(2600) == 500
    assert staticmap._nice_length(12_000) == 2000
    assert staticmap._nice_length(3) == 1


@pytest.mark.cjk_font
def test_chinese_text_renders_with_a_cjk_font(layers):
    font = staticmap.cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (scripts/install_system_deps.sh installs "
                    "fonts-wqy-microhei): the English-only fallback is tested below")
    fig = draw(layers)
    assert "适宜性得分" in all_text(fig)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font")
        FigureCanvasAgg(fig).draw()  # a glyph without a font would warn here


def test_without_a_cjk_font_labels_are_english(layers, monkeypatch):
    monkeypatch.setattr(staticmap, "cjk_font", lambda: None)
    with pytest.warns(SiteplanWarning, match="CJK font"):
        fig = draw(layers)
    text = all_text(fig)
    assert "Suitability score" in text
    assert not re.search(r"[\u4e00-\u9fff]", text)


def test_same_input_same_png_and_inputs_untouched(layers, tmp_path):
    before = {k: v.copy() for k, v in layers.items()}
    a = save_static_map(draw(layers), tmp_path / "a.png").read_bytes()
    b = save_static_map(draw(layers), tmp_path / "b.png").read_bytes()
    assert a == b
    for k, v in layers.items():
        pd.testing.assert_frame_equal(v, before[k])


def test_basemap_without_contextily_warns_and_still_draws(layers):
    if importlib.util.find_spec("contextily") is not None:
        pytest.skip("contextily is installed; fetching tiles would need the internet")
    with pytest.warns(SiteplanWarning, match="contextily"):
        fig = draw(layers, basemap=True)
    assert "Tiles" not in all_text(fig)  # no basemap credit without a basemap


# ----------------------------------------------------------------------------- issue 15


def test_the_project_ships_its_cjk_font_so_chinese_never_shows_as_boxes(layers):
    """No system font needed: Noto Sans CJK SC comes with the mplfonts dependency."""
    from matplotlib import font_manager

    path = staticmap.packaged_cjk_font()
    assert path is not None and path.name == "NotoSansCJKsc-Regular.otf"
    assert staticmap.cjk_font() == "Noto Sans CJK SC"
    fig = draw(layers, figsize=(5, 5), dpi=60)
    title = fig.axes[1].title if len(fig.axes) > 1 else None
    assert title is not None and "适宜性得分" in title.get_text()
    assert font_manager.findfont(title.get_fontproperties(), fallback_to_default=False) \
        == str(path)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font")
        FigureCanvasAgg(fig).draw()  # a glyph the font lacks would warn here


@pytest.mark.parametrize(("paper", "dpi", "shape"), [
    ("a4", 100, (1169, 826)), ("a4-landscape", 100, (826, 1169)), ("a3", 50, (826, 584)),
])
def test_paper_sizes_and_dpi(layers, tmp_path, paper, dpi, shape):
    path = save_static_map(draw(layers, paper=paper, dpi=dpi), tmp_path / "p.png")
    with Image.open(path) as png:
        assert np.asarray(png).shape[:2] == shape


def test_unknown_paper_is_a_clear_error(layers):
    from siteplan.core.errors import InputError

    with pytest.raises(InputError, match="a3-landscape"):
        draw(layers, paper="letter")


def test_blind_spots_of_every_seed_class_lie_above_the_parcels(layers):
    import geopandas as gpd

    blind = layers["blind_spots"]
    two = gpd.GeoDataFrame(pd.concat([blind.assign(**{"class": "kindergarten"}),
                                      blind.assign(**{"class": "primary_school"})]),
                           crs=blind.crs)
    fig = static_map(layers["parcels"], blind_spots=two, figsize=(5, 5), dpi=60)
    ax = fig.axes[0]
    parcels_z = max(c.get_zorder() for c in ax.collections if c.get_zorder() == 4)
    hatched = [c for c in ax.collections if c.get_hatch()]
    blind_z = sorted({c.get_zorder() for c in hatched if c.get_zorder() > 4})
    assert blind_z and min(blind_z) > parcels_z
    text = all_text(fig)
    assert label("kindergarten", "en") in text and label("primary_school", "en") in text
    edge = {tuple(np.round(c.get_edgecolor()[0], 3)) for c in hatched if c.get_zorder() == 4.5}
    assert len(edge) == 2  # one colour per class


def test_proxy_points_are_drawn_as_their_lines():
    import geopandas as gpd
    import shapely

    # Two roads sampled every 100 m (ids <class>:<way>:<i>, shuffled), one single-sample road.
    ids = [f"bus_corridor:{w}:{i}" for w, n in (("7", 4), ("9", 3), ("11", 1)) for i in range(n)]
    xy = [(100.0 * i, 0.0) for i in range(4)] + [(0.0, 50.0 * i + 500) for i in range(3)] \
        + [(900.0, 900.0)]
    pts = gpd.GeoDataFrame({"facility_id": ids, "class": "bus_corridor"},
                           geometry=shapely.points(xy), crs="EPSG:32649").iloc[[5, 0, 3, 7, 1,
                                                                                 6, 2, 4]]
    lines = staticmap.proxy_lines(pts)
    assert sorted(round(g.length) for g in lines) == [100, 300]
    assert shapely.equals(lines.iloc[0], shapely.LineString(xy[:4]))  # in sample order


def test_place_labels_keeps_free_spots_and_separates_crowded_ones():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [100.0, 100.0], [0.5, 0.5]])
    out = staticmap.place_labels(xy, (10.0, 10.0), gap=0.0)
    assert np.array_equal(out[[0, 2]], xy[[0, 2]])  # the best rank and a lone label stay put
    d = np.abs(out[:, None, :] - out[None, :, :])
    overlap = (d[..., 0] < 10) & (d[..., 1] < 10) & ~np.eye(4, dtype=bool)
    assert not overlap.any()


def test_top_20_rank_labels_do_not_overlap_in_the_png():
    import geopandas as gpd
    import shapely

    # 20 small parcels packed in a 200 m block of a 2 km study: their labels would stack.
    boxes = [shapely.box(x, y, x + 40, y + 40) for x in range(0, 200, 50) for y in
             range(0, 250, 50)] + [shapely.box(2000, 2000, 2040, 2040)]
    parcels = gpd.GeoDataFrame({"parcel_id": [f"P{i}" for i in range(21)],
                                "score": np.linspace(90, 10, 21), "rank": range(1, 22)},
                               geometry=boxes, crs="EPSG:32649")
    fig = static_map(parcels, top_n=20, figsize=(6, 6), dpi=100)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # sizes the circles around the numbers
    renderer = canvas.get_renderer()
    texts = [t for t in fig.axes[0].texts if t.get_text().isdigit()]
    assert sorted(int(t.get_text()) for t in texts) == list(range(1, 21))
    ext = [t.get_bbox_patch().get_window_extent(renderer) for t in texts]
    pairs = [(a, b) for i, a in enumerate(ext) for b in ext[:i] if a.overlaps(b)]
    assert pairs == []
    # Labels that had to move are tied to their parcel by a leader line.
    assert len([ln for ln in fig.axes[0].lines if len(ln.get_xdata()) == 2]) > 5
