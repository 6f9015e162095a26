"""Commands that run a study: ``demo``, ``run``, ``score``, ``catchments``, ``site``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from siteplan.cli.app import (
    CatchmentMode,
    Debug,
    Offline,
    Out,
    PostGIS,
    Quiet,
    SitingDemand,
    SitingMeasure,
    SitingMethod,
    TopN,
    Ui,
    Verbose,
    app,
    interruptible,
    run_and_write,
    say,
)
from siteplan.core.errors import ConfigError
from siteplan.core.i18n import _


@app.command()
def demo(out: Out = Path("maps"), offline: Offline = True, quiet: Quiet = False,
         verbose: Verbose = False, debug: Debug = False) -> None:
    """Run the bundled Taiyuan study end to end and write its map and shortlist.

    Example: siteplan demo --out maps
    """
    del debug  # see Debug
    from siteplan.pipeline import DEMO_STUDY

    run_and_write(DEMO_STUDY, out, offline, None, quiet, verbose)


@app.command()
def run(study: Annotated[Path, typer.Argument(metavar="STUDY.toml", help="The study's TOML file.")],
        out: Out = None, offline: Offline = None,
        top_n: TopN = None,
        postgis: PostGIS = None,
        network_edges: Annotated[bool, typer.Option(
            help="Also write the walking network to the GeoPackage (network_edges).")] = False,
        scheduler: Annotated[str | None, typer.Option(
            help="Split the access stage into spatial tiles run on Dask: a scheduler address "
                 "(tcp://HOST:8786) or 'local' (2 local workers). Same numbers as one "
                 "process.")] = None,
        tiles: Annotated[str, typer.Option(
            help="Tiles of the split, NXxNY (with --scheduler).")] = "2x2",
        quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Run a whole study end to end: network, access, catchments, scores, shortlist, maps.

    Example: siteplan run data/taiyuan/study.toml --out maps/taiyuan
    """
    del debug  # see Debug
    run_and_write(study, out, offline, top_n, quiet, verbose, postgis=postgis,
                   network_edges=network_edges, scheduler=scheduler, tiles=tiles)


