"""The study model: the Taiyuan study file, and error messages that name key, value and fix."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from siteplan.core.defaults import SEED_RADII_M
from siteplan.core.errors import ConfigError, InputError
from siteplan.study.model import Study, load_study

ROOT = Path(__file__).resolve().parents[1]
TAIYUAN_STUDY = ROOT / "data" / "taiyuan" / "study.toml"

BASE = {
    "study": {"name": "t"},
    "criteria": [{"name": "kg", "kind": "distance", "class": "kindergarten", "weight": 1}],
}


def _error(mutate) -> ConfigError:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(ConfigError) as err:
        Study.model_validate(data, source="study.toml")
    return err.value


def _assert_names(err: ConfigError, key: str, value: str | None, fix_fragment: str) -> None:
    msg = str(err)
    assert msg.startswith("study.toml: "), msg
    assert key in msg, msg
    if value is not None:
        assert value in msg, msg
    assert err.fix and fix_fragment in err.fix, (err.fix, msg)
    assert "Fix: " in msg


# ----------------------------------------------------------------------------- error messages


def test_unknown_key_with_did_you_mean():
    err = _error(lambda d: d.update(network={"max_snap": 100}))
    _assert_names(err, "network.max_snap = 100", None, "max_snap_m")
    assert 'did you mean "max_snap_m"' in str(err)


def test_wrong_type():
    err = _error(lambda d: d.update(network={"max_snap_m": "far"}))
    _assert_names(err, "network.max_snap_m", "'far'", "write a number")


def test_negative_radius():
    err = _error(lambda d: d.update(classes={"park": {"radius_m": -300}}))
    _assert_names(err, "classes.park.radius_m", "-300", "radius in metres")
    err = _error(lambda d: d["criteria"][0].update(radius_m=-5))
    _assert_names(err, "criteria[0].radius_m", "-5", "radius in metres")
    err = _error(lambda d: d.update(compliance={"radii": {"kindergarten": 0}}))
    _assert_names(err, "compliance.radii.kindergarten", "0", "radius in metres")


def test_radius_in_kilometres_is_caught():
    err = _error(lambda d: d.update(classes={"park": {"radius_m": 1_000_000}}))
    _assert_names(err, "classes.park.radius_m", "1000000", "1000, not 1000000")


@pytest.mark.parametrize("weight", [0, -2, float("inf")])
def test_weights_must_be_positive(weight):
    err = _error(lambda d: d["criteria"][0].update(weight=weight))
    _assert_names(err, "criteria[0].weight", str(weight), "weight > 0")


def test_missing_direct_weight():
    err = _error(lambda d: d["criteria"][0].pop("weight"))
    _assert_names(err, "criteria[0].weight", None, "weight = <positive number>")


def test_unknown_facility_class():
    err = _error(lambda d: d["criteria"][0].update({"class": "kindergarden"}))
    _assert_names(err, "criteria[0].class", "'kindergarden'", "[classes.kindergarden]")
    assert 'did you mean "kindergarten"' in str(err)


def test_unknown_criterion_kind_points_at_the_tag():
    err = _error(lambda d: d["criteria"][0].update(kind="distanse"))
    _assert_names(err, "criteria[0].kind", "'distanse'", "kind = one of distance")


def test_bad_transform_names_the_criterion():
    err = _error(lambda d: d["criteria"][0].update(
        transform={"type": "step", "steps": [[500, 100], [300, 60]]}))
    _assert_names(err, "criteria[0].transform", "[[500, 100], [300, 60]]", "increasing")


def test_constraint_on_unknown_criterion():
    err = _error(lambda d: d.update(constraints=[{"criterion": "slope", "op": ">",
                                                  "value": 25}]))
    _assert_names(err, "constraints[0].criterion", "'slope'", "use one of kg")


def test_hazard_constraint_needs_hazard_layers():
    err = _error(lambda d: d.update(constraints=[{"builtin": "inside_hazard"}]))
    _assert_names(err, "constraints[0].builtin", "'inside_hazard'", "hazards = ")


def test_several_problems_are_listed_together():
    def mutate(d):
        d["criteria"][0]["weight"] = -1
        d["network"] = {"max_snap": 1}
    err = _error(mutate)
    assert "2 problems" in str(err)
    keys = sorted(p[0] for p in err.problems)
    assert keys == ["criteria[0].weight", "network.max_snap"]
    assert "criteria[0].weight = -1" in str(err) and "network.max_snap = 1" in str(err)


def test_criterion_class_without_facilities():
    study = Study.model_validate(BASE, source="study.toml")
    study.check_against_facilities({"kindergarten": 2})  # fine
    with pytest.raises(ConfigError) as err:
        study.check_against_facilities({"hospital": 3})
    _assert_names(err.value, "criteria[0].class", "'kindergarten'", "add facilities of class")
    assert "hospital (3)" in str(err.value)


def test_malformed_toml_gives_line_and_column(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[study]\nname = "x"\n[network]\nmax_snap_m = 200 m\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_study(path)
    assert "line 4" in str(err.value) and "max_snap_m = 200 m" in str(err.value)


def test_non_utf8_file_is_refused(tmp_path):
    path = tmp_path / "gbk.toml"
    path.write_bytes('[study]\nname = "山西太原"\n'.encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_study(path)


def test_bom_is_tolerated_and_paths_resolve_against_the_file(tmp_path):
    path = tmp_path / "sub" / "s.toml"
    path.parent.mkdir()
    path.write_bytes('[study]\nname = "x"\n[inputs]\nstreets = "../lines.geojson"\n'
                     '[outputs]\nfolder = "out"\n'.encode("utf-8-sig"))
    study = load_study(path)
    assert study.inputs.streets.path == str(tmp_path / "lines.geojson")
    assert study.outputs.folder == str(tmp_path / "sub" / "out")
    with pytest.raises(InputError, match="lines.geojson"):
        study.check_inputs_exist()


def test_seed_classes_and_compliance_defaults():
    study = Study.model_validate({"study": {"name": "x"}})
    for cls, radius in SEED_RADII_M.items():
        assert study.class_radius(cls) == radius
        assert "三(二)8" in study.classes[cls].source
    assert study.compliance.radii == SEED_RADII_M
    assert (SEED_RADII_M["kindergarten"], SEED_RADII_M["primary_school"],
            SEED_RADII_M["middle_school"]) == (300.0, 500.0, 1000.0)


def test_life_circle_sets_radius_and_source():
    study = Study.model_validate({"study": {"name": "x"},
                                  "classes": {"park": {"life_circle": "10min"}}})
    assert study.class_radius("park") == 500.0
    assert "GB 50180-2018" in study.classes["park"].source


def test_parcel_field_aliases():
    study = Study.model_validate({"study": {"name": "x"}, "inputs": {"parcels": {
        "path": "p.gpkg", "id_column": "编号", "fields": {"far": "FAR_PLAN"}}}})
    aliases = study.inputs.parcels.aliases()
    assert aliases["FAR_PLAN"] == "far" and aliases["净地"] == "clean_land"
    assert aliases["闲置收回"] == "idle_recovered" and aliases["地块编号"] == "parcel_code"


def test_programme_assumptions_round_trip():
    study = Study.model_validate({"study": {"name": "x"},
                                  "programme": {"dwelling_size_m2": 90}})
    a = study.programme.assumptions()
    assert a["dwelling_size_m2"] == 90 and a["persons_per_household"] == 2.62
    assert "default_far" not in a


# ----------------------------------------------------------------------------- Taiyuan file


@pytest.fixture(scope="module")
def taiyuan_study() -> Study:
    return load_study(TAIYUAN_STUDY)


def test_taiyuan_study_loads_with_its_inputs(taiyuan_study):
    taiyuan_study.check_inputs_exist()
    assert taiyuan_study.inputs.parcels is not None
    assert Path(taiyuan_study.inputs.parcels.path).name == "parcels.gpkg"
    assert Path(taiyuan_study.outputs.folder) == (ROOT / "maps")
    weights = taiyuan_study.weights_vector()
    assert sum(weights.values()) == pytest.approx(1.0)
    # Transport uses the labelled proxies, not bus stops the data does not have.
    classes = {c.facility_class for c in taiyuan_study.criteria}
    assert {"bus_corridor", "metro_line"} <= classes and "bus_stop" not in classes
    assert taiyuan_study.compliance.radii == SEED_RADII_M


def test_taiyuan_every_criterion_cites_its_source(taiyuan_study):
    text = TAIYUAN_STUDY.read_text(encoding="utf-8")
    blocks = text.split("[[criteria]]")[1:]
    active = [b for b in blocks if re.search(r"^name = ", b, re.MULTILINE)]
    assert len(active) == len(taiyuan_study.criteria)
    for c in taiyuan_study.criteria:
        assert c.source, c.name
    seed = {"kindergarten_walk", "primary_school_walk", "middle_school_walk"}
    for c in taiyuan_study.criteria:
        if c.name in seed:
            assert "三(二)8" in c.source
        if c.facility_class in ("bus_corridor", "metro_line"):
            assert "proxy" in c.source
    assert "GB 50180-2018" in text and "三(二)8" in text
    assert "almost no transport stops" in text and "labelled proxies" in text


# ----------------------------------------------------------------------------- search limit


def test_search_limit_below_a_seed_radius_is_refused():
    # With 400 m no parcel could meet the 1000 m middle-school radius: every one would be
    # told to build a middle school.
    err = _error(lambda d: d.update(network={"search_limit_m": 400}))
    _assert_names(err, "network.search_limit_m", "400", "search_limit_m = 1000 or more")
    msg = str(err)
    for key in ("compliance.radii.middle_school = 1000 m",
                "compliance.radii.primary_school = 500 m",
                "classes.middle_school.radius_m = 1000 m"):
        assert key in msg, msg
    assert "compliance.radii.kindergarten" not in msg  # 300 m is within 400 m


@pytest.mark.parametrize(("extra", "key", "need"), [
    # a count criterion's radius
    ({"criteria": [{"name": "parks", "kind": "count", "class": "park", "radius_m": 1500,
                    "weight": 1, "transform": {"type": "linear", "best": 2, "worst": 0}}]},
     "criteria[0].radius_m = 1500 m", 1500),
    # a class's count radii
    ({"classes": {"park": {"radius_m": 500, "count_radii_m": [500, 1200]}},
      "criteria": [{"name": "park", "kind": "distance", "class": "park", "weight": 1}]},
     "classes.park.count_radii_m = 1200 m", 1200),
    # ring cutoffs, in rings mode
    ({"catchments": {"mode": "rings", "rings_m": [300, 500, 1100]}},
     "catchments.rings_m = 1100 m", 1100),
    # the farthest breakpoint of a distance transform
    ({"criteria": [{"name": "kg", "kind": "distance", "class": "kindergarten", "weight": 1,
                    "transform": {"type": "linear", "best": 300, "worst": 1600}}]},
     "criteria[0].transform = 1600 m", 1600),
    # a distance constraint's threshold, and a walking time's (20 min at 1.2 m/s = 1440 m)
    ({"constraints": [{"criterion": "kg", "op": ">", "value": 1300}]},
     "constraints[0].value = 1300 m", 1300),
    ({"constraints": [{"column": "time_kindergarten_min", "op": ">", "value": 20}]},
     "constraints[0].value = 1440 m", 1440),
])
def test_search_limit_must_cover_every_distance_used(extra, key, need):
    def mutate(d):
        d.update(extra)
        d["network"] = {"search_limit_m": 1000}
    err = _error(mutate)
    _assert_names(err, "network.search_limit_m", "1000", f"search_limit_m = {need} or more")
    assert key in str(err)


def test_search_limit_checks_only_what_is_used():
    # Rings not in rings mode, and a class no criterion or compliance check uses.
    study = Study.model_validate({**BASE, "network": {"search_limit_m": 1000},
                                  "catchments": {"mode": "overlap", "rings_m": [300, 5000]},
                                  "classes": {"hospital": {"radius_m": 5000}}})
    assert study.network.search_limit_m == 1000
    # Exactly at the limit is fine.
    Study.model_validate({**BASE, "network": {"search_limit_m": 1000}})


def test_parcel_area_unit():
    study = Study.model_validate({"study": {"name": "x"}, "inputs": {"parcels": {
        "path": "p.gpkg", "area_unit": "mu"}}})
    assert study.inputs.parcels.area_unit == "mu"
    err = _error(lambda d: d.update(inputs={"parcels": {"path": "p.gpkg", "area_unit": "acre"}}))
    _assert_names(err, "inputs.parcels.area_unit", "'acre'", "'m2', 'ha' or 'mu'")


# ----------------------------------------------------------------------------- strict types


@pytest.mark.parametrize(("mutate", "key", "value", "fix"), [
    # A number in quotes is text: refused, not read as 300.
    (lambda d: d["criteria"][0].update(radius_m="300"), "criteria[0].radius_m", "'300'",
     "write radius_m = 300 without quotes."),
    (lambda d: d.update(network={"search_limit_m": "3000"}), "network.search_limit_m",
     "'3000'", "write search_limit_m = 3000 without quotes."),
    (lambda d: d.update(classes={"park": {"count_radii_m": [500, "1000"]}}),
     "classes.park.count_radii_m[1]", "'1000'", "write 1000 without quotes."),
    (lambda d: d.update(programme={"persons_per_household": "2.62"}),
     "programme.persons_per_household", "'2.62'", "without quotes"),
    # true is not 1, 20.0 is not a whole number, "yes" is not true.
    (lambda d: d["criteria"][0].update(weight=True), "criteria[0].weight", "True",
     "write a number here."),
    (lambda d: d.update(outputs={"top_n": 20.0}), "outputs.top_n", "20.0",
     "write top_n = 20 (no decimal point)."),
    (lambda d: d.update(outputs={"offline": "true"}), "outputs.offline", "'true'",
     "write offline = true without quotes."),
    (lambda d: d.update(outputs={"offline": "yes"}), "outputs.offline", "'yes'",
     "write true or false here."),
    # Text must be text.
    (lambda d: d.update(study={"name": 5}), "study.name", "5", "write text in quotes here."),
    # A value that fits no member of a union: one line, both options.
    (lambda d: d.update(crs={"metric": 4547.5}), "crs.metric", "4547.5",
     "write text in quotes or a whole number here."),
])
def test_wrong_types_are_refused_with_key_value_and_fix(mutate, key, value, fix):
    err = _error(mutate)
    _assert_names(err, key, value, fix)
    assert "wrong type" in str(err) and "problems" not in str(err)


def test_whole_numbers_are_accepted_where_decimals_are():
    study = Study.model_validate({**BASE, "network": {"search_limit_m": 2000, "max_snap_m": 150},
                                  "programme": {"persons_per_household": 3},
                                  "weights": {"method": "direct"}})
    assert study.network.search_limit_m == 2000.0
    assert isinstance(study.network.search_limit_m, float)
    assert study.programme.persons_per_household == 3.0


def test_transform_values_are_strict_too():
    err = _error(lambda d: d["criteria"][0].update(
        transform={"type": "linear", "best": "300", "worst": 800}))
    _assert_names(err, "criteria[0].transform", "'300'", "without quotes")
    # Steps are TOML arrays (lists), accepted as pairs.
    study = Study.model_validate({**BASE, "criteria": [{
        "name": "kg", "kind": "distance", "class": "kindergarten", "weight": 1,
        "transform": {"type": "step", "steps": [[300, 100], [500, 60]], "otherwise": 0}}]})
    assert [tuple(step) for step in study.criteria[0].transform.steps] == [(300.0, 100.0),
                                                                            (500.0, 60.0)]
