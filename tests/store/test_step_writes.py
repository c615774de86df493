"""A step's writes and reads in the store: usage with its event in one transaction, one read of the
commands per step boundary. A step's start, column by column on SQLite and PostgreSQL:
test_step_start.py."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from storage.step_function import FUNCTION
from tests.support.run_helpers import Driver, new_run
from tests.support.statements import StatementCounter

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


def _two_writes_with_usage(store: storage.Store) -> dict[str, int]:
    """An event and a step's start, each carrying usage: the statements they ran, and the run's
    totals checked."""
    run = new_run(store, "usage", model="scripted")
    storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=30)
    storage.mark_driven(store, run_id=run.id, status="running", worker_id="w")
    usage = {"steps": 1, "tokens_in": 5, "tokens_out": 2, "cost_usd": 0.5}
    with StatementCounter(store) as counter:
        storage.append_event(
            store, run_id=run.id, kind="judge", payload={}, usage=usage, fence=storage.Fence("w")
        )
        storage.begin_step(
            store, run_id=run.id, kind="model_call", payload={}, usage=usage, worker_id="w"
        )
    after = storage.get_run(store, run_id=run.id)
    assert (after.steps, after.tokens_in, after.tokens_out, after.cost_usd) == (2, 10, 4, 1.0)
    assert after.updated_at >= run.updated_at
    return dict(counter.counts)


# each: the seq's UPDATE (with the usage) and the event's INSERT; the step's halt check
ON_THE_DRIVER = {"UPDATE runs": 2, "INSERT events": 2, "SELECT (SELECT": 1}


def test_usage_goes_in_the_update_that_takes_the_seq(any_store):
    """As each database writes by default: SQLite on the driver path (it has no round trips to
    save), PostgreSQL one call of the store's function per write (storage/server_steps.py)."""
    assert any_store.server_steps  # the default: SQLite's writes take the driver path anyway
    counts = _two_writes_with_usage(any_store)
    if any_store.engine.dialect.name == "postgresql":
        assert counts == {f"SELECT {FUNCTION}": 2}
    else:
        assert counts == ON_THE_DRIVER


def test_usage_goes_in_the_update_that_takes_the_seq_on_the_driver_path(any_store):
    """The driver path, which PostgreSQL takes without the function, writes the same way."""
    any_store.server_steps = False
    assert _two_writes_with_usage(any_store) == ON_THE_DRIVER


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
    run = new_run(store, "How many reads?", model="scripted", autonomy="autonomous")
    model = ScriptedModel(["the answer"])
    with StatementCounter(store, skip_threads=("onloop-halt-watch",)) as counter:
        assert Driver(store, run, model).start().join().status == "succeeded"
    reads = [sql for sql, n in counter.texts().items() if "FROM commands" in sql for _ in range(n)]
    # One step: one read at its boundary; each step start checks for a halt inside its own
    # transaction (model_request, model_call, final_answer, run_started), never an ORM read.
    boundary = [s for s in reads if "consumed_at IS NULL ORDER BY" in s]
    assert len(boundary) == 1


def test_a_transactions_events_in_one_insert_keep_every_field_in_order(any_store):
    # 1, 2, 3 and 40 events at once (40: past the rows one statement takes), each read back as
    # written: seq, kind, payload, time, and the tool calls among them counted per tool.
    run = new_run(any_store, "many events at once", model="scripted")
    storage.claim_run(any_store, run_id=run.id, worker_id="w", lease_seconds=30)
    storage.mark_driven(any_store, run_id=run.id, status="running", worker_id="w")
    first_seq = storage.get_run(any_store, run_id=run.id).last_seq + 1
    written: list[tuple[str, dict]] = []
    for count in (1, 2, 3, 40):
        events = [
            ("tool_call", {"tool": f"t{count}", "verdict": "allow", "n": i, "text": "é\u2028\x00"})
            if i % 3 == 0
            else ("guidance", {"message": f"{count}-{i}", "nested": {"list": [i, None, 1.5]}})
            for i in range(count)
        ]
        *before, (kind, payload) = events
        storage.begin_step(
            any_store, run_id=run.id, kind=kind, payload=payload, before=before, worker_id="w"
        )
        written += events
    stored = [e for e in storage.events_after(any_store, run_id=run.id) if e.seq >= first_seq]
    assert [(e.kind, e.payload) for e in stored] == written
    assert [e.seq for e in stored] == list(range(first_seq, first_seq + len(written)))
    assert sorted(stored, key=lambda e: e.at) == stored  # the times in the order written
    with any_store.engine.connect() as conn:
        rows = conn.execute(text("SELECT tool, calls FROM tool_call_counts WHERE tool LIKE 't%'"))
        counts = {tool: calls for tool, calls in rows}
    assert counts == {"t1": 1, "t2": 1, "t3": 1, "t40": 14}
