"""An allowed tool call's `tool_call` event and its `tool_started` go in one write transaction
(storage.begin_execution's `before` events): one commit a call fewer, under the same halt,
claim and approval checks, all or nothing. When the start is refused (a halt came first, the
worker stops) the call the model sent is still recorded on its own, never started; a driver
whose claim was lost writes neither. A call that waits for a person keeps its own `tool_call`
event, written before the approval is asked for. On SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlalchemy import select

import storage
import storage.events as events_module
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.decisions import approve
from agent_core.oversight.policy import Policy, Rule
from agent_core.run.port import StoreRunPort
from agent_core.worker.claim_loop import Worker, drive_run
from storage.models import ToolCallCount, table_of
from tests.support.halt_helpers import CALC, count
from tests.support.held_writes import approved_for_other_arguments
from tests.support.run_helpers import Driver, new_run

_counts = table_of(ToolCallCount)
CALL = {
    "tool_call_id": "c1",
    "tool": "calculator",
    "arguments": {"expression": "6*7"},
    "risk": "low",
    "verdict": "allow",
    "reason": "low risk",
}


def driven(store: storage.Store, goal: str) -> tuple[storage.Run, storage.Fence]:
    run = storage.create_run(store, goal=goal)
    claimed = storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=60)
    storage.mark_driven(store, run_id=run.id, status="running", worker_id="w")
    return claimed, storage.Fence("w", claimed.claim_epoch)


def kinds(store: storage.Store, run_id: str) -> list[tuple[int, str]]:
    return [(e.seq, e.kind) for e in storage.events_after(store, run_id=run_id)]


def calls_counted(store: storage.Store) -> int:
    with store.engine.connect() as conn:
        return sum(conn.execute(select(_counts.c.calls)).scalars())


def start_with_call(store, run_id, fence, **extra):
    return storage.begin_execution(
        store,
        run_id=run_id,
        tool_call_id="c1",
        tool="calculator",
        args_hash="h",
        fence=fence,
        before=(("tool_call", CALL),),
        **extra,
    )


# ------------------------------------------------------------------------- the store's side


def test_the_call_and_its_start_take_two_seqs_in_one_write(any_store):
    run, fence = driven(any_store, "one write for two events")
    before = kinds(any_store, run.id)
    counted = calls_counted(any_store)
    seq = start_with_call(any_store, run.id, fence)
    after = kinds(any_store, run.id)
    assert after[len(before) :] == [(seq - 1, "tool_call"), (seq, "tool_started")]
    assert storage.get_run(any_store, run_id=run.id).last_seq == seq
    assert calls_counted(any_store) == counted + 1  # the call counted once, as on its own
    call = storage.events_after(any_store, run_id=run.id)[-2]
    assert call.payload["arguments"] == {"expression": "6*7"}


def test_a_halt_refuses_the_call_with_its_start(any_store):
    run, fence = driven(any_store, "halted first")
    storage.halt_run(any_store, run_id=run.id, by="ann")
    before, counted = kinds(any_store, run.id), calls_counted(any_store)
    with pytest.raises(storage.HaltRequested, match="halted by ann"):
        start_with_call(any_store, run.id, fence)
    assert kinds(any_store, run.id) == before
    assert calls_counted(any_store) == counted


def test_a_lost_claim_refuses_both(any_store):
    run, fence = driven(any_store, "claimed elsewhere")
    before = kinds(any_store, run.id)
    with pytest.raises(storage.LeaseLost):
        start_with_call(any_store, run.id, storage.Fence("w", fence.epoch + 1))
    assert kinds(any_store, run.id) == before


def test_an_unusable_approval_refuses_both(any_store):
    run, fence = driven(any_store, "approval for other arguments")
    approval_id = approved_for_other_arguments(any_store, run.id, fence, "c1")
    storage.mark_driven(any_store, run_id=run.id, status="running", fence=fence)
    before, counted = kinds(any_store, run.id), calls_counted(any_store)
    with pytest.raises(storage.ApprovalUnusable, match="arguments differ"):
        start_with_call(any_store, run.id, fence, approval_id=approval_id)
    assert kinds(any_store, run.id) == before
    assert calls_counted(any_store) == counted
    assert storage.get_approval(any_store, approval_id=approval_id).consumed_at is None


# ------------------------------------------------------------------------- the driver's side


@contextlib.contextmanager
def transactions_seen():
    """The event kinds each write transaction of the hot path inserted, in order."""
    seen: list[list[str]] = []
    real = events_module.driver_transaction

    @contextlib.contextmanager
    def watched(store, **kwargs):
        with real(store, **kwargs) as transaction:
            inserted: list[str] = []
            execute = transaction.execute

            def execute_and_note(statement, values):
                if statement is events_module._INSERT_EVENT:
                    inserted.append(values["kind"])
                elif statement in events_module._INSERT_EVENTS.values():  # several in one
                    width = len(events_module._EVENT_COLUMNS)
                    inserted.extend(values[f"kind_{i}"] for i in range(len(values) // width))
                return execute(statement, values)

            transaction.execute = execute_and_note  # type: ignore[method-assign]
            yield transaction
        seen.append(inserted)

    real_server = events_module.write_events  # PostgreSQL: the transaction as one function call

    def server_watched(store, *, rows, **kwargs):
        seq = real_server(store, rows=rows, **kwargs)
        seen.append([row["kind"] for row in rows])
        return seq

    events_module.driver_transaction = watched
    events_module.write_events = server_watched
    try:
        yield seen
    finally:
        events_module.driver_transaction = real
        events_module.write_events = real_server


def _drive(store, script, **settings):
    run = new_run(store, "a calculation", model="scripted", **settings)
    worker = Worker(store, concurrency=1, model_factory=lambda run: ScriptedModel(script))
    claimed = storage.claim_next_run(store, worker_id=worker.worker_id, lease_seconds=30)
    assert claimed is not None
    return run.id, drive_run(store, claimed, model_factory=worker.model_factory)


def test_an_allowed_call_is_recorded_with_its_start(any_store):
    with transactions_seen() as seen:
        run_id, outcome = _drive(
            any_store, [{"tool_calls": [CALC, CALC]}, "done"], autonomy="autonomous"
        )
    assert outcome.status == "succeeded"
    # The answer goes with its first call's start; the second call with its own start, and
    # the first call's result with them; the second's result with the next request.
    assert seen.count(["model_call", "tool_call", "tool_started"]) == 1
    assert seen.count(["tool_result", "tool_call", "tool_started"]) == 1
    assert seen.count(["tool_result", "model_request"]) == 1
    assert ["tool_call"] not in seen
    assert ["tool_result"] not in seen
    # The last answer streamed a preview: it is written before its preview is cleared.
    assert seen[-4:] == [
        ["tool_result", "model_request"],
        ["model_call"],
        ["final_answer"],
        ["status"],
    ]
    order = [k for _, k in kinds(any_store, run_id) if k.startswith("tool_")]
    assert order == ["tool_call", "tool_started", "tool_result"] * 2


def test_a_denied_call_is_recorded_on_its_own(any_store):
    deny = Rule(tool="calculator", action="deny")
    with transactions_seen() as seen:
        run_id, outcome = _drive(
            any_store,
            [{"tool_calls": [CALC]}, "done"],
            autonomy="autonomous",
            policy=Policy(rules=[deny]),
        )
    assert ["tool_call"] in seen and ["tool_call", "tool_started"] not in seen
    assert count(any_store, run_id, "tool_started") == 0


def test_a_call_that_waits_for_a_person_is_recorded_before_the_ask(any_store):
    ask = Rule(tool="calculator", action="ask")
    run = new_run(
        any_store, "ask first", model="scripted", policy=Policy(rules=[ask]), autonomy="autonomous"
    )

    with transactions_seen() as seen:
        driver = Driver(any_store, run, ScriptedModel([{"tool_calls": [CALC]}, "done"])).start()
        pending = driver.pending()
        assert [k for _, k in kinds(any_store, run.id)].count("tool_call") == 1
        approve(any_store, approval_id=pending.id, by="ann")
        assert driver.join().status == "succeeded"
    assert ["tool_call"] in seen
    assert ["tool_call", "tool_started"] not in seen  # the start came later, with the approval
    assert count(any_store, run.id, "tool_started") == 1


def test_a_worker_stopping_before_the_start_still_records_the_call(any_store, monkeypatch):
    real = StoreRunPort.with_project_rules

    def then_stop(self, policy):  # the verdict is being made: the worker stops right after
        self.stop.set()
        return real(self, policy)

    monkeypatch.setattr(StoreRunPort, "with_project_rules", then_stop)
    run_id, outcome = _drive(any_store, [{"tool_calls": [CALC]}, "done"], autonomy="autonomous")
    assert outcome.status == "interrupted"
    assert count(any_store, run_id, "tool_call") == 1
    assert count(any_store, run_id, "tool_started") == 0


def test_a_driver_that_lost_its_claim_writes_neither(any_store, monkeypatch):
    stolen = threading.Event()
    real = StoreRunPort.begin_execution

    def steal_first(self, *args, **kwargs):  # another worker claims the run just before
        storage.update_run(any_store, run_id=self.run_id, worker_id="thief")
        stolen.set()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(StoreRunPort, "begin_execution", steal_first)
    run_id, _ = _drive(any_store, [{"tool_calls": [CALC]}, "done"], autonomy="autonomous")
    assert stolen.is_set()
    assert count(any_store, run_id, "tool_call") == 0
    assert count(any_store, run_id, "tool_started") == 0
