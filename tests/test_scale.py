"""Shortcuts taken for a metropolitan study give the answers of the long way (issue 18).

Each shortcut (a bounded set of streets, a sample reprojected instead of the whole layer) is
checked against the computation it replaces, on the bundled Taiyuan data.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from conftest import DATA
from scipy.spatial import cKDTree

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
