"""Reading a study's inputs, each through its one description.

Every input layer of a study (streets, OSM-like facility features, municipal facility layers,
parcels, residential land, the boundary, hazard layers) is described once by
:meth:`siteplan.study.model.Study.input_layer`, which merges the layer's own settings with the
study's ``[crs]`` defaults, and read by :func:`siteplan.io.layers.read_input`.  So ``[crs]
input``, the encodings and ``coord_system`` apply to all of them alike.  The functions here
return frames in the file's CRS unless given an analysis CRS.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from siteplan.core.defaults import RESIDENTIAL_BUILDINGS
from siteplan.core.errors import ConfigError
from siteplan.core.tags import ENTRANCE_TAGS, entrance_rows, tag_column
from siteplan.facilities.classify import residential_land
from siteplan.io.layers import is_polygonal, read_input
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


__all__ = ["load_study_parcels", "read_boundary", "read_buildings", "read_entrances",
           "read_hazards", "read_residential", "read_sources", "residential_buildings"]
