"""Find the processes tests/support/own_process_tools.py left: by the unique `sleep` argument on
their command line, and by the pid and start time a child that is only a fork noted."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

from tests.support.process_helpers import running_with
from tests.support.run_helpers import wait_for

GONE_WITHIN_S = 30.0  # a hang guard for a loaded machine, far below the sleeps' 1000 s


def new_tag() -> str:
    """A `sleep` argument no other process has: 1000 s, so only onloop can have ended it."""
    return f"1000.{uuid.uuid4().int % 10**9:09d}"


def _alive(pid: int, start: str) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == start and fields[0] not in ("Z", "X")


def noted(folder: Path) -> list[int]:
    """Live children that are only forks, as they noted themselves in `folder`."""
    try:
        lines = (folder / "pids.txt").read_text().splitlines()
    except FileNotFoundError:
        return []
    pairs = [line.split() for line in lines if line.strip()]
    return [int(pid) for pid, start in pairs if _alive(int(pid), start)]


def left(tag: str, folder: Path) -> list[int]:
    """Every live process of the tool's call, found either way."""
    return sorted({*running_with(tag), *noted(folder)})


def wait_until_started(tag: str, folder: Path, how: str) -> None:
    wait_for(lambda: left(tag, folder), timeout=60, what=f"the {how} process to start")


def assert_all_gone(tag: str, folder: Path) -> None:
    wait_for(
        lambda: not left(tag, folder),
        timeout=GONE_WITHIN_S,
        what=f"every process of the tool to end ({left(tag, folder)} left)",
    )


def kill_left(tag: str, folder: Path) -> None:
    """Never leave a 1000 s process behind a failed test."""
    for pid in left(tag, folder):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
