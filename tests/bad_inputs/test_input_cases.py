"""Bad-input cases 1-13 and 26-28 of issue 7, at the level a user meets them.

Each case runs ``siteplan run`` on a small real study (a slice of central Taiyuan,
:mod:`slice_study`) with one thing broken, and checks (a) the class of outcome: a clear error
with exit code 2, or a documented repair with a warning and a count; (b) that the message names
the file and what is wrong and says how to fix it; (c) that no output or temporary file is left
behind by a refused run; (d) that every input file is byte-identical afterwards.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Geod
from slice_study import (
    DATA,
    cli,
    cli_shows,
    cli_subprocess,
    hash_files,
    leftovers,
    permissions_bind,
    slice_frames,
    small_study,
)

from siteplan.core.errors import InputError, SiteplanWarning
from siteplan.facilities.classify import classify_facilities
from siteplan.io.crs import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from siteplan.io.layers import read_layer
from siteplan.io.offsets import check_offset
from siteplan.outputs.gpkg_styles import read_facilities

GEOD = Geod(ellps="WGS84")


# ------------------------------------------------------------------------------ helpers


def _run(capsys, study, *extra: str) -> tuple[int, str, str]:
    return cli(capsys, "run", str(study.toml), "--out", str(study.out), "--quiet", *extra)


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    return lines[0]


def refused(capsys, study, *fragments: str, names: str | Path | None = None) -> str:
    """Run the study; assert exit 2, one error line naming ``names`` (a file) with each
    fragment and a fix, no output written, inputs untouched.  Returns the error line."""
    before = hash_files(study.inputs)
    code, _, err = _run(capsys, study)
    line = _error_line(err)
    assert code == 2, err
    assert str(names if names is not None else study.toml) in line, line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    assert "Fix: " in line, line
    assert not study.out.exists() or not any(study.out.iterdir()), list(study.out.iterdir())
    assert hash_files(study.inputs) == before
    return line


def repaired(capsys, study, *fragments: str) -> str:
    """Run the study; assert exit 0, a ``warning:`` line with each fragment, complete outputs,
    no temporary files, inputs untouched.  Returns the warning line."""
    before = hash_files(study.inputs)
    code, out, err = _run(capsys, study)
    assert code == 0, err
    warnings_ = [line for line in err.splitlines() if line.startswith("warning: ")
                 and all(f in line for f in fragments)]
    assert len(warnings_) == 1, err
    assert (study.out / "shortlist.csv").stat().st_size > 0 and "csv:" in out
    assert leftovers(study.out) == []
    assert hash_files(study.inputs) == before
    return warnings_[0]


def _write_parcels(study, frame: gpd.GeoDataFrame) -> None:
    frame.to_file(study.parcels, layer="parcels", driver="GPKG", engine="pyogrio")


def _parcels() -> gpd.GeoDataFrame:
    return slice_frames()["parcels"].copy()


def _out_parcels(study) -> gpd.GeoDataFrame:
    return gpd.read_file(study.out / "shortlist.gpkg", layer="parcels", engine="pyogrio")


@functools.cache
def _osm_facilities() -> gpd.GeoDataFrame:
    """Classified OSM facilities of the whole bundled city (the WGS84 reference)."""
    areas = gpd.read_file(DATA / "taiyuan_osm_multipolygons.geojson", engine="pyogrio")
    return classify_facilities(areas, source="osm").facilities


# ------------------------------------------------------------------------------ 1-4: files


def test_01_missing_file_is_refused(capsys, tmp_path):
    study = small_study(tmp_path)
    study.streets.unlink()
    line = refused(capsys, study, "not found", str(study.streets), "correct the paths")
    assert "[inputs]" in line
    # The Python API says the same about the file itself, and lists similar names.
    (tmp_path / "roads_2023.geojson").write_text("{}")
    with pytest.raises(InputError, match=r"file not found.*roads_2023\.geojson.*Fix:"):
        read_layer(tmp_path / "roads.geojson")


@pytest.mark.parametrize("variant", [
    "folder", "fifo", pytest.param("chmod000", marks=pytest.mark.permissions),
    pytest.param("folder-without-x", marks=pytest.mark.permissions)])
def test_02_unreadable_file_is_refused(capsys, tmp_path, variant):
    study = small_study(tmp_path)
    before = hash_files(study.inputs)
    if variant == "folder":
        study.streets.unlink()
        study.streets.mkdir()
        refused(capsys, study, "is a folder, not a file", names=study.streets)
        return
    if variant == "fifo":
        # A named pipe: opening it for reading would block for ever.  Run in a child with a
        # time limit so that a regression cannot hang the suite.
        study.streets.unlink()
        os.mkfifo(study.streets)
        code, _, err = cli_subprocess("run", str(study.toml), "--out", str(study.out),
                                      "--quiet", timeout=120)
        line = _error_line(err)
        assert code == 2 and str(study.streets) in line and "not a regular file" in line
        assert "Fix: " in line and not study.out.exists()
        return
    ok, reason = permissions_bind()
    if not ok:
        pytest.skip(reason)
    hashes = hash_files(study.inputs)
    if variant == "chmod000":
        target, mode, expect = study.streets, 0, "permission denied"
    else:
        # The file is fine, but its folder cannot be entered.
        sub = study.folder / "locked"
        sub.mkdir()
        shutil.move(study.parcels, sub / "parcels.gpkg")
        hashes = hash_files([*study.inputs[:3], sub / "parcels.gpkg"])
        study.write(inputs_parcels='path = "locked/parcels.gpkg"\nid_column = "parcel_id"')
        hashes[str(study.toml)] = hash_files([study.toml])[str(study.toml)]
        target, mode, expect = sub, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH, "permission"
    target.chmod(mode)
    try:
        code, _, err = cli_subprocess("run", str(study.toml), "--out", str(study.out),
                                      "--quiet", permissions_bind=True)
    finally:
        target.chmod(0o755 if target.is_dir() else 0o644)
    line = _error_line(err)
    assert code == 2, err
    assert expect in line and "Fix: " in line, line
    assert ("parcels.gpkg" if variant != "chmod000" else str(study.streets)) in line
    assert not study.out.exists()
    if variant == "chmod000":
        assert hash_files(study.inputs) == before
    else:
        assert hash_files(hashes) == hashes


def test_03_zero_byte_file_is_refused(capsys, tmp_path):
    study = small_study(tmp_path)
    study.parcels.write_bytes(b"")
    refused(capsys, study, "empty (0 bytes)", "re-export", names=study.parcels)


def test_04_truncated_geojson_is_refused(capsys, tmp_path):
    study = small_study(tmp_path)
    data = study.streets.read_bytes()
    study.streets.write_bytes(data[: len(data) // 2])
    refused(capsys, study, "cannot be read", "truncated", names=study.streets)


# ------------------------------------------------------------------------------ 5, 6, 28: CRS


def _shapefile_without_prj(study, frame: gpd.GeoDataFrame) -> Path:
    shp = study.folder / "parcels.shp"
    frame[["parcel_id", "area_m2", "far", "geometry"]].to_file(shp, engine="pyogrio")
    shp.with_suffix(".prj").unlink()
    study.write(inputs_parcels='path = "parcels.shp"\nid_column = "parcel_id"')
    return shp


def test_05_layer_without_crs_is_refused_unless_declared(capsys, tmp_path):
    study = small_study(tmp_path)
    shp = _shapefile_without_prj(study, _parcels())
    parts = [shp, shp.with_suffix(".shx"), shp.with_suffix(".dbf")]
    study_inputs = [*study.inputs, *parts]
    before = hash_files(study_inputs)
    line = refused(capsys, study, "has no CRS", "[crs] input", names=shp)
    assert "EPSG:4326" in line
    # Declared for the study: runs, and the parcels are where they were.
    study.write(inputs_parcels='path = "parcels.shp"\nid_column = "parcel_id"',
                crs='input = "EPSG:4326"')
    code, _, err = _run(capsys, study)
    assert code == 0, err
    assert len(_out_parcels(study)) == len(_parcels())
    assert {k: v for k, v in hash_files(study_inputs).items() if "study.toml" not in k} == {
        k: v for k, v in before.items() if "study.toml" not in k}


def test_05_projected_layer_without_crs_declared_on_its_own_input(capsys, tmp_path):
    """A bureau's parcels in CGCS2000 GK metres (EPSG:4547) without .prj, next to WGS84 OSM
    streets: only a CRS declared on the parcels' own input can say so ([crs] input would be
    applied to the streets too).  Needs ``crs`` in ``[inputs.parcels]`` (config_sections)."""
    study = small_study(tmp_path)
    parcels = _parcels()
    shp = _shapefile_without_prj(study, parcels.to_crs(4547))
    study.write(inputs_parcels=f'path = "{shp.name}"\nid_column = "parcel_id"\n'
                'crs = "EPSG:4547"')
    code, _, err = _run(capsys, study)
    assert code == 0, err
    out = _out_parcels(study).to_crs(4547).set_index("parcel_id")
    expected = parcels.to_crs(4547).set_index("parcel_id")
    assert np.allclose(out.loc[expected.index].area, expected.area, rtol=1e-6)


def test_06_swapped_lon_lat_is_refused_and_called_swapped(capsys, tmp_path):
    study = small_study(tmp_path)
    frame = _parcels()
    frame.geometry = shapely.transform(frame.geometry.values, lambda xy: xy[:, ::-1])
    _write_parcels(study, frame)
    refused(capsys, study, "look swapped", "latitudes reach 112.", "swap the x and y",
            names=study.parcels)
    # A CSV facility list with its columns the wrong way round, through the Python API.
    csv = tmp_path / "schools.csv"
    pd.DataFrame({"name": ["a", "b"], "lon": [37.85, 37.86], "lat": [112.54, 112.55]}).to_csv(
        csv, index=False)
    with pytest.raises(InputError, match="look swapped"):
        read_layer(csv)


def test_28_projected_metres_declared_as_degrees_are_refused(capsys, tmp_path):
    study = small_study(tmp_path)
    frame = _parcels().to_crs(4547).set_crs(4326, allow_override=True)
    _write_parcels(study, frame)
    line = refused(capsys, study, "look like projected metres", "declare the layer's real",
                   names=study.parcels)
    assert "x 3" in line or "x 4" in line  # the offending coordinate range is shown


# ------------------------------------------------------------------------------ 7: GCJ-02


def _school_points(facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    classes = ["kindergarten", "primary_school", "middle_school", "hospital"]
    f = facilities[facilities["class"].isin(classes)]
    return gpd.GeoDataFrame({"class": f["class"].to_numpy(), "name": f["name"].to_numpy()},
                            geometry=f.geometry.representative_point().to_numpy(),
                            crs=f.crs).reset_index(drop=True)


def _shifted(points: gpd.GeoDataFrame, forward) -> gpd.GeoDataFrame:
    x, y = forward(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    return points.set_geometry(gpd.points_from_xy(x, y, crs=points.crs))


def test_07_gcj02_offset_in_taiyuan_is_300_to_700_m():
    pts = _school_points(_osm_facilities())
    lon, lat = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
    glon, glat = wgs84_to_gcj02(lon, lat)
    _, _, dist = GEOD.inv(lon, lat, glon, glat)
    assert 300 < dist.min() and dist.max() < 700, (dist.min(), dist.max())
    assert 540 < np.median(dist) < 580  # measured: 546-573 m over the city's schools


def test_07_gcj02_facility_layer_is_detected_against_osm_and_streets(city_streets):
    osm = _osm_facilities()
    points = _school_points(osm)
    gcj = _shifted(points, wgs84_to_gcj02)
    with pytest.warns(SiteplanWarning, match=r'looks like GCJ-02.*coord_system = "gcj02"'):
        found = check_offset(gcj, facilities=osm, where="facility layer schools.csv")
    assert found is not None and found.suggested == "gcj02" and found.reference == "facilities"
    # Measured: all 59 match once converted, 4 by chance as given.
    assert found.matches["gcj02"] == len(points) and found.matches["as given"] <= len(points) / 10
    # True WGS84 points: no warning, whatever the reference.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SiteplanWarning)
        assert check_offset(points, facilities=osm).verdict == "wgs84"
        # Inside their grounds the true points are on no street (0 of 59), while 14 land on one
        # after a wrong GCJ-02 conversion: streets alone cannot tell, so no verdict at all.
        alone = check_offset(points, streets=city_streets)
        assert alone.suggested is None and alone.verdict == "inconclusive"
        assert alone.evidence["streets"].matches["as given"] == 0
        assert alone.evidence["streets"].matches["gcj02"] > 5
    # Baidu BD-09 is told apart from GCJ-02.
    bd = _shifted(points, wgs84_to_bd09)
    with pytest.warns(SiteplanWarning, match='coord_system = "bd09"'):
        assert check_offset(bd, facilities=osm).suggested == "bd09"
    # With only streets to compare with: points at the school gates (on the street) are found.
    gates = _gates(points, city_streets)
    with pytest.warns(SiteplanWarning, match="within 15 m of a street"):
        assert check_offset(_shifted(gates, wgs84_to_gcj02),
                            streets=city_streets).suggested == "gcj02"
    # The inverse conversions bring the points back to within a millimetre.
    back = _shifted(gcj, gcj02_to_wgs84)
    assert np.abs(back.geometry.x - points.geometry.x).max() < 1e-8
    assert np.abs(_shifted(bd, bd09_to_wgs84).geometry.y - points.geometry.y).max() < 1e-8


def _gates(points: gpd.GeoDataFrame, lines: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each point moved to the nearest point of the nearest street (a school gate)."""
    metric = lines.estimate_utm_crs()
    pts = points.to_crs(metric).geometry.to_numpy()
    streets = lines.to_crs(metric).geometry.to_numpy()
    idx = shapely.STRtree(streets).nearest(pts)
    gate = shapely.get_point(shapely.shortest_line(streets[idx], pts), 0)
    return points.set_geometry(gpd.GeoSeries(gate, crs=metric).to_crs(points.crs).to_numpy())


