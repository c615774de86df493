"""Durable where it counts (storage/durability.py), shown structurally: SQLite's own trace of
every statement says which transactions ran with `synchronous = FULL` (an fsync of the WAL at
COMMIT): a tool's start, a decision and a halt do, an ordinary step does not. A child process
killed right after committing `tool_started` leaves the event there (a process crash; power loss
is what FULL adds, and no test here can pull the plug). PostgreSQL: a durable transaction runs
with synchronous_commit on even on a server that has it off (the test cluster does)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event, text

import storage
from storage.driver_sql import driver_transaction
from storage.durability import SQLITE_SYNC, SYNCHRONOUS_ENV
from storage.engine import write_session, writing
from tests.support.dashboard_fixtures import request_approval
from tests.support.run_helpers import new_run

FULL, NORMAL = 2, 1


class Transactions:
    """Every write transaction on the store's connections: its statements and the synchronous
    pragma in force at its COMMIT, followed from SQLite's trace of what each connection ran."""

    def __init__(self, store: storage.Store) -> None:
        self.done: list[tuple[str, list[str]]] = []
        self._open: dict[int, list[str]] = {}
        self._mode: dict[int, str] = {}
        event.listen(store.engine, "connect", self._traced)
        store.engine.dispose()  # connections opened from now on are traced from their start

    def _traced(self, dbapi_connection, record) -> None:
        key = id(dbapi_connection)
        self._mode[key] = record.info[SQLITE_SYNC]  # set on connect, before this trace began
        dbapi_connection.set_trace_callback(lambda sql: self._saw(key, sql))

    def _saw(self, key: int, sql: str) -> None:
        words = sql.split()
        if words[:2] == ["PRAGMA", "synchronous"] and "=" in words:
            self._mode[key] = words[-1]
        elif sql.startswith("BEGIN IMMEDIATE"):
            self._open[key] = []
        elif key in self._open:
            if sql in ("COMMIT", "ROLLBACK"):
                self.done.append((self._mode[key] if sql == "COMMIT" else sql, self._open.pop(key)))
            else:
                self._open[key].append(sql)

    def modes_of(self, needle: str) -> list[str]:
        """The pragma at COMMIT of each committed transaction with a statement containing it."""
        return [mode for mode, sqls in self.done if any(needle in sql for sql in sqls)]


def running_run(store: storage.Store, goal: str) -> storage.Run:
    run = new_run(store, goal, model="scripted")
    claimed = storage.claim_next_run(store, worker_id="w", lease_seconds=30)
    assert claimed is not None and claimed.id == run.id
    return run


def test_tool_starts_decisions_and_halts_commit_with_full_and_a_step_with_normal(store):
    seen = Transactions(store)
    run = running_run(store, "durable where it counts")
    storage.append_event(store, run_id=run.id, kind="model_call", payload={"text": "ordinary"})
    storage.begin_execution(store, run_id=run.id, tool="calculator", worker_id="w")
    approval = request_approval(store, run.id)
    storage.decide_approval(store, approval_id=approval.id, decision="approved", decided_by="ann")
    storage.halt_run(store, run_id=run.id, by="ann")  # running: a halt command
    queued = new_run(store, "halted while queued", model="scripted")
    storage.halt_run(store, run_id=queued.id, by="bob")  # queued: halted at once
    paused = new_run(store, "halted by a command", model="scripted")
    storage.send_command(store, run_id=paused.id, kind="halt", created_by="cy")

    assert seen.modes_of("'tool_started'") == ["FULL"]
    assert seen.modes_of("SET status='approved'") == ["FULL"]
    assert seen.modes_of("'halt_requested'") == ["FULL"]
    assert seen.modes_of("status='halted'") == ["FULL"]
    assert seen.modes_of("INSERT INTO commands") == ["FULL", "FULL"]  # both halt commands
    # The rest stays NORMAL: the run's creation, its claim, an ordinary step, the request.
    assert seen.modes_of("'model_call'") == ["NORMAL"]
    assert seen.modes_of("INSERT INTO runs") == ["NORMAL", "NORMAL", "NORMAL"]
    assert seen.modes_of("INSERT INTO approvals") == ["NORMAL"]
    assert [mode for mode, _ in seen.done].count("FULL") == 5  # no other transaction pays


