"""What the access stage of a study could not measure, said per facility class.

A class whose facilities cannot reach the walking network, a class with no facilities at all
and a class no parcel reaches within the search limit leave NaN distances behind (scored 0,
failing the radius): right, but only if the user knows why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from siteplan.core.columns import distance_column
from siteplan.facilities.rules import PROXY_CLASSES

if TYPE_CHECKING:
    from siteplan.study.model import Study


def access_warnings(study: Study, facilities: gpd.GeoDataFrame, access: pd.DataFrame,
                    unreachable: pd.DataFrame) -> list[str]:
    """List what the access stage could not measure, per facility class, one line each.

    A class whose facilities cannot reach the walking network (farther than
    ``network.max_snap_m``, e.g. on an island of streets that was dropped), a compliance class
    with no facilities at all, and a class that no parcel reaches within ``search_limit_m``
    leave NaN distances behind (scored 0, failing the radius): right, but only if the user
    knows why.

    Parameters
    ----------
    study
        The study (its classes, limits and file name).
    facilities
        The classified facilities (``facility_id``, ``class``, ``source``).
    access
        The parcels' access table (``unreachable``, ``dist_<class>_m``).
    unreachable
        The access stage's report (``kind``, ``class``, ``id``).

    Returns
    -------
    list of str
        One message per problem, naming the study file, the class and the fix.
    """
    where = study.source_path or "study config"
    cfg = study.network
    out = []
    counts = facilities["class"].astype(str).value_counts()
    reached = ~access["unreachable"].astype(bool).to_numpy()
    fac = unreachable[unreachable["kind"] == "facility"]
    for cls in study.facility_classes():
        n = int(counts.get(cls, 0))
        col = distance_column(cls)
        if n == 0:
            radius = study.compliance.radii.get(cls)
            fails = f" and fails the {radius:g} m radius" if radius is not None else ""
            out.append(f"{where}: the facility data has no {cls} facilities: every parcel's "
                       f"{col} is NaN{fails}. Fix: add a facility layer of class {cls} in "
                       "[inputs] if the area has them.")
            continue
        bad = fac.loc[fac["class"] == cls, "id"].astype(str).tolist()
        if cls in PROXY_CLASSES and len(bad) < n:
            bad = []  # points along track or expressways by design, not the user's data
        if bad:
            ids = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
            sources = sorted(set(facilities.loc[
                facilities["facility_id"].astype(str).isin(bad), "source"].astype(str)))
            what = f"all {n}" if len(bad) == n else f"{len(bad)} of {n}"
            tail = (f": every parcel's {col} is NaN" if len(bad) == n
                    else ": they are left out of the distances")
            out.append(f"{where}: {what} {cls} facilities ({', '.join(sources)}: {ids}) are "
                       f"farther than network.max_snap_m = {cfg.max_snap_m:g} m from the "
                       f"walking network{tail}. Fix: check their location and CRS, or whether "
                       "the streets around them were dropped as an island (network.keep_largest"
                       " = false keeps every component).")
            if len(bad) == n:
                continue
        if col in access and reached.any() and access.loc[reached, col].isna().all():
            out.append(f"{where}: no parcel reaches a {cls} facility within network."
                       f"search_limit_m = {cfg.search_limit_m:g} m along the streets (they may "
                       f"be on another component of the network): every parcel's {col} is NaN. "
                       "Fix: check that facilities and parcels share one connected street "
                       "network, or raise search_limit_m.")
    return out


__all__ = ["access_warnings"]
