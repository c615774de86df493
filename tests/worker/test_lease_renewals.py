"""A worker's heartbeat renews every lease it holds in one transaction (not one per run), and only
leases of claims that are still its own: a run another worker took, or that a newer claim holds,
is left alone and its session told to stop."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

import storage
from agent_core.worker.leases import LeaseKeeper
from agent_core.worker.outage import Outage
from storage import runs as store_runs
from tests.support.statements import StatementCounter


def claim(store: storage.Store, goal: str, worker: str = "w") -> storage.Run:
    run = storage.create_run(store, goal=goal, model="demo")
    taken = storage.claim_run(store, run_id=run.id, worker_id=worker, lease_seconds=5)
    assert taken is not None
    return taken


def keeper(store: storage.Store, held: list[tuple[str, int]], stops: dict) -> LeaseKeeper:
    """Worker "w"'s lease keeper over these claims (run id, epoch), each session's stop in stops."""
    stop = threading.Event()
    return LeaseKeeper(
        store,
        worker_id="w",
        lease_seconds=30,
        outage=Outage(store, stop),
        stop=stop,
        claims=lambda: [(run_id, stops[run_id], epoch) for run_id, epoch in held],
    )


def lease_of(store: storage.Store, run_id: str):
    return storage.get_run(store, run_id=run_id).lease_expires_at


def test_every_lease_of_the_worker_in_one_statement(any_store):
    runs = [claim(any_store, f"run {n}") for n in range(12)]
    before = {run.id: lease_of(any_store, run.id) for run in runs}
    with StatementCounter(any_store) as counter:
        kept = storage.renew_leases(
            any_store,
            worker_id="w",
            claims=[(run.id, run.claim_epoch) for run in runs],
            lease_seconds=600,
        )
    assert kept == set(before)
    assert counter.counts.get("UPDATE runs") == 1
    assert all(lease_of(any_store, run_id) > before[run_id] for run_id in before)
    if any_store.is_sqlite:
        assert counter.texts()["BEGIN IMMEDIATE"] == 1


def test_claims_no_longer_ours_are_left_alone_and_left_out(any_store):
    first = [claim(any_store, goal) for goal in ("still mine", "taken over", "claimed again")]
    lapsed = storage.expire_leases(any_store, now=storage.utcnow() + timedelta(hours=1))
    assert set(lapsed) == {run.id for run in first}
    for run in first:
        storage.requeue_run(any_store, run_id=run.id, expect_status="interrupted")
    mine, taken_over, reclaimed = (
        storage.claim_run(any_store, run_id=run.id, worker_id=worker, lease_seconds=5)
        for run, worker in zip(first, ("w", "w2", "w"), strict=True)
    )
    assert mine and taken_over and reclaimed
    others = {run.id: lease_of(any_store, run.id) for run in (taken_over, reclaimed)}
    kept = storage.renew_leases(
        any_store,
        worker_id="w",
        # this worker's current claim of the first; its old claims of the other two
        claims=[(mine.id, mine.claim_epoch), *((r.id, r.claim_epoch) for r in first[1:])],
        lease_seconds=600,
    )
    assert kept == {mine.id}
    assert {run_id: lease_of(any_store, run_id) for run_id in others} == others
    assert storage.get_run(any_store, run_id=taken_over.id).worker_id == "w2"
    assert storage.renew_leases(any_store, worker_id="w", claims=[], lease_seconds=600) == set()


def test_many_claims_go_in_chunks_of_one_transaction(store, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(store_runs, "RENEW_CHUNK", 3)
    runs = [claim(store, f"run {n}") for n in range(8)]
    with StatementCounter(store) as counter:
        kept = storage.renew_leases(
            store, worker_id="w", claims=[(r.id, r.claim_epoch) for r in runs], lease_seconds=60
        )
    assert kept == {r.id for r in runs}
    assert counter.counts.get("UPDATE runs") == 3
    assert counter.texts()["BEGIN IMMEDIATE"] == 1


def test_a_beat_stops_only_the_sessions_whose_claim_is_gone(any_store):
    first = [claim(any_store, f"run {n}") for n in range(3)]
    # every lease lapsed; this worker claimed the first and the last again, another the second
    assert storage.expire_leases(any_store, now=storage.utcnow() + timedelta(hours=1))
    for run in first:
        storage.requeue_run(any_store, run_id=run.id, expect_status="interrupted")
    now = [
        storage.claim_run(any_store, run_id=run.id, worker_id=worker, lease_seconds=5)
        for run, worker in zip(first, ("w", "w2", "w"), strict=True)
    ]
    assert all(now)
    # what this worker's sessions hold: the new claims, and its old claim of the second
    held = [(now[0].id, now[0].claim_epoch), (first[1].id, 1), (now[2].id, now[2].claim_epoch)]
    stops = {run_id: threading.Event() for run_id, _ in held}
    keeper(any_store, held, stops).renew()
    assert {run_id for run_id, event in stops.items() if event.is_set()} == {first[1].id}
    assert lease_of(any_store, now[0].id) > storage.utcnow() + timedelta(seconds=20)
    assert storage.get_run(any_store, run_id=first[1].id).worker_id == "w2"


def test_a_beat_that_cannot_write_stops_nobody_and_tries_again(
    store, monkeypatch: pytest.MonkeyPatch
):
    """A transient database error (locked, gone for a moment) is said once; the next beat, well
    before the leases lapse, renews them all."""
    runs = [claim(store, f"run {n}") for n in range(3)]
    stops = {run.id: threading.Event() for run in runs}
    real = storage.renew_leases
    calls: list[int] = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            from sqlalchemy.exc import OperationalError

            raise OperationalError("UPDATE runs", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(storage, "renew_leases", flaky)
    beating = keeper(store, [(r.id, r.claim_epoch) for r in runs], stops)
    beating.renew()
    assert not any(event.is_set() for event in stops.values())
    beating.renew()
    assert not any(event.is_set() for event in stops.values())
    assert all(lease_of(store, r.id) > storage.utcnow() + timedelta(seconds=20) for r in runs)
