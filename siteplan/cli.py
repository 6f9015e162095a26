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
SitingMeasure = Literal["units", "frontage"]


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
    """Ctrl-C: typer would exit 130 silently; say what state the output folder is in."""
    try:
        yield
    except KeyboardInterrupt:
        err.print("interrupted: files already written in the output folder are complete; "
                  "the others are still the previous run's.", highlight=False, markup=False)
        raise typer.Exit(130) from None


def _run_and_write(study_path: Path, out: Path | None, offline: bool | None, top_n: int | None,
                   quiet: bool, verbose: bool, formats: list[str] | None = None,
                   postgis: str | None = None, network_edges: bool = False) -> None:
    from siteplan.outputs.summary import summary_text
    from siteplan.outputs.writers import write_outputs
    from siteplan.pipeline import run_study

    ui = _Ui(quiet, verbose)
    with _interruptible(), ui.running():
        result = run_study(study_path, progress=ui.step)
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
    from siteplan.outputs.writers import write_catchments
    from siteplan.pipeline import run_catchments

    ui = _Ui(quiet, verbose)
    with _interruptible(), ui.running():
        result = run_catchments(study, progress=ui.step,
                                mode=mode)
        path = write_catchments(result, out)
    ui.timings(result.timings)
    from siteplan.outputs.summary import coverage_lines

    _print("\n".join(coverage_lines(result.coverage)))
    _print(f"catchments: {path} (the whole coverage table: coverage.csv)")


def _siting_text(coverage: pd.DataFrame, sites: pd.DataFrame, frontage_m: float) -> str:
    """Describe coverage before/after per method, then the proposed sites in order."""
    lines = []
    for r in coverage.to_dict("records"):
        solver = r["status"]
        if r["method"] != "greedy" and r["gap"] == r["gap"]:  # NaN-safe: no gap, no text
            unit = " in sites" if r.get("bound_unit") == "sites" else ""
            solver += f", gap {r['gap']:.2%}{unit}"
        lost = r["unreachable"] / r["demand_total"]
        if r.get("measure", "units") == "units":
            what = "residents" if r["weight"] == "residents" else f"the demand ({r['weight']})"
            tail = (f" ({int(r['n_served_before']):,} and {int(r['n_served_after']):,} of "
                    f"{int(r['n_units']):,} units served); {lost:.1%} is in units no candidate "
                    "serves (none within the radius of their entrances).")
        else:
            what = "the demand"
            tail = (f"; {lost:.1%} lies beyond every catchment (farther than {frontage_m:g} m "
                    "from the streets any site reaches; the study's catchments.frontage_m).")
        lines.append(f"{r['method']} ({solver}): {r['class']} within {r['radius_m']:g} m covers "
                     f"{r['share_before']:.1%} of {what} now, {r['share_after']:.1%} with "
                     f"{r['k']} new site(s)" + tail)
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
    from siteplan.core.atomic import check_writable_dir
    from siteplan.io.layers import read_layer
    from siteplan.outputs.siting import write_siting
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
    sites: Any = candidates
    if candidates not in ("parcels", "nodes"):
        sites = read_layer(candidates, kind="candidate sites")
    ui = _Ui(quiet, verbose)
    with _interruptible(), ui.running():
        result = run_study(config, progress=ui.step)
        out_dir = check_writable_dir(out if out is not None else result.study.outputs.folder)
        with ui.timed("siting", result.timings):
            siting = site_study(result, class_, k=k, target_share=target_share,
                                candidates=sites, demand=demand, population=population,
                                method=method, time_limit_s=time_limit,
                                skip_excluded=skip_excluded, measure=measure)
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
    # Accepted like every command's options: this command prints only its results, and
    # main() reads --debug from the arguments before typer parses them.
    del quiet, verbose, debug
    from siteplan.outputs.writers import write_network
    from siteplan.pipeline import network_from_file

    net = network_from_file(source, snap_tolerance_m=snap_tolerance, keep_largest=not keep_all,
                            crs=crs)
    _print(net.summary())
    if out is not None:
        _print(f"network: {write_network(net, out)}")


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
    # Accepted like every command's options: this command prints only its results, and
    # main() reads --debug from the arguments before typer parses them.
    del quiet, verbose, debug
    from siteplan.outputs.writers import write_facilities
    from siteplan.pipeline import facilities_from_file

    fac, unclassified = facilities_from_file(source, class_column=class_column,
                                             class_=facility_class, crs=crs)
    from siteplan.facilities.rules import CLASSES

    counts = fac["class"].value_counts()
    for cls in sorted(set(CLASSES) | set(counts.index)):
        _print(f"{cls}: {int(counts.get(cls, 0))}")
    _print(f"unclassified schools: {len(unclassified)}")
    for name in unclassified.get("name", []):
        _print(f"  {name}")
    if out is not None:
        _print(f"facilities: {write_facilities(fac, unclassified, out)}")


@app.command("map")
def map_(results: Annotated[Path, typer.Argument(metavar="RESULTS.gpkg", help="A shortlist.gpkg written by "
                                                 "`siteplan run` or `siteplan score`.")],
         out: Out = None, offline: Offline = True,
         top_n: Annotated[int, typer.Option(min=0, help="Parcels labelled by rank.")] = 10,
         quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Draw the interactive map (and PNG) from saved results.

    Example: siteplan map maps/shortlist.gpkg --out maps/
    """
    # Accepted like every command's options: this command prints only its results, and
    # main() reads --debug from the arguments before typer parses them.
    del quiet, verbose, debug
    from siteplan.outputs.writers import maps_from_results

    for kind, path in maps_from_results(results, out, offline=bool(offline),
                                        top_n=top_n).items():
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
    # Accepted like every command's options: this command prints only its results, and
    # main() reads --debug from the arguments before typer parses them.
    del quiet, verbose, debug
    from siteplan.pipeline import fetch_to_files

    for kind, path in fetch_to_files(query, out, cache_dir=cache_dir, refresh=refresh).items():
        _print(f"{kind}: {path}")


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
