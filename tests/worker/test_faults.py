"""Real worker processes under the faults of a multi-machine deployment: a worker killed (kill -9)
or stalled (SIGSTOP) past its lease, a database server restarted under load, backends
terminated. Each asserts outcomes and invariants, never durations: workers survive, runs finish
without a person where the step in flight is safe to repeat, a stale worker changes nothing, and
every run's events are contiguous with one final answer."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import storage
from agent_core.oversight.policy import Policy
from storage.transient import retrying
from tests.support.postgres_server import PostgresServer, start_server, stop_server
from tests.support.run_helpers import events_of, new_run, wait_for

GOAL = "Summarise the files in the workspace into report.md"
# The demo's tools write only the run's own workspace, so every call is safe to repeat here.
REPEATABLE = Policy(repeat_on_recovery=["*"])
PATIENCE = 180.0  # generous bounds for a loaded machine; never a timing assertion


class WorkerProcess:
    """`onloop worker` in a process of its own; its log in a file the test can read."""

    def __init__(self, url: str, log: Path, *, lease: float = 2.0, concurrency: int = 1) -> None:
        self.log = log
        env = {**os.environ, "ONLOOP_DEMO_DELAY": "0.2"}
        command = [sys.executable, "-m", "agent_core", "worker", "--db", url]
        command += ["--concurrency", str(concurrency), "--lease-seconds", str(lease)]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)

    def said(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def end(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.end()


def _assert_whole(store: storage.Store, run_id: str) -> None:
    """No event lost or duplicated: seqs 1..last_seq, one final answer, the run succeeded."""
    run = storage.get_run(store, run_id=run_id)
    seqs = [e.seq for e in storage.events_after(store, run_id=run_id)]
    assert seqs == list(range(1, run.last_seq + 1))
    assert run.status == "succeeded", (run.status, run.reason)
    assert len(events_of(store, run_id, "final_answer")) == 1
    statuses = [e.payload["status"] for e in events_of(store, run_id, "status")]
    assert "failed" not in statuses


def _snapshot(store: storage.Store, run_id: str):
    events = [(e.seq, e.kind, e.payload) for e in storage.events_after(store, run_id=run_id)]
    return events, storage.get_run(store, run_id=run_id).model_dump()


def test_a_killed_workers_run_resumes_by_itself(any_store, tmp_path, workers):
    run = new_run(any_store, GOAL, model="demo", autonomy="autonomous", policy=REPEATABLE)
    first = WorkerProcess(any_store.url, tmp_path / "first.log")
    workers.append(first)
    wait_for(lambda: events_of(any_store, run.id, "tool_result"), PATIENCE, "progress")
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(30)
    second = WorkerProcess(any_store.url, tmp_path / "second.log")
    workers.append(second)
    wait_for(
        lambda: storage.get_run(any_store, run_id=run.id).status == "succeeded",
        PATIENCE,
        "the run to finish without a person",
    )
    assert events_of(any_store, run.id, "recovered")
    assert not storage.decisions(any_store, run_id=run.id)
    _assert_whole(any_store, run.id)


def test_a_worker_stalled_past_its_lease_changes_nothing_when_it_comes_back(
    postgres_server, postgres_url, tmp_path, workers
):
    """SIGSTOP then SIGCONT. A transaction the stalled worker held open is ended by the server
    (idle_in_transaction_session_timeout, as the README advises), so it blocks nobody."""
    database = postgres_url.rsplit("/", 1)[1]
    postgres_server.admin(
        f"ALTER DATABASE {database} SET idle_in_transaction_session_timeout = '3s'"
    )
    store = storage.open_store(postgres_url)
    try:
        run = new_run(store, GOAL, model="demo", autonomy="autonomous", policy=REPEATABLE)
        stale = WorkerProcess(postgres_url, tmp_path / "stale.log")
        workers.append(stale)
        wait_for(lambda: events_of(store, run.id, "tool_result"), PATIENCE, "progress")
        stale.process.send_signal(signal.SIGSTOP)
        fresh = WorkerProcess(postgres_url, tmp_path / "fresh.log")
        workers.append(fresh)
        wait_for(
            lambda: storage.get_run(store, run_id=run.id).status == "succeeded",
            PATIENCE,
            "another worker to finish the run",
        )
        finished = _snapshot(store, run.id)
        stale.process.send_signal(signal.SIGCONT)
        wait_for(
            lambda: stale.said(f"run {run.id}: this worker's session ended"),
            PATIENCE,
            "the stalled worker to notice it lost the run",
        )
        stale.end()
        assert _snapshot(store, run.id) == finished
        assert events_of(store, run.id, "recovered")
        _assert_whole(store, run.id)
    finally:
        store.dispose()


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this module's own: the tests stop and start it."""
    server, root = start_server()
    try:
        yield server
    finally:
        stop_server(server, root)


def _restart(server: PostgresServer, stopped_while) -> None:
    server.run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(server.data))
    try:
        stopped_while()
    finally:
        root = server.data.parent
        options = (
            f"-h 127.0.0.1 -p {server.port} -k {root} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        log = str(root / "server.log")
        server.run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(server.data), "-l", log, "-o", options
        )


def _terminate_backends(server: PostgresServer, database: str) -> None:
    server.admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )


def test_workers_ride_out_a_server_restart_and_terminated_backends(
    own_postgres, tmp_path, workers, monkeypatch
):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    database = own_postgres.create_database()
    url = own_postgres.url(database)
    store = storage.open_store(url)
    try:
        runs = [
            new_run(store, GOAL, model="demo", autonomy="autonomous", policy=REPEATABLE)
            for _ in range(6)
        ]
        for name in ("a", "b"):
            workers.append(WorkerProcess(url, tmp_path / f"{name}.log", lease=3.0, concurrency=2))

        def progress() -> int:
            # This reader's own connection is ended with the workers' backends: it reads again,
            # as the dashboard's next refresh does (a connection is pinged only after lying idle,
            # storage/pool_ping.py, so one used a moment ago fails its next statement once).
            return retrying(
                lambda: sum(len(events_of(store, r.id, "tool_result")) for r in runs),
                what="the test's read",
                log=logging.getLogger("tests"),
            )

        wait_for(lambda: progress() >= 2, PATIENCE, "the workers to make progress")
        _restart(
            own_postgres,
            lambda: wait_for(
                lambda: all(w.said("waiting for the database") for w in workers),
                PATIENCE,
                "both workers to say they wait for the database",
            ),
        )
        for _ in range(3):
            before = progress()
            wait_for(lambda seen=before: progress() > seen, PATIENCE, "more progress")
            _terminate_backends(own_postgres, database)
        wait_for(
            lambda: (
                retrying(
                    lambda: storage.count_runs(store, status="succeeded"),
                    what="the test's read",
                    log=logging.getLogger("tests"),
                )
                == len(runs)
            ),
            PATIENCE,
            "every run to finish without a person",
        )
        assert all(w.alive() for w in workers)
        for run in runs:
            _assert_whole(store, run.id)
        for worker in workers:  # nothing was treated as a bug of the run or the worker
            assert not worker.said("could not be driven") and not worker.said("crashed")
            assert not worker.said("Traceback")
    finally:
        store.dispose()
