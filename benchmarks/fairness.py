"""What every side-by-side benchmark prints so its figures can be judged: when and where it ran
(date, cores, load average at start and end, the file system its databases sit on), each
stack's durability, and figures as a median with their spread over interleaved rounds."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

MIN_ROUNDS = 5  # fewer rounds than this: a smoke run, not a figure to quote

ONLOOP_DURABILITY = {
    "normal": "WAL, synchronous=NORMAL; FULL for each tool start, decision and halt (default)",
    "full": "WAL, synchronous=FULL (every commit; ONLOOP_SQLITE_SYNCHRONOUS=full)",
}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def file_system(path: Path) -> str:
    """The type of the file system `path` is on (from /proc/mounts; '?' elsewhere): an fsync
    on tmpfs costs nothing, so durability figures mean little there."""
    path = path.resolve()
    best, kind = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def header(folder: Path) -> str:
    return (
        f"date {time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} cores; load average "
        f"(1/5/15 min) at start {load_average()}; databases on {file_system(folder)}"
    )


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> str:
    """'median (min-max)' of `values` times `scale`."""
    if not values:
        return "n/a"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid * scale:.{digits}f} ({low * scale:.{digits}f}-{high * scale:.{digits}f})"


def process_cpu_s(pids: Sequence[int]) -> float:
    """User + system CPU seconds of processes so far (/proc/<pid>/stat; 0 for one gone)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total
