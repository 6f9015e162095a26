"""Output sets (issue 17): every output is checked before the analysis starts, a run's files
replace the previous ones as one set, and Ctrl-C at any moment leaves either the previous
complete set or the new one.

The interruptions here are real SIGINTs.  The loop test raises one at chosen points of the
writer itself (the n-th line siteplan executes while writing), so every point is reached on
every machine, whatever its load: nothing depends on timing.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from slice_study import ROOT, cli, cli_shows, hash_files, leftovers, small_study

from siteplan.core.errors import SiteplanWarning
from siteplan.core.outputset import (
    MANIFEST,
    STAGING_PREFIX,
    OutputsCompleteInterrupt,
    plan_outputs,
    safe_stem,
    staged_outputs,
)

pytestmark = cli_shows("no Tianditu key", ".*hold control characters", ".*removed 3 output")


def _outputs(study, formats: list[str], top_n: int = 10) -> None:
    study.write(outputs=f'folder = "out"\ntop_n = {top_n}\nformats = {json.dumps(formats)}')


def _run(capsys, study, *extra: str) -> tuple[int, str, str]:
    return cli(capsys, "run", str(study.toml), "--out", str(study.out), "--quiet", *extra)


def _error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _staging(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(STAGING_PREFIX + "*"))


@pytest.fixture
def no_analysis(monkeypatch):
    """Make any analysis fail loudly: a refusal must come before it."""
    def ran(*args, **kwargs):
        raise AssertionError("the analysis ran before the outputs were checked")
    monkeypatch.setattr("siteplan.pipeline.run_study", ran)
    monkeypatch.setattr("siteplan.pipeline.run_catchments", ran)


# --------------------------------------------------------------- refused before the analysis


@pytest.mark.parametrize("case", ["out_is_a_file", "out_under_a_file", "folder_at_a_file",
                                  "path_too_long", "output_is_an_input"])
def test_output_problems_are_refused_before_the_analysis(capsys, tmp_path, no_analysis, case):
    study = small_study(tmp_path)
    before = hash_files(study.inputs)
    expect = {"out_is_a_file": "is a file, not a folder",
              "out_under_a_file": "cannot create the output folder",
              "folder_at_a_file": "a folder stands where the output file 'shortlist.csv' goes",
              "path_too_long": "this system's limit is",
              "output_is_an_input": "the same as an input file"}[case]
    if case == "out_is_a_file":
        study.out.write_text("x")
    elif case == "out_under_a_file":
        (tmp_path / "f").write_text("x")
        study.out = tmp_path / "f" / "out"
    elif case == "folder_at_a_file":
        (study.out / "shortlist.csv").mkdir(parents=True)
    elif case == "path_too_long":
        study.out = tmp_path.joinpath(*["d" * 200] * 21)  # ~4,200 bytes; created by nobody
    else:
        study.out = study.folder
        study.write(inputs_parcels='path = "shortlist.gpkg"\nlayer = "parcels"\n'
                    'id_column = "parcel_id"')
        study.parcels.rename(study.folder / "shortlist.gpkg")
        study.parcels = study.folder / "shortlist.gpkg"
        before = hash_files(study.inputs)
    listing = sorted(p.name for p in tmp_path.rglob("*"))
    code, _, err = _run(capsys, study)
    line = _error(err)
    assert code == 2 and expect in line and "Fix: " in line, line
    assert sorted(p.name for p in tmp_path.rglob("*")) == listing  # nothing created
    assert hash_files(study.inputs) == before


def test_catchments_and_site_outputs_are_checked_before_the_analysis(capsys, tmp_path,
                                                                     no_analysis):
    study = small_study(tmp_path)
    (study.out / "coverage.csv").mkdir(parents=True)
    code, _, err = cli(capsys, "catchments", str(study.toml), "--out", str(study.out))
    assert code == 2 and "coverage.csv" in _error(err)
    for stem, expect in (("s" * 300, "bytes long"), ("a\x01b", "control character")):
        code, _, err = cli(capsys, "site", str(study.toml), "--class", "kindergarten", "--k",
                           "1", "--stem", stem, "--out", str(tmp_path / "site"))
        assert code == 2 and expect in _error(err), err
    assert not (tmp_path / "site").exists()


def test_a_long_study_folder_name_gives_a_bounded_map_name(capsys, tmp_path):
    """Maps are named after the study's folder: a 240-byte name would make a temporary file
    name longer than the file system allows.  The stem is cut (with a hash) and the run works."""
    study = small_study(tmp_path)
    folder = study.folder.rename(tmp_path / ("太原" * 40))  # 240 bytes in UTF-8
    study.toml = folder / "study.toml"
    _outputs(study, ["csv", "html"])
    code, out, err = _run(capsys, study)
    assert code == 0, err
    html = [p.name for p in study.out.glob("*.html")]
    assert html == [f"{safe_stem('太原' * 40)}.html"] and len(html[0].encode()) <= 85
    assert html[0].startswith("太原太原") and f"map: {study.out / html[0]}" in out


def test_control_characters_in_parcel_text_are_cleaned_in_the_xlsx(capsys, tmp_path):
    study = small_study(tmp_path)
    import geopandas as gpd

    parcels = gpd.read_file(study.parcels, layer="parcels")
    parcels["name"] = [f"地块\x01{i}\x0b" if i < 3 else f"地块{i}" for i in range(len(parcels))]
    parcels.to_file(study.parcels, layer="parcels", driver="GPKG")
    _outputs(study, ["csv", "xlsx"], top_n=len(parcels))
    code, _, err = _run(capsys, study)
    assert code == 0, err
    assert "warning: shortlist.xlsx: 3 cell(s) hold control characters an XLSX" in err, err
    sheet = load_workbook(study.out / "shortlist.xlsx", read_only=True)["排名 Ranking"]
    rows = list(sheet.iter_rows(values_only=True))
    col = rows[1].index("name")
    names = {r[col] for r in rows[2:]}
    assert "地块\ufffd0\ufffd" in names and not any("\x01" in n for n in names)
    csv = pd.read_csv(study.out / "shortlist.csv", encoding="utf-8-sig", dtype=str)
    assert "地块\x010\x0b" in set(csv["name"])  # the CSV keeps the text as it is


# ------------------------------------------------------------------- sets and stale files


def test_a_new_set_removes_the_files_of_the_set_it_supersedes(capsys, tmp_path):
    study = small_study(tmp_path)
    _outputs(study, ["csv", "xlsx", "html", "png"])
    assert _run(capsys, study)[0] == 0
    (study.out / "notes.txt").write_text("the user's own file")
    assert sorted(p.name for p in study.out.iterdir()) == [
        MANIFEST, "notes.txt", "shortlist.csv", "shortlist.meta.json", "shortlist.xlsx",
        "study.html", "study.png"]
    _outputs(study, ["csv", "gpkg"])
    code, _, err = _run(capsys, study)
    assert code == 0, err
    assert (f"warning: {study.out}: removed 3 output(s) of an earlier run that this run does "
            "not write") in err and "shortlist.xlsx, study.html, study.png." in err, err
    assert sorted(p.name for p in study.out.iterdir()) == [
        MANIFEST, "notes.txt", "shortlist.csv", "shortlist.gpkg", "shortlist.meta.json"]
    meta = json.loads((study.out / "shortlist.meta.json").read_text(encoding="utf-8"))
    assert set(meta["outputs"]) == {"csv", "gpkg"}
    # A set that shares no file with the study's (siting) leaves it alone.
    code, _, err = cli(capsys, "site", str(study.toml), "--class", "kindergarten", "--k", "1",
                       "--out", str(study.out), "--quiet")
    assert code == 0, err
    assert {"shortlist.csv", "shortlist.gpkg", "siting.gpkg", "notes.txt"} <= {
        p.name for p in study.out.iterdir()}
    assert leftovers(study.out) == [] and _staging(study.out) == []


def test_a_failed_write_leaves_the_previous_set_and_no_new_file(tmp_path):
    out = tmp_path / "new" / "out"
    plan = plan_outputs(out, ["a.csv", "b.csv"])
    with pytest.raises(ValueError, match="writer failed"):
        with staged_outputs(plan) as stage:
            (stage / "a.csv").write_text("new")
            raise ValueError("writer failed")
    assert not (tmp_path / "new").exists()  # the folders the run created are gone again
    with staged_outputs(plan) as stage:
        for name in plan.names:
            (stage / name).write_text("old")
    before = hash_files([out])
    with pytest.raises(ValueError), staged_outputs(plan) as stage:
        (stage / "a.csv").write_text("new")
        raise ValueError
    assert hash_files([out]) == before and _staging(out) == []


def test_a_swallowed_ctrl_c_stops_the_set_before_its_swap(tmp_path, capfd):
    """A KeyboardInterrupt raised inside a destructor cannot propagate (Python prints
    "Exception ignored" with a traceback and goes on); the swap must not happen anyway."""
    plan = plan_outputs(tmp_path, ["a.csv", "b.csv"])
    with staged_outputs(plan) as stage:
        for name in plan.names:
            (stage / name).write_text("old")
    before = hash_files([tmp_path])

    class Interrupting:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), staged_outputs(plan) as stage:
            (stage / "a.csv").write_text("new")
            Interrupting()  # the signal's KeyboardInterrupt is swallowed here
            (stage / "b.csv").write_text("new")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert hash_files([tmp_path]) == before and _staging(tmp_path) == []
    assert "Traceback" not in capfd.readouterr().err


def test_a_swap_killed_half_way_is_completed_by_the_next_run(tmp_path):
    """``kill -9`` after the first file of the swap: the next set written there first completes
    the interrupted swap (its journal), so the folder never stays mixed."""
    out = tmp_path / "out"
    script = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
from siteplan.core import outputset
from siteplan.core.outputset import plan_outputs, staged_outputs
plan = plan_outputs({str(out)!r}, ["a.csv", "b.csv"])
with staged_outputs(plan) as stage:
    for name in plan.names:
        (stage / name).write_text(sys.argv[1])
if sys.argv[1] == "new":
    real = os.replace
    def replace_then_die(src, dst):
        real(src, dst)
        if str(dst) == {str(out / "a.csv")!r}:
            os._exit(9)
    outputset.os.replace = replace_then_die
    with staged_outputs(plan) as stage:
        for name in plan.names:
            (stage / name).write_text("newer")
"""
    for version in ("old", "new"):
        subprocess.run([sys.executable, "-c", script, version], check=version == "old",
                       timeout=120)
    # Killed after a.csv: a mixed folder, with the journal in the staging folder.
    assert (out / "a.csv").read_text() == "newer" and (out / "b.csv").read_text() == "new"
    assert len(_staging(out)) == 1
    plan = plan_outputs(out, ["c.csv"])
    with pytest.warns(SiteplanWarning, match="completed the swap of outputs"):
        with staged_outputs(plan) as stage:
            (stage / "c.csv").write_text("c")
    assert [(out / n).read_text() for n in ("a.csv", "b.csv", "c.csv")] == ["newer"] * 2 + ["c"]
    assert _staging(out) == []


