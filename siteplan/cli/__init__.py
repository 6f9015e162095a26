"""The ``siteplan`` command line: a thin layer over :mod:`siteplan.pipeline` and friends.

:func:`main` runs it (``siteplan ...``, ``python -m siteplan ...``).  The commands register on
:data:`app` as their modules are imported here: :mod:`~siteplan.cli.run` (a study end to end),
then :mod:`~siteplan.cli.tools` (single stages, new cities, batches),
:mod:`~siteplan.cli.compare` (scenarios) and :mod:`~siteplan.cli.report` (the parcel report).
"""

from siteplan.cli import compare, report, run, tools
from siteplan.cli.app import app, main

__all__ = ["app", "main", "compare", "report", "run", "tools"]
