"""Commands for single stages, new cities and many studies.

``network``, ``facilities``, ``map``, ``fetch-osm``, ``init``, ``parcels`` and ``batch``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from siteplan.core.defaults import (
    BLOCK_DEFAULT_FAR,
    BLOCK_HIGHWAYS,
    BLOCK_MAX_COVERED_SHARE,
    BLOCK_MAX_HA,
    BLOCK_MIN_HA,
)

if TYPE_CHECKING:
    pass

from siteplan.cli.app import (
    Debug,
    Offline,
    Out,
    Quiet,
    Ui,
    Verbose,
    app,
    interruptible,
    say,
)


@app.command()
def network(source: Annotated[Path, typer.Argument(metavar="SOURCE", help="Street lines (.gpkg/.shp/.geojson) "
                                                   "or raw OSM (.osm/.osm.pbf).")],
            out: Out = None,
            snap_tolerance: Annotated[float, typer.Option(
                help="Merge line ends closer than this (m).")] = 0.0,
            keep_all: Annotated[bool, typer.Option(
                help="Keep every component, not only the largest.")] = False,
            crs: Annotated[str | None, typer.Option(help="CRS of a layer without one.")] = None,
            quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Build a walking network and print its summary, components and dropped islands.

    Example: siteplan network data/taiyuan/taiyuan_osm_lines.geojson --out out/
    """
    del debug  # see Debug
    from siteplan.core.outputset import plan_outputs
    from siteplan.outputs.writers import write_network
    from siteplan.stages import network_from_file

    if out is not None:
        plan_outputs(out, ["network.gpkg"], inputs=[source])
    ui = Ui(quiet, verbose)
    timings: dict[str, float] = {}
    with interruptible(), ui.running():
        with ui.timed("network", timings):
            net = network_from_file(source, snap_tolerance_m=snap_tolerance,
                                    keep_largest=not keep_all, crs=crs)
        if out is not None:
            with ui.timed("write", timings):
                path = write_network(net, out, source=source)
    ui.timings(timings)
    say(net.summary())
    if out is not None:
        say(f"network: {path}")


