"""Bad-input cases 18-24: study files a bureau gets wrong, met through ``siteplan run``.

Each case: exit code 2, one message naming the study file, the key and the fix, no output file
left behind, and the input files byte-identical afterwards.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from smallstudy import CRITERIA, HEAD, TAIL, cli, digests, leftovers, write_study

from siteplan.study.ahp import RANDOM_INDEX


def _refused(capsys, tmp_path: Path, study: Path, key: str, *fragments: str) -> str:
    """Run the study; assert a clean refusal that names file and key; return stderr."""
    inputs = study.parent
    before = digests(inputs)
    out = tmp_path / "out"
    code, stdout, err = cli(capsys, "run", str(study), "--out", str(out), "--quiet")
    assert code == 2, (code, err)
    assert "Traceback" not in err and "internal error" not in err
    assert err.startswith("error: "), err
    assert str(study) in err, err  # the file
    assert key in err, err         # the key
    assert "Fix: " in err, err     # how to fix it
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert leftovers(out) == []    # nothing written, not even a temporary file
    assert digests(inputs) == before
    assert stdout == ""
    return err


def _with(tmp_path: Path, *, extra: str = "", criteria: str = CRITERIA, head: str = HEAD,
          tail: str = TAIL) -> Path:
    return write_study(tmp_path / "in", head=head, criteria=criteria, tail=tail, extra=extra)


# ----------------------------------------------------- 18: radius 0, < 0, < 20 m (km?), > 50 km

RADIUS_CASES = [
    # (extra TOML, key, value shown)
    ("\n[classes.park]\nradius_m = 0\n", "classes.park.radius_m", "= 0"),
    ("\n[classes.park]\nradius_m = -300\n", "classes.park.radius_m", "= -300"),
    ("\n[classes.park]\nradius_m = 60000\n", "classes.park.radius_m", "= 60000"),
    ("\n[classes.park]\ncount_radii_m = [500, -1]\n", "classes.park.count_radii_m[1]", "= -1"),
    ("\n[compliance]\nradii = { kindergarten = 0 }\n", "compliance.radii.kindergarten", "= 0"),
    ("\n[compliance]\nradii = { kindergarten = 300000 }\n", "compliance.radii.kindergarten",
     "= 300000"),
    ("\n[catchments]\nrings_m = [300, 90000]\n", "catchments.rings_m[1]", "= 90000"),
    # Kilometres typed as metres (the radius_m = 0.3, "Coverage ... (0.3 m): 0.0 %").
    ("\n[classes.park]\nradius_m = 0.3\n", "classes.park.radius_m", "= 0.3"),
    ("\n[compliance]\nradii = { kindergarten = 0.3 }\n", "compliance.radii.kindergarten",
     "= 0.3"),
    ('\n[[criteria]]\nname = "parks"\nkind = "count"\nclass = "park"\nradius_m = -1000\n'
     "weight = 1\n", "criteria[2].radius_m", "= -1000"),
]


@pytest.mark.parametrize(("extra", "key", "shown"), RADIUS_CASES,
                         ids=[f"{c[1]}{c[2].replace(' ', '')}" for c in RADIUS_CASES])
def test_18_bad_radius_is_refused(capsys, tmp_path, extra, key, shown):
    # The criteria come after the extra tables here, so that a [[criteria]] extra is criteria[2].
    study = _with(tmp_path, criteria=CRITERIA + extra if "criteria" in extra else CRITERIA,
                  extra="" if "criteria" in extra else extra)
    err = _refused(capsys, tmp_path, study, key + " " + shown)
    value = float(shown.removeprefix("= "))
    if value <= 0:
        assert "is not positive" in err and "> 0" in err
    elif value < 20:
        assert "below 20 m" in err and f"{value:g} km is {value * 1000:g} m" in err
    else:
        assert "more than 50 km" in err and "metres" in err


@pytest.mark.parametrize(("old", "new", "key"), [
    ("search_limit_m = 3000.0", "search_limit_m = 0", "network.search_limit_m = 0"),
    ("search_limit_m = 3000.0", "search_limit_m = 1e9", "network.search_limit_m = 1000000000.0"),
    ("max_snap_m = 200.0", "max_snap_m = -5", "network.max_snap_m = -5"),
    ("max_snap_m = 200.0", "max_snap_m = 51000", "network.max_snap_m = 51000"),
])
def test_18_bad_network_distances_are_refused(capsys, tmp_path, old, new, key):
    study = _with(tmp_path, head=HEAD.replace(old, new))
    _refused(capsys, tmp_path, study, key)


def test_18_a_radius_of_exactly_50_km_is_accepted_at_the_config_level():
    """The bound is > 50 km, not >= (a regional hospital catchment may be 50 km)."""
    from siteplan.study.model import Study

    study = Study.model_validate({"study": {"name": "t"},
                                  "classes": {"hospital": {"radius_m": 50_000}}})
    assert study.class_radius("hospital") == 50_000


# ------------------------------------------------------------------ 19, 20: weights

ZERO_WEIGHTS = CRITERIA.replace("weight = 2", "weight = 0").replace("weight = 1", "weight = 0")


def test_19_all_weights_zero_is_refused(capsys, tmp_path):
    study = _with(tmp_path, criteria=ZERO_WEIGHTS)
    err = _refused(capsys, tmp_path, study, "criteria[0].weight = 0", "criteria[1].weight = 0",
                   "weight > 0")
    assert "2 problems" in err


@pytest.mark.parametrize("weight", ["-1", "-0.5", "nan", "-inf"])
def test_20_a_negative_or_not_a_number_weight_is_refused(capsys, tmp_path, weight):
    study = _with(tmp_path, criteria=CRITERIA.replace("weight = 2", f"weight = {weight}"))
    _refused(capsys, tmp_path, study, f"criteria[0].weight = {float(weight)!r}".replace(
        "-1.0", "-1"), "weight > 0")


# ------------------------------------------------------------------ 21, 22: AHP

NO_WEIGHTS = re.sub(r"weight = \d+\n", "", CRITERIA)
THIRD = """
[[criteria]]
name = "middle_walk"
kind = "distance"
class = "middle_school"
transform = { type = "linear", best = 1000, worst = 2000 }
"""


def _ahp(tmp_path: Path, matrix: str, *, criteria: str = NO_WEIGHTS, allow: bool = False) -> Path:
    weights = f'\n[weights]\nmethod = "ahp"\nmatrix = {matrix}\n'
    if allow:
        weights += "allow_inconsistent = true\n"
    return _with(tmp_path, criteria=criteria, extra=weights)


@pytest.mark.parametrize(("matrix", "fragment"), [
    ("[[1, 3], [2, 1]]", "not reciprocal (their product is 6, not 1)"),
    ("[[1, 3], [3, 1]]", "not reciprocal (their product is 9, not 1)"),
    ("[[1, 0], [0, 1]]", "is not positive"),
    ("[[2, 2], [0.5, 1]]", "diagonal entry [0][0] = 2 is not 1"),
    # Two decimals are not enough: 1/3 as 0.33 is 1 % off, 1/9 as 0.11 also 1 % off.
    ("[[1, 3], [0.33, 1]]", "not reciprocal (their product is 0.99, not 1)"),
    ("[[1, 0.11], [9, 1]]", "not reciprocal (their product is 0.99, not 1)"),
])
def test_21_a_matrix_that_is_not_reciprocal_is_refused(capsys, tmp_path, matrix, fragment):
    study = _ahp(tmp_path, matrix)
    _refused(capsys, tmp_path, study, "weights.matrix", fragment, "a_ji = 1/a_ij")


INCONSISTENT = "[[1, 9, 0.1111111111111111], [0.1111111111111111, 1, 9], [9, 0.1111111111111111, 1]]"


def _saaty_cr(matrix: list[list[float]]) -> float:
    """CR computed here from the definition: (lambda_max - n) / (n - 1) / RI(n)."""
    import numpy as np

    a = np.array(matrix)
    lam = max(np.linalg.eigvals(a).real)
    n = a.shape[0]
    return float((lam - n) / (n - 1) / RANDOM_INDEX[n])


def test_22_an_inconsistent_matrix_is_refused(capsys, tmp_path):
    study = _ahp(tmp_path, INCONSISTENT, criteria=NO_WEIGHTS + THIRD)
    cr = _saaty_cr(json.loads(INCONSISTENT))
    assert cr > 0.1
    _refused(capsys, tmp_path, study, "weights.matrix", f"consistency ratio {cr:.3f} > 0.1",
             "allow_inconsistent = true")


def test_22_an_inconsistent_matrix_runs_when_overridden_and_says_so(capsys, tmp_path):
    study = _ahp(tmp_path, INCONSISTENT, criteria=NO_WEIGHTS + THIRD, allow=True)
    before = digests(study.parent)
    out = tmp_path / "out"
    code, stdout, err = cli(capsys, "score", str(study), "--out", str(out), "--quiet")
    assert code == 0, err
    meta = json.loads((out / "shortlist.meta.json").read_text(encoding="utf-8"))
    ahp = meta["scoring"]["ahp"]
    assert ahp["allow_inconsistent"] is True
    assert ahp["consistency_ratio"] == pytest.approx(_saaty_cr(json.loads(INCONSISTENT)),
                                                     abs=1e-6)
    assert digests(study.parent) == before


@pytest.mark.parametrize("matrix", ["[[1, 9], [0.111, 1]]", "[[1, 0.111], [9, 1]]",
                                    "[[1, 7], [0.143, 1]]", "[[1, 3], [0.333, 1]]"])
def test_21_reciprocals_written_with_three_decimals_are_accepted(capsys, tmp_path, matrix):
    """The reciprocity check is relative to the entries: 1/9 written as 0.111 (0.1 % off in the
    product) passes as 1/3 as 0.333 does; an absolute tolerance refused the first."""
    study = _ahp(tmp_path, matrix)
    code, _, err = cli(capsys, "score", str(study), "--out", str(tmp_path / "out"), "--quiet")
    assert code == 0, err
    meta = json.loads((tmp_path / "out" / "shortlist.meta.json").read_text(encoding="utf-8"))
    weights = sorted(c["weight"] for c in meta["scoring"]["criteria"])
    big = json.loads(matrix)[0][1]
    expect = sorted([big / (1 + big), 1 / (1 + big)])
    assert weights == pytest.approx(expect, abs=2e-3)


def test_22_a_consistent_matrix_gives_the_eigenvector_weights(capsys, tmp_path):
    """The reciprocal 2 x 2 matrix [[1, 3], [1/3, 1]] weighs 3:1, i.e. 0.75 and 0.25."""
    study = _ahp(tmp_path, "[[1, 3], [0.3333333333333333, 1]]")
    out = tmp_path / "out"
    code, _, err = cli(capsys, "score", str(study), "--out", str(out), "--quiet")
    assert code == 0, err
    meta = json.loads((out / "shortlist.meta.json").read_text(encoding="utf-8"))
    weights = {c["name"]: c["weight"] for c in meta["scoring"]["criteria"]}
    assert weights == pytest.approx({"primary_walk": 0.75, "hospital_walk": 0.25})


# ------------------------------------------------------------------ 23: unknown keys

@pytest.mark.parametrize(("old", "new", "key", "suggestion"), [
    ("[network]", "[netwrok]", "netwrok", "network"),
    ("max_snap_m = 200.0", "max_snap = 200.0", "network.max_snap", "max_snap_m"),
    ("weight = 2", "wieght = 2", "criteria[0].wieght", "weight"),
    ("best = 500", "bset = 500", "criteria[0].transform.bset", "best"),
    ("id_column", "id_colum", "inputs.parcels.id_colum", "id_column"),
    ("top_n = 10", "topn = 10", "outputs.topn", "top_n"),
])
def test_23_unknown_key_is_named_with_a_did_you_mean(capsys, tmp_path, old, new, key,
                                                     suggestion):
    text = (HEAD + CRITERIA + TAIL).replace(old, new, 1)
    study = tmp_path / "in" / "study.toml"
    write_study(tmp_path / "in")
    study.write_text(text, encoding="utf-8")
    err = _refused(capsys, tmp_path, study, key, f'did you mean "{suggestion}"')
    # The fix lists the keys allowed at that place.
    assert re.search(r"use one of: [^.]*\b" + re.escape(suggestion) + r"\b", err), err


# ------------------------------------------------------------------ 24: malformed TOML

@pytest.mark.parametrize(("old", "new", "reads"), [
    ("max_snap_m = 200.0", "max_snap_m = 200 m", "max_snap_m = 200 m"),
    ('name = "small"', 'name = "small', 'name = "small'),
    ("top_n = 10", "top_n = 10\ntop_n = 5", "top_n = 5"),
    ('kind = "distance"', "kind = distance", "kind = distance"),
])
def test_24_malformed_toml_gives_its_line_number(capsys, tmp_path, old, new, reads):
    text = (HEAD + CRITERIA + TAIL).replace(old, new, 1)
    lines = text.splitlines()
    # The line the error is on, found here independently of the parser.
    lineno = next(i for i, line in enumerate(lines, 1) if line.strip() == reads)
    study = tmp_path / "in" / "study.toml"
    write_study(tmp_path / "in")
    study.write_text(text, encoding="utf-8")
    err = _refused(capsys, tmp_path, study, f"line {lineno}", "not valid TOML",
                   f"The line reads: {reads!r}")
    assert f"{study}: line {lineno}, column " in err
