"""Shared fixtures: the bundled real data, read once per session.

Tests never read ../shared; everything they need is in data/ or tests/data/.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pytest
from hypothesis import settings

# A component the README promises may not skip in CI or `make test` (tests/skip_policy.py).
from skip_policy import pytest_runtest_makereport  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "taiyuan"
TEST_DATA = Path(__file__).resolve().parent / "data"
# Property tests see the same examples on every run: a property that fails is reported by a test
# that fails the same way again, never by chance on a CI machine.  No example database in the
# checkout either.
settings.register_profile("siteplan", derandomize=True, database=None)
settings.load_profile("siteplan")
# The tests read the command line's English messages whatever the machine's locale (a Chinese
# locale would show them in Chinese); tests/test_cli_lang.py sets the language itself.
os.environ["SITEPLAN_LANG"] = "en"

TAIYUAN_LINES = DATA / "taiyuan_osm_lines.geojson"
TAIYUAN_POLYGONS = DATA / "taiyuan_osm_multipolygons.geojson"
BEIJING_OSM = TEST_DATA / "beijing_haidian_pku_tsinghua_2017.osm"


@pytest.fixture(scope="session")
def taiyuan_lines() -> gpd.GeoDataFrame:
    return gpd.read_file(TAIYUAN_LINES)


@pytest.fixture(scope="session")
def taiyuan_polygons() -> gpd.GeoDataFrame:
    return gpd.read_file(TAIYUAN_POLYGONS)


@pytest.fixture(scope="session")
def taiyuan_network(taiyuan_lines):
    from siteplan.network.build import graph_from_lines

    return graph_from_lines(taiyuan_lines, source=str(TAIYUAN_LINES))
