"""Data safety: outputs are replaced atomically, an interrupted run keeps the previous ones,
and a full run never writes to its inputs.

The interruption is real: ``python -m siteplan run`` in a child process gets SIGINT at the
moment a temporary output file appears in the output folder (polled every millisecond), i.e.
while GDAL is writing the GeoPackage or the map.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slice_study import DATA, ROOT, child_env, cli_subprocess, hash_files, leftovers

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


def _copy_study(folder: Path, formats: str | None = None) -> Path:
    folder.mkdir(parents=True)
    for name in FULL_INPUTS:
        shutil.copy2(DATA / name, folder / name)
    if formats is not None:
        toml = folder / "study.toml"
        text = toml.read_text(encoding="utf-8")
        line = 'formats = ["csv", "xlsx", "gpkg", "html", "png"]'
        assert line in text
        toml.write_text(text.replace(line, f"formats = {formats}"), encoding="utf-8")
    return folder / "study.toml"


def _interrupt_when(toml: Path, out: Path, pattern: str, *extra: str) -> tuple[int, str, str]:
    """Start a run and send SIGINT when a temporary file matching ``pattern`` appears in
    ``out``; return (exit code, the temp file seen, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "siteplan", "run", str(toml), "--out", str(out), "--quiet",
         *extra],
        cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Started from a background job, the child would inherit SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = ""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        # The temporary file itself, not the journal SQLite keeps beside it between layers.
        names = [n for n in os.listdir(out) if ".tmp" in n and pattern in n
                 and not n.endswith("-journal")]
        if names:
            seen = names[0]
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.001)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, seen, err


def test_interrupted_while_writing_the_geopackage_keeps_every_previous_output(full_study,
                                                                            tmp_path):
    """Formats gpkg + maps: the GeoPackage is the first file written, so nothing has been
    replaced yet when the signal lands."""
    out = tmp_path / "out"
    shutil.copytree(full_study["out"], out)
    before = hash_files([out])
    toml = _copy_study(tmp_path / "gpkg_first" / "taiyuan", '["gpkg", "html", "png"]')
    code, seen, err = _interrupt_when(toml, out, "shortlist.gpkg")
    assert seen.startswith(".shortlist.gpkg.") and seen.endswith(".tmp.gpkg"), (seen, err)
    assert code == 130 and "Traceback" not in err, err
    assert "interrupted" in err, err
    assert "Traceback" not in err
    assert leftovers(out) == [], leftovers(out)  # no temp file, no SQLite journal
    assert hash_files([out]) == before
    assert hash_files(full_study["inputs"]) == full_study["input_hashes"]


def test_interrupted_while_writing_the_map_leaves_only_complete_files(full_study, tmp_path):
    """Interrupted at the HTML map: the files written before it are complete new versions
    (the CSV, which is byte-stable between runs, is identical), the map and the PNG are the
    previous ones, and no temporary file is left."""
    out = tmp_path / "out"
    shutil.copytree(full_study["out"], out)
    before = hash_files([out])
    code, seen, err = _interrupt_when(full_study["toml"], out, ".html")
    assert seen.endswith(".tmp.html"), (seen, err)
    assert code == 130 and "Traceback" not in err, err
    assert "interrupted" in err, err
    assert leftovers(out) == []
    after = hash_files([out])
    assert sorted(Path(p).name for p in after) == sorted(Path(p).name for p in before)
    by_name = {Path(p).name: h for p, h in after.items()}
    old = {Path(p).name: h for p, h in before.items()}
    assert by_name["taiyuan.html"] == old["taiyuan.html"]
    assert by_name["taiyuan.png"] == old["taiyuan.png"]
    assert by_name["shortlist.csv"] == old["shortlist.csv"]
    meta = json.loads((out / "shortlist.meta.json").read_text(encoding="utf-8"))
    assert meta["outputs"]["gpkg"]["sha256"] == by_name["shortlist.gpkg"]  # complete, new


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
