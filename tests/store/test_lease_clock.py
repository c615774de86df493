"""One clock for leases: a writer whose clock is an hour off (either way) neither loses its runs
to the others nor takes theirs; leases are written and compared on the database's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

import storage
from storage.runs import LEASE_LOST_REASON
from tests.support.store_versions import shift_clock

HOUR = timedelta(hours=1)
LEASE = 30.0


def _statuses(store: storage.Store) -> dict[str, tuple[str, str | None]]:
    return {r.id: (r.status, r.worker_id) for r in storage.list_runs(store, limit=100)}


@pytest.mark.parametrize("offset", [HOUR, -HOUR], ids=["ahead", "behind"])
def test_a_worker_with_a_skewed_clock_loses_nothing_and_takes_nothing(
    any_store, monkeypatch, offset
):
    for n in range(12):
        storage.create_run(any_store, goal=f"run {n}")
    # The skewed worker claims half the queue and renews its leases on its own (wrong) clock.
    shift_clock(monkeypatch, offset)
    skewed = storage.claim_next_runs(any_store, worker_id="skewed", lease_seconds=LEASE, limit=6)
    assert len(skewed) == 6
    assert all(
        storage.renew_lease(
            any_store, run_id=r.id, worker_id="skewed", lease_seconds=LEASE, epoch=1
        )
        for r in skewed
    )
    monkeypatch.undo()
    # The others, on the right clock, see live leases: nothing lost, nothing of its taken.
    assert storage.expire_leases(any_store) == []
    others = storage.claim_next_runs(any_store, worker_id="right", lease_seconds=LEASE, limit=12)
    assert {r.id for r in others}.isdisjoint({r.id for r in skewed}) and len(others) == 6
    # And the skewed worker, an hour off, expires nobody's lease and claims nothing twice.
    shift_clock(monkeypatch, offset)
    assert storage.expire_leases(any_store) == []
    assert (
        storage.claim_next_runs(any_store, worker_id="skewed", lease_seconds=LEASE, limit=12) == []
    )
    monkeypatch.undo()
    held = _statuses(any_store)
    assert sorted(held.values()) == sorted([("running", "skewed")] * 6 + [("running", "right")] * 6)
    # A lease that did lapse still lapses, on the database's clock (the tests' `now`).
    lapsed = storage.expire_leases(any_store, now=storage.utcnow() + timedelta(seconds=LEASE + 5))
    assert sorted(lapsed) == sorted(held)
    assert {storage.get_run(any_store, run_id=i).reason for i in held} == {LEASE_LOST_REASON}


def test_a_lease_is_the_databases_clock_plus_its_seconds_whatever_the_writer_says(
    any_store, monkeypatch
):
    run = storage.create_run(
        any_store, goal="driven by `onloop run`", claimed_by="cli", lease_seconds=LEASE
    )
    first = run.lease_expires_at
    shift_clock(monkeypatch, -HOUR)
    assert storage.renew_lease(any_store, run_id=run.id, worker_id="cli", lease_seconds=LEASE)
    renewed = storage.get_run(any_store, run_id=run.id)
    assert renewed.lease_expires_at >= first  # never an hour back
    assert renewed.updated_at < first - timedelta(minutes=30)  # a record, on the writer's clock
