"""The command line in Chinese and English: --lang, SITEPLAN_LANG and the locale.

A sample of the errors a user meets first (a missing study file, broken TOML, an unknown key, a
radius typed in km, a study without parcels) in Chinese under ``--lang zh`` and under a Chinese
locale, in English by default, and an unknown language as a usage error.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from siteplan.cli import main
from siteplan.core import i18n

ROOT = Path(__file__).resolve().parents[1]
STREETS = ROOT / "data" / "taiyuan" / "taiyuan_osm_lines.geojson"
CJK = re.compile(r"[\u4e00-\u9fff]")
LOCALE = ("SITEPLAN_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture
def locale(monkeypatch):
    """Clear every variable the language is read from; return a setter."""
    for name in LOCALE:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch.setenv


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    assert i18n.language() == "en"  # the command's language does not leak into the API
    return int(exc.value.code or 0), out, err


def _study(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text('[study]\nname = "测试"\n[inputs]\n'
                    f'streets = "{STREETS.as_posix()}"\n' + text, encoding="utf-8")
    return path


def _bad_studies(tmp_path: Path) -> dict[str, Path]:
    return {
        "missing": tmp_path / "nope.toml",
        "toml": _write(tmp_path / "t.toml", '[study]\nname = "x\n'),
        "unknown key": _write(tmp_path / "k.toml", '[study]\nname = "x"\n[network]\n'
                              "max_snap = 100\n"),
        "radius": _write(tmp_path / "r.toml", '[study]\nname = "x"\n[classes.kindergarten]\n'
                         "radius_m = 0.3\n"),
        "no parcels": _study(tmp_path, ""),
    }


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# What each error says, in Chinese, and the study key or fact it must still name.
ZH = {
    "missing": ("研究配置文件不存在", "修改方法：请检查研究配置文件的路径"),
    "toml": ("文件不是有效的 TOML", "第 2 行"),
    "unknown key": ("network.max_snap", "未知的配置项（是否应为“max_snap_m”？）"),
    "radius": ("半径 0.3 米小于 20 米", "0.3 公里即 300 米，应写为 300"),
    "no parcels": ("siteplan run 需要候选地块，但研究配置中没有 [inputs.parcels]",
                   'id_column = "parcel_id"'),
}
EN = {
    "missing": ("the study file does not exist", "Fix: check the path of the study file"),
    "toml": ("the file is not valid TOML", "line 2"),
    "unknown key": ("network.max_snap", 'unknown key (did you mean "max_snap_m"?)'),
    "radius": ("radius 0.3 m is below 20 m", "0.3 km is 300 m, so write 300"),
    "no parcels": ("siteplan run needs candidate parcels, and the study has no "
                   "[inputs.parcels]", 'id_column = "parcel_id"'),
}


@pytest.mark.parametrize("case", list(ZH))
def test_errors_in_chinese_with_lang_zh(capsys, tmp_path, locale, case):
    study = _bad_studies(tmp_path)[case]
    for args in (["run", str(study), "--lang", "zh"], ["--lang=zh", "run", str(study)]):
        code, out, err = _cli(capsys, *args)
        text = " ".join(err.split())
        assert code == 2, err
        assert text.startswith("错误："), err
        assert "Traceback" not in err and "Fix:" not in err
        for needle in ZH[case]:
            assert needle in text, err


@pytest.mark.parametrize("case", ["missing", "radius", "no parcels"])
def test_a_chinese_locale_gives_chinese_without_the_flag(capsys, tmp_path, locale, case):
    locale("LANG", "zh_CN.UTF-8")
    code, _, err = _cli(capsys, "run", str(_bad_studies(tmp_path)[case]))
    assert code == 2 and ZH[case][0] in " ".join(err.split())
    # --lang wins over the locale, and SITEPLAN_LANG over the locale too.
    code, _, err = _cli(capsys, "run", str(_bad_studies(tmp_path)[case]), "--lang", "en")
    assert code == 2 and EN[case][0] in " ".join(err.split()) and not CJK.search(err)
    locale("SITEPLAN_LANG", "en")
    code, _, err = _cli(capsys, "run", str(_bad_studies(tmp_path)[case]))
    assert code == 2 and EN[case][0] in " ".join(err.split())


@pytest.mark.parametrize("case", list(EN))
def test_english_by_default(capsys, tmp_path, locale, case):
    locale("LANG", "C.UTF-8")
    code, _, err = _cli(capsys, "run", str(_bad_studies(tmp_path)[case]))
    text = " ".join(err.split())
    assert code == 2 and text.startswith("error:")
    for needle in EN[case]:
        assert needle in text, err
    # The study's own name is Chinese in one case; the message around it is not.
    assert not CJK.search(text.replace("测试", "")), err


def test_an_unknown_language_is_a_usage_error(capsys, tmp_path, locale):
    code, out, err = _cli(capsys, "--lang", "fr", "run", str(tmp_path / "nope.toml"))
    assert code == 2 and out == ""
    assert "invalid value for '--lang': 'fr' is not one of en, zh" in err
    assert "nope.toml" not in err  # refused before the command ran
    locale("LANG", "zh_CN.UTF-8")
    code, _, err = _cli(capsys, "run", "x.toml", "--lang")
    assert code == 2 and "'--lang' 的取值无效" in err


def test_a_locale_name_is_accepted_as_the_language(capsys, tmp_path, locale):
    code, _, err = _cli(capsys, "run", str(tmp_path / "nope.toml"), "--lang", "zh_CN.UTF-8")
    assert code == 2 and "研究配置文件不存在" in err


def test_lang_is_documented_in_the_help(capsys, locale):
    code, out, _ = _cli(capsys, "--help")
    assert code == 0 and "--lang" in out and "SITEPLAN_LANG" in " ".join(out.split())


def _render(table) -> str:
    from rich.console import Console

    console = Console(width=160, record=True, file=__import__("io").StringIO())
    console.print(table)
    return console.export_text()


def test_summary_tables_have_units_in_both_languages():
    import pandas as pd

    from siteplan.cli.summary import compliance_table, coverage_table, top_table

    coverage = pd.DataFrame({"class": ["kindergarten"], "radius_m": [300.0], "n_units": [76],
                             "n_units_served": [3], "area_served_share": [0.031],
                             "residents_served_share": [0.0312], "residents_estimated": [True],
                             "covered_land_share_frontage": [0.005]})
    counts = pd.DataFrame({"rule": ["kindergarten", "all"], "radius_m": [300.0, float("nan")],
                           "n_meeting": [1, 1], "n_parcels": [2, 2], "share_meeting": [0.5, 0.5],
                           "n_candidates_meeting": [0, 1], "n_candidates": [0, 2],
                           "share_candidates_meeting": [float("nan"), 0.5]})
    best = pd.DataFrame({"rank": [1], "parcel_id": ["TY-0045"], "score": [99.96]})
    en = " ".join(_render(t) for t in (coverage_table(coverage), compliance_table(counts),
                                       top_table(best)))
    for words in ("radius (m)", "areas (%)", "residents (%)", "3 of 76", "3.9", "3.1*",
                  "0.5", "Kindergarten", "1 of 2", "50.0", "score (0–100)", "100.0",
                  "meet all (50.0 %)", "residents estimated"):
        assert words in en, words
    with i18n.using_language("zh"):
        zh = " ".join(_render(t) for t in (coverage_table(coverage), compliance_table(counts),
                                           top_table(best)))
    for words in ("服务半径（米）", "小区占比（%）", "人口占比（%）", "3 / 76", "3.9", "3.1*",
                  "幼儿园", "全部达标", "1 / 2", "得分（0–100）", "排名前 1 的地块",
                  "2 块中 1 块全部达标（50.0%）", "人口为估算值"):
        assert words in zh, words


def test_input_errors_in_chinese(capsys, tmp_path, locale):
    study = _write(tmp_path / "s.toml", '[study]\nname = "x"\n[inputs]\nstreets = "roads.gpkg"\n'
                   '[inputs.parcels]\npath = "地块.gpkg"\nid_column = "parcel_id"\n')
    code, _, err = _cli(capsys, "run", str(study), "--lang", "zh")
    text = " ".join(err.split())
    assert code == 2 and "找不到输入文件" in text and "地块.gpkg" in text
    assert "请修改 [inputs] 中的路径" in text
    empty = tmp_path / "roads.gpkg"
    empty.write_bytes(b"")
    code, _, err = _cli(capsys, "network", str(empty), "--lang", "zh")
    text = " ".join(err.split())
    assert code == 2 and "文件为空（0 字节）" in text and "请重新导出或重新下载" in text
    (tmp_path / "folder.gpkg").mkdir()
    code, _, err = _cli(capsys, "network", str(tmp_path / "folder.gpkg"), "--lang", "zh")
    assert code == 2 and "是文件夹，不是文件" in err


def test_site_refuses_in_chinese_before_running(capsys, locale):
    study = ROOT / "data" / "taiyuan" / "study.toml"
    code, _, err = _cli(capsys, "site", str(study), "--class", "kindergarten", "--lang", "zh")
    assert code == 2 and "--k 和 --target-share 须且只能给出其中一个" in err
    assert "例如 --k 10" in err


def test_siting_summary_in_both_languages():
    import pandas as pd

    from siteplan.cli.summary import siting_summary

    coverage = pd.DataFrame({
        "method": ["greedy", "exact"], "status": ["heuristic", "optimal"],
        "gap": [float("nan"), 0.0123], "bound_unit": ["", "sites"], "unreachable": [10, 10],
        "demand_total": [1000, 1000], "measure": ["units", "units"],
        "weight": ["residents", "residents"], "n_served_before": [3, 3],
        "n_served_after": [9, 10], "n_units": [76, 76], "class": ["kindergarten"] * 2,
        "radius_m": [300.0, 300.0], "share_before": [0.031, 0.031],
        "share_after": [0.25, 0.26], "k": [3, 3]})
    sites = pd.DataFrame({"method": ["greedy"], "rank": [1], "site_id": ["TY-0001"],
                          "marginal_share": [0.1234], "cumulative_share": [0.1234],
                          "lon": [112.5634], "lat": [37.8706]})
    en = " ".join(_render(p) for p in siting_summary(coverage, sites, 50.0))
    for words in ("greedy (heuristic): kindergarten within 300 m covers 3.1% of residents now, "
                  "25.0% with 3 new site(s) (3 and 9 of 76 units served); 1.0% is in units",
                  "exact (optimal, gap 1.23% in sites)", "added coverage (%)", "12.34",
                  "112.563400", "Proposed sites"):
        assert words in " ".join(en.split()), words
    with i18n.using_language("zh"):
        zh = " ".join(_render(p) for p in siting_summary(coverage, sites, 50.0))
    for words in ("贪心算法（heuristic）：幼儿园服务半径 300 米，现状覆盖人口的 3.1%，新增 3 处后覆盖 "
                  "25.0%", "与最优解差距 1.23%（以设施个数计）", "建议补点位置", "新增覆盖（%）",
                  "经度（°）"):
        assert words in " ".join(zh.split()), words
