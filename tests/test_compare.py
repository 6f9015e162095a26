"""Scenario comparison on a hand-made study whose ranks are worked out by hand.

Four parcels on one street with attributes x and y (ratings 10 x and 10 y, linear 0-10):

===  ==  ==  ===========  ===========  ================
id   x   y   A (1:1)      B (3:1)      C (1:1, x >= 5)
===  ==  ==  ===========  ===========  ================
p    2   9   55.0  -> 1   37.5  -> 4   excluded
q    9   1   50.0  -> 2   70.0  -> 1   50.0 -> 1
r    5   5   50.0  -> 3   50.0  -> 3   50.0 -> 2
s    6   3   45.0  -> 4   52.5  -> 2   45.0 -> 3
===  ==  ==  ===========  ===========  ================

(q and r tie under A and C: ties rank by parcel_id.)  Top 2 under all three: q only.
"""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import pytest
from shapely.geometry import LineString, box

from siteplan.compare import compare_studies

CRS = "EPSG:32650"


def _study(tmp_path, name: str, wx: float, constraint: bool = False, network: str = "") -> str:
    text = f'''[study]
name = "{name}"
[inputs]
streets = "streets.geojson"
[inputs.parcels]
path = "parcels.geojson"
id_column = "parcel_id"
[network]
max_snap_m = 200.0
{network}
[programme]
default_far = 2.0
[[criteria]]
name = "x_score"
kind = "attribute"
column = "x"
weight = {wx}
transform = {{ type = "linear", best = 10, worst = 0 }}
[[criteria]]
name = "y_score"
kind = "attribute"
column = "y"
weight = 1
transform = {{ type = "linear", best = 10, worst = 0 }}
'''
    if constraint:
        text += '[[constraints]]\ncolumn = "x"\nop = "<"\nvalue = 5\n'
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def scenarios(tmp_path):
    gpd.GeoDataFrame({"highway": ["residential"]},
                     geometry=[LineString([(0, 0), (1000, 0)])], crs=CRS).to_file(
        tmp_path / "streets.geojson")
    gpd.GeoDataFrame({"parcel_id": ["p", "q", "r", "s"], "x": [2.0, 9, 5, 6],
                      "y": [9.0, 1, 5, 3]},
                     geometry=[box(200 * i, -120, 200 * i + 100, -20) for i in range(4)],
                     crs=CRS).to_file(tmp_path / "parcels.geojson")
    return [_study(tmp_path, "A", 1), _study(tmp_path, "B", 3),
            _study(tmp_path, "C", 1, constraint=True)]


def test_ranks_changes_and_the_parcels_in_every_top_n(scenarios):
    cmp = compare_studies(scenarios, top_n=2)
    t = cmp.table.set_index("parcel_id")
    assert cmp.scenarios == ["A", "B", "C"]
    assert t["rank_A"].tolist() == [1, 2, 3, 4]  # rows in baseline order
    assert t["rank_B"].to_dict() == {"p": 4, "q": 1, "r": 3, "s": 2}
    assert t["score_B"].to_dict() == {"p": 37.5, "q": 70.0, "r": 50.0, "s": 52.5}
    assert t["rank_C"].isna().tolist() == [True, False, False, False]
    assert t.loc[["q", "r", "s"], "rank_C"].tolist() == [1, 2, 3]
    assert t["rank_change_B"].to_dict() == {"p": 3, "q": -1, "r": 0, "s": -2}
    assert t["rank_best"].to_dict() == {"p": 1, "q": 1, "r": 2, "s": 2}
    assert t["rank_worst"].to_dict() == {"p": 4, "q": 2, "r": 3, "s": 4}
    assert cmp.top_all()["parcel_id"].tolist() == ["q"]
    # The network and access were computed once, the scoring once per scenario.
    assert list(cmp.timings).count("network") == 1 and "scenarios" in cmp.timings


def test_scenarios_on_other_data_are_refused(tmp_path, scenarios):
    from siteplan import ConfigError

    other = _study(tmp_path, "D", 1, network="search_limit_m = 2000.0")
    with pytest.raises(ConfigError, match=r"differs .* in \[network\]"):
        compare_studies([scenarios[0], other])
    with pytest.raises(ConfigError, match="at least two scenarios"):
        compare_studies(scenarios[:1])


def test_compare_command_writes_the_table(tmp_path, scenarios):
    out = tmp_path / "cmp"
    proc = subprocess.run([sys.executable, "-m", "siteplan", "compare", *scenarios[:2],
                           "--top", "2", "--out", str(out), "-q"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "1 parcel(s) in the top 2 under every scenario" in proc.stdout
    assert "q: A 2, B 1" in proc.stdout
    lines = (out / "compare.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("parcel_id,rank_A,score_A,rank_B,score_B,rank_change_B")
    assert lines[1].startswith("p,1,55.0000,4,37.5000,3")
    bad = subprocess.run([sys.executable, "-m", "siteplan", "compare", scenarios[0]],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_scenarios_table_of_one_study(tmp_path, scenarios):
    from siteplan import ConfigError

    path = tmp_path / "A.toml"
    path.write_text(path.read_text(encoding="utf-8")
                    + '\n[[scenarios]]\nname = "b3"\nweights = { x_score = 3 }\n',
                    encoding="utf-8")
    cmp = compare_studies([path], top_n=2)
    t = cmp.table.set_index("parcel_id")
    assert cmp.scenarios == ["A", "b3"]
    # Scenario b3 is study B as a table of A: the same ranks as B's hand-worked ones.
    assert t["rank_b3"].to_dict() == {"p": 4, "q": 1, "r": 3, "s": 2}
    assert cmp.top_all()["parcel_id"].tolist() == ["q"]
    bad = path.read_text(encoding="utf-8").replace("x_score = 3", "x_scor = 3")
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError, match="x_score"):  # did you mean
        compare_studies([path])
