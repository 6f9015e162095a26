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
from typing import TYPE_CHECKING, Annotated, Literal, TextIO

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from siteplan.core.errors import SiteplanError, SiteplanWarning

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
        """Print the seconds per step (with ``--verbose``)."""
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
            err.print("interrupted: nothing of this run was kept; the output folder holds the "
                      "previous run's complete outputs, as they were.", highlight=False,
                      markup=False)
            raise typer.Exit(130) from None
        err.print("interrupted after this run's outputs were complete: the output folder "
                  "holds all of them.", highlight=False, markup=False)
        raise typer.Exit(130) from None


def run_and_write(study_path: Path, out: Path | None, offline: bool | None, top_n: int | None,
                   quiet: bool, verbose: bool, formats: list[str] | None = None,
                   postgis: str | None = None, network_edges: bool = False,
                   scheduler: str | None = None, tiles: str = "2x2") -> None:
    """Run a study and write its outputs, with progress, summary and timings (run and demo).

    With ``scheduler`` (an address or ``local``) the access stage runs in ``tiles`` on Dask.
    """
    from contextlib import nullcontext

    from siteplan.outputs.summary import summary_text
    from siteplan.outputs.writers import plan_study_outputs, write_outputs
    from siteplan.pipeline import run_study
    from siteplan.study.model import load_study

    ui = Ui(quiet, verbose)
    with interruptible():
        # Everything about the outputs is refused before the analysis, not after it.
        study = load_study(study_path)
        plan_study_outputs(study, out, formats)
        split = _tiles(tiles)
    from siteplan.batch import dask_mapper

    cluster = (nullcontext(None) if scheduler is None else
               dask_mapper(None if scheduler == "local" else scheduler))
    with interruptible(), ui.running(), cluster as mapper:
        result = run_study(study, progress=ui.step, access_map=mapper, tiles=split)
        paths = write_outputs(result, out, offline=offline, top_n=top_n, formats=formats,
                              postgis=postgis, network_edges=network_edges,
                              progress=ui.step)
    ui.timings(result.timings)  # write_outputs adds its steps to the run's
    say(summary_text(result))
    for kind, path in paths.items():
        say(f"{kind}: {path}")


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
