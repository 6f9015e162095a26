"""The study configuration: one TOML file, one typed model.

A study file says where the inputs are, which facility classes matter and at which walking radii,
how parcels are scored (criteria, transforms, weights, hard constraints), the programme ratios
and what to write.  :func:`load_study` reads and validates it; every problem is reported as a
:class:`~siteplan.errors.ConfigError` naming the key (``criteria[2].weight``), the value and the
fix.  Relative paths resolve against the folder of the TOML file.

Defaults that carry planning meaning name their source next to them: the seed clause 三(二)8 of
the Shanxi 好房子 pilot (kindergarten 300 m, primary school 500 m, middle school 1000 m; programme
ratios) and GB 50180-2018 (5/10/15-minute life circles: 300/500/1000 m walking).
"""

from __future__ import annotations

import codecs
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pyproj import CRS
from pyproj.exceptions import CRSError

from siteplan.ahp import AHPResult, ahp_weights, normalise_weights
from siteplan.compliance import SEED_CLAUSE, SEED_RADII_M
from siteplan.config_checks import cross_check
from siteplan.config_errors import config_error_from_validation, toml_error
from siteplan.errors import ConfigError, InputError
from siteplan.transforms import Transform

SEED_SOURCE = f"好房子 {SEED_CLAUSE}"

# GB 50180-2018 城市居住区规划设计标准, 表 3.0.4 (居住区分级控制规模): walking distance of the
# 5-, 10- and 15-minute life circles.  The 15-minute circle is 800-1000 m in the standard; the
# pilot uses its upper bound.
GB50180_CIRCLES_M: dict[str, float] = {"5min": 300.0, "10min": 500.0, "15min": 1000.0}
GB50180_SOURCE = "GB 50180-2018 表3.0.4"

# Facility classes of the naming contract (shared/DESIGN.md); others must be declared.
KNOWN_CLASSES = ("kindergarten", "primary_school", "middle_school", "high_school", "hospital",
                 "clinic", "bus_stop", "metro_station", "park", "elderly_care")

# A radius beyond 50 km is not a walking radius; it is almost always a unit slip (m vs km).
MAX_RADIUS_M = 50_000.0

# Columns the scorer writes itself; a criterion named like them would overwrite them.
RESERVED_NAMES = ("score", "rank", "excluded", "exclusion_reason", "exclusion_reason_zh",
                  "parcel_id", "geometry")

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_URL_RE = re.compile(r"^(postgres(ql)?(\+\w+)?://|PG:)", re.IGNORECASE)


def _bad(what: str, fix: str) -> PydanticCustomError:
    return PydanticCustomError("siteplan_config", what, {"fix": fix})


def _check_name(v: str) -> str:
    if not _NAME_RE.match(v):
        raise _bad(f"{v!r} is not a valid name",
                   "use lower-case letters, digits and underscores, starting with a letter "
                   "(it becomes part of column names such as dist_<class>_m).")
    return v


def _check_radius(v: float) -> float:
    if not v > 0:
        raise _bad(f"radius {v:g} m is not positive", "give a walking radius in metres, > 0.")
    if v > MAX_RADIUS_M:
        raise _bad(f"radius {v:g} m is more than 50 km",
                   "radii are in metres: 1 km is 1000, not 1000000 (did you mean km?).")
    return v


def _resolve_path(v: str, info: ValidationInfo) -> str:
    """Resolve a relative path against the config file's folder; leave database URLs alone."""
    if _URL_RE.match(v):
        return v
    base = (info.context or {}).get("base_dir")
    p = Path(v).expanduser()
    if base is not None and not p.is_absolute():
        p = Path(base) / p
    return os.path.normpath(p)


Name = Annotated[str, AfterValidator(_check_name)]
Radius = Annotated[float, AfterValidator(_check_radius)]
PathStr = Annotated[str, Field(min_length=1), AfterValidator(_resolve_path)]
CoordSystem = Literal["wgs84", "gcj02", "bd09"]


def _check_encoding(v: str | None) -> str | None:
    if v is not None:
        try:
            codecs.lookup(v)
        except LookupError:
            raise _bad(f"unknown text encoding {v!r}",
                       'use e.g. "utf-8", "gbk" or "gb18030".') from None
    return v


