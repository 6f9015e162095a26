"""Field types shared by the study config models: names, radii, paths, encodings.

Each type validates one kind of value and says how to fix a bad one (:func:`bad_value`, which
:mod:`siteplan.study.errors` turns into the ``Fix:`` of a ConfigError).  :class:`ConfigModel` is
the base of every table of the study file: unknown keys and values of the wrong TOML type are
refused, not ignored or coerced.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo
from pydantic_core import PydanticCustomError
from pyproj import CRS
from pyproj.exceptions import CRSError

from siteplan.core.defaults import MIN_RADIUS_M
from siteplan.core.i18n import _
from siteplan.io.inputs import CoordSystem

# A radius beyond 50 km is not a walking radius; it is almost always a unit slip (m vs km).
MAX_RADIUS_M = 50_000.0

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_URL_RE = re.compile(r"^(postgres(ql)?(\+\w+)?://|PG:)", re.IGNORECASE)


def is_database_url(v: str) -> bool:
    """Whether an input names a database (``postgresql://...``, ``PG:...``), not a file."""
    return _URL_RE.match(v) is not None


def bad_value(what: str, fix: str) -> PydanticCustomError:
    """Make a validation error that :mod:`siteplan.study.errors` reports as ``what``, ``fix``."""
    return PydanticCustomError("siteplan_config", what, {"fix": fix})


def _check_name(v: str) -> str:
    """Refuse a name that cannot be part of a column name."""
    if not _NAME_RE.match(v):
        raise bad_value(_("{value!r} is not a valid name").format(value=v),
                        _("use lower-case letters, digits and underscores, starting with a "
                          "letter (it becomes part of column names such as dist_<class>_m)."))
    return v


def _check_radius(v: float) -> float:
    """Refuse a radius that is not positive or is more than 50 km."""
    if not v > 0:
        raise bad_value(_("radius {radius:g} m is not positive").format(radius=v),
                        _("give a walking radius in metres, > 0."))
    if v > MAX_RADIUS_M:
        raise bad_value(_("radius {radius:g} m is more than 50 km").format(radius=v),
                        _("radii are in metres: 1 km is 1000, not 1000000 (did you mean km?)."))
    return v


def _check_walk_radius(v: float) -> float:
    """Refuse a walking radius below 20 m: kilometres typed where metres are meant."""
    if 0 < v < MIN_RADIUS_M:
        raise bad_value(_("radius {radius:g} m is below {minimum:g} m, too short for a walk "
                          "to a facility").format(radius=v, minimum=MIN_RADIUS_M),
                        _("radii are in metres: {radius:g} km is {metres:g} m, so write "
                          "{metres:g}.").format(radius=v, metres=v * 1000))
    return v


def _resolve_path(v: str, info: ValidationInfo) -> str:
    """Resolve a relative path against the config file's folder; leave database URLs alone."""
    if is_database_url(v):
        return v
    base = (info.context or {}).get("base_dir")
    p = Path(v).expanduser()
    if base is not None and not p.is_absolute():
        p = Path(base) / p
    return os.path.normpath(p)


Name = Annotated[str, AfterValidator(_check_name)]
Radius = Annotated[float, AfterValidator(_check_radius)]
#: A walking radius to facilities (classes, criteria, compliance, rings): also at least 20 m.
WalkRadius = Annotated[float, AfterValidator(_check_radius), AfterValidator(_check_walk_radius)]
PathStr = Annotated[str, Field(min_length=1), AfterValidator(_resolve_path)]


def _check_encoding(v: str | None) -> str | None:
    """Refuse a text encoding Python does not know."""
    if v is not None:
        try:
            codecs.lookup(v)
        except LookupError:
            raise bad_value(_("unknown text encoding {value!r}").format(value=v),
                            _('use e.g. "utf-8", "gbk" or "gb18030".')) from None
    return v


Encoding = Annotated[str, AfterValidator(_check_encoding)]


def _known_crs(v: str) -> str:
    """Refuse a CRS pyproj does not know."""
    try:
        CRS.from_user_input(v)
    except CRSError:
        raise bad_value(_("{value!r} is not a CRS pyproj knows").format(value=v),
                        _('write it as "EPSG:4326" (WGS84) or "EPSG:4490" (CGCS2000).')) from None
    return v


# A declared CRS (for files that do not carry one), checked when the study is read.
DeclaredCRS = Annotated[str, AfterValidator(_known_crs)]


class ConfigModel(BaseModel):
    """Base of every config table: unknown keys are errors; aliases and names both work.

    Strict about types: a number must be a TOML number (``radius_m = "300"`` is refused, not
    read as 300; whole numbers are accepted where decimals are), a yes/no ``true``/``false``
    and text a quoted string, so a slip in the file is reported instead of guessed at.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


__all__ = [
    "MAX_RADIUS_M", "ConfigModel", "CoordSystem", "Encoding", "Name", "PathStr", "Radius",
    "WalkRadius",
    "bad_value", "is_database_url",
]
