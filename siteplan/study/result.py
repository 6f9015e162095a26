"""What a study run computed: :class:`StudyResult` and :class:`CatchmentResult`.

:func:`siteplan.pipeline.run_study` makes them; the outputs, the siting and notebooks read
them.  :func:`order_parcels` is the one order in which parcels are listed everywhere: ranked
parcels by rank (then id), then the excluded ones by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from siteplan.core.errors import InputError
from siteplan.study.model import Study

if TYPE_CHECKING:
    import geopandas as gpd

    from siteplan.network.graph import Network


def order_parcels(parcels: pd.DataFrame, top_n: int | None = None) -> pd.DataFrame:
    """List parcels in shortlist order.

    Ranked parcels by ``rank`` (then ``parcel_id``), ``top_n`` of them if given, followed by
    all excluded parcels by ``parcel_id``.  Without ``rank`` the order is by ``score``
    (descending) then ``parcel_id``.

    Parameters
    ----------
    parcels
        A table with ``parcel_id`` and, usually, ``rank``, ``score`` and ``excluded``.
    top_n
        Keep only the first ``top_n`` ranked parcels (the excluded ones all follow).

    Returns
    -------
    pandas.DataFrame
        The rows of ``parcels`` in that order.

    Examples
    --------
    >>> t = pd.DataFrame({"parcel_id": ["b", "a", "c"], "rank": [1, 1, None],
    ...                   "excluded": [False, False, True]})
    >>> order_parcels(t)["parcel_id"].tolist()
    ['a', 'b', 'c']
    """
    if "parcel_id" not in parcels.columns:
        raise InputError("the parcels have no `parcel_id` column.", where="shortlist",
                         fix="load parcels with siteplan.parcels.load.load_parcels.")
    excluded = bool_column(parcels, "excluded")
    pid = parcels["parcel_id"].astype(str).to_numpy()
    if "rank" in parcels.columns:
        key = pd.to_numeric(parcels["rank"], errors="coerce").to_numpy(dtype=float)
    elif "score" in parcels.columns:
        key = -pd.to_numeric(parcels["score"], errors="coerce").to_numpy(dtype=float)
    else:
        key = np.zeros(len(parcels))
    key = np.where(np.isnan(key), np.inf, key)  # unranked after ranked
    order = np.lexsort((pid, key, excluded))
    ranked = order[~excluded[order]]
    if top_n is not None:
        if int(top_n) < 0:
            raise InputError(f"top_n must be >= 0, got {top_n}.", where="shortlist",
                             fix="give a positive number of parcels, or none for all.")
        ranked = ranked[: int(top_n)]
    rows = np.concatenate([ranked, order[excluded[order]]])
    return parcels.iloc[rows]


def bool_column(df: pd.DataFrame, name: str) -> np.ndarray:
    """Return column ``name`` as a bool array (missing values and a missing column are False)."""
    if name not in df.columns:
        return np.zeros(len(df), dtype=bool)
    out: np.ndarray = df[name].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return out


@dataclass
class StudyResult:
    """Everything a study computed; all frames in the analysis (metric) CRS.

    :func:`siteplan.pipeline.run_study` makes it; each parameter is kept as the attribute of
    the same name.

    Parameters
    ----------
    study
        The validated configuration.
    network
        The walking network.
    facilities
        Classified facilities: ``facility_id``, ``class``, ``name``, ``source``, geometry.
    parcels
        Candidate parcels with access, criterion, score, rank, exclusion, compliance and
        programme columns.
    catchments
        Catchment polygons of every class with a radius (``facility_id``, ``class``,
        ``radius_m``...).
    coverage
        Service coverage per class: residential units, area and residents served (the
        served-unit measure), buildings and parcels served, places per 1,000 residents, and
        the street-frontage land share (:func:`siteplan.access.service.service_coverage`).
    blind_spots
        The residential units not served, per class (服务盲区), with the distance they miss by.
    unreachable
        Parcels and facilities that could not reach the network, with distances.
    unclassified
        Schools the rules could not classify (names to add to the rules table).
    residential
        The residential land coverage is measured on.
    buildings
        Building footprints (where the OSM features have them).
    boundary
        The study boundary, when the study has one.
    timings
        Seconds per step.
    units
        Every residential unit with its residents, entrances and, per class, distance,
        nearest facility and served flag.
    blind_spots_frontage
        The residential land outside each class's catchment polygons (the frontage measure).
    entrances
        The mapped entrances of estates (OSM entrances and gates, or ``inputs.entrances``).
    facilities_report
        Every school or health feature that did not become a facility, with its tags and the
        reason (:mod:`siteplan.facilities.report`); written as the ``facilities_report`` layer
        and XLSX sheet.
    thin_layers
        The facility classes whose data is far too thin for the study area
        (:class:`ThinLayer`), shown in the summary, the shortlist metadata and the map.
    life_circle_facilities
        The facilities of each life-circle type (``class`` is the type, ``matched_by`` the
        rule or class that made it; :mod:`siteplan.facilities.lifecircle`), when the study
        measures life circles; written as the ``life_circle_facilities`` layer.

    Examples
    --------
    A result put together by hand (``run_study`` makes real ones), to list its shortlist:

    >>> import geopandas as gpd
    >>> import pandas as pd
    >>> from shapely.geometry import LineString, box
    >>> from siteplan import Study, StudyResult, graph_from_lines
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> parcels = gpd.GeoDataFrame(
    ...     {"parcel_id": ["a", "b", "c"], "rank": pd.array([2, 1, None], dtype="Int64"),
    ...      "excluded": [False, False, True]},
    ...     geometry=[box(300 * i, -250, 300 * i + 200, -50) for i in range(3)], crs=crs)
    >>> empty = gpd.GeoDataFrame(geometry=[], crs=crs)
    >>> result = StudyResult(Study.model_validate({"study": {"name": "demo"}}), net, empty,
    ...                      parcels, empty, pd.DataFrame(), empty, pd.DataFrame(),
    ...                      pd.DataFrame(), empty)
    >>> result.ranked()["parcel_id"].tolist()
    ['b', 'a']
    """

    study: Study
    network: Network
    facilities: gpd.GeoDataFrame
    parcels: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame
    coverage: pd.DataFrame
    blind_spots: gpd.GeoDataFrame
    unreachable: pd.DataFrame
    unclassified: pd.DataFrame
    residential: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame | None = None
    boundary: gpd.GeoDataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)
    units: gpd.GeoDataFrame | None = None
    blind_spots_frontage: gpd.GeoDataFrame | None = None
    entrances: gpd.GeoDataFrame | None = None
    facilities_report: gpd.GeoDataFrame | None = None
    thin_layers: list[ThinLayer] = field(default_factory=list)
    life_circle_facilities: gpd.GeoDataFrame | None = None

    def ranked(self, top_n: int | None = None) -> gpd.GeoDataFrame:
        """List the parcels that are not excluded, by rank (then id); the first ``top_n``.

        Parameters
        ----------
        top_n
            How many to list; all by default.

        Returns
        -------
        geopandas.GeoDataFrame
            The rows of ``parcels``, in shortlist order (:func:`order_parcels`).
        """
        ordered = order_parcels(self.parcels, top_n)
        return ordered[~ordered["excluded"].astype(bool)]


@dataclass(frozen=True)
class ThinLayer:
    """A facility class whose data is far thinner than the study area can hold.

    Made by :func:`siteplan.scoring.thin.thin_layers`; the run summary, the shortlist metadata
    and the map show :attr:`message`.

    Attributes
    ----------
    class_
        The facility class.
    n_facilities
        Its facilities in the data.
    residential_km2
        Residential land of the study (km²); None when the study has none.
    radius_m
        The class's service radius; None when it has none.
    coverable_share
        The most of the residential land ``n_facilities`` could serve within ``radius_m``
        (``n * pi * r^2 / land``, capped at 1); None without land or radius.
    zero_ratings
        ``{criterion: (parcels rated 0, parcels ranked)}`` for the class's criteria.
    message
        One line: the class, the count, why it is thin, and the likely fix.
    """

    class_: str
    n_facilities: int
    residential_km2: float | None
    radius_m: float | None
    coverable_share: float | None
    zero_ratings: dict[str, tuple[int, int]]
    message: str

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as plain values (for the shortlist metadata)."""
        return {"class": self.class_, "n_facilities": self.n_facilities,
                "residential_km2": self.residential_km2, "radius_m": self.radius_m,
                "coverable_share": self.coverable_share,
                "zero_ratings": {k: list(v) for k, v in self.zero_ratings.items()},
                "message": self.message}


