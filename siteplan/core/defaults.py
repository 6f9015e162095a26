"""Every default and standard siteplan applies, with its source: one place to read and change.

Stages take their defaults from here, and so does the study model, so a study file and a direct
call of a function agree.  A value that carries planning meaning names its source next to it
(the seed clause 三(二)8 of the Shanxi 好房子 pilot, GB 50180-2018, the 2020 census); the others
are engineering choices, explained where they are made.
"""

from __future__ import annotations

from typing import Literal

# ------------------------------------------------------------------ service radii and circles

#: Seed clause 三(二)8 of the 好房子 pilot.
SEED_CLAUSE = "三(二)8"
#: How a default taken from the seed clause names its source.
SEED_SOURCE = f"好房子 {SEED_CLAUSE}"
#: Seed clause 三(二)8: walking distance along streets (m) within which a new housing project
#: must have each facility.
SEED_RADII_M: dict[str, float] = {
    "kindergarten": 300.0,
    "primary_school": 500.0,
    "middle_school": 1000.0,
}

#: GB 50180-2018 城市居住区规划设计标准, 表 3.0.4 (居住区分级控制规模): walking distance of the
#: 5-, 10- and 15-minute life circles.  The 15-minute circle is 800-1000 m in the standard; the
#: pilot uses its upper bound.
GB50180_CIRCLES_M: dict[str, float] = {"5min": 300.0, "10min": 500.0, "15min": 1000.0}
GB50180_SOURCE = "GB 50180-2018 表3.0.4"

#: Largest radius a study may set (m): a guard against kilometres typed as metres' opposite.
MAX_RADIUS_M = 50_000.0

# ------------------------------------------------------------------------- walking and network

#: Walking speeds (m/s): an adult, and the elderly profile used for elderly-care access.
WALK_SPEED_MPS = 1.2
ELDERLY_SPEED_MPS = 0.8

#: Farthest a parcel or facility may be from the walking network (m) and still reach it by a
#: straight access leg; farther features are reported as unreachable (NaN), never snapped to a
#: far street.
MAX_SNAP_M = 200.0
#: Longest walking distance any search follows (m); distances beyond are NaN.
SEARCH_LIMIT_M = 3000.0

# -------------------------------------------------------------------------- catchments, coverage

#: Street-frontage width (m) of the catchment polygons: the reached streets buffered by it, so
#: the land along them (a typical Chinese residential block's street-facing row of buildings).
#: Not a service area in ArcGIS's sense (land between reached streets, trimmed 100 m from them
#: by default): the land share it gives (``covered_land_share_frontage``) is the secondary
#: coverage measure; who is served is measured on units (siteplan.access.served).
FRONTAGE_M = 30.0
#: Blind spots smaller than this (m²) are slivers between buffers, not places.
MIN_BLIND_SPOT_M2 = 100.0

# ----------------------------------------------------------------------- served units, entrances

#: A residential unit (小区, building, parcel) without mapped entrances gets one entrance per
#: this much perimeter (m), each at the point of its stretch of boundary nearest a walkable
#: street.  Assumption: a 居住街坊 of GB 50180-2018 (2-4 ha, sides of 150-250 m) has about one
#: gate per side; a small estate gets one, a large one several.
ENTRANCE_SPACING_M = 250.0
#: Most boundary entrances one unit gets (a whole district mapped as one polygon is not one
#: estate, and its served state is then read with care).
MAX_ENTRANCES = 16
#: A mapped entrance (``entrance=*``, ``barrier=gate``...) belongs to a unit when it lies this
#: close (m) to the unit's boundary: gates sit on the fence, landuse outlines are drawn to
#: within a few metres of it.
ENTRANCE_TOLERANCE_M = 15.0
#: Floor-area ratio assumed for existing residential land when estimating residents (area x
#: FAR / dwelling size x persons per household), where the layer has no population or
#: household field.  Assumption: a mid-rise urban 小区 of 1990-2020; GB 50180-2018 表4.0.1
#: gives the permitted range by climate zone and height (set ``[coverage] residential_far``
#: for the city).
RESIDENTIAL_FAR = 2.0
#: Building tags counted as dwellings (buildings tagged ``yes`` count inside residential land).
RESIDENTIAL_BUILDINGS: tuple[str, ...] = (
    "residential", "apartments", "house", "detached", "semidetached_house", "terrace",
    "dormitory", "bungalow")

# ----------------------------------------------------------------------------------- facilities

#: Same-name facilities of these classes closer than the distance (m) are one facility.  OSM
#: maps a metro station as one stop position per track or line (Beijing 2017: two nodes per
#: station, 4-31 m apart) or as its entrance buildings (Taiyuan: 府西街（A2出口）, 府西街（C出口）,
#: 府西街（D出口）); counting each would inflate the station counts.
MERGE_SAME_NAME_M: dict[str, float] = {"metro_station": 500.0}

# ------------------------------------------------------------------------------------- parcels

AreaUnit = Literal["m2", "ha", "mu"]
#: Square metres per unit of a declared area: 公顷 (hectare) = 10 000 m², 亩 (mu) = 10 000/15 m².
AREA_UNIT_M2: dict[str, float] = {"m2": 1.0, "ha": 10_000.0, "mu": 10_000.0 / 15.0}

# ----------------------------------------------------------------------------------- programme

#: 2020 (seventh) national census average household size.
CENSUS_SOURCE = "2020 census (第七次全国人口普查): 2.62 persons per household"
#: Where each programme rule comes from.
PROGRAMME_CLAUSES: dict[str, str] = {
    "childcare": f"{SEED_SOURCE} (托育)",
    "elderly": f"{SEED_SOURCE} (养老服务设施用地)",
    "parking": f"{SEED_SOURCE} (停车及充电)",
    "property_service": f"{SEED_SOURCE} (物业服务用房)",
}
#: The seed's per-project ratios (clause 三(二)8) and the estimates behind them.
PROGRAMME: dict[str, float] = {
    "dwelling_size_m2": 100.0,  # assumption: a typical new urban three-bedroom flat, GFA
    "persons_per_household": 2.62,  # CENSUS_SOURCE
    "childcare_places_per_1000": 10.0,  # ≥ 10 places per 1000 residents
    "childcare_m2_per_place": 8.0,  # ≥ 8 m² per place
    "elderly_land_m2_per_resident": 0.1,  # ≥ 0.1 m² elderly-care land per resident
    "parking_per_household": 1.2,  # ≥ 1.2 spaces per household
    "parking_bay_width_m": 2.5,  # bays ≥ 2.5 m x 5.3 m
    "parking_bay_length_m": 5.3,
    "charging_share": 1.0,  # 100 % charging provision
    "property_service_share": 0.03,  # ≥ 3 % of GFA as property-service rooms
}

#: Supply norms for places per 1,000 residents within a class's radius.  The seed's ≥ 10
#: childcare places (托位) per 1,000 residents (三(二)8) is applied to kindergartens, which
#: carry the 托班 places where there is no separate childcare layer.
SUPPLY_NORMS_PER_1000: dict[str, float] = {
    "kindergarten": PROGRAMME["childcare_places_per_1000"],
}
