"""Detecting undeclared Chinese map offsets (GCJ-02, BD-09) in a facility layer.

Points copied from Amap, Tencent or Baidu are shifted by a smooth offset of several hundred
metres (about 560 m for GCJ-02 and 1350 m for BD-09 in Taiyuan; :mod:`siteplan.io.crs`).  Read as
WGS84 they look plausible, but every walking distance measured from them is wrong.  A wrong
alarm is as harmful: a correct layer re-read as GCJ-02 is 560 m off.  So :func:`check_offset`
recommends a conversion only on strong evidence and is otherwise *inconclusive*.

How.  Each reading of the layer (as given, converted from GCJ-02, from BD-09) is matched against
WGS84 references: OSM facilities of the same class (within 30 m), the grounds of OSM facilities
of any class (inside a polygon), with ``features`` also mapped land (inside any landuse /
amenity / building / leisure polygon), and streets (within 15 m).  What a *wrong* reading
matches by chance is measured on the spot: the same points moved by the candidate's own offset
turned through 30, 60 ... 330 degrees (control readings, wrong under either hypothesis).  A
candidate is recommended when, for some reference, (1) it matches far more points than the
controls (binomial tail at the controls' match rate, which bounds the Poisson-binomial tail,
Hoeffding 1956; quasi-binomial when the control counts are overdispersed; Bonferroni over
references and candidates at :data:`ALPHA`), (2) it matches more points than the reading as
given (one-sided sign test on the points where the two differ), and (3) no reference finds the
reading as given significant.  Nothing is recommended on fewer than 5 matches.

Why controls: a street is within 15 m of 25-30 % of points shifted 300-1300 m in Taiyuan, a
mapped polygon contains 20-35 %, whatever the direction, so "the GCJ-02 reading lands on more
streets" is no evidence by itself (the old rule warned on 22 % of 5-point true WGS84 layers).

Measured on the 59 Taiyuan school / hospital grounds (points at representative points
"inside", or moved to the nearest street point "gate"), 200 random subsets per n (59 = all, 1
run), facilities = the classified OSM facilities, streets = the OSM lines.  "kg": points labelled
kindergarten (OSM maps 2, so the same-class reference is empty); "+land": ``features`` = the raw
OSM polygons; "-own": the schools' and hospitals' own polygons removed from every reference (an
unmapped facility).  % of subsets: false warning on true WGS84 points / GCJ-02 layer named gcj02
/ BD-09 layer named bd09, for n = 5, 8, 20, 59.  The other candidate was never named.

===============================  =========  ===============  ===============
case                             false %    GCJ-02 found %   BD-09 found %
===============================  =========  ===============  ===============
inside, own class                0 0 0 0    90 100 100 100   83 100 100 100
inside, kg                       0 0 0 0    79 100 100 100   60 100 100 100
gate, kg                         0 0 0 0     2  70 100 100    7  67 100 100
inside, kg, +land                0 0 0 0    79 100 100 100   60 100 100 100
gate, kg, +land                  0 0 0 0     1  64 100 100    6  64 100 100
inside, kg, +land -own           0 0 0 0     0   0   0   0    0   0   0   0
gate, kg, +land -own             0 0 0 0     2  70 100 100    7  67 100 100
inside, kg, streets only         0 0 0 0     0   0   0   0    0   0   0   0
gate, kg, streets only           0 0 0 0     5  82 100 100    9  75 100 100
===============================  =========  ===============  ===============

The zeros of "-own" and "inside, streets only" are honest: a point inside an unmapped compound
is on no street and in no polygon in its true position, so nothing can tell the readings apart
(the old rule's warnings there were mostly wrong).  Mapped land adds no evidence in Taiyuan
(schools sit in no other polygon) and a wrong reading lands in it 20-25 % of the time.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree
from scipy.special import betainc

from siteplan.core.errors import SiteplanWarning
from siteplan.core.tags import tag_column
from siteplan.io.crs import (
    bd09_to_wgs84,
    gcj02_to_wgs84,
    metric_crs_for_bounds,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from siteplan.io.layers import is_polygonal

_Converter = Callable[[ArrayLike, ArrayLike], tuple[np.ndarray, np.ndarray]]
#: The readings tried besides the coordinates as given: name -> conversion to WGS84.
CANDIDATES: dict[str, _Converter] = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
#: With ``both_ways``, also the readings in which the *references* carry the offset: the
#: layer's points moved into GCJ-02/BD-09 land on them.
REFERENCE_CANDIDATES: dict[str, _Converter] = {"ref-gcj02": wgs84_to_gcj02,
                                               "ref-bd09": wgs84_to_bd09}
AS_GIVEN = "as given"

#: A point within this distance of a reference facility of its class matches it (the point
#: and the grounds of one school rarely differ by more; a 300-1300 m offset always does).
FACILITY_MATCH_M = 30.0
#: A point within this distance of a street centreline matches the streets (a gate or a kerb).
STREET_MATCH_M = 15.0
#: Fewer points than this are not judged at all.
MIN_POINTS = 5
#: A reading must match at least this many points to be called significant: a handful can
#: match anything by chance.
MIN_MATCHES = 5
#: Turns (degrees) of each candidate's offset giving the control readings.  30 degrees still
#: moves a point 2 * 560 * sin(15) = 290 m away from both the given and the converted position.
CONTROL_ANGLES_DEG = tuple(range(30, 360, 30))
#: Family-wise false-alarm level of the background test (Bonferroni over references x
#: candidates).  Small on purpose: a wrong recommendation puts every distance ~560 m off.
ALPHA = 1e-3
#: Level of the one-sided sign test "the candidate matches more points than as given".
SIGN_ALPHA = 0.05
#: Points along each outline with ``outline=True``, and how near a street each must be.  A
#: block's edges run along its streets' centrelines (a few metres off for wide roads; 20 m
#: holds an arterial's half-width); measured on the Taiyuan blocks, 97.6 % of outlines follow
#: the streets as given and 19-26 % after any 560 m shift.
OUTLINE_POINTS = 8
OUTLINE_MATCH_M = 20.0
#: Larger layers are judged on a fixed random sample of this many features (outlines: fewer,
#: each is OUTLINE_POINTS points).
MAX_FEATURES = 2000
MAX_OUTLINES = 500
#: OSM keys whose polygons count as mapped grounds.
GROUND_TAGS = ("landuse", "amenity", "building", "leisure")

_LABEL = {"gcj02": "GCJ-02 (Amap/Tencent/Google China)", "bd09": "BD-09 (Baidu)",
          "ref-gcj02": "GCJ-02 (Amap/Tencent/Google China)", "ref-bd09": "BD-09 (Baidu)"}
_ON = {"facilities": f"within {FACILITY_MATCH_M:g} m of a facility of the same class",
       "outline": f"with their outlines along a street (within {OUTLINE_MATCH_M:g} m)",
       "grounds": "inside the grounds of a mapped facility (any class)",
       "land": "inside a mapped landuse area, amenity, building or leisure ground",
       "streets": f"within {STREET_MATCH_M:g} m of a street"}


@dataclass
class Evidence:
    """How the readings of a layer match one reference.

    Attributes
    ----------
    matches
        Points matching the reference for each reading: ``"as given"``, ``"gcj02"``, ``"bd09"``.
    background
        Per-point match rate of the control readings (what a wrong reading matches by chance):
        for each candidate, from its own controls; for ``"as given"``, from all controls.
    p_value
        For each reading, the binomial tail probability of matching that many points at the
        background rate.
    sign_p
        For each candidate, the one-sided sign-test p-value of matching more points than the
        reading as given.
    """

    matches: dict[str, int] = field(default_factory=dict)
    background: dict[str, float] = field(default_factory=dict)
    p_value: dict[str, float] = field(default_factory=dict)
    sign_p: dict[str, float] = field(default_factory=dict)


@dataclass
class OffsetCheck:
    """What :func:`check_offset` found.

    Attributes
    ----------
    n_points
        Features of the layer that were compared.
    reference
        The reference that decided (``"facilities"``, ``"grounds"`` or ``"streets"``); when
        nothing did, the one with the most matches in any reading.
    matches
        ``evidence[reference].matches``.
    suggested
        ``"gcj02"`` or ``"bd09"`` when that reading fits significantly better; else None.
    verdict
        ``"gcj02"`` / ``"bd09"`` (= suggested), ``"wgs84"`` when the coordinates as given match
        some reference significantly and no conversion does, else ``"inconclusive"``.  With
        ``both_ways``, ``"ref-gcj02"`` / ``"ref-bd09"``: the references carry the offset.
    evidence
        :class:`Evidence` for each reference used.
    outline
        Whether the streets were matched by the features' outlines.
    """

    n_points: int
    reference: str
    matches: dict[str, int] = field(default_factory=dict)
    suggested: str | None = None
    verdict: str = "inconclusive"
    evidence: dict[str, Evidence] = field(default_factory=dict)
    outline: bool = False


def _binom_sf(k: ArrayLike, n: ArrayLike, p: ArrayLike) -> np.ndarray:
    """P(X >= k) for X ~ Binomial(n, p); 1 where k <= 0."""
    k, n, p = np.broadcast_arrays(np.asarray(k, float), np.asarray(n, float),
                                  np.asarray(p, float))
    out = np.ones(k.shape)
    ok = (k > 0) & (k <= n)
    out[ok] = betainc(k[ok], n[ok] - k[ok] + 1.0, p[ok])
    out[k > n] = 0.0
    return out


def _readings(lon: np.ndarray, lat: np.ndarray, to_metric: Transformer,
              candidates: dict[str, _Converter]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return the metric x, y (readings x points) of every reading of the points.

    The readings are: as given, each candidate, then each candidate's controls (the
    candidate's offset from the given point turned by each control angle).
    """
    gx, gy = to_metric.transform(lon, lat)
    names, xs, ys = [AS_GIVEN], [gx], [gy]
    for name, convert in candidates.items():
        cx, cy = to_metric.transform(*convert(lon, lat))
        names.append(name)
        xs.append(cx)
        ys.append(cy)
    turn = np.radians(np.asarray(CONTROL_ANGLES_DEG, dtype=float))[:, None]
    cos, sin = np.cos(turn), np.sin(turn)
    for i, name in enumerate(candidates, start=1):
        dx, dy = xs[i] - gx, ys[i] - gy
        xs.extend(gx + cos * dx - sin * dy)
        ys.extend(gy + sin * dx + cos * dy)
        names.extend([f"control {name}"] * len(CONTROL_ANGLES_DEG))
    return names, np.asarray(xs), np.asarray(ys)


