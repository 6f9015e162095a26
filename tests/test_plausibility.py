"""Plausibility checks on a study, each with the fix in its message.

Radii below 20 m (kilometres typed as metres), a class table nothing uses whose name is a typo
of a known class, parcels far larger than a land-supply parcel or covering most of the study
area, and the inputs a command needs, checked before any data is read.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from test_cli import _cli

import siteplan.pipeline as pipeline
from siteplan.core.errors import ConfigError, SiteplanWarning
from siteplan.study.model import Study, load_study

ROOT = Path(__file__).resolve().parents[1]
BEIJING = ROOT / "tests" / "data" / "beijing_haidian_pku_tsinghua_2017.osm"


def _study(**tables: object) -> Study:
    return Study.model_validate({"study": {"name": "check"}, **tables})



# ------------------------------------------------------------------------------------ radii


@pytest.mark.parametrize(("tables", "key"), [
    ({"classes": {"kindergarten": {"radius_m": 0.3}}}, "classes.kindergarten.radius_m"),
    ({"classes": {"park": {"count_radii_m": [500, 1.5]}}}, "classes.park.count_radii_m[1]"),
    ({"compliance": {"radii": {"primary_school": 0.5}}}, "compliance.radii.primary_school"),
    ({"catchments": {"rings_m": [0.3, 0.5]}}, "catchments.rings_m[0]"),
    ({"criteria": [{"name": "parks", "kind": "count", "class": "park", "radius_m": 1,
                    "weight": 1, "transform": {"type": "linear", "best": 2, "worst": 0}}]},
     "criteria[0].radius_m"),
])
def test_a_radius_below_20_m_is_refused_as_kilometres(tables, key):
    with pytest.raises(ConfigError) as err:
        _study(**tables)
    text = str(err.value)
    assert key in text and "below 20 m" in text
    assert "radii are in metres" in text and " km is " in text


def test_the_issue_radius_names_the_metres_to_write():
    with pytest.raises(ConfigError) as err:
        _study(classes={"kindergarten": {"radius_m": 0.3}})
    assert err.value.fix == "radii are in metres: 0.3 km is 300 m, so write 300."


def test_radii_of_20_m_and_more_are_accepted():
    study = _study(classes={"kindergarten": {"radius_m": 20.0}},
                   compliance={"radii": {"kindergarten": 20.0}})
    assert study.class_radius("kindergarten") == 20.0


# ------------------------------------------------------------------------------ class tables


def test_a_class_table_with_a_typo_is_refused_with_the_class_meant():
    with pytest.raises(ConfigError) as err:
        _study(classes={"kindergarden": {"radius_m": 250.0}})
    text = str(err.value)
    assert "classes.kindergarden" in text and 'did you mean "kindergarten"?' in text
    assert "[classes.kindergarten]" in str(err.value.fix)


def test_a_typo_of_a_proxy_class_is_caught_too():
    with pytest.raises(ConfigError, match='did you mean "bus_corridor"'):
        _study(classes={"bus_coridor": {"radius_m": 500.0}})


def test_class_tables_in_use_or_unlike_any_class_are_accepted():
    # A class of its own (no known class is close), and a close name a facility layer uses.
    study = _study(classes={"library": {"radius_m": 800.0},
                            "kindergarden": {"radius_m": 300.0}},
                   inputs={"layers": [{"path": "k.gpkg", "class": "kindergarden"}]})
    assert set(study.classes) >= {"library", "kindergarden"}


# ------------------------------------------------------------------------- required inputs


def test_run_needs_parcels_and_says_so_before_reading_anything(monkeypatch, tmp_path):
    def no_reading(*args, **kwargs):
        raise AssertionError("data read before the study was checked")

    monkeypatch.setattr(pipeline, "prepare", no_reading)
    study = _study(inputs={"streets": str(BEIJING)})
    with pytest.raises(ConfigError) as err:
        pipeline.run_study(study)
    assert "[inputs.parcels]" in str(err.value) and "siteplan parcels" in str(err.value.fix)
    toml = tmp_path / "s.toml"
    toml.write_text('[study]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        pipeline.run_study(toml)
    assert "street lines and candidate parcels" in err.value.what
    assert err.value.where == str(toml)
    with pytest.raises(ConfigError, match=r"\[inputs\] streets"):
        pipeline.run_catchments(toml)


def test_the_cli_refuses_a_study_without_parcels_with_one_line(capsys, tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text(f'[study]\nname = "x"\n[inputs]\nstreets = "{BEIJING}"\n', encoding="utf-8")
    code, _, err = _cli(capsys, "run", str(toml))
    assert code == 2
    line = err.strip()
    assert line.startswith("error: ") and "\n" not in line and "[inputs.parcels]" in line


# ------------------------------------------------------------------------------- parcel sizes


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*the facility data has no:siteplan.core.errors.SiteplanWarning")
def test_parcels_too_large_to_be_land_supply_are_named(tmp_path):
    # Beijing's streets span about 58 km²; one parcel of 250 ha, one of ~40 km² (most of it),
    # and a plausible 4 ha one.
    centre = (443_500.0, 4_429_500.0)
    parcels = gpd.GeoDataFrame({"parcel_id": ["ok", "district", "everything"], "far": 2.0}, geometry=[
        shapely.box(centre[0], centre[1], centre[0] + 200, centre[1] + 200),
        shapely.box(centre[0] - 800, centre[1] - 800, centre[0] + 781, centre[1] + 781),
        shapely.box(centre[0] - 3200, centre[1] - 3200, centre[0] + 3200, centre[1] + 3100),
    ], crs="EPSG:32650")
    parcels.to_file(tmp_path / "p.gpkg", layer="parcels")
    toml = tmp_path / "s.toml"
    toml.write_text(f'[study]\nname = "x"\n[inputs]\nstreets = "{BEIJING}"\n'
                    '[inputs.parcels]\npath = "p.gpkg"\n\n[[criteria]]\nname = "size"\n'
                    'kind = "geometry"\nmeasure = "area_ha"\nweight = 1\n'
                    'transform = { type = "linear", best = 5, worst = 1 }\n', encoding="utf-8")
    with pytest.warns(SiteplanWarning) as record:
        pipeline.run_study(load_study(toml))
    texts = [str(w.message) for w in record if "parcel(s)" in str(w.message)]
    assert len(texts) == 2
    big, most = texts
    # The size check runs as the parcels are read, so it names their file.
    assert big.startswith(f"{tmp_path / 'p.gpkg'}: 2 parcel(s) larger than 200 ha")
    assert "district (250 ha)" in big and "everything (4,032 ha)" in big and "ok" not in big
    assert "1 parcel(s) covering more than 50%" in most and "everything" in most
    assert "district" not in most and "[study] boundary" in most
