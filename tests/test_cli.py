"""The command line: help, exit codes, one-line errors, and real runs on the bundled data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString

from siteplan.cli import main

ROOT = Path(__file__).resolve().parents[1]
LINES = ROOT / "data" / "taiyuan" / "taiyuan_osm_lines.geojson"
POLYGONS = ROOT / "data" / "taiyuan" / "taiyuan_osm_multipolygons.geojson"
COMMANDS = ["demo", "run", "network", "facilities", "catchments", "score", "map", "fetch-osm",
            "batch", "site", "compare", "report"]
# main() shows siteplan's warnings as "warning: ..." lines on stderr; pytest's warnings-as-errors
# would turn them into internal errors instead.  The bundled Taiyuan data causes two, let
# through to the command's display as for a user: one OSM polygon is invalid as mapped (reading
# repairs it), and the tests have no Tianditu key (the maps leave those basemaps out).
SHOWS_REPAIRED = pytest.mark.filterwarnings(
    "always:.*repaired 1 invalid geometry:siteplan.core.errors.SiteplanWarning")
SHOWS_NO_TIANDITU_KEY = pytest.mark.filterwarnings(
    "always:no Tianditu key:siteplan.core.errors.SiteplanWarning")


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_help_lists_every_command(capsys):
    code, out, _ = _cli(capsys, "--help")
    assert code == 0
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_help_with_an_example(capsys, name):
    code, out, _ = _cli(capsys, name, "--help")
    assert code == 0
    assert "Example: siteplan " + name in " ".join(out.split())


def test_usage_error_exits_2(capsys):
    code, _, err = _cli(capsys, "run")
    assert code == 2 and "STUDY" in err
    code, _, err = _cli(capsys, "no-such-command")
    assert code == 2


def test_missing_study_is_one_clear_line(capsys, tmp_path):
    code, out, err = _cli(capsys, "run", str(tmp_path / "nope.toml"))
    assert code == 2
    assert "Traceback" not in err and "nope.toml" in err and "Fix:" in err
    assert len(err.strip().splitlines()) <= 3


def test_bad_config_names_the_key(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[study]\nname = "x"\n[network]\nmax_snap = 100\n', encoding="utf-8")
    code, _, err = _cli(capsys, "run", str(bad))
    assert code == 2 and "network.max_snap" in err and "Traceback" not in err


def test_debug_shows_the_traceback(capsys, tmp_path):
    code, _, err = _cli(capsys, "run", str(tmp_path / "nope.toml"), "--debug")
    assert code == 2 and "Traceback" in err


def test_internal_error_exits_1(capsys, monkeypatch):
    import siteplan.stages

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(siteplan.stages, "network_from_file", broken)
    code, _, err = _cli(capsys, "network", str(LINES))
    assert code == 1 and "internal error" in err and "--debug" in err
    assert "Traceback" not in err


def test_network_command_on_taiyuan(capsys, tmp_path):
    code, out, _ = _cli(capsys, "network", str(LINES), "--out", str(tmp_path))
    assert code == 0
    assert "5,896 nodes" in out and "8,359 edges" in out and "island(s) dropped" in out
    assert "walk profile china-walk" in out and "coincident nodes:" in out
    edges = gpd.read_file(tmp_path / "network.gpkg", layer="network_edges")
    assert len(edges) == 8359 and edges.crs.to_epsg() == 32649


@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # the no_crs case, on purpose
@pytest.mark.parametrize("problem", ["missing", "no_crs", "no_lines", "swapped"])
def test_network_bad_inputs_exit_2(capsys, tmp_path, problem):
    path = tmp_path / "roads.geojson"
    if problem == "no_crs":
        gpd.GeoDataFrame({"highway": ["residential"]},
                         geometry=[LineString([(0, 0), (100, 0)])]).to_file(path)
        path = path.with_suffix(".shp")
        gpd.GeoDataFrame({"highway": ["residential"]},
                         geometry=[LineString([(0, 0), (100, 0)])]).to_file(path)
        path.with_suffix(".prj").unlink(missing_ok=True)
    elif problem == "no_lines":
        gpd.GeoDataFrame({"highway": ["x"]}, geometry=gpd.points_from_xy([112.5], [37.8]),
                         crs=4326).to_file(path)
    elif problem == "swapped":
        gpd.GeoDataFrame({"highway": ["residential"]},
                         geometry=[LineString([(37.80, 112.50), (37.81, 112.51)])],
                         crs=4326).to_file(path)
    code, _, err = _cli(capsys, "network", str(path))
    assert code == 2, err
    assert "Traceback" not in err and str(path.name) in err and "Fix:" in err


@SHOWS_REPAIRED
def test_facilities_command(capsys, tmp_path):
    code, out, _ = _cli(capsys, "facilities", str(POLYGONS), "--out", str(tmp_path))
    assert code == 0
    assert "primary_school: 19" in out and "middle_school: 21" in out
    assert "unclassified schools: 4" in out and "太原学院" in out
    assert (tmp_path / "facilities.gpkg").is_file()


def test_facility_layer_without_the_declared_class_column(capsys, tmp_path):
    csv = tmp_path / "schools.csv"
    csv.write_text("name,lon,lat\n第一小学,112.55,37.86\n", encoding="utf-8")
    code, _, err = _cli(capsys, "facilities", str(csv), "--class-column", "类别")
    assert code == 2 and "类别" in err and "Traceback" not in err


def test_fetch_osm_offline_fails_fast_and_clearly(capsys, tmp_path):
    code, _, err = _cli(capsys, "fetch-osm", "112.5,37.8,112.52,37.82",
                        "--cache-dir", str(tmp_path))
    assert code == 2 and "Traceback" not in err


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(out), "--quiet"])
    assert exc.value.code == 0
    return out


@SHOWS_REPAIRED  # (the demo_out fixture runs under its first test's marks)
@SHOWS_NO_TIANDITU_KEY
def test_demo_writes_map_png_and_shortlist(demo_out):
    for name in ("taiyuan.html", "taiyuan.png", "shortlist.csv", "shortlist.xlsx",
                 "shortlist.gpkg", "shortlist.meta.json"):
        assert (demo_out / name).stat().st_size > 0, name
    assert (demo_out / "shortlist.csv").read_bytes().startswith(b"\xef\xbb\xbf")


@SHOWS_REPAIRED
@SHOWS_NO_TIANDITU_KEY
def test_map_from_saved_results(capsys, demo_out, tmp_path):
    """The redraw keeps the run's context: file name, title, criterion labels and weights,
    ranks labelled and data gaps (the GeoPackage's ``map_context`` table)."""
    import html as html_lib
    import re

    from PIL import Image

    from siteplan.core.labels import label
    from siteplan.outputs.maps.style import criteria_meta
    from siteplan.study.model import load_study

    code, out, _ = _cli(capsys, "map", str(demo_out / "shortlist.gpkg"), "--out", str(tmp_path),
                        "--paper", "a4-landscape", "--dpi", "60")
    assert code == 0
    redraw = (tmp_path / "taiyuan.html").read_text(encoding="utf-8")
    run = (demo_out / "taiyuan.html").read_text(encoding="utf-8")
    with Image.open(tmp_path / "taiyuan.png") as png:
        assert png.size == (701, 496)  # A4 landscape at 60 dpi
    study = load_study(ROOT / "data" / "taiyuan" / "study.toml")
    title = re.search(r"<title>(.*?)</title>", redraw).group(1)
    assert html_lib.unescape(title) == study.study.name
    crit = criteria_meta(study, gpd.GeoDataFrame())
    assert len(crit) >= 3
    for _, en, zh, weight in crit:
        for text in (en, zh, f"({label('weight')} {100 * weight:.0f}%)"):
            assert text in run and text in redraw, text
    for text in ("前 20 名", "Data gap: thin facility layer"):
        assert text in run and text in redraw, text


def test_console_script_runs():
    """The installed entry point works (what users type)."""
    proc = subprocess.run([sys.executable, "-m", "siteplan", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "batch" in proc.stdout


@SHOWS_REPAIRED
@SHOWS_NO_TIANDITU_KEY
def test_batch_counts_failures_in_the_exit_code(capsys, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text('[study]\nname = "broken"\n[inputs]\nstreets = "nowhere.gpkg"\n',
                      encoding="utf-8")
    study = ROOT / "data" / "taiyuan" / "study.toml"
    code, out, _ = _cli(capsys, "batch", str(study), str(broken), "--serial", "--quiet",
                        "--out", str(tmp_path / "out"))
    assert code == 1
    assert "1 of 2 studies succeeded" in out and "FAILED" in out and "broken.toml" in out
    summary = (tmp_path / "out" / "summary.csv").read_text(encoding="utf-8-sig")
    assert "TY-" in summary
    assert (tmp_path / "out" / "index.html").is_file()


@SHOWS_REPAIRED
@SHOWS_NO_TIANDITU_KEY
# The same repaired polygon, reported in Chinese (the run below is under --lang zh).
@pytest.mark.filterwarnings(
    "always:.*修复了 1 个无效几何:siteplan.core.errors.SiteplanWarning")
def test_run_writes_the_network_when_asked(capsys, tmp_path):
    import pyogrio

    study = ROOT / "data" / "taiyuan" / "study.toml"
    # In Chinese: the summary's tables, with units in their headers, follow --lang.
    code, out, err = _cli(capsys, "run", str(study), "--out", str(tmp_path), "--quiet",
                          "--network-edges", "--lang", "zh")
    assert code == 0 and "csv：" in out and "map：" in out, err
    assert "警告：" in err and "修复了 1 个无效几何" in err  # warnings follow --lang too
    for words in ("服务覆盖率（沿道路步行距离）", "服务半径（米）", "人口占比（%）", "幼儿园",
                  "达标地块", "排名前 10 的地块", "得分（0–100）", "5,896 个节点，8,359 条路段"):
        assert words in out, words
    layers = {str(n) for n in pyogrio.list_layers(tmp_path / "shortlist.gpkg")[:, 0]}
    assert "network_edges" in layers
    edges = gpd.read_file(tmp_path / "shortlist.gpkg", layer="network_edges")
    assert len(edges) == 8359 and edges["length_m"].sum() == pytest.approx(1_340_000, rel=1e-3)


@SHOWS_REPAIRED  # the warning this test reads
def test_warnings_are_one_line_for_the_user(capsys, tmp_path):
    """siteplan's warnings (a repaired geometry) reach the user as 'warning: ...' lines."""
    code, _, err = _cli(capsys, "facilities", str(POLYGONS))
    assert code == 0
    lines = [line for line in err.splitlines() if "repaired 1 invalid geometry" in line]
    assert lines and lines[0].startswith("warning: ") and "io.py" not in err


@SHOWS_REPAIRED
@SHOWS_NO_TIANDITU_KEY
def test_site_proposes_kindergartens_and_writes_its_outputs(capsys, tmp_path):
    import pandas as pd
    import pyogrio

    study = ROOT / "data" / "taiyuan" / "study.toml"
    code, out, err = _cli(capsys, "site", str(study), "--class", "kindergarten", "--k", "3",
                          "--method", "both", "--out", str(tmp_path), "-q")
    assert code == 0, err
    written = {p.name for p in tmp_path.iterdir()}
    assert {"siting.gpkg", "siting_sites.csv", "siting.html"} <= written
    sites = pd.read_csv(tmp_path / "siting_sites.csv", encoding="utf-8-sig")
    assert sorted(sites["method"].unique()) == ["exact", "greedy"]
    assert (sites.groupby("method")["rank"].apply(list) == pd.Series(
        {"exact": [1, 2, 3], "greedy": [1, 2, 3]})).all()
    coverage = pyogrio.read_dataframe(tmp_path / "siting.gpkg", layer="siting_coverage")
    assert (coverage["share_after"] >= coverage["share_before"]).all()
    exact = coverage.set_index("method").loc["exact"]
    greedy = coverage.set_index("method").loc["greedy"]
    assert exact["covered_after"] >= greedy["covered_after"] - 1e-6
    # The printed summary carries the same shares as the table.
    assert f"{greedy['share_after']:.1%} with 3 new site(s)" in out
    assert "kindergarten within 300 m" in out


@pytest.mark.parametrize("args, needle", [
    (["--k", "2", "--target-share", "0.5"], "exactly one of --k and --target-share"),
    ([], "exactly one of --k and --target-share"),
    (["--k", "2", "--candidates", "no_such_sites.gpkg"], "no_such_sites.gpkg"),
    (["--k", "2", "--class", "kindergarden"], "kindergarden"),
    (["--target-share", "1.5"], "1.5"),
    (["--k", "2", "--stem", "../elsewhere"], "../elsewhere"),
])
def test_site_bad_options_exit_2_before_running(capsys, tmp_path, monkeypatch, args, needle):
    import siteplan.pipeline

    def no_run(*_a, **_k):
        raise AssertionError("the study ran before the options were checked")

    monkeypatch.setattr(siteplan.pipeline, "run_study", no_run)
    study = ROOT / "data" / "taiyuan" / "study.toml"
    code, _, err = _cli(capsys, "site", str(study), "--class", "kindergarten", *args,
                        "--out", str(tmp_path))
    assert code == 2 and needle in err and "Fix:" in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("always:.*repaired 1 invalid geometry")
@pytest.mark.parametrize("command", ["network", "facilities"])
def test_single_stage_commands_honour_quiet_verbose_and_debug(capsys, command):
    """The README says every command honours --quiet, --verbose and --debug: the single-stage
    commands time their steps like the others (timings shown by default, nothing with --quiet)
    and --debug shows a traceback."""
    source = str(ROOT / "data" / "taiyuan" / ("taiyuan_osm_lines.geojson" if command == "network"
                                              else "taiyuan_osm_multipolygons.geojson"))
    outputs = {}
    for flag in ("--quiet", None, "--verbose"):
        code, out, err = _cli(capsys, command, source, *([flag] if flag else []))
        assert code == 0, err
        outputs[flag] = (out, err)
    assert "Step timings" not in outputs["--quiet"][1]
    assert "Step timings" in outputs[None][1] and "Step timings" in outputs["--verbose"][1]
    assert outputs["--quiet"][0] == outputs[None][0] == outputs["--verbose"][0]  # the results
    code, _, err = _cli(capsys, command, str(ROOT / "nope.geojson"), "--debug")
    assert code == 2 and "Traceback" in err
    code, _, err = _cli(capsys, command, str(ROOT / "nope.geojson"))
    assert code == 2 and "Traceback" not in err


@pytest.mark.parametrize(("flag", "offline"), [([], None), (["--cdn"], False),
                                               (["--offline"], True)])
def test_batch_passes_offline_or_cdn_to_each_study(capsys, monkeypatch, tmp_path, flag, offline):
    import siteplan.batch
    from siteplan.batch import BatchResult

    seen = {}

    def fake(studies, out, *, runner=None, **kw):
        seen["runner"] = runner
        return BatchResult(outcomes=[], out_dir=Path(out), files={}, seconds=0.0)

    monkeypatch.setattr(siteplan.batch, "run_batch", fake)
    monkeypatch.setattr(siteplan.batch, "format_report", lambda report: "")
    code, _, _ = _cli(capsys, "batch", str(tmp_path / "a.toml"), "--out", str(tmp_path), *flag)
    assert code == 0
    runner = seen["runner"]
    if offline is None:
        assert runner is None  # each study's own [outputs] offline (default true)
    else:
        assert runner.keywords == {"offline": offline}
