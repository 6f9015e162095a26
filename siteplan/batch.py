"""Batch runs: land-supply shortlists for many districts or cities, serially or on Dask.

:func:`run_batch` runs every study file of a list as one task, on an existing Dask
distributed cluster (``scheduler="tcp://HOST:8786"``), on a local cluster of worker processes
(the default) or serially in this process (``n_workers=0``), and writes to the output folder:

- ``<study>/``: each study's own outputs (shortlist, maps), one folder per study;
- ``summary.csv`` (and ``summary.xlsx``): the top parcels of every study in one table, ranked
  across studies by score (``overall_rank``) with each study's own ``rank``;
- ``studies.csv``: one row per study with its status and, for a failed one, why;
- ``index.html``: a page linking every study's map (relative links, so the folder can be
  moved or zipped);
- ``province_coverage.csv``, ``province_compliance.csv``, ``province_map.html``: every city's
  coverage per class and seed compliance counts, and one map of the cities linking to theirs
  (:mod:`siteplan.outputs.province`), when the studies report them (``run_study_file`` does).

A failed study is reported and does not stop the others; :attr:`BatchResult.exit_code` is the
number of failed studies (at most 125, so a shell can tell it from a crash).  The outputs do
not depend on how the studies were spread over workers or in which order they finished:
``summary.csv``, ``studies.csv`` and ``index.html`` are byte-identical to a serial run
(:mod:`siteplan.outputs.batch_report` writes them).
"""

from __future__ import annotations

import logging
import os
import re
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from siteplan.access.split import Mapper
from siteplan.core.atomic import check_writable_dir
from siteplan.core.errors import InputError, SiteplanError
from siteplan.core.optional import require_extra
from siteplan.outputs.batch_report import (
    StudyOutcome,
    index_html,
    studies_table,
    summary_table,
    write_batch_outputs,
)
from siteplan.outputs.province import write_province_outputs

Runner = Callable[[Path, Path], Any]
SCHEDULER_TIMEOUT = "20s"  # connecting to a remote scheduler
WORKER_WAIT_S = 60.0  # waiting for a remote cluster to have at least one worker
MAX_EXIT_CODE = 125  # 126-255 mean "cannot execute" or "killed by a signal" to a shell
STUDY_SUFFIXES = (".toml",)


@dataclass(frozen=True)
class BatchResult:
    """Outcomes (in the order the studies were given) and the files written."""

    outcomes: list[StudyOutcome]
    out_dir: Path
    files: dict[str, Path]
    seconds: float
    cluster_seconds: float = 0.0
    workers: int = 0
    scheduler: str = "serial"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> list[StudyOutcome]:
        """The studies that failed."""
        return [o for o in self.outcomes if not o.ok]

    @property
    def exit_code(self) -> int:
        """Number of failed studies, capped at :data:`MAX_EXIT_CODE` (0: all succeeded)."""
        return batch_exit_code(len(self.failed))

    def failure_lines(self) -> list[str]:
        """One line per failed study: which, and why."""
        return [f"FAILED {o.study_file}: {o.error}" for o in self.failed]


def batch_exit_code(n_failed: int) -> int:
    """Exit code of a batch: the number of failed studies, at most 125."""
    return min(max(int(n_failed), 0), MAX_EXIT_CODE)


# ============================================================================= study lists


