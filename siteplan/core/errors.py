"""Errors that users can act on.

Every error siteplan raises for bad input says what is wrong, where (file, layer, feature, key)
and how to fix it.  The CLI turns :class:`SiteplanError` into one line and exit code 2; anything
else is a bug and exits 1.
"""

from __future__ import annotations

from siteplan.core.i18n import _


class SiteplanError(Exception):
    """Base class for errors caused by the user's input or configuration (CLI exit code 2)."""

    exit_code = 2

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self._message())

    def _message(self) -> str:
        # In the language of the moment the error is made (its what and fix are too).
        text = self.what
        if self.where:
            text = _("{where}: {what}").format(where=self.where, what=text)
        if self.fix:
            text = _("{text} Fix: {fix}").format(text=text, fix=self.fix)
        return text


class InputError(SiteplanError):
    """A data file or layer is missing, unreadable or unusable."""


class ConfigError(SiteplanError):
    """The study configuration is invalid.

    Attributes
    ----------
    problems
        Every problem found, as ``(key, value, what, fix)`` (a file with several mistakes
        reports them all at once); empty for a single problem raised directly.
    lineno, colno
        Where malformed TOML broke off (None otherwise).
    """

    problems: list[tuple[str, object, str, str]]
    lineno: int | None
    colno: int | None

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        super().__init__(what, where=where, fix=fix)
        self.problems = []
        self.lineno = None
        self.colno = None


class NothingRankedError(InputError):
    """A study ran but no parcel could be ranked; the run's result is kept in ``result``."""

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None,
                 result: object = None) -> None:
        super().__init__(what, where=where, fix=fix)
        self.result = result


class NetworkError(SiteplanError):
    """The street network cannot be built or used as asked."""


class SiteplanWarning(UserWarning):
    """Something in the input was repaired or looks suspicious, but the run can go on."""
