"""Fencing: every claim has an epoch, and a session's writes hold only while its claim does. A
worker that stalled past its lease, while another worker resumed and finished its run, writes
nothing when it comes back: no event, no status, no usage, no second model call."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.worker.claim_loop import drive_run
from tests.support.run_helpers import new_run

FAR = timedelta(hours=1)  # "the lease lapsed": expire_leases is told the time, never waited for


def _row(store, run_id):
    run = storage.get_run(store, run_id=run_id)
    return run.model_dump()


def _snapshot(store, run_id):
    events = [(e.seq, e.kind, e.payload) for e in storage.events_after(store, run_id=run_id)]
    return events, _row(store, run_id)


def _lapse_and_requeue(store, run_id):
    assert storage.expire_leases(store, now=storage.utcnow() + FAR) == [run_id]
    storage.requeue_run(store, run_id=run_id, expect_status="interrupted")


def test_every_claim_gets_a_new_epoch(any_store):
    run = new_run(any_store, "count the claims")
    first = storage.claim_run(any_store, run_id=run.id, worker_id="w1", lease_seconds=30)
    assert first is not None and first.claim_epoch == 1
    _lapse_and_requeue(any_store, run.id)
    second = storage.claim_run(any_store, run_id=run.id, worker_id="w1", lease_seconds=30)
    assert second is not None and second.claim_epoch == 2


def test_a_superseded_claims_writes_are_all_refused(any_store):
    """Even the same worker's earlier claim: the epoch, not only the worker id, fences it."""
    run = new_run(any_store, "fence me")
    storage.claim_run(any_store, run_id=run.id, worker_id="w1", lease_seconds=30)
    storage.send_command(any_store, run_id=run.id, kind="guidance", payload={"message": "hi"})
    _lapse_and_requeue(any_store, run.id)
    now = storage.claim_run(any_store, run_id=run.id, worker_id="w1", lease_seconds=30)
    assert now is not None and now.claim_epoch == 2
    stale = storage.Fence("w1", 1)
    before = _snapshot(any_store, run.id)
    command = storage.pending_commands(any_store, run_id=run.id)[0]
    refused = {
        "event": lambda: storage.append_event(
            any_store, run_id=run.id, kind="guidance", payload={}, fence=stale
        ),
        "usage": lambda: storage.add_usage(any_store, run_id=run.id, steps=1, fence=stale),
        "step": lambda: storage.begin_step(
            any_store, run_id=run.id, kind="model_request", payload={}, fence=stale
        ),
        "status": lambda: storage.mark_driven(
            any_store, run_id=run.id, status="waiting", fence=stale
        ),
        "tool": lambda: storage.begin_execution(any_store, run_id=run.id, tool="x", fence=stale),
        "approval": lambda: storage.request_approval(
            any_store,
            run_id=run.id,
            tool_call_id="c1",
            tool="write_file",
            arguments={},
            args_hash="h",
            risk="high",
            fence=stale,
        ),
        "live output": lambda: storage.set_live_output(
            any_store, run_id=run.id, step=1, text="stale", fence=stale
        ),
        "clear live output": lambda: storage.clear_live_output(
            any_store, run_id=run.id, fence=stale
        ),
        "command": lambda: storage.consume_command(
            any_store, command_id=command.id, run_id=run.id, fence=stale
        ),
    }
    for what, write in refused.items():
        with pytest.raises(storage.LeaseLost):
            write()
        assert _snapshot(any_store, run.id) == before, what
    assert (
        storage.finish_session(
            any_store, run_id=run.id, worker_id="w1", epoch=1, status="succeeded", result="stale"
        )
        == "running"
    )
    assert not storage.renew_lease(
        any_store, run_id=run.id, worker_id="w1", lease_seconds=30, epoch=1
    )
    assert _snapshot(any_store, run.id) == before
    assert storage.live_output(any_store, run_id=run.id) is None
    assert storage.pending_commands(any_store, run_id=run.id)  # still there for the new driver
    current = storage.Fence("w1", 2)
    assert (
        storage.append_event(any_store, run_id=run.id, kind="guidance", payload={}, fence=current)
        == before[1]["last_seq"] + 1
    )


class PausedModel(ScriptedModel):
    """The first call stops at a hook until released (a GC pause, a frozen VM), then answers."""

    def __init__(self, responses) -> None:
        super().__init__(responses)
        self.entered = threading.Event()
        self.release = threading.Event()

    def complete(self, messages, tools, *, cancel, on_delta=None):
        self.entered.set()
        assert self.release.wait(60), "never released"
        return super().complete(messages, tools, cancel=threading.Event(), on_delta=on_delta)


