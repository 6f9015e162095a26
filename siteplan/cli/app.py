"""The command line's frame: the typer app, shared options, output and exit codes.

Exit codes: 0 success; 2 a usage, configuration or input error (one clear message, no
traceback); 1 anything else (a bug: the message asks for ``--debug``, which shows the traceback).
``siteplan batch`` exits with the number of failed studies (capped at 125).  The commands live
in :mod:`siteplan.cli.run` (a study end to end) and :mod:`siteplan.cli.tools` (single stages,
new cities, batches).
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

from siteplan.core.errors import SiteplanError, SiteplanWarning
from siteplan.core.i18n import (
    LANGUAGES,
    _,
    detect_language,
    parse_language,
    pgettext,
    using_language,
)

if TYPE_CHECKING:
    pass

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
    "--offline/--online", " /--cdn",
    help="Offline (the default): one self-contained HTML map that needs no network; "
    "--online or --cdn: Leaflet linked from its CDN.")]


def _show_version(value: bool) -> None:
    if value:
        from siteplan.core.version import __version__

        typer.echo(f"siteplan {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="Print siteplan's version and exit.")] = False,
          lang: Annotated[str | None, typer.Option(
              "--lang", metavar="[en|zh]",
              help="Language of messages, progress and summary: en or zh (中文). Accepted "
                   "anywhere on the command line; default: SITEPLAN_LANG, else the locale "
                   "(LANG=zh_CN.UTF-8 gives Chinese).")] = None) -> None:
    # main() takes --lang out of the arguments before typer sees them (so that every command
    # accepts it); it is declared here for --help.
    del version, lang


class Ui:
    """Progress bars on stderr for the pipeline's steps, and step timings at the end."""

    def __init__(self, quiet: bool, verbose: bool) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.console = Console(stderr=True, quiet=quiet)
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    @contextmanager
    def running(self) -> Iterator[Ui]:
        """Show a progress display (a spinner per step) while the block runs."""
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=self.console, transient=not self.verbose,
                      disable=self.quiet) as progress:
            self._progress = progress
            yield self
        self._progress = None

    def step(self, name: str, state: str) -> None:
        """Report a pipeline step starting or done (the pipeline's progress callback)."""
        from siteplan.core.outputset import interrupt_requested

        if interrupt_requested():  # a Ctrl-C that Python swallowed: stop at the next step
            raise KeyboardInterrupt
        if self._progress is None:
            return
        if state == "start":
            self._tasks[name] = self._progress.add_task(step_label(name), total=None)
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
        """Print the seconds per step (with ``--verbose``)."""
        if self.quiet or not timings:
            return
        table = Table(title=_("Step timings"), show_header=True)
        table.add_column(_("step"))
        table.add_column(_("time (s)"), justify="right")
        for name, sec in timings.items():
            table.add_row(step_label(name), f"{sec:.2f}")
        table.add_row(_("total"), f"{sum(timings.values()):.2f}")
        self.console.print(table)

    def say(self, text: str) -> None:
        """Print a line unless ``--quiet``."""
        self.console.print(text, highlight=False, markup=False)


def say(text: str) -> None:
    """Results go to stdout (so that scripts can capture them)."""
    typer.echo(text)


@contextmanager
def interruptible() -> Iterator[None]:
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
            err.print(_("interrupted: nothing of this run was kept; the output folder holds "
                        "the previous run's complete outputs, as they were."),
                      highlight=False, markup=False)
            raise typer.Exit(130) from None
        err.print(_("interrupted after this run's outputs were complete: the output folder "
                    "holds all of them."), highlight=False, markup=False)
        raise typer.Exit(130) from None


def run_and_write(study_path: Path, out: Path | None, offline: bool | None, top_n: int | None,
                   quiet: bool, verbose: bool, formats: list[str] | None = None,
                   postgis: str | None = None, network_edges: bool = False,
                   scheduler: str | None = None, tiles: str = "2x2") -> None:
    """Run a study and write its outputs, with progress, summary and timings (run and demo).

    With ``scheduler`` (an address or ``local``) the access stage runs in ``tiles`` on Dask.
    """
    from contextlib import AbstractContextManager, nullcontext

    from siteplan.cli.summary import run_summary, show, written
    from siteplan.outputs.writers import plan_study_outputs, write_outputs
    from siteplan.pipeline import run_study
    from siteplan.study.model import load_study

    ui = Ui(quiet, verbose)
    with interruptible():
        # Everything about the outputs is refused before the analysis, not after it.
        study = load_study(study_path)
        plan_study_outputs(study, out, formats)
        split = _tiles(tiles)
    cluster: AbstractContextManager[Any] = nullcontext(None)
    if scheduler is not None:  # Dask only when asked
        from siteplan.batch import dask_mapper

        cluster = dask_mapper(None if scheduler == "local" else scheduler)
    with interruptible(), ui.running(), cluster as mapper:
        result = run_study(study, progress=ui.step, access_map=mapper, tiles=split)
        paths = write_outputs(result, out, offline=offline, top_n=top_n, formats=formats,
                              postgis=postgis, network_edges=network_edges,
                              progress=ui.step)
    ui.timings(result.timings)  # write_outputs adds its steps to the run's
    show(run_summary(result))
    for kind, path in paths.items():
        say(written(kind, path))