@app.command()
def facilities(source: Annotated[Path, typer.Argument(metavar="SOURCE", help="OSM features (.osm/.pbf, or a "
                                                      "GDAL-OSM export) or a municipal layer.")],
               out: Out = None,
               class_column: Annotated[str | None, typer.Option(
                   help="Column holding each feature's class (municipal layers).")] = None,
               facility_class: Annotated[str | None, typer.Option(
                   "--class", help="One class for the whole layer (municipal layers).")] = None,
               crs: Annotated[str | None, typer.Option(help="CRS of a layer without one.")] = None,
               quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """List classified facilities per class and the schools no rule could classify.

    Example: siteplan facilities data/taiyuan/taiyuan_osm_multipolygons.geojson
    """
    del debug  # see Debug
    from siteplan.core.outputset import plan_outputs
    from siteplan.facilities.rules import CLASSES
    from siteplan.outputs.writers import write_facilities
    from siteplan.stages import facilities_from_file

    if out is not None:
        plan_outputs(out, ["facilities.gpkg"], inputs=[source])
    ui = Ui(quiet, verbose)
    timings: dict[str, float] = {}
    with interruptible(), ui.running():
        with ui.timed("facilities", timings):
            fac, unclassified = facilities_from_file(source, class_column=class_column,
                                                     class_=facility_class, crs=crs)
        if out is not None:
            with ui.timed("write", timings):
                path = write_facilities(fac, unclassified, out, source=source)
    ui.timings(timings)
    counts = fac["class"].value_counts()
    for cls in sorted(set(CLASSES) | set(counts.index)):
        say(f"{cls}: {int(counts.get(cls, 0))}")
    say(f"unclassified schools: {len(unclassified)}")
    for name in unclassified.get("name", []):
        say(f"  {name}")
    if out is not None:
        say(f"facilities: {path}")


@app.command("map")
def map_(results: Annotated[Path, typer.Argument(metavar="RESULTS.gpkg", help="A shortlist.gpkg written by "
                                                 "`siteplan run` or `siteplan score`.")],
         out: Out = None, offline: Offline = True,
         top_n: Annotated[int | None, typer.Option(
             min=0, help="Parcels labelled by rank (default: as the run drew them).")] = None,
         paper: Annotated[str | None, typer.Option(
             help="PNG paper: a4, a3, a4-landscape, a3-landscape (default 10x10 in).")] = None,
         dpi: Annotated[int, typer.Option(min=50, max=600, help="PNG resolution.")] = 150,
         quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Draw the interactive map (and PNG) from saved results.

    Example: siteplan map maps/shortlist.gpkg --out maps/
    """
    del debug  # see Debug
    from siteplan.outputs.writers import maps_from_results, plan_map_outputs

    plan_map_outputs(results, out)
    ui = Ui(quiet, verbose)
    timings: dict[str, float] = {}
    with interruptible(), ui.running(), ui.timed("maps", timings):
        paths = maps_from_results(results, out, offline=bool(offline), top_n=top_n,
                                  paper=paper, dpi=dpi)
    ui.timings(timings)
    for kind, path in paths.items():
        say(f"{kind}: {path}")


@app.command("fetch-osm")
def fetch_osm(query: Annotated[str, typer.Argument(
                  metavar="PLACE|BBOX", help="A place name, or a bbox west,south,east,north in degrees.")],
              out: Out = None,
              cache_dir: Annotated[Path, typer.Option(help="Download cache.")] = Path(
                  ".siteplan_cache/osm"),
              refresh: Annotated[bool, typer.Option(help="Download again.")] = False,
              quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Download streets and facilities from OpenStreetMap (online only) into the cache.

    Example: siteplan fetch-osm "Xiaodian District, Taiyuan, China" --out data/xiaodian
    """
    del debug  # see Debug
    from siteplan.core.outputset import plan_outputs
    from siteplan.stages import fetch_to_files

    if out is not None:
        plan_outputs(out, ["osm.gpkg"])
    ui = Ui(quiet, verbose)
    timings: dict[str, float] = {}
    with interruptible(), ui.running(), ui.timed("fetch", timings):
        paths = fetch_to_files(query, out, cache_dir=cache_dir, refresh=refresh)
    ui.timings(timings)
    for kind, path in paths.items():
        say(f"{kind}: {path}")


MinHa = Annotated[float, typer.Option(help="Smallest block kept (ha).")]
MaxHa = Annotated[float, typer.Option(help="Largest block kept (ha).")]
MaxCovered = Annotated[float, typer.Option(min=0.0, max=1.0, help="Drop blocks covered more "
                                           "than this by parks, water, schools or hospitals.")]
Far = Annotated[float, typer.Option("--far", min=0.0, help="FAR (容积率) assumed for every block.")]
IdPrefix = Annotated[str, typer.Option(help="Parcel ids are PREFIX0001...")]
Features = Annotated[Path | None, typer.Option(help="OSM features (raw OSM or a GDAL OSM export):"
                                               " facilities, parks, water, residential land.")]
LayerCrs = Annotated[str | None, typer.Option("--crs", help="CRS of a layer without one.")]


@app.command()
def init(source: Annotated[str, typer.Argument(
             metavar="PLACE_OR_FILE", help="Raw OSM (.osm, .osm.pbf), a line layer with OSM "
             "highway tags, or a place / west,south,east,north bbox for Overpass (online).")],
         out: Annotated[Path, typer.Option("--out", "-o", help="The new study's folder.")],
         features: Features = None,
         name: Annotated[str | None, typer.Option(help="The study's name.")] = None,
         crs: LayerCrs = None, min_ha: MinHa = BLOCK_MIN_HA, max_ha: MaxHa = BLOCK_MAX_HA,
         max_covered_share: MaxCovered = BLOCK_MAX_COVERED_SHARE, far: Far = BLOCK_DEFAULT_FAR,
         id_prefix: IdPrefix = "B-",
         force: Annotated[bool, typer.Option(help="Overwrite the folder's study.toml.")] = False,
         cache_dir: Annotated[Path, typer.Option(help="Overpass download cache.")] = Path(
             ".siteplan_cache/osm"),
         refresh: Annotated[bool, typer.Option(help="Download again.")] = False,
         quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Write a complete study for a city (streets, facilities, candidate blocks, REPORT.md).

    Then: siteplan run DIR/study.toml.
    Example: siteplan init tests/data/beijing_haidian_pku_tsinghua_2017.osm --out studies/haidian
    """
    del debug  # see Debug
    from siteplan.init_study.blocks import BlockOptions
    from siteplan.init_study.build import init_study

    options = BlockOptions(min_ha=min_ha, max_ha=max_ha, max_covered_share=max_covered_share,
                           far=far, id_prefix=id_prefix)
    ui = Ui(quiet, verbose)
    with interruptible(), ui.running():
        res = init_study(source, out, features=features, name=name, crs=crs, options=options,
                         force=force, cache_dir=cache_dir, refresh=refresh, progress=ui.step)
    ui.timings(res.timings)
    say(res.summary())


@app.command()
def parcels(streets: Annotated[Path, typer.Argument(
                metavar="STREETS", help="Raw OSM (.osm, .osm.pbf) or a line layer.")],
            out: Annotated[Path, typer.Option("--out", "-o", help="GeoPackage to write.")],
            features: Features = None,
            exclude: Annotated[Path | None, typer.Option(
                help="Polygons of land that is not a candidate.")] = None,
            crs: LayerCrs = None, min_ha: MinHa = BLOCK_MIN_HA, max_ha: MaxHa = BLOCK_MAX_HA,
            max_covered_share: MaxCovered = BLOCK_MAX_COVERED_SHARE,
            far: Far = BLOCK_DEFAULT_FAR, id_prefix: IdPrefix = "B-",
            highways: Annotated[str, typer.Option(help="OSM highway values that bound blocks, "
                                                       "comma-separated.")]
            = ",".join(BLOCK_HIGHWAYS),
            rail: Annotated[bool, typer.Option(help="Surface railways bound blocks.")] = True,
            water: Annotated[bool, typer.Option(help="Rivers and canals bound blocks.")] = True,
            all_lines: Annotated[bool, typer.Option(
                help="Every line bounds blocks, whatever its tags.")] = False,
            metric_crs: Annotated[str | None, typer.Option(
                help="CRS for areas (default: the UTM zone).")] = None,
            quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Make candidate parcels of the street blocks (bounded by streets, rail and water).

    Example: siteplan parcels city.osm.pbf --out parcels.gpkg --min-ha 1 --max-ha 30
    """
    # Accepted like every command's options: this command prints only its results, and
    # main() reads --debug from the arguments before typer parses them.
    del quiet, verbose, debug
    from siteplan.init_study.blocks import BlockOptions, blocks_summary, make_parcels

    options = BlockOptions(min_ha=min_ha, max_ha=max_ha, max_covered_share=max_covered_share,
                           far=far, id_prefix=id_prefix, highways=tuple(
                               h.strip() for h in highways.split(",") if h.strip()),
                           rail=rail, water=water, all_lines=all_lines, metric_crs=metric_crs)
    blocks = make_parcels(streets, out, features=features, exclude=exclude, crs=crs,
                          options=options)
    say(f"{blocks_summary(blocks, options)}\nparcels: {out}")


@app.command()
def batch(studies: Annotated[list[Path], typer.Argument(
              metavar="STUDIES...", help="Study TOML files, folders of them, or text files "
              "listing one study path per line.")],
          out: Out = Path("maps/batch"),
          scheduler: Annotated[str | None, typer.Option(
              help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: a local "
              "cluster).")] = None,
          workers: Annotated[int | None, typer.Option(
              help="Workers of the local Dask cluster (default: one per core).")] = None,
          serial: Annotated[bool, typer.Option(
              help="Run the studies one after another in this process, without Dask.")] = False,
          top: Annotated[int | None, typer.Option(
              help="Parcels of each study in the summary (default: each study's top_n).")] = None,
          xlsx: Annotated[bool, typer.Option(help="Also write summary.xlsx.")] = True,
          offline: Offline = None, quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Run many studies (on Dask) into one summary table and one map index page.

    Exits with the number of failed studies (0: all succeeded; at most 125).
    Example: siteplan batch cities/*.toml --out maps/shanxi --scheduler tcp://head:8786
    """
    del debug  # see Debug
    from siteplan.batch import format_report, run_batch
    from siteplan.pipeline import run_study_file

    ui = Ui(quiet, verbose)

    def done(outcome: object) -> None:
        ui.say(f"{'ok' if getattr(outcome, 'ok', False) else 'FAILED'}: "
               f"{getattr(outcome, 'study_file', outcome)}")

    # A partial of a module-level function pickles, so Dask workers receive it as it is.
    runner = None if offline is None else functools.partial(run_study_file, offline=offline)
    report = run_batch(studies, out or Path("maps/batch"), scheduler=scheduler,
                       n_workers=0 if serial else workers, runner=runner, top_n=top, xlsx=xlsx,
                       progress=done)
    say(format_report(report))
    raise typer.Exit(report.exit_code)