def _hits(x: np.ndarray, y: np.ndarray, geoms: np.ndarray, tol_m: float) -> np.ndarray:
    """Tell which points are within ``tol_m`` of (or, for 0, inside) some reference geometry.

    The boolean result is shaped like ``x``; one tree query serves all readings at once.
    """
    points = shapely.points(x.ravel(), y.ravel())
    tree = shapely.STRtree(geoms)
    if tol_m > 0:
        idx, _ = tree.query(points, predicate="dwithin", distance=tol_m)
    else:
        idx, _ = tree.query(points, predicate="intersects")
    hit = np.zeros(points.shape, dtype=bool)
    hit[idx] = True
    return hit.reshape(x.shape)


def _outline_hits(x: np.ndarray, y: np.ndarray, samples: np.ndarray, geoms: np.ndarray,
                  tol_m: float) -> np.ndarray:
    """Tell which outlines follow the reference lines in each reading.

    ``samples`` are ``(n, K, 2)`` points along each feature's outline as given; each reading
    moves them by that reading's offset of the feature's point (``x``, ``y``: readings x n).
    An outline *follows* the lines when at least half its points are within ``tol_m`` of one
    (a street block's edges run along its streets; the same block 300-1300 m away rarely does).
    "Within" is measured to the lines' vertices, densified every 5 m (so within 19.8-20 m for
    20 m): one KD-tree query for all readings, not a geometry test per point.
    """
    dx, dy = x - x[:1], y - y[:1]
    px = samples[None, :, :, 0] + dx[:, :, None]
    py = samples[None, :, :, 1] + dy[:, :, None]
    xy = np.column_stack([px.ravel(), py.ravel()])
    # Only the lines within tol_m of some moved point can hold a vertex within tol_m of one:
    # densifying a city's streets would cost seconds and gigabytes for a 500-outline sample.
    _, near = shapely.STRtree(geoms).query(shapely.points(xy), predicate="dwithin",
                                           distance=tol_m)
    if not near.size:
        return np.zeros(px.shape[:2], dtype=bool)
    dense = shapely.segmentize(geoms[np.unique(near)], 5.0)
    tree = cKDTree(shapely.get_coordinates(dense), balanced_tree=False, compact_nodes=False)
    dist, _ = tree.query(xy, distance_upper_bound=tol_m)
    near = np.isfinite(dist).reshape(px.shape)
    follows: np.ndarray = near.mean(axis=2) >= 0.5
    return follows


