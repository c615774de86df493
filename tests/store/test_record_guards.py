"""The database itself keeps the record: events are never updated or deleted, and a decided
approval is never edited or deleted (schema version 3's triggers) except to be consumed, once,
by the execution it authorises (version 4), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import storage
from tests.support.dashboard_seed import make_approval


def _raw(store: storage.Store, sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)


def _decided(store: storage.Store) -> storage.Approval:
    run = storage.create_run(store, goal="delete the temporary files")
    approval = make_approval(store, run)
    return storage.decide_approval(
        store, approval_id=approval.id, decision="approved", decided_by="alice"
    )


def _decision_message(store: storage.Store, approval_id: int) -> str:
    # SQLite's RAISE takes only a literal message: the id is in PostgreSQL's alone.
    who = "approval" if store.is_sqlite else f"approval {approval_id}"
    return f"{who} was already decided; decisions are never edited"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE events SET payload = '{}' WHERE run_id = :rid",
        "UPDATE events SET tool = 'read_file' WHERE run_id = :rid",
        "DELETE FROM events WHERE run_id = :rid",
    ],
)
def test_an_event_cannot_be_updated_or_deleted(any_store, sql):
    run = storage.create_run(any_store, goal="keep every step")
    storage.append_event(any_store, run_id=run.id, kind="model_call", payload={"text": "hi"})
    with pytest.raises(IntegrityError, match="events are append-only"):
        _raw(any_store, sql, rid=run.id)
    events = storage.events_after(any_store, run_id=run.id)
    assert [(e.seq, e.kind) for e in events] == [(1, "status"), (2, "model_call")]
    assert events[1].payload == {"text": "hi"}


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE approvals SET status = 'rejected' WHERE id = :aid",
        "UPDATE approvals SET approved_hash = 'forged', decided_by = 'mallory' WHERE id = :aid",
        "UPDATE approvals SET status = 'pending' WHERE id = :aid",
        "DELETE FROM approvals WHERE id = :aid",
        # schema 7: what the allowance became, and the call's class, are part of the decision
        'UPDATE approvals SET allow_scope = \'prefix\', allow_rule = \'{"tool": "*", '
        '"action": "allow", "up_to": "escalation"}\' WHERE id = :aid',
        "UPDATE approvals SET call_class = 'read' WHERE id = :aid",
    ],
)
def test_a_decided_approval_cannot_be_edited_or_deleted(any_store, sql):
    decided = _decided(any_store)
    with pytest.raises(IntegrityError, match=_decision_message(any_store, decided.id)):
        _raw(any_store, sql, aid=decided.id)
    again = storage.get_approval(any_store, approval_id=decided.id)
    assert (again.status, again.decided_by, again.approved_hash) == ("approved", "alice", None)


def test_a_pending_approval_can_still_be_decided_or_withdrawn(any_store):
    run = storage.create_run(any_store, goal="delete the temporary files")
    pending = make_approval(any_store, run)
    _raw(any_store, "UPDATE approvals SET summary = 'reworded' WHERE id = :aid", aid=pending.id)
    _raw(any_store, "DELETE FROM approvals WHERE id = :aid", aid=pending.id)
    assert storage.pending_approvals(any_store) == []


def test_deciding_twice_is_still_an_invalid_state_not_a_trigger_error(any_store):
    decided = _decided(any_store)
    for decision in ("rejected", "approved", "expired"):
        with pytest.raises(
            storage.InvalidState, match=f"approval {decided.id} was already approved by alice"
        ):
            storage.decide_approval(
                any_store, approval_id=decided.id, decision=decision, decided_by="bob"
            )
    assert storage.get_approval(any_store, approval_id=decided.id).decided_by == "alice"
    assert [a.id for a in storage.decisions(any_store)] == [decided.id]


def _consumed_message(store: storage.Store, approval_id: int) -> str:
    who = "approval" if store.is_sqlite else f"approval {approval_id}"
    return f"{who} was already consumed; one approval authorises one execution"


def test_an_approval_is_consumed_once_and_consuming_changes_nothing_else(any_store):
    decided = _decided(any_store)
    consume = "UPDATE approvals SET consumed_at = CURRENT_TIMESTAMP WHERE id = :aid"
    _raw(any_store, consume, aid=decided.id)  # the one change a decided approval allows
    for sql in (
        "UPDATE approvals SET consumed_at = NULL WHERE id = :aid",
        "UPDATE approvals SET consumed_at = CURRENT_TIMESTAMP WHERE id = :aid",
    ):
        with pytest.raises(IntegrityError, match=_consumed_message(any_store, decided.id)):
            _raw(any_store, sql, aid=decided.id)
    with pytest.raises(IntegrityError, match="was already (consumed|decided)"):
        _raw(any_store, "DELETE FROM approvals WHERE id = :aid", aid=decided.id)
    assert storage.get_approval(any_store, approval_id=decided.id).consumed_at is not None


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_only_an_approved_approval_can_be_consumed(any_store, status):
    run = storage.create_run(any_store, goal="delete the temporary files")
    approval = make_approval(any_store, run)
    if status != "pending":
        storage.decide_approval(any_store, approval_id=approval.id, decision=status, decided_by="a")
    who = "approval" if any_store.is_sqlite else f"approval {approval.id}"
    with pytest.raises(IntegrityError, match=f"{who} is not approved"):
        _raw(
            any_store,
            "UPDATE approvals SET consumed_at = CURRENT_TIMESTAMP WHERE id = :aid",
            aid=approval.id,
        )


def test_consuming_cannot_smuggle_in_an_edit(any_store):
    decided = _decided(any_store)
    sql = (
        "UPDATE approvals SET consumed_at = CURRENT_TIMESTAMP, approved_hash = 'forged' "
        "WHERE id = :aid"
    )
    with pytest.raises(IntegrityError, match=_decision_message(any_store, decided.id)):
        _raw(any_store, sql, aid=decided.id)
    again = storage.get_approval(any_store, approval_id=decided.id)
    assert (again.consumed_at, again.approved_hash) == (None, None)
