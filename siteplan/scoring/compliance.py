"""Seed compliance: service radii of the 好房子 pilot, clause 三(二)8.

A new housing project must lie within walking distance, measured along streets, of a
kindergarten (300 m), a primary school (500 m) and a middle school (1000 m).  Where it does not,
the project must provide the missing facility itself, designed, built, accepted and delivered
together with the housing (同时设计、同时施工、同时验收、同时交付).

:func:`seed_compliance` reads the network distances ``dist_<class>_m`` (NaN = unreachable) and
adds ``meets_<class>_radius``, ``compliance_required`` (English), ``compliance_required_zh`` and
``compliant_all``.

The seed radii and the GB 50180-2018 life circles they come from live in
:mod:`siteplan.core.defaults`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from siteplan.core.columns import distance_column, meets_column
from siteplan.core.defaults import SEED_RADII_M
from siteplan.core.errors import InputError
from siteplan.core.labels import label

SAME_TIME_NOTE_ZH = label("same_time_delivery", "zh")
SAME_TIME_NOTE_EN = label("same_time_delivery", "en")


def must_provide_text(cls: str, lang: str = "both") -> str:
    """Say what a project failing the radius of ``cls`` must add.

    ``"zh"``: ``须配建幼儿园``; ``"en"``: ``must provide a kindergarten on site``; ``"both"``:
    ``须配建幼儿园 (must provide a kindergarten on site)``.

    Examples
    --------
    >>> must_provide_text("kindergarten", "en")
    'must provide a kindergarten on site'
    """
    zh = f"须配建{label(cls, 'zh')}"
    noun = label(cls, "en").lower()
    article = "an" if noun[:1] in "aeiou" else "a"
    en = f"must provide {article} {noun} on site"
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    return f"{zh} ({en})"


def _join(parts: np.ndarray, fragment: str, sep: str, fails: np.ndarray) -> np.ndarray:
    """Append ``fragment`` (joined by ``sep``) to ``parts`` where ``fails``."""
    joined = np.where(parts == "", fragment, parts + sep + fragment)
    return np.where(fails, joined, parts)


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
        unreachable or beyond the search limit) for every class in ``radii_m``.  Not modified.
    radii_m
        ``{class: radius in metres}``; the seed clause 三(二)8 radii (kindergarten 300,
        primary_school 500, middle_school 1000) by default.  ``study.compliance.radii`` holds a
        study's radii.
    include_note
        Append the same-time delivery note (同时设计、同时施工、同时验收、同时交付) to every
        non-empty requirement.

    Returns
    -------
    pandas.DataFrame
        A copy with

        - ``meets_<class>_radius`` (bool; a NaN distance fails: a facility that cannot be
          reached is not within walking distance);
        - ``compliance_required`` (English) and ``compliance_required_zh`` (中文): what the
          project must add, e.g. ``须配建幼儿园；须配建小学（同时设计、同时施工、同时验收、
          同时交付）``; empty when every radius is met;
        - ``compliant_all`` (bool).

    Raises
    ------
    InputError
        A ``dist_<class>_m`` column is missing, or a radius is not a positive number.

    Examples
    --------
    The second parcel is 400 m from a kindergarten (more than 300 m) and cannot reach a
    primary school at all:

    >>> import pandas as pd
    >>> from siteplan import seed_compliance
    >>> parcels = pd.DataFrame({"dist_kindergarten_m": [250.0, 400.0],
    ...                         "dist_primary_school_m": [450.0, float("nan")],
    ...                         "dist_middle_school_m": [900.0, 900.0]})
    >>> out = seed_compliance(parcels, include_note=False)
    >>> out["compliant_all"].tolist()
    [True, False]
    >>> out["compliance_required_zh"].tolist()
    ['', '须配建幼儿园；须配建小学']
    """
    radii = dict(SEED_RADII_M if radii_m is None else radii_m)
    missing = [distance_column(c) for c in radii if distance_column(c) not in parcels.columns]
    if missing:
        raise InputError(
            f"seed compliance needs the network distance column(s) {missing}.",
            where="parcels",
            fix="run the access stage for these facility classes first (or remove the classes "
            "from the compliance radii).",
        )
    for cls, r in radii.items():
        ok = (isinstance(r, int | float | np.number) and not isinstance(r, bool)
              and bool(np.isfinite(r)) and r > 0)
        if not ok:
            raise InputError(f"the {cls} radius must be a positive number of metres, got {r!r}.",
                             where="compliance radii", fix="e.g. kindergarten = 300.")

    out = parcels.copy(deep=False)  # copy-on-write (pandas >= 3): no data copied
    n = len(out)
    meets_all = np.ones(n, dtype=bool)
    # A parcel's requirement joins the fragments of the classes it fails, in radii order.
    req_en = np.full(n, "", dtype=object)
    req_zh = np.full(n, "", dtype=object)
    for cls, r in radii.items():
        dist = pd.to_numeric(out[distance_column(cls)], errors="coerce").to_numpy(dtype=float)
        meets = np.isfinite(dist) & (dist <= float(r))
        out[meets_column(cls)] = meets
        meets_all &= meets
        req_en = _join(req_en, must_provide_text(cls, "en"), "; ", ~meets)
        req_zh = _join(req_zh, must_provide_text(cls, "zh"), "；", ~meets)
    if include_note:
        req_en = np.where(req_en == "", req_en, req_en + f" ({SAME_TIME_NOTE_EN})")
        req_zh = np.where(req_zh == "", req_zh, req_zh + f"（{SAME_TIME_NOTE_ZH}）")
    out["compliance_required"] = pd.array(req_en.astype(str), dtype="string")
    out["compliance_required_zh"] = pd.array(req_zh.astype(str), dtype="string")
    out["compliant_all"] = meets_all
    return out


