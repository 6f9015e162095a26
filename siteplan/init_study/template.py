"""The commented study file a new city starts from (``siteplan init``).

:func:`study_toml` writes the TOML text of a study for what :mod:`siteplan.init_study.survey`
found: a class table and a criterion for every facility class present (the seed radii of
三(二)8 for kindergartens and schools, GB 50180-2018 life circles for the others), transport by
the mapped stops or by labelled proxies, the block-shape criteria and constraints of the
Taiyuan demo, and comments that say where each number comes from.  The weights are a starting
point, written in the file to be changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from siteplan.core.defaults import (
    GB50180_CIRCLES_M,
    GB50180_SOURCE,
    INIT_CLASS_CIRCLES,
    MAX_SNAP_M,
    SEARCH_LIMIT_M,
    SEED_RADII_M,
    SEED_SOURCE,
)
from siteplan.core.labels import CLASSES as CLASS_LABELS
from siteplan.init_study.survey import Survey


def toml_str(text: str) -> str:
    """Quote ``text`` as a TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


@dataclass(frozen=True)
class _Plan:
    """How one class is scored: criterion name, weight, transform (TOML) and its source."""

    criterion: str
    weight: float
    transform: str
    source: str
    kind: str = "distance"


_SEED = f"{SEED_SOURCE}"
_GB = GB50180_SOURCE
_PLANS: dict[str, _Plan] = {
    "kindergarten": _Plan("kindergarten_walk", 3, '{ type = "step", steps = [[300, 100], [500, 50]'
                          '], otherwise = 0 }', f"{_SEED} (300 m); {_GB} (500 m)"),
    "primary_school": _Plan("primary_school_walk", 3, '{ type = "step", steps = [[500, 100], '
                            '[1000, 50]], otherwise = 0 }', f"{_SEED} (500 m); {_GB} (1000 m)"),
    "middle_school": _Plan("middle_school_walk", 2,
                           '{ type = "linear", best = 1000, worst = 2000 }', f"{_SEED} (1000 m)"),
    "high_school": _Plan("high_school_walk", 1, '{ type = "linear", best = 1000, worst = 2500 }',
                         f"{_GB} (15-minute circle, 1000 m); assumption"),
    "hospital": _Plan("hospital_walk", 1.5, '{ type = "linear", best = 1000, worst = 3000 }',
                      f"{_GB} (15-minute circle, 1000 m)"),
    "clinic": _Plan("clinic_walk", 1, '{ type = "linear", best = 500, worst = 1500 }',
                    f"{_GB} (10-minute circle, 500 m)"),
    "elderly_care": _Plan("elderly_care_walk", 1, '{ type = "linear", best = 500, worst = 1500 }',
                          f"{_GB} (10-minute circle, 500 m)"),
    "park": _Plan("parks_nearby", 1, '{ type = "step", op = ">=", steps = [[2, 100], [1, 60]], '
                  "otherwise = 0 }", f"{_GB} (15-minute circle, 1000 m)", kind="count"),
    "bus_stop": _Plan("bus_walk", 1.5, '{ type = "linear", best = 300, worst = 800 }',
                      f"{_GB} (5-minute circle, 300 m)"),
    "metro_station": _Plan("metro_walk", 1, '{ type = "logistic", midpoint = 1000, '
                           "steepness = 0.005 }", f"{_GB} (15-minute circle, 1000 m)"),
}
# Proxies are scored like what they stand in for, and say so.
_PLANS["bus_corridor"] = _Plan("bus_corridor_walk", 1.5, _PLANS["bus_stop"].transform,
                               f"proxy for bus stops; {_GB} (300 m)")
_PLANS["metro_line"] = _Plan("metro_line_walk", 1, _PLANS["metro_station"].transform,
                             f"proxy for metro stations; {_GB} (1000 m)")

_PROXIES: dict[str, tuple[float, str, str, str, str]] = {
    "bus_corridor": (500.0, "10min", "Bus corridor (proxy)", "公交走廊 (代理)",
                     "PROXY: primary/secondary roads stand in for bus stops (too few mapped)."),
    "metro_line": (1000.0, "15min", "Metro line (proxy)", "地铁线路 (代理)",
                   "PROXY: open metro track stands in for stations (too few mapped)."),
}


def _class_table(cls: str, count: int) -> str:
    """Write the ``[classes.<cls>]`` table of a class the data has (``count`` facilities)."""
    if cls in SEED_RADII_M:
        return (f"[classes.{cls}]   # {count} in the data\nradius_m = {SEED_RADII_M[cls]:.1f}\n"
                f"source = {toml_str(SEED_SOURCE)}\n")
    if cls in _PROXIES:
        radius, circle, label, label_zh, text = _PROXIES[cls]
        return (f"[classes.{cls}]   # {count} proxy points\nradius_m = {radius:.1f}          "
                f"# {GB50180_SOURCE} {circle} circle applied to a proxy\n"
                f"label = {toml_str(label)}\nlabel_zh = {toml_str(label_zh)}\n"
                f"description = {toml_str(text)}\n"
                'source = "proxy: siteplan.facilities.proxies.transport_proxies"\n')
    circle = INIT_CLASS_CIRCLES[cls]
    return (f"[classes.{cls}]   # {count} in the data ({CLASS_LABELS[cls][1]})\n"
            f'life_circle = "{circle}"     # {GB50180_CIRCLES_M[circle]:g} m, {GB50180_SOURCE}\n')


