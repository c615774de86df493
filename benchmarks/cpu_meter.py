"""Worker CPU from /proc and the load average: what the throughput benchmarks print beside wall
time. CPU time is robust to a shared machine (wall time is not): user + system seconds of the
worker processes between two readings, divided by the model calls they made."""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pids: Iterable[int]) -> float:
    """User + system CPU seconds of these processes (all their threads) so far; a process gone
    counts 0."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f} on {os.cpu_count()} cores"


def spread(values: list[float], digits: int = 2) -> str:
    """'median (min-max)' of repeated measurements."""
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"
