"""siteplan: choose where new housing goes.

Street networks and facilities in, network distances, catchments, suitability scores,
land-supply shortlists and planning maps out.  Built for the Shanxi 好房子 pilot's service radii
(kindergarten 300 m, primary school 500 m, middle school 1000 m, walking along streets).

The documented API is importable from here (``siteplan.run_study``, ``siteplan.catchments``...).
Names are loaded on first use (SPEC 1, ``lazy_loader``; the list is ``__init__.pyi``), so
``import siteplan`` stays cheap and a notebook pays only for the stages it calls.
"""

from __future__ import annotations

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