@pytest.fixture(scope="module")
def city_streets() -> gpd.GeoDataFrame:
    lines = gpd.read_file(DATA / "taiyuan_osm_lines.geojson", engine="pyogrio")
    return lines[lines["highway"].notna()].reset_index(drop=True)


# With offset_check = "warn", the shifted schools are flagged, and one lands beyond
# max_snap_m of the streets.
@cli_shows("facility layer .*schools.csv. the layer looks like GCJ-02",
           ".*middle_school facilities .schools.csv")
def test_07_undeclared_gcj02_layer_stops_a_run_and_declared_one_matches(capsys, tmp_path):
    """Through the CLI: a municipal school list copied from Amap (GCJ-02) stops the run with
    the fix (exit 2); offset_check = "warn" lets it go on with a warning; declared as gcj02 it
    gives the same distances as the true WGS84 points.  The check needs pipeline._facilities
    to call siteplan.inputs.check_layer_offset (see the README)."""
    study = small_study(tmp_path)
    areas = slice_frames()["features"]
    osm = classify_facilities(areas, source="osm").facilities
    schools = _school_points(osm[osm["class"].isin(["primary_school", "middle_school"])])
    assert len(schools) >= 8
    gcj = _shifted(schools, wgs84_to_gcj02)
    table = pd.DataFrame({"名称": gcj["name"], "类别": gcj["class"],
                          "lon": gcj.geometry.x.round(9), "lat": gcj.geometry.y.round(9)})
    table.to_csv(study.folder / "schools.csv", index=False)
    layer = 'path = "schools.csv"\nclass_column = "类别"\nname_column = "名称"'
    study.write(inputs='streets = "streets.geojson"\nfacilities = "features.geojson"\n\n'
                f"[[inputs.layers]]\n{layer}")
    before = hash_files([*study.inputs, study.folder / "schools.csv"])
    code, _, err = _run(capsys, study)
    assert code == 2, err
    assert "looks like GCJ-02" in err and 'coord_system = "gcj02"' in err
    assert "Traceback" not in err and not (study.out / "shortlist.csv").exists()
    study.write(inputs='streets = "streets.geojson"\nfacilities = "features.geojson"\n\n'
                f"[[inputs.layers]]\n{layer}", crs='offset_check = "warn"')
    code, _, err = _run(capsys, study)
    assert code == 0, err
    warned = [line for line in err.splitlines() if "looks like GCJ-02" in line]
    assert warned and "schools.csv" in warned[0] and 'coord_system = "gcj02"' in warned[0]
    # Declared: converted, no warning, and the distances are those of the true points.
    study.write(inputs='streets = "streets.geojson"\nfacilities = "features.geojson"\n\n'
                f'[[inputs.layers]]\n{layer}\ncoord_system = "gcj02"')
    shutil.rmtree(study.out)
    code, _, err = _run(capsys, study)
    assert code == 0 and "GCJ-02" not in err, err
    declared = _out_parcels(study).set_index("parcel_id")
    table.assign(lon=schools.geometry.x.round(9), lat=schools.geometry.y.round(9)).to_csv(
        study.folder / "schools.csv", index=False)
    study.write(inputs='streets = "streets.geojson"\nfacilities = "features.geojson"\n\n'
                f"[[inputs.layers]]\n{layer}")
    shutil.rmtree(study.out)
    code, _, err = _run(capsys, study)
    assert code == 0, err
    truth = _out_parcels(study).set_index("parcel_id")
    col = "dist_primary_school_m"
    assert np.allclose(declared.loc[truth.index, col], truth[col], atol=0.05, equal_nan=True)
    assert before  # (the CSV was rewritten by the test itself between runs)


