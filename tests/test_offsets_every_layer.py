"""Undeclared GCJ-02 in any layer stops the run: the demo parcels and streets, shifted.

A copy of the demo parcels moved into GCJ-02 (as if digitised on an Amap basemap) is refused
with the fix; declared ``coord_system = "gcj02"`` it gives the numbers of the true parcels.
``offset_check = "warn"`` lets a run go on, and shows what the stop prevents.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import DATA, TAIYUAN_LINES, TAIYUAN_POLYGONS

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.io.crs import wgs84_to_gcj02
from siteplan.io.offsets import check_offset
from siteplan.pipeline import run_study
from siteplan.study.model import Study

COLUMNS = ["dist_primary_school_m", "dist_kindergarten_m"]


def _gcj02(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Every vertex moved from WGS84 into GCJ-02 (what a layer traced on Amap holds)."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    xy = shapely.get_coordinates(geoms)
    x, y = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    moved = shapely.set_coordinates(geoms.copy(), np.column_stack([x, y]))
    return frame.set_geometry(gpd.GeoSeries(moved, index=frame.index, crs=frame.crs))


def _study(parcels, streets=TAIYUAN_LINES, **crs) -> Study:
    return Study.model_validate({
        "study": {"name": "offsets"},
        "inputs": {"streets": str(streets), "facilities": str(TAIYUAN_POLYGONS),
                   "parcels": parcels},
        "crs": crs,
        "criteria": [{"name": "primary_school_walk", "kind": "distance",
                      "class": "primary_school", "weight": 1},
                     {"name": "kindergarten_walk", "kind": "distance",
                      "class": "kindergarten", "weight": 1}]})


def _run(study: Study):
    with warnings.catch_warnings():  # one OSM polygon is invalid as mapped: repaired
        warnings.filterwarnings("ignore", ".*repaired 1 invalid geometry", SiteplanWarning)
        return run_study(study).parcels.set_index("parcel_id")


@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gcj")
    parcels = gpd.read_file(DATA / "parcels.gpkg")
    _gcj02(parcels).to_file(folder / "parcels_gcj.gpkg", layer="parcels")
    lines = gpd.read_file(TAIYUAN_LINES)
    _gcj02(lines).to_file(folder / "streets_gcj.geojson", driver="GeoJSON")
    return folder


@pytest.fixture(scope="module")
def truth():
    return _run(_study({"path": str(DATA / "parcels.gpkg"), "id_column": "parcel_id"}))


def test_gcj02_parcels_are_refused_with_the_fix(shifted):
    study = _study({"path": str(shifted / "parcels_gcj.gpkg"), "id_column": "parcel_id"})
    with pytest.raises(InputError) as err:
        _run(study)
    text = str(err.value)
    assert "parcels" in text and "parcels_gcj.gpkg" in text
    assert "looks like GCJ-02" in text and 'coord_system = "gcj02"' in text
    assert 'offset_check = "warn"' in text  # the way to go on anyway is named too
    # The evidence: the outlines follow the streets only once converted.
    assert "with their outlines along a street" in text


def test_declared_gcj02_parcels_give_the_true_numbers(shifted, truth):
    declared = _run(_study({"path": str(shifted / "parcels_gcj.gpkg"), "id_column": "parcel_id",
                            "coord_system": "gcj02"}))
    assert len(declared) == len(truth) == 1328
    for col in COLUMNS:
        a, b = declared.loc[truth.index, col], truth[col]
        # The conversion back is exact to a millimetre: the same distances.
        assert np.allclose(a, b, atol=0.05, equal_nan=True), col
    assert np.allclose(declared.loc[truth.index, "score"], truth["score"], atol=0.01,
                       equal_nan=True)


def test_warn_lets_the_run_go_on_and_shows_what_stopping_prevents(shifted, truth):
    study = _study({"path": str(shifted / "parcels_gcj.gpkg"), "id_column": "parcel_id"},
                   offset_check="warn")
    with pytest.warns(SiteplanWarning, match='looks like GCJ-02.*offset_check = "warn"'):
        wrong = _run(study)
    diff = (wrong.loc[truth.index, "dist_primary_school_m"] - truth["dist_primary_school_m"])
    # Measured: hundreds of metres on average, the size of the radii themselves.
    assert diff.abs().mean() > 200
    assert (wrong.loc[truth.index, "score"] - truth["score"]).abs().max() > 20


def test_gcj02_streets_are_named_when_the_parcels_are_true(shifted):
    # The parcels are WGS84, the streets traced on Amap: the parcels' outlines follow the
    # streets only when moved *into* GCJ-02, so the streets are the suspect.
    study = _study({"path": str(DATA / "parcels.gpkg"), "id_column": "parcel_id"},
                   streets=shifted / "streets_gcj.geojson")
    with pytest.raises(InputError) as err:
        _run(study)
    text = str(err.value)
    assert "the reference data (the streets and OSM features) look like GCJ-02" in text
    assert 'coord_system = "gcj02" on [inputs.streets]' in text


def test_the_demo_layers_are_not_called_shifted(truth):
    # The bundled data is true WGS84: every layer's check says so or stays inconclusive, and
    # the run above went through without a warning about offsets.
    parcels = gpd.read_file(DATA / "parcels.gpkg")
    lines = gpd.read_file(TAIYUAN_LINES)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SiteplanWarning)
        check = check_offset(parcels, streets=lines, both_ways=True, outline=True)
        assert check.verdict == "wgs84" and check.suggested is None
        # Measured: 484 of the 500 sampled outlines follow the streets as given, 108-143
        # after a wrong shift either way.
        ev = check.evidence["streets"]
        assert ev.matches["as given"] == 484 and max(
            v for k, v in ev.matches.items() if k != "as given") <= 150
        features = check_offset(gpd.read_file(TAIYUAN_POLYGONS), streets=lines,
                                both_ways=True)
        assert features.suggested is None