@dataclass
class CatchmentResult:
    """What :func:`siteplan.pipeline.run_catchments` computed (catchments without scoring).

    All frames are in the analysis (metric) CRS; each parameter is kept as the attribute of
    the same name.

    Parameters
    ----------
    study
        The validated configuration.
    network
        The walking network.
    facilities
        Classified facilities: ``facility_id``, ``class``, ``name``, ``source``, geometry.
    catchments
        Catchment polygons of every class with a radius
        (:func:`siteplan.access.catchments.catchments`).
    coverage
        Service coverage per class (:func:`siteplan.access.service.service_coverage`; by hand,
        also :func:`siteplan.access.coverage.coverage`).
    blind_spots
        The residential units not served, per class (by hand, also the land outside each
        class's catchment: :func:`siteplan.access.coverage.blind_spots`).
    timings
        Seconds per step.
    units, blind_spots_frontage
        As for :class:`StudyResult`.

    Examples
    --------
    A result put together by hand from the functions ``run_catchments`` calls:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point, box
    >>> from siteplan import (CatchmentResult, Study, catchments, class_coverage,
    ...                       graph_from_lines)
    >>> crs = "EPSG:32649"
    >>> net = graph_from_lines(gpd.GeoDataFrame(
    ...     {"highway": ["residential"]}, geometry=[LineString([(0, 0), (2000, 0)])], crs=crs))
    >>> kg = gpd.GeoDataFrame({"facility_id": ["k1"], "class": ["kindergarten"]},
    ...                       geometry=[Point(1000, 0)], crs=crs)
    >>> housing = gpd.GeoDataFrame(geometry=[box(0, 0, 2000, 20)], crs=crs)
    >>> radii = {"kindergarten": 300.0}
    >>> table, spots = class_coverage(net, kg, radii, housing)
    >>> result = CatchmentResult(Study.model_validate({"study": {"name": "demo"}}), net, kg,
    ...                          catchments(net, kg, radii), table, spots, {})
    >>> result.coverage[["class", "covered_share"]].round(2).values.tolist()
    [['kindergarten', 0.33]]
    """

    study: Study
    network: Network
    facilities: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame
    coverage: pd.DataFrame
    blind_spots: gpd.GeoDataFrame
    timings: dict[str, float]
    units: gpd.GeoDataFrame | None = None
    blind_spots_frontage: gpd.GeoDataFrame | None = None


__all__ = ["CatchmentResult", "StudyResult", "ThinLayer", "bool_column", "order_parcels"]
