"""Candidate parcels of a city's street blocks (``siteplan parcels``, and ``siteplan init``).

:func:`city_blocks` calls :func:`siteplan.parcels.blocks.blocks_from_streets` on the streets,
rail and water of a city read by :func:`siteplan.init_study.sources.read_city`, leaving out
parks, water, schools and hospitals and marking residential land; :func:`make_parcels` writes
them for a line layer or raw OSM file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio

from siteplan.core.atomic import atomic_path
from siteplan.core.defaults import (
    BLOCK_DEFAULT_FAR,
    BLOCK_MAX_COVERED_SHARE,
    BLOCK_MAX_HA,
    BLOCK_MIN_HA,
)
from siteplan.core.errors import InputError
from siteplan.core.i18n import _
from siteplan.core.tags import tag_column
from siteplan.facilities.classify import residential_land
from siteplan.init_study.sources import CitySources, read_city
from siteplan.io.layers import is_polygonal, read_layer
from siteplan.parcels.blocks import (
    BLOCK_HIGHWAYS,
    BLOCK_RAILWAYS,
    BLOCK_WATERWAYS,
    block_lines,
    blocks_from_streets,
    exclusion_polygons,
)

#: OSM keys that mark a polygon layer as OSM-tagged (exclusions are then chosen by tag).
_EXCLUSION_KEYS = ("leisure", "natural", "waterway", "landuse", "amenity")


@dataclass(frozen=True)
class BlockOptions:
    """How street blocks are made (the options of ``siteplan parcels`` and ``siteplan init``).

    Parameters
    ----------
    min_ha, max_ha
        Area range of the blocks kept (ha).
    max_covered_share
        Drop blocks covered more than this by parks, water, schools or hospitals.
    far
        The FAR given to every block (an assumption).
    id_prefix
        Parcel ids are ``<prefix>0001``...
    highways
        Street classes that bound blocks.
    rail, water
        Whether surface railways, and rivers/canals, bound blocks too.
    all_lines
        Every line bounds blocks, whatever its tags (a layer without OSM tags).
    metric_crs
        CRS for areas (default: the UTM zone of the data).

    Examples
    --------
    >>> from siteplan import BlockOptions, InputError
    >>> BlockOptions(min_ha=1.0, rail=False).max_ha
    50.0
    >>> try:
    ...     BlockOptions(min_ha=5, max_ha=1)
    ... except InputError as err:
    ...     print(err.fix)
    give an area range in hectares, e.g. --min-ha 0.5 --max-ha 50.
    """

    min_ha: float = BLOCK_MIN_HA
    max_ha: float = BLOCK_MAX_HA
    max_covered_share: float = BLOCK_MAX_COVERED_SHARE
    far: float = BLOCK_DEFAULT_FAR
    id_prefix: str = "B-"
    highways: tuple[str, ...] = BLOCK_HIGHWAYS
    rail: bool = True
    water: bool = True
    all_lines: bool = False
    metric_crs: str | None = None

    def __post_init__(self) -> None:
        """Refuse an area range no block can be in, before any data is read."""
        if not 0 < self.min_ha <= self.max_ha:
            raise InputError(f"need 0 < min_ha <= max_ha, got {self.min_ha:g} and "
                             f"{self.max_ha:g}.", where="block options",
                             fix="give an area range in hectares, e.g. --min-ha 0.5 "
                             "--max-ha 50.")


#: The block builder's defaults.
DEFAULT_BLOCKS = BlockOptions()


def _tagged(layer: gpd.GeoDataFrame) -> bool:
    return any(tag_column(layer, k).notna().any() for k in _EXCLUSION_KEYS)


def city_blocks(city: CitySources, options: BlockOptions = DEFAULT_BLOCKS,
                exclude: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Make the candidate parcels of a city: its street blocks.

    Parameters
    ----------
    city
        The lines (streets, rail, water) and features (parks, water, schools, hospitals,
        residential land) of the city.
    options
        The block builder's options.
    exclude
        More land that is not a candidate: every polygon of it (e.g. a bureau's protected
        areas).

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`siteplan.parcels.blocks.blocks_from_streets`.

    Raises
    ------
    InputError
        No block in the area range (too few or unconnected streets, or a range that fits none).

    Examples
    --------
    >>> from siteplan.init_study.sources import read_city
    >>> city = read_city("tests/data/beijing_haidian_pku_tsinghua_2017.osm")
    >>> blocks = city_blocks(city)
    >>> len(blocks), blocks["parcel_id"].iloc[0], blocks.crs.to_epsg()
    (15, 'B-0001', 32650)
    """
    lines = city.lines
    if not options.all_lines:
        lines = block_lines(lines, highways=options.highways,
                            railways=BLOCK_RAILWAYS if options.rail else (),
                            waterways=BLOCK_WATERWAYS if options.water else ())
    frames = []
    residential = None
    features = city.features
    if features is not None and len(features):
        frames.append(exclusion_polygons(features) if _tagged(features)
                      else features[is_polygonal(features.geometry.values)])
        residential = residential_land(features)
    if exclude is not None and len(exclude):
        frames.append(exclude[is_polygonal(exclude.geometry.values)].to_crs(lines.crs))
    excl = (gpd.GeoSeries(np.concatenate([np.asarray(f.to_crs(lines.crs).geometry.values)
                                          for f in frames]), crs=lines.crs)
            if frames else None)
    blocks = blocks_from_streets(lines, excl, min_ha=options.min_ha, max_ha=options.max_ha,
                                 max_covered_share=options.max_covered_share,
                                 residential_polygons=residential, default_far=options.far,
                                 id_prefix=options.id_prefix, metric_crs=options.metric_crs)
    if len(blocks) == 0:
        c = blocks.attrs["counts"]
        raise InputError(
            f"no street block to use as a candidate parcel ({c['faces']} enclosed faces, "
            f"{c['in_area_range']} of {options.min_ha:g}-{options.max_ha:g} ha, "
            f"{c['dropped_covered']} mostly parks, water, schools or hospitals).",
            where=city.source,
            fix="check that the data has streets that meet and enclose blocks (a larger "
            "extract), or widen the area range with --min-ha / --max-ha.")
    return blocks


