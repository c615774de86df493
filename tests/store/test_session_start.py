"""A session's start is one transaction: the `run_started` event, then the run marked driven with
its `status` event, refused whole as a step's start is (a halt waiting, the claim lost, the run
no longer driven); and what it writes is redacted like every other event."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

import storage
from agent_core.oversight import control
from agent_core.oversight.redact import redactor_for
from agent_core.run.port import StoreRunPort
from agent_core.worker.claim_loop import drive_run
from storage.record import RunStarted
from tests.support.dashboard_seed import make_approval
from tests.support.held_writes import kinds
from tests.support.statements import StatementCounter

SECRET = "sk-live-4f9c2a7e1b8d6053aa71c9e4"


def claimed(store: storage.Store, goal: str = "start me") -> storage.Run:
    run = storage.create_run(store, goal=goal, model="demo")
    taken = storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=60)
    assert taken is not None
    return taken


def start(store: storage.Store, run: storage.Run, status: str = "running", **fields) -> int:
    return storage.begin_session(
        store,
        run_id=run.id,
        started=RunStarted(goal=run.goal, model="demo").payload(),
        status=status,
        fence=storage.Fence("w", run.claim_epoch),
        **fields,
    )


def test_the_start_and_the_status_are_one_transaction_in_order(any_store):
    run = claimed(any_store)
    with StatementCounter(any_store) as counter:
        seq = start(any_store, run, model_name="bench-s5-l0")
    events = storage.events_after(any_store, run_id=run.id)
    assert [e.kind for e in events] == ["status", "run_started", "status"]
    assert events[-1].seq == seq and events[-1].payload["status"] == "running"
    stored = storage.get_run(any_store, run_id=run.id)
    assert (stored.status, stored.model_name, stored.last_seq) == ("running", "bench-s5-l0", seq)
    assert counter.counts["INSERT events"] == 1  # both events in one statement
    transactions = [t for t in counter.texts() if t.upper().startswith(("BEGIN", "COMMIT"))]
    if any_store.is_sqlite:  # psycopg opens its transaction without a statement
        assert counter.texts()["BEGIN IMMEDIATE"] == 1, transactions


def test_a_halt_waiting_refuses_the_whole_start(any_store):
    run = claimed(any_store)
    storage.send_command(any_store, run_id=run.id, kind="halt", created_by="ann")
    with pytest.raises(storage.HaltRequested):
        start(any_store, run, model_name="not-written")
    assert kinds(any_store, run.id) == ["status"]  # the queued one, nothing more
    assert storage.get_run(any_store, run_id=run.id).model_name == "demo"


def test_a_lost_claim_writes_nothing(any_store):
    run = claimed(any_store)
    assert storage.expire_leases(any_store, now=storage.utcnow() + timedelta(hours=1)) == [run.id]
    storage.requeue_run(any_store, run_id=run.id, expect_status="interrupted")
    again = storage.claim_run(any_store, run_id=run.id, worker_id="w", lease_seconds=60)
    assert again is not None and again.claim_epoch == run.claim_epoch + 1
    before = kinds(any_store, run.id)
    with pytest.raises(storage.LeaseLost):
        start(any_store, run)  # the old epoch: the same worker, another claim
    assert kinds(any_store, run.id) == before


def test_a_run_resumed_while_a_person_is_asked_starts_waiting(any_store):
    run = storage.create_run(any_store, goal="asks", model="demo")
    make_approval(any_store, run)
    taken = storage.claim_run(any_store, run_id=run.id, worker_id="w", lease_seconds=60)
    assert taken is not None and taken.status == "waiting"
    start(any_store, taken, status="waiting")
    assert storage.get_run(any_store, run_id=run.id).status == "waiting"
    with pytest.raises(storage.StoreError):
        start(any_store, taken, status="succeeded")  # a start only moves between driven ones


def test_the_port_redacts_what_the_start_writes(store, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SERVICE_API_KEY", SECRET)
    run = claimed(store, goal=f"use the key {SECRET} to call the API")
    port = StoreRunPort(store, run.id, worker_id="w", epoch=run.claim_epoch)
    port.redactor = redactor_for([])
    port.begin_session(
        RunStarted(goal=run.goal, model="demo"), "running", reason=None, model_name=SECRET
    )
    events = storage.events_after(store, run_id=run.id)
    assert SECRET not in repr([e.payload for e in events])
    assert "[redacted" in events[1].payload["goal"]
    assert SECRET not in (storage.get_run(store, run_id=run.id).model_name or "")


def test_a_worker_session_starts_in_one_write(store):
    """Driven by the worker: the queued status, then run_started and the running status with
    one commit between the claim and the first model request."""
    run = storage.create_run(store, goal="What is 2+2?", model="demo", autonomy="autonomous")
    taken = storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=60)
    assert taken is not None
    drive_run(store, taken)
    names = kinds(store, run.id)
    assert names[:4] == ["status", "run_started", "status", "model_request"]
    assert storage.get_run(store, run_id=run.id).status == "succeeded"


def test_halts_racing_session_starts_never_leave_half_a_start(any_store):
    """A person halts twenty runs at the moment their sessions start: each run has either both
    events of its start (and the halt waits for the session's end) or neither (the start was
    refused), never `run_started` without the run marked driven."""
    runs = [claimed(any_store, f"race {n}") for n in range(20)]
    go = threading.Barrier(2)
    refused: set[str] = set()

    def starts() -> None:
        go.wait()
        for run in runs:
            try:
                start(any_store, run)
            except storage.HaltRequested:
                refused.add(run.id)

    def halts() -> None:
        go.wait()
        for run in reversed(runs):
            control.halt(any_store, run_id=run.id, by="ann")

    threads = [threading.Thread(target=starts), threading.Thread(target=halts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for run in runs:
        after_queued = kinds(any_store, run.id)[1:]
        if run.id in refused:
            assert "run_started" not in after_queued, after_queued
        else:
            assert after_queued[:2] == ["run_started", "status"], after_queued
            assert storage.get_run(any_store, run_id=run.id).status in ("running", "halted")
