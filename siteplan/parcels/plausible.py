"""Is a parcel layer plausible as land-supply parcels?  Sizes that betray a wrong layer.

A polygon of more than 200 ha is not a land-supply parcel (出让地块), and neither is one that
covers most of the area the study's streets span: both are usually the study area or a
district drawn into the parcel layer, or a layer read in the wrong CRS or unit.  Every parcel
would then be scored on a meaningless point.  :func:`implausible_parcels` names them; the
pipeline warns with the fix.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from siteplan.core.defaults import (
    PLAUSIBLE_AREA_MIN_KM2,
    PLAUSIBLE_PARCEL_MAX_HA,
    PLAUSIBLE_PARCEL_MAX_SHARE,
)
from siteplan.core.i18n import _


def _listed(ids: np.ndarray, ha: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(_("{id} ({ha:,.0f} ha)").format(id=i, ha=a)
                      for i, a in zip(ids[:limit], ha[:limit], strict=True))
    more = _(" and {n} more").format(n=ids.size - limit) if ids.size > limit else ""
    return shown + more


def implausible_parcels(parcels: gpd.GeoDataFrame, study_area_m2: float | None, *,
                        id_column: str = "parcel_id",
                        max_ha: float = PLAUSIBLE_PARCEL_MAX_HA,
                        max_share: float = PLAUSIBLE_PARCEL_MAX_SHARE) -> list[str]:
    """List the parcels too large to be land-supply parcels, one message per kind of problem.

    Parameters
    ----------
    parcels
        Parcels in a metric CRS, with ``id_column``.
    study_area_m2
        Area the study's streets span (m², :func:`spanned_area_m2`); the share check is skipped
        when it is None or less than 1 km² (a single site or a test, where one parcel may
        cover most).
    id_column
        Column naming the parcels in the messages.
    max_ha, max_share
        Largest plausible parcel (ha) and share of the study area.

    Returns
    -------
    list of str
        Messages with the fix; empty when every parcel is plausible.

    Examples
    --------
    >>> import geopandas as gpd
    >>> import shapely
    >>> parcels = gpd.GeoDataFrame({"parcel_id": ["a", "b"]}, geometry=[
    ...     shapely.box(0, 0, 100, 100), shapely.box(0, 0, 1500, 1500)], crs="EPSG:32650")
    >>> for text in implausible_parcels(parcels, 3e6):
    ...     print(text)
    1 parcel(s) larger than 200 ha, not a plausible land-supply parcel: b (225 ha). Fix: check the parcel layer's CRS and area unit ([inputs.parcels] crs, area_unit), and that it holds parcels, not districts or the study area (which goes in [study] boundary).
    1 parcel(s) covering more than 50% of the 300 ha the study's streets span: b (225 ha). Fix: give candidate parcels in [inputs.parcels] (siteplan parcels makes street blocks), not the study area (which goes in [study] boundary).
    """
    ids = parcels[id_column].astype(str).to_numpy()
    ha = shapely.area(parcels.geometry.values) / 1e4
    out = []
    big = np.flatnonzero(ha > max_ha)
    if big.size:
        out.append(_("{n} parcel(s) larger than {max_ha:g} ha, not a plausible land-supply "
                     "parcel: {listed}. Fix: check the parcel layer's CRS and area unit "
                     "([inputs.parcels] crs, area_unit), and that it holds parcels, not "
                     "districts or the study area (which goes in [study] boundary).").format(
                         n=big.size, max_ha=max_ha, listed=_listed(ids[big], ha[big])))
    if study_area_m2 is not None and study_area_m2 >= PLAUSIBLE_AREA_MIN_KM2 * 1e6:
        most = np.flatnonzero(ha * 1e4 > max_share * study_area_m2)
        if most.size:
            out.append(_("{n} parcel(s) covering more than {share:.0%} of the {area:,.0f} ha "
                         "the study's streets span: {listed}. Fix: give candidate parcels in "
                         "[inputs.parcels] (siteplan parcels makes street blocks), not the study "
                         "area (which goes in [study] boundary).").format(
                             n=most.size, share=max_share, area=study_area_m2 / 1e4,
                             listed=_listed(ids[most], ha[most])))
    return out


def spanned_area_m2(xy: np.ndarray) -> float:
    """Return the area (m²) of the convex hull of points in a metric CRS (0 for < 3 points)."""
    if xy.shape[0] < 3:
        return 0.0
    return float(shapely.area(shapely.convex_hull(shapely.multipoints(xy))))


__all__ = ["implausible_parcels", "spanned_area_m2"]
