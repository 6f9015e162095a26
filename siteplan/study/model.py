"""The study configuration: one TOML file, one typed model.

A study file says where the inputs are, which facility classes matter and at which walking radii,
how parcels are scored (criteria, transforms, weights, hard constraints), the programme ratios
and what to write.  :func:`load_study` reads and validates it; every problem is reported as a
:class:`~siteplan.core.errors.ConfigError` naming the key (``criteria[2].weight``), the value and the
fix.  Relative paths resolve against the folder of the TOML file.

Defaults that carry planning meaning name their source next to them: the seed clause 三(二)8 of
the Shanxi 好房子 pilot (kindergarten 300 m, primary school 500 m, middle school 1000 m; programme
ratios) and GB 50180-2018 (5/10/15-minute life circles: 300/500/1000 m walking).

This module holds :class:`Study` (the whole file, its defaults and queries) and
:func:`load_study`.  The tables it is made of live in :mod:`siteplan.study.sections`,
:mod:`siteplan.study.criteria` (criteria, weights, constraints) and
:mod:`siteplan.study.fields` (shared field types); checks across tables are in
:mod:`siteplan.study.checks` and the error messages in :mod:`siteplan.study.errors`.  Every
model is importable from here as well.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from pyproj import CRS

from siteplan.access.distances import count_column, distance_column
from siteplan.core.errors import ConfigError, InputError
from siteplan.facilities.rules import CLASSES as KNOWN_CLASSES
from siteplan.scoring.compliance import GB50180_CIRCLES_M, GB50180_SOURCE, SEED_RADII_M, SEED_SOURCE
from siteplan.study.ahp import AHPResult, ahp_weights, normalise_weights
from siteplan.study.checks import cross_check
from siteplan.study.criteria import (
    CRITERION_KINDS,
    RESERVED_NAMES,
    AccessCriterion,
    AttributeCriterion,
    Constraint,
    CountCriterion,
    Criterion,
    DistanceCriterion,
    GeometryCriterion,
    GeometryMeasure,
    NetworkCriterion,
    Op,
    RasterCriterion,
    SlopeCriterion,
    Weights,
    ZonalStat,
)
from siteplan.study.errors import config_error_from_validation, toml_error
from siteplan.study.fields import (
    MAX_RADIUS_M,
    ConfigModel,
    CoordSystem,
    Encoding,
    Name,
    PathStr,
    Radius,
)
from siteplan.study.sections import (
    OUTPUT_FORMATS,
    Catchments,
    Compliance,
    CRSSection,
    FacilityClass,
    FacilityLayer,
    Inputs,
    NetworkSection,
    OutputFormat,
    Outputs,
    ParcelFields,
    ParcelInput,
    Programme,
    StudySection,
)


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


class Study(ConfigModel):
    """A whole study configuration.  Build it with :func:`load_study` or
    :meth:`Study.model_validate` (both raise :class:`~siteplan.core.errors.ConfigError`)."""

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

    def input_files(self) -> list[str]:
        """Every file the study reads: its inputs and the TOML itself (what no output may
        overwrite)."""
        return [*self.inputs.paths(), *([self._source] if self._source else [])]

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
        if not isinstance(criterion, NetworkCriterion):
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
        from siteplan.io.crs import metric_crs_for_bounds

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
        missing = [p for p in self.inputs.paths() if _missing(p)]
        if missing:
            raise InputError(f"input file(s) not found: {', '.join(missing)}.",
                             where=self._source or "study config",
                             fix="correct the paths in [inputs] (relative paths are relative to "
                             "the study file's folder).")


def _missing(path: str) -> bool:
    """True if nothing is at ``path``; a file behind a folder without permission is not
    missing (reading it reports the permission problem instead)."""
    try:
        Path(path).stat()
    except PermissionError:
        return False
    except OSError:
        return True
    return False


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


__all__ = [
    "AccessCriterion", "AttributeCriterion", "CRITERION_KINDS", "Catchments", "Compliance",
    "Constraint", "CountCriterion", "Criterion", "DistanceCriterion", "FacilityClass",
    "FacilityLayer", "GB50180_CIRCLES_M", "GeometryCriterion", "Inputs", "KNOWN_CLASSES",
    "NetworkSection", "Outputs", "ParcelFields", "ParcelInput", "Programme", "RasterCriterion",
    "SEED_RADII_M", "SlopeCriterion", "Study", "StudySection", "Weights", "count_column",
    "distance_column", "load_study",
    # Also importable from here (their homes: config_fields, config_criteria, config_sections,
    # compliance, access, facility_rules):
    "CRSSection", "ConfigModel", "CoordSystem", "Encoding", "GB50180_SOURCE", "GeometryMeasure",
    "MAX_RADIUS_M", "Name", "NetworkCriterion", "OUTPUT_FORMATS", "Op", "OutputFormat",
    "PathStr", "RESERVED_NAMES", "Radius", "SEED_SOURCE", "ZonalStat",
]