# ------------------------------------------------------------ Ctrl-C at many points, a loop


def _check_old_or_new(out: Path, old: dict[str, str], new_names: list[str]) -> str:
    """The folder holds exactly the previous set, or a complete new set; say which."""
    now = hash_files([out])
    if now == old:
        return "old"
    names = sorted(Path(p).name for p in now)
    assert names == sorted([*new_names, MANIFEST]), names
    meta = json.loads((out / "shortlist.meta.json").read_text(encoding="utf-8"))
    for entry in meta["outputs"].values():  # each file is the one this meta.json describes
        assert now[str(out / entry["path"])] == entry["sha256"], entry
    assert meta["shortlist"]["top_n"] == 10  # the new run's, not the old one's (3)
    return "new"


class _SignalAt:
    """A tracer that raises a real SIGINT at the n-th line siteplan executes (counting only
    lines of siteplan's own files), or counts them and notes which are the swap's."""

    def __init__(self, n: int | None = None) -> None:
        self.n, self.count = n, 0
        self.package = str(ROOT / "siteplan")
        self.swap: list[int] = []  # the lines of siteplan.core.outputset after the writers

    def __call__(self, frame, event, arg):
        if not frame.f_code.co_filename.startswith(self.package):
            return None
        return self._line

    def _line(self, frame, event, arg):
        if event == "line":
            self.count += 1
            if self.count == self.n:
                signal.raise_signal(signal.SIGINT)
            if self.n is None and frame.f_code.co_name in self.SWAP:
                self.swap.append(self.count)
        return self._line

    SWAP = ("_commit", "_apply", "_write_json", "_deferred_sigint", "_manifest_sets",
            "_read_json")


