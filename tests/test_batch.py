"""Batch runs: study lists, summary ranking, map index, failures, exit codes, and identical
outputs serially, on a local Dask cluster and on an existing cluster given by address."""

from __future__ import annotations

import html
import re
import time
import tomllib
import urllib.parse
from pathlib import Path

import dask
import pandas as pd
import pytest

from siteplan import batch
from siteplan.batch import (
    MAX_EXIT_CODE,
    batch_exit_code,
    format_report,
    read_study_list,
    run_batch,
    study_folders,
)
from siteplan.core.errors import InputError
from siteplan.outputs.shortlist import shortlist_csv_bytes

# ----------------------------------------------------------------------------- a tiny runner


def tiny_runner(study: Path, out_dir: Path) -> dict:
    """A study runner for tests (module level, so Dask workers can import it): the study file
    gives the parcel scores; it ranks them, writes shortlist.csv and map.html and returns the
    summary the batch expects.  ``fail``/``crash``/``exit`` make it fail in three ways and
    ``delay`` makes it finish late."""
    cfg = tomllib.loads(study.read_text(encoding="utf-8"))["study"]
    time.sleep(cfg.get("delay", 0.0))
    if "fail" in cfg:
        raise InputError(cfg["fail"], where=str(study), fix="fix the study.")
    if cfg.get("crash"):
        return {"top": 1 / 0}
    if cfg.get("exit"):
        import os

        os._exit(3)  # a worker process dying (segfault, out-of-memory kill)
    scores = cfg["scores"]
    ids = [f"{cfg['prefix']}-{i + 1:02d}" for i in range(len(scores))]
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], ids[i]))
    rank = [0] * len(scores)
    for r, i in enumerate(order, start=1):
        rank[i] = r
    top = pd.DataFrame({"parcel_id": ids, "rank": rank, "score": scores,
                        "dist_kindergarten_m": [100.0 + 10 * i for i in range(len(scores))]})
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "shortlist.csv"
    csv.write_bytes(shortlist_csv_bytes(top.sort_values("rank")))
    map_html = out_dir / "map.html"
    map_html.write_text(f"<html><body>{html.escape(cfg['name'])}</body></html>", "utf-8")
    return {"name": cfg["name"], "out_dir": out_dir, "map_html": map_html,
            "shortlist_csv": csv, "top": top}


def _study(folder: Path, stem: str, **fields) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["[study]"]
    for key, value in fields.items():
        if isinstance(value, str):
            lines.append(f"{key} = {value!r}".replace("'", '"'))
        else:
            lines.append(f"{key} = {value!r}".replace("True", "true"))
    path = folder / f"{stem}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def studies(tmp_path: Path) -> list[Path]:
    """Three good studies (two share the file name study.toml), one with a user error, one
    with a bug, one missing file.  The first finishes last."""
    root = tmp_path / "studies"
    return [
        _study(root / "taiyuan", "study", name="太原 <script>alert(1)</script>", prefix="TY",
               scores=[61.5, 90.0, 75.25], delay=0.8),
        _study(root / "datong", "study", name="大同 & 朔州", prefix="DT", scores=[80.0, 50.0]),
        _study(root / "bad", "jinzhong", name="晋中", fail="parcels file not found"),
        _study(root, "小店区", name="小店区", prefix="XD", scores=[70.0]),
        _study(root, "crashing", name="crash", crash=True),
        root / "missing.toml",
    ]


# ----------------------------------------------------------------------------- study lists


