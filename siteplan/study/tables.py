"""The tables of a study file and the queries every stage asks of them.

:class:`StudyTables` holds the sections of a study (:mod:`siteplan.study.sections`,
:mod:`siteplan.study.criteria`) and answers the questions the stages ask: which classes need
distances, at which radii, how to read each input (:meth:`StudyTables.input_layer`).
:class:`siteplan.study.model.Study` builds on it with the defaults and the checks across
tables (:mod:`siteplan.study.checks`), which read these queries.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, PrivateAttr
from pyproj import CRS

from siteplan.core.errors import ConfigError, InputError
from siteplan.core.i18n import _
from siteplan.io.inputs import InputLayer
from siteplan.study.ahp import AHPResult, normalise_weights
from siteplan.study.criteria import (
    Constraint,
    CountCriterion,
    Criterion,
    LifeCircleCriterion,
    NetworkCriterion,
    Weights,
)
from siteplan.study.fields import ConfigModel, Name
from siteplan.study.sections import (
    Catchments,
    Compliance,
    Coverage,
    CRSSection,
    FacilityClass,
    Inputs,
    LayerSource,
    NetworkSection,
    Outputs,
    Programme,
    Robustness,
    Scenario,
    StudySection,
)


class StudyTables(ConfigModel):
    """The tables of a study file and the queries on them, without the checks across tables.

    :class:`siteplan.study.model.Study` adds the defaults and the cross-checks; build a study
    with :func:`siteplan.study.model.load_study` or ``Study.model_validate``.
    """

    study: StudySection
    inputs: Inputs = Field(default_factory=lambda: Inputs())
    crs: CRSSection = Field(default_factory=lambda: CRSSection())
    network: NetworkSection = Field(default_factory=lambda: NetworkSection())
    classes: dict[Name, FacilityClass] = Field(default_factory=dict)
    catchments: Catchments = Field(default_factory=lambda: Catchments())
    coverage: Coverage = Field(default_factory=lambda: Coverage())
    criteria: list[Criterion] = Field(default_factory=list)
    weights: Weights = Field(default_factory=lambda: Weights())
    constraints: list[Constraint] = Field(default_factory=list)
    programme: Programme = Field(default_factory=lambda: Programme())
    compliance: Compliance = Field(default_factory=lambda: Compliance())
    outputs: Outputs = Field(default_factory=lambda: Outputs())
    robustness: Robustness | None = None
    scenarios: list[Scenario] = Field(default_factory=list)

    _source: str | None = PrivateAttr(default=None)
    _ahp: AHPResult | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> str | None:
        """The TOML file this study was read from (None when built from a dict)."""
        return self._source

    def input_files(self) -> list[str]:
        """List every file the study reads: its inputs and the TOML itself.

        No output may overwrite them.
        """
        return [*self.inputs.paths(), *([self._source] if self._source else [])]

    def input_layer(self, source: LayerSource | str, kind: str) -> InputLayer:
        """Describe how to read one of the study's inputs.

        The layer's own settings win over the study's ``[crs]`` ones (``input``, ``encoding``,
        ``coord_system``); an encoding set nowhere trusts the file itself.

        Parameters
        ----------
        source
            One of the study's inputs (``study.inputs.streets``, a hazard layer...), or a path.
        kind
            What the layer is for, named in messages (``"hazard layer"``).

        Returns
        -------
        InputLayer
            The path and how to read it: layer, CRS, encoding, coordinate system, columns.

        Examples
        --------
        >>> from siteplan import Study
        >>> study = Study.model_validate({"study": {"name": "t"}, "crs": {"encoding": "gbk"}})
        >>> study.input_layer("roads.shp", "street layer").encoding
        'gbk'
        """
        src = source if isinstance(source, LayerSource) else LayerSource(path=str(source))
        return InputLayer(src.path, kind=kind, layer=src.layer, crs=src.crs or self.crs.input,
                          encoding=src.encoding or self.crs.encoding,
                          coord_system=src.coord_system or self.crs.coord_system,
                          lon_column=src.lon_column, lat_column=src.lat_column)

    def hazard_layers(self) -> list[InputLayer]:
        """Describe the hazard layers of ``inputs.hazards`` (for ``inside_hazard``)."""
        return [self.input_layer(h, "hazard layer") for h in self.inputs.hazards]

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
        """Return the criterion called ``name`` (KeyError if none)."""
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

    def uses_life_circles(self) -> bool:
        """Whether a run measures life-circle completeness (:mod:`siteplan.access.lifecircle`).

        It does for ``[study] life_circle = "gb50180"`` and for a ``life_circle`` criterion.
        """
        return self.study.life_circle == "gb50180" or any(
            isinstance(c, LifeCircleCriterion) for c in self.criteria)

    def criterion_radius(self, criterion: Criterion) -> float | None:
        """Return the radius a network criterion uses: its own, else its class's (or None)."""
        if not isinstance(criterion, NetworkCriterion):
            return None
        if criterion.radius_m is not None:
            return criterion.radius_m
        return self.class_radius(criterion.class_)

    def count_radii(self, name: str) -> list[float]:
        """List the radii (m) at which ``n_<name>_<r>m`` counts are needed, ascending.

        They are the class's count radii and those of the count criteria of the class.
        """
        fc = self.classes.get(name)
        radii = set(fc.count_radii_m or []) if fc else set()
        radii |= {c.radius_m for c in self.criteria
                  if isinstance(c, CountCriterion) and c.class_ == name}
        return sorted(radii)

    def metric_crs(self, lonlat_bounds: tuple[float, float, float, float]) -> CRS:
        """Return the analysis CRS: the configured one, or the UTM / CGCS2000 zone of the bounds."""
        from siteplan.io.crs import metric_crs_for_bounds

        if self.crs.metric == "utm":
            return metric_crs_for_bounds(lonlat_bounds, "utm")
        if self.crs.metric == "cgcs2000":
            return metric_crs_for_bounds(lonlat_bounds, "cgcs2000")
        return CRS.from_user_input(self.crs.metric)

    def tianditu_key(self) -> str | None:
        """Return the Tianditu map key: ``$TIANDITU_KEY`` if set and non-empty, else the file's."""
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
        lines = [_("criteria[{index}].class = {cls!r} (criterion {name!r})").format(
            index=i, cls=c.facility_class, name=c.name) for i, c in bad]
        classes = sorted({str(c.facility_class) for _i, c in bad})
        raise ConfigError(
            _("{criteria}: the facility data has no facilities of this class (classes found: "
              "{found}).").format(criteria=_("; ").join(lines), found=found or _("none")),
            where=self._source or _("study config"),
            fix=_("add facilities of class {classes} (a facility layer in [inputs]), or remove "
                  "the criterion.").format(classes=", ".join(classes)),
        )

    def check_inputs_exist(self) -> None:
        """Raise :class:`InputError` naming every configured input file that does not exist."""
        missing = [p for p in self.inputs.paths() if _missing(p)]
        if missing:
            raise InputError(_("input file(s) not found: {paths}.").format(
                                 paths=", ".join(missing)),
                             where=self._source or _("study config"),
                             fix=_("correct the paths in [inputs] (relative paths are relative "
                                   "to the study file's folder)."))


def _missing(path: str) -> bool:
    """Tell whether nothing is at ``path``.

    A file behind a folder without permission is not missing (reading it reports the
    permission problem instead).
    """
    try:
        Path(path).stat()
    except PermissionError:
        return False
    except OSError:
        return True
    return False


__all__ = ["StudyTables"]
