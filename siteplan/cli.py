"""The ``siteplan`` command line: a thin layer over :mod:`siteplan.pipeline` and friends.

Exit codes: 0 success; 2 a usage, configuration or input error (one clear message, no
traceback); 1 anything else (a bug: the message asks for ``--debug``, which shows the traceback).
``siteplan batch`` exits with the number of failed studies (capped at 125).
"""

from __future__ import annotations

import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TextIO

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from siteplan.core.defaults import (
    BLOCK_DEFAULT_FAR,
    BLOCK_HIGHWAYS,
    BLOCK_MAX_COVERED_SHARE,
    BLOCK_MAX_HA,
    BLOCK_MIN_HA,
)
from siteplan.core.errors import ConfigError, SiteplanError, SiteplanWarning

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(
    name="siteplan",
    help="Choose where new housing goes: walking access to schools, kindergartens and "
    "hospitals, suitability scores, land-supply shortlists and maps (Shanxi 好房子 pilot).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
err = Console(stderr=True)

CatchmentMode = Literal["overlap", "dissolve", "split", "rings"]
SitingDemand = Literal["residential", "parcels", "buildings"]
SitingMethod = Literal["greedy", "exact", "both"]


TopN = Annotated[int | None, typer.Option(min=1, help="Rows in the shortlist.")]
Out = Annotated[Path | None, typer.Option("--out", "-o", help="Output folder.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and results.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Print more detail.")]
# Every command accepts --debug; main() reads it from the arguments itself (to show
# tracebacks of errors raised before or outside the command), so the commands ignore it.
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]
PostGIS = Annotated[str | None, typer.Option(
    "--postgis", help="Also write the shortlist to this PostGIS table, e.g. "
    "postgresql://user@host/db?table=planning.shortlist.")]
Offline = Annotated[bool | None, typer.Option(
    "--offline/--online",
    help="Offline: one self-contained HTML map (default for the demo); online: CDN links.")]


def _show_version(value: bool) -> None:
    if value:
        from siteplan.core.version import __version__

        typer.echo(f"siteplan {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="Print siteplan's version and exit.")] = False) -> None:
    del version  # handled by its callback


class _Ui:
    """Progress bars on stderr for the pipeline's steps, and step timings at the end."""

    def __init__(self, quiet: bool, verbose: bool) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.console = Console(stderr=True, quiet=quiet)
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    @contextmanager
    def running(self) -> Iterator[_Ui]:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=self.console, transient=not self.verbose,
                      disable=self.quiet) as progress:
            self._progress = progress
            yield self
        self._progress = None

    def step(self, name: str, state: str) -> None:
        from siteplan.core.outputset import interrupt_requested

        if interrupt_requested():  # a Ctrl-C that Python swallowed: stop at the next step
            raise KeyboardInterrupt
        if self._progress is None:
            return
        if state == "start":
            self._tasks[name] = self._progress.add_task(name, total=None)
        else:
            task = self._tasks.pop(name)
            self._progress.update(task, total=1, completed=1)

    @contextmanager
    def timed(self, name: str, timings: dict[str, float]) -> Iterator[None]:
        """Time a step outside the pipeline: shown like its steps and added to ``timings``."""
        self.step(name, "start")
        start = time.perf_counter()
        yield
        timings[name] = time.perf_counter() - start
        self.step(name, "done")

    def timings(self, timings: dict[str, float]) -> None:
        if self.quiet or not timings:
            return
        table = Table(title="Step timings", show_header=True)
        table.add_column("step")
        table.add_column("seconds", justify="right")
        for name, sec in timings.items():
            table.add_row(name, f"{sec:.2f}")
        table.add_row("total", f"{sum(timings.values()):.2f}")
        self.console.print(table)

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)


