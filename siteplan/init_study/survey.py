"""What a city's data has and lacks, as a new study needs to know it.

:func:`survey_city` classifies the facilities (the same rules ``siteplan run`` applies), counts
them per class, measures the streets, rail and water, and decides how transport is measured
(:func:`choose_transport`): by the mapped bus stops and metro stations when the data has
enough of them, by the labelled proxies of :mod:`siteplan.facilities.proxies` when it does
not.  :meth:`Survey.gaps` says, one line each, what the data lacks and what that means for
the study.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from siteplan.core.defaults import REAL_STOPS_RULE, SEED_RADII_M, SEED_SOURCE
from siteplan.core.i18n import _, language
from siteplan.core.labels import label
from siteplan.core.tags import tag_column
from siteplan.facilities.classify import classify_facilities, residential_land
from siteplan.facilities.proxies import transport_proxies
from siteplan.facilities.rules import CLASSES
from siteplan.init_study.sources import CitySources
from siteplan.io.crs import analysis_crs
from siteplan.parcels.blocks import BLOCK_RAILWAYS, BLOCK_WATERWAYS
from siteplan.parcels.plausible import spanned_area_m2

#: The transport classes and the proxy that stands in for each.
TRANSPORT: dict[str, str] = {"bus_stop": "bus_corridor", "metro_station": "metro_line"}
def _proxy_text(proxy: str) -> str:
    """Say how a labelled proxy is made (in the current language)."""
    return {"bus_corridor": _("points every 100 m along primary and secondary roads"),
            "metro_line": _("points every 100 m along open metro track")}[proxy]


def _stops(cls: str) -> str:
    """Name the stops of a transport class, plural (bus stops; 公交站)."""
    return cls.replace("_", " ") + "s" if language() == "en" else label(cls, language())


def _stop(cls: str, whole: bool = False) -> str:
    """Name one stop of a transport class (stop, station; 公交站, 地铁站), or a proxy."""
    if language() != "en":
        return label(cls, language())
    return cls.replace("_", " ") if whole else cls.split("_")[-1]


@dataclass(frozen=True)
class TransportChoice:
    """How one kind of transport is measured: by its mapped stops, by a proxy, or not at all.

    Attributes
    ----------
    real, proxy
        The class of the mapped stops (``bus_stop``) and of its proxy (``bus_corridor``).
    n_real, n_proxy
        Mapped stops, and proxy points (every 100 m along the corridors or track).
    share
        Share of the proxy points within ``within_m`` (straight line) of a mapped stop; None
        when there are no stops or no proxy points to compare.
    within_m, min_share
        The rule (:data:`siteplan.core.defaults.REAL_STOPS_RULE`).
    """

    real: str
    proxy: str
    n_real: int
    n_proxy: int
    share: float | None
    within_m: float
    min_share: float

    @property
    def use(self) -> str | None:
        """Return the class the study measures: the stops, the proxy, or None (neither)."""
        if self.n_real and (self.n_proxy == 0 or (self.share or 0.0) >= self.min_share):
            return self.real
        return self.proxy if self.n_proxy else None

    def explain(self) -> str:
        """Say what was chosen and why, with the measured share."""
        stops = _stops(self.real)
        if self.use is None:
            return _("{stops}: none mapped and no {proxy} to stand in for them; transport is "
                     "not scored.").format(stops=stops, proxy=_stop(self.proxy, whole=True))
        if self.share is None:
            if self.use == self.real:
                return _("{stops}: {n} mapped; measured by them (no proxy to compare).").format(
                    stops=stops, n=self.n_real)
            return _("{stops}: none mapped; the labelled PROXY {proxy} is used ({how}, {n} "
                     "points).").format(stops=stops, proxy=self.proxy,
                                        how=_proxy_text(self.proxy), n=self.n_proxy)
        measured = _("{n} mapped, within {within:g} m of {share:.0%} of the {proxy} proxy's "
                     "{n_proxy} points").format(n=self.n_real, within=self.within_m,
                                                share=self.share, proxy=self.proxy,
                                                n_proxy=self.n_proxy)
        if self.use == self.real:
            return _("{stops}: {measured} (>= {min:.0%}); measured by the mapped stops.").format(
                stops=stops, measured=measured, min=self.min_share)
        return _("{stops}: {measured} (< {min:.0%}: too few mapped); the labelled PROXY {proxy} "
                 "is used ({how}). It under-states the walk to a real {kind}; to replace it, "
                 'add the {stops} as [[inputs.layers]] and set the criterion\'s class = '
                 '"{real}".').format(stops=stops, measured=measured, min=self.min_share,
                                     proxy=self.proxy, how=_proxy_text(self.proxy),
                                     kind=_stop(self.real), real=self.real)


def choose_transport(lines: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
                     area: BaseGeometry | None = None) -> tuple[TransportChoice, ...]:
    """Decide, per transport kind, whether the mapped stops are enough to measure access by.

    The proxy's points (every 100 m along primary/secondary roads; along open metro track) are
    where stops would be if the data had them all; the stops are enough when at least
    ``min_share`` of those points lie within ``within_m`` of a mapped stop
    (:data:`siteplan.core.defaults.REAL_STOPS_RULE`).

    Parameters
    ----------
    lines
        OSM-style lines (``highway``, ``railway`` as columns or in ``other_tags``).
    facilities
        Classified facilities (``class``, geometry).
    area
        The study area, in the lines' CRS: only proxy points inside it count.

    Returns
    -------
    tuple of TransportChoice
        Bus, then metro.

    Examples
    --------
    A 2 km primary road with a bus stop every 400 m, and 3 km of metro track with one
    station at its end (within 1000 m of a third of the track):

    >>> import geopandas as gpd
    >>> import shapely
    >>> lines = gpd.GeoDataFrame({"highway": ["primary", None], "railway": [None, "subway"]},
    ...     geometry=[shapely.LineString([(0, 0), (2000, 0)]),
    ...               shapely.LineString([(0, 500), (3000, 500)])], crs="EPSG:32650")
    >>> stops = [shapely.Point(x, 10) for x in range(0, 2001, 400)]
    >>> fac = gpd.GeoDataFrame({"class": ["bus_stop"] * 6 + ["metro_station"]},
    ...     geometry=[*stops, shapely.Point(3000, 500)], crs="EPSG:32650")
    >>> bus, metro = choose_transport(lines, fac)
    >>> bus.use, bus.share, metro.use, round(metro.share, 2)
    ('bus_stop', 1.0, 'metro_line', 0.35)
    """
    metric = analysis_crs(lines)
    proxies = transport_proxies(lines).to_crs(metric)
    if area is not None and len(proxies):
        local = gpd.GeoSeries([area], crs=lines.crs).to_crs(metric).iloc[0]
        shapely.prepare(local)
        proxies = proxies[shapely.intersects(np.asarray(proxies.geometry.values), local)]
    fac = facilities.to_crs(metric)
    out = []
    for real, proxy in TRANSPORT.items():
        within_m, min_share = REAL_STOPS_RULE[real]
        stops = np.asarray(fac.geometry.values[(fac["class"] == real).to_numpy()])
        points = np.asarray(proxies.geometry.values[(proxies["class"] == proxy).to_numpy()])
        share = None
        if stops.size and points.size:
            hit = shapely.STRtree(stops).query(points, predicate="dwithin", distance=within_m)
            share = float(np.unique(hit[0]).size / points.size)
        out.append(TransportChoice(real, proxy, int(stops.size), int(points.size), share,
                                   within_m, min_share))
    return tuple(out)


@dataclass(frozen=True)
class Survey:
    """What a city's data holds, for writing its study and its report.

    Attributes
    ----------
    counts
        Classified facilities per class (every class of :data:`CLASSES`, zeros included).
    transport
        The bus and metro :class:`TransportChoice`.
    unclassified_schools
        Schools no rule could give a level.
    lines
        ``streets``, ``street_km``, ``rail``, ``water``: counts of lines (km of streets).
    extent_km2
        Area of the convex hull of the streets.
    residential_areas
        ``landuse=residential`` polygons (residential land, for coverage and 2SFCA demand).
    blocks
        The block builder's counts (``faces``, ``in_area_range``, ``dropped_covered``,
        ``kept``, ``residential``).
    """

    counts: dict[str, int]
    transport: tuple[TransportChoice, ...]
    unclassified_schools: int
    lines: dict[str, float]
    extent_km2: float
    residential_areas: int
    blocks: dict[str, int] = field(default_factory=dict)

    def scored_classes(self) -> list[str]:
        """List the classes the study measures: those found, then the transport choices."""
        found = [c for c in CLASSES if c not in TRANSPORT and self.counts.get(c, 0) > 0]
        return found + [t.use for t in self.transport if t.use is not None]

    def gaps(self) -> list[str]:
        """Say what the data lacks and what it means for the study, one line each."""
        out = []
        for cls, radius in SEED_RADII_M.items():
            if self.counts.get(cls, 0) == 0:
                out.append(_("no {cls} in the data: every parcel fails the {radius:g} m radius "
                             "of {source} and is reported as needing one. Add the education "
                             'bureau\'s list as [[inputs.layers]] (class = "{cls}") if the area '
                             "has them.").format(cls=cls, radius=radius, source=SEED_SOURCE))
        others = [c for c in CLASSES
                  if c not in SEED_RADII_M and c not in TRANSPORT and not self.counts.get(c, 0)]
        if others:
            out.append(_("no {classes} in the data: not scored.").format(
                classes=", ".join(others)))
        out += [t.explain() for t in self.transport if t.use != t.real]
        if self.unclassified_schools:
            out.append(_("{n} school(s) have no level in their tags or name and are left out; "
                         "`siteplan facilities` lists them.").format(
                             n=self.unclassified_schools))
        if self.residential_areas == 0:
            out.append(_("no residential land (landuse=residential): coverage of residential "
                         "land cannot be measured (the coverage table counts parcels "
                         "instead)."))
        out.append(_("no land-supply parcels: street blocks stand in for them, with an assumed "
                     "FAR (far); a bureau's parcel layer replaces them in [inputs.parcels]."))
        out.append(_("no DEM, hazard layers or parcel attributes (净地, land use): the slope, "
                     "hazard and attribute criteria are left out."))
        return out


def survey_city(city: CitySources, blocks: dict[str, int] | None = None) -> Survey:
    """Classify a city's facilities and measure what its data holds.

    Parameters
    ----------
    city
        The lines and features read by :func:`siteplan.init_study.sources.read_city`.
    blocks
        The block builder's counts (``attrs["counts"]`` of the blocks), for the report.

    Returns
    -------
    Survey

    Examples
    --------
    >>> from siteplan.init_study.sources import read_city
    >>> survey = survey_city(read_city("tests/data/beijing_haidian_pku_tsinghua_2017.osm"))
    >>> survey.scored_classes()
    ['kindergarten', 'primary_school', 'middle_school', 'hospital', 'park', 'bus_stop', 'metro_station']
    >>> print(survey.transport[0].explain())
    bus stops: 20 mapped, within 500 m of 94% of the bus_corridor proxy's 257 points (>= 50%); measured by the mapped stops.
    """
    lines = city.lines
    metric = analysis_crs(lines)
    if city.features is not None and len(city.features):
        result = classify_facilities(city.features, source="osm")
        facilities, counts = result.facilities, result.counts()
        unclassified = len(result.unclassified_schools)
        residential = len(residential_land(city.features))
    else:
        facilities = gpd.GeoDataFrame({"class": []}, geometry=[], crs=lines.crs)
        counts, unclassified, residential = dict.fromkeys(CLASSES, 0), 0, 0
    highway = tag_column(lines, "highway").notna().to_numpy()
    streets = lines[highway]
    stats = {
        "streets": float(highway.sum()),
        "street_km": float(shapely.length(streets.to_crs(metric).geometry.values).sum() / 1e3),
        "rail": float(tag_column(lines, "railway").isin(BLOCK_RAILWAYS).fillna(False).sum()),
        "water": float(tag_column(lines, "waterway").isin(BLOCK_WATERWAYS).fillna(False).sum()),
    }
    return Survey(counts=counts, transport=choose_transport(lines, facilities, city.area),
                  unclassified_schools=unclassified, lines=stats,
                  extent_km2=spanned_area_m2(shapely.get_coordinates(
                      lines.to_crs(metric).geometry.values)) / 1e6, residential_areas=residential,
                  blocks=dict(blocks or {}))


__all__ = ["TRANSPORT", "Survey", "TransportChoice", "choose_transport", "survey_city"]
