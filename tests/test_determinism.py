"""Determinism: the demo run twice, in two fresh processes, gives the same results byte for byte.

Two processes (not two calls in one) so that anything depending on Python's per-process hash
seed, set or dict iteration order, thread timing or object addresses would show up as a
difference.  Compared: ``shortlist.csv`` bytes, and every GeoPackage layer's attribute table
and geometry WKB.  The only field allowed to differ is the run's own timestamp
(``created_utc`` in the ``metadata`` table), which is asserted to be the only difference there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

pytestmark = pytest.mark.slow

TIMESTAMP_KEYS = {"created_utc"}


def _run_specific(key: object) -> bool:
    """The time of the run and its command line (the two runs write to different folders)."""
    return key in TIMESTAMP_KEYS or str(key).startswith("command_line")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("determinism")
    outs = (base / "dir1", base / "dir2")
    procs = []
    for seed, out in zip(("1", "2"), outs, strict=True):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "siteplan", "demo", "--out", str(out), "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    return outs


def test_csv_is_byte_identical(two_runs):
    a, b = two_runs
    data = (a / "shortlist.csv").read_bytes()
    assert len(data) > 10_000
    assert data == (b / "shortlist.csv").read_bytes()


def _layers(path: Path) -> list[str]:
    return sorted(str(n) for n in pyogrio.list_layers(path)[:, 0])


def test_every_geopackage_layer_is_identical(two_runs):
    a, b = (d / "shortlist.gpkg" for d in two_runs)
    names = _layers(a)
    assert names == _layers(b)
    assert {"parcels", "facilities_points", "facilities_areas", "coverage", "residential_units", "blind_spots_kindergarten",
            "blind_spots_frontage", "metadata"} <= set(names)
    for name in names:
        ta = pyogrio.read_dataframe(a, layer=name, read_geometry=False, fid_as_index=True)
        tb = pyogrio.read_dataframe(b, layer=name, read_geometry=False, fid_as_index=True)
        if name == "metadata":
            differ = ta.loc[ta["value"] != tb["value"], "key"]
            assert all(_run_specific(k) for k in differ), (name, list(differ))
            keep = ~ta["key"].map(_run_specific)
            ta, tb = ta[keep], tb[keep]
        if name == "layer_styles":  # the styles' update_time is the run's created_utc
            ta, tb = ta.drop(columns="update_time"), tb.drop(columns="update_time")
        pd.testing.assert_frame_equal(ta, tb, check_exact=True, obj=name)
        info = pyogrio.read_info(a, layer=name)
        if info["geometry_type"] is None:
            continue
        ga = pyogrio.raw.read(a, layer=name, return_fids=True, read_geometry=True,
                              columns=[])
        gb = pyogrio.raw.read(b, layer=name, return_fids=True, read_geometry=True,
                              columns=[])
        wkb_a, wkb_b = ga[2], gb[2]
        assert len(wkb_a) == len(wkb_b) == len(ta)
        assert all(x == y for x, y in zip(wkb_a, wkb_b, strict=True)), name
        assert np.array_equal(ga[1], gb[1]), name  # same feature ids, same order


def test_xlsx_sheets_hold_the_same_values(two_runs):
    from openpyxl import load_workbook

    def cells(path: Path) -> dict[str, list[tuple[object, ...]]]:
        book = load_workbook(path, read_only=True)
        out = {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
        book.close()
        return out

    sa, sb = (cells(d / "shortlist.xlsx") for d in two_runs)
    # Summary, Ranking, Excluded, Criteria, Seed compliance, Service coverage, Facilities
    # report, Study metadata.
    assert list(sa) == list(sb) and len(sa) == 8
    created = "生成时间 (UTC) / Created (UTC)"  # the summary's timestamp row
    for name in sa:
        x, y = sa[name], sb[name]
        if "metadata" in name or "Summary" in name:  # all but the timestamp
            x = [r for r in x if not r or not (_run_specific(r[0]) or r[0] == created)]
            y = [r for r in y if not r or not (_run_specific(r[0]) or r[0] == created)]
        assert x == y, name
