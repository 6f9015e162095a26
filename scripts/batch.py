"""Land-supply shortlists for many districts or cities in one go.

Runs every study file given (``.toml`` files, folders of them, or text files listing them one
per line) and writes, into ``--out``: one folder per study with its shortlist and maps, a
``summary.csv``/``summary.xlsx`` ranking the top parcels of every study, ``studies.csv`` and an
``index.html`` page linking every study's map.

Examples::

    python scripts/batch.py studies/shanxi/*.toml --out maps/shanxi
    python scripts/batch.py shanxi_districts.txt --out /shared/siteplan/shanxi \\
        --scheduler tcp://10.0.0.5:8786

Exit code: the number of failed studies (0 = all succeeded; at most 125), each failure printed
on one line as ``FAILED <study file>: <why>``.  A batch that cannot start at all (no studies,
unreachable scheduler, output folder not writable) prints one error line and exits 2.
"""

from __future__ import annotations

import argparse
import sys

from siteplan.batch import StudyOutcome, format_report, run_batch
from siteplan.core.errors import SiteplanError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="batch.py", description=__doc__.split("\n\n")[0],
        epilog="example: python scripts/batch.py studies/*.toml --out maps/batch --workers 2")
    parser.add_argument("studies", nargs="+",
                        help="study .toml files, folders of them, or text files listing them")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--scheduler", default=None,
                        help="address of an existing Dask scheduler, e.g. tcp://HOST:8786 "
                        "(default: a local cluster on this machine)")
    parser.add_argument("--workers", type=int, default=None,
                        help="workers of the local cluster (default: one per CPU core)")
    parser.add_argument("--serial", action="store_true",
                        help="run the studies one after another in this process, without Dask")
    parser.add_argument("--threads", action="store_true",
                        help="local cluster of threads instead of processes")
    parser.add_argument("--top", type=int, default=None,
                        help="parcels per study in the summary (default: each study's top_n)")
    parser.add_argument("--no-xlsx", action="store_true", help="do not write summary.xlsx")
    parser.add_argument("--quiet", action="store_true", help="print only failures")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serial and args.scheduler:
        print("error: --serial and --scheduler exclude each other.", file=sys.stderr)
        return 2
    done = 0

    def progress(outcome: StudyOutcome) -> None:
        nonlocal done
        done += 1
        if outcome.ok and not args.quiet:
            print(f"[{done}] ok     {outcome.folder} ({outcome.seconds:.1f} s)", flush=True)
        elif not outcome.ok and not args.quiet:
            print(f"[{done}] failed {outcome.folder}", flush=True)

    try:
        result = run_batch(args.studies, args.out, scheduler=args.scheduler,
                           n_workers=0 if args.serial else args.workers,
                           processes=not args.threads, top_n=args.top, xlsx=not args.no_xlsx,
                           progress=progress)
    except SiteplanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.quiet:
        for line in result.failure_lines():
            print(line, file=sys.stderr)
    else:
        print(format_report(result))
    return result.exit_code


if __name__ == "__main__":  # the guard lets Dask start worker processes (spawn)
    sys.exit(main())