@app.command()
def score(study: Annotated[Path, typer.Argument(metavar="STUDY.toml", help="The study's TOML file.")],
          out: Out = None,
          top_n: TopN = None,
          postgis: PostGIS = None,
          quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Score and rank the parcels; write the shortlist (CSV, XLSX, GeoPackage) but no maps.

    Example: siteplan score data/taiyuan/study.toml --out out/ --top-n 20
    """
    del debug  # see Debug
    run_and_write(study, out, None, top_n, quiet, verbose, formats=["csv", "xlsx", "gpkg"],
                   postgis=postgis)


@app.command()
def catchments(study: Annotated[Path, typer.Argument(metavar="STUDY.toml", help="The study's TOML file.")],
               out: Out = None,
               mode: Annotated[CatchmentMode | None, typer.Option(
                   help="Default: the study's catchments.mode.")] = None,
               quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Catchments only: service areas, residential coverage and blind spots (服务盲区).

    Example: siteplan catchments data/taiyuan/study.toml --mode dissolve --out out/
    """
    del debug  # see Debug
    from siteplan.outputs.writers import plan_catchment_outputs, write_catchments
    from siteplan.pipeline import run_catchments
    from siteplan.study.model import load_study

    config = load_study(study)
    plan_catchment_outputs(config, out)
    ui = Ui(quiet, verbose)
    with interruptible(), ui.running():
        result = run_catchments(config, progress=ui.step,
                                mode=mode)
        path = write_catchments(result, out)
    ui.timings(result.timings)
    from siteplan.cli.summary import catchments_summary, show

    show(catchments_summary(result))
    say(_("catchments: {path} (the whole coverage table: coverage.csv)").format(path=path))


@app.command()
def site(study: Annotated[Path, typer.Argument(metavar="STUDY.toml", help="The study's TOML file.")],
         class_: Annotated[str, typer.Option(
             "--class", help="Facility class to add, e.g. kindergarten or primary_school.")],
         k: Annotated[int | None, typer.Option(
             "--k", min=1, help="How many new sites (or give --target-share).")] = None,
         target_share: Annotated[float | None, typer.Option(
             help="Fewest sites that cover this share of the demand, in (0, 1].")] = None,
         candidates: Annotated[str, typer.Option(
             help='"parcels" (the study\'s), "nodes" (street junctions) or a layer file of '
                  "sites (GeoPackage/Shapefile/GeoJSON; ids in site_id).")] = "parcels",
         demand: Annotated[SitingDemand, typer.Option(
             help="Demand polygons: residential land, the parcels or the buildings.")]
         = "residential",
         population: Annotated[str | None, typer.Option(
             help="Weight demand by this column (default: the coverage report's residents "
                  "of residential units; each unit 1 for parcels and buildings).")]
         = None,
         measure: Annotated[SitingMeasure, typer.Option(
             help="units: a unit is covered when a site is within the radius of one of its "
                  "entrances (the coverage report's measure); frontage: land covered by "
                  "the street-frontage catchments, by area.")] = "units",
         method: Annotated[SitingMethod, typer.Option(
             help="greedy (fast, within 1-1/e of the optimum), exact (HiGHS integer "
                  "programme) or both.")] = "greedy",
         time_limit: Annotated[float, typer.Option(
             min=1.0, help="Seconds for the exact solver; past it the best sites and the gap "
                           "are reported.")] = 60.0,
         skip_excluded: Annotated[bool, typer.Option(
             help="Leave out candidate parcels the study excluded (hazards, land use...); by "
                  "default they are offered, with their exclusion reason in the output.")]
         = False,
         stem: Annotated[str, typer.Option(help="Output file names: STEM.gpkg, STEM_sites.csv, "
                                                "STEM.html.")] = "siting",
         out: Out = None,
         quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Gap filling (服务盲区补点): where k new facilities would cover the most uncovered demand.

    Maximal covering with the class's walking radius (kindergarten 300 m, primary school
    500 m...): units the existing facilities serve are served already, so only unserved
    residents (units) count, served as the coverage report counts them (--measure units).

    Example: siteplan site data/taiyuan/study.toml --class kindergarten --k 10 --method both
    """
    del debug  # see Debug
    from siteplan.cli.summary import show, siting_summary
    from siteplan.io.layers import read_layer
    from siteplan.outputs.siting import plan_siting_outputs, write_siting
    from siteplan.pipeline import run_study
    from siteplan.siting.study import check_request, site_study, sites_table
    from siteplan.study.model import load_study

    if (k is None) == (target_share is None):
        raise ConfigError(_("give exactly one of --k and --target-share."),
                          where="siteplan site", fix=_("e.g. --k 10, or --target-share 0.8."))
    # Everything that can be refused is refused before the study runs.
    config = load_study(study)
    check_request(config, class_, k=k, target_share=target_share, method=method,
                  time_limit_s=time_limit, stem=stem)
    out_dir = out if out is not None else Path(config.outputs.folder)
    plan_siting_outputs(out_dir, stem, config.input_files())
    sites: Any = candidates
    if candidates not in ("parcels", "nodes"):
        sites = read_layer(candidates, kind="candidate sites")
    ui = Ui(quiet, verbose)
    with interruptible(), ui.running():
        result = run_study(config, progress=ui.step)
        with ui.timed("siting", result.timings):
            siting = site_study(result, class_, k=k, target_share=target_share,
                                candidates=sites, demand=demand, population=population,
                                method=method, time_limit_s=time_limit,
                                skip_excluded=skip_excluded, measure=measure)
        with ui.timed("write siting", result.timings):
            paths = write_siting(siting, out_dir, stem=stem)
    ui.timings(result.timings)
    show(siting_summary(siting.coverage, sites_table(siting),
                        result.study.catchments.frontage_m))
    for path in paths:
        say(_("written: {path}").format(path=path))
