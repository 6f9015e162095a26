"""Reading a study's inputs, each through its one description.

Every input layer of a study (streets, OSM-like facility features, municipal facility layers,
parcels, residential land, the boundary, hazard layers) is described once by
:meth:`siteplan.study.model.Study.input_layer`, which merges the layer's own settings with the
study's ``[crs]`` defaults, and read by :func:`siteplan.io.layers.read_input`.  So ``[crs]
input``, the encodings and ``coord_system`` apply to all of them alike.  The functions here
return frames in the file's CRS unless given an analysis CRS.
"""

from __future__ import annotations

import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.core.defaults import RESIDENTIAL_BUILDINGS
from siteplan.core.errors import ConfigError, InputError, SiteplanWarning
from siteplan.core.tags import ENTRANCE_TAGS, entrance_rows, tag_column
from siteplan.facilities.classify import residential_land
from siteplan.io.layers import is_polygonal, read_input
from siteplan.io.offsets import OffsetCheck, check_offset, judged_rows, offset_message
from siteplan.osm.features import FACILITY_TAGS, read_osm
from siteplan.osm.parse import is_osm_file
from siteplan.parcels.load import load_parcels
from siteplan.scoring.constraints import hazard_frame
from siteplan.study.model import Study


def read_sources(study: Study) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """Read the street lines and the OSM-like facility features of a study.

    Parameters
    ----------
    study
        The study; ``inputs.streets`` is required, ``inputs.facilities`` optional (raw OSM
        streets bring their own features).

    Returns
    -------
    lines, features
        Street lines, and the facility features (None when the study has neither an OSM
        street file nor a facility file).
    """
    inputs = study.inputs
    if inputs.streets is None:
        raise ConfigError("the study has no street network input.", where="inputs.streets",
                          fix='add streets = "path/to/streets.gpkg" (or an .osm/.pbf file).')
    features = None
    # Entrances and gates come along with the facilities: they start the walks of the
    # residential units (siteplan.access.entrances).
    tags = {**FACILITY_TAGS, **ENTRANCE_TAGS}
    if is_osm_file(inputs.streets):
        lines, features = read_osm(inputs.streets, tags=tags)
    else:
        lines = read_input(study.input_layer(inputs.streets, "street layer"))
    if inputs.facilities is not None:
        if is_osm_file(inputs.facilities):
            _, features = read_osm(inputs.facilities, tags=tags)
        else:
            features = read_input(study.input_layer(inputs.facilities, "facility layer"))
    return lines, features


def load_study_parcels(study: Study) -> gpd.GeoDataFrame:
    """Load the candidate parcels of a study's ``[inputs.parcels]``.

    Parameters
    ----------
    study
        The study (its parcel layer, id column, field names, area unit and read settings).

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`siteplan.parcels.load.load_parcels`, in the file's CRS.

    Raises
    ------
    ConfigError
        The study has no ``[inputs.parcels]`` section.

    Examples
    --------
    >>> from siteplan import load_study, load_study_parcels
    >>> parcels = load_study_parcels(load_study("data/taiyuan/study.toml"))
    >>> len(parcels), parcels["parcel_id"].iloc[0], parcels.crs.to_epsg()
    (1328, 'TY-0001', 4326)
    """
    spec = study.inputs.parcels
    if spec is None:
        raise ConfigError("the study has no [inputs.parcels] section.",
                          where=study.source_path or "study config",
                          fix='add [inputs.parcels] with path = "parcels.gpkg" and id_column.')
    return load_parcels(study.input_layer(spec, "parcels"), id_column=spec.id_column,
                        aliases=spec.aliases(), area_unit=spec.area_unit)


