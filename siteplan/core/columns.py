"""Column names shared by stages and users (docs/design.md, "Column and layer names").

Every stage that writes or reads a per-class column builds its name here, so the contract
``dist_<class>_m``, ``time_<class>_min``, ``nearest_<class>_id``, ``nearest_<class>_name``,
``n_<class>_<r>m``, ``meets_<class>_radius``, ``served_<class>`` and the life-circle
``lc_<list>_<what>`` and the rank-robustness ``p_top_<N>`` have one definition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def distance_column(cls: str) -> str:
    """Name the walking-distance column of a class: ``dist_<class>_m``.

    Examples
    --------
    >>> distance_column("kindergarten")
    'dist_kindergarten_m'
    """
    return f"dist_{cls}_m"


def time_column(cls: str) -> str:
    """Name the walking-time column of a class: ``time_<class>_min``."""
    return f"time_{cls}_min"


def nearest_column(cls: str) -> str:
    """Name the nearest-facility id column of a class: ``nearest_<class>_id``."""
    return f"nearest_{cls}_id"


def nearest_name_column(cls: str) -> str:
    """Name the nearest-facility name column of a class: ``nearest_<class>_name``."""
    return f"nearest_{cls}_name"


def count_column(cls: str, radius_m: float) -> str:
    """Name the count column of a class and radius: ``n_<class>_<r>m`` (no trailing ``.0``).

    Examples
    --------
    >>> count_column("primary_school", 500.0)
    'n_primary_school_500m'
    """
    return f"n_{cls}_{radius_m:g}m"


def meets_column(cls: str) -> str:
    """Name the seed-compliance column of a class: ``meets_<class>_radius``."""
    return f"meets_{cls}_radius"


def served_column(cls: str) -> str:
    """Name the served flag of a demand unit for a class: ``served_<class>``.

    Examples
    --------
    >>> served_column("kindergarten")
    'served_kindergarten'
    """
    return f"served_{cls}"


def lc_column(name: str, what: str) -> str:
    """Name a completeness column: ``lc_<list>_<what>`` (``share``, ``present``, ``missing``).

    Examples
    --------
    >>> lc_column("15min", "share")
    'lc_15min_share'
    """
    return f"lc_{name}_{what}"


def p_top_column(top_n: int) -> str:
    """Name the rank-robustness share of draws in the top N: ``p_top_<N>``.

    Examples
    --------
    >>> p_top_column(50)
    'p_top_50'
    """
    return f"p_top_{int(top_n)}"


def p_top_columns(names: Iterable[object]) -> list[str]:
    """Return the ``p_top_<N>`` columns among ``names``, in their order.

    Examples
    --------
    >>> p_top_columns(["score", "p_top_50", "p_top_x", "rank_low"])
    ['p_top_50']
    """
    return [str(n) for n in names if re.fullmatch(r"p_top_\d+", str(n))]