def _criterion(cls: str) -> str:
    plan = _PLANS[cls]
    radius = "radius_m = 1000.0\n" if plan.kind == "count" else ""
    return (f'[[criteria]]\nname = "{plan.criterion}"\nkind = "{plan.kind}"\nclass = "{cls}"\n'
            f"{radius}weight = {plan.weight:g}\ntransform = {plan.transform}\n"
            f"source = {toml_str(plan.source)}\n")


_GEOMETRY = '''# 方正度 = area / minimum rotated rectangle: regular blocks lay out housing efficiently.
[[criteria]]
name = "block_shape"
kind = "geometry"
measure = "compactness"
weight = 1
transform = { type = "linear", best = 0.85, worst = 0.5 }
source = "assumption: site-planning practice"

# Ideal 2-10 ha (a 居住街坊 of GB 50180-2018 is 2-4 ha; a few together form a project).
[[criteria]]
name = "block_size"
kind = "geometry"
measure = "area_ha"
weight = 1
transform = { type = "ideal", low = 2, high = 10, zero_below = 1, zero_above = 30 }
source = "GB 50180-2018 (居住街坊 scale); assumption"
'''

_TAIL = '''[weights]
# Direct weights (above) are normalised to sum 1; method = "ahp" with a pairwise matrix instead.
method = "direct"

# A parcel is excluded (kept in the output, with the reason) when a constraint is true.
[[constraints]]
builtin = "unreachable"   # farther than max_snap_m from every walkable street

[[constraints]]
measure = "area_ha"
op = "<"
value = 1.0
reason_en = "smaller than 1 ha"
reason_zh = "面积小于1公顷"

# [programme] ratios default to 好房子 三(二)8 and the 2020 census (see the README).

[outputs]
folder = "outputs"        # relative to this file
top_n = 20
offline = true            # one self-contained HTML map that works without internet
'''


def study_toml(survey: Survey, *, name: str, source: str, far: float,
               facilities: bool = True) -> str:
    """Write the study file for a surveyed city.

    Parameters
    ----------
    survey
        What the data holds (:func:`siteplan.init_study.survey.survey_city`).
    name
        The study's name.
    source
        What the data was read from, for the header.
    far
        The FAR assumed for every block, for the comment on the parcels.
    facilities
        Whether ``osm.gpkg`` has a ``features`` layer (a line layer alone has none).

    Returns
    -------
    str
        The TOML text, with comments; the data files it names are ``osm.gpkg`` (layers
        ``lines`` and ``features``) and ``parcels.gpkg`` beside it.
    """
    classes = survey.scored_classes()
    proxy_points = {t.proxy: t.n_proxy for t in survey.transport}
    facility_line = ('facilities = { path = "osm.gpkg", layer = "features" }   # OSM facilities, '
                     "land use, water\n" if facilities else
                     "# facilities = \"facilities.gpkg\"  # none given: only proxies and the "
                     "blocks' shape are scored\n")
    # Comments end at a line break: text from the user or the file name stays on one line.
    said = " ".join(f"{name}: a study written by `siteplan init` from {source}.".split())
    head = f'''# {said}
#
# Runs as it is: siteplan run study.toml.  REPORT.md beside this file says what the data has
# and lacks.  Relative paths resolve against this file's folder.  Sources cited below:
# - {SEED_SOURCE}: the Shanxi 好房子 pilot seed, walking distance along streets to a
#   kindergarten <= 300 m, a primary school <= 500 m, a middle school <= 1000 m.
# - {GB50180_SOURCE}: 5-, 10- and 15-minute life circles of 300, 500 and 1000 m walking.

[study]
name = {toml_str(name)}
description = {toml_str(f"Street blocks of {source} ranked for new housing by walking access.")}

[inputs]
streets = {{ path = "osm.gpkg", layer = "lines" }}         # OSM ways: streets, rail, rivers
{facility_line}# rasters = {{ dem = "dem.tif" }}                  # e.g. a DEM for a slope criterion
# hazards = ["flood_zones.gpkg"]                 # polygons for the inside_hazard constraint

[inputs.parcels]
path = "parcels.gpkg"     # street blocks from `siteplan init` (an assumed FAR of {far:g})
layer = "parcels"
id_column = "parcel_id"
# A bureau's parcel layer replaces them, e.g. path = "地块.shp" with id_column = "地块编号".

[crs]
metric = "utm"            # analysis in the UTM zone of the data
coord_system = "wgs84"    # OSM is WGS84, not GCJ-02

[network]
max_snap_m = {MAX_SNAP_M:.1f}        # farther than this from a walkable street: unreachable
search_limit_m = {SEARCH_LIMIT_M:.1f}   # beyond this, distances are NaN (scored 0)
profile = "adult"         # 1.2 m/s walking speed
parcel_point = "representative"
facility_point = "nearest-boundary"   # school and hospital grounds: their edge on the street

# Facility classes found in the data.  Seed classes absent from the data keep their
# {SEED_SOURCE} radii and are reported as missing (REPORT.md).
'''
    tables = [_class_table(c, proxy_points.get(c) or survey.counts.get(c, 0)) for c in classes]
    criteria = [_criterion(c) for c in classes]
    return "\n".join([head, *tables,
                      "# Each criterion: raw value -> transform (0-100 rating) -> x normalised"
                      " weight -> points.\n# The weights are a starting point: change them.\n",
                      *criteria, _GEOMETRY, _TAIL])


__all__ = ["study_toml", "toml_str"]