@pytest.mark.slow
def test_ctrl_c_at_any_point_of_the_write_leaves_the_old_set_or_the_new_one(tmp_path):
    from siteplan.outputs.writers import write_outputs
    from siteplan.pipeline import run_study

    study = small_study(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SiteplanWarning)
        result = run_study(study.toml)
    new_formats = ["csv", "xlsx", "gpkg"]
    new_names = ["shortlist.csv", "shortlist.xlsx", "shortlist.gpkg", "shortlist.meta.json"]

    def write(out: Path, formats: list[str], top_n: int, tracer=None) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SiteplanWarning)
            sys.settrace(tracer)
            try:
                write_outputs(result, out, formats=formats, top_n=top_n)
            finally:
                sys.settrace(None)

    old_out = tmp_path / "old"  # the previous run: other settings, a PNG the new one drops
    write(old_out, ["csv", "xlsx", "gpkg", "html", "png"], 3)
    counter = _SignalAt()
    write(tmp_path / "count", new_formats, 10, counter)
    total = counter.count
    # Every line of the swap itself, and 30 points spread over the rest of the write.
    swap = [n for n in counter.swap if n > total // 2]
    points = sorted(set(range(1, total, max(1, total // 30))) | set(swap))
    assert len(swap) > 30, swap
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    seen = {"old": 0, "new": 0}
    try:
        for n in points:
            out = tmp_path / f"at{n}"
            shutil.copytree(old_out, out)
            old = hash_files([out])
            interrupted: type[BaseException] | None = None
            try:
                write(out, new_formats, 10, _SignalAt(n))
            except KeyboardInterrupt as exc:
                interrupted = type(exc)
            state = _check_old_or_new(out, old, new_names)
            seen[state] += 1
            assert _staging(out) == [] and leftovers(out) == [], n
            # The old set only after an interrupt before the swap; an uninterrupted write, or a
            # signal during the swap (raised after it), leaves the new one.
            if state == "old":
                assert interrupted is KeyboardInterrupt, n
            if interrupted in (None, OutputsCompleteInterrupt):
                assert state == "new", (n, interrupted)
            shutil.rmtree(out)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen["old"] >= 25 and seen["new"] >= 10, seen
