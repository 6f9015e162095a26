"""OSM tags in feature tables: tag columns and GDAL's hstore ``other_tags``.

GDAL's OSM driver (and :mod:`siteplan.osm.features`, which copies its schema) writes a few common tags as
columns and every other tag into one hstore text column, ``other_tags``:
``"foot"=>"no","oneway"=>"yes"``.  :func:`hstore` writes that text, :func:`hstore_tag` and
:func:`parse_hstore` read it back, and :func:`tag_column` reads a tag from either place, so the
walk filter, the facility classifier, the parcel builder and the transport proxies need not
care which one a layer uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

_HSTORE_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=>\s*"((?:[^"\\]|\\.)*)"')
_HSTORE_ESCAPE = re.compile(r"\\(.)")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def hstore(tags: Mapping[str, str], exclude: Iterable[str] = ()) -> str | None:
    """Format tags as GDAL's OSM driver does: ``"k"=>"v","k2"=>"v2"``; ``None`` when empty."""
    skip = set(exclude)
    parts = [f'"{_escape(k)}"=>"{_escape(v)}"' for k, v in tags.items() if k not in skip]
    return ",".join(parts) if parts else None


def hstore_tag(other_tags: pd.Series, key: str) -> pd.Series:
    r"""Extract one key from an hstore column such as ``"foot"=>"no","oneway"=>"yes"``.

    GDAL writes pairs separated by ``,`` and PostgreSQL by ``, ``; both are read.  Escaped
    quotes and backslashes in values (``\"``, ``\\``) are unescaped.  Missing is ``<NA>``.
    """
    # Anchoring on the start or a comma means a key that only ends with ``key`` ("barefoot"
    # for "foot") never matches; a quote inside a value is escaped, so ``,"key"`` cannot occur
    # inside one.
    pattern = r'(?:^|,)\s*"' + re.escape(key) + r'"\s*=>\s*"((?:[^"\\]|\\.)*)"'
    text = other_tags.astype("string")
    # Only rows that hold the quoted key at all can match: a plain substring test first, so the
    # regex runs on few rows (every walk-filter and classification tag is read this way).
    may = text.str.contains(f'"{key}"', regex=False, na=False).to_numpy(dtype=bool)
    values = pd.Series(pd.NA, index=other_tags.index, dtype="string")
    if may.any():
        found = text[may].str.extract(pattern, expand=False)
        values[may] = found.str.replace(_HSTORE_ESCAPE, r"\1", regex=True)
    return values


def parse_hstore(text: str | None) -> dict[str, str]:
    """Parse one hstore string into a dict (for display and tests, not for hot paths)."""
    if not isinstance(text, str):
        return {}
    return {
        _HSTORE_ESCAPE.sub(r"\1", k): _HSTORE_ESCAPE.sub(r"\1", v)
        for k, v in _HSTORE_PAIR.findall(text)
    }


def tag_column(lines: pd.DataFrame, key: str) -> pd.Series:
    """Return a tag's values from its own column, else from ``other_tags``; missing is <NA>.

    An empty string counts as missing: GDAL's OSM exports write ``""`` for absent tags.
    """
    values = pd.Series(pd.NA, index=lines.index, dtype="string")
    if key in lines.columns:
        values = lines[key].astype("string").replace("", pd.NA)
    if "other_tags" in lines.columns:
        values = values.fillna(hstore_tag(lines["other_tags"], key))
    return values


#: OSM nodes that are a way into an estate or a building: ``entrance=*`` (except emergency
#: exits) and gates in fences (``barrier=gate`` and its kinds).  osmnx-style selection for
#: :func:`siteplan.osm.features.read_osm_features`.
ENTRANCE_TAGS: dict[str, bool | list[str]] = {
    "entrance": True,
    "barrier": ["gate", "entrance", "lift_gate", "swing_gate", "sliding_gate"],
}


def entrance_rows(features: pd.DataFrame) -> pd.Series:
    """Tell which features are entrances (:data:`ENTRANCE_TAGS`), tags in columns or hstore.

    Examples
    --------
    >>> frame = pd.DataFrame({"barrier": ["gate", "fence", None],
    ...                       "other_tags": [None, None, '"entrance"=>"main"']})
    >>> entrance_rows(frame).tolist()
    [True, False, True]
    """
    entrance = tag_column(features, "entrance")
    gates = ENTRANCE_TAGS["barrier"]
    barrier = tag_column(features, "barrier").isin(gates if isinstance(gates, list) else [])
    out: pd.Series = ((entrance.notna() & ~entrance.isin(["no", "emergency"]))
                      | barrier).fillna(False).astype(bool)
    return out


def distinct_tags(lines: pd.DataFrame, keys: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Group the rows by the text of the columns that can hold ``keys`` (and ``other_tags``).

    OSM tag strings repeat (the bundled Taiyuan lines have 218 distinct ``other_tags`` among
    4,412 lines), so a rule that reads only these tags runs once per group, not once per row.

    Parameters
    ----------
    lines
        A table with tag columns and/or an hstore ``other_tags``.
    keys
        The tags the rule reads.

    Returns
    -------
    first, inverse
        A row of each group, and the group of every row: ``result[inverse]`` spreads values
        computed on ``lines.iloc[first]`` back to every row.

    Examples
    --------
    >>> frame = pd.DataFrame({"highway": ["residential", "footway", "residential"],
    ...                       "name": ["a", "b", "c"]})
    >>> first, inverse = distinct_tags(frame, ["highway"])
    >>> first.tolist(), inverse.tolist()
    ([0, 1], [0, 1, 0])
    """
    columns = [c for c in dict.fromkeys([*keys, "other_tags"]) if c in lines.columns]
    key = np.zeros(len(lines), dtype=np.int64)
    for column in columns:
        # As strings, the way tag_column reads them (1 and 1.0 would hash alike, not read alike).
        codes, distinct = pd.factorize(lines[column].astype("string"), use_na_sentinel=False)
        # Renumbered after each column, so the combined key stays below len(lines) ** 2.
        key = pd.factorize(key * (len(distinct) + 1) + codes)[0]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first, inverse.ravel()


__all__ = ["ENTRANCE_TAGS", "distinct_tags", "entrance_rows", "hstore", "hstore_tag",
           "parse_hstore", "tag_column"]