def _evidence(names: list[str], hit: np.ndarray, candidates: dict[str, _Converter]
              ) -> Evidence:
    n = hit.shape[1]
    label = np.asarray(names)
    ev = Evidence()
    is_control = np.char.startswith(label, "control ")
    for name in [AS_GIVEN, *candidates]:
        row = hit[names.index(name)]
        controls = hit[is_control if name == AS_GIVEN else label == f"control {name}"]
        # One pseudo-match and one pseudo-miss keep the rate off 0 when no control matches.
        rate = (controls.sum() + 1.0) / (controls.size + 2.0)
        # Points near one large polygon or street all hit or miss together in some directions:
        # when the control counts vary more than binomially, shrink n and the count alike
        # (quasi-binomial), which widens the tail accordingly.
        spread = controls.sum(axis=1).var(ddof=1) / (n * rate * (1.0 - rate))
        phi = max(1.0, float(spread))
        ev.matches[name] = int(row.sum())
        ev.background[name] = float(rate)
        ev.p_value[name] = float(_binom_sf(ev.matches[name] / phi, n / phi, rate)[()])
        if name != AS_GIVEN:
            given = hit[0]
            better, worse = int((row & ~given).sum()), int((given & ~row).sum())
            ev.sign_p[name] = float(_binom_sf(better, better + worse, 0.5)[()])
    return ev


