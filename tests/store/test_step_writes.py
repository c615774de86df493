"""A step's writes and reads in the store: usage with its event in one transaction, one read of the
commands per step boundary, and the SQLite fast path of a step's start answering as the Core
path does."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from tests.support.run_helpers import Driver, new_run

# -- the store: usage with its event, one read per step boundary ------------------------------


def test_a_refused_step_adds_no_usage(store):
    run = new_run(store, "halted before the answer", model="scripted")
    storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=30)
    storage.mark_driven(store, run_id=run.id, status="running", worker_id="w")
    control.halt(store, run_id=run.id, by="ann")
    with pytest.raises(storage.HaltRequested):
        storage.begin_step(
            store,
            run_id=run.id,
            kind="model_call",
            payload={"text": "late"},
            usage={"steps": 1, "tokens_in": 5, "tokens_out": 2, "cost_usd": 0.5},
            fence=storage.Fence("w"),
        )
    after = storage.get_run(store, run_id=run.id)
    assert (after.steps, after.tokens_in, after.tokens_out, after.cost_usd) == (0, 0, 0, 0.0)


def test_an_unknown_usage_name_writes_nothing(store):
    run = new_run(store, "typo", model="scripted")
    before = storage.events_after(store, run_id=run.id)
    with pytest.raises(ValueError, match="unknown usage 'token'"):
        storage.append_event(store, run_id=run.id, kind="judge", payload={}, usage={"token": 1})
    assert storage.events_after(store, run_id=run.id) == before


def test_a_reader_never_sees_a_model_call_without_its_usage(store):
    script = [
        {"tool_calls": [{"name": "calculator", "arguments": {"expression": f"{n}+1"}}]}
        for n in range(12)
    ]
    model = ScriptedModel([*script, {"text": "done", "tokens_in": 3, "tokens_out": 1}])
    run = new_run(store, "count", model="scripted", autonomy="autonomous", max_steps=50)
    mismatches: list[tuple[int, int]] = []
    done = threading.Event()

    def read() -> None:
        query = text(
            "SELECT (SELECT count(*) FROM events WHERE run_id = :r AND kind = 'model_call'), "
            "(SELECT steps FROM runs WHERE id = :r)"
        )
        while not done.is_set():
            with store.reader.connect() as conn:  # one snapshot
                calls, steps = conn.execute(query, {"r": run.id}).one()
            if calls != steps:
                mismatches.append((calls, steps))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        outcome = Driver(store, run, model).start().join(60)
    finally:
        done.set()
        reader.join()
    assert outcome.status == "succeeded"
    assert mismatches == []
    assert storage.get_run(store, run_id=run.id).steps == 13


def test_a_step_boundary_reads_the_commands_once(store):
    run = new_run(store, "count reads", model="scripted", autonomy="autonomous")
    model = ScriptedModel(["the answer"])
    reads: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "FROM commands" in statement and threading.current_thread().name != "onloop-halt-watch":
            reads.append(statement)

    sa_event.listen(store.engine, "before_cursor_execute", seen)
    try:
        assert Driver(store, run, model).start().join().status == "succeeded"
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", seen)
    # One step: one read at its boundary; each step start checks for a halt inside its own
    # transaction (model_request, model_call, final_answer, run_started), never an ORM read.
    boundary = [s for s in reads if "consumed_at IS NULL ORDER BY" in s]
    assert len(boundary) == 1


# -- the SQLite fast path of a step's start: the same answers as the Core path -----------------


def _step_outcomes(store, monkeypatch, fast: bool) -> list:
    """begin_step in each situation a step meets, on one path; what it returned or raised, and
    what it left in the store."""
    import storage.halts as halts

    monkeypatch.setattr(halts, "sqlite_fast", lambda _store: fast)
    outcomes = []
    usage = {"steps": 1, "tokens_in": 3, "tokens_out": 2, "cost_usd": 0.25}

    def attempt(run_id, fence):
        try:
            seq = storage.begin_step(
                store, run_id=run_id, kind="tool_call", payload={"n": 1}, usage=usage, fence=fence
            )
            result: object = ("seq", seq)
        except (storage.HaltRequested, storage.LeaseLost, storage.NotFound) as error:
            result = (type(error).__name__, str(error).replace(run_id, "RUN"))
        try:
            run = storage.get_run(store, run_id=run_id)
            events = [(e.kind, e.payload) for e in storage.events_after(store, run_id=run_id)]
            left: object = (run.steps, run.tokens_in, run.cost_usd, run.last_seq, events[-1:])
        except storage.NotFound:
            left = None
        outcomes.append((result, left))

    def driven(goal):
        run = new_run(store, goal, model="scripted")
        storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=30)
        storage.mark_driven(store, run_id=run.id, status="running", worker_id="w")
        return storage.get_run(store, run_id=run.id)

    run = driven("starts")
    attempt(run.id, storage.Fence("w", run.claim_epoch))  # the common case
    attempt(run.id, None)  # unfenced
    run = driven("halted")
    control.halt(store, run_id=run.id, by="ann")
    attempt(run.id, storage.Fence("w", run.claim_epoch))
    run = driven("another worker's")
    attempt(run.id, storage.Fence("x"))
    attempt(run.id, storage.Fence("w", run.claim_epoch + 1))  # an older claim's session
    run = driven("paused")
    storage.update_run(store, run_id=run.id, status="paused")
    attempt(run.id, storage.Fence("w", run.claim_epoch))
    attempt("no-such-run", storage.Fence("w"))
    return outcomes


def test_a_steps_start_answers_the_same_on_the_sqlite_fast_path_as_on_core(store, monkeypatch):
    assert storage.events.sqlite_fast(store)  # else this compares the Core path with itself
    fast = _step_outcomes(store, monkeypatch, fast=True)
    core = _step_outcomes(store, monkeypatch, fast=False)
    assert [r for r, _ in fast] == [r for r, _ in core]
    assert [left for _, left in fast] == [left for _, left in core]
    assert [r[0] for r, _ in fast] == [
        "seq",
        "seq",
        "HaltRequested",
        "LeaseLost",
        "LeaseLost",
        "HaltRequested",
        "NotFound",
    ]
