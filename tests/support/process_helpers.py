"""Find host processes by their command line (a sandboxed command's PIDs are not the host's)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path


def unique_sleep() -> str:
    """A `sleep` argument no other process on the machine has: 30 s plus a random fraction."""
    return f"30.{uuid.uuid4().int % 10**9:09d}"


def running_with(argument: str) -> list[int]:
    """Host PIDs of live (not zombie) processes whose command line contains `argument`."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or entry.name == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X") and argument.encode() in cmdline:
            found.append(int(entry.name))
    return found


def gone_eventually(argument: str) -> bool:
    """Whether every process with `argument` ends (a bounded wait for the kernel, not a timing)."""
    for _ in range(1200):  # up to a minute on a loaded machine
        if not running_with(argument):
            return True
        time.sleep(0.05)
    return False
