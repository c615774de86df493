"""`onloop worker --processes N`: N real worker processes share the runs under one supervisor."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

import storage
from agent_core.worker.supervisor import (
    ProcessesError,
    WorkerPool,
    cpu_count,
    parse_processes,
)
from tests.support.run_helpers import new_run, wait_for

GOAL = "What is 17.5% of 2,340, plus 118?"  # a demo goal that needs no approval
STARTED = re.compile(r"worker \S+-(\d+)-[0-9a-f]{6}: driving up to")


class Pool:
    """A `python -m agent_core worker --processes N` process, its output in a file."""

    def __init__(self, url: str, tmp: Path, *args: str, delay: str = "0.05") -> None:
        self.log = tmp / "pool.log"
        env = {**os.environ, "ONLOOP_DEMO_DELAY": delay, "ONLOOP_WORKSPACES": str(tmp / "ws")}
        env["ONLOOP_DATABASE_URL"] = url
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            env.pop(name, None)
        command = [sys.executable, "-m", "agent_core", "worker", "--poll-seconds", "0.1", *args]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                command, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
            )

    def text(self) -> str:
        return self.log.read_text()

    def child_pids(self) -> list[int]:
        return [int(pid) for pid in STARTED.findall(self.text())]

    def wait_started(self, count: int) -> list[int]:
        wait_for(lambda: len(self.child_pids()) >= count, 90, f"{count} worker processes up")
        return self.child_pids()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def pid_of(worker_id: str | None) -> int:
    return int(str(worker_id).rsplit("-", 2)[1])


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'onloop.db'}"
    return request.getfixturevalue("postgres_url")


def test_processes_values():
    assert parse_processes("3") == 3 and parse_processes(1) == 1
    assert parse_processes("auto") == cpu_count() == parse_processes("0")
    for bad in ("-1", "abc", "1.5", "", "257"):
        with pytest.raises(ProcessesError, match="--processes"):
            parse_processes(bad)


CHILD = """
import os, sys
from agent_core.worker.supervisor import SUPERVISOR_ENV, die_with_supervisor
os.environ[SUPERVISOR_ENV] = str(os.getppid() + int(sys.argv[1]))
die_with_supervisor()
print("stayed", SUPERVISOR_ENV in os.environ)
"""


def test_a_child_whose_supervisor_is_already_gone_leaves_at_once():
    # The supervisor died between starting the child and the child's PR_SET_PDEATHSIG: the
    # child's parent is no longer the pid it was given, so it must not go on driving runs.
    gone = subprocess.run([sys.executable, "-c", CHILD, "100000"], capture_output=True, text=True)
    assert gone.returncode == 1 and "supervisor that started this worker is gone" in gone.stderr
    assert "stayed" not in gone.stdout
    # Its real parent: it stays (and gets SIGTERM when that parent dies); the variable is not
    # passed on to the processes its runs start.
    kept = subprocess.run([sys.executable, "-c", CHILD, "0"], capture_output=True, text=True)
    assert kept.stdout.strip() == "stayed False", kept.stderr


@pytest.mark.parametrize("value", ["-1", "abc"])
def test_a_bad_processes_value_is_one_line(value, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "agent_core", "worker", "--processes", value],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: --processes") and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "onloop.db").exists()  # refused before anything was opened


def test_two_processes_share_the_runs_each_exactly_once(db_url, tmp_path):
    store = storage.open_store(db_url)
    pool = Pool(db_url, tmp_path, "--processes", "2", "--concurrency", "2", delay="0.2")
    seen: set[int] = set()  # the processes seen holding a run (a finished run names none)
    done = threading.Event()

    def watch() -> None:  # from before the first run is created: under load, creating twelve
        while not done.is_set():  # runs can take longer than driving them
            found = storage.list_runs(store, status="running", limit=20)
            seen.update(pid_of(r.worker_id) for r in found if r.worker_id)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        pids = pool.wait_started(2)
        watcher.start()
        runs = [new_run(store, GOAL).id for _ in range(12)]

        def all_done():
            found = storage.list_runs(store, limit=20)
            return all(r.status == "succeeded" for r in found)

        wait_for(all_done, 120, "12 runs succeeded")
    finally:
        done.set()
        if watcher.is_alive():
            watcher.join(10)
        assert pool.stop() == 0, pool.text()
    assert seen == set(pids) and len(pids) == 2  # both processes drove some
    for run_id in runs:
        assert storage.get_run(store, run_id=run_id).claim_epoch == 1  # claimed exactly once
        started = [e for e in storage.events_after(store, run_id=run_id) if e.kind == "run_started"]
        assert len(started) == 1  # and driven once
    assert not any(alive(pid) for pid in pids)
    store.dispose()


def test_sigterm_stops_the_children_and_leaves_no_run_running(tmp_path):
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    store = storage.open_store(url)
    pool = Pool(url, tmp_path, "--processes", "2", "--concurrency", "2", delay="0.5")
    pids = pool.wait_started(2)
    runs = [new_run(store, GOAL).id for _ in range(8)]

    def busy_in_both():
        found = storage.list_runs(store, status="running", limit=20)
        return len({pid_of(r.worker_id) for r in found}) == 2

    wait_for(busy_in_both, 60, "both processes driving a run")
    assert pool.stop() == 0, pool.text()
    statuses = Counter(storage.get_run(store, run_id=r).status for r in runs)
    assert set(statuses) <= {"queued", "succeeded"}, statuses  # a clean stop queues them again
    assert statuses["queued"] >= 2
    assert not any(alive(pid) for pid in pids)
    assert "worker pool stopped" in pool.text()
    store.dispose()


def test_a_killed_child_is_restarted_and_its_runs_recovered(tmp_path):
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    store = storage.open_store(url)
    pool = Pool(
        url, tmp_path, "--processes", "2", "--concurrency", "1", "--lease-seconds", "2", delay="0.4"
    )
    try:
        first = pool.wait_started(2)
        runs = [new_run(store, GOAL).id for _ in range(4)]
        held = wait_for(lambda: storage.list_runs(store, status="running", limit=10), 60, "a run")
        victim = pid_of(held[0].worker_id)
        os.kill(victim, signal.SIGKILL)
        pool.wait_started(3)  # a new process took the dead one's place
        assert "was killed by SIGKILL" in pool.text()

        def all_done():
            return all(storage.get_run(store, run_id=r).status == "succeeded" for r in runs)

        wait_for(all_done, 120, "every run succeeded, the killed one's too")
    finally:
        assert pool.stop() == 0, pool.text()
    lost = storage.get_run(store, run_id=held[0].id)
    assert lost.status == "succeeded" and lost.claim_epoch >= 2  # claimed again after the kill
    assert set(first) - {victim} <= set(pool.child_pids())
    store.dispose()


def test_children_die_with_a_killed_supervisor(tmp_path):
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    pool = Pool(url, tmp_path, "--processes", "2")
    pids = pool.wait_started(2)
    pool.process.kill()
    pool.process.wait(30)
    assert wait_for(lambda: not any(alive(pid) for pid in pids), 60, "no orphan worker")


def test_a_bad_option_is_refused_once_before_any_process_starts(tmp_path):
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    pool = Pool(url, tmp_path, "--processes", "2", "--max-retries", "99")
    assert pool.process.wait(60) == 2
    assert pool.text().strip() == "error: --max-retries must be between 0 and 10"


def test_a_child_that_cannot_start_stops_the_pool():
    # Exit 2 is a user error (an option, a policy file): restarting would fail the same way.
    pool = WorkerPool([sys.executable, "-c", "raise SystemExit(2)"], 2, check_s=0.05)
    assert pool.serve() == 2 and "could not start (exit 2)" in str(pool.gave_up)


def test_a_crashing_child_is_started_again_with_backoff():
    stop = threading.Event()
    pool = WorkerPool([sys.executable, "-c", "raise SystemExit(1)"], 1, stop=stop, check_s=0.05)
    child = pool.children[0]
    server = threading.Thread(target=pool.serve)
    server.start()
    try:
        wait_for(lambda: child.starts >= 3, 60, "two restarts")
    finally:
        stop.set()
        server.join(60)
    assert child.failures >= 2 and pool.gave_up is None
    assert [c.process.pid for c in pool.children if c.process and c.process.poll() is None] == []


def test_up_with_two_processes_serves_the_dashboard_and_shares_the_runs(tmp_path):
    db = tmp_path / "onloop.db"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "up.log"
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0.2", "ONLOOP_WORKSPACES": str(tmp_path / "ws")}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ONLOOP_DATABASE_URL", "ONLOOP_AUTH"):
        env.pop(name, None)
    command = [sys.executable, "-m", "agent_core", "up", "--port", str(port), "--db", str(db)]
    with log.open("w") as out:
        up = subprocess.Popen(
            [*command, "--processes", "2"], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
    try:
        wait_for(lambda: len(STARTED.findall(log.read_text())) == 2, 120, "two worker processes")
        wait_for(lambda: "onloop is up" in log.read_text(), 120, "the dashboard")
        assert "workers: 2 processes, each driving up to 2 runs" in log.read_text()
        store = storage.open_store(f"sqlite:///{db}")
        runs = [new_run(store, GOAL).id for _ in range(4)]
        done = lambda: all(storage.get_run(store, run_id=r).status == "succeeded" for r in runs)  # noqa: E731
        wait_for(done, 120, "the runs succeeded")
        store.dispose()
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(60)
    assert code == 0, log.read_text()
    assert not any(alive(int(pid)) for pid in STARTED.findall(log.read_text()))
