"""The skip policy: a component the README promises may not quietly skip in CI or `make test`.

Tests that need a system component carry its marker: ``browser`` (Chromium driven by Python
playwright), ``postgis`` (a PostgreSQL server with PostGIS), ``cjk_font`` (a Chinese font for
the static map) and ``permissions`` (a child process that obeys chmod although the run is root).
Where the component is missing they call ``pytest.skip`` with the reason.  Under ``CI=true`` or
``SITEPLAN_STRICT_SKIPS=1`` (``make test`` sets it) such a skip is reported as a **failure**,
with the reason and the way out: ``SITEPLAN_ALLOW_SKIP`` lists the components that may skip
(``chromium``, ``postgis``, ``cjk_font``, ``permissions``, comma-separated, or ``all``), e.g.
``SITEPLAN_ALLOW_SKIP=chromium,postgis make test`` on a machine without them.

tests/conftest.py imports the hook below; tests/test_skip_policy.py shows the policy working.
"""

from __future__ import annotations

import os

import pytest

#: Marker -> the component name ``SITEPLAN_ALLOW_SKIP`` uses.
COMPONENTS = {"browser": "chromium", "postgis": "postgis", "cjk_font": "cjk_font",
              "permissions": "permissions"}


def strict() -> bool:
    """Whether a component's skip is a failure here (CI, or `make test`)."""
    ci = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
    return ci or os.environ.get("SITEPLAN_STRICT_SKIPS", "").strip() in ("1", "true")


def allowed() -> set[str]:
    """The components ``SITEPLAN_ALLOW_SKIP`` lets skip."""
    names = {n.strip().lower() for n in os.environ.get("SITEPLAN_ALLOW_SKIP", "").split(",")}
    return set(COMPONENTS.values()) if "all" in names else names - {""}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail") or not strict():
        return
    needed = [COMPONENTS[m.name] for m in item.iter_markers() if m.name in COMPONENTS]
    refused = [c for c in dict.fromkeys(needed) if c not in allowed()]
    if not refused:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"{item.nodeid} needs {', '.join(refused)}, which the README promises, and would have "
        f"skipped: {reason}\nIn CI (CI=true) and under `make test` a missing component is a "
        "failure. Install it (bash scripts/install_system_deps.sh as root), or allow the skip "
        f"explicitly: SITEPLAN_ALLOW_SKIP={','.join(refused)}.")
