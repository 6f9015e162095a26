"""The study configuration: one TOML file, one typed model.

A study file says where the inputs are, which facility classes matter and at which walking radii,
how parcels are scored (criteria, transforms, weights, hard constraints), the programme ratios
and what to write.  :func:`load_study` reads and validates it; every problem is reported as a
:class:`~siteplan.core.errors.ConfigError` naming the key (``criteria[2].weight``), the value and the
fix.  Relative paths resolve against the folder of the TOML file.

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
            classes[name] = {**entry, "radius_m": radius, "source": entry.get("source", SEED_SOURCE)}
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
    :class:`~siteplan.study.tables.StudyTables`.
    """

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


__all__ = ["Study", "load_study"]
