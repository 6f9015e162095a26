"""One description of an input layer: where it is and how to read it.

A study builds an :class:`InputLayer` once per input (:meth:`siteplan.study.model.Study.input_layer`),
merging the layer's own settings with the study's ``[crs]`` defaults, and only
:func:`siteplan.io.layers.read_input` reads it.  So every layer of a study, the hazard and
demand layers included, is read with the same CRS, encoding and coordinate-system rules.
This module imports nothing heavy: the study model uses it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

CoordSystem = Literal["wgs84", "gcj02", "bd09"]


@dataclass(frozen=True)
class InputLayer:
    """Where one input layer is and how to read it.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    source
        A file path, or a PostGIS URL (``postgresql://...``).
    kind
        What the layer is for (``"street layer"``, ``"hazard layer"``), named in messages.
    layer
        Layer (or table) name inside a multi-layer source.
    crs
        The CRS to assume when the file carries none (a Shapefile without ``.prj``, a CSV).
    encoding
        Attribute text encoding; ``None`` trusts the file (a Shapefile's ``.cpg``, UTF-8 for
        GeoJSON and GeoPackage) and warns about text that looks mis-decoded.
    coord_system
        ``"gcj02"`` or ``"bd09"`` for lon/lat taken from Chinese web maps (converted to WGS84).
    lon_column, lat_column
        Coordinate columns of a CSV, when their names are not recognised ones.
    id_column
        The column that identifies each feature; messages about a feature name it by it.

    Examples
    --------
    >>> from siteplan.io.layers import read_input
    >>> spec = InputLayer("data/taiyuan/parcels.gpkg", kind="parcels", layer="parcels")
    >>> str(spec)
    'data/taiyuan/parcels.gpkg'
    >>> len(read_input(spec))
    1328
    """

    source: str
    kind: str = "layer"
    layer: str | None = None
    crs: Any = None
    encoding: str | None = None
    coord_system: CoordSystem = "wgs84"
    lon_column: str | None = None
    lat_column: str | None = None
    id_column: str | None = None

    def __fspath__(self) -> str:
        """Return the source, so that ``os.fspath`` and ``open`` take a description."""
        return self.source

    def __str__(self) -> str:
        """Return the source, as messages show it."""
        return self.source

    @classmethod
    def of(cls, source: str | os.PathLike[str] | InputLayer, kind: str = "layer") -> InputLayer:
        """Describe ``source`` with default settings (a description passes through).

        Examples
        --------
        >>> InputLayer.of("streets.gpkg", "street layer").encoding is None
        True
        """
        if isinstance(source, InputLayer):
            return source
        return cls(os.fspath(source), kind=kind)


__all__ = ["CoordSystem", "InputLayer"]
