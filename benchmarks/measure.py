"""Timing and peak memory of benchmark cases, and the printed table.

What is measured
----------------
- Times are wall-clock seconds, best of ``--repeat`` runs for the cheap cases.
- Memory is the peak resident set size (RSS) of this process *above its RSS at the start of the
  case*, from the kernel's high-water mark (``VmHWM``), which is reset before each case by
  writing ``5`` to ``/proc/self/clear_refs``.  It counts C and C++ allocations (scipy, GEOS,
  pandana) as well as Python's.  Freed memory is handed back (``malloc_trim``) before each case
  so that the baseline is honest.  Where the reset is not allowed the script says so and falls
  back to ``ru_maxrss`` growth, which only shows new process-wide highs.
- The whole pipeline runs in a fresh subprocess; its memory figure is that process's total peak
  RSS (``VmHWM``), input layers included.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


def status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def trim() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _can_reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


HWM_RESET = _can_reset_hwm()


@dataclass
class Case:
    seconds: float
    peak_mb: float
    value: Any = None


def measure(fn: Callable[[], Any], repeat: int = 1) -> Case:
    """Best time of ``repeat`` runs and the peak RSS above the start of the first run."""
    trim()
    base_kb = status_kb("VmRSS")
    if HWM_RESET:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    else:
        base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    value = fn()
    times = [time.perf_counter() - t0]
    peak_kb = status_kb("VmHWM") if HWM_RESET else resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss
    for _ in range(repeat - 1):
        del value
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return Case(min(times), max(peak_kb - base_kb, 0) / 1024.0, value)


@contextlib.contextmanager
def quiet_fd() -> Iterator[None]:
    """Silence C/C++ writes to stdout (pandana prints its progress)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def load_avg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------------------------
RESULTS: list[dict[str, Any]] = []
TARGETS: list[tuple[str, str, str]] = []


def header(title: str) -> None:
    print(f"\n## {title}   (load average {load_avg()})", flush=True)


def row(section: str, method: str, case: Case | None, note: str = "",
        ref: float | None = None, unit: str = "s") -> None:
    if case is None:
        print(f"  {method:<54} {'skipped':>9}  {'':>9}  {note}", flush=True)
        RESULTS.append({"section": section, "method": method, "skipped": note})
        return
    ratio = f"{case.seconds / ref:7.2f}x" if ref else ""
    print(f"  {method:<54} {case.seconds:8.3f}{unit} {case.peak_mb:8.0f}MB {ratio:>9}  {note}",
          flush=True)
    RESULTS.append({"section": section, "method": method, "seconds": case.seconds,
                    "peak_mb": case.peak_mb, "ratio": case.seconds / ref if ref else None,
                    "note": note})


def columns(ref_name: str) -> None:
    print(f"  {'method':<54} {'time':>9} {'peak RSS':>10} {'/ ' + ref_name:>9}")


def target(name: str, ok: bool | None, detail: str) -> None:
    status = "n/a" if ok is None else ("PASS" if ok else "MISS")
    TARGETS.append((name, status, detail))


