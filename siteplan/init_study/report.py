"""``REPORT.md`` of a new study: what the city's data has, what it lacks, what was assumed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from siteplan.core.i18n import using_language
from siteplan.core.labels import CLASSES as CLASS_LABELS
from siteplan.core.labels import OSM_CREDIT
from siteplan.core.version import __version__
from siteplan.facilities.rules import CLASSES
from siteplan.init_study.survey import TRANSPORT, Survey

if TYPE_CHECKING:
    from siteplan.init_study.blocks import BlockOptions


def _measured_by(survey: Survey, cls: str) -> str:
    for t in survey.transport:
        if cls == t.real:
            return {t.real: "mapped stops", t.proxy: f"PROXY {t.proxy}"}.get(t.use or "", "-")
    return "criterion" if survey.counts.get(cls, 0) else "-"


def report_text(survey: Survey, *, name: str, source: str, kind: str, options: BlockOptions,
                n_blocks: int, block_ha: np.ndarray, outside: int = 0, repaired: int = 0) -> str:
    """Write the Markdown report of a new study.

    Parameters
    ----------
    survey
        What the data holds.
    name, source, kind
        The study's name, what was read and how (``osm``, ``overpass``, ``layer``).
    options
        How the blocks were made.
    n_blocks, block_ha
        The blocks kept and their areas (ha).
    outside, repaired
        OSM features left out beyond the streets' area; geometries repaired or dropped.

    Returns
    -------
    str
    """
    c = survey.blocks
    s = survey.lines
    rows = "\n".join(
        f"| {cls} | {CLASS_LABELS[cls][1]} | {survey.counts.get(cls, 0)} | "
        f"{_measured_by(survey, cls)} |" for cls in CLASSES)
    with using_language("en"):  # the report is written in English, as its headings are
        transport = "\n".join(f"- {t.explain()}" for t in survey.transport)
        gaps = "\n".join(f"- {g}" for g in survey.gaps())
    proxies = [t.proxy for t in survey.transport if t.use == t.proxy]
    licence = (f"Derived from OpenStreetMap data: **{OSM_CREDIT}**, under the Open Database "
               "Licence (ODbL 1.0, https://www.openstreetmap.org/copyright); `osm.gpkg` and "
               "`parcels.gpkg` are derived databases shared under the ODbL too."
               if kind in ("osm", "overpass") else
               f"Derived from `{source}`; its licence applies to `osm.gpkg` and `parcels.gpkg`.")
    sizes = (f"median {np.median(block_ha):.2f} ha, {block_ha.min():.2f}-{block_ha.max():.2f} ha"
             if block_ha.size else "none")
    bounds = "streets" + (", rail" if options.rail else "") + (" and water" if options.water
                                                                 else "")
    data = [
        f"Streets: {s['streets']:,.0f} lines, {s['street_km']:,.1f} km; surface rail: "
        f"{s['rail']:,.0f} lines; rivers and canals: {s['water']:,.0f} lines; spanning "
        f"{survey.extent_km2:,.1f} km² (convex hull).",
        f"Candidate parcels (`parcels.gpkg`): **{n_blocks:,} street blocks** ({sizes}), the faces "
        f"enclosed by {bounds}: {c.get('faces', 0):,} faces, {c.get('in_area_range', 0):,} of "
        f"{options.min_ha:g}-{options.max_ha:g} ha, {c.get('dropped_covered', 0):,} dropped as "
        f"more than {options.max_covered_share:.0%} parks, water, schools or hospitals; "
        f"{c.get('residential', 0):,} mostly residential land (`landuse_code` 0701). Every block "
        f"has an **assumed FAR of {options.far:g}** (`far`), not a planning condition.",
        f"Residential land (landuse=residential): {survey.residential_areas:,} areas.",
        f"Left out: {outside:,} OSM features beyond the area the streets span (an extract also "
        f"holds far members of the relations it touches); {repaired:,} geometries repaired or "
        "dropped as empty (broken as mapped, or cut at the extract's edge).",
    ]
    proxy_note = (f"\nProxies are labelled as such on the map and in the shortlist: "
                  f"{', '.join(proxies)}.\n" if proxies else "")
    bullets = "\n".join(f"- {line}" for line in data)
    return f"""# {name}: what the data has and lacks

Written by `siteplan init` (siteplan {__version__}) from `{source}`. The study (`study.toml`)
runs as it is: `siteplan run study.toml`.

## The data

{bullets}

| class | 中文 | found | measured by |
|---|---|---|---|
{rows}

Transport ({', '.join(TRANSPORT)}):

{transport}
{proxy_note}
## What the data lacks

{gaps}

## Files

- `study.toml`: the study, with comments on every number's source.
- `osm.gpkg`: layers `lines` (streets, rail, metro track, rivers) and `features` (facilities,
  land use, water), EPSG:4326.
- `parcels.gpkg`: layer `parcels`, the candidate blocks (`parcel_id`, `area_m2`, `far`,
  `landuse_code`, `covered_share`).

## Licence

{licence}
"""


__all__ = ["report_text"]
