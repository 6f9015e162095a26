"""Coordinate reference systems: choosing the local metric CRS for analysis."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pyproj import CRS

from siteplan.errors import InputError

MetricKind = Literal["utm", "cgcs2000"]


def local_metric_crs(lon: float, lat: float, kind: MetricKind = "utm") -> CRS:
    """Return a metric CRS suited to a study centred at (lon, lat) in degrees.

    Parameters
    ----------
    lon, lat
        Centre of the study area, WGS84 / CGCS2000 degrees.
    kind
        ``"utm"``: the WGS84 UTM zone.  ``"cgcs2000"``: the CGCS2000 3-degree Gauss-Krüger zone
        without zone prefix (EPSG:4534-4554), which Chinese bureaus use; EPSG:4547 for central
        Taiyuan.

    Returns
    -------
    pyproj.CRS
    """
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 180:
        raise InputError(
            f"cannot choose a metric CRS for centre ({lon}, {lat}): not valid degrees.",
            fix="check that the layer's CRS is declared correctly.",
        )
    if kind == "utm":
        zone = int((lon + 180.0) // 6.0) % 60 + 1
        return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
    if kind == "cgcs2000":
        central = 3 * int(math.floor(lon / 3.0 + 0.5))
        if not 75 <= central <= 135:
            raise InputError(
                f"CGCS2000 3-degree zones cover 73.5°E-136.5°E; the study centre is at {lon:.3f}°E.",
                fix='use metric_crs = "utm" for studies outside China.',
            )
        return CRS.from_epsg(4534 + (central - 75) // 3)
    raise InputError(f"unknown metric CRS kind {kind!r}.", fix='use "utm" or "cgcs2000".')


def metric_crs_for_bounds(
    bounds: tuple[float, float, float, float] | np.ndarray, kind: MetricKind = "utm"
) -> CRS:
    """Metric CRS for a lon/lat bounding box ``(minx, miny, maxx, maxy)``."""
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    return local_metric_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0, kind)
