"""Undeclared Shapefile text that reads as Chinese in GBK: find it and say how to declare it.

A Shapefile without a ``.cpg`` file and without a declared encoding is decoded as Latin-1 by
GDAL; Chinese desktop GIS writes GBK, so the text arrives garbled (``Ð¡Ñ§`` for 小学).
"""

from __future__ import annotations

import re
import warnings

import geopandas as gpd
import pandas as pd

from siteplan.core.errors import SiteplanWarning
from siteplan.core.i18n import _

_LATIN1_HIGH = re.compile("[\u0080-\u00ff]")
_CJK = re.compile("[\u4e00-\u9fff]")


def warn_if_mojibake(gdf: gpd.GeoDataFrame, where: str) -> None:
    """Warn when undeclared DBF text decoded as Latin-1 would read as Chinese in GBK."""
    text_cols = [
        c
        for c in gdf.columns
        if c != gdf.geometry.name
        and (pd.api.types.is_string_dtype(gdf[c]) or pd.api.types.is_object_dtype(gdf[c]))
    ]
    for name in map(str, gdf.columns):
        decoded = reread_as_gbk(name)
        if decoded is not None:
            warnings.warn(
                _("{where}: the column name {name!r} looks garbled (it reads as {decoded!r} in "
                  "GBK); the Shapefile has no .cpg file and no encoding was declared. Declare "
                  'encoding = "gbk" (or "gb18030") for this input, or put a .cpg file '
                  "containing GBK next to the .shp.").format(where=where, name=name,
                                                             decoded=decoded),
                SiteplanWarning,
                stacklevel=4,
            )
            break
    for col in text_cols:
        values = gdf[col].dropna().astype(str)
        suspicious = values[values.str.contains(_LATIN1_HIGH, na=False)].unique()[:200]
        if "\ufffd" in "".join(values.head(200)):
            _mojibake_warning(where, col, None, None)
            return
        for text in suspicious:
            decoded = reread_as_gbk(text)
            if decoded is not None:
                _mojibake_warning(where, col, text, decoded)
                return


def reread_as_gbk(text: str) -> str | None:
    """``text`` re-read as GBK if it is Latin-1 mojibake of Chinese, else None."""
    if not _LATIN1_HIGH.search(text):
        return None
    try:
        decoded = text.encode("latin-1").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    return decoded if _CJK.search(decoded) else None


def _mojibake_warning(where: str, col: str, text: str | None, decoded: str | None) -> None:
    example = (
        _(" (e.g. {text!r}, which reads as {decoded!r} in GBK)").format(text=text,
                                                                        decoded=decoded)
        if text is not None
        else _(" (replacement characters)")
    )
    warnings.warn(
        _("{where}: text in column {col!r} looks garbled{example}; the Shapefile has no .cpg "
          'file and no encoding was declared. Declare encoding="gbk" (or "gb18030") for this '
          "input (study file: encoding = \"gbk\" on its entry in [inputs]), or put a .cpg "
          "file containing GBK next to the .shp.").format(where=where, col=col,
                                                          example=example),
        SiteplanWarning,
        stacklevel=4,
    )


__all__ = ["reread_as_gbk", "warn_if_mojibake"]