def compliance_counts(parcels: pd.DataFrame,
                      radii_m: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Count the parcels meeting each seed radius and all of them: compliance at a glance.

    Parameters
    ----------
    parcels
        Parcels with ``dist_<class>_m`` (NaN fails) for every class in ``radii_m``, as
        :func:`seed_compliance` reads them; ``excluded`` when present.
    radii_m
        ``{class: radius in metres}``; the seed clause 三(二)8 radii by default.

    Returns
    -------
    pandas.DataFrame
        One row per class in ``radii_m`` order, then ``all``: ``rule``, ``radius_m`` (NaN for
        ``all``), ``n_parcels``, ``n_meeting``, ``share_meeting`` and, over the parcels the
        constraints keep (``excluded`` False), ``n_candidates``, ``n_candidates_meeting``,
        ``share_candidates_meeting``.

    Raises
    ------
    InputError
        As :func:`seed_compliance`.

    Examples
    --------
    >>> import pandas as pd
    >>> from siteplan import compliance_counts
    >>> parcels = pd.DataFrame({"dist_kindergarten_m": [250.0, 400.0, 100.0],
    ...                         "dist_primary_school_m": [450.0, float("nan"), 300.0],
    ...                         "dist_middle_school_m": [900.0, 900.0, 1500.0]})
    >>> compliance_counts(parcels)[["rule", "n_meeting", "share_meeting"]].round(3)
                 rule  n_meeting  share_meeting
    0    kindergarten          2          0.667
    1  primary_school          2          0.667
    2   middle_school          2          0.667
    3             all          1          0.333
    """
    radii = dict(SEED_RADII_M if radii_m is None else radii_m)
    checked = seed_compliance(parcels[[c for c in parcels.columns if c.startswith("dist_")]],
                              radii_m=radii, include_note=False)
    keep = (~parcels["excluded"].astype("boolean").fillna(False).to_numpy(dtype=bool)
            if "excluded" in parcels.columns else np.ones(len(parcels), dtype=bool))
    flags = [(cls, float(r), checked[meets_column(cls)].to_numpy(dtype=bool))
             for cls, r in radii.items()]
    flags.append(("all", np.nan, checked["compliant_all"].to_numpy(dtype=bool)))
    n, n_keep = len(parcels), int(keep.sum())
    return pd.DataFrame([{
        "rule": rule, "radius_m": r, "n_parcels": n, "n_meeting": int(ok.sum()),
        "share_meeting": ok.sum() / n if n else np.nan, "n_candidates": n_keep,
        "n_candidates_meeting": int(ok[keep].sum()),
        "share_candidates_meeting": ok[keep].sum() / n_keep if n_keep else np.nan,
    } for rule, r, ok in flags])


def compliance_lines(counts: pd.DataFrame) -> list[str]:
    """Describe :func:`compliance_counts` in one line per rule (the run summary's words).

    Examples
    --------
    >>> import pandas as pd
    >>> from siteplan.scoring.compliance import compliance_counts, compliance_lines
    >>> parcels = pd.DataFrame({"dist_kindergarten_m": [250.0, 400.0],
    ...                         "dist_primary_school_m": [450.0, 450.0],
    ...                         "dist_middle_school_m": [900.0, 900.0]})
    >>> for line in compliance_lines(compliance_counts(parcels)):
    ...     print(line)
      kindergarten within 300 m: 1 of 2 parcels (50.0 %)
      primary_school within 500 m: 2 of 2 parcels (100.0 %)
      middle_school within 1000 m: 2 of 2 parcels (100.0 %)
      all three: 1 of 2 parcels (50.0 %); 1 of 2 not excluded (50.0 %)
    """
    def pct(x: float) -> str:
        return "n/a" if pd.isna(x) else f"{100 * x:.1f} %"

    out = []
    rules = counts[counts["rule"] != "all"]
    for row in rules.itertuples(index=False):
        out.append(f"  {row.rule} within {row.radius_m:g} m: {row.n_meeting:,} of "
                   f"{row.n_parcels:,} parcels ({pct(row.share_meeting)})")
    every = counts[counts["rule"] == "all"].iloc[0]
    what = {1: "the rule", 2: "both", 3: "all three"}.get(len(rules), f"all {len(rules)}")
    out.append(f"  {what}: {every['n_meeting']:,} of {every['n_parcels']:,} parcels "
               f"({pct(every['share_meeting'])}); {every['n_candidates_meeting']:,} of "
               f"{every['n_candidates']:,} not excluded "
               f"({pct(every['share_candidates_meeting'])})")
    return out


__all__ = [
    "SAME_TIME_NOTE_EN",
    "SAME_TIME_NOTE_ZH",
    "compliance_counts",
    "compliance_lines",
    "must_provide_text",
    "seed_compliance",
]
