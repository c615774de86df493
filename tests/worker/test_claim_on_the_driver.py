"""A claim is one transaction on the driver (a few statements compiled once, not an ORM session):
the run it hands the worker is the stored row in every field, whatever the row holds, and the
claim's own cost does not grow with the store's size or its history."""

from __future__ import annotations

from datetime import datetime

import pytest

import storage
from agent_core.oversight.policy import Policy
from storage.models import Run
from tests.support.dashboard_seed import make_approval
from tests.support.statements import StatementCounter

FIELDS = sorted(Run.model_fields)


def stored_fields(store: storage.Store, run_id: str) -> dict:
    run = storage.get_run(store, run_id=run_id)
    return {name: getattr(run, name) for name in FIELDS}


def test_the_claimed_run_is_the_stored_row_in_every_field(any_store):
    policy = Policy().model_dump(mode="json")
    run = storage.create_run(
        any_store,
        goal="Sum the café's receipts ☕ \u202e and say 'done'\n(twice)",
        model="openai",
        model_name="bench-s5-l0",
        autonomy="supervised",
        tools=["calculator", "read_file"],
        max_steps=7,
        max_seconds=90.5,
        max_tokens=12_000,
        max_cost_usd=0.25,
        policy=policy,
        created_by="ann@example.com",
    )
    storage.add_usage(any_store, run_id=run.id, tokens_in=1234, tokens_out=56, cost_usd=0.0123)
    taken = storage.claim_next_runs(any_store, worker_id="w1", lease_seconds=45, limit=3)
    assert [t.id for t in taken] == [run.id]
    claimed = {name: getattr(taken[0], name) for name in FIELDS}
    assert claimed == stored_fields(any_store, run.id)
    assert claimed["policy"] == policy and claimed["tools"] == ["calculator", "read_file"]
    assert (claimed["status"], claimed["worker_id"], claimed["claim_epoch"]) == ("running", "w1", 1)
    assert isinstance(claimed["lease_expires_at"], datetime)
    assert isinstance(claimed["started_at"], datetime)
    # the CLI's claim of one run by its id hands over the same
    other = storage.create_run(any_store, goal="second", model="demo")
    one = storage.claim_run(any_store, run_id=other.id, worker_id="cli", lease_seconds=30)
    assert one is not None
    assert {name: getattr(one, name) for name in FIELDS} == stored_fields(any_store, other.id)
    assert storage.claim_run(any_store, run_id=other.id, worker_id="w2", lease_seconds=30) is None


def test_a_run_asking_a_person_is_claimed_waiting_by_either_claim(any_store):
    for claim in ("batch", "by id"):
        asking = storage.create_run(any_store, goal=f"asks ({claim})", model="demo")
        make_approval(any_store, asking)
        if claim == "batch":
            taken = storage.claim_next_runs(any_store, worker_id="w", lease_seconds=30, limit=5)
            (run,) = taken
        else:
            run = storage.claim_run(any_store, run_id=asking.id, worker_id="w", lease_seconds=30)
        assert run is not None and run.status == "waiting"
        assert storage.get_run(any_store, run_id=asking.id).status == "waiting"


@pytest.mark.parametrize("limit", [1, 5])
def test_a_claims_statements_do_not_grow_with_the_store(any_store, limit):
    """One read of the schema's versions, one of the queue, then per run taken an UPDATE and a
    read of its row: the same whether the store holds three runs or three hundred (with their
    events and approvals), so a launch is claimed as fast in a store used for months."""

    def claim_counts() -> dict[str, int]:
        for _ in range(limit):
            storage.create_run(any_store, goal="fresh", model="demo")
        with StatementCounter(any_store) as counter:
            taken = storage.claim_next_runs(any_store, worker_id="w", lease_seconds=30, limit=limit)
        assert len(taken) == limit
        return dict(counter.counts)

    small = claim_counts()
    for n in range(300):  # history: finished runs with events, approvals left pending
        old = storage.create_run(any_store, goal=f"old {n}", model="demo")
        storage.append_event(any_store, run_id=old.id, kind="guidance", payload={"n": n})
        if n % 50 == 0:
            make_approval(any_store, old)
    assert storage.claim_next_runs(any_store, worker_id="x", lease_seconds=30, limit=300)
    large = claim_counts()
    assert small == large
    assert small == {
        "SELECT schema_migrations": 1,
        "SELECT runs": 1 + limit,
        "UPDATE runs": limit,
    }
