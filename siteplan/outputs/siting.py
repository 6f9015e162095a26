"""Writing a gap-filling result: GeoPackage, CSV of proposed sites and the planning map."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from siteplan.core.atomic import check_stem
from siteplan.core.outputset import OutputPlan, plan_outputs, staged_outputs
from siteplan.outputs.maps.webmap import make_map, save_map
from siteplan.outputs.shortlist import shortlist_csv_bytes
from siteplan.outputs.writers import map_parcels, write_layers
from siteplan.siting.cover import SitingResult
from siteplan.siting.study import sites_table


def write_siting(result: SitingResult, out_dir: str | Path, stem: str = "siting") -> list[Path]:
    """Write a gap-filling result: its GeoPackage, CSV of proposed sites and planning map.

    ``<stem>.gpkg``, ``<stem>_sites.csv`` and, when the result comes from
    :func:`siteplan.siting.study.site_study`, ``<stem>.html`` are each written atomically.
    The GeoPackage holds ``proposed_<class>`` (the sites, the layer name of docs/design.md),
    ``proposed_<class>_catchments`` (their new catchments), ``siting_coverage`` and
    ``siting_unreachable``; the CSV is UTF-8 with a BOM, formula-like text neutralised; the
    HTML is the planning map with the proposed sites and their catchments.

    Parameters
    ----------
    result
        What :func:`siteplan.siting.study.site_study` or
        :func:`siteplan.siting.cover.maximal_cover` returned.
    out_dir
        Output folder (created if needed).
    stem
        File name stem: no path separator, no ``..``.

    Returns
    -------
    list of pathlib.Path
        The paths written.

    Raises
    ------
    InputError
        A bad stem, an output folder that cannot be written, or an output that would
        overwrite one of the study's inputs.

    Examples
    --------
    >>> import tempfile
    >>> import warnings
    >>> from siteplan import SiteplanWarning, Study, run_study, site_study, write_siting
    >>> study = Study.model_validate({
    ...     "study": {"name": "Taiyuan: primary schools"},
    ...     "inputs": {"streets": "data/taiyuan/taiyuan_osm_lines.geojson",
    ...                "facilities": "data/taiyuan/taiyuan_osm_multipolygons.geojson",
    ...                "parcels": {"path": "data/taiyuan/parcels.gpkg", "id_column": "parcel_id"}},
    ...     "criteria": [{"name": "primary_school_walk", "kind": "distance",
    ...                   "class": "primary_school", "weight": 1,
    ...                   "transform": {"type": "linear", "best": 500, "worst": 1500}}]})
    >>> with warnings.catch_warnings():  # one OSM polygon is invalid as mapped: repaired
    ...     warnings.filterwarnings("ignore", ".*repaired 1 invalid geometry", SiteplanWarning)
    ...     result = run_study(study)
    >>> proposal = site_study(result, "kindergarten", k=2)
    >>> with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
    ...     # Without a Tianditu key the map leaves those basemaps out, with a warning.
    ...     warnings.filterwarnings("ignore", "no Tianditu key", SiteplanWarning)
    ...     [path.name for path in write_siting(proposal, out, stem="kindergartens")]
    ['kindergartens.gpkg', 'kindergartens_sites.csv', 'kindergartens.html']
    """
    ctx = result.map_layers
    with_map = ctx.get("parcels") is not None
    plan = plan_siting_outputs(out_dir, stem, result.inputs, with_map=with_map)
    gpkg, csv, *html = plan.names
    with staged_outputs(plan) as stage:
        write_layers(stage / gpkg, {
            f"proposed_{result.cls}": result.sites,
            f"proposed_{result.cls}_catchments": result.catchments,
            "siting_coverage": result.coverage, "siting_unreachable": result.unreachable})
        (stage / csv).write_bytes(shortlist_csv_bytes(sites_table(result)))
        if with_map:
            # The same parcel cap as the study's own maps (a 200,000-parcel map is unusable).
            parcels, title = map_parcels(ctx["parcels"], ctx.get("title"))
            m = make_map(parcels, catchments=ctx.get("catchments"),
                         facilities=ctx.get("facilities"), blind_spots=ctx.get("blind_spots"),
                         boundary=ctx.get("boundary"), criteria=ctx.get("criteria"),
                         title=title, proposed_sites=result.sites,
                         proposed_catchments=result.catchments)
            save_map(m, stage / html[0])
    return [plan.path(name) for name in plan.names]


def plan_siting_outputs(out_dir: str | Path, stem: str, inputs: Iterable[str | Path],
                        *, with_map: bool = True) -> OutputPlan:
    """Check :func:`write_siting`'s output set before the analysis; create nothing."""
    check_stem(stem)
    names = [f"{stem}.gpkg", f"{stem}_sites.csv"] + ([f"{stem}.html"] if with_map else [])
    return plan_outputs(out_dir, names, inputs=inputs)


__all__ = ["plan_siting_outputs", "write_siting"]
