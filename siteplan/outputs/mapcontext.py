"""What a map needs besides the layers, kept in the GeoPackage so `siteplan map` can redraw it.

A run writes a ``map_context`` table into ``shortlist.gpkg``: the study's title, the maps' file
stem, the criteria (name, English and Chinese label, weight), the number of ranks labelled and
the data gaps the legend states.  :func:`read_map_context` reads it back; a GeoPackage written
before the table existed gives an empty context, and the maps fall back to generic labels.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio

MAP_CONTEXT_LAYER = "map_context"


@dataclass(frozen=True)
class MapContext:
    """The study's title, file stem, criteria ``(name, en, zh, weight)``, ranks and notes."""

    title: str | None = None
    stem: str | None = None
    criteria: list[tuple[str, str, str, float]] | None = None
    top_n: int | None = None
    notes: list[str] = field(default_factory=list)


def map_context_table(title: str | None, stem: str, criteria: Sequence[tuple[str, str, str, float]],
                      top_n: int, notes: Sequence[str]) -> pd.DataFrame:
    """Return the ``map_context`` table: one ``key``/``value`` row per item, values in JSON."""
    crit = [[n, en, zh, None if math.isnan(w) else w] for n, en, zh, w in criteria]
    items: dict[str, Any] = {"title": title, "stem": stem, "criteria": crit, "top_n": top_n,
                             "notes": list(notes)}
    return pd.DataFrame({"key": list(items),
                         "value": [json.dumps(v, ensure_ascii=False) for v in items.values()]})


def read_map_context(path: str | Path) -> MapContext:
    """Read the ``map_context`` table of a results GeoPackage (empty when it has none)."""
    try:
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except Exception:  # noqa: BLE001 - an unreadable file is reported by the map's own checks
        return MapContext()
    if MAP_CONTEXT_LAYER not in names:
        return MapContext()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL: a table without geometry
        table = pyogrio.read_dataframe(path, layer=MAP_CONTEXT_LAYER)
    items = {str(k): json.loads(v) for k, v in zip(table["key"], table["value"], strict=True)}
    crit = items.get("criteria")
    return MapContext(
        title=items.get("title"), stem=items.get("stem"),
        criteria=None if crit is None else [
            (str(n), str(en), str(zh), float("nan") if w is None else float(w))
            for n, en, zh, w in crit],
        top_n=items.get("top_n"), notes=[str(n) for n in items.get("notes") or []])


__all__ = ["MAP_CONTEXT_LAYER", "MapContext", "map_context_table", "read_map_context"]
