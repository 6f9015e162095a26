"""Which street lines are walkable: walking profiles on tag tables.

:class:`WalkFilter` holds tag exclusions (a tag and a regular expression) and conditional
clauses (:class:`Clause`: all of some tags, unless others); :func:`walkable_mask` applies them to
a line table whose tags are columns or sit in an hstore ``other_tags``
(:func:`siteplan.core.tags.tag_column`).  Two profiles (:func:`walk_profile`):

- ``osmnx-walk``: osmnx's Overpass filter for ``network_type="walk"``, so a network built from a
  line layer equals the one osmnx would download;
- ``china-walk`` (the default): the same, plus :data:`CHINA_CLAUSES`.  osmnx counts trunk roads
  as walkable, elevated ring roads (高架路) included; pedestrians walk on the ground road below,
  not on the viaduct.  Elevated and expressway carriageways are not walkable unless ``foot`` or
  ``sidewalk`` says otherwise; ground-level trunk roads stay walkable.  The README compares
  the two clause by clause.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from siteplan.core.defaults import WALK_PROFILE, WalkProfile
from siteplan.core.errors import ConfigError
from siteplan.core.tags import distinct_tags, tag_column

# osmnx 2.x network_type="walk": the same tags and the same unanchored regex matching as its
# Overpass filter, so a network built from a line layer equals one osmnx would download.
OSMNX_WALK_EXCLUDE: dict[str, str] = {
    "area": "yes",
    "highway": "abandoned|bus_guideway|construction|cycleway|motor|no|planned|platform|"
    "proposed|raceway|razed|rest_area|services",
    "access": "private",
    "foot": "no",
    "service": "private",
    "sidewalk": "separate",
    "sidewalk:both": "separate",
    "sidewalk:left": "separate",
    "sidewalk:right": "separate",
}


@dataclass(frozen=True)
class Clause:
    """A line is not walkable when every ``when`` tag matches, unless some ``unless`` tag does.

    Regular expressions are matched against the whole tag value (``re.fullmatch``).

    Attributes
    ----------
    when
        ``{tag: regular expression}``; all must match.
    unless
        ``{tag: regular expression}``; any match keeps the line walkable.
    reason
        Why (for the README and the network report).
    """

    when: dict[str, str]
    unless: dict[str, str] = field(default_factory=dict)
    reason: str = ""


#: Tags that say people may walk along a carriageway (a bridge with a footpath).
FOOT_ALLOWED: dict[str, str] = {
    "foot": "yes|designated|permissive",
    "sidewalk": "yes|both|left|right",
    "sidewalk:both": "yes",
    "sidewalk:left": "yes",
    "sidewalk:right": "yes",
}
_TRUNK = "trunk|trunk_link|motorway|motorway_link"

#: The ``china-walk`` clauses beyond osmnx's filter (see the module docstring and the README).
CHINA_CLAUSES: tuple[Clause, ...] = (
    Clause({"highway": _TRUNK, "bridge": "(?!no$).+"}, FOOT_ALLOWED,
           "elevated trunk (bridge/viaduct): people walk on the road below"),
    Clause({"highway": _TRUNK, "layer": r"\+?0*[1-9]\d*"}, FOOT_ALLOWED,
           "elevated trunk (layer >= 1): people walk on the road below"),
    Clause({"expressway": "yes"}, FOOT_ALLOWED, "expressway=yes: no pedestrians"),
    Clause({"motorroad": "yes"}, FOOT_ALLOWED, "motorroad=yes: motor vehicles only"),
)


@dataclass(frozen=True)
class WalkFilter:
    """Which lines are walkable.

    A line whose tag value matches the regular expression of its tag (anywhere in the value,
    as Overpass's ``!~`` does) is dropped, and so is a line without ``highway`` and a line
    that a :class:`Clause` rules out.  Tags are read from columns of that name or from an
    hstore ``other_tags`` column.  Walking ignores ``oneway``.

    Parameters
    ----------
    exclude
        ``{tag: regular expression}``; :data:`OSMNX_WALK_EXCLUDE` (osmnx's
        ``network_type="walk"``) by default.
    clauses
        Conditional exclusions; :data:`CHINA_CLAUSES` by default (the ``china-walk`` profile).
    name
        The profile's name, for the network report.

    Examples
    --------
    >>> import geopandas as gpd
    >>> import shapely
    >>> lines = gpd.GeoDataFrame(
    ...     {"highway": ["residential", "footway", "motorway", "steps", "trunk", "trunk"],
    ...      "bridge": [None, None, None, None, "yes", None]},
    ...     geometry=[shapely.LineString([(0, i), (100, i)]) for i in range(6)])
    >>> walkable_mask(lines).tolist()
    [True, True, False, True, False, True]
    >>> walkable_mask(lines, walk_profile("osmnx-walk")).tolist()
    [True, True, False, True, True, True]

    :meth:`with_exclusions` replaces a tag's expression, so extend the default to add to it:

    >>> no_steps = WalkFilter().with_exclusions(
    ...     highway=OSMNX_WALK_EXCLUDE["highway"] + "|steps")
    >>> walkable_mask(lines, no_steps).tolist()
    [True, True, False, False, False, True]
    """

    exclude: dict[str, str] = field(default_factory=lambda: dict(OSMNX_WALK_EXCLUDE))
    clauses: tuple[Clause, ...] = CHINA_CLAUSES
    name: str = "china-walk"

    def with_exclusions(self, **extra: str) -> WalkFilter:
        """Return a copy with more (or replaced) tag exclusions, e.g. ``tunnel="yes"``.

        Parameters
        ----------
        **extra
            ``tag=regular expression``; a tag already excluded gets the new expression.

        Returns
        -------
        WalkFilter
            The new filter (same clauses); this one is unchanged.
        """
        merged = dict(self.exclude)
        merged.update(extra)
        return WalkFilter(merged, self.clauses, self.name)

    def without_clauses(self) -> WalkFilter:
        """Return a copy with the same exclusions and no conditional clauses."""
        return WalkFilter(dict(self.exclude), (), self.name)


def walk_profile(name: WalkProfile = WALK_PROFILE) -> WalkFilter:
    """Return the :class:`WalkFilter` of a walking profile.

    Parameters
    ----------
    name
        ``"china-walk"`` (osmnx's walk filter plus :data:`CHINA_CLAUSES`) or ``"osmnx-walk"``
        (osmnx's filter alone).

    Returns
    -------
    WalkFilter
        The profile's filter.

    Raises
    ------
    ConfigError
        An unknown profile name.

    Examples
    --------
    >>> walk_profile().name, len(walk_profile().clauses)
    ('china-walk', 4)
    >>> walk_profile("osmnx-walk").clauses
    ()
    """
    if name == "china-walk":
        return WalkFilter()
    if name == "osmnx-walk":
        return WalkFilter(clauses=(), name="osmnx-walk")
    raise ConfigError(f"unknown walking profile {name!r}.", where="network.walk_profile",
                      fix='use "china-walk" (the default) or "osmnx-walk".')


def walkable_mask(lines: pd.DataFrame, walk_filter: WalkFilter | None = None) -> np.ndarray:
    """Boolean mask of the walkable lines under ``walk_filter`` (``china-walk`` by default).

    The filter reads only the ``highway`` and ``other_tags`` columns and those named like its
    tags, and OSM tag strings repeat (the bundled Taiyuan lines have 218 distinct
    ``other_tags`` among 4,412 lines), so the regular expressions run once per distinct
    combination of those columns' values, not once per line.
    """
    walk_filter = walk_filter or WalkFilter()
    keys = ["highway", *walk_filter.exclude]
    for clause in walk_filter.clauses:
        keys += [*clause.when, *clause.unless]
    if len(lines) == 0:
        return _walkable_rows(lines, walk_filter)
    first, inverse = distinct_tags(lines, keys)
    mask: np.ndarray = _walkable_rows(lines.iloc[first], walk_filter)[inverse]
    return mask


def _full(values: pd.Series, regex: str) -> np.ndarray:
    hit: np.ndarray = values.astype("string").str.strip().str.fullmatch(
        regex, na=False).to_numpy(dtype=bool)
    return hit


def _walkable_rows(lines: pd.DataFrame, walk_filter: WalkFilter) -> np.ndarray:
    """:func:`walkable_mask`, evaluated on every row."""
    highway = tag_column(lines, "highway")
    keep: np.ndarray = highway.notna().to_numpy(dtype=bool, copy=True)
    for key, regex in walk_filter.exclude.items():
        values = tag_column(lines, key)
        hit = values.str.contains(regex, regex=True, na=False).to_numpy(dtype=bool)
        keep &= ~hit
    for clause in walk_filter.clauses:
        # Each tag is read only on the rows still in question (hstore reads are regexes).
        rows = np.flatnonzero(keep)
        for key, regex in clause.when.items():
            rows = rows[_full(tag_column(lines.iloc[rows], key), regex)]
        for key, regex in clause.unless.items():
            rows = rows[~_full(tag_column(lines.iloc[rows], key), regex)]
        keep[rows] = False
    return keep


__all__ = ["CHINA_CLAUSES", "FOOT_ALLOWED", "OSMNX_WALK_EXCLUDE", "Clause", "WalkFilter",
           "walk_profile", "walkable_mask"]
