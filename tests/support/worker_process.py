"""An onloop worker (or `onloop up`) in a process of its own, on a store whose disk the test
breaks under it: two demo runs, one driven and one queued behind it, and what the process must
show once the fault is met (alive, one line about it, no traceback)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import storage
from tests.support.run_helpers import events_of, new_run, wait_for

GOAL = "Summarise the files in the workspace into report.md"
PATIENCE = 90.0  # generous bounds for a loaded machine; never a timing assertion
STEP_S = "1.0"  # a demo step: the run has steps left when the disk fails after its first
NOTES = 8  # the notes the cut run reads, one a step: ten steps left after its first result


class Process:
    """An onloop command in a process of its own, its output in a file the test reads."""

    def __init__(self, args: list[str], log: Path, workspaces: Path) -> None:
        self.log = log
        env = {**os.environ, "ONLOOP_DEMO_DELAY": STEP_S, "ONLOOP_WORKSPACES": str(workspaces)}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "agent_core", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def end(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.end()


def worker_args(store: storage.Store) -> list[str]:
    """`onloop worker` with one slot (the second run waits for it) and short leases."""
    return ["worker", "--db", store.url, "--concurrency", "1", "--lease-seconds", "3"]


def start_on_two_runs(
    store: storage.Store, args: list[str], log: Path, processes: list[Process]
) -> tuple[Process, str, str]:
    """Queue two demo runs, start `args` on them and wait until the first makes progress: the
    process, the run it drives (the one the fault will cut) and the one queued behind it."""
    notes = log.parent / "notes"
    notes.mkdir(exist_ok=True)
    for n in range(NOTES):  # a run long enough to be under way when the test breaks its store
        (notes / f"note{n}.md").write_text(f"# Note {n}\n\nA line to summarise.\n")
    cut = new_run(
        store, GOAL, model="demo", autonomy="autonomous", seed_from=str(notes.resolve())
    ).id
    queued = new_run(store, GOAL, model="demo", autonomy="autonomous").id
    process = Process(args, log, log.parent / "workspaces")
    processes.append(process)
    wait_for(lambda: events_of(store, cut, "tool_result"), PATIENCE, "the run to make progress")
    return process, cut, queued


def assert_up_having_said_once(process: Process, line: str) -> str:
    """The process is still up, said `line` once and showed no traceback; its log."""
    log = process.text()
    assert process.alive(), log[-3000:]
    assert log.count(line) == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    return log