def read_study_list(items: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Expand study arguments into study files, in order.

    Each item is a study file (``.toml``), a folder (its ``*.toml`` files, sorted by name) or a
    text file listing study files, one per line (blank lines and ``#`` comments ignored;
    relative paths are relative to the list file).  Paths are made absolute, because the
    workers of a cluster do not share this process's working directory.

    Raises
    ------
    InputError
        A list file or folder that cannot be read, no study at all, or a study given twice
        (both would write the same folder).
    """
    out: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.suffix.lower() in STUDY_SUFFIXES:
            out.append(path.absolute())
        elif path.is_dir():
            out.extend(p.absolute() for p in sorted(path.glob("*.toml")))
        else:
            out.extend(_read_list_file(path))
    if not out:
        raise InputError("no study files given.", where="batch",
                         fix="give study .toml files, folders of them, or a text file listing "
                         "them one per line.")
    seen: dict[Path, int] = {}
    for i, p in enumerate(out):
        key = Path(os.path.normpath(p))
        if key in seen:
            raise InputError(f"study {p} is listed twice (items {seen[key] + 1} and {i + 1}).",
                             where="batch", fix="list each study once.")
        seen[key] = i
    return [Path(os.path.normpath(p)) for p in out]


def _read_list_file(path: Path) -> list[Path]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("study list not found.", where=str(path),
                         fix="give study .toml files, folders of them, or a text file listing "
                         "them.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the study list ({exc}).", where=str(path),
                         fix="give a UTF-8 text file with one study file per line.") from None
    base = path.absolute().parent
    out = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            p = Path(entry).expanduser()
            out.append(p if p.is_absolute() else base / p)
    return out


_UNSAFE = re.compile(r'[\\/:*?"<>|\s\x00-\x1f]+')


def study_folders(studies: Sequence[Path]) -> list[str]:
    """Name one distinct output folder per study.

    Each is the file name without ``.toml``, with as many parent folders as needed to tell
    studies apart (``taiyuan-study``, ``datong-study``).
    """
    parts = [[_UNSAFE.sub("_", s) for s in (*p.parent.parts[1:], p.stem)] for p in studies]
    depth = [1] * len(parts)
    while True:
        names = ["-".join(pp[-d:]) for pp, d in zip(parts, depth, strict=True)]
        clash = {n for n in names if names.count(n) > 1}
        if not clash:
            return names
        grown = False
        for i, n in enumerate(names):
            if n in clash and depth[i] < len(parts[i]):
                depth[i] += 1
                grown = True
        if not grown:  # identical paths are refused earlier; this is only a safety net
            return [f"{n}-{i + 1}" if n in clash else n for i, n in enumerate(names)]


# ============================================================================= one study


def run_study_task(runner: Runner, index: int, study: str, folder: str,
                   out_dir: str) -> StudyOutcome:
    """Run one study with ``runner(study, out_dir / folder)`` and describe the outcome.

    This is the function each Dask task runs.  It never raises for a failing study: the error
    becomes :attr:`StudyOutcome.error` (one line), so one study cannot stop the batch.
    """
    start = time.perf_counter()
    study_out = Path(out_dir) / folder
    try:
        result = runner(Path(study), study_out)
        fields = _summary_fields(result, study_out)
    except (Exception, SystemExit) as exc:
        # The failure line names the study file already; do not repeat it.
        error = describe_error(exc).removeprefix(f"{study}: ")
        return StudyOutcome(index=index, study_file=study, folder=folder,
                            out_dir=str(study_out), error=error,
                            seconds=time.perf_counter() - start)
    return StudyOutcome(index=index, study_file=study, folder=folder,
                        seconds=time.perf_counter() - start, **fields)


def describe_error(exc: BaseException, limit: int = 600) -> str:
    """Say in one line why a study failed.

    The user-facing message of a :class:`~siteplan.core.errors.SiteplanError`, else the
    exception type, message and the line of code that raised it; at most ``limit`` characters.
    """
    if isinstance(exc, SiteplanError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}".rstrip(": ")
        frames = traceback.extract_tb(exc.__traceback__)
        if frames:
            last = frames[-1]
            text += f" (at {Path(last.filename).name}:{last.lineno})"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_FIELD_NAMES = {
    "name": ("name", "study_name"),
    "out_dir": ("out_dir", "output_dir", "folder"),
    "map_html": ("map_html", "map_path", "map"),
    "shortlist_csv": ("shortlist_csv", "csv"),
    "top": ("top", "top_parcels"),
    "coverage": ("coverage",),
    "compliance": ("compliance",),
    "extent": ("extent",),
}


def _get(result: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        if isinstance(result, Mapping):
            if name in result:
                return result[name]
        elif hasattr(result, name):
            return getattr(result, name)
    return None


def _summary_fields(result: Any, study_out: Path) -> dict[str, Any]:
    """Normalise what a runner returned (a mapping or an object with attributes)."""
    got = {key: _get(result, names) for key, names in _FIELD_NAMES.items()}
    top = got["top"]
    if not isinstance(top, pd.DataFrame):
        raise TypeError(f"the study runner returned no table of top parcels (got "
                        f"{type(result).__name__} without a 'top' DataFrame)")
    missing = [c for c in ("parcel_id", "rank", "score") if c not in top.columns]
    if missing:
        raise TypeError(f"the study's top parcels lack the column(s) {missing}")
    # The summary is a table: geometry stays in each study's own shortlist.
    top = pd.DataFrame(top.drop(columns=[c for c in top.columns
                                         if str(top[c].dtype) == "geometry"]))
    if "excluded" in top.columns:
        top = top[~top["excluded"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    top = top[pd.to_numeric(top["rank"], errors="coerce").notna()]
    top = top.sort_values(["rank", "parcel_id"], kind="stable").reset_index(drop=True)

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    tables = {key: pd.DataFrame(got[key]) for key in ("coverage", "compliance")
              if isinstance(got[key], pd.DataFrame)}
    extent = got["extent"]
    return {"name": text(got["name"]), "out_dir": text(got["out_dir"] or study_out),
            "map_html": text(got["map_html"]), "shortlist_csv": text(got["shortlist_csv"]),
            "top": top, **tables,
            "extent": None if extent is None else tuple(float(v) for v in extent)}


def default_runner() -> Runner:
    """Return the study runner used when none is given: :func:`siteplan.pipeline.run_study_file`."""
    from siteplan import pipeline

    runner: Runner = pipeline.run_study_file
    return runner


# ============================================================================= running


def run_batch(
    studies: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    scheduler: Any = None,
    n_workers: int | None = None,
    runner: Runner | None = None,
    processes: bool = True,
    top_n: int | None = None,
    xlsx: bool = True,
    progress: Callable[[StudyOutcome], None] | None = None,
) -> BatchResult:
    """Run many studies and write the summary table, the study list and the map index.

    Parameters
    ----------
    studies
        Study files, folders of them, or text files listing them (:func:`read_study_list`).
    out_dir
        Output folder; each study writes into its own sub-folder (:func:`study_folders`).
        On a remote cluster it must be on a file system every worker sees at the same path.
    scheduler
        ``"tcp://HOST:8786"``: run on that Dask distributed cluster; a
        ``distributed.Client``: run on its cluster; ``None``: start a local cluster on
        127.0.0.1 and stop it afterwards.
    n_workers
        Workers of the local cluster (default: one per CPU core, at most one per study).
        ``0`` runs the studies one after another in this process, without Dask.  Ignored
        with a ``scheduler``, whose cluster has its own workers.
    runner
        ``runner(study_file, study_out_dir)`` runs one study and returns its summary: a mapping
        or object with ``name``, ``out_dir``, ``map_html``, ``shortlist_csv`` and ``top`` (a
        DataFrame with at least ``parcel_id``, ``rank`` and ``score``).  Default:
        :func:`siteplan.pipeline.run_study_file`.  On a cluster it is pickled to the workers,
        so a module-level function (importable there) is safest.
    processes
        Local cluster with worker processes (default) or threads.
    top_n
        Keep at most this many parcels of each study in the summary (default: all the runner
        returns, i.e. each study's ``outputs.top_n``).
    xlsx
        Also write ``summary.xlsx``.
    progress
        Called with each :class:`StudyOutcome` as its study finishes.

    Returns
    -------
    BatchResult
        Outcomes in the order the studies were given; ``exit_code`` = number failed.

    Raises
    ------
    InputError
        No studies, an unreadable list, an output folder that cannot be written, or a cluster
        that cannot be reached or cannot run siteplan (missing or different version, output
        folder not visible to its workers).

    Examples
    --------
    Here a runner stands in for :func:`siteplan.pipeline.run_study_file`, which would run
    and write each study in full:

    >>> import tempfile
    >>> import pandas as pd
    >>> from siteplan import run_batch
    >>> def runner(study, out_dir):
    ...     best = {"xiaodian": 91.5, "yingze": 78.0}[study.stem]
    ...     return {"name": study.stem, "top": pd.DataFrame(
    ...         {"parcel_id": [f"{study.stem}-1"], "rank": [1], "score": [best]})}
    >>> with tempfile.TemporaryDirectory() as out:
    ...     report = run_batch(["xiaodian.toml", "yingze.toml"], out, n_workers=0,
    ...                        runner=runner, xlsx=False)
    ...     summary = pd.read_csv(report.files["summary_csv"], encoding="utf-8-sig")
    >>> report.exit_code, sorted(report.files)
    (0, ['index_html', 'studies_csv', 'summary_csv'])
    >>> summary[["overall_rank", "study", "parcel_id", "score"]]
       overall_rank     study   parcel_id  score
    0             1  xiaodian  xiaodian-1   91.5
    1             2    yingze    yingze-1   78.0
    """
    start = time.perf_counter()
    paths = read_study_list(studies)
    out = check_writable_dir(Path(out_dir)).absolute()
    folders = [f"{f}_study" if f.lower() in _RESERVED else f for f in study_folders(paths)]
    runner = runner or default_runner()
    tasks = [(i, str(p), f) for i, (p, f) in enumerate(zip(paths, folders, strict=True))]
    outcomes, info = _execute(tasks, runner, out, scheduler, n_workers, processes, progress)
    t_write = time.perf_counter()
    files = write_batch_outputs(outcomes, out, top_n=top_n, xlsx=xlsx)
    files.update(write_province_outputs(outcomes, out))
    timings = {"cluster start": info["cluster_seconds"],
               "studies": t_write - start - info["cluster_seconds"],
               "summary": time.perf_counter() - t_write}
    return BatchResult(outcomes=outcomes, out_dir=out, files=files,
                       seconds=time.perf_counter() - start,
                       cluster_seconds=info["cluster_seconds"], workers=info["workers"],
                       scheduler=info["scheduler"], timings=timings)


_RESERVED = {"summary.csv", "summary.xlsx", "studies.csv", "index.html"}


def _execute(tasks: list[tuple[int, str, str]], runner: Runner, out: Path, scheduler: Any,
             n_workers: int | None, processes: bool,
             progress: Callable[[StudyOutcome], None] | None
             ) -> tuple[list[StudyOutcome], dict[str, Any]]:
    if scheduler is None and n_workers == 0:
        done = []
        for i, study, folder in tasks:
            done.append(run_study_task(runner, i, study, folder, str(out)))
            if progress:
                progress(done[-1])
        return done, {"cluster_seconds": 0.0, "workers": 0, "scheduler": "serial"}
    require_extra("dask", "running studies on Dask (workers or a scheduler)")
    from distributed import Client, LocalCluster, as_completed

    # distributed has no annotations on LocalCluster, Client, as_completed or Client.cancel:
    # those calls cannot be type-checked (hence the type: ignores below).
    with ExitStack() as stack:
        t0 = time.perf_counter()
        if isinstance(scheduler, Client):
            client = scheduler
        elif scheduler is not None:
            client = stack.enter_context(_connect_scheduler(str(scheduler)))
        else:
            n = n_workers or max(1, min(os.cpu_count() or 1, len(tasks)))
            cluster = stack.enter_context(LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=n, threads_per_worker=1, processes=processes, host="127.0.0.1",
                # A free loopback port: two batches on one machine must not fight over 8787.
                dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL,
                **(_ONE_THREAD if processes else {})))
            client = stack.enter_context(
                Client(cluster, set_as_default=False))  # type: ignore[no-untyped-call]
        workers = _check_workers(client, out)
        info = {"cluster_seconds": time.perf_counter() - t0, "workers": workers,
                "scheduler": _scheduler_address(client)}
        token = uuid.uuid4().hex[:8]
        futures = {client.submit(run_study_task, runner, i, study, folder, str(out),
                                 key=f"siteplan-study-{token}-{i}", pure=False): (i, study, folder)
                   for i, study, folder in tasks}
        outcomes: list[StudyOutcome | None] = [None] * len(tasks)
        try:
            for fut in as_completed(  # type: ignore[no-untyped-call]
                    list(futures), loop=client.loop):
                i, study, folder = futures[fut]
                try:
                    outcome = fut.result()
                except Exception as exc:  # the task itself failed: worker died or was lost
                    outcome = StudyOutcome(index=i, study_file=study, folder=folder,
                                           out_dir=str(out / folder),
                                           error="the Dask task failed (did the worker run out "
                                           f"of memory or die?): {describe_error(exc)}")
                outcomes[i] = outcome
                if progress:
                    progress(outcome)
        except BaseException:
            # Interrupted: do not leave the studies running on someone else's cluster.
            client.cancel(list(futures))  # type: ignore[no-untyped-call]
            raise
    return [o for o in outcomes if o is not None], info


#: Worker processes of a local cluster, one per core, run siteplan's steps without threads
#: of their own (:mod:`siteplan.core.threads`).
_ONE_THREAD: dict[str, Any] = {"env": {"SITEPLAN_THREADS": "1"}}


@contextmanager
def dask_mapper(scheduler: str | None = None, n_workers: int = 2) -> Iterator[Mapper]:
    """Yield a mapper that runs the tiles of one study on Dask (``run_study(access_map=...)``).

    ``scheduler``: a ``tcp://HOST:8786`` address; ``None`` starts a local cluster of
    ``n_workers`` processes on 127.0.0.1 for the duration.  Each tile's streets, parcels and
    facilities go to a worker and its access table comes back.
    """
    require_extra("dask", "splitting a study on Dask (--scheduler)")
    from distributed import Client, LocalCluster

    with ExitStack() as stack:
        if scheduler is not None:
            client = stack.enter_context(_connect_scheduler(scheduler))
        else:
            cluster = stack.enter_context(LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL, **_ONE_THREAD))
            client = stack.enter_context(
                Client(cluster, set_as_default=False))  # type: ignore[no-untyped-call]

        def mapper(fn: Callable[..., Any], tasks: Iterable[Any]) -> list[Any]:
            # Scattered first: each tile's data goes straight to a worker, not in the graph.
            data = client.scatter(list(tasks), hash=False)
            return list(client.gather(client.map(fn, data, pure=False)))

        yield mapper


def _connect_scheduler(address: str) -> Any:
    from distributed import Client

    try:
        # distributed has no annotations on Client or Client.close (see _execute).
        client = Client(  # type: ignore[no-untyped-call]
            address, timeout=SCHEDULER_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"cannot reach the Dask scheduler ({describe_error(exc)}).", where=address,
            fix="check the address (tcp://HOST:8786), that `dask scheduler` runs there and "
            "that this machine can reach the port.") from None
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except (OSError, TimeoutError):
        client.close()  # type: ignore[no-untyped-call]
        raise InputError(f"the Dask scheduler has no workers (waited {WORKER_WAIT_S:g} s).",
                         where=address,
                         fix="start workers with `dask worker tcp://HOST:8786` on the worker "
                         "machines.") from None
    return client


def _scheduler_address(client: Any) -> str:
    """Return the address of the scheduler a connected ``distributed.Client`` talks to."""
    return str(client.scheduler.address)


def _worker_probe(out_dir: str) -> tuple[str, bool]:
    """Run on every worker: siteplan's version there, and whether it can write ``out_dir``."""
    from siteplan.core.version import __version__

    return __version__, os.path.isdir(out_dir) and os.access(out_dir, os.W_OK | os.X_OK)


def _check_workers(client: Any, out: Path) -> int:
    """Check the cluster's workers; return how many there are.

    A cluster whose workers lack siteplan, run another version, or cannot write the output
    folder is refused (:class:`~siteplan.core.errors.InputError`).
    """
    from siteplan.core.version import __version__

    address = _scheduler_address(client)
    try:
        probes = client.run(_worker_probe, str(out))
    except Exception as exc:  # a worker cannot unpickle siteplan.batch._worker_probe
        raise InputError(
            f"the Dask workers cannot run siteplan ({describe_error(exc)}).", where=address,
            fix=f"install siteplan {__version__} (same Python packages as here) on every "
            "worker machine.") from None
    other = sorted(f"{w} ({v})" for w, (v, _) in probes.items() if v != __version__)
    if other:
        raise InputError(f"workers run another siteplan version than this one ({__version__}): "
                         f"{', '.join(other)}.", where=address,
                         fix=f"install siteplan {__version__} on every worker.")
    blind = sorted(w for w, (_, ok) in probes.items() if not ok)
    if blind:
        raise InputError(
            f"workers cannot write the output folder {out}: {', '.join(blind)}.", where=address,
            fix="put the output folder (and the study data) on a file system that every "
            "worker mounts at the same path (NFS, SMB), and give --out that path.")
    return len(probes)


def format_report(result: BatchResult) -> str:
    """Return a short plain-text report: counts, outputs, timings and one line per failure."""
    ok = len(result.outcomes) - len(result.failed)
    where = ("serially in this process" if result.scheduler == "serial" else
             f"on {result.workers} Dask workers at {result.scheduler}, ready in "
             f"{result.cluster_seconds:.1f} s")
    lines = [f"{ok} of {len(result.outcomes)} studies succeeded, {len(result.failed)} failed, "
             f"{where}; {result.seconds:.1f} s in all."]
    lines += [f"  {kind}: {path}" for kind, path in result.files.items()]
    lines += result.failure_lines()
    return "\n".join(lines)


__all__ = ["BatchResult", "MAX_EXIT_CODE", "StudyOutcome", "batch_exit_code",
           "default_runner", "describe_error", "format_report", "index_html", "read_study_list",
           "run_batch", "run_study_task", "study_folders", "studies_table", "summary_table",
           "write_batch_outputs"]
