"""Statements per step, counted on the driver's connections (tests/support/statements.py): a
model call with one tool call costs the same fixed number of SQL statements at step 2 as at step
8, on SQLite and PostgreSQL (no per-call connection ping on PostgreSQL, where each of the step's
write transactions is one call of the store's function: storage/server_steps.py). Structural, not
timing: a new read or write per step, or a PostgreSQL round trip more, changes the count."""

from __future__ import annotations

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.policy import Policy
from agent_core.run import halt_watcher, port
from agent_core.worker.claim_loop import drive_run
from tests.support.run_helpers import new_run
from tests.support.statements import StatementCounter

# A step (one model call answering one calculator call, the tool run and its result recorded):
# the step's start (a fenced seq bump with the halt check, its event), the pending commands,
# the project rules' mark, the model call's record with the tool's verdict and start (one
# transaction, one seq bump and halt check for the three events: storage.begin_execution's
# `before`) and the tool's result (with the next step's start: StoreRunPort.hold_record).
# The usage an event carries (the step, the model call's tokens) is added by the UPDATE that
# takes its seq, not by one of its own; a transaction's events go in one INSERT.
# On PostgreSQL each of those three write transactions is one statement, the store's function
# (no BEGIN or COMMIT either): 3 + the two reads.
STATEMENTS_PER_STEP = {"sqlite": 10, "postgresql": 5}
NO_POLICY_CHECK = Policy.model_validate({"monitors": {"final_check": False}})


def _drive(store: storage.Store, tool_steps: int) -> tuple[dict[str, int], int]:
    """Drive a run of `tool_steps` calculator calls then a final answer; the statements its
    session ran (the process's halt watcher apart: it polls per 0.1 s, not per step)."""
    calls = [
        {"tool_calls": [{"name": "calculator", "arguments": {"expression": f"{n}+1"}}]}
        for n in range(tool_steps)
    ]
    model = ScriptedModel([*calls, "All done."])
    run = new_run(
        store, "add up", policy=NO_POLICY_CHECK, autonomy="autonomous", tools=["calculator"]
    )
    claimed = storage.claim_run(store, run_id=run.id, worker_id="counting", lease_seconds=60)
    with StatementCounter(store, skip_threads=("onloop-halt-watch",)) as counter:
        outcome = drive_run(store, claimed, model_factory=lambda _run: model)
    assert outcome.status == "succeeded", outcome
    return dict(counter.counts), counter.total()


def test_a_step_costs_the_same_statements_at_every_step_and_on_every_database(
    any_store, monkeypatch
):
    # What depends on the clock is held still: the halt watcher's view is never fresh (every
    # halt_requested() reads the store: the most a step reads), no streamed partial output.
    monkeypatch.setattr(halt_watcher, "FRESH_S", -1.0)
    monkeypatch.setattr(port, "PARTIAL_EVERY_S", 3600.0)
    _drive(any_store, 1)  # imports, the connections' first statements, the schema's caches
    _, two = _drive(any_store, 2)
    by_kind_four, four = _drive(any_store, 4)
    _, eight = _drive(any_store, 8)
    per_step = (eight - four) / 4
    assert (four - two) / 2 == per_step, f"not flat: {two}, {four}, {eight} for 2, 4, 8 steps"
    database = any_store.engine.dialect.name
    assert per_step == STATEMENTS_PER_STEP[database], (
        f"{per_step} statements per step on {database}, not "
        f"{STATEMENTS_PER_STEP[database]} (a run of 4 steps: {by_kind_four})"
    )
    assert not any(key == ";" or key.startswith("SELECT 1") for key in by_kind_four), (
        "a connection ping per checkout"
    )
