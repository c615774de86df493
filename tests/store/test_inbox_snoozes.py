"""The inbox's order (riskiest, then oldest) and "not now" (schema 9's snoozes), on each backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

import storage
from tests.support.dashboard_seed import make_approval, make_run

ME, YOU = "ann (local)", "bob"


def test_the_inbox_lists_riskiest_first_then_oldest(any_store):
    run = make_run(any_store, status="waiting")
    now = storage.utcnow()
    low_old = make_approval(any_store, run, risk="low", requested_at=now - timedelta(hours=2))
    high_new = make_approval(any_store, run, risk="high", requested_at=now)
    medium = make_approval(any_store, run, risk="medium", requested_at=now - timedelta(hours=1))
    high_old = make_approval(any_store, run, risk="high", requested_at=now - timedelta(minutes=5))
    listed = storage.inbox_approvals(any_store, who=ME)
    assert [a.id for a in listed] == [high_old.id, high_new.id, medium.id, low_old.id]
    assert [a.id for a in storage.inbox_approvals(any_store, who=ME, limit=2)] == [
        high_old.id,
        high_new.id,
    ]


def test_not_now_hides_an_approval_from_one_person_until_the_time_passes(any_store):
    run = make_run(any_store, status="waiting")
    first, second = make_approval(any_store, run), make_approval(any_store, run)
    now = storage.utcnow()
    storage.snooze_approval(any_store, approval_id=first.id, who=ME, until=now + timedelta(hours=1))
    assert [a.id for a in storage.inbox_approvals(any_store, who=ME)] == [second.id]
    assert [a.id for a in storage.inbox_approvals(any_store, who=YOU)] == [first.id, second.id]
    ((snoozed, until),) = storage.snoozed_approvals(any_store, who=ME)
    assert (snoozed.id, until) == (first.id, now + timedelta(hours=1))
    later = now + timedelta(hours=1, seconds=1)  # the time passed: it is back, nothing decided
    assert [a.id for a in storage.inbox_approvals(any_store, who=ME, now=later)] == [
        first.id,
        second.id,
    ]
    assert storage.snoozed_approvals(any_store, who=ME, now=later) == []
    row = storage.get_approval(any_store, approval_id=first.id)
    assert (row.status, row.decided_by, row.expires_at) == ("pending", None, first.expires_at)
    assert storage.count_pending_approvals(any_store) == 2


def test_bring_back_now_and_the_latest_snooze_counts(any_store):
    run = make_run(any_store, status="waiting")
    first, second = make_approval(any_store, run), make_approval(any_store, run)
    now = storage.utcnow()
    for approval in (first, second):
        storage.snooze_approval(
            any_store, approval_id=approval.id, who=ME, until=now + timedelta(minutes=15)
        )
    storage.snooze_approval(any_store, approval_id=first.id, who=ME, until=now + timedelta(hours=4))
    assert [(a.id, u) for a, u in storage.snoozed_approvals(any_store, who=ME)] == [
        (second.id, now + timedelta(minutes=15)),
        (first.id, now + timedelta(hours=4)),
    ]
    assert storage.unsnooze_approvals(any_store, who=ME, approval_ids=[second.id]) == 1
    assert [a.id for a in storage.inbox_approvals(any_store, who=ME)] == [second.id]
    assert storage.unsnooze_approvals(any_store, who=ME) == 2
    assert [a.id for a in storage.inbox_approvals(any_store, who=ME)] == [first.id, second.id]


def test_a_decided_approval_leaves_the_snoozed_list_and_cannot_be_put_off(any_store):
    run = make_run(any_store, status="waiting")
    approval = make_approval(any_store, run)
    until = storage.utcnow() + timedelta(hours=1)
    storage.snooze_approval(any_store, approval_id=approval.id, who=ME, until=until)
    storage.decide_approval(any_store, approval_id=approval.id, decision="rejected", decided_by=YOU)
    assert storage.snoozed_approvals(any_store, who=ME) == []
    with pytest.raises(storage.InvalidState, match="already rejected by bob; nothing to put off"):
        storage.snooze_approval(any_store, approval_id=approval.id, who=ME, until=until)
    with pytest.raises(storage.NotFound, match="no approval with id 999"):
        storage.snooze_approval(any_store, approval_id=999, who=ME, until=until)
