"""Claiming in batches: a worker with many free slots takes many queued runs in one transaction,
oldest first, never one run twice, and notices a run queued while it idles before its next poll."""

from __future__ import annotations

import threading

import storage
from agent_core.oversight import control
from agent_core.worker.claim_loop import Worker, drive_run
from tests.support.dashboard_seed import make_approval
from tests.support.halt_helpers import serve, settle, stop
from tests.support.run_helpers import events_of, in_threads, new_run, wait_for


def test_a_batch_takes_the_oldest_runs_in_order_each_once(any_store):
    queued = [storage.create_run(any_store, goal=f"job {i}").id for i in range(7)]
    first = storage.claim_next_runs(any_store, worker_id="w1", lease_seconds=60, limit=5)
    assert [run.id for run in first] == queued[:5]
    assert {(run.status, run.worker_id, run.claim_epoch) for run in first} == {("running", "w1", 1)}
    for run in first:  # what the worker drives from: the stored row, not a stale copy
        stored = storage.get_run(any_store, run_id=run.id)
        assert (stored.status, stored.worker_id, stored.lease_expires_at) == (
            "running",
            "w1",
            run.lease_expires_at,
        )
    rest = storage.claim_next_runs(any_store, worker_id="w2", lease_seconds=60, limit=5)
    assert [run.id for run in rest] == queued[5:]
    assert storage.claim_next_runs(any_store, worker_id="w3", lease_seconds=60, limit=5) == []
    assert not storage.has_claimable_run(any_store)


def test_four_batch_claimers_never_take_the_same_run(any_store):
    queued = {storage.create_run(any_store, goal=f"job {i}").id for i in range(40)}

    def claim_batches(index: int) -> list[tuple[str, str]]:
        taken = []
        while runs := storage.claim_next_runs(
            any_store, worker_id=f"w{index}", lease_seconds=60, limit=7
        ):
            assert len(runs) <= 7
            taken += [(run.id, f"w{index}") for run in runs]
        return taken

    taken = in_threads(4, claim_batches)
    assert sorted(run_id for run_id, _ in taken) == sorted(queued)  # each exactly once
    assert storage.count_runs(any_store, status="running") == 40
    for run_id, worker_id in taken:
        assert storage.get_run(any_store, run_id=run_id).worker_id == worker_id


def test_a_batch_skips_a_run_with_a_halt_pending_and_keeps_a_waiting_one_waiting(any_store):
    plain = storage.create_run(any_store, goal="plain")
    asking = storage.create_run(any_store, goal="was waiting for a person")
    make_approval(any_store, asking)  # resumed with an approval still pending
    halted = storage.create_run(any_store, goal="halted")
    # A halt command left pending on a queued run (as if it raced the run's requeue).
    storage.send_command(any_store, run_id=halted.id, kind="halt", created_by="ann")
    taken = storage.claim_next_runs(any_store, worker_id="w1", lease_seconds=60, limit=10)
    assert {run.id: run.status for run in taken} == {plain.id: "running", asking.id: "waiting"}
    assert storage.get_run(any_store, run_id=halted.id).status == "queued"
    assert not storage.has_claimable_run(any_store)


def test_a_worker_claims_a_crowd_of_queued_runs_in_one_transaction(store, monkeypatch):
    runs = [new_run(store, "2+2", model="demo", autonomy="autonomous") for _ in range(12)]
    calls: list[int] = []
    real = storage.claim_next_runs

    def counting(*args, **kwargs):
        taken = real(*args, **kwargs)
        calls.append(len(taken))
        return taken

    monkeypatch.setattr(storage, "claim_next_runs", counting)
    workers = [Worker(store, concurrency=12, poll_s=0.05)]
    threads = serve(workers)
    try:
        settle(store, [run.id for run in runs])
    finally:
        stop(workers, threads)
    assert storage.count_runs(store, status="succeeded") == 12
    assert calls[0] == 12  # all twelve in the first claim
    for run in runs:
        assert len(events_of(store, run.id, "run_started")) == 1


def test_a_run_queued_while_the_worker_idles_starts_before_the_next_poll(store):
    # A poll every 10 minutes: only the cheap check between polls can start this run.
    worker = Worker(store, concurrency=1, poll_s=600)
    idling = threading.Event()
    after_poll = worker._idle

    def idle() -> None:
        idling.set()  # the first poll is over: it found nothing
        after_poll()

    worker._idle = idle  # type: ignore[method-assign]
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    try:
        assert idling.wait(15)
        run = new_run(store, "2+2", model="demo", autonomy="autonomous")
        wait_for(
            lambda: storage.get_run(store, run_id=run.id).status == "succeeded",
            timeout=60,
            what="the run to be claimed and finish",
        )
        halted = new_run(store, "2+2", model="demo", autonomy="autonomous")
        control.halt(store, run_id=halted.id, by="ann")  # ended at once: never claimable
        assert not storage.has_claimable_run(store)
    finally:
        worker.stop.set()
        thread.join(15)


def test_a_halt_between_a_batch_claim_and_a_runs_start_stops_that_run_before_any_step(store):
    # An operator halts one of a batch the worker has claimed but not yet started: that run must
    # end halted with no step of any kind (the start's fast path sees the halt and turns it
    # down), while the rest of the batch runs normally.
    runs = [new_run(store, "2+2", model="demo", autonomy="autonomous") for _ in range(3)]
    claimed = storage.claim_next_runs(store, worker_id="w1", lease_seconds=60, limit=3)
    assert [run.id for run in claimed] == [run.id for run in runs]
    control.halt(store, run_id=claimed[1].id, by="mallory's operator")
    outcomes = [drive_run(store, run) for run in claimed]
    assert [o.status for o in outcomes] == ["succeeded", "halted", "succeeded"]
    halted = claimed[1].id
    assert storage.get_run(store, run_id=halted).status == "halted"
    stepped = {"run_started", "model_request", "model_call", "tool_call", "tool_started"}
    assert not [e for e in storage.events_after(store, run_id=halted) if e.kind in stepped]