def blocks_summary(blocks: gpd.GeoDataFrame, options: BlockOptions) -> str:
    """Say how many blocks were kept of the faces found, and why the others were not."""
    c = blocks.attrs["counts"]
    return (f"{c['kept']:,} parcels ({c['faces']:,} faces, {c['in_area_range']:,} of "
            f"{options.min_ha:g}-{options.max_ha:g} ha, {c['dropped_covered']:,} mostly parks, "
            f"water, schools or hospitals; {c['residential']:,} residential)")


def write_parcels(blocks: gpd.GeoDataFrame, out: str | Path,
                  inputs: Sequence[str | Path] = ()) -> Path:
    """Write blocks to a GeoPackage (layer ``parcels``), atomically, never onto an input."""
    out = Path(out)
    with atomic_path(out, inputs=list(inputs)) as tmp:
        pyogrio.write_dataframe(blocks, tmp, layer="parcels", driver="GPKG")
    return out


def make_parcels(streets: str | Path, out: str | Path, *, features: str | Path | None = None,
                 exclude: str | Path | None = None, crs: Any = None,
                 options: BlockOptions = DEFAULT_BLOCKS) -> gpd.GeoDataFrame:
    """Make candidate parcels of the street blocks of a line layer or OSM file, and write them.

    Parameters
    ----------
    streets
        A raw OSM file (rail and rivers included) or a line layer.
    out
        The GeoPackage to write (layer ``parcels``).
    features
        OSM-like features (raw OSM or a GDAL OSM export): their parks, water, schools and
        hospitals are left out, their residential land marks residential blocks.
    exclude
        A polygon layer of land that is not a candidate, whatever its attributes.
    crs
        CRS of a layer that does not declare one.
    options
        The block builder's options.

    Returns
    -------
    geopandas.GeoDataFrame
        The blocks written (``attrs["counts"]`` says how many faces were found and dropped).

    Examples
    --------
    The bundled Taiyuan demo parcels, again:

    >>> import tempfile, warnings
    >>> from siteplan import SiteplanWarning
    >>> folder = tempfile.TemporaryDirectory()
    >>> with warnings.catch_warnings():  # one OSM polygon is invalid as mapped: repaired
    ...     warnings.filterwarnings("ignore", ".*repaired 1 invalid geometry", SiteplanWarning)
    ...     blocks = make_parcels("data/taiyuan/taiyuan_osm_lines.geojson",
    ...                           f"{folder.name}/parcels.gpkg",
    ...                           features="data/taiyuan/taiyuan_osm_multipolygons.geojson",
    ...                           options=BlockOptions(id_prefix="TY-"))
    >>> len(blocks), blocks.attrs["counts"]["dropped_covered"]
    (1328, 60)
    >>> folder.cleanup()
    """
    if not Path(streets).exists():
        raise InputError(_("file not found."), where=str(streets),
                         fix=_("check the path of the street lines (an .osm/.osm.pbf file or a "
                               "line layer)."))
    sources = [streets] + [p for p in (features, exclude) if p is not None]
    city = read_city(streets, features=features, crs=crs, need_highway=False)
    extra = read_layer(exclude, crs=crs, kind="exclusion layer") if exclude is not None else None
    blocks = city_blocks(city, options, extra)
    write_parcels(blocks, out, sources)
    return blocks


__all__ = ["DEFAULT_BLOCKS", "BlockOptions", "blocks_summary", "city_blocks", "make_parcels", "write_parcels"]