def _significant(ev: Evidence, name: str, level: float) -> bool:
    return ev.matches[name] >= MIN_MATCHES and ev.p_value[name] < level


def _decide(evidence: dict[str, Evidence], n: int,
            candidates: dict[str, _Converter]) -> OffsetCheck:
    level = ALPHA / (len(evidence) * len(candidates))
    given_ok = [r for r, ev in evidence.items() if _significant(ev, AS_GIVEN, level)]
    found = [(ev.p_value[c], r, c) for r, ev in evidence.items() for c in candidates
             if _significant(ev, c, level) and ev.sign_p[c] < SIGN_ALPHA]
    most = max(evidence, key=lambda r: max(evidence[r].matches.values()))
    check = OffsetCheck(n_points=n, reference=most, matches=evidence[most].matches,
                        evidence=evidence)
    if found and not given_ok and len({c for _, _, c in found}) == 1:
        _, ref, cand = min(found)
        check.reference, check.matches = ref, evidence[ref].matches
        check.suggested = check.verdict = cand
    elif given_ok and not found:
        check.verdict = "wgs84"
        check.reference, check.matches = given_ok[0], evidence[given_ok[0]].matches
    return check


def check_offset(
    layer: gpd.GeoDataFrame,
    *,
    facilities: gpd.GeoDataFrame | None = None,
    streets: Any = None,
    features: gpd.GeoDataFrame | None = None,
    where: str = "facility layer",
    warn: bool = True,
    both_ways: bool = False,
    outline: bool = False,
) -> OffsetCheck | None:
    """Check whether a lon/lat layer carries an undeclared GCJ-02 or BD-09 offset.

    Parameters
    ----------
    layer
        The layer as read (``class`` column optional), in a geographic CRS.  Features are
        represented by a point inside (or on) them.
    facilities
        Reference facilities in WGS84-aligned data (e.g. the classified OSM facilities), any
        CRS.  Those of the layer's classes (when it has a ``class`` column) are matched within
        :data:`FACILITY_MATCH_M`; without ``features``, the polygons of every class are the
        mapped grounds.
    streets
        Street lines (GeoDataFrame/GeoSeries, any CRS, or a :class:`~siteplan.network.graph.Network`);
        of a frame with a ``highway`` tag, only the highways.
    features
        Raw OSM-like features, any CRS: their polygons tagged with one of :data:`GROUND_TAGS`
        (all polygons when none of these tags exists) are the mapped grounds.
    where
        The layer's name in the warning.
    warn
        Issue a :class:`~siteplan.core.errors.SiteplanWarning` when an offset is found.
    both_ways
        Also try the readings in which the *references* carry the offset
        (:data:`REFERENCE_CANDIDATES`: ``"ref-gcj02"``, ``"ref-bd09"``), for a layer checked
        against streets that may be the shifted ones.
    outline
        Match the streets by the features' outlines (:data:`OUTLINE_POINTS` points along each;
        it follows the streets when half of them are within :data:`OUTLINE_MATCH_M` of one):
        for parcels, whose edges run along their streets while a point inside is on none.

    Returns
    -------
    OffsetCheck or None
        None when the layer cannot be judged: projected CRS, outside China, fewer than
        :data:`MIN_POINTS` features, or no reference.  Layers of more than
        :data:`MAX_FEATURES` features (:data:`MAX_OUTLINES` with ``outline``) are judged on a
        fixed random sample of that many.
    """
    if layer.crs is None or not CRS.from_user_input(layer.crs).is_geographic:
        return None
    geoms = np.asarray(layer.geometry.values, dtype=object)
    rows = judged_rows(geoms, outline=outline)
    if rows.size < MIN_POINTS:
        return None
    points = shapely.point_on_surface(geoms[rows])
    lon, lat = shapely.get_x(points), shapely.get_y(points)
    if out_of_china(lon, lat).mean() > 0.5:
        return None  # the offsets exist only inside China
    metric = metric_crs_for_bounds((lon.min(), lat.min(), lon.max(), lat.max()))
    classes = (layer["class"].iloc[rows] if "class" in layer.columns else None)
    references = _references(facilities, streets, features, classes, metric)
    if not references:
        return None
    candidates = {**CANDIDATES, **(REFERENCE_CANDIDATES if both_ways else {})}
    names, x, y = _readings(lon, lat, Transformer.from_crs(4326, metric, always_xy=True),
                            candidates)
    samples = _outline_samples(geoms[rows], layer.crs, metric) if outline else None
    evidence = {}
    for ref, (g, tol) in references.items():
        hit = (_outline_hits(x, y, samples, g, OUTLINE_MATCH_M)
               if samples is not None and ref == "streets" else _hits(x, y, g, tol))
        evidence[ref] = _evidence(names, hit, candidates)
    check = _decide(evidence, len(lon), candidates)
    check.outline = samples is not None
    if check.suggested is not None and warn:
        _warn(check, where)
    return check


