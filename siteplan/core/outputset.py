"""Output sets: the files of one run appear together, or none of them does.

A run writes several files that belong together (``shortlist.csv``, ``.xlsx``, ``.gpkg``, the
``meta.json`` that holds their hashes, the maps).  Replacing them one by one would leave, after a
Ctrl-C or a crash half-way, a new CSV beside the previous run's GeoPackage and a ``meta.json``
whose hashes match neither.  So a run

1. checks the whole set first (:func:`plan_outputs`), before any analysis: the folder can be
   created and written, every file name is a plain name the file system can hold, no output is
   an input or lands where a folder is;
2. writes every file into a hidden staging folder inside the output folder
   (:func:`staged_outputs`);
3. swaps the set in: a journal listing the files is written into the staging folder (the commit
   point), then each file is moved into place with :func:`os.replace` (atomic on one file
   system) while Ctrl-C waits for the few renames to finish.  A run killed outright during the
   swap leaves the journal; the next run into that folder completes the swap first
   (:func:`recover`).  Without a journal the staging folder is simply removed: the previous set
   was never touched.

The folder keeps a manifest (``.siteplan-outputs.json``) of the sets written into it.  A new set
that replaces any file of an earlier set supersedes it: the earlier set's other files (a map
named after the previous study, a format no longer asked for) would no longer match, so they
are removed in the same swap and reported.  Files siteplan did not write are never touched.

Ctrl-C: the command line installs :func:`interrupt_handler`, which also remembers an interrupt
whose ``KeyboardInterrupt`` Python swallowed (raised inside a destructor, printed as "Exception
ignored in ..."), so such a run still stops before its swap instead of finishing with exit 0.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from siteplan.core.errors import InputError, SiteplanWarning

MANIFEST = ".siteplan-outputs.json"
STAGING_PREFIX = ".siteplan-staging-"
JOURNAL = ".swap.json"
#: Bytes a generated file-name stem is cut to (a study name may be a paragraph of Chinese).
STEM_MAX_BYTES = 80
# Room a file name needs beyond its own length: the temporary name a writer gives it beside the
# final one (".<name>.<8 random>.tmp<suffix>", siteplan.core.atomic) plus SQLite's "-journal".
_TEMP_OVERHEAD = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[1-9]|lpt[1-9])$", re.IGNORECASE)


class OutputsCompleteInterrupt(KeyboardInterrupt):
    """Ctrl-C arrived while the new set was being swapped in: the set is complete."""


# --------------------------------------------------------------------------------- names


def safe_stem(text: str, max_bytes: int = STEM_MAX_BYTES) -> str:
    """Make a bounded, portable file-name stem of any text (a study name, a file's stem).

    Runs of anything but letters and digits become ``_``; the result is lower-case, at most
    ``max_bytes`` bytes in UTF-8 (a cut stem ends in 8 hex digits of the full text's hash, so two
    long names stay apart) and never a name Windows reserves (``con``, ``nul``, ``com1``...).

    Examples
    --------
    >>> safe_stem("Taiyuan demo: central")
    'taiyuan_demo_central'
    >>> len(safe_stem("太原" * 200).encode()) <= 80
    True
    >>> safe_stem(chr(9) + chr(1)), safe_stem("NUL")
    ('study', 'nul_')
    """
    slug = re.sub(r"[\W_]+", "_", text.strip().lower(), flags=re.UNICODE).strip("_") or "study"
    raw = slug.encode("utf-8")
    if len(raw) > max_bytes:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        head = raw[:max_bytes - 9].decode("utf-8", "ignore").rstrip("_")
        slug = f"{head}_{digest}"
    return slug + "_" if _WINDOWS_RESERVED.match(slug) else slug


def _name_max(folder: Path) -> int:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    return 255


def _path_max(folder: Path) -> int:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return int(os.pathconf(folder, "PC_PATH_MAX"))
    return 4096


def check_file_name(name: str, *, name_max: int = 255, where: str | None = None) -> None:
    """Refuse an output file name that is not a plain, storable name.

    A name must hold no path separator, no ``..``, no control character, and leave room (40
    bytes) within the file system's ``name_max`` for the temporary name it is written under.
    """
    fix = ("choose a shorter plain name (the study's name, or --stem for siteplan site) without "
           "'/', '\\\\', '..' or control characters.")
    if not name or name in (".", "..") or "/" in name or "\\" in name or ".." in name:
        raise InputError(f"the output file name {name!r} is not a plain file name.",
                         where=where or name, fix=fix)
    if _CONTROL.search(name):
        raise InputError(f"the output file name {name!r} holds a control character.",
                         where=where or repr(name), fix=fix)
    size = len(name.encode("utf-8", "surrogatepass"))
    if size + _TEMP_OVERHEAD > name_max:
        raise InputError(f"the output file name is {size} bytes long; this file system holds "
                         f"names of at most {name_max} bytes (and siteplan needs "
                         f"{_TEMP_OVERHEAD} of them for a temporary name).",
                         where=where or name[:60] + "...", fix=fix)


# ---------------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class OutputPlan:
    """A checked set of output files: the folder, the file names and the run's inputs."""

    folder: Path
    names: tuple[str, ...]
    inputs: tuple[str, ...] = ()

    def path(self, name: str) -> Path:
        """Return the final path of one of the set's files."""
        return self.folder / name


def _existing_ancestor(folder: Path) -> Path:
    probe = folder.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_folder(folder: Path) -> Path:
    """Check that ``folder`` is, or can become, a writable folder; create nothing.

    Returns its nearest existing ancestor (itself when it exists).
    """
    if folder.exists() and not folder.is_dir():
        raise InputError("is a file, not a folder; outputs go into a folder.", where=str(folder),
                         fix="give --out a folder (it is created if needed), e.g. the file's "
                         "folder plus a new name such as out/.")
    base = _existing_ancestor(folder)
    if base != folder.absolute():
        if not base.is_dir():
            raise InputError(f"cannot create the output folder ({base} is a file).",
                             where=str(folder), fix="choose a folder you can write to with --out.")
        if not os.access(base, os.W_OK | os.X_OK):
            raise InputError(f"cannot create the output folder (no permission to write in "
                             f"{base}).", where=str(folder),
                             fix="choose a folder you can write to with --out.")
    elif not os.access(folder, os.W_OK | os.X_OK):
        raise InputError("the output folder is not writable.", where=str(folder),
                         fix="choose a folder you can write to with --out, or fix its permissions.")
    return base


def plan_outputs(folder: str | Path, names: Iterable[str], *,
                 inputs: Iterable[str | Path] = ()) -> OutputPlan:
    """Check a set of outputs before any work is done; create nothing.

    Parameters
    ----------
    folder
        The output folder (created when the set is written, if needed).
    names
        The file names of the set.
    inputs
        The run's input files: an output that is one of them (however spelled) is refused.

    Returns
    -------
    OutputPlan
        The checked set, for :func:`staged_outputs`.

    Raises
    ------
    InputError
        The folder is a file or cannot be created or written; a name is not a plain file name,
        holds a control character or is too long for the file system; an output would
        overwrite an input; a folder stands where an output file goes.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     plan = plan_outputs(tmp, ["shortlist.csv", "taiyuan.html"])
    ...     plan.names
    ('shortlist.csv', 'taiyuan.html')
    """
    folder = Path(folder)
    names = tuple(dict.fromkeys(names))
    # The length first: the file system refuses even to look at a path that is too long.
    path_max = _path_max(Path(folder.absolute().anchor or "/"))
    longest = max((len(os.fsencode(str(folder.absolute() / n))) for n in names), default=0)
    # The staging folder adds one level (its name) under the output folder.
    if longest + len(STAGING_PREFIX) + 32 + _TEMP_OVERHEAD > path_max:
        raise InputError(f"the output paths are {longest} bytes long; this system's limit is "
                         f"{path_max}.", where=str(folder)[:80] + "...",
                         fix="choose a shorter --out folder.")
    base = _check_folder(folder)
    name_max = _name_max(base)
    for name in names:
        check_file_name(name, name_max=name_max)
    resolved: dict[Path, str] = {}
    for src in inputs:
        with contextlib.suppress(OSError):
            resolved[Path(src).resolve()] = str(src)
    clash = [str(folder / n) for n in names if (folder / n).resolve() in resolved]
    if clash:
        raise InputError(f"the output path is the same as an input file: {', '.join(clash)}; "
                         "nothing was written.", where=clash[0],
                         fix="write outputs to another folder (--out), or rename the input.")
    blocked = [n for n in names if (folder / n).is_dir()]
    if blocked:
        raise InputError(f"a folder stands where the output file {blocked[0]!r} goes.",
                         where=str(folder / blocked[0]),
                         fix="move or rename that folder, or write to another folder (--out).")
    return OutputPlan(folder, names, tuple(str(p) for p in inputs))


# ------------------------------------------------------------------------------ Ctrl-C


class _Interrupts:
    """What SIGINT did while siteplan's handler was installed."""

    requested = False  # a SIGINT arrived (its KeyboardInterrupt may have been swallowed)
    deferring = False  # a swap is running: remember the signal, raise after
    deferred = False   # a SIGINT arrived while deferring
    swapped = False    # a set was swapped in since the handler was installed


_state = _Interrupts()


def _on_sigint(_signum: int, _frame: FrameType | None) -> None:
    _state.requested = True
    if _state.deferring:
        _state.deferred = True
        return
    raise KeyboardInterrupt


def _unraisable(hook: Any) -> Any:
    def quiet(unraisable: Any) -> None:
        # A KeyboardInterrupt raised inside a destructor cannot propagate: Python prints
        # "Exception ignored in ..." with a traceback and goes on.  It is the user's Ctrl-C (the
        # handler noted it); anything failing in its wake is a consequence, not a bug to show.
        if _state.requested or isinstance(unraisable.exc_value, KeyboardInterrupt):
            _state.requested = True
            return
        hook(unraisable)
    return quiet


@contextlib.contextmanager
def interrupt_handler() -> Iterator[None]:
    """Handle Ctrl-C for a whole command: raise ``KeyboardInterrupt``, and remember it.

    A swallowed interrupt still stops the run before its outputs are swapped in
    (:func:`interrupt_requested`), and the tracebacks of a swallowed interrupt are not printed.
    Outside the main thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    previous_hook = sys.unraisablehook
    _state.requested = _state.deferred = _state.swapped = False
    signal.signal(signal.SIGINT, _on_sigint)
    sys.unraisablehook = _unraisable(previous_hook)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook


def interrupt_requested() -> bool:
    """Whether Ctrl-C was pressed under :func:`interrupt_handler` (even if swallowed)."""
    return _state.requested


def outputs_swapped() -> bool:
    """Whether a set of outputs was swapped in since :func:`interrupt_handler` was entered."""
    return _state.swapped


@contextlib.contextmanager
def _deferred_sigint() -> Iterator[None]:
    """Let a SIGINT wait until the block ends, then raise :class:`OutputsCompleteInterrupt`."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    ours = previous is _on_sigint
    if main and not ours:
        signal.signal(signal.SIGINT, _on_sigint)
    _state.deferring, _state.deferred = True, False
    try:
        yield
    finally:
        _state.deferring = False
        if main and not ours:
            signal.signal(signal.SIGINT, previous)
    if _state.deferred and previous is not signal.SIG_IGN:
        raise OutputsCompleteInterrupt


# ----------------------------------------------------------------------------- writing


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, outermost first."""
    missing = []
    probe = folder.absolute()
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder ({exc.strerror}).", where=str(folder),
                         fix="choose a folder you can write to with --out.") from exc
    return missing[::-1]


def _plain(name: object) -> bool:
    return (isinstance(name, str) and bool(name) and "/" not in name and "\\" not in name
            and name not in (".", ".."))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _manifest_sets(folder: Path) -> list[list[str]]:
    sets = _read_json(folder / MANIFEST).get("sets", [])
    if not isinstance(sets, list):
        return []
    return [[n for n in s if _plain(n)] for s in sets if isinstance(s, list)]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _apply(folder: Path, staging: Path, journal: dict[str, Any]) -> None:
    """Move the staged files into place and remove the superseded ones (safe to repeat)."""
    for name in journal.get("replace", []):
        if _plain(name) and (staging / name).is_file():
            os.replace(staging / name, folder / name)
    for name in journal.get("remove", []):
        target = folder / name
        if _plain(name) and target.is_file() and not target.is_symlink():
            target.unlink()


def _pid_alive(pid: int) -> bool:
    if os.name != "posix" or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def recover(folder: str | Path) -> list[str]:
    """Finish or drop the swaps that runs killed outright left in ``folder``.

    A staging folder with a journal was past its commit point: its swap is completed.  One
    without a journal is removed (the previous set was never touched).  Staging folders of runs
    still alive are left alone.  Returns the names of the staging folders handled.
    """
    folder = Path(folder)
    done = []
    for staging in sorted(folder.glob(STAGING_PREFIX + "*")):
        pid_text = staging.name[len(STAGING_PREFIX):].split("-", 1)[0]
        pid = int(pid_text) if pid_text.isdigit() else -1
        if not staging.is_dir() or (pid != os.getpid() and _pid_alive(pid)):
            continue
        journal = _read_json(staging / JOURNAL)
        if journal:
            _apply(folder, staging, journal)
            warnings.warn(f"{folder}: completed the swap of outputs that an earlier run was "
                          f"killed in: {', '.join(journal.get('replace', []))}.",
                          SiteplanWarning, stacklevel=3)
        shutil.rmtree(staging, ignore_errors=True)
        done.append(staging.name)
    return done


def _commit(plan: OutputPlan, staging: Path) -> list[str]:
    """Swap the staged set in; return the files of superseded sets that were removed."""
    extra = sorted(p.name for p in staging.iterdir()
                   if p.name not in plan.names and not p.name.startswith("."))
    if extra:
        raise RuntimeError(f"files written outside the output plan: {extra}")
    new = [n for n in plan.names if (staging / n).is_file()]
    with _deferred_sigint():
        if _state.requested:  # Ctrl-C whose KeyboardInterrupt was swallowed before the swap
            raise KeyboardInterrupt
        sets = _manifest_sets(plan.folder)
        superseded = [s for s in sets if set(s) & set(new)]
        stale = sorted({n for s in superseded for n in s} - set(new))
        stale = [n for n in stale if (plan.folder / n).is_file()]
        kept = [s for s in sets if s not in superseded]
        _write_json(staging / MANIFEST, {"sets": [*kept, new]})
        journal = {"replace": [*new, MANIFEST], "remove": stale}
        _write_json(staging / JOURNAL, journal)  # the commit point
        try:
            _apply(plan.folder, staging, journal)
        except OSError as exc:
            raise InputError(f"the swap of the new outputs stopped half-way ({exc}); the new "
                             "set is kept in its staging folder and the next run into this "
                             "folder completes the swap.", where=str(plan.folder),
                             fix="fix the cause (disk, permissions) and run again.") from exc
        _state.swapped = True
        shutil.rmtree(staging, ignore_errors=True)
    return stale


@contextlib.contextmanager
def staged_outputs(plan: OutputPlan) -> Iterator[Path]:
    """Write a set of outputs into a staging folder, then swap the whole set in at once.

    Yields the staging folder: write each file of ``plan.names`` there (under its own name).
    When the block ends normally the set replaces the previous one in one swap, superseded
    outputs of an earlier set are removed (with a warning naming them); when it raises, or
    Ctrl-C arrives before the swap, the staging folder is removed, output folders the run
    created are removed again if empty, and the previous outputs are exactly as they were.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     plan = plan_outputs(Path(tmp) / "out", ["a.csv", "b.csv"])
    ...     with staged_outputs(plan) as stage:
    ...         _ = (stage / "a.csv").write_text("1")
    ...         _ = (stage / "b.csv").write_text("2")
    ...     sorted(p.name for p in plan.folder.iterdir())
    ['.siteplan-outputs.json', 'a.csv', 'b.csv']
    """
    plan = plan_outputs(plan.folder, plan.names, inputs=plan.inputs)  # things change in a run
    ours = signal.getsignal(signal.SIGINT) is _on_sigint
    if not ours:
        _state.requested = False
    created = _make_folder(plan.folder)
    staging: Path | None = None
    try:
        recover(plan.folder)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-",
                                        dir=plan.folder))
        with interrupt_handler() if not ours else contextlib.nullcontext():
            yield staging
            stale = _commit(plan, staging)
    except OutputsCompleteInterrupt:
        raise
    except BaseException:
        # Past the commit point (a journal) the staging folder holds the new set for recover().
        if staging is not None and not (staging / JOURNAL).exists():
            shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    if stale:
        warnings.warn(f"{plan.folder}: removed {len(stale)} output(s) of an earlier run that "
                      f"this run does not write and that would no longer match its outputs: "
                      f"{', '.join(stale)}.", SiteplanWarning, stacklevel=3)


__all__ = [
    "MANIFEST",
    "OutputPlan",
    "OutputsCompleteInterrupt",
    "check_file_name",
    "interrupt_handler",
    "interrupt_requested",
    "outputs_swapped",
    "plan_outputs",
    "recover",
    "safe_stem",
    "staged_outputs",
]
