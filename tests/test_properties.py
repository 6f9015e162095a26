"""Property-based tests (hypothesis) of the engine's vectorised building blocks."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString
from shapely.ops import substring

from siteplan.access.reach import union_intervals
from siteplan.io.crs import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from siteplan.network.linear import substrings

interval = st.tuples(st.integers(0, 3), st.integers(0, 2),
                     st.floats(0, 100, allow_nan=False), st.floats(0, 50, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(st.lists(interval, min_size=1, max_size=30))
def test_union_intervals_covers_exactly_the_union(items):
    group = np.array([i[0] for i in items])
    edge = np.array([i[1] for i in items])
    s = np.array([i[2] for i in items])
    t = s + np.array([i[3] for i in items])
    g, e, us, ut = union_intervals(group, edge, s, t)
    for key in set(zip(group.tolist(), edge.tolist(), strict=True)):
        mine = sorted((a, b) for gg, ee, a, b in zip(g, e, us, ut, strict=True)
                      if (gg, ee) == key)
        # Disjoint and ordered: a merged interval never touches the next one.
        assert all(b1 < a2 for (_, b1), (a2, _) in zip(mine, mine[1:], strict=False))
        # Same points covered as the input intervals: probe every end and midpoint.
        sel = (group == key[0]) & (edge == key[1])
        probes = np.concatenate([s[sel], t[sel], (s[sel] + t[sel]) / 2, [a for a, _ in mine],
                                 [b for _, b in mine]])
        for x in probes:
            inside_in = bool(((s[sel] <= x) & (x <= t[sel])).any())
            inside_out = any(a <= x <= b for a, b in mine)
            assert inside_in == inside_out


coords = st.lists(st.tuples(st.floats(-1000, 1000, allow_nan=False),
                            st.floats(-1000, 1000, allow_nan=False)),
                  min_size=2, max_size=8, unique=True)


@settings(max_examples=150, deadline=None)
@given(coords, st.floats(0, 1), st.floats(0, 1))
def test_substrings_match_shapely_substring(points, f0, f1):
    line = LineString(points)
    if line.length < 1e-3 or not shapely.is_simple(line) and len(points) > 8:
        return
    # Drop repeated vertices, as the network's edges have none.
    line = shapely.remove_repeated_points(line)
    lo, hi = sorted((f0 * line.length, f1 * line.length))
    got = substrings(np.array([line], dtype=object), np.array([0]), np.array([lo]),
                     np.array([hi]))[0]
    ref = substring(line, lo, hi)
    assert got.length == pytest.approx(hi - lo, abs=1e-6)
    assert shapely.hausdorff_distance(got, ref) < 1e-6


china = st.tuples(st.floats(74.0, 134.0), st.floats(19.0, 53.0))


@settings(max_examples=300, deadline=None)
@given(st.lists(china, min_size=1, max_size=20))
def test_gcj02_and_bd09_round_trips_under_2_m(points):
    lon, lat = np.array(points).T
    for forward, back in ((wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)):
        x, y = forward(lon, lat)
        # The offset is real (hundreds of metres) ...
        assert np.all(np.hypot(x - lon, y - lat) > 1e-4)
        bx, by = back(x, y)
        # ... and undone to well under 2 m (1e-5 degrees is about 1 m).
        metres = np.hypot((bx - lon) * np.cos(np.radians(lat)), by - lat) * 111_320
        assert metres.max() < 2.0