def _print(text: str) -> None:
    """Results go to stdout (so that scripts can capture them)."""
    typer.echo(text)


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C: typer would exit 130 silently; say what state the output folder is in.

    Outputs are swapped in as one set (siteplan.core.outputset), so the folder holds either
    the previous complete set or this run's.
    """
    import signal

    from siteplan.core.outputset import (
        OutputsCompleteInterrupt,
        interrupt_handler,
        outputs_swapped,
    )

    try:
        with interrupt_handler():
            yield
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: let the message out
        if not (isinstance(exc, OutputsCompleteInterrupt) or outputs_swapped()):
            err.print("interrupted: nothing of this run was kept; the output folder holds the "
                      "previous run's complete outputs, as they were.", highlight=False,
                      markup=False)
            raise typer.Exit(130) from None
        err.print("interrupted after this run's outputs were complete: the output folder "
                  "holds all of them.", highlight=False, markup=False)
        raise typer.Exit(130) from None


def _run_and_write(study_path: Path, out: Path | None, offline: bool | None, top_n: int | None,
                   quiet: bool, verbose: bool, formats: list[str] | None = None,
                   postgis: str | None = None, network_edges: bool = False) -> None:
    from siteplan.outputs.summary import summary_text
    from siteplan.outputs.writers import plan_study_outputs, write_outputs
    from siteplan.pipeline import run_study
    from siteplan.study.model import load_study

    ui = _Ui(quiet, verbose)
    with _interruptible():
        # Everything about the outputs is refused before the analysis, not after it.
        study = load_study(study_path)
        plan_study_outputs(study, out, formats)
    with _interruptible(), ui.running():
        result = run_study(study, progress=ui.step)
        paths = write_outputs(result, out, offline=offline, top_n=top_n, formats=formats,
                              postgis=postgis, network_edges=network_edges,
                              progress=ui.step)
    ui.timings(result.timings)  # write_outputs adds its steps to the run's
    _print(summary_text(result))
    for kind, path in paths.items():
        _print(f"{kind}: {path}")


@app.command()
def demo(out: Out = Path("maps"), offline: Offline = True, quiet: Quiet = False,
         verbose: Verbose = False, debug: Debug = False) -> None:
    """Run the bundled Taiyuan study end to end and write its map and shortlist.

    Example: siteplan demo --out maps
    """
    del debug  # see Debug
    from siteplan.pipeline import DEMO_STUDY

    _run_and_write(DEMO_STUDY, out, offline, None, quiet, verbose)


@app.command()
def run(study: Annotated[Path, typer.Argument(metavar="STUDY.toml", help="The study's TOML file.")],
        out: Out = None, offline: Offline = None,
        top_n: TopN = None,
        postgis: PostGIS = None,
        network_edges: Annotated[bool, typer.Option(
            help="Also write the walking network to the GeoPackage (network_edges).")] = False,
        quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Run a whole study end to end: network, access, catchments, scores, shortlist, maps.

    Example: siteplan run data/taiyuan/study.toml --out maps/taiyuan
    """
    del debug  # see Debug
    _run_and_write(study, out, offline, top_n, quiet, verbose, postgis=postgis,
                   network_edges=network_edges)


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
    _run_and_write(study, out, None, top_n, quiet, verbose, formats=["csv", "xlsx", "gpkg"],
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
    ui = _Ui(quiet, verbose)
    with _interruptible(), ui.running():
        result = run_catchments(config, progress=ui.step,
                                mode=mode)
        path = write_catchments(result, out)
    ui.timings(result.timings)
    _print(result.coverage.to_string(index=False))
    _print(f"catchments: {path}")


def _siting_text(coverage: pd.DataFrame, sites: pd.DataFrame, frontage_m: float) -> str:
    """Describe coverage before/after per method, then the proposed sites in order."""
    lines = []
    for r in coverage.to_dict("records"):
        solver = r["status"]
        if r["method"] != "greedy" and r["gap"] == r["gap"]:  # NaN-safe: no gap, no text
            unit = " in sites" if r.get("bound_unit") == "sites" else ""
            solver += f", gap {r['gap']:.2%}{unit}"
        lines.append(f"{r['method']} ({solver}): {r['class']} within {r['radius_m']:g} m covers "
                     f"{r['share_before']:.1%} of the demand now, {r['share_after']:.1%} with "
                     f"{r['k']} new site(s); {r['unreachable'] / r['demand_total']:.1%} lies "
                     f"beyond every catchment (farther than {frontage_m:g} m from the streets "
                     "any site reaches; the study's catchments.frontage_m).")
    table = sites[["method", "rank", "site_id", "marginal_share", "cumulative_share", "lon",
                   "lat"]]
    text: str = table.to_string(index=False, float_format="{:.4f}".format)
    return "\n".join(lines) + "\n" + text


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
             help="Weight demand by this population column (spread by area), not by area.")]
         = None,
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
    500 m...): existing facilities already cover their catchments, so only uncovered demand
    counts, measured by area of intersection with the catchments.

    Example: siteplan site data/taiyuan/study.toml --class kindergarten --k 10 --method both
    """
    del debug  # see Debug
    from siteplan.io.layers import read_layer
    from siteplan.outputs.siting import plan_siting_outputs, write_siting
    from siteplan.pipeline import run_study
    from siteplan.siting.study import check_request, site_study, sites_table
    from siteplan.study.model import load_study

    if (k is None) == (target_share is None):
        raise ConfigError("give exactly one of --k and --target-share.", where="siteplan site",
                          fix="e.g. --k 10, or --target-share 0.8.")
    # Everything that can be refused is refused before the study runs.
    config = load_study(study)
    check_request(config, class_, k=k, target_share=target_share, method=method,
                  time_limit_s=time_limit, stem=stem)
    out_dir = out if out is not None else Path(config.outputs.folder)
    plan_siting_outputs(out_dir, stem, config.input_files())
    sites: Any = candidates
    if candidates not in ("parcels", "nodes"):
        sites = read_layer(candidates, kind="candidate sites")
    ui = _Ui(quiet, verbose)
    with _interruptible(), ui.running():
        result = run_study(config, progress=ui.step)
        with ui.timed("siting", result.timings):
            siting = site_study(result, class_, k=k, target_share=target_share,
                                candidates=sites, demand=demand, population=population,
                                method=method, time_limit_s=time_limit,
                                skip_excluded=skip_excluded)
        with ui.timed("write siting", result.timings):
            paths = write_siting(siting, out_dir, stem=stem)
    ui.timings(result.timings)
    _print(_siting_text(siting.coverage, sites_table(siting),
                        result.study.catchments.frontage_m))
    for path in paths:
        _print(f"written: {path}")


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
    from siteplan.pipeline import network_from_file

    if out is not None:
        plan_outputs(out, ["network.gpkg"], inputs=[source])
    ui = _Ui(quiet, verbose)
    timings: dict[str, float] = {}
    with _interruptible(), ui.running():
        with ui.timed("network", timings):
            net = network_from_file(source, snap_tolerance_m=snap_tolerance,
                                    keep_largest=not keep_all, crs=crs)
        if out is not None:
            with ui.timed("write", timings):
                path = write_network(net, out, source=source)
    ui.timings(timings)
    _print(net.summary())
    if out is not None:
        _print(f"network: {path}")


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
    from siteplan.pipeline import facilities_from_file

    if out is not None:
        plan_outputs(out, ["facilities.gpkg"], inputs=[source])
    ui = _Ui(quiet, verbose)
    timings: dict[str, float] = {}
    with _interruptible(), ui.running():
        with ui.timed("facilities", timings):
            fac, unclassified = facilities_from_file(source, class_column=class_column,
                                                     class_=facility_class, crs=crs)
        if out is not None:
            with ui.timed("write", timings):
                path = write_facilities(fac, unclassified, out, source=source)
    ui.timings(timings)
    counts = fac["class"].value_counts()
    for cls in sorted(set(CLASSES) | set(counts.index)):
        _print(f"{cls}: {int(counts.get(cls, 0))}")
    _print(f"unclassified schools: {len(unclassified)}")
    for name in unclassified.get("name", []):
        _print(f"  {name}")
    if out is not None:
        _print(f"facilities: {path}")


@app.command("map")
def map_(results: Annotated[Path, typer.Argument(metavar="RESULTS.gpkg", help="A shortlist.gpkg written by "
                                                 "`siteplan run` or `siteplan score`.")],
         out: Out = None, offline: Offline = True,
         top_n: Annotated[int, typer.Option(min=0, help="Parcels labelled by rank.")] = 10,
         quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Draw the interactive map (and PNG) from saved results.

    Example: siteplan map maps/shortlist.gpkg --out maps/
    """
    del debug  # see Debug
    from siteplan.outputs.writers import maps_from_results, plan_map_outputs

    plan_map_outputs(results, out)
    ui = _Ui(quiet, verbose)
    timings: dict[str, float] = {}
    with _interruptible(), ui.running(), ui.timed("maps", timings):
        paths = maps_from_results(results, out, offline=bool(offline), top_n=top_n)
    ui.timings(timings)
    for kind, path in paths.items():
        _print(f"{kind}: {path}")


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
    from siteplan.pipeline import fetch_to_files

    if out is not None:
        plan_outputs(out, ["osm.gpkg"])
    ui = _Ui(quiet, verbose)
    timings: dict[str, float] = {}
    with _interruptible(), ui.running(), ui.timed("fetch", timings):
        paths = fetch_to_files(query, out, cache_dir=cache_dir, refresh=refresh)
    ui.timings(timings)
    for kind, path in paths.items():
        _print(f"{kind}: {path}")


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
    ui = _Ui(quiet, verbose)
    with _interruptible(), ui.running():
        res = init_study(source, out, features=features, name=name, crs=crs, options=options,
                         force=force, cache_dir=cache_dir, refresh=refresh, progress=ui.step)
    ui.timings(res.timings)
    _print(res.summary())


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
    _print(f"{blocks_summary(blocks, options)}\nparcels: {out}")


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
          quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Run many studies (on Dask) into one summary table and one map index page.

    Exits with the number of failed studies (0: all succeeded; at most 125).
    Example: siteplan batch cities/*.toml --out maps/shanxi --scheduler tcp://head:8786
    """
    del debug  # see Debug
    from siteplan.batch import format_report, run_batch

    ui = _Ui(quiet, verbose)

    def done(outcome: object) -> None:
        ui.say(f"{'ok' if getattr(outcome, 'ok', False) else 'FAILED'}: "
               f"{getattr(outcome, 'study_file', outcome)}")

    report = run_batch(studies, out or Path("maps/batch"), scheduler=scheduler,
                       n_workers=0 if serial else workers, top_n=top, xlsx=xlsx, progress=done)
    _print(format_report(report))
    raise typer.Exit(report.exit_code)


_python_showwarning = warnings.showwarning


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    """Show siteplan's own warnings as one line for the user (``--debug`` keeps Python's)."""
    if issubclass(category, SiteplanWarning):
        err.print(f"warning: {message}", highlight=False, markup=False, soft_wrap=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> None:
    """Run the command line and map errors to exit codes.

    Usage errors (exit 2) and ``typer.Exit`` codes are handled by typer's standalone mode;
    siteplan's own errors become one line and exit 2, anything else exit 1.
    """
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    previous = warnings.showwarning
    if not debug:
        warnings.showwarning = _show_warning
    try:
        app(args=args, prog_name="siteplan")
    except SiteplanError as exc:
        if debug:
            traceback.print_exc()
        err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug, not the user's input
        if debug:
            traceback.print_exc()
        else:
            err.print(f"internal error: {type(exc).__name__}: {exc}\n"
                      "Run again with --debug for the traceback, and please report it.",
                      highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)
    finally:
        warnings.showwarning = previous
