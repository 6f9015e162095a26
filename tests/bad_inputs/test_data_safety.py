"""Data safety: outputs are replaced as one set, an interrupted run keeps the previous ones,
and a full run never writes to its inputs.

The interruption is real: ``python -m siteplan run`` in a child process gets SIGINT once its
staging folder holds a file (polled every millisecond), i.e. while the writers are at work.
Where exactly it lands does not change the verdict (tests/bad_inputs/test_output_sets.py
interrupts the writer at chosen points in a loop).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slice_study import DATA, ROOT, child_env, cli_subprocess, hash_files, leftovers

from siteplan.core.outputset import STAGING_PREFIX

FULL_INPUTS = ("taiyuan_osm_lines.geojson", "taiyuan_osm_multipolygons.geojson", "parcels.gpkg",
               "study.toml")


@pytest.fixture(scope="module")
def full_study(tmp_path_factory) -> dict[str, object]:
    """A copy of the bundled Taiyuan study (its outputs are big enough to interrupt), run once.

    Returns the study file, its inputs, the output folder of the first run and that run's
    output hashes.
    """
    folder = tmp_path_factory.mktemp("full") / "taiyuan"  # maps are named after the folder
    _copy_study(folder)
    out = folder / "out"
    inputs = [folder / n for n in FULL_INPUTS]
    before = hash_files(inputs)
    code, stdout, err = cli_subprocess("run", str(folder / "study.toml"), "--out", str(out),
                                       "--quiet")
    assert code == 0, err
    assert hash_files(inputs) == before  # a full run leaves every input byte-identical
    return {"toml": folder / "study.toml", "out": out, "inputs": inputs,
            "input_hashes": before, "hashes": hash_files([out]), "stdout": stdout}


def _copy_study(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in FULL_INPUTS:
        shutil.copy2(DATA / name, folder / name)
    return folder / "study.toml"


def _interrupt_when_writing(toml: Path, out: Path, *extra: str) -> tuple[int, str]:
    """Start a run and send SIGINT once its staging folder in ``out`` holds a file (the writers
    are at work); return (exit code, stderr).  Which file that is, and how far the writers got
    when the signal lands, does not matter: the outcome must be right wherever it lands."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "siteplan", "run", str(toml), "--out", str(out), "--quiet",
         *extra],
        cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Started from a background job, the child would inherit SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if any(any(d.iterdir()) for d in out.glob(STAGING_PREFIX + "*")):
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.001)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err


def _old_or_new(out: Path, before: dict[str, str], code: int, err: str) -> str:
    """Assert the folder holds the previous complete set or the new complete one; say which."""
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert leftovers(out) == [] and not list(out.glob(STAGING_PREFIX + "*"))
    after = hash_files([out])
    if after == before:
        assert code == 130 and "interrupted: nothing of this run was kept" in err, err
        return "old"
    # The signal came too late to stop the swap: every file is the new run's.
    assert code in (0, 130), err
    assert sorted(after) == sorted(before), (sorted(after), sorted(before))
    meta = json.loads((out / "shortlist.meta.json").read_text(encoding="utf-8"))
    for entry in meta["outputs"].values():
        assert after[str(out / entry["path"])] == entry["sha256"], entry
    return "new"


def test_interrupted_while_writing_keeps_the_previous_set_or_swaps_in_the_new_one(full_study,
                                                                                tmp_path):
    """A real Ctrl-C while the writers are at work (GeoPackage, XLSX, maps): exit 130 with one
    message and no traceback, and the folder holds the previous complete set (or, had the
    signal come during the swap, the new complete set), no temporary or staging file."""
    out = tmp_path / "out"
    shutil.copytree(full_study["out"], out)
    before = hash_files([out])
    code, err = _interrupt_when_writing(full_study["toml"], out)
    _old_or_new(out, before, code, err)
    assert hash_files(full_study["inputs"]) == full_study["input_hashes"]


def test_a_refused_run_does_not_touch_previous_outputs(full_study, tmp_path):
    """A run that fails on its input leaves the previous outputs exactly as they were."""
    folder = full_study["toml"].parent
    broken = tmp_path / "study"
    broken.mkdir()
    for name in FULL_INPUTS:
        shutil.copy2(folder / name, broken / name)
    (broken / "parcels.gpkg").write_bytes(b"")
    out = tmp_path / "out"
    shutil.copytree(full_study["out"], out)
    before = hash_files([out])
    code, _, err = cli_subprocess("run", str(broken / "study.toml"), "--out", str(out),
                                  "--quiet")
    assert code == 2 and "0 bytes" in err and "parcels.gpkg" in err, err
    assert hash_files([out]) == before and leftovers(out) == []
