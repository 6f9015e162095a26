"""How table values become cells, the same in the CSV, the XLSX and the batch summary.

Decimals per kind of column (counts whole, metres one place, shares four...) and text that a
spreadsheet would run as a formula neutralised.
"""

from __future__ import annotations

import re

import pandas as pd

#: Leading characters that make a spreadsheet treat text as a formula (CSV/XLSX injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Characters an XLSX cell cannot hold (XML 1.0 forbids them; openpyxl raises on them): the C0
# controls but tab, line feed and carriage return.
XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
XLSX_REPLACEMENT = "\ufffd"


def xlsx_text(text: str) -> str:
    """Return ``text`` with each character an XLSX cell cannot hold replaced by U+FFFD.

    Examples
    --------
    >>> xlsx_text("A" + chr(1) + "B") == "A" + chr(0xFFFD) + "B"
    True
    """
    return XLSX_ILLEGAL.sub(XLSX_REPLACEMENT, text)


def neutralise(text: str) -> str:
    """Prefix ``'`` to text that a spreadsheet would run as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _is_integer_column(name: str, values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_integer_dtype(values):
        return True
    return (name == "rank" or name.startswith("n_") or name == "est_households"
            or name.endswith(("_places", "_spaces")))


def column_decimals(name: str, values: pd.Series) -> int | None:
    """Decimals a numeric column is written with (``0`` for counts); ``None`` if not numeric.

    Metres and minutes 1, square metres 2, score/points/ratings/FAR 2, shares 4, lon/lat 6,
    others (raw criterion values) 4.
    """
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return None
    if _is_integer_column(name, values):
        return 0
    if name in ("lon", "lat"):
        return 6
    if name.endswith(("_m", "_min")):
        return 1
    if name.endswith(("_m2", "_points", "_rating", "_ha", "_mu")) or name in ("score", "far"):
        return 2
    if name.endswith("_share"):
        return 4
    return 4


def number_format(decimals: int) -> str:
    """Return the spreadsheet number format of ``decimals`` places (``0.00`` for 2)."""
    return "0" if decimals == 0 else "0." + "0" * decimals


__all__ = ["FORMULA_PREFIXES", "XLSX_ILLEGAL", "column_decimals", "neutralise", "number_format",
           "xlsx_text"]
