"""Messages in English or Chinese, from one gettext catalogue.

Messages are marked ``_("... {name} ...")`` and filled in with ``.format(name=...)`` after
translation, so that the catalogue holds whole sentences with named placeholders (word order
differs between the two languages).  The catalogue is ``siteplan/locale/zh_CN/LC_MESSAGES/
siteplan.po`` and its compiled ``siteplan.mo`` (``make messages`` extracts, updates and compiles
them with Babel; at run time only the standard library's :mod:`gettext` reads the ``.mo``).

A message is translated when it is made, in the language set then: the command line sets it
first thing (``--lang``, else ``SITEPLAN_LANG``, else the locale); the Python API stays in
English unless :func:`set_language` says otherwise, so that its results do not depend on the
machine's locale.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Literal

Language = Literal["en", "zh"]
#: The languages messages can be shown in.
LANGUAGES: tuple[Language, ...] = ("en", "zh")
#: The gettext domain and the folder of its catalogues.
DOMAIN = "siteplan"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
#: The catalogue of each language (English is the source text).
_CATALOGUE_LOCALE = {"zh": "zh_CN"}
#: Where the language comes from when ``--lang`` is not given, first set wins (gettext's order).
LOCALE_VARIABLES = ("SITEPLAN_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_current: Language = "en"


@cache
def _translations(language: Language) -> gettext.NullTranslations:
    """Load a language's compiled catalogue once (English: the messages as written)."""
    locale = _CATALOGUE_LOCALE.get(language)
    if locale is None:
        return gettext.NullTranslations()
    # fallback=False: a package without its catalogue is broken, not English.
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[locale])


def parse_language(value: str) -> Language | None:
    """Read a language name or locale (``zh``, ``zh_CN.UTF-8``, ``en_US``, ``C``).

    Returns None for a value that names neither language.

    Examples
    --------
    >>> parse_language("zh_CN.UTF-8"), parse_language("en"), parse_language("C")
    ('zh', 'en', 'en')
    >>> parse_language("fr_FR") is None
    True
    """
    head = value.strip().split(":")[0].lower().replace("-", "_")
    if head.startswith("zh"):
        return "zh"
    if head.startswith("en") or head.split(".")[0] in ("c", "posix"):
        return "en"
    return None


def detect_language(environ: Mapping[str, str] | None = None) -> Language:
    """Choose the language from the environment: ``SITEPLAN_LANG``, then the locale.

    The first of :data:`LOCALE_VARIABLES` that is set decides, as in gettext: a Chinese locale
    (``zh_CN.UTF-8``, ``zh_TW``...) gives Chinese, anything else English.

    Examples
    --------
    >>> detect_language({"LANG": "zh_CN.UTF-8"})
    'zh'
    >>> detect_language({"SITEPLAN_LANG": "en", "LANG": "zh_CN.UTF-8"})
    'en'
    >>> detect_language({})
    'en'
    """
    env = os.environ if environ is None else environ
    for name in LOCALE_VARIABLES:
        value = env.get(name, "")
        if value:
            return parse_language(value) or "en"
    return "en"


def set_language(language: str) -> Language:
    """Show messages made from now on in ``language`` (``"en"`` or ``"zh"``); return the old one.

    Examples
    --------
    >>> old = set_language("zh")
    >>> _("warning: {message}").format(message="...")
    '警告：...'
    >>> previous = set_language(old)
    """
    global _current
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    old, _current = _current, language
    _translations(_current)  # fail here, not in the middle of an error message
    return old


def language() -> Language:
    """Return the language messages are made in now."""
    return _current


@contextmanager
def using_language(lang: str) -> Iterator[None]:
    """Make messages in ``lang`` inside the block (the command line's run of one command).

    Examples
    --------
    >>> with using_language("zh"):
    ...     _("error: {message}").format(message="...")
    '错误：...'
    >>> _("error: {message}").format(message="...")
    'error: ...'
    """
    old = set_language(lang)
    try:
        yield
    finally:
        set_language(old)


def _(message: str) -> str:
    """Translate ``message`` into the current language (the marker the catalogue is made from).

    Examples
    --------
    >>> _("{path} does not exist.").format(path="study.toml")
    'study.toml does not exist.'
    """
    return _translations(_current).gettext(message)


def pgettext(context: str, message: str) -> str:
    """Translate a short ``message`` whose sense ``context`` gives (a step name, a header).

    Examples
    --------
    >>> with using_language("zh"):
    ...     pgettext("step", "network")
    '构建路网'
    """
    return _translations(_current).pgettext(context, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message whose English form depends on a count ``n``.

    Examples
    --------
    >>> ngettext("{n} problem:", "{n} problems:", 2).format(n=2)
    '2 problems:'
    """
    return _translations(_current).ngettext(singular, plural, n)


__all__ = ["LANGUAGES", "Language", "_", "detect_language", "language", "ngettext",
           "parse_language", "pgettext", "set_language", "using_language"]
