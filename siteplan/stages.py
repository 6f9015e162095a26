"""The single stages the command line runs on their own: a network, a facility file, a download.

``siteplan network``, ``siteplan facilities`` and ``siteplan fetch-osm`` call these; a study
end to end is :func:`siteplan.pipeline.run_study`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from siteplan.core.outputset import plan_outputs, staged_outputs

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from siteplan.network.graph import Network


def network_from_file(source: str | Path, *, snap_tolerance_m: float = 0.0,
                      keep_largest: bool = True, crs: Any = None) -> Network:
    """Build a walking network from a line layer or raw OSM file (``siteplan network``)."""
    from siteplan.network.build import graph_from_file

    return graph_from_file(source, snap_tolerance_m=snap_tolerance_m,
                           keep_largest=keep_largest, crs=crs)


def facilities_from_file(source: str | Path, *, class_column: str | None = None,
                         class_: str | None = None,
                         crs: Any = None) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Classify the facilities of one file; also return its unclassified schools."""
    from siteplan.facilities.classify import load_facilities

    kwargs: dict[str, Any] = {"crs": crs} if crs is not None else {}
    result = load_facilities(source, class_=class_, class_column=class_column, **kwargs)
    return result.facilities, result.unclassified_schools


def fetch_to_files(query: str, out: str | Path | None, *, cache_dir: str | Path,
                   refresh: bool = False) -> dict[str, Path]:
    """Download streets and facilities for a place or a ``west,south,east,north`` bbox.

    They go into the cache and, with ``out``, also into ``<out>/osm.gpkg`` (layers ``lines``
    and ``features``) for ``siteplan fetch-osm``.
    """
    from siteplan.osm.overpass import fetch_osm, parse_query
    from siteplan.outputs.writers import write_layers

    lines, features = fetch_osm(parse_query(query), cache_dir=cache_dir, refresh=refresh)
    written = {"cache": Path(cache_dir)}
    if out is not None:
        plan = plan_outputs(out, ["osm.gpkg"])
        with staged_outputs(plan) as stage:
            write_layers(stage / "osm.gpkg", {"lines": lines, "features": features})
        written["osm"] = plan.path("osm.gpkg")
    return written


__all__ = ["facilities_from_file", "fetch_to_files", "network_from_file"]
