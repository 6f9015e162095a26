"""Atomic output writing: a run that fails or is interrupted never leaves a half-written file.

Every writer in siteplan writes to a temporary file in the destination folder and moves it into
place with :func:`os.replace`, which is atomic on one file system.  The previous output stays
intact until the new one is complete.  A run's several files are swapped in as one set by
:mod:`siteplan.core.outputset`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

from siteplan.core.errors import InputError

_SIDECARS = ("-journal", "-wal", "-shm")


def check_stem(stem: str) -> None:
    """Refuse a file-name stem that would leave the output folder (``<stem>.gpkg`` etc.)."""
    bad = (not isinstance(stem, str) or not stem.strip() or "/" in stem or "\\" in stem
           or ".." in stem or (os.altsep is not None and os.altsep in stem))
    if bad:
        raise InputError(f"bad output stem {stem!r}: it must be a plain file-name stem, "
                         "without a path separator or '..'.", where="siting stem",
                         fix="give e.g. siting or kindergarten_gaps, and choose the folder "
                         "with --out.")


def check_writable_dir(folder: str | Path) -> Path:
    """Create ``folder`` if needed and check that files can be written there."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError("is a file, not a folder; outputs go into a folder.", where=str(folder),
                         fix="give --out a folder (it is created if needed), e.g. the file's "
                         "folder plus a new name such as out/.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder ({exc.strerror}).", where=str(folder),
                         fix="choose a folder you can write to with --out.") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError("the output folder is not writable.", where=str(folder),
                         fix="choose a folder you can write to with --out, or fix its permissions.")
    return folder


@contextlib.contextmanager
def atomic_path(path: str | Path, inputs: list[str | Path] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    Parameters
    ----------
    path
        The final output file.
    inputs
        Input files of the run; writing onto one of them is refused, so inputs are never
        overwritten.
    """
    path = Path(path)
    for src in inputs or []:
        with contextlib.suppress(OSError):
            if Path(src).resolve() == path.resolve():
                raise InputError("the output path is the same as an input file.", where=str(path),
                                 fix="write outputs to another file or folder (--out).")
    folder = check_writable_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix,
                                    dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    # Some writers (GDAL) refuse to open an existing empty file as a new dataset.
    tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        # A writer interrupted inside GDAL leaves its dataset open in the traceback's frames;
        # closed later (when the traceback goes), GDAL would write the file again.  Close it
        # first, then remove the file and the journal SQLite (GeoPackage) leaves beside it.
        traceback.clear_frames(exc.__traceback__)
        gc.collect()
        for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in _SIDECARS)):
            with contextlib.suppress(OSError):
                leftover.unlink()
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode(encoding))
