"""The ``siteplan report`` command: the printable parcel report (地块评价报告)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from siteplan.cli.app import Debug, Out, Quiet, Ui, Verbose, app, interruptible, say


@app.command()
def report(study: Annotated[Path, typer.Argument(metavar="STUDY.toml",
                                                 help="The study's TOML file.")],
           out: Out = None,
           top: Annotated[int | None, typer.Option(
               "--top", min=1, help="Report on the best-ranked N parcels (10 by default).")]
           = None,
           parcel: Annotated[list[str] | None, typer.Option(
               "--parcel", help="Report on this parcel id (repeat for more); instead of --top.")]
           = None,
           pdf: Annotated[bool, typer.Option(
               "--pdf/--no-pdf", help="Also print the PDF with headless Chromium.")] = True,
           quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Write the parcel report (地块评价报告) of the top parcels as HTML and PDF.

    Example: siteplan report data/taiyuan/study.toml --top 10 --out maps/report
    """
    del debug  # see Debug
    from siteplan.core.outputset import plan_outputs
    from siteplan.outputs.report import REPORT_FILES, parcel_report
    from siteplan.pipeline import run_study
    from siteplan.study.model import load_study

    ui = Ui(quiet, verbose)
    with interruptible():
        loaded = load_study(study)
        # The files are refused before the analysis, not after it.
        plan_outputs(Path(out) if out is not None else Path(loaded.outputs.folder),
                     list(REPORT_FILES if pdf else REPORT_FILES[:1]),
                     inputs=loaded.input_files())
    with interruptible(), ui.running():
        result = run_study(loaded, progress=ui.step)
        with ui.timed("report", result.timings):
            paths = parcel_report(result, out, parcel_ids=parcel or None, top_n=top, pdf=pdf)
    for kind, path in paths.items():
        say(f"{kind}: {path}")
