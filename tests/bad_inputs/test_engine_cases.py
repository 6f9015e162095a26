"""Bad-input cases 14-17: facility classes, islands and parcels the network cannot serve.

14 a criterion on a class with no facilities is refused (the class named); 15 facilities that
cannot reach the network are reported and leave NaN distances, never a made-up number; 16
parcels outside the network's extent are excluded with a reason; 17 a network of several
islands keeps its main component and reports the islands.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point
from slice_study import cli_shows
from smallstudy import (
    CRITERIA,
    HEAD,
    PARCELS,
    STREETS,
    TAIL,
    WINDOW_UTM,
    cli,
    digests,
    leftovers,
    small_parcels,
    write_study,
)

from siteplan.core.errors import NothingRankedError
from siteplan.pipeline import run_study

UTM = 32649

# The runs write the web map, and the tests have no Tianditu key: those basemaps are left out.
pytestmark = cli_shows("no Tianditu key")


def _island(x0: float, y0: float, side: float = 200.0) -> list[LineString]:
    """A closed square of four residential streets (a component of its own)."""
    c = [(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side)]
    return [LineString([c[i], c[(i + 1) % 4]]) for i in range(4)]


def _add_streets(folder: Path, lines: list[LineString]) -> None:
    """Append residential streets (given in UTM) to the study's street file."""
    path = folder / STREETS
    streets = gpd.read_file(path)
    extra = gpd.GeoDataFrame({"osm_id": [f"island{i}" for i in range(len(lines))],
                              "highway": ["residential"] * len(lines)},
                             geometry=lines, crs=UTM).to_crs(streets.crs)
    both = pd.concat([streets, extra], ignore_index=True)
    path.unlink()
    gpd.GeoDataFrame(both, geometry="geometry", crs=streets.crs).to_file(path, driver="GeoJSON")


def _point_layer(folder: Path, name: str, points: list[Point], prefix: str) -> None:
    frame = gpd.GeoDataFrame({"fid_": [f"{prefix}{i}" for i in range(len(points))],
                              "name": [f"{prefix} {i}" for i in range(len(points))]},
                             geometry=points, crs=UTM).to_crs(4326)
    frame.to_file(folder / name, driver="GeoJSON")


def _run(capsys, study: Path, *args: str) -> tuple[int, str, str, Path]:
    out = study.parent.parent / "out"
    before = digests(study.parent)
    code, stdout, err = cli(capsys, "run", str(study), "--out", str(out), "--quiet",
                            "--offline", *args)
    assert "Traceback" not in err and "internal error" not in err, err
    assert digests(study.parent) == before  # inputs untouched, whatever happened
    return code, stdout, err, out


