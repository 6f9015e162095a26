"""Which street lines are walkable: osmnx's ``network_type="walk"`` filter on tag tables.

:class:`WalkFilter` holds tag exclusions (a tag and a regular expression); :func:`walkable_mask`
applies them to a line table whose tags are columns or sit in an hstore ``other_tags``
(:func:`siteplan.tags.tag_column`).  The default reproduces osmnx's Overpass filter, so a
network built from a line layer equals the one osmnx would download.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from siteplan.tags import tag_column

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

    ``exclude`` maps a tag to a regular expression; a line whose tag value matches (anywhere in
    the value, as Overpass's ``!~`` does) is dropped.  Lines without ``highway`` are dropped.
    Tags are read from columns of that name or from an hstore ``other_tags`` column.
    Walking ignores ``oneway``.
    """

    exclude: dict[str, str] = field(default_factory=lambda: dict(OSMNX_WALK_EXCLUDE))

    def with_exclusions(self, **extra: str) -> WalkFilter:
        """A copy with more (or replaced) tag exclusions, e.g. ``highway="steps"``."""
        merged = dict(self.exclude)
        merged.update(extra)
        return WalkFilter(merged)


def walkable_mask(lines: pd.DataFrame, walk_filter: WalkFilter | None = None) -> np.ndarray:
    """Boolean mask of the walkable lines under ``walk_filter`` (osmnx's walk filter by default)."""
    walk_filter = walk_filter or WalkFilter()
    highway = tag_column(lines, "highway")
    keep = highway.notna().to_numpy(dtype=bool, copy=True)
    for key, regex in walk_filter.exclude.items():
        values = tag_column(lines, key)
        hit = values.str.contains(regex, regex=True, na=False).to_numpy(dtype=bool)
        keep &= ~hit
    return keep


__all__ = ["OSMNX_WALK_EXCLUDE", "WalkFilter", "walkable_mask"]