@functools.cache
def _t07_areas() -> gpd.GeoDataFrame:
    """The raw OSM polygons of the bundled city (landuse, amenity, building, leisure...)."""
    return gpd.read_file(DATA / "taiyuan_osm_multipolygons.geojson", engine="pyogrio")


def test_07_small_true_layers_are_not_called_shifted_by_chance_street_hits(city_streets):
    """Kindergarten lists of 5-8 true WGS84 points inside their grounds, with OSM knowing only
    2 kindergartens: the old rule let the streets decide, and a 560 m shift lands on some
    street by chance (22-26 % false warnings).  No subset may be called shifted."""
    import warnings

    osm = _osm_facilities()
    assert (osm["class"] == "kindergarten").sum() <= 2  # the same-class reference is empty
    points = _school_points(osm).assign(**{"class": "kindergarten"})
    rng = np.random.default_rng(7)
    fooled_old_rule = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", SiteplanWarning)
        for n in (5, 6, 8):
            for _ in range(12):
                layer = points.iloc[np.sort(rng.choice(len(points), n, replace=False))]
                alone = check_offset(layer, streets=city_streets)
                assert alone.suggested is None and alone.verdict == "inconclusive"
                streets = alone.evidence["streets"].matches
                # The old rule: half the points on a street, twice as many as given, plus one.
                best = max(streets["gcj02"], streets["bd09"])
                fooled_old_rule += best >= max(3, n / 2) and best >= 2 * streets["as given"] + 1
                found = check_offset(layer, facilities=osm, streets=city_streets)
                assert found.suggested is None
                # Every point lies inside mapped grounds as given (they are representative
                # points of them): from 8 points on, that alone says WGS84.
                assert found.evidence["grounds"].matches["as given"] == n
                assert found.verdict in (("wgs84",) if n >= 8 else ("wgs84", "inconclusive"))
    assert fooled_old_rule >= 3  # the subsets do hold the chance street hits


