"""Silently degenerate inputs (issue 17): each is now refused or said, never a quiet number.

A DEM of another area, a parcel of 61,054 ha, parcel ids with control characters or spaces, a
constraint on a column blank for every parcel, fractional declared households.  Each runs the
command line on the Taiyuan slice (slice_study.py).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from slice_study import cli, cli_shows, hash_files, small_study

from siteplan.core.errors import SiteplanWarning
from siteplan.scoring.programme import programme

UTM = 32649


def _run(capsys, study) -> tuple[int, str, str]:
    return cli(capsys, "run", str(study.toml), "--out", str(study.out), "--quiet")


def _lines(err: str, kind: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith(f"{kind}: ")]


def _dem(path, parcels: gpd.GeoDataFrame, shift_m: float, cover: float = 1.0) -> None:
    """A 10 m DEM rising 0.1 m per metre eastwards over the parcels' extent (``cover``: the
    western share of it), moved ``shift_m`` east."""
    x0, y0, x1, y1 = parcels.to_crs(UTM).total_bounds
    width = int((x1 - x0) * cover / 10) + 1
    height = int((y1 - y0) / 10) + 1
    z = np.tile(np.arange(width, dtype="float32") * 1.0, (height, 1))
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="float32", crs=f"EPSG:{UTM}", nodata=-9999,
                       transform=from_origin(x0 + shift_m, y1, 10, 10)) as dst:
        dst.write(z, 1)


def _with_slope(study) -> None:
    study.write(inputs="streets = \"streets.geojson\"\nfacilities = \"features.geojson\"\n"
                "rasters = { dem = \"dem.tif\" }",
                criteria_2='name = "slope"\nkind = "slope"\nraster = "dem"\nweight = 1\n'
                'transform = { type = "linear", best = 0, worst = 25 }')


def test_a_dem_of_another_area_is_refused(capsys, tmp_path):
    study = small_study(tmp_path)
    parcels = gpd.read_file(study.parcels)
    _dem(study.folder / "dem.tif", parcels, shift_m=50_000)
    _with_slope(study)
    code, _, err = _run(capsys, study)
    (line,) = _lines(err, "error")
    assert code == 2 and "criteria[1] (slope)" in line and "dem.tif" in line
    assert f"no valid pixel under any of the {len(parcels)} parcels" in line and "Fix: " in line
    assert not study.out.exists()


@cli_shows(r".*criteria\[1\] \(slope\). the raster .* has no valid pixel under")
def test_a_dem_that_misses_some_parcels_names_them(capsys, tmp_path):
    study = small_study(tmp_path)
    parcels = gpd.read_file(study.parcels)
    _dem(study.folder / "dem.tif", parcels, shift_m=0, cover=0.5)
    _with_slope(study)
    code, _, err = _run(capsys, study)
    assert code == 0, err
    (line,) = [w for w in _lines(err, "warning") if "no valid pixel" in w]
    n = int(line.split("no valid pixel under ")[1].split(" of ")[0])
    assert 0 < n < len(parcels) and "they rate 0 on this criterion" in line


@cli_shows(r".*1 parcel\(s\) larger than 200 ha", r".*1 parcel\(s\) covering more than 50%")
def test_a_parcel_of_61054_ha_is_reported(capsys, tmp_path):
    study = small_study(tmp_path)
    parcels = gpd.read_file(study.parcels)
    x0, y0 = parcels.to_crs(UTM).total_bounds[:2]
    side = (61_054 * 10_000) ** 0.5
    huge = gpd.GeoDataFrame({"parcel_id": ["DISTRICT"]}, crs=UTM,
                            geometry=[shapely.box(x0, y0, x0 + side, y0 + side)])
    both = pd.concat([parcels, huge.to_crs(parcels.crs)], ignore_index=True)
    both.to_file(study.parcels, layer="parcels", driver="GPKG")
    code, _, err = _run(capsys, study)
    assert code == 0, err
    (line,) = [w for w in _lines(err, "warning") if "larger than 200 ha" in w]
    assert "DISTRICT (61,054 ha)" in line and str(study.parcels) in line
    # It also covers most of the area the study's streets span: named once more, for that.
    (most,) = [w for w in _lines(err, "warning") if "covering more than 50%" in w]
    assert "DISTRICT" in most and "[study] boundary" in most


def test_parcel_ids_with_control_characters_are_refused_not_stripped(capsys, tmp_path):
    study = small_study(tmp_path)
    parcels = gpd.read_file(study.parcels)
    parcels.loc[2, "parcel_id"] = "\t=1+2"
    parcels.to_file(study.parcels, layer="parcels", driver="GPKG")
    before = hash_files(study.inputs)
    code, _, err = _run(capsys, study)
    (line,) = _lines(err, "error")
    assert code == 2 and "hold control characters" in line and "row 2: '\\t=1+2'" in line
    assert "Fix: " in line and hash_files(study.inputs) == before and not study.out.exists()


@cli_shows(r".*1 parcel id\(s\) in column 'parcel_id' begin or end with spaces")
def test_parcel_ids_with_spaces_are_kept_as_given_and_said(capsys, tmp_path):
    study = small_study(tmp_path)
    parcels = gpd.read_file(study.parcels)
    parcels.loc[2, "parcel_id"] = " P 2 "
    parcels.to_file(study.parcels, layer="parcels", driver="GPKG")
    code, _, err = _run(capsys, study)
    assert code == 0, err
    assert any("' P 2 '" in w for w in _lines(err, "warning")), err
    out = gpd.read_file(study.out / "shortlist.gpkg", layer="parcels")
    assert " P 2 " in set(out["parcel_id"])


@cli_shows(r"constraint on .*blank or missing for all")
@pytest.mark.parametrize("missing", ["exclude", "keep"])
def test_a_constraint_on_a_blank_column_says_so(capsys, tmp_path, missing):
    study = small_study(tmp_path)
    parcels = gpd.read_file(study.parcels)
    parcels["zoning"] = ""
    parcels.to_file(study.parcels, layer="parcels", driver="GPKG")
    text = study.toml.read_text(encoding="utf-8")
    study.toml.write_text(text + '\n[[constraints]]\ncolumn = "zoning"\nop = "=="\n'
                          f'value = "R2"\nmissing = "{missing}"\n', encoding="utf-8")
    code, _, err = _run(capsys, study)
    (warning,) = [w for w in _lines(err, "warning") if "blank or missing for all" in w]
    assert f"for all {len(parcels)} parcels" in warning
    if missing == "exclude":  # nothing ranked: an error that says why
        (line,) = _lines(err, "error")
        assert code == 2 and "no parcel can be ranked" in line
        assert "zoning is blank or missing for the parcels it excludes" in line
    else:
        assert code == 0 and "excludes nothing" in warning


def test_declared_households_are_used_as_shown():
    parcels = gpd.GeoDataFrame({"parcel_id": ["a", "b"], "households": [120.6, 80.0]},
                               geometry=[shapely.box(0, 0, 100, 100)] * 2, crs=UTM)
    with pytest.warns(SiteplanWarning, match=r"not whole \(a: 120.6 -> 121\)"):
        out = programme(parcels)
    assert out["est_households"].tolist() == [121, 80]
    # Residents and parking follow the households shown: 121 x 2.62, ceil(121 x 1.2).
    assert out["est_residents"].tolist() == pytest.approx([121 * 2.62, 80 * 2.62])
    assert out["required_parking_spaces"].tolist() == [146, 96]
