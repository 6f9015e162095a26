"""Turn TOML and pydantic validation errors into one readable :class:`ConfigError`.

Each problem names its key as a dotted path (``criteria[2].weight``), the value found and a fix.
Unknown keys get a did-you-mean from the keys allowed at that place.
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from siteplan.core.errors import ConfigError
from siteplan.core.i18n import _
from siteplan.study.checks import Problem, did_you_mean

_MISSING = object()


def format_key(path: list[str | int]) -> str:
    """Write a key path as the study file does.

    ``["criteria", 2, "weight"]`` → ``"criteria[2].weight"``.
    """
    out = ""
    for el in path:
        if isinstance(el, int):
            out += f"[{el}]"
        else:
            out += ("." if out else "") + str(el)
    return out or "(top level)"


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[list[str | int], Any]:
    """Keep the loc elements that index into the input data; return them and the value there.

    Pydantic also puts union member names and discriminator tags into ``loc``.
    """
    path: list[str | int] = []
    node = data
    for k, el in enumerate(loc):
        last = k == len(loc) - 1
        if isinstance(node, dict) and el not in node and el in (node.get("kind"),
                                                                  node.get("type")):
            continue  # a discriminated union's tag, not a key
        if isinstance(node, dict) and el in node:
            path.append(el)
            node = node[el]
        elif isinstance(node, list) and isinstance(el, int) and 0 <= el < len(node):
            path.append(el)
            node = node[el]
        elif last and isinstance(node, dict | type(None)) and isinstance(el, str):
            path.append(el)  # a missing key
            node = _MISSING
    return path, node


def _unwrap(tp: Any, node: Any) -> Any:
    """Strip Annotated/Optional and pick the member of a discriminated union for ``node``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]  # Optional[X]: unwrap X too (it may be Annotated[Union])
                continue
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            if len(models) == 1:
                return models[0]
            for m in models:
                for disc in ("kind", "type"):
                    f = m.model_fields.get(disc)
                    if f is not None and isinstance(node, dict) and \
                            node.get(disc) in typing.get_args(f.annotation):
                        return m
            return None
        else:
            return tp


def _field(model: type[BaseModel], key: str) -> Any:
    """Return the annotation of the field of ``model`` named or aliased ``key`` (None if none)."""
    for name, f in model.model_fields.items():
        if key in (name, f.alias):
            return f.annotation
    return None


def allowed_keys(root: type[BaseModel], path: list[str | int], data: Any) -> list[str]:
    """List the keys accepted by the table at ``path`` (empty when not a table of known keys)."""
    tp: Any = root
    node = data
    for el in path:
        tp = _unwrap(tp, node)
        if tp is None:
            return []
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            tp = _field(tp, str(el))
        elif typing.get_origin(tp) in (list, tuple):
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return []
        try:
            node = node[el]
        except (KeyError, IndexError, TypeError):
            node = None
    tp = _unwrap(tp, node)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _type_words() -> dict[str, str]:
    """Say what each pydantic type is, as a study file writes it (in the current language)."""
    return {"int": _("a whole number"), "float": _("a number"), "string": _("text in quotes"),
            "bool": _("true or false"), "list": _("a list [...]"), "dict": _("a table"),
            "model": _("a table"), "tuple": _("a list [...]")}