def test_07_gcj02_layer_of_20_schools_is_named_and_bd09_told_apart(city_streets):
    """20 school points copied from Amap (GCJ-02) or Baidu (BD-09), labelled with a class OSM
    barely maps, so mapped grounds, land and streets decide: the right system is named."""
    osm = _osm_facilities()
    rng = np.random.default_rng(20)
    points = _school_points(osm).assign(**{"class": "kindergarten"})
    points = points.iloc[np.sort(rng.choice(len(points), 20, replace=False))]
    refs = {"facilities": osm, "streets": city_streets, "features": _t07_areas()}
    for forward, name, label in ((wgs84_to_gcj02, "gcj02", "GCJ-02"),
                                 (wgs84_to_bd09, "bd09", "BD-09")):
        with pytest.warns(SiteplanWarning) as caught:
            found = check_offset(_shifted(points, forward), where="layer kg.csv", **refs)
        assert found.suggested == name and found.verdict == name, found
        text = str(caught[0].message)
        assert f"looks like {label}" in text and f'coord_system = "{name}"' in text
        assert "kg.csv" in text and "of 20 points" in text
        # Converted back, every point is inside its grounds again; as given, few are.
        grounds = found.evidence["grounds"]
        assert grounds.matches[name] == 20 and grounds.matches["as given"] <= 5
        other = "bd09" if name == "gcj02" else "gcj02"
        assert grounds.matches[other] <= 10 and grounds.p_value[name] < 1e-6
    # At the school gates with only the streets to compare with, GCJ-02 is found too.
    gates = _gates(points, city_streets)
    with pytest.warns(SiteplanWarning, match='within 15 m of a street.*coord_system = "gcj02"'):
        found = check_offset(_shifted(gates, wgs84_to_gcj02), streets=city_streets)
    assert found.evidence["streets"].matches["gcj02"] == 20
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SiteplanWarning)
        assert check_offset(points, **refs).verdict == "wgs84"
        assert check_offset(gates, streets=city_streets).verdict == "wgs84"


