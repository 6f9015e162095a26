"""Optional parts of siteplan (PostGIS, Dask) and the message when one is not installed."""

from __future__ import annotations

import importlib.util

from siteplan.core.errors import SiteplanError

#: The packages each extra brings (pyproject.toml [project.optional-dependencies]).
EXTRAS: dict[str, tuple[str, ...]] = {
    # geoalchemy2: geopandas' to_postgis needs it to write the shortlist.
    "postgis": ("sqlalchemy", "psycopg2", "geoalchemy2"),
    "dask": ("dask", "distributed"),
}


def require_extra(extra: str, what: str) -> None:
    """Refuse, with the install command, to use a part whose optional packages are missing.

    Parameters
    ----------
    extra
        The extra's name in pyproject.toml: ``"postgis"`` or ``"dask"``.
    what
        What needed it, for the message (``"reading a PostGIS layer"``).

    Raises
    ------
    SiteplanError
        Naming the missing packages and ``pip install 'siteplan[<extra>]'``.

    Examples
    --------
    >>> require_extra("postgis", "reading a PostGIS layer")  # installed here: no error
    """
    missing = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if missing:
        raise SiteplanError(
            f"{what} needs the optional package(s) {', '.join(missing)}, which are not "
            "installed.", where=f"siteplan[{extra}]",
            fix=f"pip install 'siteplan[{extra}]' (or pip install {' '.join(missing)}).")


__all__ = ["EXTRAS", "require_extra"]
