"""Reading a study's inputs through one description per layer (siteplan.inputs): encodings per
layer, [crs] defaults and per-layer overrides."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.inputs import load_study_parcels, read_sources
from siteplan.io.inputs import InputLayer
from siteplan.study.model import Study

NAMES = ["幼儿园旁地块", "小学北地块"]


def _files(tmp_path: Path, *, cpg: bool) -> tuple[Path, Path]:
    """A GBK parcel Shapefile (with or without its .cpg) and a UTF-8 GeoJSON of streets."""
    parcels = gpd.GeoDataFrame(
        {"编号": ["P1", "P2"], "名称": NAMES},
        geometry=[shapely.box(112.50, 37.80, 112.501, 37.801),
                  shapely.box(112.51, 37.81, 112.511, 37.811)], crs=4326)
    shp = tmp_path / "parcels.shp"
    pyogrio.write_dataframe(parcels, shp, encoding="GBK")
    assert shp.with_suffix(".cpg").exists()
    if not cpg:
        shp.with_suffix(".cpg").unlink()
    streets = gpd.GeoDataFrame({"highway": ["residential"], "name": ["迎泽大街"]},
                               geometry=[shapely.LineString([(112.5, 37.8), (112.52, 37.8)])],
                               crs=4326)
    geojson = tmp_path / "streets.geojson"
    streets.to_file(geojson, driver="GeoJSON")
    return shp, geojson


def _study(shp: Path, geojson: Path, **parcels: object) -> Study:
    return Study.model_validate({
        "study": {"name": "encodings"},
        "inputs": {"streets": str(geojson),
                   "parcels": {"path": str(shp), "id_column": "编号", **parcels}}})


def test_a_gbk_shapefile_with_cpg_and_a_utf8_geojson_in_one_study(tmp_path):
    # Regression: [crs] encoding defaulted to utf-8 and was passed to every layer, overriding
    # the .cpg, so this study could not run at all.
    shp, geojson = _files(tmp_path, cpg=True)
    study = _study(shp, geojson)
    assert study.crs.encoding is None
    assert load_study_parcels(study)["名称"].tolist() == NAMES
    lines, _ = read_sources(study)
    assert lines["name"].tolist() == ["迎泽大街"]


def test_one_layer_overrides_the_encoding_the_others_keep_theirs(tmp_path):
    shp, geojson = _files(tmp_path, cpg=False)
    study = _study(shp, geojson, encoding="gbk")
    assert load_study_parcels(study)["名称"].tolist() == NAMES
    assert read_sources(study)[0]["name"].tolist() == ["迎泽大街"]
    spec = study.input_layer(study.inputs.streets, "street layer")
    assert spec == InputLayer(str(geojson), kind="street layer")


def test_a_gbk_shapefile_without_cpg_warns_and_names_the_per_layer_fix(tmp_path):
    shp, geojson = _files(tmp_path, cpg=False)
    # Both the garbled column names and the garbled text are reported, each with the fix.
    with (pytest.warns(SiteplanWarning, match=r"column name '.+' looks garbled \(it reads as "
                       r"'编号' in GBK\).*Declare encoding = \"gbk\""),
          pytest.warns(UserWarning, match=r'encoding="gbk".*for this input'),
          pytest.raises(InputError, match=r'id column .编号.*encoding = "gbk" in \[inputs.parcels\]')):
        load_study_parcels(_study(shp, geojson))


def test_crs_section_is_the_default_and_a_layer_setting_wins(tmp_path):
    shp, geojson = _files(tmp_path, cpg=True)
    study = Study.model_validate({
        "study": {"name": "defaults"},
        "crs": {"input": "EPSG:4490", "coord_system": "gcj02", "encoding": "gb18030"},
        "inputs": {"streets": {"path": str(geojson), "crs": "EPSG:4326", "encoding": "utf-8",
                               "coord_system": "wgs84", "layer": "streets"},
                   "residential": str(shp)}})
    street = study.input_layer(study.inputs.streets, "street layer")
    res = study.input_layer(study.inputs.residential, "residential layer")
    assert (street.crs, street.encoding, street.coord_system, street.layer) == (
        "EPSG:4326", "utf-8", "wgs84", "streets")
    assert (res.crs, res.encoding, res.coord_system) == ("EPSG:4490", "gb18030", "gcj02")
    # The table form and the plain path are the same input.
    assert str(study.inputs.residential) == str(shp)


def test_an_unknown_key_in_a_layer_table_is_refused(tmp_path):
    from siteplan.core.errors import ConfigError

    with pytest.raises(ConfigError, match="inputs.streets.encodeing"):
        Study.model_validate({"study": {"name": "x"},
                              "inputs": {"streets": {"path": "a.gpkg", "encodeing": "gbk"}}})


def test_a_layer_table_without_its_path_is_refused():
    from siteplan.core.errors import ConfigError

    with pytest.raises(ConfigError, match="inputs.streets.path"):
        Study.model_validate({"study": {"name": "x"}, "inputs": {"streets": {"layer": "a"}}})


def test_read_errors_name_the_layer_kind(tmp_path):
    study = Study.model_validate({"study": {"name": "x"},
                                  "inputs": {"streets": str(tmp_path / "missing.gpkg")}})
    with pytest.raises(InputError, match=r"street layer .*missing\.gpkg"):
        read_sources(study)
