"""Thin facility layers: a data gap that would otherwise read as a finding.

OSM maps a city's schools, hospitals and kindergartens very unevenly.  With 2 kindergartens
mapped for a whole city centre, every parcel fails the 300 m rule and the kindergarten
criterion rates 976 of 983 parcels 0: the criterion does nothing, and the map reads as "no
kindergartens here" when the truth is "no kindergartens in the data".  :func:`thin_layers`
names such classes, from two signs:

- **density**: n facilities with a service radius r can serve at most n * pi * r^2 of land (as
  the crow flies; along streets less).  When that is below
  :data:`~siteplan.core.defaults.THIN_LAYER_MAX_SHARE` of the study's residential land, the
  layer cannot be what is on the ground (for a kindergarten at 300 m: fewer than one per 2 km²
  of residential land);
- **ratings**: a criterion of the class that rates at least
  :data:`~siteplan.core.defaults.THIN_LAYER_ZERO_SHARE` of the ranked parcels 0.

The run summary, the shortlist metadata and the map legend show each one with the likely fix.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd

from siteplan.core.defaults import THIN_LAYER_MAX_SHARE, THIN_LAYER_ZERO_SHARE
from siteplan.core.labels import CLASSES as CLASS_LABELS
from siteplan.facilities.rules import CLASSES
from siteplan.study.model import Study
from siteplan.study.result import ThinLayer, bool_column

#: Who keeps the authoritative list of each class (the fix a thin layer names).
_KEEPER = {
    "kindergarten": "the education bureau's (教育局) kindergarten list",
    "primary_school": "the education bureau's (教育局) school list",
    "middle_school": "the education bureau's (教育局) school list",
    "high_school": "the education bureau's (教育局) school list",
    "hospital": "the health commission's (卫健委) list of hospitals",
    "clinic": "the health commission's (卫健委) list of clinics and 社区卫生服务中心",
    "elderly_care": "the civil affairs bureau's (民政局) list of elderly-care facilities",
}


def _residential_km2(residential: gpd.GeoDataFrame | None) -> float | None:
    if residential is None or not len(residential) or residential.crs is None:
        return None
    metric = residential if residential.crs.is_projected else residential.to_crs(
        residential.estimate_utm_crs())
    # Summed areas: residential polygons seldom overlap, and this is an order of magnitude.
    area = float(metric.geometry.area.sum()) / 1e6
    return area if area > 0 else None


def _zero_ratings(study: Study, cls: str, parcels: pd.DataFrame) -> dict[str, tuple[int, int]]:
    ranked = ~bool_column(parcels, "excluded") if "excluded" in parcels.columns else np.ones(
        len(parcels), dtype=bool)
    out = {}
    for criterion in study.criteria:
        column = f"{criterion.name}_rating"
        if criterion.facility_class != cls or column not in parcels.columns:
            continue
        rating = pd.to_numeric(parcels.loc[ranked, column], errors="coerce").fillna(0.0)
        out[criterion.name] = (int((rating <= 0).sum()), int(ranked.sum()))
    return out


def thin_layers(study: Study, facilities: gpd.GeoDataFrame,
                residential: gpd.GeoDataFrame | None,
                parcels: pd.DataFrame | None = None) -> list[ThinLayer]:
    """Name the facility classes whose data is far too thin for the study (module docstring).

    Parameters
    ----------
    study
        The study (its classes, radii and criteria).
    facilities
        The classified facilities (``class``).
    residential
        The residential land (any CRS); without it only the ratings are judged.
    parcels
        The scored parcels (``<criterion>_rating``, ``excluded``); without them only the
        density is judged.

    Returns
    -------
    list of ThinLayer
        One per thin class, in the study's class order.  Classes without facilities are left
        to the access warnings, and labelled proxies (bus corridors, metro lines) are not
        judged.

    Examples
    --------
    Two kindergartens for 20 km² of residential land:

    >>> import geopandas as gpd
    >>> import shapely
    >>> from siteplan import Study
    >>> study = Study.model_validate({"study": {"name": "demo"}, "criteria": [
    ...     {"name": "kg", "kind": "distance", "class": "kindergarten", "weight": 1}]})
    >>> kg = gpd.GeoDataFrame({"class": ["kindergarten"] * 2},
    ...                       geometry=shapely.points([(0, 0), (900, 0)]), crs="EPSG:32649")
    >>> land = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 4000, 5000)], crs="EPSG:32649")
    >>> for thin in thin_layers(study, kg, land):
    ...     print(thin.message)
    kindergarten (幼儿园): 2 facilities for 20.0 km² of residential land: within 300 m
    they could serve at most 2.8 % of it (fewer than one per 1.9 km²). A gap in the data,
    not a finding. Fix: add the education bureau's (教育局) kindergarten list as a facility
    layer in [inputs].
    """
    land = _residential_km2(residential)
    counts = facilities["class"].astype(str).value_counts()
    out = []
    for cls in study.facility_classes():
        n = int(counts.get(cls, 0))
        if cls not in CLASSES or n == 0:
            continue
        radius = study.class_radius(cls)
        share = None
        if land is not None and radius is not None:
            share = min(1.0, n * math.pi * radius ** 2 / 1e6 / land)
        zeros = _zero_ratings(study, cls, parcels) if parcels is not None else {}
        sparse = share is not None and share < THIN_LAYER_MAX_SHARE
        idle = {c: z for c, z in zeros.items() if z[1] and z[0] >= THIN_LAYER_ZERO_SHARE * z[1]}
        if not (sparse or idle):
            continue
        why = []
        if sparse and land is not None and radius is not None and share is not None:
            per = math.pi * radius ** 2 / 1e6 / THIN_LAYER_MAX_SHARE
            why.append(f"{n} facilities for {land:,.1f} km² of residential land: within "
                       f"{radius:g} m they could serve at most {100 * share:.1f} % of it "
                       f"(fewer than one per {per:.1f} km²)")
        else:
            why.append(f"{n} facilities")
        why += [f"criterion {c} rates {z:,} of {t:,} ranked parcels 0" for c, (z, t) in
                idle.items()]
        keeper = _KEEPER.get(cls, f"the responsible bureau's {cls} layer")
        message = (f"{cls} ({CLASS_LABELS[cls][1]}): {'; '.join(why)}. A gap in the data, not "
                   f"a finding. Fix: add {keeper} as a facility layer in [inputs].")
        out.append(ThinLayer(cls, n, land, radius, share, zeros, message))
    return out


__all__ = ["thin_layers"]