def read_residential(study: Study, features: gpd.GeoDataFrame | None,
                     crs: Any) -> gpd.GeoDataFrame:
    """Read the residential land coverage and 2SFCA demand are measured on.

    ``inputs.residential`` when set (an OSM-tagged layer keeps only ``landuse=residential``;
    any other layer is residential as a whole), else the ``landuse=residential`` areas among
    the OSM facility features.

    Parameters
    ----------
    study
        The study.
    features
        The OSM-like facility features read by :func:`read_sources`, if any.
    crs
        The analysis CRS of the result.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    source = study.inputs.residential
    if source is not None and source == study.inputs.facilities and features is not None:
        res = residential_land(features)
    elif source is not None:
        res = read_input(study.input_layer(source, "residential layer"))
        if "landuse" in res.columns or "other_tags" in res.columns:
            res = residential_land(res)
    elif features is not None:
        res = residential_land(features)
    else:
        res = gpd.GeoDataFrame({"name": []}, geometry=[], crs=crs)
    return res.to_crs(crs)


def read_buildings(features: gpd.GeoDataFrame | None, crs: Any) -> gpd.GeoDataFrame | None:
    """Pick the building footprints among the OSM features (``building=*``), if any.

    They keep their ``building`` tag and ``name``.
    """
    if features is None:
        return None
    tag = tag_column(features, "building")
    keep = (tag.notna() & (tag != "no")).to_numpy(bool) & is_polygonal(features.geometry.values)
    if not keep.any():
        return None
    out = gpd.GeoDataFrame({"building": tag[keep].to_numpy(),
                            "name": tag_column(features, "name")[keep].to_numpy()},
                           geometry=features.geometry[keep].to_numpy(), crs=features.crs)
    return out.to_crs(crs)


def residential_buildings(buildings: gpd.GeoDataFrame | None,
                          residential: gpd.GeoDataFrame) -> gpd.GeoDataFrame | None:
    """Pick the dwellings among the buildings: tagged as housing, or ``yes`` on residential land.

    ``building=residential``, ``apartments``, ``house``... (:data:`RESIDENTIAL_BUILDINGS`) are
    dwellings wherever they stand; an untyped ``building=yes`` counts when its representative
    point lies on residential land.  Both frames in the same CRS.
    """
    if buildings is None or len(buildings) == 0:
        return None
    tag = buildings["building"].astype("string").str.lower() if "building" in buildings \
        else pd.Series("yes", index=buildings.index, dtype="string")
    typed = tag.isin(RESIDENTIAL_BUILDINGS).to_numpy(bool)
    untyped = (tag == "yes").to_numpy(bool)
    on_land = np.zeros(len(buildings), dtype=bool)
    if untyped.any() and len(residential):
        pts = shapely.point_on_surface(np.asarray(buildings.geometry.values)[untyped])
        hit = shapely.STRtree(np.asarray(residential.geometry.values)).query(
            pts, predicate="within")[0]
        on_land[np.flatnonzero(untyped)[np.unique(hit)]] = True
    keep = typed | on_land
    return buildings[keep] if keep.any() else None


def read_entrances(study: Study, features: gpd.GeoDataFrame | None,
                   crs: Any) -> gpd.GeoDataFrame | None:
    """Read the points where residents enter their estates, if any.

    ``inputs.entrances`` (a bureau's 小区出入口 points) when set, else the OSM entrances and
    gates among the features (:data:`siteplan.core.tags.ENTRANCE_TAGS`).
    """
    if study.inputs.entrances is not None:
        frame = read_input(study.input_layer(study.inputs.entrances, "entrance layer"))
    elif features is not None:
        frame = features[entrance_rows(features).to_numpy(bool)]
    else:
        return None
    points = frame[shapely.get_type_id(np.asarray(frame.geometry.values)) == 0]
    return points[[points.geometry.name]].to_crs(crs) if len(points) else None


def read_boundary(study: Study, crs: Any) -> gpd.GeoDataFrame | None:
    """Read the study boundary (``[study] boundary``), if the study has one."""
    if study.study.boundary is None:
        return None
    return read_input(study.input_layer(study.study.boundary, "study boundary")).to_crs(crs)


def read_hazards(study: Study, crs: Any) -> gpd.GeoDataFrame | None:
    """Read every hazard layer of ``inputs.hazards`` into one frame (None when there are none)."""
    layers = study.hazard_layers()
    if not layers:
        return None
    return hazard_frame([read_input(spec) for spec in layers], crs)




def check_layer_offset(study: Study, layer: gpd.GeoDataFrame, where: str, *,
                       streets: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | None = None,
                       features: gpd.GeoDataFrame | None = None,
                       outline: bool = False) -> OffsetCheck | None:
    """Stop (or warn) when a layer and the streets disagree by a GCJ-02/BD-09 offset.

    The layer is compared with the streets (and, for facility layers, the OSM facilities and
    features) by :func:`siteplan.io.offsets.check_offset`, both ways: the layer may carry the
    offset, or the streets may.  On a finding the run stops with an :class:`InputError` naming
    the ``coord_system`` to declare, unless the study sets ``[crs] offset_check = "warn"``.

    Parameters
    ----------
    study
        The study (its ``[crs] offset_check``).
    layer
        The layer as read, any CRS (judged in WGS84 lon/lat).
    where
        The layer's name in the message (its kind and file).
    streets
        The street lines.
    facilities, features
        Further references (OSM facilities and features), for facility layers.
    outline
        Match the streets by the features' outlines (parcels).

    Returns
    -------
    OffsetCheck or None
        The check, None when the layer cannot be judged.

    Raises
    ------
    InputError
        The layer looks like undeclared GCJ-02/BD-09 next to the streets (or the streets do)
        and ``offset_check`` is ``"stop"``.
    """
    if layer.crs is None or not len(layer):
        return None
    if not layer.crs.is_geographic:  # reproject only the rows judged (a city of parcels)
        layer = layer.iloc[judged_rows(np.asarray(layer.geometry.values, dtype=object),
                                       outline=outline)]
    lonlat = layer if layer.crs.is_geographic else layer.to_crs(4326)
    check = check_offset(lonlat, facilities=facilities, streets=streets, features=features,
                         where=where, warn=False, both_ways=True, outline=outline)
    if check is None or check.suggested is None:
        return check
    what, fix = offset_message(check, where)
    if not layer.crs.is_geographic and check.suggested in ("gcj02", "bd09"):
        fix = (f"the layer is in {layer.crs.to_string()} but was digitised on a Chinese "
               f"basemap ({check.suggested}): convert it at the source (export it as WGS84 "
               f'lon/lat and declare coord_system = "{check.suggested}"), or re-digitise it.')
    if study.crs.offset_check == "warn":
        warnings.warn(f"{what} Fix: {fix} (offset_check = \"warn\": the run goes on with "
                      "these coordinates.)", SiteplanWarning, stacklevel=2)
        return check
    raise InputError(what.removeprefix(f"{where}: "), where=where,
                     fix=f"{fix} To go on anyway, set offset_check = \"warn\" in [crs].")


__all__ = ["check_layer_offset", "load_study_parcels", "read_boundary", "read_buildings",
           "read_entrances", "read_hazards", "read_residential", "read_sources",
           "residential_buildings"]
