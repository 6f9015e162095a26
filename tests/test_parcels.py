"""Parcel loading (declared id, Chinese field aliases), shape measures, blocks from streets."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.parcels.blocks import blocks_from_streets
from siteplan.parcels.load import load_parcels, parse_bool
from siteplan.parcels.shapes import area_ha, compactness, concave_corners, metric_geometries

ROOT = Path(__file__).resolve().parents[1]
TAIYUAN_PARCELS = ROOT / "data" / "taiyuan" / "parcels.gpkg"

# CGCS2000 3-degree GK zone 38 (EPSG:4547) coordinates near Taiyuan.
X0, Y0 = 400_000.0, 4_190_000.0
L_SHAPE = shapely.Polygon([(0, 0), (20, 0), (20, 10), (10, 10), (10, 20), (0, 20)])
U_SHAPE = shapely.Polygon([(0, 0), (30, 0), (30, 20), (20, 20), (20, 10), (10, 10), (10, 20),
                           (0, 20)])


def _bureau_layer() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "地块编号": ["TY-A", "TY-B", "TY-C"],
        "用地性质": [701, 701, 1208],           # read by a spreadsheet as numbers
        "面积": ["20,000", "15000.5", ""],
        "容积率": [2.5, 3.0, None],
        "净地": ["是", "否", None],
        "闲置收回": ["yes", "0", "Y"],
    }, geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 200), shapely.box(X0 + 200, Y0, X0 + 300, Y0 + 150),
                 shapely.box(X0 + 400, Y0, X0 + 500, Y0 + 100)], crs="EPSG:4547")


def test_chinese_aliases_and_values():
    out = load_parcels(_bureau_layer(), id_column="地块编号")
    assert out.columns[0] == "parcel_id" and out["parcel_id"].tolist() == ["TY-A", "TY-B", "TY-C"]
    assert out["parcel_code"].tolist() == ["TY-A", "TY-B", "TY-C"]
    assert out["landuse_code"].tolist() == ["0701", "0701", "1208"]
    assert out["area_m2"].iloc[0] == 20_000 and out["area_m2"].iloc[1] == 15_000.5
    assert np.isnan(out["area_m2"].iloc[2]) and np.isnan(out["far"].iloc[2])
    assert out["clean_land"].tolist()[:2] == [True, False] and pd.isna(out["clean_land"].iloc[2])
    assert out["idle_recovered"].tolist() == [True, False, True]
    assert out.crs.to_epsg() == 4547


def test_declared_alias_and_file_round_trip(tmp_path):
    layer = _bureau_layer().rename(columns={"容积率": "FAR_PLAN"})
    path = tmp_path / "parcels.gpkg"
    layer.to_file(path, layer="parcels")
    out = load_parcels(path, id_column="地块编号", aliases={"FAR_PLAN": "far"}, layer="parcels")
    assert out["far"].tolist()[:2] == [2.5, 3.0]
    assert layer.columns.tolist()[3] == "FAR_PLAN"  # input frame untouched


def test_integer_ids_read_as_floats_stay_integers():
    gdf = gpd.GeoDataFrame({"id": [1.0, 2.0]}, geometry=[shapely.box(X0, Y0, X0 + 1, Y0 + 1),
                                                         shapely.box(X0 + 2, Y0, X0 + 3, Y0 + 1)],
                           crs=4547)
    assert load_parcels(gdf, id_column="id")["parcel_id"].tolist() == ["1", "2"]


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda g: g.drop(columns="地块编号"), "id column '地块编号' is not in"),
    (lambda g: g.assign(地块编号=["A", "A", "B"]), "occur more than once"),
    (lambda g: g.assign(地块编号=["A", None, "B"]), "have no id"),
    (lambda g: g.assign(净地=["是", "maybe", None]), "not yes/no"),
    (lambda g: g.assign(面积=["1", "two", "3"]), "not numbers"),
    (lambda g: g.set_crs(None, allow_override=True), "no CRS"),
])
def test_load_errors(mutate, fragment):
    with pytest.raises(InputError, match=fragment):
        load_parcels(mutate(_bureau_layer()), id_column="地块编号")


def test_non_polygons_error_or_drop():
    gdf = _bureau_layer()
    gdf.loc[1, "geometry"] = shapely.Point(X0, Y0)
    with pytest.raises(InputError, match="not polygons"):
        load_parcels(gdf, id_column="地块编号")
    with pytest.warns(UserWarning, match="dropped"):
        out = load_parcels(gdf, id_column="地块编号", non_polygon="drop")
    assert out["parcel_id"].tolist() == ["TY-A", "TY-C"]


def test_parse_bool_values():
    s = pd.Series(["是", "否", "TRUE", " no ", "", None, 1])
    assert parse_bool(s, where="t", column="c").tolist()[:4] == [True, False, True, False]
    assert parse_bool(s, where="t", column="c").isna().tolist()[4:6] == [True, True]


def test_shape_measures_by_hand():
    square = shapely.box(0, 0, 100, 100)
    sliver = shapely.box(0, 0, 1000, 10)
    geoms = np.array([square, L_SHAPE, U_SHAPE, sliver], dtype=object)
    np.testing.assert_allclose(area_ha(geoms), [1.0, 0.03, 0.05, 1.0])
    # L: 300 m² in a 20 x 20 rectangle; U: 500 m² in 30 x 20; both rectangles 1.
    np.testing.assert_allclose(compactness(geoms), [1.0, 0.75, 500 / 600, 1.0])
    assert concave_corners(geoms).tolist() == [0, 1, 2, 0]


def test_concave_corners_orientation_holes_and_parts():
    clockwise = shapely.Polygon(list(L_SHAPE.exterior.coords)[::-1])
    holed = shapely.box(0, 0, 50, 50).difference(shapely.box(20, 20, 30, 30))
    multi = shapely.MultiPolygon([L_SHAPE, shapely.affinity.translate(U_SHAPE, 100)])
    # Noise: a 0.2 m notch on a straight edge is digitising error, not a corner.
    noisy = shapely.Polygon([(0, 0), (50, 0), (50, 0.2), (50.1, 0.2), (50.1, 0), (100, 0),
                             (100, 100), (0, 100)])
    # A smooth curve (a circle) turns left at every vertex: no concave corner.
    circle = shapely.Point(0, 0).buffer(100, quad_segs=64)
    got = concave_corners(np.array([clockwise, holed, multi, noisy, circle], dtype=object))
    assert got.tolist() == [1, 4, 3, 0, 0]


def test_rotated_rectangle_is_compact():
    rect = shapely.affinity.rotate(shapely.box(0, 0, 80, 30), 33, origin=(0, 0))
    assert compactness(np.array([rect], dtype=object))[0] == pytest.approx(1.0)


def test_metric_geometries_reprojects_lonlat():
    gdf = gpd.GeoDataFrame(geometry=[shapely.box(112.5, 37.8, 112.501, 37.801)], crs=4326)
    geoms = metric_geometries(gdf)
    # 0.001° x 0.001° at 37.8°N: about 88 m x 111 m.
    assert 0.95 < area_ha(geoms)[0] < 1.02


def _grid_lines(n: int = 4, step: float = 100.0) -> gpd.GeoDataFrame:
    lines = [shapely.LineString([(0, i * step), (n * step, i * step)]) for i in range(n + 1)]
    lines += [shapely.LineString([(i * step, 0), (i * step, n * step)]) for i in range(n + 1)]
    return gpd.GeoDataFrame({"highway": ["residential"] * len(lines)}, geometry=lines,
                            crs="EPSG:32649")


def test_blocks_from_streets_grid():
    # A 4 x 4 grid of 100 m blocks (1 ha each); a park covers most of one block, a school a
    # little of another; a 0.7 ha face made by an extra street is kept, a 0.3 ha one dropped.
    lines = _grid_lines()
    extra = gpd.GeoDataFrame({"highway": ["residential"]},
                             geometry=[shapely.LineString([(370, 300), (370, 400)])],
                             crs="EPSG:32649")
    lines = pd.concat([lines, extra], ignore_index=True)
    cover = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 90, 100), shapely.box(100, 0, 120, 100)],
                             crs="EPSG:32649")
    blocks = blocks_from_streets(lines, cover, min_ha=0.5, max_ha=50, max_covered_share=0.5,
                                 id_prefix="G-")
    c = blocks.attrs["counts"]
    assert c["faces"] == 17 and c["in_area_range"] == 16 and c["dropped_covered"] == 1
    assert c["kept"] == 15 and len(blocks) == 15
    assert blocks["parcel_id"].tolist()[:2] == ["G-0001", "G-0002"]
    assert sorted(blocks["area_m2"].unique().tolist()) == [7000.0, 10000.0]
    assert blocks.loc[blocks["covered_share"] > 0, "covered_share"].tolist() == [0.2]
    again = blocks_from_streets(lines.iloc[::-1], cover, id_prefix="G-")
    assert again["parcel_id"].tolist() == blocks["parcel_id"].tolist()
    assert again.geometry.geom_equals_exact(blocks.geometry, 0).all()


def test_blocks_argument_checks():
    with pytest.raises(InputError, match="min_ha"):
        blocks_from_streets(_grid_lines(), min_ha=5, max_ha=1)
    with pytest.raises(InputError, match="no CRS"):
        blocks_from_streets(_grid_lines().set_crs(None, allow_override=True))


def test_bundled_taiyuan_parcels_are_reproducible():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import make_taiyuan_parcels
    finally:
        sys.path.pop(0)
    fresh = make_taiyuan_parcels.build().to_crs(make_taiyuan_parcels.OUT_CRS)
    bundled = gpd.read_file(TAIYUAN_PARCELS, layer="parcels")
    assert len(bundled) == len(fresh) > 1000
    assert bundled["parcel_id"].tolist() == fresh["parcel_id"].tolist()
    np.testing.assert_allclose(bundled["area_m2"], fresh["area_m2"])
    assert bundled.geometry.geom_equals_exact(fresh.geometry.reset_index(drop=True), 1e-9).all()
    ha = bundled["area_m2"] / 1e4
    assert ha.min() >= 0.5 and ha.max() <= 50
    assert bundled["covered_share"].max() <= 0.5
    loaded = load_parcels(TAIYUAN_PARCELS, id_column="parcel_id", layer="parcels")
    assert loaded["parcel_id"].is_unique and loaded.crs.to_epsg() == 4326


# ----------------------------------------------------------------------------- declared area


def _area_layer(tmp_path: Path, areas: list[object], sides: list[float]) -> Path:
    """Square parcels (side metres, in EPSG:4547) with a 面积 column, written to a GeoPackage."""
    geoms = [shapely.box(X0 + 1000 * i, Y0, X0 + 1000 * i + s, Y0 + s)
             for i, s in enumerate(sides)]
    gdf = gpd.GeoDataFrame({"地块编号": [f"P{i}" for i in range(len(sides))], "面积": areas},
                           geometry=geoms, crs="EPSG:4547")
    path = tmp_path / "areas.gpkg"
    gdf.to_crs(4326).to_file(path, layer="parcels")  # geographic: areas measured in UTM
    return path


@pytest.mark.parametrize(("unit", "areas", "expected_m2"), [
    # 200 m and 300 m squares: 40 000 and 90 000 m² = 4 and 9 ha = 60 and 135 亩.
    ("m2", [40_000, 90_000], [40_000, 90_000]),
    ("ha", [4, 9], [40_000, 90_000]),
    ("mu", [60, 135], [40_000, 90_000]),
])
def test_area_unit_converts_to_square_metres(tmp_path, unit, areas, expected_m2):
    out = load_parcels(_area_layer(tmp_path, areas, [200, 300]), id_column="地块编号",
                       area_unit=unit)
    np.testing.assert_allclose(out["area_m2"], expected_m2)


@pytest.mark.parametrize(("given", "declared", "likely"), [
    ([4, 9], "m2", "ha"),            # hectares read as m²: 10 000x too small
    ([60, 135], "m2", "mu"),         # 亩 read as m²: 666.7x too small
    ([40_000, 90_000], "ha", "m2"),  # m² read as hectares: 10 000x too large
    ([4, 9], "mu", "ha"),            # hectares read as 亩: 15x too small
])
def test_area_unit_slip_is_an_input_error_naming_column_and_unit(tmp_path, given, declared,
                                                                  likely):
    path = _area_layer(tmp_path, given, [200, 300])
    with pytest.raises(InputError) as err:
        load_parcels(path, id_column="地块编号", area_unit=declared)
    msg = str(err.value)
    assert "'面积'" in msg and str(path) in msg
    assert f'area_unit = "{likely}"' in err.value.fix


def test_area_that_matches_no_unit_says_check_the_column(tmp_path):
    # 1/50 of the outlines: as m² 0.02x, as 亩 13x, as hectares 200x; no unit fits.
    path = _area_layer(tmp_path, [800, 1800], [200, 300])
    with pytest.raises(InputError, match=r"are 0\.020\d* times the parcels' own outline") as err:
        load_parcels(path, id_column="地块编号")
    assert "check that the column holds each parcel's area" in err.value.fix


def test_some_disagreeing_areas_warn_with_their_ids(tmp_path):
    # Three match (±10 %), one is 3x its outline: kept, with a warning naming it.
    path = _area_layer(tmp_path, [40_000, 90_000, 44_000, 30_000], [200, 300, 200, 100])
    with pytest.warns(SiteplanWarning, match=r"1 of 4 parcels .*'面积'.*\(ids P3\)"):
        out = load_parcels(path, id_column="地块编号")
    assert out["area_m2"].tolist() == [40_000, 90_000, 44_000, 30_000]


def test_blank_areas_are_not_compared_and_study_key_is_passed(tmp_path):
    from siteplan.inputs import load_study_parcels
    from siteplan.study.model import Study

    path = _area_layer(tmp_path, [4, None], [200, 300])
    study = Study.model_validate({"study": {"name": "x"}, "inputs": {"parcels": {
        "path": str(path), "layer": "parcels", "id_column": "地块编号", "area_unit": "ha"}}})
    out = load_study_parcels(study)
    assert out["area_m2"].iloc[0] == pytest.approx(40_000) and np.isnan(out["area_m2"].iloc[1])
    with pytest.raises(InputError, match="read as square metres"):
        load_study_parcels(study.model_copy(update={"inputs": study.inputs.model_copy(update={
            "parcels": study.inputs.parcels.model_copy(update={"area_unit": "m2"})})}))


def test_taiyuan_areas_match_their_outlines():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SiteplanWarning)
        out = load_parcels(TAIYUAN_PARCELS, id_column="parcel_id", layer="parcels")
    ratio = out["area_m2"] / area_ha(metric_geometries(out)) / 1e4
    assert ratio.between(0.999, 1.001).all()


def test_empty_parcel_layer_is_an_input_error(tmp_path):
    empty = _bureau_layer().iloc[:0]
    path = tmp_path / "empty.gpkg"
    empty.to_file(path, layer="parcels")
    assert len(gpd.read_file(path, layer="parcels")) == 0
    with pytest.raises(InputError, match="the parcel layer has no features") as err:
        load_parcels(path, id_column="地块编号", layer="parcels")
    assert str(path) in str(err.value) and "layer name" in err.value.fix
    with pytest.raises(InputError, match="no features"):
        load_parcels(empty, id_column="地块编号")
    # Nothing left after dropping non-polygons is no parcels either.
    points = _bureau_layer().assign(geometry=shapely.points([(X0, Y0)] * 3))
    with pytest.raises(InputError, match="none of the 3 features is a polygon"):
        load_parcels(points, id_column="地块编号", non_polygon="drop")