def test_read_study_list_files_folders_and_list_files(tmp_path):
    a = _study(tmp_path / "s", "a", name="a")
    b = _study(tmp_path / "s", "b", name="b")
    c = _study(tmp_path / "other", "c", name="c")
    listing = tmp_path / "lists" / "shanxi.txt"
    listing.parent.mkdir()
    listing.write_text("# Shanxi cities\n../other/c.toml  # 晋城\n\n" + str(a) + "\n", "utf-8")
    assert read_study_list([listing]) == [c, a]
    assert read_study_list([tmp_path / "s"]) == [a, b]
    assert all(p.is_absolute() for p in read_study_list(["relative/x.toml"]))
    with pytest.raises(InputError, match="listed twice"):
        read_study_list([a, tmp_path / "s"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no study files"):
        read_study_list([tmp_path / "empty"])
    with pytest.raises(InputError, match="study list not found"):
        read_study_list([tmp_path / "nope.txt"])


def test_study_folders_are_distinct_and_safe():
    paths = [Path("/d/shanxi/taiyuan/study.toml"), Path("/d/shanxi/datong/study.toml"),
             Path("/d/小店区.toml"), Path("/d/a b:c.toml"), Path("/x/taiyuan/study.toml")]
    assert study_folders(paths) == ["shanxi-taiyuan-study", "datong-study", "小店区", "a_b_c",
                                    "x-taiyuan-study"]


def test_exit_code_counts_failures_up_to_125():
    assert [batch_exit_code(n) for n in (0, 1, 7, 125, 126, 4000)] == [0, 1, 7, 125, 125, 125]
    assert MAX_EXIT_CODE == 125


# ----------------------------------------------------------------------------- serial run


def test_serial_batch_summary_failures_and_index(studies, tmp_path):
    out = tmp_path / "out"
    result = run_batch(studies, out, n_workers=0, runner=tiny_runner)

    # Failures are reported (which, why) and counted; the other studies finished.
    assert [o.ok for o in result.outcomes] == [True, True, False, True, False, False]
    assert result.exit_code == 3
    lines = result.failure_lines()
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    assert lines[0] == f"FAILED {studies[2]}: parcels file not found Fix: fix the study."
    assert "ZeroDivisionError" in lines[1] and "test_batch.py" in lines[1]
    assert "missing.toml" in lines[2] and "FileNotFoundError" in lines[2]
    report = format_report(result).splitlines()
    assert report[0].startswith("3 of 6 studies succeeded, 3 failed, serially in this process")
    assert report[-3:] == lines

    # The summary ranks the top parcels of all studies by score (expected order by hand).
    summary = pd.read_csv(out / "summary.csv", encoding="utf-8-sig", dtype={"rank": int})
    assert (out / "summary.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert list(summary.columns[:6]) == ["overall_rank", "study", "study_name", "rank",
                                         "parcel_id", "score"]
    assert summary["parcel_id"].tolist() == ["TY-02", "DT-01", "TY-03", "XD-01", "TY-01",
                                             "DT-02"]
    assert summary["overall_rank"].tolist() == [1, 2, 3, 4, 5, 6]
    assert summary["rank"].tolist() == [1, 1, 2, 1, 3, 2]
    assert summary["score"].tolist() == [90.0, 80.0, 75.25, 70.0, 61.5, 50.0]
    assert summary["study"].tolist()[:2] == ["taiyuan-study", "datong-study"]
    assert summary["dist_kindergarten_m"].tolist()[0] == 110.0
    assert (out / "taiyuan-study" / "shortlist.csv").exists()

    studies_csv = pd.read_csv(out / "studies.csv", encoding="utf-8-sig", keep_default_na=False)
    assert studies_csv["status"].tolist() == ["ok", "ok", "failed", "ok", "failed", "failed"]
    assert studies_csv["map"].tolist()[:2] == ["taiyuan-study/map.html", "datong-study/map.html"]
    assert "parcels file not found" in studies_csv["error"][2]

    # The index page escapes names and errors and links every map relatively.
    page = (out / "index.html").read_text("utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "大同 &amp; 朔州" in page
    hrefs = re.findall(r'href="([^"]+)"', page)
    maps = [h for h in hrefs if h.endswith("map.html")]
    assert len(maps) == 3
    for href in hrefs:
        assert not href.startswith(("/", "file:")) and "://" not in href
        assert (out / urllib.parse.unquote(html.unescape(href))).exists(), href
    assert urllib.parse.quote("小店区") + "/map.html" in maps
    assert (out / "summary.xlsx").exists()


def test_xlsx_summary_has_bilingual_header_and_text_cells(studies, tmp_path):
    from openpyxl import load_workbook

    result = run_batch(studies[:2], tmp_path / "o", n_workers=0, runner=tiny_runner)
    wb = load_workbook(result.files["summary_xlsx"])
    ws = wb["汇总 Summary"]
    assert ws["A1"].value == "总排名 / Overall rank" and ws["A2"].value == "overall_rank"
    assert [ws.cell(row=r, column=5).value for r in range(3, 8)] == [
        "TY-02", "DT-01", "TY-03", "TY-01", "DT-02"]
    assert ws.cell(row=3, column=6).value == 90.0 and ws.cell(row=3, column=1).value == 1
    assert wb["研究 Studies"]["D3"].value == "ok"


# ----------------------------------------------------------------------------- Dask


def test_local_cluster_and_existing_cluster_match_serial_bytes(studies, tmp_path):
    from distributed import LocalCluster

    serial = run_batch(studies, tmp_path / "serial", n_workers=0, runner=tiny_runner)
    local = run_batch(studies, tmp_path / "local", n_workers=2, runner=tiny_runner)
    assert local.workers == 2 and local.scheduler.startswith("tcp://127.0.0.1:")
    print(f"local cluster (2 worker processes) ready in {local.cluster_seconds:.2f} s; "
          f"batch {local.seconds:.2f} s vs serial {serial.seconds:.2f} s")
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        remote = run_batch(studies, tmp_path / "remote", scheduler=cluster.scheduler_address,
                           runner=tiny_runner)
    assert remote.scheduler == cluster.scheduler_address
    for name in ("summary.csv", "studies.csv", "index.html"):
        want = (tmp_path / "serial" / name).read_bytes()
        assert (tmp_path / "local" / name).read_bytes() == want, name
        assert (tmp_path / "remote" / name).read_bytes() == want, name
    for run in (local, remote):
        assert run.exit_code == serial.exit_code == 3
        assert run.failure_lines() == serial.failure_lines()
        # The first study finished last but is still first everywhere.
        assert [o.index for o in run.outcomes] == list(range(len(studies)))


def test_dead_worker_is_one_failed_study(studies, tmp_path):
    dying = _study(tmp_path / "studies", "dying", name="dies", exit=True)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        result = run_batch([studies[1], dying, studies[3]], tmp_path / "out", n_workers=2,
                           runner=tiny_runner)
    assert [o.ok for o in result.outcomes] == [True, False, True]
    assert result.exit_code == 1
    assert "the Dask task failed" in result.failure_lines()[0]
    summary = pd.read_csv(tmp_path / "out" / "summary.csv", encoding="utf-8-sig")
    assert summary["parcel_id"].tolist() == ["DT-01", "XD-01", "DT-02"]


def test_unreachable_scheduler(studies, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "SCHEDULER_TIMEOUT", "1s")
    with pytest.raises(InputError, match="cannot reach the Dask scheduler") as err:
        run_batch(studies[:1], tmp_path / "out", scheduler="tcp://127.0.0.1:1",
                  runner=tiny_runner)
    assert "tcp://127.0.0.1:1" in str(err.value)


# ----------------------------------------------------------------------------- real studies

ROOT = Path(__file__).resolve().parents[1]
TAIYUAN = ROOT / "data" / "taiyuan"
# Two ~2 x 2 km windows of the bundled Taiyuan data (迎泽区 and 万柏林区 edges), small enough
# that a whole study runs in about a second.
WINDOWS = {"yingze": (112.56, 37.86), "wanbailin": (112.545, 37.875)}
TINY_STUDY = """[study]
name = "{name} 小样本"
[inputs]
streets = "lines.geojson"
facilities = "areas.geojson"
residential = "areas.geojson"
[inputs.parcels]
path = "{parcels}"
layer = "parcels"
id_column = "parcel_id"
[inputs.parcels.fields]
area = "area_m2"
far = "far"
[crs]
metric = "utm"
[[criteria]]
name = "primary_school_walk"
kind = "distance"
class = "primary_school"
weight = 2
transform = {{ type = "linear", best = 500, worst = 1500 }}
[[criteria]]
name = "middle_school_walk"
kind = "distance"
class = "middle_school"
weight = 1
transform = {{ type = "linear", best = 1000, worst = 2000 }}
[outputs]
top_n = 5
formats = ["csv", "html"]
"""


@pytest.fixture(scope="module")
def real_studies(tmp_path_factory) -> list[Path]:
    """Two tiny real studies cut from the bundled Taiyuan data, and a third whose parcel file
    does not exist."""
    import geopandas as gpd
    import shapely

    root = tmp_path_factory.mktemp("real")
    lines = gpd.read_file(TAIYUAN / "taiyuan_osm_lines.geojson")
    areas = gpd.read_file(TAIYUAN / "taiyuan_osm_multipolygons.geojson")
    parcels = gpd.read_file(TAIYUAN / "parcels.gpkg", layer="parcels")
    paths = []
    for name, (x, y) in WINDOWS.items():
        box = shapely.box(x - 0.012, y - 0.01, x + 0.012, y + 0.01)
        folder = root / name
        folder.mkdir()
        lines[lines.intersects(box)].to_file(folder / "lines.geojson")
        areas[areas.intersects(box)].to_file(folder / "areas.geojson")
        parcels[parcels.within(box)].to_file(folder / "parcels.gpkg", layer="parcels")
        paths.append(folder / "study.toml")
        paths[-1].write_text(TINY_STUDY.format(name=name, parcels="parcels.gpkg"), "utf-8")
    broken = root / "broken"
    broken.mkdir()
    for f in ("lines.geojson", "areas.geojson"):
        (broken / f).write_bytes((root / "yingze" / f).read_bytes())
    paths.append(broken / "study.toml")
    paths[-1].write_text(TINY_STUDY.format(name="broken", parcels="no_parcels.gpkg"), "utf-8")
    return paths


# Expected of these tiny studies, run in this process (serially, and by run_study below):
# the tests have no Tianditu key, so the maps leave those basemaps out;
@pytest.mark.filterwarnings("ignore:no Tianditu key:siteplan.core.errors.SiteplanWarning")
# neither window has a kindergarten, and compliance always checks the 300 m kindergarten radius;
@pytest.mark.filterwarnings(
    "ignore:.*the facility data has no kindergarten facilities:siteplan.core.errors.SiteplanWarning")
# the wanbailin window holds the Taiyuan polygon that is invalid as mapped, and reading repairs it.
@pytest.mark.filterwarnings(
    "ignore:.*areas.geojson. repaired 1 invalid geometry:siteplan.core.errors.SiteplanWarning")
def test_real_studies_serial_and_script_on_local_cluster(real_studies, tmp_path):
    import subprocess
    import sys

    from siteplan.pipeline import run_study

    serial = run_batch(real_studies, tmp_path / "serial", n_workers=0)
    assert [o.ok for o in serial.outcomes] == [True, True, False]
    assert "no_parcels.gpkg" in serial.failed[0].error
    summary = pd.read_csv(tmp_path / "serial" / "summary.csv", encoding="utf-8-sig")
    # Each study's top 5 by its own ranking, straight from the pipeline.
    for outcome, path in zip(serial.outcomes[:2], real_studies[:2], strict=True):
        expected = run_study(path).ranked(5)
        rows = summary[summary["study"] == outcome.folder]
        assert rows["parcel_id"].tolist() == expected["parcel_id"].tolist()
        assert rows["rank"].tolist() == expected["rank"].tolist()
        assert rows["score"].round(2).tolist() == expected["score"].round(2).tolist()
        assert outcome.map_html is not None and Path(outcome.map_html).exists()
    scores = summary["score"].to_numpy()
    assert (scores[:-1] >= scores[1:]).all() and len(summary) == 10

    # The same through scripts/batch.py on a local cluster of 2 worker processes.
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "batch.py"), *map(str, real_studies),
         "--out", str(tmp_path / "dask"), "--workers", "2"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "2 of 3 studies succeeded, 1 failed, on 2 Dask workers" in proc.stdout
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1 and str(real_studies[2]) in failed[0]
    for name in ("summary.csv", "studies.csv", "index.html"):
        assert (tmp_path / "dask" / name).read_bytes() == \
            (tmp_path / "serial" / name).read_bytes(), name
