"""Text no database column takes, from a model: a NUL (PostgreSQL's text holds none) or a lone
surrogate (no driver encodes one). Before, a write carrying it failed and the run ended `failed`
with an internal error (or stayed `running`), on PostgreSQL for a NUL and everywhere for a
surrogate in a tool's name: hostile model text stopped a run. Text columns now get U+FFFD in
their place (storage.models.column_text; on PostgreSQL for every string the driver sends,
storage.driver_text); JSON payloads keep the exact text, escaped.

A model's tool call names a tool with text no database column takes (a NUL: PostgreSQL's text
holds none; a lone surrogate: no driver encodes one). Before, the write of its `tool_call` event
failed and the run ended `failed` with an internal error, on PostgreSQL for a NUL and everywhere
for a surrogate: hostile model text stopped a run. Now the event's payload keeps the exact name
(escaped in its JSON) and the `tool` column a copy with U+FFFD in their place; the call is what
it was, a call of no such tool (or of none, too long a name), refused, and the run goes on."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.worker.claim_loop import Worker, drive_run
from storage.models import column_text
from tests.support.run_helpers import new_run

NAMES = [
    "calc\u0000ulator",
    "calculator\u0000",  # a real tool's name with a NUL after it is not that tool
    "bad\ud800name",
    "\udfff",
    "both\u0000and\udc00",
    "ok\U0001f600",  # a whole character outside the BMP: kept as it is
    # PostgreSQL's write goes to the store's function as JSON text: a name must stay one field
    'calc", "allow"], ["tool_call", "2026-01-01T00:00:00", "calculator',
    "calc\\u0000ulator",  # a backslash and "u0000" as written, not a NUL
    "\\ud800\\",
    "calc'; DROP TABLE events; --",
    "x" * 5000,
]


@pytest.mark.parametrize("name", NAMES, ids=range(len(NAMES)))
def test_a_tool_name_no_column_takes_refuses_the_call_not_the_run(any_store, name):
    run = new_run(any_store, "hostile names", model="scripted", autonomy="autonomous")
    call = {"name": name, "arguments": {"expression": "1+1"}}
    model = ScriptedModel([{"tool_calls": [call]}, "done"])
    worker = Worker(any_store, concurrency=1, model_factory=lambda _run: model)
    claimed = storage.claim_next_run(any_store, worker_id=worker.worker_id, lease_seconds=30)
    outcome = drive_run(any_store, claimed, model_factory=worker.model_factory)
    assert outcome.status == "succeeded", storage.get_run(any_store, run_id=run.id).reason
    events = storage.events_after(any_store, run_id=run.id)
    calls = [e for e in events if e.kind == "tool_call"]
    assert [c.payload["tool"] for c in calls] == [name]  # the record keeps what the model sent
    assert calls[0].payload["verdict"] in ("deny", "invalid")  # refused, never run
    assert not [e for e in events if e.kind == "tool_started"]
    with any_store.engine.connect() as conn:
        query = text("SELECT tool, verdict FROM events WHERE run_id = :rid AND kind = 'tool_call'")
        tool, verdict = conn.execute(query, {"rid": run.id}).one()
        assert (tool, verdict) == (column_text(name), calls[0].payload["verdict"])
        counted = conn.execute(text("SELECT tool FROM tool_call_counts")).scalars().all()
        assert column_text(name) in counted


def test_the_column_copy_replaces_only_what_no_column_takes():
    assert column_text("calculator") == "calculator"
    assert column_text("café \U0001f600") == "café \U0001f600"
    assert column_text("a\u0000b\ud800c\udfffd") == "a\ufffdb\ufffdc\ufffdd"


ARGUMENTS = [
    {"name": "run_shell", "arguments": {"command": "echo a\u0000b; rm -rf build"}},
    {"name": "run_shell", "arguments": {"command": "echo \ud800 && touch x"}},
    {"name": "write_file", "arguments": {"path": "notes\u0000.txt", "content": "x\u0000y"}},
    {"name": "write_file", "arguments": {"path": "n\udc80.txt", "content": "x"}},
    {"name": "delete_files", "arguments": {"paths": ["a\ud800.tmp", "b\u0000.tmp"]}},
]


@pytest.mark.parametrize("call", ARGUMENTS, ids=range(len(ARGUMENTS)))
def test_arguments_no_column_takes_are_asked_about_and_the_run_ends_as_it_should(any_store, call):
    """Supervised: the call is asked about (its summary quotes the text) or refused; the person
    rejects what is asked; the run ends as its answer deserves, never with an internal error and
    never left `running`."""
    tools = ["run_shell", "write_file", "delete_files"]
    run = new_run(any_store, "hostile arguments", model="scripted", tools=tools)
    model = ScriptedModel([{"tool_calls": [call]}, "done"])
    worker = Worker(any_store, concurrency=1, model_factory=lambda _run: model)
    claimed = storage.claim_next_run(any_store, worker_id=worker.worker_id, lease_seconds=30)
    driving = threading.Thread(
        target=drive_run, args=(any_store, claimed), kwargs={"model_factory": worker.model_factory}
    )
    driving.start()
    deadline = time.monotonic() + 60
    while driving.is_alive():
        assert time.monotonic() < deadline, "the run neither asked nor ended"
        for pending in storage.pending_approvals(any_store, run_id=run.id):
            storage.decide_approval(
                any_store, approval_id=pending.id, decision="rejected", decided_by="ann"
            )
        time.sleep(0.02)
    final = storage.get_run(any_store, run_id=run.id)
    assert final.status in ("unmet", "succeeded"), (final.status, final.reason)
    assert "internal error" not in (final.reason or "")
    calls = [e for e in storage.events_after(any_store, run_id=run.id) if e.kind == "tool_call"]
    assert len(calls) == 1
    recorded = calls[0].payload["arguments"]
    if isinstance(recorded, dict):  # the record keeps what the model sent
        for name, value in call["arguments"].items():
            assert recorded[name] == value
    else:  # arguments the loop could not take as JSON are kept as the model's text
        assert isinstance(recorded, str) and recorded


@pytest.mark.postgres
@pytest.mark.parametrize("goal", ["sum \u0000 the numbers", "sum \ud800 them", "\udfff\u0000"])
def test_postgresql_stores_any_text_a_column_is_given(postgres_url, goal):
    """Every string the driver sends: a goal, a search for it (SQLite keeps a NUL as it is)."""
    with storage.open_store(postgres_url) as store:
        run = storage.create_run(store, goal=goal)
        assert storage.get_run(store, run_id=run.id).goal == column_text(goal)
        assert [r.id for r in storage.list_runs(store, search=goal)] == [run.id]
