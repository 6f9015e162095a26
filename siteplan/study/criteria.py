"""Criteria, weights and hard constraints of a study: ``[[criteria]]``, ``[weights]`` and more.

The tables are ``[[criteria]]``, ``[weights]`` and ``[[constraints]]``.

A criterion says what is measured at each parcel (``kind``: a walking distance, a count, a 2SFCA
ratio, a raster statistic, a slope, a shape measure, an attribute or a life circle's
completeness), how the raw value becomes
0-100 points (``transform``) and its weight.  :data:`Criterion` is the union of the kinds,
told apart by ``kind``.  :mod:`siteplan.scoring.criteria` computes the raw values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from siteplan.core.defaults import COMPLETE_COMMUNITY_SOURCE, GB50180_FACILITY_SOURCES
from siteplan.study.fields import ConfigModel, Name, WalkRadius, bad_value
from siteplan.study.transforms import LinearTransform, Transform

# Columns the scorer writes itself; a criterion named like them would overwrite them.
RESERVED_NAMES = ("score", "rank", "excluded", "exclusion_reason", "exclusion_reason_zh",
                  "parcel_id", "geometry")


class _Criterion(ConfigModel):
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
            raise bad_value(f"weight {v:g} is not a positive number",
                            "give every criterion a weight > 0 (drop the criterion to ignore it).")
        return v

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in RESERVED_NAMES:
            raise bad_value(f"criterion name {v!r} is reserved for an output column",
                            f"choose another name (reserved: {', '.join(RESERVED_NAMES)}).")
        return v

    @property
    def raw_column(self) -> str:
        """The score's column of the raw values, ``<name>_raw``."""
        return f"{self.name}_raw"

    @property
    def points_column(self) -> str:
        """The score's column of the weighted points, ``<name>_points``."""
        return f"{self.name}_points"

    @property
    def facility_class(self) -> str | None:
        """The facility class the criterion measures (None for non-network criteria)."""
        return None

    def _need_transform(self) -> None:
        if self.transform is None:
            kind = getattr(self, "kind", "?")
            raise bad_value(f"criterion {self.name!r} of kind {kind!r} needs a transform",
                            'add e.g. transform = { type = "linear", best = ..., worst = ... }.')


class NetworkCriterion(_Criterion):
    """A criterion measured along the network to a facility class (``class``, ``radius_m``)."""

    class_: Name = Field(alias="class")
    radius_m: WalkRadius | None = None

    @property
    def facility_class(self) -> str | None:
        """The facility class the criterion measures."""
        return self.class_


class DistanceCriterion(NetworkCriterion):
    """Walking distance to the nearest facility of a class (``dist_<class>_m``).

    Without a transform: 100 points within the radius (criterion's, else the class's), else 0.
    """

    kind: Literal["distance"]


class CountCriterion(NetworkCriterion):
    """Number of facilities of a class within ``radius_m`` (``n_<class>_<r>m``)."""

    kind: Literal["count"]
    radius_m: WalkRadius

    @model_validator(mode="after")
    def _t(self) -> CountCriterion:
        self._need_transform()
        return self


