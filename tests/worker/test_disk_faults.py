"""A full disk under a running worker and `onloop up`: they stay up, say once what is wrong and
how to fix it, claim nothing while they cannot write, and once there is room again end the
sessions the disk cut off `interrupted` (resumable, the reason saying why) and claim again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import storage
from storage.vocabulary import DRIVEN
from tests.support.run_helpers import events_of, new_run, wait_for
from tests.support.small_disk import fill, small_disk

GOAL = "Summarise the files in the workspace into report.md"
PATIENCE = 90.0  # generous bounds for a loaded machine; never a timing assertion
FULL_LINE = "the store's disk is full"
STEP_S = "1.0"  # a demo step: the run has steps left when the disk fills after its first
pytestmark = pytest.mark.timeout(400)


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
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk") as folder:
        yield folder


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.end()


def _status(store: storage.Store, run_id: str) -> str:
    return storage.get_run(store, run_id=run_id).status


def _no_run_driven_without_a_lease(store: storage.Store) -> None:
    for run in storage.list_runs(store, limit=100):
        if run.status in DRIVEN:
            assert run.worker_id and run.lease_expires_at, (run.id, run.status)


def _through_a_full_disk(store, disk: Path, proc: Process, cut: str, queued: str) -> None:
    """Fill the disk under run `cut` (driven), with run `queued` waiting for a slot."""
    wait_for(lambda: events_of(store, cut, "tool_result"), PATIENCE, "the run to make progress")
    filler = fill(disk)
    try:
        wait_for(lambda: FULL_LINE in proc.text(), PATIENCE, "the one line about the disk")
        # The disk stays full until the run's own thread has met it (between two demo steps):
        # freed as soon as the poll met it, the run would go on untouched, rightly.
        wait_for(lambda: f"run {cut}: cut off" in proc.text(), PATIENCE, "the run to be cut off")
        assert proc.alive(), proc.text()[-3000:]
        assert _status(store, queued) == "queued"  # nothing is claimed while the disk is full
    finally:
        filler.unlink()
    try:
        wait_for(lambda: _status(store, cut) == "interrupted", PATIENCE, "the cut run to end")
    except AssertionError:
        run = storage.get_run(store, run_id=cut)
        raise AssertionError(f"{run.status} ({run.reason}); log:\n{proc.text()[-4000:]}") from None
    run = storage.get_run(store, run_id=cut)
    assert "disk" in (run.reason or "") and "full" in (run.reason or ""), run.reason
    assert run.worker_id is None  # released: resumable by `onloop resume`
    wait_for(lambda: _status(store, queued) == "succeeded", PATIENCE, "the next claim")
    assert proc.alive()
    log = proc.text()
    assert log.count(FULL_LINE) == 1, log[-3000:]
    assert "free space on" in log and "retries every" in log
    assert "Traceback" not in log, log[-3000:]
    _no_run_driven_without_a_lease(store)


def test_a_full_disk_leaves_the_worker_up_and_ends_the_cut_sessions_interrupted(
    disk, tmp_path, processes
):
    store = storage.open_store(f"sqlite:///{disk / 'onloop.db'}")
    try:
        cut = new_run(store, GOAL, model="demo", autonomy="autonomous")
        queued = new_run(store, GOAL, model="demo", autonomy="autonomous")
        args = ["worker", "--db", store.url, "--concurrency", "1", "--lease-seconds", "3"]
        worker = Process(args, tmp_path / "worker.log", tmp_path / "workspaces")
        processes.append(worker)
        _through_a_full_disk(store, disk, worker, cut.id, queued.id)
    finally:
        store.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_onloop_up_stays_up_through_a_full_disk(disk, tmp_path, processes):
    store = storage.open_store(f"sqlite:///{disk / 'onloop.db'}")
    try:
        cut = new_run(store, GOAL, model="demo", autonomy="autonomous")
        queued = new_run(store, GOAL, model="demo", autonomy="autonomous")
        args = ["up", "--db", store.url, "--port", str(_free_port()), "--concurrency", "1"]
        up = Process(args, tmp_path / "up.log", tmp_path / "workspaces")
        processes.append(up)
        _through_a_full_disk(store, disk, up, cut.id, queued.id)
        assert "onloop stopped" not in up.text()
    finally:
        store.dispose()
