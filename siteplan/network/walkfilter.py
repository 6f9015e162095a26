"""Which street lines are walkable: osmnx's ``network_type="walk"`` filter on tag tables.

:class:`WalkFilter` holds tag exclusions (a tag and a regular expression); :func:`walkable_mask`
applies them to a line table whose tags are columns or sit in an hstore ``other_tags``
(:func:`siteplan.core.tags.tag_column`).  The default reproduces osmnx's Overpass filter, so a
network built from a line layer equals the one osmnx would download.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from siteplan.core.tags import tag_column

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
class WalkFilter:
    """Which lines are walkable.

    A line whose tag value matches the regular expression of its tag (anywhere in the value,
    as Overpass's ``!~`` does) is dropped, and so is a line without ``highway``.  Tags are read
    from columns of that name or from an hstore ``other_tags`` column.  Walking ignores
    ``oneway``.

    Parameters
    ----------
    exclude
        ``{tag: regular expression}``; :data:`OSMNX_WALK_EXCLUDE` (osmnx's
        ``network_type="walk"``) by default.

    Examples
    --------
    >>> import geopandas as gpd
    >>> import shapely
    >>> lines = gpd.GeoDataFrame(
    ...     {"highway": ["residential", "footway", "motorway", "steps"]},
    ...     geometry=[shapely.LineString([(0, i), (100, i)]) for i in range(4)])
    >>> walkable_mask(lines).tolist()
    [True, True, False, True]

    :meth:`with_exclusions` replaces a tag's expression, so extend the default to add to it:

    >>> no_steps = WalkFilter().with_exclusions(
    ...     highway=OSMNX_WALK_EXCLUDE["highway"] + "|steps")
    >>> walkable_mask(lines, no_steps).tolist()
    [True, True, False, False]
    """

    exclude: dict[str, str] = field(default_factory=lambda: dict(OSMNX_WALK_EXCLUDE))

    def with_exclusions(self, **extra: str) -> WalkFilter:
        """Return a copy with more (or replaced) tag exclusions, e.g. ``tunnel="yes"``.

        Parameters
        ----------
        **extra
            ``tag=regular expression``; a tag already excluded gets the new expression.

        Returns
        -------
        WalkFilter
            The new filter; this one is unchanged.
        """
        merged = dict(self.exclude)
        merged.update(extra)
        return WalkFilter(merged)


def walkable_mask(lines: pd.DataFrame, walk_filter: WalkFilter | None = None) -> np.ndarray:
    """Boolean mask of the walkable lines under ``walk_filter`` (osmnx's walk filter by default).

    The filter reads only the ``highway`` and ``other_tags`` columns and those named like its
    tags, and OSM tag strings repeat (the bundled Taiyuan lines have 218 distinct
    ``other_tags`` among 4,412 lines), so the regular expressions run once per distinct
    combination of those columns' values, not once per line.
    """
    walk_filter = walk_filter or WalkFilter()
    columns = [c for c in dict.fromkeys(["highway", "other_tags", *walk_filter.exclude])
               if c in lines.columns]
    if len(lines) == 0 or not columns:
        return _walkable_rows(lines, walk_filter)
    key = np.zeros(len(lines), dtype=np.int64)
    for column in columns:
        # As strings, the way tag_column reads them (1 and 1.0 would hash alike, not read alike).
        codes, distinct = pd.factorize(lines[column].astype("string"), use_na_sentinel=False)
        # Renumbered after each column, so the combined key stays below len(lines) ** 2.
        key = pd.factorize(key * (len(distinct) + 1) + codes)[0]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return _walkable_rows(lines.iloc[first], walk_filter)[inverse.ravel()]


def _walkable_rows(lines: pd.DataFrame, walk_filter: WalkFilter) -> np.ndarray:
    """:func:`walkable_mask`, evaluated on every row."""
    highway = tag_column(lines, "highway")
    keep: np.ndarray = highway.notna().to_numpy(dtype=bool, copy=True)
    for key, regex in walk_filter.exclude.items():
        values = tag_column(lines, key)
        hit = values.str.contains(regex, regex=True, na=False).to_numpy(dtype=bool)
        keep &= ~hit
    return keep


__all__ = ["OSMNX_WALK_EXCLUDE", "WalkFilter", "walkable_mask"]