def test_07_check_is_one_tree_query_per_reference_whatever_the_size(city_streets, monkeypatch):
    """Vectorised: every reading of every point (as given, 2 candidates, 2 x 11 controls) goes
    to each reference in one STRtree query, for 6 points as for 590."""
    from siteplan.io import offsets
    calls: list[int] = []

    class CountingTree(shapely.STRtree):
        def query(self, geometry, *args, **kwargs):
            calls.append(len(geometry))
            return super().query(geometry, *args, **kwargs)

    monkeypatch.setattr(shapely, "STRtree", CountingTree)
    osm = _osm_facilities()
    points = _school_points(osm)
    readings = 1 + len(offsets.CANDIDATES) * (1 + len(offsets.CONTROL_ANGLES_DEG))
    for n in (6, 590):
        layer = points.iloc[np.arange(n) % len(points)]
        calls.clear()
        found = check_offset(layer, facilities=osm, streets=city_streets,
                             features=_t07_areas(), warn=False)
        assert sorted(found.evidence) == ["facilities", "grounds", "land", "streets"]
        assert calls == [readings * n] * 4


# ------------------------------------------------------------------------------ 8: encodings

NAMES = ["太原市第五十一中学校", "八一小学", "山西大学附属中学", "新建路小学", "五一路小学"]


