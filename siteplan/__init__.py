"""siteplan: choose where new housing goes.

Street networks and facilities in, network distances, catchments, suitability scores,
land-supply shortlists and planning maps out.  Built for the Shanxi 好房子 pilot's service radii
(kindergarten 300 m, primary school 500 m, middle school 1000 m, walking along streets).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "OSM_CREDIT", "OSM_CREDIT_HTML"]
