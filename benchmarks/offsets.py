"""Offset check on Taiyuan: false warnings on true WGS84 subsets, detection of GCJ-02 / BD-09.

Run: .venv/bin/python benchmarks/offsets.py [--runs 200] [--both-ways]   (about 4 min on 2 cores;
twice that with --both-ways)
Points: the 59 OSM school / hospital grounds (kindergarten, primary, middle school, hospital)
at representative points ("inside") or moved to the nearest street point ("gate").
``--both-ways`` checks as a run does (``check_layer_offset``: the references may be the shifted
ones too) and adds the demo parcels by their outlines against the streets ("parcels"), n = 5,
8, 20 and 100 (of 1,328); a shifted layer counts as found when the layer is named, and "wrong"
counts a verdict that blames the streets ("ref-*") or names the other system.
"""
import argparse
import warnings
from multiprocessing import Pool
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

warnings.simplefilter("ignore")
from siteplan.core.tags import tag_column  # noqa: E402
from siteplan.facilities.classify import classify_facilities  # noqa: E402
from siteplan.io.crs import wgs84_to_bd09, wgs84_to_gcj02  # noqa: E402
from siteplan.io.offsets import check_offset  # noqa: E402

D = str(Path(__file__).resolve().parents[1] / "data" / "taiyuan") + "/"
AREAS = gpd.read_file(D + "taiyuan_osm_multipolygons.geojson", engine="pyogrio")
OSM = classify_facilities(AREAS, source="osm").facilities
LINES = gpd.read_file(D + "taiyuan_osm_lines.geojson", engine="pyogrio")
CLASSES = ["kindergarten", "primary_school", "middle_school", "hospital"]
F = OSM[OSM["class"].isin(CLASSES)]
PARCELS = gpd.read_file(D + "parcels.gpkg", engine="pyogrio")
INSIDE = gpd.GeoDataFrame({"class": F["class"].to_numpy()},
                          geometry=F.geometry.representative_point().to_numpy(),
                          crs=F.crs).reset_index(drop=True)


def gates(points):
    metric = LINES.estimate_utm_crs()
    streets = LINES[LINES["highway"].notna()].to_crs(metric).geometry.to_numpy()
    pts = points.to_crs(metric).geometry.to_numpy()
    idx = shapely.STRtree(streets).nearest(pts)
    gate = shapely.get_point(shapely.shortest_line(streets[idx], pts), 0)
    return points.set_geometry(gpd.GeoSeries(gate, crs=metric).to_crs(points.crs).to_numpy())


def shift(p, forward):
    geoms = np.asarray(p.geometry.values, dtype=object)
    xy = shapely.get_coordinates(geoms)
    x, y = forward(xy[:, 0], xy[:, 1])
    moved = shapely.set_coordinates(geoms.copy(), np.column_stack([x, y]))
    return p.set_geometry(gpd.GeoSeries(moved, index=p.index, crs=p.crs))


OWN = {"school", "hospital", "kindergarten", "university", "college", "clinic"}
own = np.zeros(len(AREAS), bool)
for key in ("amenity", "building"):
    own |= tag_column(AREAS, key).isin(OWN).to_numpy(bool)
AREAS_NO_OWN = AREAS[~own]
OSM_NO_OWN = OSM[~OSM["class"].isin(CLASSES)]
GATES = gates(INSIDE)
POINTS = {"inside": INSIDE, "gate": GATES, "parcels": PARCELS}
# case -> (points, class label or None = own classes, kwargs)
CASES = {
    "inside, own class, pipeline now": ("inside", None, dict(facilities=OSM, streets=LINES)),
    "inside, kg, pipeline now": ("inside", "kindergarten", dict(facilities=OSM, streets=LINES)),
    "gate, kg, pipeline now": ("gate", "kindergarten", dict(facilities=OSM, streets=LINES)),
    "inside, own class, +features": ("inside", None,
                                     dict(facilities=OSM, streets=LINES, features=AREAS)),
    "inside, kg, +features": ("inside", "kindergarten",
                              dict(facilities=OSM, streets=LINES, features=AREAS)),
    "gate, kg, +features": ("gate", "kindergarten",
                            dict(facilities=OSM, streets=LINES, features=AREAS)),
    "inside, kg, +features -own": ("inside", "kindergarten",
                                   dict(facilities=OSM_NO_OWN, streets=LINES,
                                        features=AREAS_NO_OWN)),
    "gate, kg, +features -own": ("gate", "kindergarten",
                                 dict(facilities=OSM_NO_OWN, streets=LINES,
                                      features=AREAS_NO_OWN)),
    "inside, kg, streets only": ("inside", "kindergarten", dict(streets=LINES)),
    "gate, kg, streets only": ("gate", "kindergarten", dict(streets=LINES)),
}
PARCEL_CASES = {"parcels, outlines vs streets": ("parcels", None,
                                                 dict(streets=LINES, outline=True))}


def run(job):
    case, n, runs, both = job
    kind, label, kw = {**CASES, **PARCEL_CASES}[case]
    kw = {**kw, "both_ways": both}
    pts = POINTS[kind]
    if label:
        pts = pts.assign(**{"class": label})
    layers = {"true": pts, "gcj02": shift(pts, wgs84_to_gcj02), "bd09": shift(pts, wgs84_to_bd09)}
    rng = np.random.default_rng(n)
    runs = 1 if n >= len(pts) else runs
    count = {"false": 0, "gcj02": 0, "bd09": 0, "wrong": 0}
    for _ in range(runs):
        idx = np.sort(rng.choice(len(pts), n, replace=False))
        for name, layer in layers.items():
            c = check_offset(layer.iloc[idx], warn=False, **kw)
            if name == "true":
                count["false"] += c.suggested is not None
            else:
                count[name] += c.suggested == name
                count["wrong"] += c.suggested not in (None, name)
    return case, n, runs, count


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--both-ways", action="store_true")
    args = ap.parse_args()
    jobs = [(c, n, args.runs, args.both_ways) for c in CASES for n in (5, 8, 20, 59)]
    if args.both_ways:
        jobs += [(c, n, args.runs, True) for c in PARCEL_CASES for n in (5, 8, 20, 100)]
    with Pool(args.procs) as pool:
        out = pool.map(run, jobs)
    print(f"{'case':34s} {'n':>3s} {'runs':>4s} {'false %':>8s} {'GCJ %':>7s} {'BD %':>7s} "
          f"{'wrong %':>7s}")
    for case, n, runs, c in out:
        print(f"{case:34s} {n:3d} {runs:4d} {100 * c['false'] / runs:8.1f} "
              f"{100 * c['gcj02'] / runs:7.1f} {100 * c['bd09'] / runs:7.1f} "
              f"{100 * c['wrong'] / runs:7.1f}")