def _gbk_shapefile(study, *, chinese_field: bool) -> Path:
    areas = slice_frames()["features"]
    osm = classify_facilities(areas, source="osm").facilities
    pts = _school_points(osm[osm["class"] == "primary_school"]).iloc[: len(NAMES)]
    field = "名称" if chinese_field else "name"
    frame = gpd.GeoDataFrame({field: NAMES[: len(pts)], "类型": "小学"},
                             geometry=pts.geometry.to_numpy(), crs=pts.crs)
    path = study.folder / "学校.shp"
    frame.to_file(path, encoding="gbk", engine="pyogrio")
    path.with_suffix(".cpg").unlink()
    dbf = path.with_suffix(".dbf").read_bytes()
    assert NAMES[1].encode("gbk") in dbf and NAMES[1].encode() not in dbf
    return path


def _with_layer(study, layer: str) -> None:
    study.write(inputs='streets = "streets.geojson"\nfacilities = "features.geojson"\n\n'
                f"[[inputs.layers]]\n{layer}")


@cli_shows("facility layer .*学校.shp. .*looks garbled")  # its text, then its column names
def test_08_gbk_shapefile_without_cpg(capsys, tmp_path):
    study = small_study(tmp_path)
    shp = _gbk_shapefile(study, chinese_field=False)
    parts = [shp.with_suffix(s) for s in (".shp", ".shx", ".dbf", ".prj")]
    before = hash_files(parts)
    base = 'path = "学校.shp"\nclass = "primary_school"'
    # Declared: read correctly, no garbled-text warning.
    _with_layer(study, base + '\nencoding = "gbk"')
    code, _, err = _run(capsys, study)
    assert code == 0 and "garbled" not in err, err
    fac = read_facilities(study.out / "shortlist.gpkg",
                          pyogrio.list_layers(study.out / "shortlist.gpkg")[:, 0])
    assert set(NAMES[:3]) <= set(fac.loc[fac["source"] == "学校.shp", "name"])
    # Not declared: the run goes on, with a warning naming the file, the column and the fix.
    shutil.rmtree(study.out)
    _with_layer(study, base)
    line = repaired(capsys, study, "text in column", "looks garbled", "学校.shp")
    assert "'name'" in line and 'encoding="gbk"' in line
    assert any(f"reads as {n!r} in GBK" in line for n in NAMES), line
    assert hash_files(parts) == before
    # A Chinese field name declared as the name column: refused, with the encoding as the fix.
    shutil.rmtree(study.out)
    _gbk_shapefile(study, chinese_field=True)
    _with_layer(study, base + '\nname_column = "名称"')
    line = refused(capsys, study, "has no column '名称'", 'encoding = "gbk"', names=shp)
    assert "reads as '名称' in GBK" in line


# ------------------------------------------------------------------------------ 9-11: geometry


def _bowtie(poly: shapely.Polygon) -> shapely.Polygon:
    x0, y0, x1, y1 = poly.bounds
    return shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])


