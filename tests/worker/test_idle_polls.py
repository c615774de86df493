"""A worker's polls write only when there is something to write: with free slots and nothing
queued, or with every lease current, a poll reads (what is queued, what lapsed) and writes
nothing, so idle workers do not take SQLite's write lock twice a second each. A queued run is
still claimed and a lapsed lease still ended. Structural (the statements counted), on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import storage
from agent_core.worker.claim_loop import Worker
from storage.models import utcnow
from tests.support.run_helpers import new_run, wait_for
from tests.support.statements import StatementCounter

WRITES = ("INSERT", "UPDATE", "DELETE")


def _writes(counter: StatementCounter) -> dict[str, int]:
    return {k: n for k, n in counter.counts.items() if k.startswith(WRITES)}


def _polls(worker: Worker, n: int) -> None:
    """`n` whole polls of the worker's own loop, on this thread."""
    for _ in range(n):
        worker._poll()


def test_idle_polls_write_nothing(any_store):
    worker = Worker(any_store, concurrency=4, poll_s=0.05)
    with StatementCounter(any_store) as counter:
        _polls(worker, 10)
    assert _writes(counter) == {}
    assert counter.counts["SELECT runs"] >= 10  # it did look: what is queued, what lapsed


def test_idle_polls_never_take_sqlites_write_lock(store):
    running = new_run(store, "driven, its lease current", model="demo")
    assert storage.claim_run(store, run_id=running.id, worker_id="busy", lease_seconds=60)
    worker = Worker(store, concurrency=4, poll_s=0.05)
    with StatementCounter(store) as counter:
        _polls(worker, 10)
    locks = {sql: n for sql, n in counter.texts().items() if sql.upper().startswith("BEGIN")}
    assert not any("IMMEDIATE" in sql.upper() for sql in locks), locks


def test_a_queued_run_is_still_claimed_and_a_lapsed_lease_still_ended(any_store):
    stale = new_run(any_store, "driven by a worker that died", model="demo")
    assert storage.claim_run(any_store, run_id=stale.id, worker_id="gone", lease_seconds=30)
    queued = new_run(any_store, "waiting for a worker", model="demo")
    later = utcnow() + timedelta(seconds=60)
    assert storage.expire_leases(any_store, now=utcnow()) == []  # current: read, nothing ended
    assert storage.expire_leases(any_store, now=later) == [stale.id]
    assert storage.get_run(any_store, run_id=stale.id).status == "interrupted"
    worker = Worker(any_store, concurrency=1, poll_s=0.05)
    stop = threading.Event()
    worker.stop = stop
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: storage.get_run(any_store, run_id=queued.id).status != "queued",
            timeout=30,
            what="the queued run to be claimed",
        )
    finally:
        stop.set()
        thread.join(30)
    assert storage.get_run(any_store, run_id=queued.id).worker_id in (None, worker.worker_id)


def _full(worker: Worker, store: storage.Store, done: threading.Event) -> None:
    """The worker's one slot taken by a run it drives (a thread waiting for `done` stands in
    for the run's own)."""
    run = new_run(store, "driven", model="demo")
    assert storage.claim_run(store, run_id=run.id, worker_id=worker.worker_id, lease_seconds=60)
    thread = threading.Thread(target=done.wait, daemon=True)
    thread.start()
    worker._active[run.id] = (thread, threading.Event(), 1)


def test_a_full_worker_with_nothing_queued_does_not_read_its_runs_statuses(any_store, monkeypatch):
    """The room (every active run's status, one read of them all) is asked only when a run is
    queued: a full worker's tenth-of-a-second looks are one indexed read each."""
    worker = Worker(any_store, concurrency=1, poll_s=0.35)
    done = threading.Event()
    _full(worker, any_store, done)
    asked: list[int] = []
    real = storage.run_statuses
    monkeypatch.setattr(
        storage,
        "run_statuses",
        lambda store, run_ids: asked.append(1) or real(store, run_ids=run_ids),
    )
    worker._poll()
    worker._idle()
    assert asked == []
    queued = new_run(any_store, "waiting for a slot", model="demo")
    worker._poll()
    assert asked  # a run waits: the room is read, and it is full
    assert storage.get_run(any_store, run_id=queued.id).status == "queued"
    done.set()
