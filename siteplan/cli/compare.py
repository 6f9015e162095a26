"""``siteplan compare``: one study's parcels ranked under several scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from siteplan.cli.app import Debug, Out, Quiet, TopN, Ui, Verbose, app, interruptible, say


@app.command()
def compare(studies: Annotated[list[Path], typer.Argument(
                metavar="STUDIES...", help="Study TOML files on the same data ([inputs], [crs], "
                "[network]), each followed by its [[scenarios]]; the first is the baseline.")],
            out: Out = None, top: TopN = None,
            quiet: Quiet = False, verbose: Verbose = False, debug: Debug = False) -> None:
    """Rank the parcels under each scenario (weights, thresholds), network computed once.

    Writes compare.csv: per parcel the rank and score under each scenario, the rank change
    from the baseline, the best and worst rank, and whether it stays in the top N under all.
    Example: siteplan compare study.toml schools_first.toml --top 10 --out maps/compare
    (or one study with [[scenarios]] weight variants: siteplan compare study.toml)
    """
    del debug  # see Debug
    from siteplan.compare import compare_studies, comparison_text, plan_comparison, write_comparison
    from siteplan.study.model import load_study

    ui = Ui(quiet, verbose)
    folder = out or Path("maps/compare")
    with interruptible():
        loaded = [load_study(s) for s in studies]
        plan_comparison(folder, studies)
    with interruptible(), ui.running():
        cmp = compare_studies(loaded, top_n=top, progress=ui.step)
        path = write_comparison(cmp, folder)
    ui.timings(cmp.timings)
    say(comparison_text(cmp))
    say(f"comparison: {path}")
