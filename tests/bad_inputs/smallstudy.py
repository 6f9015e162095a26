"""A small real study for the bad-input cases: a 2.5 x 3.5 km slice of the Taiyuan data.

:func:`write_study` copies the slice (streets, OSM areas, parcels) into a folder and writes a
study TOML next to it, so that each case can break one thing and run the CLI in seconds.
:func:`cli` runs ``siteplan`` in-process and returns exit code, stdout and stderr;
:func:`digests` hashes the input files so that a case can check they were not touched, and
:func:`leftovers` lists output files a failed run must not leave behind.
"""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import geopandas as gpd
from shapely.geometry import box
from slice_study import cli  # noqa: F401  (one in-process CLI runner for the corpus)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "taiyuan"
# UTM 49N window in central Taiyuan: 8 primary schools, 6 middle schools, 5 hospitals, 125 blocks.
WINDOW_UTM = (635000.0, 4189000.0, 637500.0, 4192500.0)
STREETS = "streets.geojson"
AREAS = "areas.geojson"
PARCELS = "parcels.gpkg"

HEAD = f"""\
[study]
name = "small"

[inputs]
streets = "{STREETS}"
facilities = "{AREAS}"

[inputs.parcels]
path = "{PARCELS}"
layer = "parcels"
id_column = "parcel_id"

[crs]
metric = "utm"
coord_system = "wgs84"

[network]
max_snap_m = 200.0
search_limit_m = 3000.0
"""

CRITERIA = """
[[criteria]]
name = "primary_walk"
kind = "distance"
class = "primary_school"
weight = 2
transform = { type = "linear", best = 500, worst = 1500 }

[[criteria]]
name = "hospital_walk"
kind = "distance"
class = "hospital"
weight = 1
transform = { type = "linear", best = 1000, worst = 3000 }
"""

TAIL = """
[[constraints]]
builtin = "unreachable"

[outputs]
top_n = 10
"""


def window_lonlat() -> gpd.GeoSeries:
    """The slice's window as a WGS84 polygon."""
    return gpd.GeoSeries([box(*WINDOW_UTM)], crs=32649).to_crs(4326)


@functools.cache
def _slice() -> dict[str, bytes]:
    """The sliced files' bytes, built once per test session."""
    win = window_lonlat().iloc[0]
    out: dict[str, bytes] = {}
    for src, name in (("taiyuan_osm_lines.geojson", STREETS),
                      ("taiyuan_osm_multipolygons.geojson", AREAS)):
        frame = gpd.read_file(DATA / src)
        buf = io.BytesIO()
        frame[frame.intersects(win)].to_file(buf, driver="GeoJSON")
        out[name] = buf.getvalue()
    out[PARCELS] = _gpkg_bytes(small_parcels())
    return out


def _gpkg_bytes(frame: gpd.GeoDataFrame) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.gpkg"
        frame.to_file(path, layer="parcels")
        return path.read_bytes()


def small_parcels() -> gpd.GeoDataFrame:
    """The slice's parcels (WGS84): the Taiyuan blocks within the window."""
    parcels = gpd.read_file(DATA / "parcels.gpkg", layer="parcels")
    return parcels[parcels.within(window_lonlat().iloc[0])].reset_index(drop=True)


def write_study(folder: Path, *, head: str = HEAD, criteria: str = CRITERIA, tail: str = TAIL,
                extra: str = "", name: str = "study.toml") -> Path:
    """Copy the slice into ``folder`` and write a study file; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    for fname, data in _slice().items():
        target = folder / fname
        if not target.exists():
            target.write_bytes(data)
    path = folder / name
    path.write_text(head + criteria + tail + extra, encoding="utf-8")
    return path


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file in ``folder`` (not recursive): the inputs before/after a run."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def leftovers(out: Path) -> list[str]:
    """Files under an output folder (a failed run must leave none, not even temporaries)."""
    if not out.exists():
        return []
    return sorted(str(p.relative_to(out)) for p in out.rglob("*"))