def _is_number(text: str) -> bool:
    """Tell whether ``text`` reads as a number."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _wrong_type(kind: str, msg: str, value: Any, path: list[str | int]) -> tuple[str, str]:
    """Return ``(what, fix)`` for a value of the wrong TOML type.

    The study models are strict: a number in quotes is text, true/false is not 1/0, and 20.0
    is not a whole number, because coercing them silently hides a slip in the file.
    """
    word = next((w for t, w in _type_words().items() if kind.startswith(t)), _("another type"))
    lhs = f"{path[-1]} = " if path and isinstance(path[-1], str) else ""
    number = kind in ("float_type", "int_type")
    if number and isinstance(value, str) and _is_number(value.strip()):
        return (_("wrong type: {value!r} is text, not a number").format(value=value),
                _("write {value} without quotes.").format(value=lhs + value.strip()))
    if number and isinstance(value, bool):
        return _("wrong type: true/false is not a number"), _write_here(word)
    if kind == "int_type" and isinstance(value, float) and value.is_integer():
        return (_("wrong type: a whole number is needed"),
                _("write {value} (no decimal point).").format(value=f"{lhs}{int(value)}"))
    if kind == "bool_type" and isinstance(value, str) and value.strip().lower() in ("true",
                                                                                    "false"):
        return (_("wrong type: {value!r} is text, not true/false").format(value=value),
                _("write {value} without quotes.").format(
                    value=lhs + value.strip().lower()))
    return _("wrong type ({reason})").format(reason=msg), _write_here(word)


def _write_here(word: str) -> str:
    """Say which kind of value to write (``word`` may list several: merged union members)."""
    return _("write {word} here.").format(word=word)


def _wanted(fix: str) -> str | None:
    """Read the kind of value back from a fix of :func:`_write_here` (None for other fixes)."""
    head, _sep, tail = _write_here("\0").partition("\0")
    if fix.startswith(head) and fix.endswith(tail) and len(fix) > len(head) + len(tail):
        return fix[len(head):len(fix) - len(tail)]
    return None


def _merge_union_members(problems: list[Problem]) -> list[Problem]:
    """Merge the problems of one key into one.

    A value that fits no member of a union (``metric = 4547.5`` is neither text nor a whole
    number) gets one line listing what would do.
    """
    out: list[Problem] = []
    for key, value, what, fix in problems:
        prev = out[-1] if out else None
        wants = _wanted(prev[3]) if prev is not None and prev[0] == key else None
        more = _wanted(fix)
        if wants is not None and more is not None:
            out[-1] = (key, value, _("wrong type"),
                       _write_here(_("{a} or {b}").format(a=wants, b=more)))
        else:
            out.append((key, value, what, fix))
    return out


def _fix_for(err: dict[str, Any], key: str, value: Any, root: type[BaseModel],
             path: list[str | int], data: Any) -> tuple[str, str]:
    """Return ``(what, fix)`` for one pydantic error."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    msg = err["msg"]
    last = str(path[-1]) if path else key
    if kind == "extra_forbidden":
        allowed = allowed_keys(root, path[:-1], data)
        return (_("unknown key") + did_you_mean(last, allowed),
                _("remove it or use one of: {choices}.").format(choices=", ".join(allowed))
                if allowed else _("remove it."))
    if kind == "missing":
        return _("required key is missing"), _("add {key} = ... here.").format(key=last)
    if kind == "siteplan_config":
        return msg, str(ctx.get("fix", ""))
    if kind == "union_tag_invalid":
        tags = re.findall(r"'([^']+)'", str(ctx.get("expected_tags", "")))
        disc = str(ctx.get("discriminator", "")).strip("'")
        return (_("{key} {value!r} is not known").format(key=disc, value=ctx.get("tag"))
                + did_you_mean(str(ctx.get("tag")), tags),
                _("use {key} = one of {choices}.").format(key=disc, choices=", ".join(tags)))
    if kind == "union_tag_not_found":
        disc = str(ctx.get("discriminator", "")).strip("'")
        return (_("no {key} given").format(key=disc),
                _('add {key} = "..." to say which kind this is.').format(key=disc))
    if kind == "literal_error":
        exp = str(ctx.get("expected", ""))
        opts = re.findall(r"'([^']+)'", exp)
        hint = did_you_mean(str(value), opts) if isinstance(value, str) else ""
        return _("not an accepted value") + hint, _("use one of {choices}.").format(choices=exp)
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return _bound(kind, ctx, msg), _("change the value to the allowed range.")
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "model_attributes_type":
        return _wrong_type(kind, msg, value, path)
    if kind in ("too_short", "too_long", "string_too_short"):
        return msg, _("give a value of the right length.")
    return msg, _("see the study file reference in README.md.")


