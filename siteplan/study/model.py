"""The study configuration: one TOML file, one typed model.

A study file says where the inputs are, which facility classes matter and at which walking radii,
how parcels are scored (criteria, transforms, weights, hard constraints), the programme ratios
and what to write.  :func:`load_study` reads and validates it; every problem is reported as a
:class:`~siteplan.core.errors.ConfigError` naming the key (``criteria[2].weight``), the value and
the fix.  Relative paths resolve against the folder of the TOML file.

Defaults that carry planning meaning name their source next to them: the seed clause 三(二)8 of
the Shanxi 好房子 pilot (kindergarten 300 m, primary school 500 m, middle school 1000 m; programme
ratios) and GB 50180-2018 (5/10/15-minute life circles: 300/500/1000 m walking).

This module holds :class:`Study` and :func:`load_study`.  The tables a study is made of
and the queries on them live in :mod:`siteplan.study.tables`, :mod:`siteplan.study.sections`,
:mod:`siteplan.study.criteria` (criteria, weights, constraints) and
:mod:`siteplan.study.fields` (shared field types); checks across tables are in
:mod:`siteplan.study.checks` and the error messages in :mod:`siteplan.study.errors`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator
from pydantic_core import PydanticCustomError

from siteplan.core.defaults import GB50180_CIRCLES_M, SEED_RADII_M, SEED_SOURCE
from siteplan.core.errors import ConfigError
from siteplan.core.i18n import _
from siteplan.study.ahp import ahp_weights
from siteplan.study.checks import cross_check
from siteplan.study.errors import config_error_from_validation, toml_error
from siteplan.study.tables import StudyTables


def _default_classes(data: dict[str, Any]) -> dict[str, Any]:
    """Add the seed classes and the life-circle count radii to the raw ``classes`` table."""
    classes = dict(data.get("classes") or {})
    for name, radius in SEED_RADII_M.items():
        entry = classes.get(name)
        if entry is None:
            classes[name] = {"radius_m": radius, "source": SEED_SOURCE}
        elif isinstance(entry, dict) and "radius_m" not in entry and "life_circle" not in entry:
            classes[name] = {**entry, "radius_m": radius,
                             "source": entry.get("source", SEED_SOURCE)}
    study = data.get("study")
    if isinstance(study, dict) and study.get("life_circle") == "gb50180":
        for name, entry in classes.items():
            if isinstance(entry, dict) and "count_radii_m" not in entry:
                classes[name] = {**entry, "count_radii_m": list(GB50180_CIRCLES_M.values())}
    return classes


class Study(StudyTables):
    """A whole study configuration, with its defaults and the checks across its tables.

    Build it with :func:`load_study` or :meth:`Study.model_validate` (both raise
    :class:`~siteplan.core.errors.ConfigError`).  The queries are those of
    :class:`~siteplan.study.tables.StudyTables`.  Each parameter is one table of the study
    file (:mod:`siteplan.study.sections`, :mod:`siteplan.study.criteria`).

    Parameters
    ----------
    study
        ``[study]``: name, description, boundary, life circles.
    inputs
        ``[inputs]``: streets, facilities, facility layers, parcels, residential land,
        rasters and hazard layers.
    crs
        ``[crs]``: declared input CRS, analysis CRS, coordinate system, encoding.
    network
        ``[network]``: how the walking network is built and searched.
    classes
        ``[classes.<name>]``: each facility class's radius and count radii (the seed classes
        are added with their 三(二)8 radii).
    catchments
        ``[catchments]``: how service areas are drawn.
    coverage
        ``[coverage]``: how residential units, their entrances and residents are counted.
    criteria
        ``[[criteria]]``: what is scored and how.
    weights
        ``[weights]``: direct weights or an AHP matrix.
    constraints
        ``[[constraints]]``: which parcels are excluded.
    programme
        ``[programme]``: the ratios and assumptions of the programme calculator.
    compliance
        ``[compliance]``: the radii of the seed compliance check.
    outputs
        ``[outputs]``: where and what to write.
    robustness
        ``[robustness]``: the weight-sensitivity analysis of the ranking (none by default).
    scenarios
        ``[[scenarios]]``: variants of the direct weights, compared by ``siteplan compare``.

    Examples
    --------
    >>> from siteplan import Study
    >>> study = Study.model_validate({"study": {"name": "demo"}, "criteria": [
    ...     {"name": "kg_walk", "kind": "distance", "class": "kindergarten", "weight": 2},
    ...     {"name": "size", "kind": "geometry", "measure": "area_ha", "weight": 1,
    ...      "transform": {"type": "linear", "best": 5, "worst": 1}}]})
    >>> study.facility_classes()
    ['kindergarten', 'middle_school', 'primary_school']
    >>> {name: round(w, 3) for name, w in study.weights_vector().items()}
    {'kg_walk': 0.667, 'size': 0.333}

    A slip in the file is reported with its key and the fix:

    >>> from siteplan import ConfigError
    >>> try:
    ...     Study.model_validate({"study": {"name": "demo"}, "network": {"max_snap_m": "200"}})
    ... except ConfigError as err:
    ...     print(err.what)
    ...     print(err.fix)
    network.max_snap_m = '200': wrong type: '200' is text, not a number.
    write max_snap_m = 200 without quotes.
    """

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        """Add the seed classes (and life-circle count radii) before validation."""
        if isinstance(data, dict):
            data = {**data, "classes": _default_classes(data)}
        return data

    @model_validator(mode="after")
    def _cross(self) -> Study:
        """Run the checks across tables, then derive the AHP weights."""
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
        relative paths against ``folder``.  The other arguments are pydantic's.
        """
        try:
            study = super().model_validate(obj, strict=strict, from_attributes=from_attributes,
                                           context=context, **kwargs)
        except ValidationError as exc:
            raise config_error_from_validation(exc, obj, cls, source or "study config") from None
        study._source = source
        return study


def load_study(path: str | Path) -> Study:
    """Read and validate a study TOML file.

    Parameters
    ----------
    path
        The ``.toml`` file.  Relative paths inside it resolve against its folder.

    Returns
    -------
    Study
        The validated study, with its defaults.

    Raises
    ------
    ConfigError
        Unreadable file, malformed TOML (with line and column) or invalid settings (each
        naming its key, value and fix).

    Examples
    --------
    >>> from siteplan import load_study
    >>> study = load_study("data/taiyuan/study.toml")
    >>> study.study.name
    '太原中心城区示范 / Taiyuan demo: central districts'
    >>> [c.name for c in study.criteria][:3]
    ['kindergarten_walk', 'primary_school_walk', 'middle_school_walk']
    >>> study.class_radius("hospital")  # life_circle = "15min" (GB 50180-2018)
    1000.0
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        what = (_("the study file does not exist.") if isinstance(exc, FileNotFoundError)
                else _("cannot read the study file ({reason}).").format(reason=exc.strerror))
        raise ConfigError(what, where=str(path), fix=_(
            "check the path of the study file (siteplan run STUDY.toml).")) from exc
    try:
        text = raw.decode("utf-8-sig")  # tolerate the BOM Windows editors add
    except UnicodeDecodeError as exc:
        raise ConfigError(_("the file is not UTF-8 (byte {byte} cannot be decoded).").format(
                          byte=exc.start), where=str(path),
                          fix=_("save the study file as UTF-8 (TOML requires it), e.g. "
                                "iconv -f GBK -t UTF-8.")) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise toml_error(exc, str(path), text) from None
    return Study.model_validate(data, context={"base_dir": path.resolve().parent},
                                source=str(path))


__all__ = ["Study", "load_study"]
