"""Column names shared by stages and users (docs/design.md, "Column and layer names").

Every stage that writes or reads a per-class column builds its name here, so the contract
``dist_<class>_m``, ``time_<class>_min``, ``nearest_<class>_id``, ``nearest_<class>_name``,
``n_<class>_<r>m``, ``meets_<class>_radius``, ``served_<class>`` and the life-circle
``lc_<list>_<what>`` has one definition.
"""

from __future__ import annotations


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