def _shortlist(out: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(out / "shortlist.gpkg", layer="parcels")


# Far east of the slice: 3 km from its nearest street, beyond max_snap_m and search_limit_m.
EAST_X = WINDOW_UTM[2] + 3000.0
MID_Y = (WINDOW_UTM[1] + WINDOW_UTM[3]) / 2


# ------------------------------------------------------------------ 14: a class with no facilities

def test_14_criterion_on_a_class_without_facilities_is_refused(capsys, tmp_path):
    study = write_study(tmp_path / "in", criteria=CRITERIA.replace(
        'class = "hospital"', 'class = "elderly_care"'))
    code, stdout, err, out = _run(capsys, study)
    assert code == 2, err
    assert err.startswith(f"error: {study}: ")
    assert "criteria[1].class = 'elderly_care' (criterion 'hospital_walk')" in err
    assert "no facilities of this class" in err
    assert "Fix: add facilities of class elderly_care" in err and "remove the criterion" in err
    # The classes that are there are listed, with their counts, so the user sees the gap.
    assert "hospital (" in err and "primary_school (" in err
    assert leftovers(out) == [] and stdout == ""


@cli_shows(".*the facility data has no elderly_care facilities")
def test_14_compliance_class_without_facilities_is_reported(capsys, tmp_path):
    """A seed class with no facility at all is not an error (the parcels really fail it), but
    the user is told why every parcel fails, and the distances are NaN, not a number."""
    study = write_study(tmp_path / "in",
                        extra="\n[compliance]\nradii = { elderly_care = 500.0 }\n")
    code, _, err, out = _run(capsys, study)
    assert code == 0, err
    lines = [ln for ln in err.splitlines() if "no elderly_care facilities" in ln]
    assert len(lines) == 1 and lines[0].startswith("warning: ")
    assert str(study) in lines[0] and "fails the 500 m radius" in lines[0] and "Fix:" in lines[0]
    parcels = _shortlist(out)
    assert parcels["dist_elderly_care_m"].isna().all()
    assert not parcels["meets_elderly_care_radius"].astype(bool).any()


# ------------------------------------------------------------------ 15: facilities on an island

def _hospitals_on_an_island(folder: Path, *, keep_all: bool) -> Path:
    study = write_study(folder, head=HEAD.replace(
        'facilities = "areas.geojson"',
        'facilities = "areas.geojson"\n\n[[inputs.layers]]\npath = "clinics.geojson"\n'
        'class = "clinic"\nid_column = "fid_"\nname_column = "name"'),
        criteria=CRITERIA + '\n[[criteria]]\nname = "clinic_walk"\nkind = "distance"\n'
        'class = "clinic"\nweight = 1\n'
        'transform = { type = "linear", best = 500, worst = 2000 }\n')
    if keep_all:
        text = study.read_text(encoding="utf-8").replace(
            "search_limit_m = 3000.0", "search_limit_m = 3000.0\nkeep_largest = false")
        study.write_text(text, encoding="utf-8")
    _add_streets(folder, _island(EAST_X, MID_Y))
    # Three clinics inside the island's square, 100 m from its streets.
    _point_layer(folder, "clinics.geojson",
                 [Point(EAST_X + 100, MID_Y + 100), Point(EAST_X + 60, MID_Y + 100),
                  Point(EAST_X + 100, MID_Y + 140)], "clinic")
    return study


@cli_shows(".*all 3 clinic facilities .clinics.geojson")
def test_15_facilities_dropped_with_their_island_are_reported_and_distances_nan(capsys,
                                                                                 tmp_path):
    study = _hospitals_on_an_island(tmp_path / "in", keep_all=False)
    code, stdout, err, out = _run(capsys, study)
    assert code == 0, err
    warn = [ln for ln in err.splitlines() if "clinic facilities" in ln]
    assert len(warn) == 1 and warn[0].startswith("warning: "), err
    assert "all 3 clinic facilities" in warn[0] and "clinic0" in warn[0]
    assert "clinics.geojson" in warn[0]  # the file they came from
    assert "network.max_snap_m = 200 m" in warn[0] and "keep_largest" in warn[0]
    parcels = _shortlist(out)
    assert parcels["dist_clinic_m"].isna().all()
    assert parcels["nearest_clinic_id"].isna().all()
    # Unknown access is never good: the criterion rates 0 everywhere.
    assert (parcels["clinic_walk_rating"] == 0).all()
    unreachable = gpd.read_file(out / "shortlist.gpkg", layer="unreachable")
    fac = unreachable[unreachable["kind"] == "facility"]
    assert sorted(fac["id"]) == ["clinic0", "clinic1", "clinic2"]
    assert (fac["class"] == "clinic").all()
    # The clinics are 100 m inside a square 3 km east of the window (the slice's streets run
    # up to ~1.2 km beyond it): far more than max_snap_m from any kept street.
    assert (fac["nearest_street_m"] > 1000).all()


@cli_shows(".*no parcel reaches a clinic facility")
def test_15_facilities_on_a_kept_island_no_parcel_reaches(capsys, tmp_path):
    study = _hospitals_on_an_island(tmp_path / "in", keep_all=True)
    code, _, err, out = _run(capsys, study)
    assert code == 0, err
    warn = [ln for ln in err.splitlines() if "no parcel reaches a clinic" in ln]
    assert len(warn) == 1 and "search_limit_m = 3000 m" in warn[0] and "Fix:" in warn[0], err
    parcels = _shortlist(out)
    # Reachable parcels have NaN, never a distance: there is no path to the island.
    assert parcels["dist_clinic_m"].isna().all()
    assert (parcels["clinic_walk_rating"] == 0).all()


# ------------------------------------------------------------------ 16: parcels off the network

def _parcels_with_far_copies(folder: Path, n_far: int = 3) -> list[str]:
    """Add copies of the first parcels moved 5 km east (no street within max_snap_m)."""
    parcels = small_parcels()
    far = gpd.GeoDataFrame(parcels.iloc[:n_far].drop(columns="geometry"),
                           geometry=parcels.iloc[:n_far].to_crs(UTM).translate(5000.0, 0.0)
                           .to_crs(parcels.crs).values, crs=parcels.crs)
    far["parcel_id"] = [f"FAR-{i}" for i in range(n_far)]
    both = gpd.GeoDataFrame(pd.concat([parcels, far], ignore_index=True), crs=parcels.crs)
    (folder / PARCELS).unlink()
    both.to_file(folder / PARCELS, layer="parcels")
    return list(far["parcel_id"])


@pytest.mark.parametrize("builtin", [True, False], ids=["with-builtin", "without-builtin"])
def test_16_parcels_outside_the_network_are_excluded_with_a_reason(capsys, tmp_path, builtin):
    folder = tmp_path / "in"
    tail = TAIL if builtin else TAIL.replace('[[constraints]]\nbuiltin = "unreachable"\n', "")
    assert ("unreachable" in tail) == builtin
    study = write_study(folder, tail=tail)
    far = _parcels_with_far_copies(folder)
    code, stdout, err, out = _run(capsys, study)
    assert code == 0, err
    parcels = _shortlist(out).set_index("parcel_id")
    assert parcels.loc[far, "unreachable"].astype(bool).all()
    assert parcels.loc[far, "excluded"].astype(bool).all()
    assert parcels.loc[far, "rank"].isna().all()
    assert (parcels.loc[far, "exclusion_reason"] == "cannot reach the street network").all()
    assert (parcels.loc[far, "exclusion_reason_zh"] == "无法接入步行路网").all()
    # Their distances are unknown (NaN), never a sentinel.
    assert parcels.loc[far, "dist_primary_school_m"].isna().all()
    # Only they are off the network; the others still rank 1..K.
    others = parcels.drop(index=far)
    assert not others["unreachable"].astype(bool).any()
    ranked = others.loc[~others["excluded"].astype(bool), "rank"]
    assert sorted(ranked.astype(int)) == list(range(1, len(ranked) + 1))
    # Counted in the summary and listed in the unreachable layer.
    assert "3 cannot reach the network" in stdout
    unreachable = gpd.read_file(out / "shortlist.gpkg", layer="unreachable")
    assert sorted(unreachable.loc[unreachable["kind"] == "target", "id"]) == far
    # In the CSV they come after every ranked parcel.
    csv = pd.read_csv(out / "shortlist.csv", encoding="utf-8-sig")
    assert csv.loc[csv["parcel_id"].isin(far), "excluded"].astype(bool).all()
    first_excluded = int(np.flatnonzero(csv["excluded"].astype(bool).to_numpy())[0])
    assert not csv["excluded"].iloc[first_excluded:].eq(False).any()


def test_16_all_parcels_outside_the_network(capsys, tmp_path):
    """Every parcel off the network (parcels of another city): nothing ranked is an error, exit 2
    with the reasons counted, and nothing written, rather than an empty shortlist and exit 0."""
    folder = tmp_path / "in"
    study = write_study(folder)
    parcels = small_parcels()
    moved = gpd.GeoDataFrame(parcels.drop(columns="geometry"),
                             geometry=parcels.to_crs(UTM).translate(8000.0, 0.0)
                             .to_crs(parcels.crs).values, crs=parcels.crs)
    (folder / PARCELS).unlink()
    moved.to_file(folder / PARCELS, layer="parcels")
    code, stdout, err, out = _run(capsys, study)
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert (f"no parcel can be ranked: all {len(parcels)} parcels are excluded "
            f"(cannot reach the street network: {len(parcels)})") in lines[0]
    assert "Fix: " in lines[0] and not out.exists()
    with pytest.raises(NothingRankedError) as caught:
        run_study(study)
    result = caught.value.result  # what was computed stays available to a notebook
    assert result.parcels["excluded"].astype(bool).all() and result.parcels["rank"].isna().all()


# ------------------------------------------------------------------ 17: several islands

def test_17_network_of_islands_keeps_the_main_component_and_reports_the_islands(capsys,
                                                                               tmp_path):
    folder = tmp_path / "in"
    study = write_study(folder)
    islands = _island(EAST_X, MID_Y) + _island(EAST_X, MID_Y + 1000.0, side=300.0)
    _add_streets(folder, islands)
    # A parcel on the second island: its streets are dropped, so it is off the network.
    parcels = small_parcels()
    on_island = gpd.GeoDataFrame(
        {"parcel_id": ["ISLAND-1"], "area_m2": [40_000.0], "far": [2.5],
         "landuse_code": ["R"], "covered_share": [0.0]},
        geometry=gpd.GeoSeries([shapely.box(EAST_X + 50, MID_Y + 1050, EAST_X + 250,
                                            MID_Y + 1250)], crs=UTM).to_crs(parcels.crs).values,
        crs=parcels.crs)
    (folder / PARCELS).unlink()
    gpd.GeoDataFrame(pd.concat([parcels, on_island], ignore_index=True),
                     crs=parcels.crs).to_file(folder / PARCELS, layer="parcels")

    code, stdout, err, out = _run(capsys, study, "--network-edges")
    assert code == 0, err
    # The report: how many islands were dropped and how much street they held.
    km = (4 * 200 + 4 * 300) / 1000
    alone = run_study(study).network
    dropped, dropped_km = alone.report.islands_dropped, alone.report.islands_km
    assert dropped >= 2 and dropped_km >= km - 1e-6
    assert f"{dropped} island(s) dropped ({dropped_km:,.2f} km)" in stdout
    # Only the main component is kept: no edge of the islands is in the written network.
    edges = gpd.read_file(out / "shortlist.gpkg", layer="network_edges").to_crs(UTM)
    east = edges.geometry.bounds["maxx"] > WINDOW_UTM[2] + 2500
    assert not east.any()
    assert alone.component.max() == 0  # one component left
    result = _shortlist(out).set_index("parcel_id")
    assert bool(result.loc["ISLAND-1", "excluded"]) and bool(result.loc["ISLAND-1", "unreachable"])


def test_17_keep_all_components_keeps_the_islands(tmp_path):
    """With keep_largest = false the islands stay, each its own component."""
    folder = tmp_path / "in"
    study = write_study(folder, head=HEAD.replace("search_limit_m = 3000.0",
                                                  "search_limit_m = 3000.0\nkeep_largest = false"))
    base = run_study(study).network
    _add_streets(folder, _island(EAST_X, MID_Y) + _island(EAST_X, MID_Y + 1000.0, side=300.0))
    net = run_study(study).network
    assert net.report.islands_dropped == 0
    assert net.component.max() + 1 == base.component.max() + 1 + 2
    # Both islands' streets are in: 4 x 200 m + 4 x 300 m.
    assert math.isclose(float(net.edge_length.sum()), float(base.edge_length.sum()) + 2000.0,
                        rel_tol=1e-7)
