"""Seed compliance: service radii of the 好房子 pilot, clause 三(二)8.

A new housing project must lie within walking distance, measured along streets, of a
kindergarten (300 m), a primary school (500 m) and a middle school (1000 m).  Where it does not,
the project must provide the missing facility itself, designed, built, accepted and delivered
together with the housing (同时设计、同时施工、同时验收、同时交付).

:func:`seed_compliance` reads the network distances ``dist_<class>_m`` (NaN = unreachable) and
adds ``meets_<class>_radius``, ``compliance_required`` and ``compliant_all``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from siteplan.errors import InputError
from siteplan.labels import label

# Seed clause 三(二)8: walking distance along streets, metres.
SEED_RADII_M: dict[str, float] = {
    "kindergarten": 300.0,
    "primary_school": 500.0,
    "middle_school": 1000.0,
}
SEED_CLAUSE = "三(二)8"

SAME_TIME_NOTE_ZH = label("same_time_delivery", "zh")
SAME_TIME_NOTE_EN = label("same_time_delivery", "en")


def must_provide_text(cls: str) -> str:
    """``须配建幼儿园 (must provide a kindergarten on site)`` for a facility class."""
    zh, en = label(cls, "zh"), label(cls, "en").lower()
    article = "an" if en[:1] in "aeiou" else "a"
    return f"须配建{zh} (must provide {article} {en} on site)"


def seed_compliance(
    parcels: pd.DataFrame,
    *,
    radii_m: Mapping[str, float] | None = None,
    include_note: bool = True,
) -> pd.DataFrame:
    """Check each parcel against the seed's service radii.

    Parameters
    ----------
    parcels
        A (Geo)DataFrame with a ``dist_<class>_m`` column (metres along the network, NaN when
        unreachable) for every class in ``radii_m``.  Not modified.
    radii_m
        ``{class: radius in metres}``; the seed clause 三(二)8 radii (kindergarten 300,
        primary_school 500, middle_school 1000) by default.
    include_note
        Append the same-time delivery note (同时设计、同时施工、同时验收、同时交付) to every
        non-empty ``compliance_required``.

    Returns
    -------
    pandas.DataFrame
        A copy with ``meets_<class>_radius`` (bool; a NaN distance fails), ``compliance_required``
        (the must-provide items in Chinese and English joined by ``"; "``, empty when all pass)
        and ``compliant_all`` (bool).

    Raises
    ------
    InputError
        A ``dist_<class>_m`` column is missing, or a radius is not a positive number.
    """
    radii = dict(SEED_RADII_M if radii_m is None else radii_m)
    missing = [f"dist_{c}_m" for c in radii if f"dist_{c}_m" not in parcels.columns]
    if missing:
        raise InputError(
            f"seed compliance needs the network distance column(s) {missing}.",
            where="parcels",
            fix="run the access stage for these facility classes first (or remove the classes "
            "from the compliance radii).",
        )
    for cls, r in radii.items():
        try:
            ok = bool(np.isfinite(float(r)) and float(r) > 0) and not isinstance(r, bool)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"the {cls} radius must be a positive number of metres, got {r!r}.",
                             where="compliance radii", fix="e.g. kindergarten = 300.")

    out = parcels.copy()
    n = len(out)
    meets_all = np.ones(n, dtype=bool)
    # One text fragment per class; a parcel's requirement joins the fragments of its failures.
    required = np.full(n, "", dtype=object)
    for cls, r in radii.items():
        dist = pd.to_numeric(out[f"dist_{cls}_m"], errors="coerce").to_numpy(dtype=float)
        meets = np.isfinite(dist) & (dist <= r)  # NaN (unreachable) compares False
        out[f"meets_{cls}_radius"] = meets
        meets_all &= meets
        fragment = must_provide_text(cls)
        required = np.where(
            meets, required, np.where(required == "", fragment, required + "; " + fragment)
        )
    if include_note:
        note = f" — {SAME_TIME_NOTE_ZH} ({SAME_TIME_NOTE_EN})"
        required = np.where(required == "", required, required + note)
    out["compliance_required"] = pd.array(required.astype(str), dtype="string")
    out["compliant_all"] = meets_all
    return out


__all__ = [
    "SAME_TIME_NOTE_EN",
    "SAME_TIME_NOTE_ZH",
    "SEED_CLAUSE",
    "SEED_RADII_M",
    "must_provide_text",
    "seed_compliance",
]
