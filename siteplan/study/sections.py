"""The tables of a study file other than the criteria, weights and constraints.

They are ``[study]``, ``[inputs]``, ``[crs]``, ``[network]``, ``[classes.<name>]``,
``[catchments]``, ``[coverage]``, ``[programme]``, ``[compliance]`` and ``[outputs]``.

Defaults that carry planning meaning name their source next to them: the seed clause 三(二)8 of
the Shanxi 好房子 pilot (programme ratios, compliance radii) and GB 50180-2018 (5/10/15-minute
life circles: 300/500/1000 m walking).  Defaults of the engine (snap distance, search limit,
walking speeds, catchment frontage, programme ratios) are those of
:mod:`siteplan.core.defaults`, so a study file and a direct call agree.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pyproj import CRS
from pyproj.exceptions import CRSError

from siteplan.core.defaults import (
    CATCHMENT_POLYGONS_MAX,
    COINCIDENT_NODES,
    COINCIDENT_TOLERANCE_M,
    ELDERLY_SPEED_MPS,
    ENTRANCE_SPACING_M,
    FRONTAGE_M,
    GB50180_CIRCLES_M,
    GB50180_SOURCE,
    MAX_SNAP_M,
    PROGRAMME,
    RESIDENTIAL_FAR,
    SEARCH_LIMIT_M,
    SEED_RADII_M,
    SUPPLY_NORMS_PER_1000,
    WALK_PROFILE,
    WALK_SPEED_MPS,
    AreaUnit,
    CoincidentNodes,
    WalkProfile,
)
from siteplan.study.fields import (
    ConfigModel,
    CoordSystem,
    DeclaredCRS,
    Encoding,
    Name,
    PathStr,
    Radius,
    WalkRadius,
    bad_value,
    is_database_url,
)


class LayerSource(ConfigModel):
    """One input layer: a path (or PostGIS URL) and how to read it.

    Written as a plain path (``streets = "roads.gpkg"``) or as a table that overrides the
    study's ``[crs]`` settings for this layer only::

        [inputs.streets]
        path = "roads.shp"
        encoding = "gbk"        # this Shapefile only; the other layers keep their own
        crs = "EPSG:4547"       # when the file has no .prj

    Unset settings fall back to ``[crs]`` (``input``, ``encoding``, ``coord_system``); an
    unset encoding trusts the file (a Shapefile's ``.cpg``, UTF-8 for GeoJSON/GeoPackage).
    """

    path: PathStr
    layer: str | None = None
    encoding: Encoding | None = None
    coord_system: CoordSystem | None = None
    # The layer's CRS when the file does not say (a Shapefile without .prj, a CSV).
    crs: DeclaredCRS | None = None
    lon_column: str | None = None
    lat_column: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_path(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path


class StudySection(ConfigModel):
    """``[study]``: what this study is."""

    name: str = Field(min_length=1)
    description: str = ""
    boundary: LayerSource | None = None
    # "gb50180": every class counts facilities within the 5/10/15-minute circles.
    life_circle: Literal["gb50180"] | None = None


class FacilityLayer(LayerSource):
    """One extra municipal facility table in ``[[inputs.layers]]``."""

    class_: Name | None = Field(default=None, alias="class")
    class_column: str | None = None
    name_column: str | None = None
    id_column: str | None = None
    # Places (学位, 托位, beds) per facility, for the places per 1,000 residents.
    capacity_column: str | None = None

    @model_validator(mode="after")
    def _one_class(self) -> FacilityLayer:
        if (self.class_ is None) == (self.class_column is None):
            raise bad_value("a facility layer needs exactly one of class or class_column",
                            'give class = "hospital" (whole layer) or class_column = "类别".')
        return self


class ParcelFields(ConfigModel):
    """Source column names of the parcel attributes (defaults: common Chinese field names)."""

    code: str = "地块编号"
    land_use: str = "用地性质"
    area: str = "面积"
    far: str = "容积率"
    clean_land: str = "净地"
    idle_recovered: str = "闲置收回"


class ParcelInput(LayerSource):
    """``[inputs.parcels]``: the candidate land parcels.

    ``area_unit`` is the unit of the area field (``fields.area``, default 面积); areas become
    ``area_m2`` and are checked against the outlines' own areas
    (:func:`siteplan.parcels.load.check_declared_area`).
    """

    id_column: str = Field(default="parcel_id", min_length=1)
    fields: ParcelFields = Field(default_factory=lambda: ParcelFields())
    # Unit of the area field (面积): "m2", "ha" (公顷, 10 000 m²) or "mu" (亩, 10 000/15 m²).
    area_unit: AreaUnit = "m2"

    def aliases(self) -> dict[str, str]:
        """``{source column: siteplan column}`` for the declared attribute field names."""
        target = {"code": "parcel_code", "land_use": "landuse_code", "area": "area_m2",
                  "far": "far", "clean_land": "clean_land", "idle_recovered": "idle_recovered"}
        return {getattr(self.fields, key): col for key, col in target.items()}


class Inputs(ConfigModel):
    """``[inputs]``: data sources.  ``streets`` may be a file or a PostGIS URL."""

    streets: LayerSource | None = None
    facilities: LayerSource | None = None
    layers: list[FacilityLayer] = Field(default_factory=list)
    parcels: ParcelInput | None = None
    residential: LayerSource | None = None
    # Points where residents enter their estates (小区出入口); OSM entrances and gates otherwise.
    entrances: LayerSource | None = None
    rasters: dict[Name, PathStr] = Field(default_factory=dict)
    hazards: list[LayerSource] = Field(default_factory=list)

    def paths(self) -> list[str]:
        """Every local file the study reads (database URLs excluded)."""
        sources: list[LayerSource | None] = [self.streets, self.facilities, self.residential,
                                             self.entrances, self.parcels, *self.layers,
                                             *self.hazards]
        out = [s.path for s in sources if s is not None] + list(self.rasters.values())
        return [p for p in out if not is_database_url(p)]


class CRSSection(ConfigModel):
    """``[crs]``: declared input CRS, analysis CRS, Chinese coordinate offsets, encoding."""

    input: DeclaredCRS | None = None
    metric: str | int = "utm"
    coord_system: CoordSystem = "wgs84"
    # Every layer's encoding, where the layer does not set its own.  None (the default) trusts
    # each file: a Shapefile's .cpg, UTF-8 for GeoJSON and GeoPackage.
    encoding: Encoding | None = None
    # A layer that looks like undeclared GCJ-02/BD-09 next to the others stops the run ("stop",
    # the default: every distance from it would be several hundred metres off); "warn" lets
    # the run go on with a warning.
    offset_check: Literal["stop", "warn"] = "stop"


    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str | int) -> str | int:
        if v in ("utm", "cgcs2000"):
            return v
        try:
            crs = CRS.from_user_input(v)
        except CRSError:
            raise bad_value(f"{v!r} is neither utm, cgcs2000 nor a CRS pyproj knows",
                            'use "utm", "cgcs2000" or an explicit projected CRS such as '
                            '"EPSG:4547".') from None
        unit = crs.axis_info[0].unit_name if crs.axis_info else ""
        if not crs.is_projected or unit not in ("metre", "meter"):
            raise bad_value(f"{v!r} is not a projected CRS in metres",
                            'distances need metres: use "utm", "cgcs2000" or e.g. "EPSG:4547".')
        return v


class NetworkSection(ConfigModel):
    """``[network]``: how the walking network is built and searched."""

    snap_tolerance_m: float = Field(default=0.0, ge=0, le=50)
    max_snap_m: Radius = MAX_SNAP_M
    search_limit_m: Radius = SEARCH_LIMIT_M
    # adult 1.2 m/s, elderly 0.8 m/s (the pilot's walking speeds; override with walk_speed_mps).
    profile: Literal["adult", "elderly"] = "adult"
    walk_speed_mps: float | None = Field(default=None, gt=0, le=3)
    parcel_point: Literal["representative", "centroid"] = "representative"
    facility_point: Literal["representative", "nearest-boundary"] = "representative"
    # Replaces the highway values that are not walkable (None: the osmnx walk filter's).
    exclude_highway: list[str] | None = None
    keep_largest: bool = True
    # Which streets are walkable: "china-walk" (osmnx's walk filter without elevated and
    # expressway carriageways, README "Walking profile") or "osmnx-walk" (osmnx's alone).
    walk_profile: WalkProfile = WALK_PROFILE
    # Distinct street nodes at one position: "merge" those at the same level (layer, bridge,
    # tunnel), or "keep" pure node-id topology; positions within coincident_tolerance_m are one.
    coincident_nodes: CoincidentNodes = COINCIDENT_NODES
    coincident_tolerance_m: float = Field(default=COINCIDENT_TOLERANCE_M, ge=0, le=1)

    @field_validator("profile", mode="before")
    @classmethod
    def _speed_profile(cls, v: Any) -> Any:
        if v in ("china-walk", "osmnx-walk"):
            raise bad_value(f"profile = {v!r}: profile is the walking speed (adult, elderly)",
                            f'the street filter is walk_profile = "{v}".')
        return v

    @property
    def speed_mps(self) -> float:
        """Walking speed in metres per second (explicit value, else the profile's)."""
        if self.walk_speed_mps is not None:
            return self.walk_speed_mps
        return ELDERLY_SPEED_MPS if self.profile == "elderly" else WALK_SPEED_MPS


class FacilityClass(ConfigModel):
    """``[classes.<name>]``: one facility class's service radius and count radii."""

    radius_m: WalkRadius | None = None
    life_circle: Literal["5min", "10min", "15min"] | None = None
    count_radii_m: list[WalkRadius] | None = None
    label: str | None = None
    label_zh: str | None = None
    description: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _circle(self) -> FacilityClass:
        if self.life_circle is not None:
            if self.radius_m is not None and self.radius_m != GB50180_CIRCLES_M[self.life_circle]:
                raise bad_value(
                    f"radius_m = {self.radius_m:g} contradicts life_circle = "
                    f"{self.life_circle!r} ({GB50180_CIRCLES_M[self.life_circle]:g} m)",
                    "give either radius_m or life_circle, not both.",
                )
            self.radius_m = GB50180_CIRCLES_M[self.life_circle]
            if not self.source:
                self.source = GB50180_SOURCE
        return self


class Catchments(ConfigModel):
    """``[catchments]``: how service areas are drawn."""

    frontage_m: Radius = FRONTAGE_M
    mode: Literal["overlap", "dissolve", "split", "rings"] = "overlap"
    # Above this many facilities a class's catchment is the streets it reaches (lines).
    max_polygons: int = Field(default=CATCHMENT_POLYGONS_MAX, ge=0)
    # The GB 50180 life circles: 300, 500, 1000 m.
    rings_m: list[WalkRadius] = Field(default_factory=lambda: list(GB50180_CIRCLES_M.values()))

    @field_validator("rings_m")
    @classmethod
    def _ascending(cls, v: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise bad_value(f"ring cutoffs {v} are not strictly increasing",
                            "list them from the smallest to the largest, e.g. [300, 500, 1000].")
        return v


class Coverage(ConfigModel):
    """``[coverage]``: how residential units, their entrances and residents are counted.

    A unit is served for a class when the walk from its nearest entrance to the nearest
    facility is within the class's radius (:mod:`siteplan.access.served`).
    """

    # Fields of the residential layer holding residents or households; None: the usual names
    # (population, 人口, 常住人口 / households, 户数) when present, else the estimate.
    population_column: str | None = None
    households_column: str | None = None
    # Assumption for the estimate area x FAR / dwelling size x persons per household.
    residential_far: float = Field(default=RESIDENTIAL_FAR, gt=0, le=20)
    # One boundary entrance per this much perimeter where no entrance is mapped.
    entrance_spacing_m: Radius = ENTRANCE_SPACING_M
    # Places per 1,000 residents a class should offer (kindergarten: the seed's 10 托位).
    supply_norms: dict[Name, float] = Field(
        default_factory=lambda: dict(SUPPLY_NORMS_PER_1000))


class Programme(ConfigModel):
    """``[programme]``: per-project ratios of the seed clause 三(二)8, and assumptions.

    The assumptions of the estimate are the dwelling size and the persons per household.
    """

    # The defaults are siteplan.core.defaults.PROGRAMME; their sources are ASSUMPTION_NOTES in
    # siteplan.scoring.programme.
    # 2020 (seventh) national census: 2.62 persons per household.
    persons_per_household: float = Field(default=PROGRAMME["persons_per_household"], gt=0, le=10)
    # Assumption: gross floor area per dwelling (a typical new urban three-bedroom flat).
    dwelling_size_m2: float = Field(default=PROGRAMME["dwelling_size_m2"], gt=0, le=1000)
    # 三(二)8: ≥ 10 托位 per 1000 residents, ≥ 8 m² per place.
    childcare_places_per_1000: float = Field(default=PROGRAMME["childcare_places_per_1000"], ge=0)
    childcare_m2_per_place: float = Field(default=PROGRAMME["childcare_m2_per_place"], ge=0)
    # 三(二)8: ≥ 0.1 m² of elderly-care land per resident.
    elderly_land_m2_per_resident: float = Field(
        default=PROGRAMME["elderly_land_m2_per_resident"], ge=0)
    # 三(二)8: ≥ 1.2 spaces per household, bay ≥ 2.5 m × 5.3 m, charging at all fixed spaces.
    parking_per_household: float = Field(default=PROGRAMME["parking_per_household"], ge=0)
    parking_bay_width_m: float = Field(default=PROGRAMME["parking_bay_width_m"], gt=0)
    parking_bay_length_m: float = Field(default=PROGRAMME["parking_bay_length_m"], gt=0)
    charging_share: float = Field(default=PROGRAMME["charging_share"], ge=0, le=1)
    # 三(二)8: ≥ 3 % of the total floor area for property services.
    property_service_share: float = Field(default=PROGRAMME["property_service_share"], ge=0, le=1)
    # FAR for parcels without one (None: such parcels get no programme numbers).
    default_far: float | None = Field(default=None, gt=0, le=20)

    def assumptions(self) -> dict[str, Any]:
        """Return the ratios and assumptions as keyword arguments of the programme calculator.

        The calculator is :func:`siteplan.scoring.programme.programme`.
        """
        return {k: float(v) for k, v in self.model_dump().items() if k != "default_far"}


class Compliance(ConfigModel):
    """``[compliance]``: radii of the seed compliance check, by class."""

    radii: dict[Name, WalkRadius] = Field(default_factory=lambda: dict(SEED_RADII_M))

    @field_validator("radii")
    @classmethod
    def _merge_seed(cls, v: dict[str, float]) -> dict[str, float]:
        return {**SEED_RADII_M, **v}


class Robustness(ConfigModel):
    """``[robustness]``: how stable the ranking is when the weights move within bounds.

    Each of ``draws`` draws multiplies every weight by a factor uniform in
    ``[1 - weight_bound, 1 + weight_bound]`` (then renormalises), with the random ``seed``
    fixed so a run repeats exactly (:mod:`siteplan.scoring.robustness`).
    """

    # "weights": every weight times U(1 - weight_bound, 1 + weight_bound); "saaty_step": every
    # AHP judgement one step down or up Saaty's scale, or kept (needs [weights] method = "ahp").
    method: Literal["weights", "saaty_step"] = "weights"
    draws: int = Field(default=1000, ge=10, le=100_000)
    weight_bound: float = Field(default=0.25, gt=0, lt=1)
    seed: int = Field(default=19, ge=0)
    # The top N of P(top N); None: [outputs] top_n.
    top_n: int | None = Field(default=None, ge=1)
    # The rank interval: these percentiles of each parcel's ranks over the draws.
    interval: tuple[float, float] = (5.0, 95.0)

    @field_validator("interval")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] <= v[1] <= 100:
            raise bad_value(f"interval {list(v)} is not two percentiles low <= high in 0-100",
                            "write e.g. interval = [5, 95].")
        return v


class Scenario(ConfigModel):
    """``[[scenarios]]``: a variant of the study's direct weights, for ``siteplan compare``.

    ``weights`` gives new weights to some criteria (by name); the others keep theirs.
    """

    name: Name
    description: str = ""
    weights: dict[str, Annotated[float, Field(gt=0, lt=float("inf"))]] = Field(min_length=1)


OutputFormat = Literal["csv", "xlsx", "gpkg", "html", "png"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("csv", "xlsx", "gpkg", "html", "png")


class Outputs(ConfigModel):
    """``[outputs]``: where and what to write.

    ``tianditu_key``: the environment variable ``TIANDITU_KEY`` wins over the file, so a shared
    study file need not carry a personal key (see :meth:`Study.tianditu_key`).
    """

    folder: PathStr = "maps"
    top_n: int = Field(default=20, ge=1)
    formats: list[OutputFormat] = Field(default_factory=lambda: list(OUTPUT_FORMATS))
    # One self-contained HTML map by default: a map handed on or opened on an intranet must work.
    offline: bool = True
    # The PNG map: a paper size (a4, a3, with "-landscape") or 10 x 10 inches, at this DPI.
    png_paper: Literal["a4", "a4-landscape", "a3", "a3-landscape"] | None = None
    png_dpi: int = Field(default=150, ge=50, le=600)
    tianditu_key: str | None = None
    # A custom basemap (an intranet tile server): URL template with {z}/{x}/{y}, attribution.
    tiles_url: str | None = None
    tiles_attribution: str | None = None
    # The ranked shortlist also goes to this PostGIS table ("postgresql://...?table=s.name").
    postgis: str | None = None
    postgis_if_exists: Literal["fail", "replace"] = "fail"

    @field_validator("postgis")
    @classmethod
    def _postgis_url(cls, v: str | None) -> str | None:
        if v is not None and not is_database_url(v):
            raise bad_value(f"{v!r} is not a PostgreSQL URL",
                            'write it as "postgresql://user@host/db?table=schema.shortlist".')
        return v


__all__ = [
    "OUTPUT_FORMATS", "CRSSection", "Catchments", "Coverage",
    "Compliance", "FacilityClass", "FacilityLayer", "Inputs", "NetworkSection", "OutputFormat",
    "Outputs", "ParcelFields", "ParcelInput", "Programme", "Robustness", "Scenario",
    "StudySection",
]