class AccessCriterion(NetworkCriterion):
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
            raise bad_value("stat = 'share_above' needs a threshold",
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
            raise bad_value("stat = 'share_above' needs a threshold",
                            "add threshold = <slope>, e.g. 25 (percent).")
        self._need_transform()
        return self


GeometryMeasure = Literal["area_ha", "compactness", "concave_corners"]


class GeometryCriterion(_Criterion):
    """Parcel shape: area (ha), compactness 方正度 or the number of concave corners.

    Compactness is the area over the area of the minimum rotated rectangle; a concave (reflex)
    corner turns by more than ``corner_angle_deg``.
    """

    kind: Literal["geometry"]
    measure: GeometryMeasure
    corner_angle_deg: float = Field(default=15.0, ge=0, lt=180)

    @model_validator(mode="after")
    def _t(self) -> GeometryCriterion:
        self._need_transform()
        return self


class AttributeCriterion(_Criterion):
    """A parcel attribute: ``column == value``, or the column's numbers through a transform.

    ``column == value`` is boolean (default transform 100/0).  Yes-like text (是, yes, true, 1,
    y) counts as true when ``value = true``.  ``column`` may be the source name (净地) or the
    siteplan name (clean_land).
    """

    kind: Literal["attribute"]
    column: str = Field(min_length=1)
    value: bool | float | str | None = None

    @model_validator(mode="after")
    def _t(self) -> AttributeCriterion:
        if self.value is None:
            self._need_transform()
        return self


class LifeCircleCriterion(_Criterion):
    """Life-circle completeness: the share of a checklist's facility types within its radius.

    ``circle`` is a GB 50180-2018 circle (``5min``/``10min``/``15min``) or ``community`` (the
    完整居住社区 checklist); the raw value is ``lc_<circle>_share`` (0-1,
    :mod:`siteplan.access.lifecircle`).  Without a transform, 1 scores 100 and 0 scores 0.
    """

    kind: Literal["life_circle"]
    circle: Literal["5min", "10min", "15min", "community"]

    @model_validator(mode="after")
    def _t(self) -> LifeCircleCriterion:
        if self.transform is None:
            self.transform = LinearTransform(best=1.0, worst=0.0)
        if not self.source:
            self.source = GB50180_FACILITY_SOURCES["B.0.2" if self.circle == "5min" else "B.0.1"]
            if self.circle == "community":
                self.source = COMPLETE_COMMUNITY_SOURCE
        return self


Criterion = Annotated[
    DistanceCriterion | CountCriterion | AccessCriterion | RasterCriterion | SlopeCriterion
    | GeometryCriterion | AttributeCriterion | LifeCircleCriterion,
    Field(discriminator="kind"),
]
CRITERION_KINDS = ("distance", "count", "access_2sfca", "raster", "slope", "geometry",
                   "attribute", "life_circle")


class Weights(ConfigModel):
    """``[weights]``: direct weights on each criterion, or an AHP matrix in criteria order."""

    method: Literal["direct", "ahp"] = "direct"
    matrix: list[list[float]] | None = None
    allow_inconsistent: bool = False


Op = Literal["<", "<=", ">", ">=", "==", "!="]
MissingPolicy = Literal["exclude", "keep"]

# Access-stage columns whose NaN means "nothing reachable within the search limit".
DISTANCE_COLUMN_RE = re.compile(r"^(dist_[a-z][a-z0-9_]*_m|time_[a-z][a-z0-9_]*_min)$")


class Constraint(ConfigModel):
    """``[[constraints]]``: a parcel is excluded when ``<target> <op> <value>`` is true.

    The target is one of ``criterion`` (its raw value), ``column`` (a parcel column) or
    ``measure`` (a geometry measure); or a ``builtin``: ``"unreachable"`` (the network stage's
    ``unreachable`` column) or ``"inside_hazard"`` (intersects a polygon of ``inputs.hazards``).

    A missing (NaN) value is never silently passed over:

    - a walking distance (a ``distance`` criterion, a ``dist_<class>_m`` or
      ``time_<class>_min`` column) is NaN when no facility is reachable within
      ``[network] search_limit_m``: it compares as **+infinity**, so ``>``/``>=``/``!=``
      exclude the parcel and ``<``/``<=``/``==`` do not;
    - any other value (a slope outside the DEM, a blank attribute, a parcel outside a raster)
      is unknown, and ``missing`` decides: ``"exclude"`` (default) excludes the parcel with
      the reason "<target> unknown (no data) / <目标>未知（无数据）"; ``"keep"`` keeps it
      (the comparison is not triggered).  ``missing`` does not apply to distances or builtins.
    """

    criterion: str | None = None
    column: str | None = None
    measure: GeometryMeasure | None = None
    builtin: Literal["unreachable", "inside_hazard"] | None = None
    op: Op | None = None
    value: float | str | bool | None = None
    missing: MissingPolicy = "exclude"
    reason_en: str | None = None
    reason_zh: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Constraint:
        targets = [t for t in ("criterion", "column", "measure", "builtin")
                   if getattr(self, t) is not None]
        if len(targets) != 1:
            raise bad_value(f"a constraint needs exactly one target, got {targets or 'none'}",
                            'give one of criterion = "slope", column = "...", measure = "area_ha" '
                            'or builtin = "unreachable" / "inside_hazard".')
        if self.builtin is None and (self.op is None or self.value is None):
            raise bad_value("a comparison constraint needs op and value",
                            'add e.g. op = "<", value = 1 (the parcel is excluded when true).')
        if self.builtin is not None and (self.op is not None or self.value is not None):
            raise bad_value(f"builtin = {self.builtin!r} takes no op/value", "remove op and value.")
        if self.builtin is not None and "missing" in self.model_fields_set:
            raise bad_value(f"builtin = {self.builtin!r} takes no missing policy",
                            "remove missing (it applies to comparisons only).")
        return self

    def is_distance(self, criteria: Sequence[object]) -> bool:
        """Tell whether the target is a walking distance or time.

        Their NaN means "beyond the search limit": a ``distance`` criterion, a
        ``dist_<class>_m``/``time_<class>_min`` column.  ``criteria`` are the study's criteria.
        """
        if self.criterion is not None:
            return any(isinstance(c, DistanceCriterion) and c.name == self.criterion
                       for c in criteria)
        return self.column is not None and DISTANCE_COLUMN_RE.match(self.column) is not None

    @property
    def target(self) -> str:
        """What the constraint compares: the criterion, column, measure or builtin name."""
        return next(str(getattr(self, t)) for t in ("criterion", "column", "measure", "builtin")
                    if getattr(self, t) is not None)

    def reasons(self) -> tuple[str, str]:
        """Return the English and Chinese exclusion reasons (generated when not configured)."""
        if self.builtin == "unreachable":
            en, zh = "cannot reach the street network", "无法接入步行路网"
        elif self.builtin == "inside_hazard":
            en, zh = "inside a hazard area", "位于灾害风险区内"
        else:
            en = zh = f"{self.target} {self.op} {self.value}"
        return self.reason_en or en, self.reason_zh or zh


__all__ = [
    "CRITERION_KINDS", "DISTANCE_COLUMN_RE", "RESERVED_NAMES", "AccessCriterion",
    "AttributeCriterion", "Constraint", "CountCriterion", "Criterion", "DistanceCriterion",
    "GeometryCriterion", "GeometryMeasure", "LifeCircleCriterion", "MissingPolicy", "NetworkCriterion", "Op",
    "RasterCriterion", "SlopeCriterion", "Weights", "ZonalStat",
]
