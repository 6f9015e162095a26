"""Street lines and facility features downloaded from Overpass (through osmnx), with a cache.

:func:`fetch_osm` returns the same two frames as :func:`siteplan.osm.features.read_osm` does for a local
file, so the rest of the pipeline does not care where OSM came from.  Results are cached as a
GeoPackage keyed by the query, network type, tags and siteplan version; a cache hit never touches
the network.  Without internet access, it fails at once with a :class:`NetworkError` that says
what to use instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from shapely.geometry.base import BaseGeometry

from siteplan.core.atomic import atomic_path
from siteplan.core.errors import InputError, NetworkError
from siteplan.core.labels import OSM_CREDIT
from siteplan.core.version import __version__
from siteplan.osm.features import FACILITY_TAGS, features_from_elements, lines_from_elements
from siteplan.osm.parse import OsmElements, elements_from_lists

#: A place name (geocoded by Nominatim), a bbox (west, south, east, north) in degrees, or a
#: shapely (Multi)Polygon in EPSG:4326.
Query: TypeAlias = str | tuple[float, float, float, float] | BaseGeometry

_OFFLINE_FIX = (
    "you appear to be offline; use a local .osm/.osm.pbf file (siteplan.osm.features.read_osm) or a "
    "street line layer instead, or retry when Overpass is reachable."
)


def elements_from_overpass_json(responses: Iterable[Mapping[str, Any]], source: str) -> OsmElements:
    """Convert Overpass JSON answers (``{"elements": [...]}``) into :class:`OsmElements`."""
    nodes: list[tuple[int, float, float, dict[str, str] | None]] = []
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    relations: list[tuple[int, dict[str, str], list[tuple[str, int, str]]]] = []
    for response in responses:
        for e in response.get("elements", []):
            kind = e.get("type")
            if kind == "node" and "lat" in e:
                nodes.append((int(e["id"]), float(e["lon"]), float(e["lat"]), e.get("tags")))
            elif kind == "way":
                ways.append((int(e["id"]), [int(n) for n in e.get("nodes", [])],
                             dict(e.get("tags", {}))))
            elif kind == "relation":
                members = [(m.get("type", ""), int(m["ref"]), m.get("role", ""))
                           for m in e.get("members", [])]
                relations.append((int(e["id"]), dict(e.get("tags", {})), members))
    return elements_from_lists(nodes, ways, relations, source)


def parse_query(text: str) -> Query:
    """Read a command-line query: four numbers ``west,south,east,north`` are a bbox, else a place.

    Examples
    --------
    >>> parse_query("116.30,39.99,116.32,40.00")
    (116.3, 39.99, 116.32, 40.0)
    >>> parse_query("Xiaodian District, Taiyuan, China")
    'Xiaodian District, Taiyuan, China'
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 4:
        try:
            west, south, east, north = (float(p) for p in parts)
        except ValueError:
            return text
        return (west, south, east, north)
    return text


def _query_text(query: Query) -> str:
    if isinstance(query, str):
        return "place:" + query.strip()
    if isinstance(query, BaseGeometry):
        if not isinstance(query, shapely.Polygon | shapely.MultiPolygon) or query.is_empty:
            raise InputError("the query geometry must be a non-empty (Multi)Polygon.",
                             where="fetch_osm", fix="pass a Polygon in EPSG:4326 degrees.")
        wkt: str = shapely.to_wkt(query, rounding_precision=7)
        return "polygon:" + wkt
    if isinstance(query, Sequence) and len(query) == 4:
        west, south, east, north = (float(v) for v in query)
        if not (west < east and south < north and -180 <= west and east <= 180
                and -90 <= south and north <= 90):
            raise InputError(f"invalid bbox {query!r}.", where="fetch_osm",
                             fix="give (west, south, east, north) in degrees, west < east, "
                             "south < north.")
        return "bbox:" + ",".join(f"{v:.7f}" for v in (west, south, east, north))
    raise InputError(
        f"cannot use {query!r} as an OSM query.",
        where="fetch_osm",
        fix="give a place name, a bbox (west, south, east, north) in degrees, or a shapely "
        "Polygon in EPSG:4326.",
    )