def judged_rows(geoms: np.ndarray, *, outline: bool = False) -> np.ndarray:
    """Return the rows :func:`check_offset` judges: every non-empty geometry, or a sample.

    Above :data:`MAX_FEATURES` (:data:`MAX_OUTLINES` with ``outline``) geometries, a fixed
    random sample of that many, in row order.  A layer cut to these rows first is judged the
    same (its own rows are then all taken), so a caller can reproject only them.
    """
    keep = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    rows = np.flatnonzero(keep)
    cap = MAX_OUTLINES if outline else MAX_FEATURES
    if rows.size > cap:  # plenty for the tests; bounded time on a city of parcels
        rows = np.sort(np.random.default_rng(0).choice(rows, cap, replace=False))
    return rows


def _outline_samples(geoms: np.ndarray, crs: Any, metric: CRS) -> np.ndarray:
    """``(n, OUTLINE_POINTS, 2)`` points evenly along each feature's outline, metric CRS."""
    projected = np.asarray(gpd.GeoSeries(geoms, crs=crs).to_crs(metric).values, dtype=object)
    rings = shapely.boundary(projected)
    rings = np.where(shapely.is_empty(rings), projected, rings)  # lines are their own outline
    k = OUTLINE_POINTS
    at = shapely.line_interpolate_point(np.repeat(rings, k), np.tile(np.arange(k) / k, len(rings)),
                                        normalized=True)
    samples: np.ndarray = shapely.get_coordinates(at).reshape(len(rings), k, 2)
    return samples


def _references(facilities: gpd.GeoDataFrame | None, streets: Any,
                features: gpd.GeoDataFrame | None, classes: Any,
                metric: CRS) -> dict[str, tuple[np.ndarray, float]]:
    """Return the reference geometries in the metric CRS and their match distance, by name."""
    out: dict[str, tuple[np.ndarray, float]] = {}
    if facilities is not None and len(facilities) and classes is not None \
            and "class" in facilities.columns:
        same = facilities[facilities["class"].isin(set(classes.dropna()))]
        if len(same):
            out["facilities"] = (_metric(same, metric), FACILITY_MATCH_M)
    if facilities is not None and len(facilities):
        grounds = facilities[is_polygonal(facilities.geometry.values)]
        if len(grounds):
            out["grounds"] = (_metric(grounds, metric), 0.0)
    land = _land(features)
    if land is not None and len(land):
        out["land"] = (_metric(land, metric), 0.0)
    if streets is not None:
        lines = _street_geoms(streets, metric)
        if len(lines):
            out["streets"] = (lines, STREET_MATCH_M)
    return out


