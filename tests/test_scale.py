"""Shortcuts taken for a metropolitan study give the answers of the long way (issue 18).

Each shortcut (a bounded set of streets, a sample reprojected instead of the whole layer) is
checked against the computation it replaces, on the bundled Taiyuan data.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import DATA
from scipy.spatial import cKDTree

from siteplan.access.catchments import buffer_streets, catchments
from siteplan.access.coverage import _Frontage, blind_spots, class_coverage, coverage
from siteplan.access.distances import snap_facilities
from siteplan.access.reach import _CLASS_MEMO, class_streets, reached_pieces
from siteplan.io.offsets import (
    MAX_OUTLINES,
    OUTLINE_MATCH_M,
    _outline_hits,
    _outline_samples,
    judged_rows,
)


def test_outline_hits_densify_only_the_streets_near_the_outlines(taiyuan_lines):
    # The long way: every street densified, one KD-tree over all of them.
    parcels = gpd.read_file(DATA / "parcels.gpkg")
    metric = parcels.estimate_utm_crs()
    geoms = np.asarray(parcels.geometry.values, dtype=object)[:200]
    samples = _outline_samples(geoms, parcels.crs, metric)
    centre = shapely.point_on_surface(
        np.asarray(gpd.GeoSeries(geoms, crs=parcels.crs).to_crs(metric).values, dtype=object))
    x0, y0 = shapely.get_x(centre), shapely.get_y(centre)
    # Readings: as given, and shifts of 5 m (most still follow), 300 m and 600 m (few do).
    shifts = np.array([0.0, 5.0, 300.0, 600.0])
    x = x0[None, :] + shifts[:, None]
    y = y0[None, :] - shifts[:, None] / 2
    lines = np.asarray(taiyuan_lines.geometry.to_crs(metric).values, dtype=object)
    fast = _outline_hits(x, y, samples, lines, OUTLINE_MATCH_M)

    tree = cKDTree(shapely.get_coordinates(shapely.segmentize(lines, 5.0)))
    px = samples[None, :, :, 0] + (x - x[:1])[:, :, None]
    py = samples[None, :, :, 1] + (y - y[:1])[:, :, None]
    dist, _ = tree.query(np.column_stack([px.ravel(), py.ravel()]),
                         distance_upper_bound=OUTLINE_MATCH_M)
    slow = np.isfinite(dist).reshape(px.shape).mean(axis=2) >= 0.5
    assert np.array_equal(fast, slow)
    assert fast[0].sum() > 150 and fast[3].sum() < 100  # the readings tell apart


def test_outline_hits_with_no_street_near_is_all_false(taiyuan_lines):
    samples = np.zeros((3, 8, 2))
    x = np.zeros((2, 3))
    lines = np.array([shapely.LineString([(1e6, 1e6), (1e6 + 10, 1e6)])], dtype=object)
    assert not _outline_hits(x, x, samples, lines, OUTLINE_MATCH_M).any()


def test_judged_rows_are_kept_when_the_layer_is_cut_to_them():
    # check_layer_offset reprojects only the judged rows of a large layer: the cut layer must
    # be judged on the same rows (all of its own).
    pts = shapely.points(np.arange(3 * MAX_OUTLINES, dtype=float), 0.0)
    pts[7] = shapely.Point()  # empty: never judged
    rows = judged_rows(pts, outline=True)
    assert rows.size == MAX_OUTLINES and 7 not in rows and np.all(np.diff(rows) > 0)
    again = judged_rows(pts[rows], outline=True)
    assert np.array_equal(again, np.arange(MAX_OUTLINES))


def _kindergartens(net, n=40, seed=3):
    rng = np.random.default_rng(seed)
    xy = net.node_xy[rng.choice(net.n_nodes, n, replace=False)] + rng.normal(0, 30, (n, 2))
    return gpd.GeoDataFrame({"facility_id": [f"k{i}" for i in range(n)],
                             "class": "kindergarten"}, geometry=shapely.points(xy),
                            crs=net.crs)


def test_catchment_as_lines_is_the_dissolved_catchments_streets(taiyuan_network):
    # A class drawn as lines (proxies, classes above catchments.max_polygons) is the streets
    # whose frontage buffer is the dissolved catchment: same length, same area once buffered.
    net = taiyuan_network
    fac = _kindergartens(net)
    polygon = catchments(net, fac, {"kindergarten": 300.0}, mode="dissolve")
    lines = catchments(net, fac, {"kindergarten": 300.0}, as_lines=["kindergarten"])
    assert len(lines) == 1 and lines["facility_id"].isna().all()
    assert np.isnan(lines["area_m2"].iloc[0])
    geom = lines.geometry.iloc[0]
    assert geom.geom_type == "MultiLineString"
    assert lines["street_m"].iloc[0] == pytest.approx(polygon["street_m"].iloc[0], rel=1e-12)
    assert geom.length == pytest.approx(lines["street_m"].iloc[0], rel=1e-9)
    again = buffer_streets(np.array([geom], dtype=object), 30.0)[0]
    assert again.symmetric_difference(polygon.geometry.iloc[0]).area < 1e-6 * again.area


def test_class_streets_are_computed_once_and_give_the_same_coverage(taiyuan_network):
    net = taiyuan_network
    fac = _kindergartens(net, seed=5)
    sn = snap_facilities(net, fac, ["kindergarten"])["kindergarten"][0]
    pieces, lines = class_streets(net, sn, 300.0)
    direct = reached_pieces(net, sn, 300.0, per_facility=False)
    assert (direct["group"] == 0).all()  # one group: the memo keeps edge, s, t (edge 32-bit)
    pd.testing.assert_frame_equal(pieces, direct[["edge", "s", "t"]].astype({"edge": "int32"}))
    assert np.allclose(shapely.length(lines), (direct["t"] - direct["s"]).to_numpy())
    # The same snap and radius: the same pieces, not a second pass; the lines cut again.
    again, relines = class_streets(net, sn, 300.0)
    assert again is pieces and relines is not lines
    assert shapely.equals_exact(relines, lines, tolerance=0.0).all()
    assert class_streets(net, sn, 500.0)[0] is not pieces
    housing = gpd.GeoDataFrame(geometry=shapely.buffer(fac.geometry.to_numpy()[:10], 120.0),
                               crs=net.crs)
    first = class_coverage(net, fac, {"kindergarten": 300.0}, housing)[0]
    _CLASS_MEMO.clear()
    fresh = class_coverage(net, fac, {"kindergarten": 300.0}, housing)[0]
    pd.testing.assert_frame_equal(first, fresh)
    assert 0 < first["covered_share"].iloc[0] < 1


def test_land_near_wholly_reached_streets_takes_the_networks_frontage(taiyuan_network,
                                                                      taiyuan_polygons):
    # A class reaching most streets (a bus corridor): most residential land is near streets
    # reached end to end, whose frontage is the network's, computed once.  Same table and
    # blind spots as the dissolved catchment, the long way.
    net = taiyuan_network
    fac = _kindergartens(net, n=600, seed=11)
    res = taiyuan_polygons[taiyuan_polygons["landuse"] == "residential"].to_crs(net.crs)
    res = res[["geometry"]].reset_index(drop=True)
    radii = {"kindergarten": 400.0}
    parts = shapely.get_parts(shapely.union_all(res.geometry.to_numpy()))
    land = _Frontage(net, parts, 30.0)
    sn = snap_facilities(net, fac, ["kindergarten"])["kindergarten"][0]
    pieces, lines = class_streets(net, sn, 400.0)
    inside, outside = land.of_class(pieces, lines, shapely.STRtree(lines))
    wholly = shapely.equals(inside, land.covered) & ~shapely.is_empty(inside)
    assert 10 <= wholly.sum() < parts.size  # both ways are taken
    table, spots = class_coverage(net, fac, radii, res, frontage_m=30.0)
    polys = catchments(net, fac, radii, mode="dissolve", frontage_m=30.0)
    ref = coverage(polys, res, network=net, frontage_m=30.0)
    ref_spots = blind_spots(polys, res, classes=["kindergarten"])
    for col in ("residential_m2", "covered_m2", "frontage_m2", "covered_share_of_frontage"):
        np.testing.assert_allclose(table[col], ref[col], rtol=1e-9, err_msg=col)
    assert spots["residential_id"].tolist() == ref_spots["residential_id"].tolist()
    np.testing.assert_allclose(spots["area_m2"], ref_spots["area_m2"], rtol=1e-9)