Encoding = Annotated[str, AfterValidator(_check_encoding)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ----------------------------------------------------------------------------- sections


class StudySection(_Model):
    """``[study]``: what this study is."""

    name: str = Field(min_length=1)
    description: str = ""
    boundary: PathStr | None = None
    # "gb50180": every class counts facilities within the 5/10/15-minute circles.
    life_circle: Literal["gb50180"] | None = None


class FacilityLayer(_Model):
    """One extra municipal facility table in ``[[inputs.layers]]``."""

    path: PathStr
    layer: str | None = None
    class_: Name | None = Field(default=None, alias="class")
    class_column: str | None = None
    name_column: str | None = None
    id_column: str | None = None
    encoding: Encoding | None = None
    coord_system: CoordSystem | None = None
    crs: str | None = None

    @model_validator(mode="after")
    def _one_class(self) -> FacilityLayer:
        if (self.class_ is None) == (self.class_column is None):
            raise _bad("a facility layer needs exactly one of class or class_column",
                       'give class = "hospital" (whole layer) or class_column = "类别".')
        return self


class ParcelFields(_Model):
    """Source column names of the parcel attributes (defaults: common Chinese field names)."""

    code: str = "地块编号"
    land_use: str = "用地性质"
    area: str = "面积"
    far: str = "容积率"
    clean_land: str = "净地"
    idle_recovered: str = "闲置收回"


class ParcelInput(_Model):
    """``[inputs.parcels]``: the candidate land parcels."""

    path: PathStr
    layer: str | None = None
    id_column: str = Field(default="parcel_id", min_length=1)
    fields: ParcelFields = Field(default_factory=lambda: ParcelFields())
    encoding: Encoding | None = None
    coord_system: CoordSystem | None = None

    def aliases(self) -> dict[str, str]:
        """``{source column: siteplan column}`` for the declared attribute field names."""
        target = {"code": "parcel_code", "land_use": "landuse_code", "area": "area_m2",
                  "far": "far", "clean_land": "clean_land", "idle_recovered": "idle_recovered"}
        return {getattr(self.fields, key): col for key, col in target.items()}


class Inputs(_Model):
    """``[inputs]``: data sources.  ``streets`` may be a file or a PostGIS URL."""

    streets: PathStr | None = None
    facilities: PathStr | None = None
    layers: list[FacilityLayer] = Field(default_factory=list)
    parcels: ParcelInput | None = None
    residential: PathStr | None = None
    rasters: dict[Name, PathStr] = Field(default_factory=dict)
    hazards: list[PathStr] = Field(default_factory=list)

    def paths(self) -> list[str]:
        """Every local file the study reads (database URLs excluded)."""
        out = [self.streets, self.facilities, self.residential,
               self.parcels.path if self.parcels else None]
        out += [lay.path for lay in self.layers] + list(self.rasters.values()) + self.hazards
        return [p for p in out if p is not None and not _URL_RE.match(p)]


class CRSSection(_Model):
    """``[crs]``: declared input CRS, analysis CRS, Chinese coordinate offsets, encoding."""

    input: str | None = None
    metric: str | int = "utm"
    coord_system: CoordSystem = "wgs84"
    encoding: Encoding = "utf-8"

    @field_validator("input")
    @classmethod
    def _input_crs(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                CRS.from_user_input(v)
            except CRSError:
                raise _bad(f"{v!r} is not a CRS pyproj knows",
                           'write it as "EPSG:4326" (WGS84) or "EPSG:4490" (CGCS2000).') from None
        return v

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str | int) -> str | int:
        if v in ("utm", "cgcs2000"):
            return v
        try:
            crs = CRS.from_user_input(v)
        except CRSError:
            raise _bad(f"{v!r} is neither utm, cgcs2000 nor a CRS pyproj knows",
                       'use "utm", "cgcs2000" or an explicit projected CRS such as '
                       '"EPSG:4547".') from None
        unit = crs.axis_info[0].unit_name if crs.axis_info else ""
        if not crs.is_projected or unit not in ("metre", "meter"):
            raise _bad(f"{v!r} is not a projected CRS in metres",
                       'distances need metres: use "utm", "cgcs2000" or e.g. "EPSG:4547".')
        return v


class NetworkSection(_Model):
    """``[network]``: how the walking network is built and searched."""

    snap_tolerance_m: float = Field(default=0.0, ge=0, le=50)
    max_snap_m: Radius = 200.0
    search_limit_m: Radius = 3000.0
    # adult 1.2 m/s, elderly 0.8 m/s (the pilot's walking speeds; override with walk_speed_mps).
    profile: Literal["adult", "elderly"] = "adult"
    walk_speed_mps: float | None = Field(default=None, gt=0, le=3)
    parcel_point: Literal["representative", "centroid"] = "representative"
    facility_point: Literal["representative", "nearest-boundary"] = "representative"
    # Replaces the highway values that are not walkable (None: the osmnx walk filter).
    exclude_highway: list[str] | None = None
    keep_largest: bool = True

    @property
    def speed_mps(self) -> float:
        """Walking speed in metres per second (explicit value, else the profile's)."""
        if self.walk_speed_mps is not None:
            return self.walk_speed_mps
        return 0.8 if self.profile == "elderly" else 1.2


class FacilityClass(_Model):
    """``[classes.<name>]``: one facility class's service radius and count radii."""

    radius_m: Radius | None = None
    life_circle: Literal["5min", "10min", "15min"] | None = None
    count_radii_m: list[Radius] | None = None
    label: str | None = None
    label_zh: str | None = None
    description: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _circle(self) -> FacilityClass:
        if self.life_circle is not None:
            if self.radius_m is not None and self.radius_m != GB50180_CIRCLES_M[self.life_circle]:
                raise _bad(
                    f"radius_m = {self.radius_m:g} contradicts life_circle = "
                    f"{self.life_circle!r} ({GB50180_CIRCLES_M[self.life_circle]:g} m)",
                    "give either radius_m or life_circle, not both.",
                )
            self.radius_m = GB50180_CIRCLES_M[self.life_circle]
            if not self.source:
                self.source = GB50180_SOURCE
        return self


class Catchments(_Model):
    """``[catchments]``: how service areas are drawn."""

    frontage_m: Radius = 30.0
    mode: Literal["overlap", "dissolve", "split", "rings"] = "overlap"
    rings_m: list[Radius] = Field(default_factory=lambda: [300.0, 500.0, 1000.0])

    @field_validator("rings_m")
    @classmethod
    def _ascending(cls, v: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise _bad(f"ring cutoffs {v} are not strictly increasing",
                       "list them from the smallest to the largest, e.g. [300, 500, 1000].")
        return v


# ----------------------------------------------------------------------------- criteria


class _Criterion(_Model):
    name: Name
    weight: float | None = None
    transform: Transform | None = None
    source: str = ""
    label: str | None = None
    label_zh: str | None = None

    @field_validator("weight")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and not (v > 0 and v < float("inf")):
            raise _bad(f"weight {v:g} is not a positive number",
                       "give every criterion a weight > 0 (drop the criterion to ignore it).")
        return v

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in RESERVED_NAMES:
            raise _bad(f"criterion name {v!r} is reserved for an output column",
                       f"choose another name (reserved: {', '.join(RESERVED_NAMES)}).")
        return v

    @property
    def raw_column(self) -> str:
        return f"{self.name}_raw"

    @property
    def points_column(self) -> str:
        return f"{self.name}_points"

    @property
    def facility_class(self) -> str | None:
        """The facility class the criterion measures (None for non-network criteria)."""
        return None

    def _need_transform(self) -> None:
        if self.transform is None:
            kind = getattr(self, "kind", "?")
            raise _bad(f"criterion {self.name!r} of kind {kind!r} needs a transform",
                       'add e.g. transform = { type = "linear", best = ..., worst = ... }.')


class _NetworkCriterion(_Criterion):
    class_: Name = Field(alias="class")
    radius_m: Radius | None = None

    @property
    def facility_class(self) -> str | None:
        return self.class_


class DistanceCriterion(_NetworkCriterion):
    """Walking distance to the nearest facility of a class (``dist_<class>_m``).

    Without a transform: 100 points within the radius (criterion's, else the class's), else 0.
    """

    kind: Literal["distance"]


class CountCriterion(_NetworkCriterion):
    """Number of facilities of a class within ``radius_m`` (``n_<class>_<r>m``)."""

    kind: Literal["count"]
    radius_m: Radius

    @model_validator(mode="after")
    def _t(self) -> CountCriterion:
        self._need_transform()
        return self


class AccessCriterion(_NetworkCriterion):
    """Two-step floating catchment (2SFCA) supply-to-demand ratio within ``radius_m``.

    Supply: ``capacity_column`` of the class's facilities (each facility counts 1 without it).
    Demand: ``demand_column`` (e.g. population) of the demand layer (``inputs.residential``),
    else its area in hectares.  The raw value is supply per ``per`` demand units.
    """

    kind: Literal["access_2sfca"]
    capacity_column: str | None = None
    demand_column: str | None = None
    per: float = Field(default=1000.0, gt=0)

    @model_validator(mode="after")
    def _t(self) -> AccessCriterion:
        self._need_transform()
        return self


ZonalStat = Literal["mean", "min", "max", "share_above"]


class RasterCriterion(_Criterion):
    """A zonal statistic of a raster over each parcel (pixels whose centre lies inside)."""

    kind: Literal["raster"]
    raster: Name
    stat: ZonalStat = "mean"
    threshold: float | None = None
    band: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _t(self) -> RasterCriterion:
        if self.stat == "share_above" and self.threshold is None:
            raise _bad("stat = 'share_above' needs a threshold",
                       "add threshold = <value>; the raw value is the share (0-1) above it.")
        self._need_transform()
        return self


class SlopeCriterion(_Criterion):
    """Terrain slope from a DEM raster (Horn's method), then a zonal statistic per parcel."""

    kind: Literal["slope"]
    raster: Name
    units: Literal["percent", "degrees"] = "percent"
    stat: ZonalStat = "mean"
    threshold: float | None = None
    # Elevation units per horizontal unit: 0.3048 for a DEM in feet over metres.
    z_factor: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _t(self) -> SlopeCriterion:
        if self.stat == "share_above" and self.threshold is None:
            raise _bad("stat = 'share_above' needs a threshold",
                       "add threshold = <slope>, e.g. 25 (percent).")
        self._need_transform()
        return self


GeometryMeasure = Literal["area_ha", "compactness", "concave_corners"]


class GeometryCriterion(_Criterion):
    """Parcel shape: area (ha), compactness 方正度 (area / minimum rotated rectangle area), or
    number of concave (reflex) corners, turning by more than ``corner_angle_deg``."""

    kind: Literal["geometry"]
    measure: GeometryMeasure
    corner_angle_deg: float = Field(default=15.0, ge=0, lt=180)

    @model_validator(mode="after")
    def _t(self) -> GeometryCriterion:
        self._need_transform()
        return self


class AttributeCriterion(_Criterion):
    """A parcel attribute: ``column == value`` (boolean; default transform 100/0), or the
    column's numbers through a transform.  Yes-like text (是, yes, true, 1, y) counts as true
    when ``value = true``.  ``column`` may be the source name (净地) or the siteplan name
    (clean_land)."""

    kind: Literal["attribute"]
    column: str = Field(min_length=1)
    value: bool | float | str | None = None

    @model_validator(mode="after")
    def _t(self) -> AttributeCriterion:
        if self.value is None:
            self._need_transform()
        return self


Criterion = Annotated[
    DistanceCriterion | CountCriterion | AccessCriterion | RasterCriterion | SlopeCriterion
    | GeometryCriterion | AttributeCriterion,
    Field(discriminator="kind"),
]
CRITERION_KINDS = ("distance", "count", "access_2sfca", "raster", "slope", "geometry",
                   "attribute")


class Weights(_Model):
    """``[weights]``: direct weights on each criterion, or an AHP matrix in criteria order."""

    method: Literal["direct", "ahp"] = "direct"
    matrix: list[list[float]] | None = None
    allow_inconsistent: bool = False


Op = Literal["<", "<=", ">", ">=", "==", "!="]


class Constraint(_Model):
    """``[[constraints]]``: a parcel is excluded when ``<target> <op> <value>`` is true.

    The target is one of ``criterion`` (its raw value), ``column`` (a parcel column) or
    ``measure`` (a geometry measure); or a ``builtin``: ``"unreachable"`` (the network stage's
    ``unreachable`` column) or ``"inside_hazard"`` (intersects a polygon of ``inputs.hazards``).
    A missing (NaN) value never triggers a comparison constraint.
    """

    criterion: str | None = None
    column: str | None = None
    measure: GeometryMeasure | None = None
    builtin: Literal["unreachable", "inside_hazard"] | None = None
    op: Op | None = None
    value: float | str | bool | None = None
    reason_en: str | None = None
    reason_zh: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Constraint:
        targets = [t for t in ("criterion", "column", "measure", "builtin")
                   if getattr(self, t) is not None]
        if len(targets) != 1:
            raise _bad(f"a constraint needs exactly one target, got {targets or 'none'}",
                       'give one of criterion = "slope", column = "...", measure = "area_ha" '
                       'or builtin = "unreachable" / "inside_hazard".')
        if self.builtin is None and (self.op is None or self.value is None):
            raise _bad("a comparison constraint needs op and value",
                       'add e.g. op = "<", value = 1 (the parcel is excluded when true).')
        if self.builtin is not None and (self.op is not None or self.value is not None):
            raise _bad(f"builtin = {self.builtin!r} takes no op/value", "remove op and value.")
        return self

    @property
    def target(self) -> str:
        return next(str(getattr(self, t)) for t in ("criterion", "column", "measure", "builtin")
                    if getattr(self, t) is not None)

    def reasons(self) -> tuple[str, str]:
        """English and Chinese exclusion reasons (generated when not configured)."""
        if self.builtin == "unreachable":
            en, zh = "cannot reach the street network", "无法接入步行路网"
        elif self.builtin == "inside_hazard":
            en, zh = "inside a hazard area", "位于灾害风险区内"
        else:
            en = zh = f"{self.target} {self.op} {self.value}"
        return self.reason_en or en, self.reason_zh or zh


class Programme(_Model):
    """``[programme]``: per-project ratios of the seed clause 三(二)8, and the estimate's
    assumptions (dwelling size, persons per household)."""

    # 2020 (seventh) national census: 2.62 persons per household.
    persons_per_household: float = Field(default=2.62, gt=0, le=10)
    # Assumption: gross floor area per dwelling (a typical new urban three-bedroom flat).
    dwelling_size_m2: float = Field(default=100.0, gt=0, le=1000)
    childcare_places_per_1000: float = Field(default=10.0, ge=0)  # 三(二)8: ≥ 10 托位 per 1000 residents
    childcare_m2_per_place: float = Field(default=8.0, ge=0)  # 三(二)8: ≥ 8 m² per place
    elderly_land_m2_per_resident: float = Field(default=0.1, ge=0)  # 三(二)8: ≥ 0.1 m² per resident
    parking_per_household: float = Field(default=1.2, ge=0)  # 三(二)8: ≥ 1.2 spaces per household
    parking_bay_width_m: float = Field(default=2.5, gt=0)  # 三(二)8: bay ≥ 2.5 m × 5.3 m
    parking_bay_length_m: float = Field(default=5.3, gt=0)
    charging_share: float = Field(default=1.0, ge=0, le=1)  # 三(二)8: all fixed spaces
    property_service_share: float = Field(default=0.03, ge=0, le=1)  # 三(二)8: ≥ 3 %
    # FAR for parcels without one (None: such parcels get no programme numbers).
    default_far: float | None = Field(default=None, gt=0, le=20)

    def assumptions(self) -> dict[str, Any]:
        """The ratios and assumptions as keyword arguments of :func:`siteplan.programme.programme`."""
        return {k: float(v) for k, v in self.model_dump().items() if k != "default_far"}


class Compliance(_Model):
    """``[compliance]``: radii of the seed compliance check, by class."""

    radii: dict[Name, Radius] = Field(default_factory=lambda: dict(SEED_RADII_M))

    @field_validator("radii")
    @classmethod
    def _merge_seed(cls, v: dict[str, float]) -> dict[str, float]:
        return {**SEED_RADII_M, **v}


OutputFormat = Literal["csv", "xlsx", "gpkg", "html", "png"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("csv", "xlsx", "gpkg", "html", "png")


class Outputs(_Model):
    """``[outputs]``: where and what to write.

    ``tianditu_key``: the environment variable ``TIANDITU_KEY`` wins over the file, so a shared
    study file need not carry a personal key (see :meth:`Study.tianditu_key`).
    """

    folder: PathStr = "maps"
    top_n: int = Field(default=20, ge=1)
    formats: list[OutputFormat] = Field(default_factory=lambda: list(OUTPUT_FORMATS))
    offline: bool = False
    tianditu_key: str | None = None


# ----------------------------------------------------------------------------- the study


def _default_classes(data: dict[str, Any]) -> dict[str, Any]:
    """Add the seed classes and the life-circle count radii to the raw ``classes`` table."""
    classes = dict(data.get("classes") or {})
    for name, radius in SEED_RADII_M.items():
        entry = classes.get(name)
        if entry is None:
            classes[name] = {"radius_m": radius, "source": SEED_SOURCE}
        elif isinstance(entry, dict) and "radius_m" not in entry and "life_circle" not in entry:
            classes[name] = {**entry, "radius_m": radius, "source": entry.get("source", SEED_SOURCE)}
    study = data.get("study")
    if isinstance(study, dict) and study.get("life_circle") == "gb50180":
        for name, entry in classes.items():
            if isinstance(entry, dict) and "count_radii_m" not in entry:
                classes[name] = {**entry, "count_radii_m": list(GB50180_CIRCLES_M.values())}
    return classes


class Study(_Model):
    """A whole study configuration.  Build it with :func:`load_study` or
    :meth:`Study.model_validate` (both raise :class:`~siteplan.errors.ConfigError`)."""

    study: StudySection
    inputs: Inputs = Field(default_factory=lambda: Inputs())
    crs: CRSSection = Field(default_factory=lambda: CRSSection())
    network: NetworkSection = Field(default_factory=lambda: NetworkSection())
    classes: dict[Name, FacilityClass] = Field(default_factory=dict)
    catchments: Catchments = Field(default_factory=lambda: Catchments())
    criteria: list[Criterion] = Field(default_factory=list)
    weights: Weights = Field(default_factory=lambda: Weights())
    constraints: list[Constraint] = Field(default_factory=list)
    programme: Programme = Field(default_factory=lambda: Programme())
    compliance: Compliance = Field(default_factory=lambda: Compliance())
    outputs: Outputs = Field(default_factory=lambda: Outputs())

    _source: str | None = PrivateAttr(default=None)
    _ahp: AHPResult | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {**data, "classes": _default_classes(data)}
        return data

    @model_validator(mode="after")
    def _cross(self) -> Study:
        problems = cross_check(self)
        if problems:
            raise PydanticCustomError("siteplan_cross", "{n} problem(s)",
                                      {"n": len(problems), "problems": problems})
        if self.weights.method == "ahp":
            self._ahp = ahp_weights(self.weights.matrix)
        return self

    @classmethod
    def model_validate(cls, obj: Any, *, strict: bool | None = None,
                       from_attributes: bool | None = None, context: Any | None = None,
                       source: str | None = None, **kwargs: Any) -> Study:
        """Validate a dict (e.g. parsed TOML); raise :class:`ConfigError` on any problem.

        ``source`` names the file in messages; ``context={"base_dir": folder}`` resolves
        relative paths against ``folder``.
        """
        try:
            study = super().model_validate(obj, strict=strict, from_attributes=from_attributes,
                                           context=context, **kwargs)
        except ValidationError as exc:
            raise config_error_from_validation(exc, obj, cls, source or "study config") from None
        study._source = source
        return study

    # --------------------------------------------------------------------- queries

    @property
    def source_path(self) -> str | None:
        """The TOML file this study was read from (None when built from a dict)."""
        return self._source

    @property
    def ahp(self) -> AHPResult | None:
        """AHP weights and consistency (None with direct weights)."""
        return self._ahp

    def weights_vector(self) -> dict[str, float]:
        """Criterion name → weight, normalised to sum 1 (direct or AHP)."""
        if self._ahp is not None:
            w = self._ahp.weights
        else:
            w = normalise_weights([c.weight for c in self.criteria])
        return {c.name: float(x) for c, x in zip(self.criteria, w, strict=True)}

    def criterion(self, name: str) -> Criterion:
        """The criterion called ``name``."""
        for c in self.criteria:
            if c.name == name:
                return c
        raise KeyError(name)

    def class_radius(self, name: str) -> float | None:
        """Service radius of a facility class in metres (None when not configured)."""
        fc = self.classes.get(name)
        return fc.radius_m if fc else None

    def facility_classes(self) -> list[str]:
        """Classes the study needs distances for: criteria and compliance classes, sorted."""
        used = {c.facility_class for c in self.criteria if c.facility_class is not None}
        return sorted(used | set(self.compliance.radii))

    def criterion_radius(self, criterion: Criterion) -> float | None:
        """The radius a network criterion uses: its own, else its class's (None if neither)."""
        if not isinstance(criterion, _NetworkCriterion):
            return None
        if criterion.radius_m is not None:
            return criterion.radius_m
        return self.class_radius(criterion.class_)

    def count_radii(self, name: str) -> list[float]:
        """Radii (m) at which ``n_<name>_<r>m`` counts are needed: the class's count radii
        plus those of count criteria, ascending."""
        fc = self.classes.get(name)
        radii = set(fc.count_radii_m or []) if fc else set()
        radii |= {c.radius_m for c in self.criteria
                  if isinstance(c, CountCriterion) and c.class_ == name}
        return sorted(radii)

    def metric_crs(self, lonlat_bounds: tuple[float, float, float, float]) -> CRS:
        """The analysis CRS: the configured EPSG, or the UTM / CGCS2000 zone of the bounds."""
        from siteplan.crs import metric_crs_for_bounds

        if self.crs.metric in ("utm", "cgcs2000"):
            return metric_crs_for_bounds(lonlat_bounds, self.crs.metric)  # type: ignore[arg-type]
        return CRS.from_user_input(self.crs.metric)

    def tianditu_key(self) -> str | None:
        """Tianditu map key: ``$TIANDITU_KEY`` if set and non-empty, else ``outputs.tianditu_key``."""
        return os.environ.get("TIANDITU_KEY") or self.outputs.tianditu_key

    def check_against_facilities(self, class_counts: dict[str, int]) -> None:
        """Refuse criteria whose facility class has no facilities in the data.

        Parameters
        ----------
        class_counts
            Number of facilities found per class (classes absent from the dict count as 0).

        Raises
        ------
        ConfigError
            Naming the first criterion whose class has no facilities.
        """
        found = ", ".join(f"{k} ({v})" for k, v in sorted(class_counts.items()) if v > 0)
        bad = [(i, c) for i, c in enumerate(self.criteria)
               if c.facility_class is not None and class_counts.get(c.facility_class, 0) <= 0]
        if not bad:
            return
        lines = [f"criteria[{i}].class = {c.facility_class!r} (criterion {c.name!r})"
                 for i, c in bad]
        classes = sorted({str(c.facility_class) for _, c in bad})
        raise ConfigError(
            f"{'; '.join(lines)}: the facility data has no facilities of this class "
            f"(classes found: {found or 'none'}).",
            where=self._source or "study config",
            fix=f"add facilities of class {', '.join(classes)} (a facility layer in [inputs]), "
            "or remove the criterion.",
        )

    def check_inputs_exist(self) -> None:
        """Raise :class:`InputError` naming every configured input file that does not exist."""
        missing = [p for p in self.inputs.paths() if not Path(p).exists()]
        if missing:
            raise InputError(f"input file(s) not found: {', '.join(missing)}.",
                             where=self._source or "study config",
                             fix="correct the paths in [inputs] (relative paths are relative to "
                             "the study file's folder).")


def load_study(path: str | Path) -> Study:
    """Read and validate a study TOML file.

    Parameters
    ----------
    path
        The ``.toml`` file.  Relative paths inside it resolve against its folder.

    Returns
    -------
    Study

    Raises
    ------
    ConfigError
        Unreadable file, malformed TOML (with line and column) or invalid settings (each
        naming its key, value and fix).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the study file ({exc.strerror}).", where=str(path),
                          fix="check the path given to --config.") from exc
    try:
        text = raw.decode("utf-8-sig")  # tolerate the BOM Windows editors add
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the file is not UTF-8 (byte {exc.start} cannot be decoded).",
                          where=str(path),
                          fix="save the study file as UTF-8 (TOML requires it), e.g. "
                          "iconv -f GBK -t UTF-8.") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise toml_error(exc, str(path), text) from None
    return Study.model_validate(data, context={"base_dir": path.resolve().parent},
                                source=str(path))


def distance_column(class_name: str) -> str:
    """Name of the network-distance column of a class: ``dist_<class>_m``."""
    return f"dist_{class_name}_m"


def count_column(class_name: str, radius_m: float) -> str:
    """Name of the facility-count column: ``n_<class>_<r>m`` (``r`` without trailing .0)."""
    return f"n_{class_name}_{radius_m:g}m"


__all__ = [
    "AccessCriterion", "AttributeCriterion", "CRITERION_KINDS", "Catchments", "Compliance",
    "Constraint", "CountCriterion", "Criterion", "DistanceCriterion", "FacilityClass",
    "FacilityLayer", "GB50180_CIRCLES_M", "GeometryCriterion", "Inputs", "KNOWN_CLASSES",
    "NetworkSection", "Outputs", "ParcelFields", "ParcelInput", "Programme", "RasterCriterion",
    "SEED_RADII_M", "SlopeCriterion", "Study", "StudySection", "Weights", "count_column",
    "distance_column", "load_study",
]