def cache_key(query: Query, network_type: str, tags: Mapping[str, Any]) -> str:
    """Return the cache file stem for a query (a hash of everything that changes the answer)."""
    payload = json.dumps(
        {"query": _query_text(query), "network_type": network_type,
         "tags": {k: tags[k] for k in sorted(tags)}, "siteplan": __version__},
        sort_keys=True, ensure_ascii=False, default=list,
    )
    return "osm_" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def write_osm_cache(path: str | Path, lines: gpd.GeoDataFrame, features: gpd.GeoDataFrame,
                    *, query: str = "") -> Path:
    """Write ``lines`` and ``features`` (plus a ``meta`` table) to one GeoPackage, atomically."""
    path = Path(path)
    meta = pd.DataFrame({
        "key": ["query", "fetched_utc", "siteplan_version", "credit"],
        "value": [query, datetime.now(UTC).isoformat(timespec="seconds"), __version__,
                  OSM_CREDIT],
    })
    with atomic_path(path) as tmp:
        pyogrio.write_dataframe(lines, tmp, layer="lines", driver="GPKG")
        pyogrio.write_dataframe(features, tmp, layer="features", driver="GPKG", append=False)
        pyogrio.write_dataframe(meta, tmp, layer="meta", driver="GPKG")
    return path


