"""The skip policy itself (tests/skip_policy.py, scripts/install_system_deps.sh).

In CI (``CI=true``) and under ``make test`` a test of a component the README promises may not
skip: a Chromium that cannot start or a missing PostgreSQL/PostGIS is a failure, unless
``SITEPLAN_ALLOW_SKIP`` names the component.  Shown on a synthetic test and on the real browser
and PostGIS tests, pointed at a browser that cannot start and at a folder without PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _pytest(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("CI", "SITEPLAN_STRICT_SKIPS", "SITEPLAN_ALLOW_SKIP")
             and not k.startswith(("PYTEST_", "COV_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", *args], cwd=cwd, env={**clean, **env},
                          capture_output=True, text=True, timeout=600)


SYNTHETIC = '''
import pytest

@pytest.mark.browser
def test_needs_chromium():
    pytest.skip("chromium cannot start")

@pytest.mark.postgis
def test_needs_postgis(server):
    pass

@pytest.fixture
def server():
    pytest.skip("no PostgreSQL/PostGIS server here")

def test_plain():
    pytest.skip("not a component")
'''


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
        "from skip_policy import pytest_runtest_makereport  # noqa: F401\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    browser: b\n    postgis: p\n")
    (tmp_path / "test_components.py").write_text(SYNTHETIC)
    return tmp_path


# (A skip in a fixture fails the test's setup, which pytest counts as an error.)
@pytest.mark.parametrize(("env", "code", "outcome"), [
    ({}, 0, "3 skipped"),
    ({"CI": "true"}, 1, "1 failed, 1 skipped, 1 error"),
    ({"SITEPLAN_STRICT_SKIPS": "1"}, 1, "1 failed, 1 skipped, 1 error"),
    ({"CI": "true", "SITEPLAN_ALLOW_SKIP": "chromium"}, 1, "2 skipped, 1 error"),
    ({"CI": "true", "SITEPLAN_ALLOW_SKIP": "chromium, postgis"}, 0, "3 skipped"),
    ({"CI": "true", "SITEPLAN_ALLOW_SKIP": "all"}, 0, "3 skipped"),
])
def test_a_component_skip_fails_in_ci_unless_allowed(synthetic, env, code, outcome):
    proc = _pytest(["-rA"], synthetic, **env)
    assert proc.returncode == code, proc.stdout
    assert f"{outcome} in" in proc.stdout, proc.stdout
    if code:
        assert "which the README promises, and would have skipped" in proc.stdout
        assert "SITEPLAN_ALLOW_SKIP=" in proc.stdout


def test_ci_fails_when_chromium_cannot_start(tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 1\n")
    fake.chmod(0o755)
    test = "tests/test_browser.py::test_offline_map_makes_no_request_and_logs_no_error"
    proc = _pytest([test], ROOT, CI="true", SITEPLAN_TEST_CHROMIUM=str(fake))
    assert proc.returncode == 1 and "1 error" in proc.stdout, proc.stdout
    assert "needs chromium" in proc.stdout and "cannot start" in proc.stdout
    allowed = _pytest([test], ROOT, CI="true", SITEPLAN_TEST_CHROMIUM=str(fake),
                      SITEPLAN_ALLOW_SKIP="chromium")
    assert allowed.returncode == 0 and "1 skipped" in allowed.stdout, allowed.stdout


def test_ci_fails_when_postgis_cannot_start(tmp_path):
    test = "tests/test_postgis.py::test_table_as_argument"
    proc = _pytest([test], ROOT, CI="true", SITEPLAN_TEST_PG_BINDIR=str(tmp_path))
    assert proc.returncode == 1 and "1 error" in proc.stdout, proc.stdout
    assert "needs postgis" in proc.stdout and "PostgreSQL server binaries" in proc.stdout


def _fake_system(tmp_path: Path) -> dict[str, str]:
    """A PATH where the script sees no chromium, no CJK font and a non-root user."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for tool in ("ls", "grep", "sort", "tail", "sed", "head"):
        found = shutil.which(tool)
        if found:
            (bin_ / tool).symlink_to(found)
    (bin_ / "id").write_text("#!/bin/sh\necho 1000\n")
    (bin_ / "fc-list").write_text("#!/bin/sh\nexit 0\n")
    for tool in ("id", "fc-list"):
        (bin_ / tool).chmod(0o755)
    return {"PATH": str(bin_)}


def test_install_script_fails_loudly_unless_the_skip_is_allowed(tmp_path):
    script = str(ROOT / "scripts" / "install_system_deps.sh")
    env = _fake_system(tmp_path)
    bash = shutil.which("bash") or "/bin/bash"
    proc = subprocess.run([bash, script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "error: missing system package chromium" in proc.stderr
    assert "SITEPLAN_ALLOW_SKIP=chromium" in proc.stderr and "fonts-wqy-microhei" in proc.stderr
    ok = subprocess.run([bash, script], env={**env, "SITEPLAN_ALLOW_SKIP": "chromium,cjk_font"},
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "note: missing system package chromium" in ok.stderr, ok.stderr
