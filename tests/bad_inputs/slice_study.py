"""A small real study for the bad-input cases: a slice of central Taiyuan, and helpers.

Not a conftest.py on purpose: a conftest.py in this folder would be imported as the module
``conftest`` and replace ``tests/conftest.py`` there, breaking ``from conftest import ...`` in
tests/test_facilities.py, test_network.py and test_osm.py when the whole suite runs.  Import
what you need: ``from slice_study import small_study, cli, hash_files``.

- ``SLICE_BBOX``: the lon/lat box of the slice, central Taiyuan (about 2.2 km x 3.3 km).
- :func:`slice_frames`: ``{"streets", "features", "parcels"}`` GeoDataFrames of the slice, read
  once per process from ``data/taiyuan``.  Do not modify them (copy first).
- :func:`slice_files`: a folder holding the slice as files (``streets.geojson``,
  ``features.geojson``, ``parcels.gpkg``), written once per process.  Read-only for tests.
- :func:`small_study`: a :class:`SmallStudy` in a test's ``tmp_path`` with its own copies of the
  slice files and a ``study.toml`` that runs end to end in about a second.
- :func:`study_toml`: the TOML text of such a study, with sections replaced or added.
- :func:`sha256`, :func:`hash_files`: content hashes, to prove inputs are never rewritten.
- :func:`cli`: run ``siteplan.cli.main`` in-process, return ``(exit code, stdout, stderr)``.
- :func:`leftovers`: temporary files a writer left in a folder.
- :func:`cli_subprocess`: ``python -m siteplan ...`` in a child process; with
  ``permissions_bind=True`` a root child loses the capabilities that let root ignore file
  permissions (:func:`drop_root_override`), so ``chmod 000`` / ``chmod 555`` act as for a user.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "taiyuan"
LINES = DATA / "taiyuan_osm_lines.geojson"
POLYGONS = DATA / "taiyuan_osm_multipolygons.geojson"
PARCELS = DATA / "parcels.gpkg"

#: Central Taiyuan: a kindergarten, 6 primary and 7 middle schools, hospitals, ~60 blocks.
SLICE_BBOX = (112.535, 37.840, 112.560, 37.870)

# A study that needs only what the slice has: the three seed classes of 好房子 三(二)8.
_BASE_TOML = {
    "study": 'name = "bad-input slice"',
    "inputs": 'streets = "streets.geojson"\nfacilities = "features.geojson"',
    "inputs.parcels": 'path = "parcels.gpkg"\nlayer = "parcels"\nid_column = "parcel_id"',
    "network": "max_snap_m = 200.0\nsearch_limit_m = 2000.0",
    "criteria": (
        'name = "kindergarten_walk"\nkind = "distance"\nclass = "kindergarten"\nweight = 1\n'
        'transform = { type = "linear", best = 300, worst = 1000 }'
    ),
    "criteria ": (
        'name = "primary_school_walk"\nkind = "distance"\nclass = "primary_school"\n'
        'weight = 1\ntransform = { type = "linear", best = 500, worst = 1500 }'
    ),
    "outputs": 'folder = "out"\ntop_n = 10\nformats = ["csv", "gpkg"]',
}


def study_toml(**sections: str | None) -> str:
    """TOML text of the slice study; ``sections`` replace (or, with ``None``, remove) tables.

    Keys are table names with dots replaced by underscores (``inputs_parcels``, ``crs``); a
    table not in the base study is added.  ``criteria`` and ``criteria_2`` are the two
    ``[[criteria]]`` entries.
    """
    tables: dict[str, str | None] = dict(_BASE_TOML)
    for key, text in sections.items():
        name = "criteria " if key == "criteria_2" else key.replace("_", ".")
        tables[name] = text
    parts = []
    for name, text in tables.items():
        if text is None:
            continue
        header = f"[[{name.strip()}]]" if name.strip() == "criteria" else f"[{name}]"
        parts.append(f"{header}\n{text}\n")
    return "\n".join(parts)


@dataclass
class SmallStudy:
    """A study folder of its own: copies of the slice inputs and ``study.toml``."""

    folder: Path
    toml: Path
    streets: Path
    facilities: Path
    parcels: Path
    out: Path

    @property
    def inputs(self) -> list[Path]:
        """Every input file of the study, the TOML included."""
        return [self.toml, self.streets, self.facilities, self.parcels]

    def write(self, **sections: str | None) -> Path:
        """Rewrite ``study.toml`` with :func:`study_toml` overrides; return its path."""
        self.toml.write_text(study_toml(**sections), encoding="utf-8")
        return self.toml


def sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def hash_files(paths: Iterable[str | Path]) -> dict[str, str]:
    """``{path: sha256}`` of every file in ``paths`` (folders: every file under them)."""
    out: dict[str, str] = {}
    for p in map(Path, paths):
        if p.is_dir():
            out.update({str(f): sha256(f) for f in sorted(p.rglob("*")) if f.is_file()})
        elif p.is_file():
            out[str(p)] = sha256(p)
        else:  # missing, or a pipe that must not be opened
            out[str(p)] = "<missing>" if not p.exists() else "<not a regular file>"
    return out


def leftovers(folder: str | Path) -> list[str]:
    """Names of temporary files (``.<name>.*.tmp*``) left in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def cli_shows(*messages: str) -> pytest.MarkDecorator:
    """Mark a case whose input is expected to cause the SiteplanWarnings matching ``messages``.

    The command line shows siteplan's warnings as ``warning: ...`` lines, which the cases read;
    under the project's warnings-as-errors (pyproject.toml) a warning would stop an in-process
    run as an internal error instead.  The mark lets exactly these warnings through to that
    display: each message is a regular expression matched from the start of the warning's
    text (no colons: ``.`` stands for one), as in ``-W``.
    """
    return pytest.mark.filterwarnings(
        *(f"always:{m}:siteplan.core.errors.SiteplanWarning" for m in messages))


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """Run the command line in-process: ``(exit code, stdout, stderr)``."""
    from siteplan.cli import main

    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def drop_root_override() -> None:
    """In a child before exec: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding
    set, so that a root process obeys file permissions after exec (``preexec_fn``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def permissions_bind() -> tuple[bool, str]:
    """Whether a child process can be made to obey chmod, and if not, why."""
    if os.geteuid() != 0:
        return True, "not root: permissions apply"
    probe = subprocess.run([sys.executable, "-c", "import os; print(os.access('/root', os.W_OK))"],
                           preexec_fn=drop_root_override, capture_output=True, text=True,
                           timeout=60)
    if probe.returncode != 0:
        return False, ("running as root and the capabilities that let root ignore chmod "
                       f"cannot be dropped here: {probe.stderr.strip().splitlines()[-1:]}")
    return True, "root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH"


def _child_setup(bind: bool) -> None:
    # A test run started in the background inherits SIGINT ignored, and Python then never
    # raises KeyboardInterrupt; the child gets the default disposition, as in a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if bind and os.geteuid() == 0:
        drop_root_override()


def cli_subprocess(*args: str, permissions_bind: bool = False, timeout: float = 180,
                   cwd: str | Path | None = None) -> tuple[int, str, str]:
    """Run ``python -m siteplan <args>`` in a child process: ``(exit code, stdout, stderr)``."""
    proc = subprocess.run([sys.executable, "-m", "siteplan", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd or ROOT, env=child_env(),
                          preexec_fn=lambda: _child_setup(permissions_bind))
    return proc.returncode, proc.stdout, proc.stderr


def child_env() -> dict[str, str]:
    """Environment of a child run: no colour codes, a wide console for one-line messages."""
    env = dict(os.environ)
    env.update({"NO_COLOR": "1", "COLUMNS": "400", "TERM": "dumb"})
    return env


@functools.cache
def slice_frames() -> dict[str, gpd.GeoDataFrame]:
    """The slice's streets, OSM areas and parcels (cached; copy before changing them)."""
    box = shapely.box(*SLICE_BBOX)
    lines = gpd.read_file(LINES, bbox=SLICE_BBOX, engine="pyogrio")
    lines = lines.clip(box).explode(index_parts=False).reset_index(drop=True)
    lines = lines[lines.geom_type == "LineString"].reset_index(drop=True)
    features = gpd.read_file(POLYGONS, bbox=SLICE_BBOX, engine="pyogrio")
    features = features[features.representative_point().within(box)].reset_index(drop=True)
    parcels = gpd.read_file(PARCELS, layer="parcels", bbox=SLICE_BBOX, engine="pyogrio")
    parcels = parcels[parcels.within(box)].reset_index(drop=True)
    return {"streets": lines, "features": features, "parcels": parcels}


@functools.cache
def slice_files() -> Path:
    """A folder with the slice as files, written once per process (removed at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="siteplan_slice_"))
    atexit.register(shutil.rmtree, folder, True)
    frames = slice_frames()
    frames["streets"].to_file(folder / "streets.geojson", driver="GeoJSON", engine="pyogrio")
    frames["features"].to_file(folder / "features.geojson", driver="GeoJSON", engine="pyogrio")
    frames["parcels"].to_file(folder / "parcels.gpkg", layer="parcels", driver="GPKG",
                              engine="pyogrio")
    return folder


def small_study(tmp_path: Path) -> SmallStudy:
    """A runnable study in ``tmp_path/study`` (outputs to ``tmp_path/out``)."""
    folder = tmp_path / "study"
    folder.mkdir()
    source = slice_files()
    for name in ("streets.geojson", "features.geojson", "parcels.gpkg"):
        shutil.copy2(source / name, folder / name)
    study = SmallStudy(folder=folder, toml=folder / "study.toml",
                       streets=folder / "streets.geojson",
                       facilities=folder / "features.geojson",
                       parcels=folder / "parcels.gpkg", out=tmp_path / "out")
    study.write()
    return study
