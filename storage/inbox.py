"""The approvals inbox: pending approvals riskiest first, then oldest, minus what a person put off.

"Not now" writes a snooze row (schema 9): the approval leaves that person's list until the time
passes. It is never a decision: the run keeps waiting, the approval's expiry is unchanged, and
everyone else still sees it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Exists, case, delete, exists, select
from sqlmodel import col

from storage.engine import Store, read_session, write_session
from storage.errors import InvalidState, NotFound
from storage.models import Approval, Snooze, table_of, utcnow

# Riskiest first: an unknown risk sorts after low (it would be a bug upstream, not a priority).
_RISK_RANK = case({"high": 0, "medium": 1, "low": 2}, value=col(Approval.risk), else_=3)
_snoozes = table_of(Snooze)


def _snoozed_by(who: str, now: datetime) -> Exists:
    return exists().where(
        _snoozes.c.approval_id == col(Approval.id),
        _snoozes.c.who == who,
        _snoozes.c.until > now,
    )


def inbox_approvals(
    store: Store, *, who: str, limit: int = 200, now: datetime | None = None
) -> list[Approval]:
    """Pending approvals `who` has not put off: highest risk first, then oldest first."""
    query = (
        select(Approval)
        .where(col(Approval.status) == "pending", ~_snoozed_by(who, now or utcnow()))
        .order_by(_RISK_RANK, col(Approval.requested_at), col(Approval.id))
        .limit(limit)
    )
    with read_session(store) as session:
        return list(session.scalars(query))


def snoozed_approvals(
    store: Store, *, who: str, now: datetime | None = None
) -> list[tuple[Approval, datetime]]:
    """Pending approvals `who` put off and when each comes back, soonest first."""
    now = now or utcnow()
    query = (
        select(Approval, col(Snooze.until))
        .join(Snooze, col(Snooze.approval_id) == col(Approval.id))
        .where(col(Approval.status) == "pending", col(Snooze.who) == who, col(Snooze.until) > now)
        .order_by(col(Snooze.until), col(Approval.id))
    )
    with read_session(store) as session:
        latest: dict[int | None, tuple[Approval, datetime]] = {}
        for approval, until in session.execute(query):
            latest[approval.id] = (approval, until)  # several snoozes: the latest time counts
    return sorted(latest.values(), key=lambda pair: (pair[1], pair[0].id or 0))


def snooze_approval(store: Store, *, approval_id: int, who: str, until: datetime) -> Snooze:
    """Put a pending approval off for `who` until `until` (a snooze, never a decision)."""
    with write_session(store) as session:
        approval = session.get(Approval, approval_id)
        if approval is None:
            raise NotFound(f"no approval with id {approval_id}; the inbox lists pending ones")
        if approval.status != "pending":
            by = f" by {approval.decided_by}" if approval.decided_by else ""
            raise InvalidState(
                f"approval {approval_id} is already {approval.status}{by}; nothing to put off"
            )
        snooze = Snooze(approval_id=approval_id, who=who, until=until)
        session.add(snooze)
    return snooze


def unsnooze_approvals(store: Store, *, who: str, approval_ids: list[int] | None = None) -> int:
    """Bring `who`'s put-off approvals back now (all of them, or those in `approval_ids`)."""
    statement = delete(_snoozes).where(_snoozes.c.who == who)
    if approval_ids is not None:
        statement = statement.where(_snoozes.c.approval_id.in_(approval_ids))
    with write_session(store) as session:
        return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