def test_a_driver_stalled_past_its_lease_writes_nothing_once_another_finished(any_store):
    run = new_run(any_store, "say something", autonomy="autonomous")
    stale_model = PausedModel(
        [{"text": "", "tool_calls": [{"name": "calculator", "arguments": {"expression": "1+1"}}]}]
    )
    claimed = storage.claim_run(any_store, run_id=run.id, worker_id="stale", lease_seconds=30)
    outcome = {}
    stale = threading.Thread(
        target=lambda: outcome.update(
            done=drive_run(any_store, claimed, model_factory=lambda _r: stale_model)
        ),
        daemon=True,
    )
    stale.start()
    assert stale_model.entered.wait(30)

    _lapse_and_requeue(any_store, run.id)  # its lease lapsed; the run is queued again
    fresh = storage.claim_next_run(any_store, worker_id="fresh", lease_seconds=30)
    assert fresh is not None and fresh.id == run.id
    done = drive_run(any_store, fresh, model_factory=lambda _r: ScriptedModel(["fresh answer"]))
    assert done.status == "succeeded"
    finished = _snapshot(any_store, run.id)

    stale_model.release.set()  # the stalled worker comes back with its answer
    stale.join(30)
    assert not stale.is_alive()
    assert outcome["done"].status == "succeeded"  # what the store says; nothing of its own
    assert _snapshot(any_store, run.id) == finished
    assert len(stale_model.calls) == 1  # no second model call
    run_now = storage.get_run(any_store, run_id=run.id)
    assert (run_now.status, run_now.result) == ("succeeded", "fresh answer")
    assert [e.kind for e in storage.events_after(any_store, run_id=run.id)].count("model_call") == 1


def test_a_heartbeat_that_finds_its_claim_gone_stops_the_driver(any_store):
    """The lease keeper renews only its own claim: a superseded one makes it stop the session."""
    run = new_run(any_store, "keep the lease")
    claimed = storage.claim_run(any_store, run_id=run.id, worker_id="w", lease_seconds=30)
    assert storage.renew_lease(
        any_store, run_id=run.id, worker_id="w", lease_seconds=30, epoch=claimed.claim_epoch
    )
    _lapse_and_requeue(any_store, run.id)
    storage.claim_run(any_store, run_id=run.id, worker_id="w", lease_seconds=30)
    assert not storage.renew_lease(
        any_store, run_id=run.id, worker_id="w", lease_seconds=30, epoch=claimed.claim_epoch
    )


def test_a_run_created_or_resumed_claimed_is_never_claimable(any_store):
    """`onloop run` and `onloop resume` take their run in the transaction that (re)queues it: no
    worker's claim can come in between; the driver's fence holds from the first write."""
    run = storage.create_run(any_store, goal="drive me here", claimed_by="cli", lease_seconds=30)
    assert (run.status, run.worker_id, run.claim_epoch) == ("running", "cli", 1)
    assert storage.get_run(any_store, run_id=run.id).lease_expires_at is not None
    assert not storage.has_claimable_run(any_store)
    assert storage.claim_next_runs(any_store, worker_id="w1", lease_seconds=30, limit=5) == []
    storage.append_event(
        any_store, run_id=run.id, kind="guidance", payload={}, fence=storage.Fence("cli", 1)
    )
    storage.create_approval(
        any_store,
        run_id=run.id,
        request_seq=2,
        tool_call_id="call-1",
        tool="delete_files",
        arguments={"paths": ["a.tmp"]},
        args_hash="h1",
        risk="high",
    )
    _lapse_and_requeue(any_store, run.id)
    assert storage.claim_run(any_store, run_id=run.id, worker_id="w1", lease_seconds=30)
    assert storage.expire_leases(any_store, now=storage.utcnow() + FAR) == [run.id]
    again = storage.requeue_run(any_store, run_id=run.id, claimed_by="cli2", lease_seconds=30)
    # Resumed with its approval still pending: it goes on waiting, driven by the new claim only.
    assert (again.status, again.worker_id, again.claim_epoch) == ("waiting", "cli2", 3)
    assert storage.claim_next_runs(any_store, worker_id="w1", lease_seconds=30, limit=5) == []