def _tiles(text: str) -> tuple[int, int]:
    """Read ``NXxNY`` (e.g. ``2x2``) as a tile grid."""
    from siteplan.core.errors import ConfigError

    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(f"--tiles {text!r} is not a grid of tiles.", where="--tiles",
                          fix="give NXxNY with positive whole numbers, e.g. --tiles 2x2.")
    return int(parts[0]), int(parts[1])


_python_showwarning = warnings.showwarning


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    """Show siteplan's own warnings as one line for the user (``--debug`` keeps Python's)."""
    if issubclass(category, SiteplanWarning):
        err.print(_("warning: {message}").format(message=message), highlight=False,
                  markup=False, soft_wrap=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def _take_lang(args: list[str]) -> tuple[list[str], str | None]:
    """Take ``--lang X`` / ``--lang=X`` out of the arguments (every command accepts it).

    An unknown language is a usage error (exit 2), in the language of the environment.
    """
    rest: list[str] = []
    value: str | None = None
    k = 0
    while k < len(args):
        arg = args[k]
        if arg == "--lang":
            value = args[k + 1] if k + 1 < len(args) else ""
            k += 2
            continue
        if arg.startswith("--lang="):
            value = arg.removeprefix("--lang=")
        else:
            rest.append(arg)
        k += 1
    if value is not None and value not in LANGUAGES:
        lang = parse_language(value)
        if lang is None:
            with using_language(detect_language()):
                err.print(_("Usage: siteplan [OPTIONS] COMMAND [ARGS]...") + "\n"
                          + _("Error: invalid value for '--lang': {value!r} is not one of "
                              "{choices}.").format(value=value, choices="en, zh"),
                          highlight=False, markup=False, soft_wrap=True)
            sys.exit(2)
        value = lang
    return rest, value


def main(argv: list[str] | None = None) -> None:
    """Run the command line and map errors to exit codes.

    Usage errors (exit 2) and ``typer.Exit`` codes are handled by typer's standalone mode;
    siteplan's own errors become one line and exit 2, anything else exit 1.  Messages are in
    the language of ``--lang``, else ``SITEPLAN_LANG``, else the locale (see
    :mod:`siteplan.core.i18n`).
    """
    args, lang = _take_lang(sys.argv[1:] if argv is None else argv)
    with using_language(lang or detect_language()):
        _run(args)


def _run(args: list[str]) -> None:
    """Run typer on ``args``; print siteplan's errors as one line and exit with their code."""
    debug = "--debug" in args
    previous = warnings.showwarning
    if not debug:
        warnings.showwarning = _show_warning
    try:
        app(args=args, prog_name="siteplan")
    except SiteplanError as exc:
        if debug:
            traceback.print_exc()
        err.print(_("error: {message}").format(message=exc), highlight=False, markup=False,
                  soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print(_("interrupted"))
        sys.exit(130)
    except Exception as exc:  # a bug, not the user's input
        if debug:
            traceback.print_exc()
        else:
            err.print(_("internal error: {error}\nRun again with --debug for the traceback, "
                        "and please report it.").format(error=f"{type(exc).__name__}: {exc}"),
                      highlight=False, markup=False, soft_wrap=True)
        sys.exit(1)
    finally:
        warnings.showwarning = previous


def step_label(name: str) -> str:
    """Show a step of a run (a key of its timings) in the current language."""
    return _step_labels().get(name, name)


def _step_labels() -> dict[str, str]:
    """Return the steps that the pipeline, the writers and the commands report, as shown."""
    return {
        "read inputs": pgettext("step", "read inputs"),
        "network": pgettext("step", "network"),
        "facilities": pgettext("step", "facilities"),
        "parcels": pgettext("step", "parcels"),
        "access": pgettext("step", "access"),
        "catchments": pgettext("step", "catchments"),
        "coverage": pgettext("step", "coverage"),
        "life circles": pgettext("step", "life circles"),
        "scenarios": pgettext("step", "scenarios"),
        "scoring": pgettext("step", "scoring"),
        "shortlist": pgettext("step", "shortlist"),
        "maps": pgettext("step", "maps"),
        "postgis": pgettext("step", "postgis"),
        "siting": pgettext("step", "siting"),
        "write siting": pgettext("step", "write siting"),
        "write": pgettext("step", "write"),
        "fetch": pgettext("step", "fetch"),
        "read OSM": pgettext("step", "read OSM"),
        "blocks": pgettext("step", "blocks"),
        "survey": pgettext("step", "survey"),
    }