@cli_shows("parcels .*repaired 3 invalid geometries")
def test_09_invalid_polygons_are_repaired_and_counted(capsys, tmp_path):
    study = small_study(tmp_path)
    frame = _parcels()
    frame.loc[[0, 1, 2], "geometry"] = [_bowtie(g) for g in frame.geometry.iloc[:3]]
    assert (~frame.geometry.is_valid).sum() == 3
    _write_parcels(study, frame)
    line = repaired(capsys, study, "repaired 3 invalid geometries", str(study.parcels))
    ids = frame["parcel_id"]
    assert (f"feature(s) parcel_id {ids.iloc[0]} (#0), parcel_id {ids.iloc[1]} (#1), "
            f"parcel_id {ids.iloc[2]} (#2)") in line
    assert "dropped" not in line and "Fix the geometries" in line
    out = _out_parcels(study).set_index("parcel_id")
    assert len(out) == len(frame) and out.geometry.is_valid.all()
    # A bow-tie becomes its two triangles, meeting where the diagonals cross.
    for poly, pid in zip(frame.geometry.iloc[:3], frame["parcel_id"].iloc[:3], strict=True):
        x0, y0, x1, y1 = poly.bounds
        c = ((x0 + x1) / 2, (y0 + y1) / 2)
        triangles = shapely.MultiPolygon([shapely.Polygon([c, (x1, y1), (x1, y0)]),
                                          shapely.Polygon([c, (x0, y1), (x0, y0)])])
        expected = gpd.GeoSeries([triangles], crs=frame.crs).to_crs(out.crs).area.iloc[0]
        assert out.loc[pid].geometry.area == pytest.approx(expected, rel=1e-6)


@cli_shows("parcels .*dropped 2 empty or missing geometries")
def test_10_empty_geometries_are_dropped_and_counted(capsys, tmp_path):
    study = small_study(tmp_path)
    frame = _parcels()
    frame.loc[4, "geometry"] = shapely.Polygon()
    frame.loc[7, "geometry"] = None
    _write_parcels(study, frame)
    line = repaired(capsys, study, "dropped 2 empty or missing geometries", str(study.parcels))
    ids = frame["parcel_id"]
    # Named by parcel id (issue 17), with the positions in the file.
    assert f"feature(s) parcel_id {ids.iloc[4]} (#4), parcel_id {ids.iloc[7]} (#7) (#: 0-based" \
        in line and "repaired" not in line
    out = _out_parcels(study)
    assert len(out) == len(frame) - 2
    assert set(frame["parcel_id"]) - set(out["parcel_id"]) == set(frame["parcel_id"].iloc[[4, 7]])


@cli_shows(r".*streets.geojson. 3 non-line feature\(s\) \(2 Point, 1 Polygon\) ignored")
def test_11_mixed_geometry_types_are_handled_per_type(capsys, tmp_path):
    study = small_study(tmp_path)
    # Facilities: points, polygons and a line in one layer are all kept, each as it is.
    areas = slice_frames()["features"].copy()
    areas.loc[::2, "geometry"] = areas.geometry.iloc[::2].representative_point()
    areas.loc[1, "geometry"] = areas.geometry.iloc[1].boundary
    areas.to_file(study.facilities, driver="GeoJSON", engine="pyogrio")
    # Streets: two points and a polygon among the lines are ignored with a count.
    streets = slice_frames()["streets"]
    extra = gpd.GeoDataFrame({"highway": ["footway"] * 3},
                             geometry=[streets.geometry.iloc[0].centroid,
                                       streets.geometry.iloc[1].centroid,
                                       streets.geometry.iloc[2].buffer(1e-4)], crs=streets.crs)
    pd.concat([streets, extra], ignore_index=True).to_file(study.streets, driver="GeoJSON",
                                                          engine="pyogrio")
    line = repaired(capsys, study, "3 non-line feature(s)", str(study.streets))
    assert "2 Point" in line and "1 Polygon" in line
    fac = read_facilities(study.out / "shortlist.gpkg",
                          pyogrio.list_layers(study.out / "shortlist.gpkg")[:, 0])
    types = set(fac.geom_type)
    assert {"Point", "Polygon"} <= types or {"Point", "MultiPolygon"} <= types, types
    # The network is the one the lines alone make.
    code_net, out_net, _ = cli(capsys, "network", str(study.streets))
    reference = tmp_path / "lines_only.geojson"
    streets.to_file(reference, driver="GeoJSON", engine="pyogrio")
    _, out_ref, _ = cli(capsys, "network", str(reference))
    assert code_net == 0
    assert out_net.split(":", 1)[1].split(" (")[0] == out_ref.split(":", 1)[1].split(" (")[0]
    # Parcels: a point among the polygons is refused, naming its id.
    parcels = _parcels()
    parcels.loc[3, "geometry"] = parcels.geometry.iloc[3].centroid
    _write_parcels(study, parcels)
    shutil.rmtree(study.out)
    refused(capsys, study, "not polygons", str(parcels["parcel_id"].iloc[3]),
            names=study.parcels)