def _bound(kind: str, ctx: dict[str, Any], msg: str) -> str:
    """Say which bound a value broke (pydantic's own words are English only)."""
    templates = {"greater_than": _("the value should be greater than {bound}"),
                 "greater_than_equal": _("the value should be greater than or equal to {bound}"),
                 "less_than": _("the value should be less than {bound}"),
                 "less_than_equal": _("the value should be less than or equal to {bound}")}
    names = {"greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt",
             "less_than_equal": "le"}
    bound = ctx.get(names[kind])
    return msg.replace("Input", "the value") if bound is None else \
        templates[kind].format(bound=bound)


def _problem_line(key: str, value: Any, what: str, fix: str) -> str:
    """Write one problem as a line of a ConfigError listing several."""
    shown = "" if value is _MISSING or value is None else f" = {value!r}"
    return _("{key}{shown}: {what}. Fix: {fix}").format(key=key, shown=shown, what=what,
                                                          fix=fix)


def config_error_from_validation(exc: ValidationError, data: Any, root: type[BaseModel],
                                 source: str) -> ConfigError:
    """Build one :class:`ConfigError` listing every problem in ``exc``."""
    problems: list[Problem] = []
    for err in exc.errors():
        if err["type"] == "siteplan_cross":
            problems.extend(err["ctx"]["problems"])
            continue
        path, value = _data_path(tuple(err["loc"]), data)
        if err["type"] in ("union_tag_invalid", "union_tag_not_found") and isinstance(value, dict):
            # Point at the tag itself: criteria[2].kind = 'distanse', not the whole table.
            disc = str((err.get("ctx") or {}).get("discriminator", "")).strip("'")
            path = [*path, disc]
            value = value.get(disc, _MISSING)
        key = format_key(path)
        what, fix = _fix_for(dict(err), key, value, root, path, data)
        problems.append((key, value, what, fix))
    problems = _merge_union_members(problems)
    if len(problems) == 1:
        key, value, what, fix = problems[0]
        shown = "" if value is _MISSING or value is None else f" = {value!r}"
        err_out = ConfigError(_("{key}{shown}: {what}.").format(key=key, shown=shown, what=what),
                              where=source, fix=fix)
    else:
        lines = "\n".join("  - " + _problem_line(*p) for p in problems)
        err_out = ConfigError(_("{n} problems:\n{lines}").format(n=len(problems), lines=lines),
                              where=source, fix=_("correct each key listed above."))
    err_out.problems = [
        (k, None if v is _MISSING else v, w, f) for k, v, w, f in problems]
    return err_out


_LINE_COL = re.compile(r"at line (\d+), column (\d+)")


def toml_error(exc: tomllib.TOMLDecodeError, source: str, text: str) -> ConfigError:
    """Build a ConfigError for malformed TOML, with line, column and the offending line."""
    lineno = getattr(exc, "lineno", None)
    colno = getattr(exc, "colno", None)
    if lineno is None:  # Python < 3.14 only has them in the message
        m = _LINE_COL.search(str(exc))
        if m:
            lineno, colno = int(m.group(1)), int(m.group(2))
    reason = _LINE_COL.sub("", str(exc)).strip().rstrip("()").strip()
    shown = ""
    if lineno is not None:
        lines = text.splitlines()
        if 0 < lineno <= len(lines):
            shown = _(" The line reads: {line!r}.").format(line=lines[lineno - 1].strip())
    where = (_("{source}: line {line}, column {column}").format(
        source=source, line=lineno, column=colno) if lineno is not None else source)
    err = ConfigError(_("the file is not valid TOML: {reason}.{shown}").format(
        reason=reason, shown=shown), where=where,
        fix=_('check quotes, brackets and commas on that line (strings need "...").'))
    err.lineno = lineno
    err.colno = colno
    return err
