"""Approvals: a tool call waiting for a human, and the decision, written once."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import col

from storage.engine import Store, read_session, write_session
from storage.errors import InvalidState, NotFound, StoreError
from storage.events import no_run
from storage.models import Approval, Run, table_of, utcnow

DECISIONS = ("approved", "rejected", "expired")
ALLOW_SCOPES = (None, "tool", "arguments")
_approvals = table_of(Approval)


def no_approval(approval_id: int) -> NotFound:
    return NotFound(f"no approval with id {approval_id}; `onloop approvals` lists pending ones")


def create_approval(
    store: Store,
    *,
    run_id: str,
    request_seq: int,
    tool_call_id: str,
    tool: str,
    arguments: dict[str, Any],
    args_hash: str,
    risk: str,
    reason: str = "",
    rule: str | None = None,
    model_text: str = "",
    summary: str = "",
    expires_at: datetime | None = None,
) -> Approval:
    """A pending approval for one tool call of a run."""
    approval = Approval(
        run_id=run_id,
        request_seq=request_seq,
        tool_call_id=tool_call_id,
        tool=tool,
        arguments=copy.deepcopy(arguments),  # later edits by the caller stay theirs
        args_hash=args_hash,
        risk=risk,
        reason=reason,
        rule=rule,
        model_text=model_text,
        summary=summary,
        status="pending",
        expires_at=expires_at,
    )
    with write_session(store) as session:
        if session.get(Run, run_id) is None:
            raise no_run(run_id)
        session.add(approval)
    return approval


def get_approval(store: Store, *, approval_id: int) -> Approval:
    with read_session(store) as session:
        approval = session.get(Approval, approval_id)
    if approval is None:
        raise no_approval(approval_id)
    return approval


def pending_approvals(
    store: Store, *, run_id: str | None = None, limit: int = 200
) -> list[Approval]:
    """Approvals waiting for a human, oldest first."""
    query = select(Approval).where(col(Approval.status) == "pending")
    if run_id is not None:
        query = query.where(col(Approval.run_id) == run_id)
    query = query.order_by(col(Approval.requested_at), col(Approval.id)).limit(limit)
    with read_session(store) as session:
        return list(session.scalars(query))


def count_pending_approvals(store: Store) -> int:
    query = select(func.count()).select_from(_approvals).where(_approvals.c.status == "pending")
    with read_session(store) as session:
        return int(session.scalar(query) or 0)


def decide_approval(
    store: Store,
    *,
    approval_id: int,
    decision: str,
    decided_by: str,
    note: str | None = None,
    edited_arguments: dict[str, Any] | None = None,
    approved_hash: str | None = None,
    allow_scope: str | None = None,
) -> Approval:
    """Record the decision on a pending approval; a decided approval is never changed again."""
    if decision not in DECISIONS:
        raise StoreError(f"unknown decision {decision!r}; use one of {', '.join(DECISIONS)}")
    if allow_scope not in ALLOW_SCOPES:
        raise StoreError(f"unknown allow_scope {allow_scope!r}; use None, 'tool' or 'arguments'")
    decide = (
        update(_approvals)
        .where(_approvals.c.id == approval_id, _approvals.c.status == "pending")
        .values(
            status=decision,
            decided_at=utcnow(),
            decided_by=decided_by,
            note=note,
            edited_arguments=copy.deepcopy(edited_arguments),
            approved_hash=approved_hash,
            allow_scope=allow_scope,
        )
    )
    with write_session(store) as session:
        # Conditional UPDATE: of two simultaneous deciders exactly one matches the pending row.
        changed = session.connection().execute(decide).rowcount
        approval = session.get(Approval, approval_id)
        if approval is None:
            raise no_approval(approval_id)
        if not changed:
            by = f" by {approval.decided_by}" if approval.decided_by else ""
            raise InvalidState(f"approval {approval_id} was already {approval.status}{by}")
    return approval


def decisions(store: Store, *, run_id: str | None = None, limit: int = 1000) -> list[Approval]:
    """Decided approvals (the audit trail), newest decision first."""
    query = select(Approval).where(col(Approval.status) != "pending")
    if run_id is not None:
        query = query.where(col(Approval.run_id) == run_id)
    query = query.order_by(col(Approval.decided_at).desc(), col(Approval.id).desc()).limit(limit)
    with read_session(store) as session:
        return list(session.scalars(query))
