"""The message catalogue: complete, current, consistent, and what the package ships.

The marked messages (``_()``, ``ngettext``, ``pgettext`` under siteplan/) are extracted with
Babel as ``make messages`` does; the Chinese ``.po`` must hold exactly those, each translated,
with the same placeholders and the same study keys, options and commands as the English; and the
committed ``.mo`` (what gettext reads at run time) must be the compilation of the ``.po``.
"""

from __future__ import annotations

import io
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from siteplan.core import i18n

ROOT = Path(__file__).resolve().parents[1]
LC = ROOT / "siteplan" / "locale" / "zh_CN" / "LC_MESSAGES"
PO, MO = LC / "siteplan.po", LC / "siteplan.mo"
# The keywords of `make messages` (pybabel extract -k ...).
KEYWORDS = {"_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
# What a translation must keep as written: study tables and keys, options, commands, values in
# quotes, file names.
_LITERALS = re.compile(r"\[\[?[a-z_.{}<>\[\]]+\]\]?|--[a-z][a-z0-9-]*|\b[a-z_]+ =|"
                       r"siteplan [a-z-]+|\"[^\"{}]*\"|\b[\w.-]+\.(?:toml|gpkg|tif|md|osm|pbf)\b")


def _catalogue():
    with PO.open("rb") as fh:
        return read_po(fh)


def _key(message_id, context):
    return (context or "", message_id if isinstance(message_id, str) else message_id[0])


def _marked() -> set[tuple[str, str]]:
    """Every message marked in the code, as ``(context, msgid)``."""
    out = set()
    for _file, _line, msg, _comments, context in extract_from_dir(
            str(ROOT / "siteplan"), keywords=KEYWORDS, comment_tags=()):
        out.add(_key(msg, context))
    return out


def _fields(text: str) -> list[str]:
    """The placeholders of a format string, with their conversions and formats, sorted."""
    return sorted(f"{name}!{conv}:{spec}" for _lit, name, spec, conv
                  in string.Formatter().parse(text) if name is not None)


def test_every_marked_message_is_in_the_catalogue_and_nothing_stale():
    in_po = {_key(m.id, m.context) for m in _catalogue() if m.id}
    marked = _marked()
    assert marked, "no message is marked: the extraction found nothing"
    assert sorted(marked - in_po) == [], "new messages: run `make messages` and translate them"
    assert sorted(in_po - marked) == [], "stale messages: run `make messages`"


def test_every_message_has_a_chinese_translation_with_the_same_placeholders():
    entries = [m for m in _catalogue() if m.id]
    assert len(entries) > 100
    for m in entries:
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(strings), f"untranslated: {ids[0]!r}"
        assert "fuzzy" not in m.flags, f"fuzzy (check it, then drop the flag): {ids[0]!r}"
        for text in strings:
            assert _fields(text) == _fields(ids[0]), f"placeholders differ: {ids[0]!r}"
            assert sorted(_LITERALS.findall(text)) == sorted(_LITERALS.findall(ids[0])), \
                f"study keys, options or quoted values differ: {ids[0]!r} -> {text!r}"


def test_translations_are_chinese_text():
    # Not English copied over: every sentence-length translation holds CJK characters.
    for m in _catalogue():
        if m.id and len(m.id) > 12 and not m.id.startswith("{"):
            assert re.search(r"[\u4e00-\u9fff]", m.string), m.id


def test_the_shipped_mo_is_the_compiled_po():
    buf = io.BytesIO()
    write_mo(buf, _catalogue())
    assert MO.read_bytes() == buf.getvalue(), "the .mo is out of date: run `make messages`"


def test_a_placeholder_test_would_catch_a_broken_translation():
    # The checks above on a translation that drops a placeholder and renames a key.
    assert _fields("radius {radius:g} m") != _fields("半径 米")
    assert _LITERALS.findall("set [network] search_limit_m = 1") != \
        _LITERALS.findall("设置 [network] search_limit = 1")


def test_language_from_the_environment():
    assert i18n.detect_language({"LANG": "zh_CN.UTF-8"}) == "zh"
    assert i18n.detect_language({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}) == "zh"
    assert i18n.detect_language({"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert i18n.detect_language({"LANGUAGE": "zh_CN:en", "LANG": "en_US.UTF-8"}) == "zh"
    assert i18n.detect_language({"SITEPLAN_LANG": "en", "LC_ALL": "zh_CN.UTF-8"}) == "en"
    assert i18n.detect_language({"LANG": "fr_FR.UTF-8"}) == "en"
    assert i18n.detect_language({}) == "en"


def test_messages_follow_the_language_set_and_the_api_stays_english():
    assert i18n.language() == "en"
    with i18n.using_language("zh"):
        assert i18n._("the study file does not exist.") == "研究配置文件不存在。"
        assert i18n.pgettext("step", "network") == "构建路网"
    assert i18n._("the study file does not exist.") == "the study file does not exist."
    with pytest.raises(ValueError, match="en, zh"):
        i18n.set_language("fr")


def test_every_step_the_code_reports_has_a_label():
    """A step added to the pipeline is shown in the user's language, not as its code name."""
    from siteplan.cli.app import _step_labels

    root = Path(__file__).resolve().parents[1] / "siteplan"
    used = {m for p in root.rglob("*.py")
            for m in re.findall(r'\bstep\("([^"]+)"\)', p.read_text(encoding="utf-8"))}
    assert used and used <= set(_step_labels()), sorted(used - set(_step_labels()))
