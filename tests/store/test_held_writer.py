"""A SQLite store's driver-path writes keep one connection (storage/held_writer.py), so its page
cache stays warm between them. What must not change with it: a write by anyone else in between
(a Core transaction, another process) is seen by the next one; a lost connection is never kept;
a disposed engine (after a fault) gets a fresh connection and the old one is closed; the store's
dispose gives it back; a forked child never touches the parent's; writers on many threads still
take contiguous seqs. Which connection ran what is read from SQLite's own trace."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

import storage
from storage.driver_sql import driver_transaction
from storage.engine import writing
from storage.events import next_seq
from storage.held_writer import HeldWriter
from storage.transient import is_transient
from tests.support.run_helpers import new_run

ROOT = Path(__file__).resolve().parents[2]


class Connections:
    """Which of the store's connections (opened from now on) wrote each guidance event."""

    def __init__(self, store: storage.Store) -> None:
        self.inserts: list[int] = []
        self.opened: list[sqlite3.Connection] = []
        event.listen(store.engine, "connect", self._traced)
        store.engine.dispose()  # the held one goes too: its pool was replaced

    def _traced(self, dbapi_connection, _record) -> None:
        key = len(self.opened)
        self.opened.append(dbapi_connection)
        dbapi_connection.set_trace_callback(lambda sql: self._saw(key, sql))

    def _saw(self, key: int, sql: str) -> None:
        if sql.startswith("INSERT INTO events") and "'guidance'" in sql:
            self.inserts.append(key)


def seqs(store: storage.Store, run_id: str) -> list[int]:
    return [e.seq for e in storage.events_after(store, run_id=run_id)]


def guidance(store: storage.Store, run_id: str, message: str) -> int:
    return storage.append_event(store, run_id=run_id, kind="guidance", payload={"message": message})


def closed(connection: sqlite3.Connection) -> bool:
    try:
        connection.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_the_driver_paths_writes_keep_one_connection(store):
    seen = Connections(store)
    runs = [new_run(store, f"run {n}", model="scripted") for n in range(3)]
    for n in range(12):
        guidance(store, runs[n % 3].id, f"step {n}")
    assert len(seen.inserts) == 12
    assert len(set(seen.inserts)) == 1  # one connection for all twelve


