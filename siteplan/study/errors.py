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


_TYPE_WORDS = {"int": "a whole number", "float": "a number", "string": "text in quotes",
               "bool": "true or false", "list": "a list [...]", "dict": "a table",
               "model": "a table", "tuple": "a list [...]"}


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
    word = next((w for t, w in _TYPE_WORDS.items() if kind.startswith(t)), "another type")
    lhs = f"{path[-1]} = " if path and isinstance(path[-1], str) else ""
    number = kind in ("float_type", "int_type")
    if number and isinstance(value, str) and _is_number(value.strip()):
        return (f"wrong type: {value!r} is text, not a number",
                f"write {lhs}{value.strip()} without quotes.")
    if number and isinstance(value, bool):
        return "wrong type: true/false is not a number", f"write {word} here."
    if kind == "int_type" and isinstance(value, float) and value.is_integer():
        return ("wrong type: a whole number is needed",
                f"write {lhs}{int(value)} (no decimal point).")
    if kind == "bool_type" and isinstance(value, str) and value.strip().lower() in ("true",
                                                                                    "false"):
        return (f"wrong type: {value!r} is text, not true/false",
                f"write {lhs}{value.strip().lower()} without quotes.")
    return f"wrong type ({msg})", f"write {word} here."


def _merge_union_members(problems: list[Problem]) -> list[Problem]:
    """Merge the problems of one key into one.

    A value that fits no member of a union (``metric = 4547.5`` is neither text nor a whole
    number) gets one line listing what would do.
    """
    out: list[Problem] = []
    for key, value, what, fix in problems:
        prev = out[-1] if out else None
        if prev is not None and prev[0] == key and what.startswith("wrong type") \
                and prev[2].startswith("wrong type"):
            wants = prev[3].removeprefix("write ").removesuffix(" here.")
            more = fix.removeprefix("write ").removesuffix(" here.")
            out[-1] = (key, value, "wrong type", f"write {wants} or {more} here.")
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
        return (f"unknown key{did_you_mean(last, allowed)}",
                f"remove it or use one of: {', '.join(allowed)}." if allowed else "remove it.")
    if kind == "missing":
        return "required key is missing", f"add {last} = ... here."
    if kind == "siteplan_config":
        return msg, str(ctx.get("fix", ""))
    if kind == "union_tag_invalid":
        tags = re.findall(r"'([^']+)'", str(ctx.get("expected_tags", "")))
        disc = str(ctx.get("discriminator", "")).strip("'")
        return (f"{disc} {ctx.get('tag')!r} is not known{did_you_mean(str(ctx.get('tag')), tags)}",
                f"use {disc} = one of {', '.join(tags)}.")
    if kind == "union_tag_not_found":
        disc = str(ctx.get("discriminator", "")).strip("'")
        return f"no {disc} given", f'add {disc} = "..." to say which kind this is.'
    if kind == "literal_error":
        exp = str(ctx.get("expected", ""))
        opts = re.findall(r"'([^']+)'", exp)
        hint = did_you_mean(str(value), opts) if isinstance(value, str) else ""
        return f"not an accepted value{hint}", f"use one of {exp}."
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return msg.replace("Input", "the value"), "change the value to the allowed range."
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "model_attributes_type":
        return _wrong_type(kind, msg, value, path)
    if kind in ("too_short", "too_long", "string_too_short"):
        return msg, "give a value of the right length."
    return msg, "see the study file reference in README.md."


def _problem_line(key: str, value: Any, what: str, fix: str) -> str:
    """Write one problem as a line of a ConfigError listing several."""
    shown = "" if value is _MISSING or value is None else f" = {value!r}"
    return f"{key}{shown}: {what}. Fix: {fix}"


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
        err_out = ConfigError(f"{key}{shown}: {what}.", where=source, fix=fix)
    else:
        lines = "\n".join("  - " + _problem_line(*p) for p in problems)
        err_out = ConfigError(f"{len(problems)} problems:\n{lines}", where=source,
                              fix="correct each key listed above.")
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
            shown = f" The line reads: {lines[lineno - 1].strip()!r}."
    where = f"{source}: line {lineno}, column {colno}" if lineno is not None else source
    err = ConfigError(f"the file is not valid TOML: {reason}.{shown}", where=where,
                      fix='check quotes, brackets and commas on that line (strings need "...").')
    err.lineno = lineno
    err.colno = colno
    return err
