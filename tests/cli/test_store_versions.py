"""A newer onloop's store, met by today's processes: each refuses in one line naming both
versions and the fix (exit 3, never a traceback), and a running worker stops claiming."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import storage
from tests.support.store_versions import NEWER, record_newer_version

NEWER_STORE_EXIT = 3


def _onloop(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0"}
    env.pop("ONLOOP_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "agent_core", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _refused(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == NEWER_STORE_EXIT, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    line = done.stderr.strip()
    assert line.count("\n") == 0 and line.startswith("error: the store at ")
    assert f"schema version {NEWER}, newer than this onloop (schema version " in line
    assert f"{storage.SCHEMA_VERSION})" in line and "upgrade onloop" in line


def test_every_command_refuses_a_store_a_newer_onloop_migrated(tmp_path):
    db = tmp_path / "onloop.db"
    with storage.open_store(str(db)) as store:
        storage.create_run(store, goal="left for a newer worker")
        record_newer_version(store)
    for command in (
        ["runs", "--db", str(db)],
        ["worker", "--db", str(db)],
        ["up", "--db", str(db), "--port", "1"],  # refused before it binds anything
        ["run", "What is 2 + 2?", "--db", str(db)],
    ):
        _refused(_onloop(*command, cwd=tmp_path))
    assert _statuses(db) == [("queued", None)]  # nothing claimed, nothing written


def _statuses(db: Path) -> list[tuple[str, str | None]]:
    with closing(sqlite3.connect(db)) as conn:  # our code refuses to open it: read it raw
        return conn.execute("SELECT status, worker_id FROM runs ORDER BY created_at").fetchall()


def test_a_running_worker_stops_claiming_when_a_newer_onloop_migrates_the_store(tmp_path):
    db = tmp_path / "onloop.db"
    store = storage.open_store(str(db))
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0"}
    env.pop("ONLOOP_DATABASE_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "worker", "--db", str(db)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().startswith("worker ")  # up and claiming
        record_newer_version(store)  # the next release opened the store meanwhile
        storage.create_run(store, goal="for a worker of the newer release")
        _, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        store.dispose()
    _refused(subprocess.CompletedProcess(worker.args, worker.returncode, "", err))
    assert _statuses(db) == [("queued", None)]