def test_a_refused_tool_start_rolls_back_and_its_connection_returns_to_normal(store):
    seen = Transactions(store)
    run = running_run(store, "refused")
    storage.halt_run(store, run_id=run.id, by="ann")
    with pytest.raises(storage.HaltRequested):
        storage.begin_execution(store, run_id=run.id, tool="calculator", worker_id="w")
    assert ("ROLLBACK", seen.done[-1][1]) == seen.done[-1]
    with driver_transaction(store) as transaction:  # the held connection the refusal used
        assert transaction.rows(text("PRAGMA synchronous"), {}) == [(NORMAL,)]
    with writing(store) as conn:  # and a pooled one
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == NORMAL


def test_the_pragma_read_back_inside_each_kind_of_transaction(store):
    with writing(store, durable=True) as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == FULL
    with write_session(store, durable=True) as session:
        assert session.connection().exec_driver_sql("PRAGMA synchronous").scalar() == FULL
    with driver_transaction(store, durable=True) as transaction:
        assert transaction.rows(text("PRAGMA synchronous"), {}) == [(FULL,)]
    with writing(store) as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == NORMAL
    with driver_transaction(store) as transaction:
        assert transaction.rows(text("PRAGMA synchronous"), {}) == [(NORMAL,)]


def test_full_throughout_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv(SYNCHRONOUS_ENV, "full")
    with storage.open_store(f"sqlite:///{tmp_path / 'full.db'}") as store:
        seen = Transactions(store)
        run = running_run(store, "every commit fsynced")
        storage.begin_execution(store, run_id=run.id, tool="calculator", worker_id="w")
        with writing(store) as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == FULL
        assert {mode for mode, _ in seen.done} == {"FULL"}


def test_an_unknown_synchronous_mode_is_refused_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(SYNCHRONOUS_ENV, "sometimes")
    with pytest.raises(storage.StoreError) as refused:
        storage.open_store(f"sqlite:///{tmp_path / 'x.db'}")
    assert "ONLOOP_SQLITE_SYNCHRONOUS='sometimes'" in str(refused.value)
    assert "'normal'" in str(refused.value) and "'full'" in str(refused.value)


CHILD = """
import os, sys, time
import storage
store = storage.open_store(sys.argv[1])
claimed = storage.claim_next_run(store, worker_id="w", lease_seconds=30)
seq = storage.begin_execution(store, run_id=claimed.id, tool="calculator", worker_id="w")
print(seq, flush=True)
time.sleep(60)  # the tool's effect would start here; the parent kills this process first
"""


def test_tool_started_survives_a_kill_right_after_its_commit(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    with storage.open_store(url) as store:
        run = new_run(store, "killed before the effect", model="scripted")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    seq = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    with storage.open_store(url) as store:
        kinds = {e.seq: e.kind for e in storage.events_after(store, run_id=run.id)}
    assert kinds[seq] == "tool_started"


@pytest.mark.postgres
def test_postgres_durable_transactions_run_with_synchronous_commit_on(postgres_url):
    with storage.open_store(postgres_url) as store:

        def shown(conn) -> str:
            return conn.exec_driver_sql("SHOW synchronous_commit").scalar()

        with writing(store) as conn:
            assert shown(conn) == "off"  # the test cluster's setting (fast, not durable)
        with writing(store, durable=True) as conn:
            assert shown(conn) == "on"
        with write_session(store, durable=True) as session:
            assert shown(session.connection()) == "on"
        with driver_transaction(store, durable=True) as transaction:
            assert transaction.rows(text("SHOW synchronous_commit"), {}) == [("on",)]
        with driver_transaction(store) as transaction:  # SET LOCAL: gone with its transaction
            assert transaction.rows(text("SHOW synchronous_commit"), {}) == [("off",)]
