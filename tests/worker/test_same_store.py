"""The store is the same store: a worker notices its SQLite file deleted or replaced under it and
stops, saying so, and claims nothing from a file that replaced the one it started with."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

import storage
from tests.support.run_helpers import new_run, wait_for
from tests.worker.test_supervisor import STARTED, Pool, alive

GOAL = "What is 17.5% of 2,340, plus 118?"  # a demo goal that needs no approval
STORE_CHANGED_EXIT = 4


def checkpoint(db: Path) -> None:
    """Fold the write-ahead log into the file, so the file alone is the store (as `cp` takes it)."""
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_worker_opens_no_new_connection_to_a_file_that_is_not_its_store(how, tmp_path):
    """The race behind "no such table: runs" mid-step: a run thread's next write took a new
    pooled connection after `rm onloop.db`, which created an empty store at the path."""
    from agent_core.worker.claim_loop import Worker

    db = tmp_path / "onloop.db"
    store = storage.open_store(f"sqlite:///{db}")
    run = new_run(store, GOAL)
    Worker(store, concurrency=1)
    store.engine.dispose()  # the pool is empty: the next statement needs a new connection
    if how == "deleted":
        db.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    else:
        other = tmp_path / "other.db"
        storage.open_store(f"sqlite:///{other}").dispose()
        os.replace(other, db)
    with pytest.raises(storage.StoreChanged, match=how):
        storage.get_run(store, run_id=run.id)
    assert db.exists() == (how == "replaced")  # no empty store was created where it was deleted
    store.dispose()


def test_a_deleted_store_stops_the_worker_with_one_line(tmp_path):
    db = tmp_path / "onloop.db"
    url = f"sqlite:///{db}"
    store = storage.open_store(url)
    pool = Pool(url, tmp_path, "--concurrency", "1", delay="1")  # a run still going
    pool.wait_started(1)
    run = new_run(store, GOAL)
    wait_for(lambda: storage.get_run(store, run_id=run.id).status == "running", 60, "a run")
    store.dispose()
    db.unlink()  # what `rm onloop.db` does; the worker's connections keep the file open
    assert pool.process.wait(60) == STORE_CHANGED_EXIT, pool.text()
    text = pool.text()
    assert "Traceback" not in text, text
    [line] = error_lines(text)
    assert f"the store at {db} was deleted while this worker was using it" in line
    assert "stopped claiming runs" in line and "operations.md" in line


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_replaced_store_is_not_claimed_from(processes, tmp_path):
    db = tmp_path / "onloop.db"
    url = f"sqlite:///{db}"
    storage.open_store(url).dispose()
    pool = Pool(url, tmp_path, "--processes", processes, "--concurrency", "1")
    pids = pool.wait_started(int(processes))
    # Another store, with a run queued in it, moved into place under the running worker.
    other = tmp_path / "other.db"
    with storage.open_store(f"sqlite:///{other}") as elsewhere:
        queued = new_run(elsewhere, GOAL).id
    checkpoint(db)
    os.replace(other, db)
    code = pool.process.wait(90)
    text = pool.text()
    assert code == STORE_CHANGED_EXIT, text
    assert "Traceback" not in text, text
    assert any(
        f"the store at {db} was replaced by another file" in line for line in error_lines(text)
    )
    assert wait_for(lambda: not any(alive(pid) for pid in pids), 60, "no worker left")
    with storage.open_store(url) as replaced:
        run = storage.get_run(replaced, run_id=queued)
        assert (run.status, run.worker_id, run.claim_epoch) == ("queued", None, 0)
        assert [e.kind for e in storage.events_after(replaced, run_id=queued)] == ["status"]


def test_a_pool_child_started_after_the_replacement_refuses_the_new_file(tmp_path):
    # The supervisor passes the identity of the store it opened to each child it (re)starts: a
    # child opening a file that replaced it stops at once, before any claim.
    db = tmp_path / "onloop.db"
    url = f"sqlite:///{db}"
    opened = storage.open_store(url)
    expected = storage.store_identity(opened).token()
    opened.dispose()
    other = tmp_path / "other.db"
    with storage.open_store(f"sqlite:///{other}") as elsewhere:
        queued = new_run(elsewhere, GOAL).id
    os.replace(other, db)
    env = {**os.environ, "ONLOOP_DATABASE_URL": url, storage.STORE_IDENTITY_ENV: expected}
    done = subprocess.run(
        [sys.executable, "-m", "agent_core", "worker", "--poll-seconds", "0.1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == STORE_CHANGED_EXIT, done.stdout + done.stderr
    assert f"the store at {db} was replaced by another file" in done.stderr
    assert not STARTED.search(done.stdout)
    with storage.open_store(url) as replaced:
        assert storage.get_run(replaced, run_id=queued).status == "queued"


def test_the_store_id_survives_reopening_and_differs_between_stores(tmp_path):
    first = storage.open_store(f"sqlite:///{tmp_path / 'a.db'}")
    again = storage.open_store(f"sqlite:///{tmp_path / 'a.db'}")
    other = storage.open_store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        assert storage.store_identity(first) == storage.store_identity(again)
        assert storage.store_identity(first) != storage.store_identity(other)
        storage.check_same_store(first)  # nothing changed: no error
    finally:
        for opened in (first, again, other):
            opened.dispose()


@pytest.mark.postgres
def test_a_database_created_anew_is_refused_at_the_claim(postgres_url):
    from sqlalchemy import create_engine, text

    store = storage.open_store(postgres_url)
    try:
        # Somebody drops everything and a fresh onloop creates the store again, a run queued.
        admin = create_engine(postgres_url)
        with admin.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        admin.dispose()
        with storage.open_store(postgres_url) as anew:
            queued = new_run(anew, GOAL).id
        with pytest.raises(storage.StoreChanged, match="created anew"):
            storage.claim_next_runs(store, worker_id="w-1", lease_seconds=30, limit=5)
        with storage.open_store(postgres_url) as anew:
            assert storage.get_run(anew, run_id=queued).status == "queued"
    finally:
        store.dispose()


def test_a_store_deleted_under_a_runs_read_stops_the_worker_not_the_run_as_a_crash(
    tmp_path, monkeypatch, caplog
):
    """Under load, the first to meet the deleted file may be a run's own read at a step boundary
    (a new pooled connection, refused by the same-file check), not the worker's poll: that is
    the store going away, for the worker to say once, never the run crashing with a traceback."""
    from agent_core.run.port import StoreRunPort
    from agent_core.worker.claim_loop import Worker, drive_run

    db = tmp_path / "onloop.db"
    store = storage.open_store(f"sqlite:///{db}")
    run = new_run(store, GOAL, model="demo")
    worker = Worker(store, concurrency=1)
    claimed = storage.claim_next_run(store, worker_id=worker.worker_id, lease_seconds=30)
    assert claimed is not None and claimed.id == run.id
    real = StoreRunPort.take_commands

    def deleted_first(self):
        db.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        store.engine.dispose()  # the next read needs a new connection
        return real(self)

    monkeypatch.setattr(StoreRunPort, "take_commands", deleted_first)
    with pytest.raises(storage.StoreChanged, match="deleted"):
        drive_run(store, claimed, model_factory=worker.model_factory)
    assert "crashed" not in caplog.text
    store.dispose()