# ------------------------------------------------------------------------------ 12-13: ids


def test_12_duplicate_parcel_ids_are_listed(capsys, tmp_path):
    study = small_study(tmp_path)
    frame = _parcels()
    ids = frame["parcel_id"]
    frame.loc[[5, 9], "parcel_id"] = [ids.iloc[0], ids.iloc[1]]
    _write_parcels(study, frame)
    line = refused(capsys, study, "2 parcel id(s) occur more than once", "make the ids unique",
                   names=study.parcels)
    assert ids.iloc[0] in line and ids.iloc[1] in line


def test_13_null_parcel_ids_are_listed(capsys, tmp_path):
    study = small_study(tmp_path)
    frame = _parcels()
    frame.loc[[3, 11], "parcel_id"] = [None, "  "]
    _write_parcels(study, frame)
    refused(capsys, study, "2 parcel(s) have no id", "rows 3, 11", "give every parcel an id",
            names=study.parcels)


# ------------------------------------------------------------------------------ 26-27: outputs


def test_26_output_path_equal_to_an_input_is_refused_before_writing(capsys, tmp_path):
    """The parcels file is called shortlist.gpkg and --out is its folder.  Nothing may be
    written, not even the shortlist.csv that comes before the GeoPackage (needs
    outputs.write_outputs to call siteplan.core.atomic.check_outputs first; see the README)."""
    study = small_study(tmp_path)
    shutil.move(study.parcels, study.folder / "shortlist.gpkg")
    study.parcels = study.folder / "shortlist.gpkg"
    study.write(inputs_parcels='path = "shortlist.gpkg"\nlayer = "parcels"\n'
                'id_column = "parcel_id"')
    before = hash_files(study.inputs)
    listing = sorted(p.name for p in study.folder.iterdir())
    study.out = study.folder
    code, _, err = _run(capsys, study)
    line = _error_line(err)
    assert code == 2 and "same as an input" in line and str(study.parcels) in line
    assert "Fix: " in line
    assert hash_files(study.inputs) == before
    assert sorted(p.name for p in study.folder.iterdir()) == listing  # nothing written
    # --out naming an input file itself.
    study.out = study.parcels
    code, _, err = _run(capsys, study)
    line = _error_line(err)
    assert code == 2 and "is a file, not a folder" in line and str(study.parcels) in line
    assert hash_files(study.inputs) == before


def test_27_output_folder_that_cannot_be_written(capsys, tmp_path):
    study = small_study(tmp_path)
    before = hash_files(study.inputs)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    study.out = blocker / "out"
    code, _, err = _run(capsys, study)
    line = _error_line(err)
    assert code == 2 and str(study.out) in line and "cannot create the output folder" in line
    assert "Fix: " in line and blocker.read_text() == "not a folder"
    assert hash_files(study.inputs) == before


@pytest.mark.permissions
def test_27_read_only_output_folder(tmp_path):
    ok, reason = permissions_bind()
    if not ok:
        pytest.skip(reason)
    study = small_study(tmp_path)
    before = hash_files(study.inputs)
    study.out.mkdir()
    study.out.chmod(0o555)
    try:
        code, _, err = cli_subprocess("run", str(study.toml), "--out", str(study.out),
                                      "--quiet", permissions_bind=True)
    finally:
        study.out.chmod(0o755)
    line = _error_line(err)
    assert code == 2 and "not writable" in line and str(study.out) in line, err
    assert list(study.out.iterdir()) == []
    assert hash_files(study.inputs) == before


def test_layers_listing_is_unchanged_by_a_run(capsys, tmp_path):
    """Inputs are opened read-only: a full run changes neither bytes nor layers nor mtime."""
    study = small_study(tmp_path)
    before = hash_files(study.inputs)
    mtimes = {p: p.stat().st_mtime_ns for p in study.inputs}
    layers = pyogrio.list_layers(study.parcels).tolist()
    code, _, err = _run(capsys, study)
    assert code == 0, err
    assert hash_files(study.inputs) == before
    assert {p: p.stat().st_mtime_ns for p in study.inputs} == mtimes
    assert pyogrio.list_layers(study.parcels).tolist() == layers
    assert not list(study.folder.glob("*-journal")) and not list(study.folder.glob("*-wal"))
