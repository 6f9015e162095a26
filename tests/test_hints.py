"""Every hint names a real option or table.

Walks the message templates of siteplan/ (every string and f-string in the arguments of a call:
errors' what/where/fix, warnings, the (key, value, what, fix) problems of the study checks; the catalogue's marked messages, their ``{name}`` fields taken
as placeholders) and checks each study key they name against the study schema (:class:`siteplan.study.model.Study`)
and each ``--option`` against the command line.  Named keys are ``[table] key`` (the key is
checked when it holds an underscore or is followed by ``=``: other words after a table are
prose), ``[table]`` (when it starts with a top-level table or has such a key), ``[[table]]``
and dotted keys such as ``network.max_snap_m`` (checked
when the last part holds an underscore or is followed by ``=``); ``<x>`` stands for an
f-string's placeholder and matches any name under a table of names (``[classes.<x>]``).
"""

from __future__ import annotations

import ast
import re
import types
import typing
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

from siteplan.cli import app
from siteplan.study.model import Study

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "siteplan"
TOP = ("study", "inputs", "crs", "network", "classes", "catchments", "criteria", "weights",
       "constraints", "programme", "compliance", "outputs")
# Options of other programs that messages may quote.
FOREIGN_OPTIONS = {"--no-build-isolation"}

_TABLE = re.compile(r"(?<![\w\]])(\[\[?)((?:[a-z_]+|<x>)(?:\.(?:[a-z_]+|<x>))*)\]\]?"
                    r"(?: ([a-z_]+)( =)?)?")
_DOTTED = re.compile(r"(?<![\w.\[])((?:" + "|".join(TOP) + r")(?:\[(?:\d+|<x>)\])?"
                     r"(?:\.(?:[a-z_]+|<x>)(?:\[(?:\d+|<x>)\])?)+)( =)?")
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


_FIELD = re.compile(r"\{[a-z_]*(?:![rsa])?(?::[^{}]*)?\}")


def _text(node: ast.AST) -> str | None:
    """A string or f-string as text, each placeholder written ``<x>``.

    A catalogue message (``_("... [classes.{name}] ...").format(name=...)``) has its named
    fields written ``<x>`` too.
    """
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _FIELD.sub("<x>", node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "<x>" for v in node.values)
    return None


def message_templates(root: Path = PACKAGE) -> list[tuple[str, str]]:
    """``(where, text)`` of every string inside the arguments of a call under ``root``."""
    out = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call):
                continue
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                for node in ast.walk(arg):
                    text = _text(node)
                    if text:
                        out.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return out


def _expand(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _expand(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [x for a in typing.get_args(tp) for x in _expand(a)]
    return [tp]


def _step(tps: list[Any], part: str) -> list[Any]:
    """The types found at ``part`` (a name, ``<x>`` or ``[]`` for an array item) under ``tps``."""
    out: list[Any] = []
    for tp in tps:
        origin = typing.get_origin(tp)
        if part == "[]":
            if origin in (list, tuple):
                out += _expand(typing.get_args(tp)[0])
        elif origin is dict:
            out += _expand(typing.get_args(tp)[1])
        elif isinstance(tp, type) and issubclass(tp, BaseModel) and part != "<x>":
            for name, field in tp.model_fields.items():
                if part in (name, field.alias):
                    out += _expand(field.annotation)
    return out


def _resolve(parts: list[str]) -> list[Any]:
    tps: list[Any] = [Study]
    for part in parts:
        if not tps:
            break
        tps = _step(tps, part)
        items = _step(tps, "[]")  # a table of an array: its keys are the items'
        tps = items or tps
    return tps


def _parts(dotted: str) -> list[str]:
    return [p for p in re.split(r"\.|\[(?:\d+|<x>)\]", dotted) if p]


def problems(text: str, options: set[str]) -> list[str]:
    """What ``text`` names that the schema or the command line does not have."""
    out = []
    for brackets, table, key, eq in _TABLE.findall(text):
        parts = table.split(".")
        named_key = bool(key) and ("_" in key or bool(eq))
        if parts[0] == "<x>" or not (parts[0] in TOP or named_key or brackets == "[["):
            continue  # [0], [str]... not a study table
        tps = _resolve(parts)
        if not tps:
            out.append(f"[{table}]")
        elif key and ("_" in key or eq) and not _step(tps, key):
            out.append(f"[{table}] {key}")
    for dotted, eq in _DOTTED.findall(text):
        parts = _parts(dotted)
        last = parts[-1]
        if last == "<x>" or not ("_" in last or eq):
            continue
        if not _resolve(parts):
            out.append(dotted)
    out += [o for o in _OPTION.findall(text) if o not in options and o not in FOREIGN_OPTIONS]
    return out


def cli_options() -> set[str]:
    """Every ``--option`` of every ``siteplan`` command (and of ``siteplan`` itself)."""
    group = typer.main.get_command(app)
    commands = [group, *group.commands.values()]  # type: ignore[attr-defined]
    return {o for cmd in commands for p in cmd.params for o in [*p.opts, *p.secondary_opts]
            if o.startswith("--")} | {"--help"}


def test_the_checker_catches_wrong_hints():
    options = cli_options()
    assert problems("check the path given to --config.", options) == ["--config"]
    assert problems("set [parcels] id_column to one of the columns.", options) == ["[parcels]"]
    assert problems("set [inputs.parcels] id_colum = ...", options) == ["[inputs.parcels] id_colum"]
    assert problems("see the network.settings.", options) == []  # prose: no underscore
    assert problems("raise network.search_limits_m = 3000.", options) == [
        "network.search_limits_m"]
    assert problems("set [classes.<x>] radius_m, criteria[<x>].radius_m and "
                    "[[constraints]] builtin = ..., [inputs.parcels.fields] land_use, "
                    "catchments.frontage_m, --out or --top-n.", options) == []
    assert problems("add [[criteria]] raster_name = ...", options) == ["[criteria] raster_name"]


def test_every_hint_names_a_real_option_or_table():
    options = cli_options()
    templates = message_templates()
    assert len(templates) > 1000  # the walk found the package's messages
    bad = [f"{where}: {p}" for where, text in templates for p in problems(text, options)]
    assert bad == []