def read_osm_cache(path: str | Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read the ``(lines, features)`` written by :func:`write_osm_cache`."""
    path = Path(path)
    try:
        frames = tuple(_restore_strings(pyogrio.read_dataframe(path, layer=layer))
                       for layer in ("lines", "features"))
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError...
        raise InputError(
            f"the OSM cache file is unreadable ({exc}).",
            where=str(path),
            fix="delete it (it is re-downloaded on the next run) or pass refresh=True.",
        ) from exc
    return frames[0], frames[1]


def _restore_strings(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # GeoPackage has no "string with missing values" type distinct from object; restore the
    # dtype the readers produce so cached and fresh frames are interchangeable.
    for col in frame.columns:
        if col != frame.geometry.name:
            frame[col] = frame[col].astype("string")
    return frame.set_crs("EPSG:4326", allow_override=True)


def query_polygon(query: Query) -> BaseGeometry:
    """Return the area of a query: geocoded place (Nominatim via osmnx), bbox or the polygon."""
    import osmnx as ox

    _query_text(query)  # validates the type and the bbox
    if isinstance(query, BaseGeometry):
        return query
    if isinstance(query, str):
        gdf = ox.geocode_to_gdf(query)
        return gdf.geometry.union_all()
    west, south, east, north = (float(v) for v in query)
    return ox.utils_geo.bbox_to_poly((west, south, east, north))


@contextlib.contextmanager
def _osmnx_settings(cache_dir: Path) -> Iterator[Any]:
    """Yield osmnx with its HTTP cache under ``cache_dir``; the previous settings are restored."""
    import osmnx as ox

    saved = (ox.settings.cache_folder, ox.settings.use_cache)
    ox.settings.cache_folder = str(cache_dir / "osmnx_http")
    ox.settings.use_cache = True
    try:
        yield ox
    finally:
        ox.settings.cache_folder, ox.settings.use_cache = saved


def check_overpass_reachable(url: str, timeout: float = 10.0) -> None:
    """Raise :class:`NetworkError` unless ``url``'s server answers (any HTTP status will do).

    osmnx waits a full minute before posting when the status endpoint is unreachable; checking
    first turns "offline" into an immediate, clear error.
    """
    import requests

    try:
        requests.get(url.rstrip("/") + "/status", timeout=timeout)
    except requests.RequestException as exc:
        raise NetworkError(f"could not reach Overpass ({exc.__class__.__name__}: {exc}).",
                           where=url, fix=_OFFLINE_FIX) from exc


def _download(query: Query, network_type: str, tags: Mapping[str, Any]) -> tuple[
        gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Download through osmnx's Overpass client (its rate limiting, retries and HTTP cache).

    osmnx's public functions return finished graphs and GeoDataFrames without the node ids of
    ways, which noding needs (:mod:`siteplan.osm.features`), so this calls the generators behind them.
    """
    import osmnx as ox
    import requests
    from osmnx import _errors

    check_overpass_reachable(ox.settings.overpass_url)
    text = _query_text(query)
    # osmnx wants lists, not tuples, for multiple values.
    osmnx_tags = {k: v if isinstance(v, bool | str) else list(v) for k, v in tags.items()}
    overpass: Any = getattr(ox, "_overpass", None)
    if not all(hasattr(overpass, f) for f in ("_download_overpass_network",
                                              "_download_overpass_features")):
        raise NetworkError(
            f"this osmnx version ({ox.__version__}) lacks the Overpass functions siteplan uses.",
            where="fetch_osm", fix="install osmnx 2.x, or use a local .osm/.osm.pbf file.")
    try:
        polygon = query_polygon(query)
        net_json = list(overpass._download_overpass_network(polygon, network_type, None))
        feat_json = list(overpass._download_overpass_features(polygon, osmnx_tags))
    except requests.RequestException as exc:
        raise NetworkError(
            f"could not reach Overpass/Nominatim ({exc.__class__.__name__}: {exc}).",
            where=ox.settings.overpass_url, fix=_OFFLINE_FIX,
        ) from exc
    except _errors.ResponseStatusCodeError as exc:
        raise NetworkError(f"Overpass/Nominatim refused the request ({exc}).",
                           where=ox.settings.overpass_url,
                           fix="the server is busy or the area too large: retry later, or "
                           "query a smaller area.") from exc
    except (_errors.InsufficientResponseError, TypeError, ValueError) as exc:
        # osmnx: no geocoding result, a point instead of an area, or an empty answer.
        raise InputError(f"OSM returned nothing usable for {text!r} ({exc}).",
                         where="fetch_osm",
                         fix="check the place name (try a more specific one, e.g. "
                         "'Xiaodian District, Taiyuan, China') or pass a bbox.") from exc
    lines = lines_from_elements(elements_from_overpass_json(net_json, text))
    features = features_from_elements(elements_from_overpass_json(feat_json, text), tags)
    return lines, features


def fetch_osm(
    query: Query,
    *,
    cache_dir: str | Path = ".siteplan_cache/osm",
    network_type: str = "walk",
    tags: Mapping[str, bool | str | Sequence[str]] | None = None,
    refresh: bool = False,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Download street lines and facility features from Overpass, or read them from the cache.

    Parameters
    ----------
    query
        A place name (geocoded by Nominatim), a bbox ``(west, south, east, north)`` in degrees,
        or a shapely (Multi)Polygon in EPSG:4326.
    cache_dir
        Folder of the GeoPackage cache (and of osmnx's HTTP cache, in ``osmnx_http/``).
    network_type
        osmnx network type of the street download (``"walk"``, ``"all"``...).
    tags
        osmnx-style facility tag selection; :data:`siteplan.osm.features.FACILITY_TAGS` by default.
    refresh
        Download again even if a cached answer exists.

    Returns
    -------
    lines, features
        The schemas of :func:`siteplan.osm.features.read_osm_lines` and
        :func:`siteplan.osm.features.read_osm_features`, EPSG:4326.

    Raises
    ------
    NetworkError
        Overpass (or Nominatim) cannot be reached.
    InputError
        The query is invalid or OSM has nothing for it.

    Examples
    --------
    A download needs Overpass, so it is not run here:

    >>> lines, features = fetch_osm("Xiaodian District, Taiyuan, China")  # doctest: +SKIP

    The answer is cached per query; a cached answer is read without touching the network
    (here a cache filled from a local extract):

    >>> import tempfile
    >>> from siteplan.osm.features import FACILITY_TAGS, read_osm
    >>> cache = tempfile.TemporaryDirectory()
    >>> bbox = (116.30, 39.99, 116.32, 40.00)
    >>> extract = read_osm("tests/data/beijing_haidian_pku_tsinghua_2017.osm", bbox=bbox)
    >>> stem = cache_key(bbox, "walk", FACILITY_TAGS)
    >>> _ = write_osm_cache(f"{cache.name}/{stem}.gpkg", *extract)
    >>> lines, features = fetch_osm(bbox, cache_dir=cache.name)
    >>> len(lines), len(features), lines.crs.to_string()
    (153, 120, 'EPSG:4326')
    >>> cache.cleanup()
    """
    spec = dict(FACILITY_TAGS if tags is None else tags)
    _query_text(query)  # a bad query fails here, before any network access
    cache_dir = Path(cache_dir)
    path = cache_dir / f"{cache_key(query, network_type, spec)}.gpkg"
    if path.is_file() and not refresh:
        return read_osm_cache(path)
    with _osmnx_settings(cache_dir):
        lines, features = _download(query, network_type, spec)
    write_osm_cache(path, lines, features, query=_query_text(query))
    return lines, features
