"""Value functions: raw criterion values to 0-100 suitability points.

Every transform is a small pydantic model (so a study TOML can declare it inline, e.g.
``transform = { type = "step", steps = [[300, 100], [500, 60]], otherwise = 0 }``) with an
:meth:`apply` method that maps a whole array at once.

Missing raw values (NaN: a facility not reachable within the search limit, a parcel outside a
raster) always get **0 points**.  An unknown value is never treated as a good one: a parcel that
cannot reach any school must not outscore one 900 m from a school.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from siteplan.study.fields import bad_value

Points = Annotated[float, Field(ge=0, le=100)]


def _pair(v: object) -> object:
    """Read a TOML list as a tuple: a step ``[300, 100]`` (strict mode wants a tuple)."""
    return tuple(v) if isinstance(v, list) else v


Step = Annotated[tuple[float, Points], BeforeValidator(_pair)]


def _as_float(raw: object) -> np.ndarray:
    """Raw values as a float array; booleans become 0/1, ``None`` and pandas NA become NaN."""
    # pandas is imported here, not at the top: reading a study file must not load it.
    import pandas as pd

    out: np.ndarray
    if isinstance(raw, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
        out = pd.Series(raw).to_numpy(dtype=float, na_value=np.nan)
        return out
    arr = np.asarray(raw)
    if arr.dtype == object:
        flat = pd.Series(arr.ravel()).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        out = flat.reshape(arr.shape)
        return out
    return arr.astype(float)


class _Transform(BaseModel):
    """Base of the value functions: ``apply`` maps raw values to points, ``describe`` words it."""

    # Strict like the study models (siteplan.study.fields.ConfigModel): best = "300" is an
    # error naming the key, not a silently coerced number.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    def apply(self, raw: object) -> np.ndarray:  # pragma: no cover - overridden
        """Map raw values (any array-like; NaN, None and NA are missing) to 0-100 points.

        Every transform overrides this; missing values always get 0 points.
        """
        del raw  # the base has no rule to map values with
        raise TypeError("abstract transform")

    def describe(self) -> str:  # pragma: no cover - overridden
        """Word the transform for the output metadata (every transform overrides this)."""
        raise TypeError("abstract transform")


class LinearTransform(_Transform):
    """100 points at ``best``, 0 points at ``worst``, straight line between, clipped outside.

    ``best`` may be below ``worst`` (distances: nearer is better) or above it (counts, areas).
    """

    type: Literal["linear"] = "linear"
    best: float
    worst: float

    @model_validator(mode="after")
    def _distinct(self) -> LinearTransform:
        if self.best == self.worst:
            raise bad_value(
                f"linear transform has best == worst == {self.best}",
                "give two different breakpoints, e.g. best = 0, worst = 1000.",
            )
        return self

    def apply(self, raw: object) -> np.ndarray:
        """Map raw values to points along the line, clipped to 0-100; missing values get 0."""
        x = _as_float(raw)
        pts = 100.0 * (x - self.worst) / (self.best - self.worst)
        return np.where(np.isnan(x), 0.0, np.clip(pts, 0.0, 100.0))

    def describe(self) -> str:
        """Word the transform, e.g. ``linear: 300 → 100, 800 → 0``."""
        return f"linear: {self.best:g} → 100, {self.worst:g} → 0"


class StepTransform(_Transform):
    """A step table: the first step whose threshold the value meets gives the points.

    With ``op = "<="`` (default, for distances) thresholds must increase: ``[[300, 100],
    [500, 60]]`` reads "≤ 300 → 100, else ≤ 500 → 60, else ``otherwise``".  With
    ``op = ">="`` (for counts, areas) thresholds must decrease: ``[[3, 100], [1, 50]]``.
    """

    type: Literal["step"] = "step"
    steps: list[Step] = Field(min_length=1)
    op: Literal["<=", "<", ">=", ">"] = "<="
    otherwise: Points = 0.0

    @model_validator(mode="after")
    def _ordered(self) -> StepTransform:
        t = np.array([s[0] for s in self.steps], dtype=float)
        if not np.all(np.isfinite(t)):
            raise bad_value("step thresholds must be finite numbers", "remove inf/nan thresholds.")
        ascending = self.op in ("<=", "<")
        ok = np.all(np.diff(t) > 0) if ascending else np.all(np.diff(t) < 0)
        if not ok:
            order = "increasing" if ascending else "decreasing"
            raise bad_value(
                f"step thresholds {t.tolist()} must be strictly {order} for op {self.op!r}",
                f"list the steps with {order} thresholds, the most demanding step first.",
            )
        return self

    def apply(self, raw: object) -> np.ndarray:
        """Give each raw value the points of the first step it meets; missing values get 0."""
        x = _as_float(raw)
        t = np.array([s[0] for s in self.steps], dtype=float)
        p = np.array([s[1] for s in self.steps] + [self.otherwise], dtype=float)
        # Index of the first step met; thresholds are sorted, so searchsorted finds it.
        if self.op == "<=":
            idx = np.searchsorted(t, x, side="left")
        elif self.op == "<":
            idx = np.searchsorted(t, x, side="right")
        elif self.op == ">=":
            idx = np.searchsorted(-t, -x, side="left")
        else:
            idx = np.searchsorted(-t, -x, side="right")
        out = p[np.minimum(idx, len(t))]
        return np.where(np.isnan(x), 0.0, out)

    def describe(self) -> str:
        """Word the transform, e.g. ``step: <= 300 → 100, <= 500 → 50, else 0``."""
        parts = [f"{self.op} {th:g} → {pt:g}" for th, pt in self.steps]
        return "step: " + ", ".join(parts) + f", else {self.otherwise:g}"


class LogisticTransform(_Transform):
    """Smooth decay: ``100 / (1 + exp(steepness * (x - midpoint)))``.

    50 points at ``midpoint``.  ``steepness`` is per unit of the raw value (per metre for
    distances); ``direction = "increasing"`` mirrors the curve for "more is better".
    """

    type: Literal["logistic"] = "logistic"
    midpoint: float
    steepness: float = Field(gt=0)
    direction: Literal["decreasing", "increasing"] = "decreasing"

    def apply(self, raw: object) -> np.ndarray:
        """Map raw values to points along the logistic curve; missing values get 0."""
        x = _as_float(raw)
        sign = 1.0 if self.direction == "decreasing" else -1.0
        z = np.clip(sign * self.steepness * (x - self.midpoint), -700.0, 700.0)
        return np.where(np.isnan(x), 0.0, 100.0 / (1.0 + np.exp(z)))

    def describe(self) -> str:
        """Word the transform, e.g. ``logistic decreasing: 50 at 1000, steepness 0.005``."""
        return f"logistic {self.direction}: 50 at {self.midpoint:g}, steepness {self.steepness:g}"


class IdealRangeTransform(_Transform):
    """A plateau of 100 points between ``low`` and ``high``, falling linearly to 0 outside.

    The points reach 0 at ``zero_below`` and ``zero_above`` (leave one out for a one-sided
    shoulder: then values on that side keep 100).
    """

    type: Literal["ideal"] = "ideal"
    low: float
    high: float
    zero_below: float | None = None
    zero_above: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> IdealRangeTransform:
        lo = self.zero_below if self.zero_below is not None else self.low
        hi = self.zero_above if self.zero_above is not None else self.high
        if not (lo <= self.low <= self.high <= hi):
            raise bad_value(
                "ideal range needs zero_below <= low <= high <= zero_above, got "
                f"{self.zero_below}, {self.low}, {self.high}, {self.zero_above}",
                "order the four breakpoints from small to large.",
            )
        return self

    def apply(self, raw: object) -> np.ndarray:
        """Map raw values to the plateau and its shoulders; missing values get 0."""
        x = _as_float(raw)
        pts = np.full(x.shape, 100.0)
        if self.zero_below is not None and self.zero_below < self.low:
            below = x < self.low
            pts[below] = 100.0 * (x[below] - self.zero_below) / (self.low - self.zero_below)
        elif self.zero_below is not None:
            pts[x < self.low] = 0.0
        if self.zero_above is not None and self.zero_above > self.high:
            above = x > self.high
            pts[above] = 100.0 * (self.zero_above - x[above]) / (self.zero_above - self.high)
        elif self.zero_above is not None:
            pts[x > self.high] = 0.0
        return np.where(np.isnan(x), 0.0, np.clip(pts, 0.0, 100.0))

    def describe(self) -> str:
        """Word the transform, e.g. ``ideal: 100 in [2, 10], 0 at 1.0 / 30.0``."""
        return (
            f"ideal: 100 in [{self.low:g}, {self.high:g}], 0 at "
            f"{self.zero_below if self.zero_below is not None else '-'} / "
            f"{self.zero_above if self.zero_above is not None else '-'}"
        )


class BooleanTransform(_Transform):
    """``true_points`` where the raw value is true (non-zero), ``false_points`` elsewhere."""

    type: Literal["boolean"] = "boolean"
    true_points: Points = 100.0
    false_points: Points = 0.0

    def apply(self, raw: object) -> np.ndarray:
        """Give true (non-zero) values ``true_points``, others ``false_points``, missing 0."""
        x = _as_float(raw)
        out = np.where(x != 0, self.true_points, self.false_points)
        return np.where(np.isnan(x), 0.0, out).astype(float)

    def describe(self) -> str:
        """Word the transform, e.g. ``boolean: true → 100, false → 0``."""
        return f"boolean: true → {self.true_points:g}, false → {self.false_points:g}"


Transform = Annotated[
    LinearTransform | StepTransform | LogisticTransform | IdealRangeTransform | BooleanTransform,
    Field(discriminator="type"),
]

TRANSFORM_TYPES = ("linear", "step", "logistic", "ideal", "boolean")

__all__ = [
    "BooleanTransform",
    "IdealRangeTransform",
    "LinearTransform",
    "LogisticTransform",
    "StepTransform",
    "TRANSFORM_TYPES",
    "Transform",
]