def test_writes_by_others_in_between_are_seen_by_the_next(store, tmp_path):
    run = new_run(store, "interleaved writers", model="scripted")
    assert guidance(store, run.id, "held 1") == 2  # the run's creation wrote seq 1
    storage.send_command(
        store, run_id=run.id, kind="guidance", payload={"message": "m"}, created_by="ann"
    )  # Core: no event
    with writing(store) as conn:  # a Core transaction on a pooled connection takes a seq
        seq = next_seq(conn, run.id)
        conn.execute(
            storage.Event.__table__.insert().values(
                run_id=run.id, seq=seq, kind="guidance", payload={"message": "core"}
            )
        )
    assert guidance(store, run.id, "held 2") == 4
    child = (
        "import storage, sys\n"
        "s = storage.open_store(sys.argv[1])\n"
        "print(storage.append_event(s, run_id=sys.argv[2], kind='guidance',"
        " payload={'message': 'other process'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child, store.url, run.id],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "5"
    assert guidance(store, run.id, "held 3") == 6
    assert seqs(store, run.id) == [1, 2, 3, 4, 5, 6]
    messages = [e.payload.get("message") for e in storage.events_after(store, run_id=run.id)]
    assert messages[1:] == ["held 1", "core", "held 2", "other process", "held 3"]


def test_usage_added_by_another_connection_is_added_to_not_overwritten(store):
    run = new_run(store, "usage from two paths", model="scripted")
    storage.append_event(
        store, run_id=run.id, kind="model_call", payload={"text": "a"}, usage={"tokens_in": 10}
    )
    storage.add_usage(store, run_id=run.id, tokens_in=5)  # Core, between two held writes
    storage.append_event(
        store, run_id=run.id, kind="model_call", payload={"text": "b"}, usage={"tokens_in": 7}
    )
    assert storage.get_run(store, run_id=run.id).tokens_in == 22


def test_a_lost_connection_is_not_kept(store):
    seen = Connections(store)
    run = new_run(store, "lost connection", model="scripted")
    guidance(store, run.id, "before")
    held = seen.opened[seen.inserts[-1]]
    held.close()  # gone underneath, as a connection the database dropped
    with pytest.raises(DBAPIError) as raised:
        guidance(store, run.id, "lost")
    assert raised.value.connection_invalidated and is_transient(raised.value)
    guidance(store, run.id, "after")  # on a fresh connection, not the dead one
    assert seen.inserts[-1] != seen.inserts[0]
    messages = [e.payload.get("message") for e in storage.events_after(store, run_id=run.id)]
    assert messages[1:] == ["before", "after"]


def test_a_disposed_engine_closes_the_held_connection_and_takes_a_fresh_one(store):
    seen = Connections(store)
    run = new_run(store, "after a fault", model="scripted")
    guidance(store, run.id, "first")
    first = seen.inserts[-1]
    store.engine.dispose()  # what recovery from a store fault does (storage.store_faults)
    guidance(store, run.id, "second")
    assert seen.inserts[-1] != first
    assert closed(seen.opened[first])
    assert seqs(store, run.id) == [1, 2, 3]


def test_the_stores_dispose_gives_the_held_connection_back(tmp_path):
    opened = storage.open_store(f"sqlite:///{tmp_path / 'dispose.db'}")
    seen = Connections(opened)
    run = new_run(opened, "disposed", model="scripted")
    guidance(opened, run.id, "written")
    held = seen.opened[seen.inserts[-1]]
    opened.dispose()
    assert closed(held)
    assert all(closed(connection) for connection in seen.opened)


def test_a_pragma_left_by_a_refused_durable_write_is_put_back_on_the_held_connection(store):
    run = new_run(store, "refused tool start", model="scripted")
    assert storage.claim_next_run(store, worker_id="w", lease_seconds=30) is not None
    storage.halt_run(store, run_id=run.id, by="ann")
    with pytest.raises(storage.HaltRequested):
        storage.begin_execution(store, run_id=run.id, tool="calculator", worker_id="w")
    with driver_transaction(store) as transaction:  # the held connection the refusal used
        assert transaction.rows(text("PRAGMA synchronous"), {}) == [(1,)]  # NORMAL again


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_writes_on_its_own_connection_and_leaves_the_parents_alone(store):
    seen = Connections(store)
    run = new_run(store, "forked", model="scripted")
    guidance(store, run.id, "parent before")
    parents = seen.opened[seen.inserts[-1]]
    pid = os.fork()
    if pid == 0:  # the child: its own connection, and never closes the parent's
        code = 1
        try:
            guidance(store, run.id, "child")
            store.dispose()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not closed(parents)
    guidance(store, run.id, "parent after")
    assert seen.inserts[-1] == seen.inserts[0]  # the parent still writes on its held connection
    messages = [e.payload.get("message") for e in storage.events_after(store, run_id=run.id)]
    assert messages[1:] == ["parent before", "child", "parent after"]


def test_many_threads_take_contiguous_seqs_through_the_held_connection(store):
    runs = [new_run(store, f"threaded {n}", model="scripted") for n in range(4)]
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(25):
                guidance(store, runs[(n + i) % 4].id, f"{n}-{i}")
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures
    for run in runs:
        assert seqs(store, run.id) == list(range(1, 102))  # creation + 100 each


class FakePooled:
    def __init__(self, name: str) -> None:
        self.name = name
        self.dbapi_connection: object | None = object()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_a_nested_write_in_the_holding_thread_gets_a_pooled_connection():
    pool = object()
    made: list[FakePooled] = []

    def checkout() -> FakePooled:
        made.append(FakePooled(f"c{len(made)}"))
        return made[-1]

    held = HeldWriter(threading.RLock(), lambda: pool)
    outer = held.take(checkout)
    inner = held.take(checkout)  # the outer transaction still uses the held one
    assert inner is not outer
    held.give_back(inner)
    assert inner.closed and not outer.closed  # the nested one back to the pool
    held.give_back(outer)
    assert held.take(checkout) is outer  # kept for the next write
    held.give_back(outer)
    outer.dbapi_connection = None  # invalidated after an error
    assert held.take(checkout) is not outer
