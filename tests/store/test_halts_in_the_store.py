"""The store's side of halts that hold, pinned: the halt decision against claims, session ends,
requeues and expired leases; begin_step's refusal and its ordering under PostgreSQL's row locks;
and halts sniped into the narrowest windows of the loop (right before a tool call starts, between
the step check and the model request, while the answer is on its way).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.run.port import StoreRunPort
from agent_core.worker.claim_loop import Worker, drive_run
from storage.events import append_in
from storage.models import Command, Run, table_of
from tests.support.halt_helpers import CALC, assert_nothing_started_after_the_halt, count, halt_seq
from tests.support.run_helpers import new_run, wait_for

# ---------------------------------------------------------------- halt vs claim, end, requeue


def test_a_queued_run_with_a_pending_halt_is_never_claimed(any_store):
    run = new_run(any_store, "claimed after a halt?", model="scripted")
    claimed = storage.claim_next_run(any_store, worker_id="w1", lease_seconds=30)
    assert claimed is not None and claimed.id == run.id
    control.halt(any_store, run_id=run.id, by="ann")  # running: becomes a command
    # The worker stops cleanly before it saw the halt: the run is not queued again.
    status = storage.finish_session(
        any_store, run_id=run.id, worker_id="w1", status="interrupted", reason="worker stopped"
    )
    assert status == "halted"
    assert storage.claim_next_run(any_store, worker_id="w2", lease_seconds=30) is None
    assert storage.get_run(any_store, run_id=run.id).reason == "halted by ann"
    assert storage.pending_commands(any_store, run_id=run.id) == []  # the halt was consumed


def test_a_claim_refuses_a_queued_run_that_a_halt_waits_for(any_store):
    run = new_run(any_store, "halt pending while queued", model="scripted")
    # Only reachable by writing the command directly; the claim must still refuse.
    storage.send_command(any_store, run_id=run.id, kind="halt", created_by="ann")
    assert storage.claim_next_run(any_store, worker_id="w", lease_seconds=30) is None
    assert storage.claim_run(any_store, run_id=run.id, worker_id="w", lease_seconds=30) is None
    assert storage.get_run(any_store, run_id=run.id).status == "queued"


@pytest.mark.parametrize("ending", ["succeeded", "failed", "paused", "interrupted"])
def test_a_pending_halt_wins_over_any_other_ending(any_store, ending):
    run = new_run(any_store, "ends while a halt waits", model="scripted")
    assert storage.claim_next_run(any_store, worker_id="w", lease_seconds=30) is not None
    control.halt(any_store, run_id=run.id, by="ann")
    written = storage.finish_session(
        any_store, run_id=run.id, worker_id="w", status=ending, reason="x", result="answer"
    )
    assert written == "halted"
    done = storage.get_run(any_store, run_id=run.id)
    assert (done.status, done.reason, done.result) == ("halted", "halted by ann", None)
    assert done.worker_id is None and done.lease_expires_at is None
    assert_nothing_started_after_the_halt(any_store, run.id)


def test_a_session_ends_as_asked_when_no_halt_waits(any_store):
    run = new_run(any_store, "ends by itself", model="scripted")
    assert storage.claim_next_run(any_store, worker_id="w", lease_seconds=30) is not None
    written = storage.finish_session(
        any_store, run_id=run.id, worker_id="w", status="succeeded", result="42"
    )
    done = storage.get_run(any_store, run_id=run.id)
    assert written == "succeeded" and (done.status, done.result) == ("succeeded", "42")
    last = storage.events_after(any_store, run_id=run.id)[-1]
    assert (last.kind, last.payload["status"]) == ("status", "succeeded")


def test_a_clean_worker_stop_does_not_requeue_a_run_a_halt_waits_for(store):
    run = new_run(store, "stopped worker", model="scripted")
    assert storage.claim_next_run(store, worker_id="w", lease_seconds=30) is not None
    storage.update_run(store, run_id=run.id, status="interrupted")  # the session ended first
    storage.send_command(store, run_id=run.id, kind="halt", created_by="ann")
    requeued = storage.requeue_run(store, run_id=run.id, expect_status="interrupted")
    assert requeued.status == "halted" and requeued.reason == "halted by ann"
    assert storage.get_run(store, run_id=run.id).status == "halted"
    assert storage.claim_next_run(store, worker_id="w2", lease_seconds=30) is None


def _paused(store: storage.Store, goal: str):
    run = new_run(store, goal, model="scripted", autonomy="autonomous")
    storage.update_run(store, run_id=run.id, status="paused", reason="paused by test")
    storage.append_event(
        store, run_id=run.id, kind="status", payload={"status": "paused", "reason": "test"}
    )
    return run


def test_halting_a_paused_run_ends_it_and_a_resume_cannot_undo_the_halt(store):
    run = _paused(store, "stay paused")
    assert control.halt(store, run_id=run.id, by="ann").status == "halted"
    with pytest.raises(control.ControlError, match="nothing to halt"):
        control.halt(store, run_id=run.id, by="ann")
    # A resume that saw the run paused is refused: the halt came after what it saw.
    with pytest.raises(storage.InvalidState, match="became halted meanwhile"):
        storage.requeue_run(store, run_id=run.id, expect_status="paused", clear_stops=True)
    assert storage.get_run(store, run_id=run.id).status == "halted"
    assert storage.claim_next_run(store, worker_id="w", lease_seconds=30) is None
    assert_nothing_started_after_the_halt(store, run.id)


def test_a_waiting_run_whose_worker_died_ends_halted_not_interrupted(store):
    run = new_run(store, "wait forever", model="scripted")
    claimed = storage.claim_next_run(store, worker_id="dead", lease_seconds=30)
    assert claimed is not None
    storage.update_run(store, run_id=run.id, status="waiting")
    control.halt(store, run_id=run.id, by="ann")
    later = storage.utcnow() + timedelta(seconds=60)
    assert storage.expire_leases(store, now=later) == [run.id]
    assert_nothing_started_after_the_halt(store, run.id)
    assert storage.get_run(store, run_id=run.id).reason == "halted by ann"


def test_run_statuses_reads_many_runs_at_once(any_store):
    queued = new_run(any_store, "a", model="scripted")
    halted = new_run(any_store, "b", model="scripted")
    control.halt(any_store, run_id=halted.id, by="ann")
    found = storage.run_statuses(any_store, run_ids=[queued.id, halted.id, "nope"])
    assert found == {queued.id: "queued", halted.id: "halted"}
    assert storage.run_statuses(any_store, run_ids=[]) == {}


# ---------------------------------------------------------------- begin_step and its ordering


def test_begin_step_refuses_once_a_halt_is_recorded(any_store):
    run = new_run(any_store, "one step", model="scripted")
    assert storage.claim_next_run(any_store, worker_id="w", lease_seconds=30) is not None
    first = storage.begin_step(any_store, run_id=run.id, kind="model_request", payload={})
    assert not storage.halt_pending(any_store, run_id=run.id)
    control.halt(any_store, run_id=run.id, by="ann")
    assert storage.halt_pending(any_store, run_id=run.id)
    with pytest.raises(storage.HaltRequested):
        storage.begin_step(any_store, run_id=run.id, kind="model_request", payload={})
    with pytest.raises(storage.HaltRequested):
        storage.begin_execution(any_store, run_id=run.id, tool="calculator", args_hash="h")
    assert halt_seq(any_store, run.id) == first + 1  # the refused steps left no event, no gap
    seqs = [e.seq for e in storage.events_after(any_store, run_id=run.id)]
    assert seqs == list(range(1, len(seqs) + 1))


def _hold_a_halt_open(store: storage.Store, run_id: str):
    """What storage.halt_run does for a running run, left uncommitted: the row lock is held."""
    conn = store.engine.connect()
    transaction = conn.begin()
    runs, commands = table_of(Run), table_of(Command)
    conn.execute(select(runs.c.status).where(runs.c.id == run_id).with_for_update())
    conn.execute(
        commands.insert().values(
            run_id=run_id, kind="halt", payload={}, created_by="ann", created_at=storage.utcnow()
        )
    )
    append_in(conn, run_id=run_id, kind="halt_requested", payload={"by": "ann"})
    return conn, transaction


def _waiting_on_a_lock(store: storage.Store) -> bool:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with store.engine.connect() as conn:
        return bool(conn.execute(query).scalar())


def test_on_postgresql_a_step_queued_behind_a_halt_sees_it(postgres_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    store = storage.open_store(postgres_url)
    run = new_run(store, "step behind a halt", model="scripted")
    assert storage.claim_next_run(store, worker_id="w", lease_seconds=30) is not None
    conn, transaction = _hold_a_halt_open(store, run.id)
    outcome: dict[str, object] = {}

    def step() -> None:
        try:
            outcome["seq"] = storage.begin_step(
                store, run_id=run.id, kind="model_request", payload={}
            )
        except storage.HaltRequested as refused:
            outcome["refused"] = refused

    stepper = threading.Thread(target=step)
    stepper.start()
    wait_for(lambda: _waiting_on_a_lock(store), what="the step to wait for the halt's row lock")
    transaction.commit()
    conn.close()
    stepper.join(20)
    assert "refused" in outcome and "seq" not in outcome  # READ COMMITTED saw the late commit
    assert [e.kind for e in storage.events_after(store, run_id=run.id)][-1] == "halt_requested"
    store.dispose()


def test_on_postgresql_a_claim_passes_a_run_being_halted(postgres_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    store = storage.open_store(postgres_url)
    run = new_run(store, "halted while a worker looks", model="scripted")
    runs = table_of(Run)
    with store.engine.connect() as conn, conn.begin():
        conn.execute(select(runs.c.id).where(runs.c.id == run.id).with_for_update())
        # The halt holds the row: a claim skips it rather than taking it under the halt.
        assert storage.claim_next_run(store, worker_id="w", lease_seconds=30) is None
    control.halt(store, run_id=run.id, by="ann")
    assert storage.claim_next_run(store, worker_id="w", lease_seconds=30) is None
    assert_nothing_started_after_the_halt(store, run.id)
    store.dispose()


# ---------------------------------------------------------------- halts in the narrowest windows


def _halt_right_after(monkeypatch, store: storage.Store, method: str, when) -> None:
    """Make StoreRunPort.<method> halt its run (committed) just after it returns, when `when`."""
    real = getattr(StoreRunPort, method)

    def wrapped(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        if when(*args, **kwargs) and not storage.halt_pending(store, run_id=self.run_id):
            control.halt(store, run_id=self.run_id, by="sniper")
        return result

    monkeypatch.setattr(StoreRunPort, method, wrapped)


class _AnswersAnyway(ScriptedModel):
    """A server that answers even when the client gave up on the call (the cancel never reaches it)."""

    def complete(self, messages, tools, *, cancel, on_delta=None):
        return super().complete(messages, tools, cancel=threading.Event(), on_delta=on_delta)


def _drive(store: storage.Store, script: list, model: type[ScriptedModel] = ScriptedModel) -> str:
    run = new_run(store, "snipe me", model="scripted", autonomy="autonomous")
    worker = Worker(store, concurrency=1, model_factory=lambda run: model(script))
    claimed = storage.claim_next_run(store, worker_id=worker.worker_id, lease_seconds=30)
    assert claimed is not None
    outcome = drive_run(store, claimed, model_factory=worker.model_factory)
    assert outcome.status == "halted"
    return run.id


def _halt_right_before(monkeypatch, store: storage.Store, method: str) -> None:
    """Make StoreRunPort.<method> halt its run (committed) just before it does anything."""
    real = getattr(StoreRunPort, method)

    def wrapped(self, *args, **kwargs):
        if not storage.halt_pending(store, run_id=self.run_id):
            control.halt(store, run_id=self.run_id, by="sniper")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(StoreRunPort, method, wrapped)


def test_a_halt_between_the_answer_and_its_first_call_drops_both(any_store, monkeypatch):
    """The model's answer and its first allowed call go with the call's start, in one
    transaction: a halt just before it refuses all three. The answer came after the halt: it is
    not recorded (nor the call it asked for), its cost is kept; nothing started."""
    _halt_right_before(monkeypatch, any_store, "begin_execution")
    answer = {"tool_calls": [CALC], "tokens_in": 5, "tokens_out": 2}
    run_id = _drive(any_store, [answer, "done"])
    assert_nothing_started_after_the_halt(any_store, run_id)
    assert count(any_store, run_id, "model_call") == 0
    assert count(any_store, run_id, "tool_call") == 0
    assert count(any_store, run_id, "tool_started") == 0
    assert [e.payload["outcome"] for e in _events(any_store, run_id, "tool_result")] == []
    run = storage.get_run(any_store, run_id=run_id)
    assert (run.tokens_in, run.tokens_out, run.steps) == (5, 2, 0)  # paid for, not a step


def test_a_halt_between_a_later_call_and_its_start_stops_that_tool(any_store, monkeypatch):
    """The second call of an answer: the answer and the first call are on record, the second
    call is recorded on its own after the refusal, and never started."""
    real = StoreRunPort.begin_execution
    starts = []

    def halt_before_the_second(self, *args, **kwargs):
        starts.append(1)
        if len(starts) == 2:
            control.halt(any_store, run_id=self.run_id, by="sniper")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(StoreRunPort, "begin_execution", halt_before_the_second)
    run_id = _drive(any_store, [{"tool_calls": [CALC, CALC]}, "done"])
    assert_nothing_started_after_the_halt(any_store, run_id)
    assert count(any_store, run_id, "model_call") == 1
    assert count(any_store, run_id, "tool_call") == 2
    assert count(any_store, run_id, "tool_started") == 1
    assert [e.payload["outcome"] for e in _events(any_store, run_id, "tool_result")] == ["ok"]


def test_a_halt_between_the_step_check_and_the_request_stops_the_request(any_store, monkeypatch):
    _halt_right_after(monkeypatch, any_store, "take_commands", lambda: True)
    run_id = _drive(any_store, ["never asked"])
    assert_nothing_started_after_the_halt(any_store, run_id)
    assert count(any_store, run_id, "model_request") == 0


def test_a_halt_while_the_answer_is_on_its_way_drops_the_answer(any_store, monkeypatch):
    def halt_on_request(event, **_):
        return event.kind == "model_request"

    _halt_right_after(monkeypatch, any_store, "begin_step", halt_on_request)
    # This model answers even when the loop cancels, so the answer always comes after the halt.
    run_id = _drive(any_store, [{"text": "42", "tokens_in": 5, "tokens_out": 2}], _AnswersAnyway)
    assert_nothing_started_after_the_halt(any_store, run_id)
    assert count(any_store, run_id, "model_request") == 1  # begun before the halt
    assert count(any_store, run_id, "model_call") == 0  # its answer came after: not recorded
    # Paid for when it arrived while the loop still waited; under load the loop may have given
    # up on the call first, and then nothing of it is recorded. Never a half-recorded turn.
    assert storage.get_run(any_store, run_id=run_id).tokens_in in (0, 5)


def _events(store: storage.Store, run_id: str, kind: str) -> list:
    return [e for e in storage.events_after(store, run_id=run_id) if e.kind == kind]


def test_a_straggling_driver_cannot_revive_or_relabel_a_halted_run(any_store):
    run = new_run(any_store, "the worker froze", model="scripted")
    assert storage.claim_next_run(any_store, worker_id="frozen", lease_seconds=30) is not None
    later = storage.utcnow() + timedelta(seconds=60)
    assert storage.expire_leases(any_store, now=later) == [run.id]  # interrupted
    control.halt(any_store, run_id=run.id, by="ann")  # nobody drives it: halted at once
    # The frozen worker wakes up: it may not mark the run running again, start a step, or
    # write its own ending over the halt.
    with pytest.raises(storage.HaltRequested):
        storage.mark_driven(any_store, run_id=run.id, status="running")
    with pytest.raises(storage.HaltRequested):
        storage.begin_step(any_store, run_id=run.id, kind="model_request", payload={})
    ended = storage.finish_session(
        any_store, run_id=run.id, worker_id="frozen", status="interrupted", reason="lost"
    )
    assert ended == "halted"
    assert_nothing_started_after_the_halt(any_store, run.id)
    assert storage.get_run(any_store, run_id=run.id).reason == "halted by ann"


def test_a_driver_whose_lease_lapsed_starts_nothing_once_another_worker_took_the_run(any_store):
    run = new_run(any_store, "taken over", model="scripted")
    assert storage.claim_next_run(any_store, worker_id="slow", lease_seconds=30) is not None
    later = storage.utcnow() + timedelta(seconds=60)
    assert storage.expire_leases(any_store, now=later) == [run.id]
    control.resume_run(any_store, run_id=run.id, by="ann")
    assert storage.claim_next_run(any_store, worker_id="fresh", lease_seconds=30) is not None
    with pytest.raises(storage.HaltRequested, match="no longer slow's"):
        storage.begin_step(
            any_store, run_id=run.id, kind="model_request", payload={}, worker_id="slow"
        )
    with pytest.raises(storage.HaltRequested):
        storage.begin_execution(any_store, run_id=run.id, tool="calculator", worker_id="slow")
    with pytest.raises(storage.HaltRequested):
        storage.mark_driven(any_store, run_id=run.id, status="waiting", worker_id="slow")
    storage.begin_step(
        any_store, run_id=run.id, kind="model_request", payload={}, worker_id="fresh"
    )
    ended = storage.finish_session(any_store, run_id=run.id, worker_id="slow", status="failed")
    assert ended == "running"  # the slow worker's ending is not written over the fresh session
