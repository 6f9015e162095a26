"""A study's service coverage: served units first, the street-frontage land share second.

:func:`service_coverage` gives, per facility class, the figures a bureau reports
(:mod:`siteplan.access.served`): residential units (小区), residential area and residents
(counted, or estimated and said so) served within the class's radius, the same for
residential buildings and for the candidate parcels, the places per 1,000 residents where the
facilities have capacities, and the blind spots (服务盲区) as the units left unserved, with the
distance they miss by.

The older figure, the share of residential *land* inside the catchment polygons (reached
streets buffered by the frontage width, :func:`siteplan.access.coverage.class_coverage`), is
kept beside them as ``covered_land_share_frontage``, with its blind-spot land as a separate
layer.  It measures how much land lies along a reached street, which depends on the frontage
width as much as on the facilities: a 小区 interior far from any mapped street is never in a
catchment polygon, whatever the facilities.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from siteplan.access.coverage import class_coverage
from siteplan.access.served import (
    served_table,
    served_units,
    supply_table,
    unit_blind_spots,
    unit_residents,
)
from siteplan.core.columns import distance_column, served_column
from siteplan.core.defaults import (
    ENTRANCE_SPACING_M,
    FRONTAGE_M,
    MAX_SNAP_M,
    PROGRAMME,
    RESIDENTIAL_FAR,
    SEARCH_LIMIT_M,
    SUPPLY_NORMS_PER_1000,
)
from siteplan.core.threads import Background
from siteplan.network.graph import Network
from siteplan.network.snapping import SnapPoint

#: The frontage figures' names in the service table (their names in class_coverage's table).
FRONTAGE_COLUMNS = {
    "covered_m2": "covered_land_m2_frontage",
    "covered_share": "covered_land_share_frontage",
    "frontage_m2": "frontage_m2",
    "covered_share_of_frontage": "covered_share_of_frontage",
    "n_parcels_covered": "n_parcels_in_frontage",
    "n_buildings_covered": "n_buildings_in_frontage",
}


@dataclass
class ServiceCoverage:
    """What :func:`service_coverage` measured.

    Attributes
    ----------
    table
        One row per class: served units, area and residents; buildings and parcels served;
        supply; the frontage figures (see :func:`service_coverage`).
    blind_spots
        The residential units not served, per class (:func:`~siteplan.access.served.
        unit_blind_spots`).
    units
        Every residential unit with its residents, entrances and, per class, distance,
        nearest facility and served flag (:func:`~siteplan.access.served.served_units`).
    blind_spots_frontage
        The residential land outside each class's catchment polygons (the secondary measure).
    """

    table: pd.DataFrame
    blind_spots: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    blind_spots_frontage: gpd.GeoDataFrame


def service_coverage(
    net: Network,
    facilities: gpd.GeoDataFrame,
    radii: Mapping[str, float],
    residential: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    parcels: gpd.GeoDataFrame | None = None,
    entrances: np.ndarray | None = None,
    population_column: str | None = None,
    households_column: str | None = None,
    residential_far: float = RESIDENTIAL_FAR,
    dwelling_size_m2: float = PROGRAMME["dwelling_size_m2"],
    persons_per_household: float = PROGRAMME["persons_per_household"],
    entrance_spacing_m: float = ENTRANCE_SPACING_M,
    supply_norms: Mapping[str, float] = SUPPLY_NORMS_PER_1000,
    frontage_m: float = FRONTAGE_M,
    facility_point: SnapPoint = "representative",
    max_snap_m: float = MAX_SNAP_M,
    search_limit_m: float = SEARCH_LIMIT_M,
) -> ServiceCoverage:
    """Measure each class's service coverage: units, area and residents served, and blind spots.

    Parameters
    ----------
    net
        The walking network.
    facilities
        ``facility_id``, ``class``, ``name``, optionally ``capacity`` (places), with a CRS.
    radii
        ``{class: radius_m}``.
    residential
        Residential units (小区, ``landuse=residential`` areas or a bureau layer): polygons or
        points, with ``residential_id`` and ``name`` where known, and a population or
        household field where the layer has one.
    buildings
        Residential buildings, each a unit of its own (served from its own entrances).
    parcels
        Candidate parcels with ``dist_<class>_m``: a parcel is served within the radius.
    entrances
        Mapped entrance points (OSM entrances and gates, a bureau's 小区出入口) in ``net.crs``.
    population_column, households_column, residential_far, dwelling_size_m2, persons_per_household
        Where the residents come from (:func:`~siteplan.access.served.unit_residents`).
    entrance_spacing_m
        Perimeter per boundary entrance of a unit without mapped entrances.
    supply_norms
        Places per 1,000 residents each class should offer, for
        ``residents_meeting_norm_share``.
    frontage_m, facility_point, max_snap_m, search_limit_m
        As for :func:`siteplan.access.coverage.class_coverage` and
        :func:`siteplan.access.distances.facility_access`.

    Returns
    -------
    ServiceCoverage
        ``table`` has one row per class: ``class``, ``radius_m``; residential units:
        ``n_units``, ``n_units_served``, ``units_served_share``, ``residential_m2``,
        ``served_m2``, ``area_served_share``, ``residents``, ``residents_served``,
        ``residents_served_share``, ``residents_estimated``; with buildings ``n_buildings``,
        ``n_buildings_served``, ``buildings_served_share``; with parcels ``n_parcels``,
        ``n_parcels_served``, ``parcels_served_share``; where the facilities have capacities
        ``n_with_capacity``, ``places``, ``places_per_1000``, ``supply_norm_per_1000``,
        ``residents_meeting_norm_share``; then the frontage measure:
        ``covered_land_m2_frontage``, ``covered_land_share_frontage``, ``frontage_m2``,
        ``covered_share_of_frontage`` (and ``n_parcels_in_frontage``,
        ``n_buildings_in_frontage``).  Parcels without distances (a catchments-only run) are
        counted in the frontage only: ``n_parcels`` and ``n_parcels_in_frontage``.

    Examples
    --------
    A kindergarten in the middle of a 1 km street, two estates south of it: the west one's
    gate is 210 m away (served), the east one's 310 m (a blind spot, missed by 10 m):

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import graph_from_lines, service_coverage
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (1000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"],
    ...                        "name": ["阳光幼儿园"]}, geometry=[Point(500, 0)], crs=crs)
    >>> estates = gpd.GeoDataFrame({"name": ["west", "east"]}, geometry=[
    ...     box(0, -110, 300, -10), box(800, -110, 900, -10)], crs=crs)
    >>> cov = service_coverage(net, kg, {"kindergarten": 300.0}, estates)
    >>> cov.table[["n_units", "n_units_served"]].values.tolist()
    [[2, 1]]
    >>> cov.table["residents_served_share"].tolist()
    [0.75]
    >>> cov.blind_spots[["name", "missed_by_m"]].values.tolist()
    [['east', 10.0]]

    The frontage measure counts only the land within 30 m of a reached street: 7 %.

    >>> cov.table["covered_land_share_frontage"].round(2).tolist()
    [0.07]
    """
    area = np.asarray(residential.to_crs(net.crs).geometry.area, dtype=float)
    residents, basis = unit_residents(
        residential, area, population_column=population_column,
        households_column=households_column, far=residential_far,
        dwelling_size_m2=dwelling_size_m2, persons_per_household=persons_per_household)
    def measure(layer: gpd.GeoDataFrame, residents: np.ndarray | None = None,
                basis: np.ndarray | None = None) -> gpd.GeoDataFrame:
        return served_units(net, layer, facilities, radii, entrances=entrances,
                            residents=residents, residents_basis=basis,
                            spacing_m=entrance_spacing_m, search_limit_m=search_limit_m,
                            facility_point=facility_point, max_snap_m=max_snap_m)

    # The frontage measure (GEOS unions, which release the GIL) runs beside the served units
    # (shortest-path passes, which hold it).
    frontage = Background(
        class_coverage, net, facilities, radii, residential, parcels=parcels,
        buildings=buildings, frontage_m=frontage_m, facility_point=facility_point,
        max_snap_m=max_snap_m)
    units = measure(residential, residents, basis)
    if "residential_id" in residential.columns:
        units.insert(0, "residential_id", residential["residential_id"].astype("string"))
    table = served_table(units, radii)
    if buildings is not None and len(buildings):
        homes = measure(buildings)
        table = table.merge(served_table(homes, radii, "buildings", area=False),
                            on=["class", "radius_m"])
    if parcels is not None and any(distance_column(c) in parcels for c in radii):
        flags = pd.DataFrame({served_column(c): parcels[distance_column(c)].to_numpy(float) <= r
                              for c, r in radii.items() if distance_column(c) in parcels})
        table = table.merge(served_table(flags, radii, "parcels", area=False),
                            on=["class", "radius_m"])
    supply = supply_table(units, facilities, radii, supply_norms)
    if len(supply):
        table = table.merge(supply, on="class", how="left")
    front, front_spots = frontage.result()
    # What the served units count already (radius, residential area, units) is not repeated.
    front = front.drop(columns=[c for c in front.columns if c != "class" and c in table])
    front = front.rename(columns=FRONTAGE_COLUMNS)
    table = table.merge(front, on="class", how="left")
    spots = unit_blind_spots(units, radii, "residential_id" if "residential_id" in units
                             else None)
    return ServiceCoverage(table, spots, units, front_spots)


__all__ = ["FRONTAGE_COLUMNS", "ServiceCoverage", "service_coverage"]
