"""The package's shape: layers and cycles (import-linter), the public face, what the wheel
ships, module sizes."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import siteplan

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the project's contracts on the ``siteplan`` under a folder."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"),
                           "--no-cache"], capture_output=True, text=True, env=env,
                          cwd=package_parent, timeout=300)


def _copy_package(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "siteplan", tmp_path / "siteplan", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "siteplan"


def test_the_layers_and_no_cycles_hold_on_the_tree():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 kept, 0 broken" in run.stdout


def test_an_upward_import_inside_a_function_breaks_the_layers(tmp_path):
    pkg = _copy_package(tmp_path)
    errors = pkg / "core" / "errors.py"
    errors.write_text(errors.read_text() + "\n\ndef _late() -> None:\n"
                      "    from siteplan.pipeline import run_study  # noqa: F401\n")
    run = _lint_imports(tmp_path)
    assert run.returncode != 0
    assert "siteplan.core is not allowed to import siteplan.pipeline" in run.stdout
    assert "siteplan.core.errors -> siteplan.pipeline" in run.stdout


def test_a_cycle_inside_a_package_is_refused(tmp_path):
    pkg = _copy_package(tmp_path)
    graph = pkg / "network" / "graph.py"
    graph.write_text(graph.read_text() + "\n\ndef _late() -> None:\n"
                     "    import siteplan.network.build  # noqa: F401\n")
    run = _lint_imports(tmp_path)
    assert run.returncode != 0
    assert "No cycles are allowed in siteplan.network" in run.stdout


def test_the_facade_exports_the_documented_api_lazily():
    names = set(siteplan.__all__)
    for name in ("run_study", "graph_from_file", "load_facilities", "facility_access",
                 "catchments", "coverage", "assess_parcels", "write_outputs", "site_study",
                 "load_study", "Study", "StudyResult", "InputLayer", "read_input",
                 "SiteplanError", "OSM_CREDIT", "__version__"):
        assert name in names
    for name in sorted(names):
        assert getattr(siteplan, name) is not None, name
    assert siteplan.run_study.__module__ == "siteplan.pipeline"
    with pytest.raises(AttributeError):
        siteplan.no_such_name  # noqa: B018


@pytest.mark.parametrize("module", ["siteplan", "siteplan.study", "siteplan.study.model"])
def test_importing_the_package_or_the_study_model_does_not_load_the_engine(module):
    code = (f"import sys, {module}\n"
            "heavy = [m for m in ('pandas', 'geopandas', 'shapely', 'scipy', 'folium', "
            "'matplotlib', 'siteplan.pipeline', 'siteplan.network.graph') if m in sys.modules]\n"
            "print(','.join(heavy))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert run.stdout.strip() == ""


def test_the_version_has_one_source():
    assert siteplan.__version__ == importlib.metadata.version("siteplan")
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{siteplan.__version__}"' in text


def test_every_module_is_readable_in_one_sitting():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "siteplan").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert long == {}


@pytest.mark.slow
def test_the_wheel_ships_the_demo_and_siteplan_demo_runs_from_it(tmp_path):
    dist, target, work = tmp_path / "dist", tmp_path / "site", tmp_path / "work"
    # Built from a copy: an in-tree build would write build/ into the checkout.
    src = tmp_path / "src"
    shutil.copytree(ROOT / "siteplan", src / "siteplan", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data" / "taiyuan", src / "data" / "taiyuan")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist),
                    str(src)], check=True, capture_output=True, timeout=600)
    wheel = next(dist.glob("siteplan-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"siteplan/demo/taiyuan/study.toml", "siteplan/demo/taiyuan/parcels.gpkg",
            "siteplan/demo/taiyuan/PROVENANCE.md", "siteplan/py.typed",
            "siteplan/__init__.pyi", "siteplan/outputs/maps/static/siteplan_map.js",
            "siteplan/locale/zh_CN/LC_MESSAGES/siteplan.mo"} <= names
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import siteplan; print(siteplan.__file__)"],
                           capture_output=True, text=True, cwd=work, env=env, check=True)
    assert Path(where.stdout.strip()).is_relative_to(target)
    # The message catalogue is found where the wheel put it.
    zh = subprocess.run([sys.executable, "-m", "siteplan", "--lang", "zh", "run", "nope.toml"],
                        capture_output=True, text=True, cwd=work, env=env, timeout=600)
    assert zh.returncode == 2 and "研究配置文件不存在" in zh.stderr, zh.stderr
    run = subprocess.run([sys.executable, "-m", "siteplan", "demo", "--out", "maps", "--quiet"],
                         capture_output=True, text=True, cwd=work, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    assert (work / "maps" / "taiyuan.html").stat().st_size > 100_000
    assert (work / "maps" / "shortlist.csv").read_text(encoding="utf-8-sig").count("\n") > 100


@pytest.mark.parametrize(("extra", "module"), [("postgis", "geoalchemy2"), ("dask", "distributed")])
def test_a_missing_extra_is_named_with_its_install_command(monkeypatch, extra, module):
    import importlib.util

    from siteplan.core.errors import SiteplanError
    from siteplan.core.optional import require_extra

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == module else real(name, *a))
    with pytest.raises(SiteplanError, match=rf"{module}.*pip install 'siteplan\[{extra}\]'"):
        require_extra(extra, "this test")
    if extra == "postgis":
        from siteplan.io.postgis.connect import parse_postgis_url

        with pytest.raises(SiteplanError, match=r"PostGIS source postgresql://u:\*\*\*@h/db") as err:
            parse_postgis_url("postgresql://u:secret@h/db?table=t")
        assert "secret" not in str(err.value)  # never a password in a message