def _land(frame: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """Return the polygons of the raw features tagged with one of :data:`GROUND_TAGS`.

    All polygons count when none of these tags exists.
    """
    if frame is None or not len(frame):
        return None
    polygons = is_polygonal(frame.geometry.values)
    keys = [k for k in GROUND_TAGS if k in frame.columns or "other_tags" in frame.columns]
    if not keys:
        return frame[polygons]
    tagged = np.zeros(len(frame), dtype=bool)
    for key in keys:
        tagged |= tag_column(frame, key).notna().to_numpy(bool)
    return frame[polygons & tagged]


def _metric(frame: gpd.GeoDataFrame, metric: CRS) -> np.ndarray:
    return np.asarray(frame.geometry.to_crs(metric).values, dtype=object)


def _street_geoms(streets: Any, metric: CRS) -> np.ndarray:
    if hasattr(streets, "edge_geometry"):  # a Network: edges in its own metric CRS
        series = gpd.GeoSeries(streets.edge_geometry, crs=streets.crs)
    elif isinstance(streets, gpd.GeoDataFrame):
        highway = tag_column(streets, "highway").notna().to_numpy(bool)
        series = streets.geometry[highway] if highway.any() else streets.geometry
    else:
        series = gpd.GeoSeries(streets)
    return np.asarray(series.to_crs(metric).values, dtype=object)


def offset_message(check: OffsetCheck, where: str) -> tuple[str, str]:
    """Say what :func:`check_offset` found and how to fix it.

    Parameters
    ----------
    check
        A check with a ``suggested`` reading.
    where
        The layer's name (its file).

    Returns
    -------
    what, fix
        The finding with its evidence, and the setting that fixes it: ``coord_system`` on the
        layer for ``"gcj02"``/``"bd09"``, on the street layer (or a check of this layer) for
        ``"ref-gcj02"``/``"ref-bd09"``.
    """
    s = check.suggested
    assert s is not None
    system = s.removeprefix("ref-")
    ev = check.evidence[check.reference]
    n = check.n_points
    on = _ON["outline"] if check.outline and check.reference == "streets" else _ON[
        check.reference]
    own = s == system
    items = "features" if check.outline and check.reference == "streets" else "points"
    evidence = (f"{ev.matches[s]} of {n} {items} lie {on} in the reference data after "
                f"converting {'from' if own else 'into'} {system}, against "
                f"{ev.matches[AS_GIVEN]} as given and {ev.background[s] * n:.1f} expected by "
                f"chance (p = {ev.p_value[s]:.1g})")
    if own:
        what = (f"{where}: the layer looks like {_LABEL[s]} coordinates, not WGS84: {evidence}. "
                "Distances measured from it would be off by several hundred metres.")
        fix = (f'Set coord_system = "{system}" on its [[inputs.layers]] entry (or [crs] '
               "coord_system for every input).")
    else:
        what = (f"{where}: the reference data (the streets and OSM features) look like "
                f"{_LABEL[s]} coordinates next to this layer: {evidence}. Distances between "
                "them would be off by several hundred metres.")
        fix = (f'if the streets were digitised on a Chinese basemap, set coord_system = '
               f'"{system}" on [inputs.streets]; if this layer was converted from {system} '
               "already, set its coord_system back to \"wgs84\".")
    return what, fix


def _warn(check: OffsetCheck, where: str) -> None:
    what, fix = offset_message(check, where)
    warnings.warn(f"{what} {fix}", SiteplanWarning, stacklevel=3)


__all__ = ["ALPHA", "CANDIDATES", "CONTROL_ANGLES_DEG", "FACILITY_MATCH_M", "GROUND_TAGS",
           "MAX_FEATURES", "MAX_OUTLINES", "MIN_MATCHES", "MIN_POINTS", "OUTLINE_MATCH_M", "OUTLINE_POINTS",
           "REFERENCE_CANDIDATES", "SIGN_ALPHA", "STREET_MATCH_M", "Evidence", "OffsetCheck",
           "check_offset", "offset_message"]
