"""Approvals: a tool call waiting for a human, and the decision, written once."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select, update
from sqlmodel import col

from storage.clock import db_now
from storage.engine import Store, read_session, reading, write_session
from storage.errors import (
    ApprovalExpired,
    ApprovalUnusable,
    HaltRequested,
    InvalidState,
    NotFound,
    StoreError,
)
from storage.events import Guard, append_in, insert_event, next_seq, no_run
from storage.fence import Fence, as_fence
from storage.halts import DRIVEN, begin_step, halted_by, pending_halt_by
from storage.models import Approval, Command, Run, table_of, utcnow
from storage.record import ApprovalRequested, Status, ToolStarted
from storage.step_function import CONSUME_GUARD
from storage.vocabulary import RunStatus

DECISIONS = ("approved", "rejected", "expired", "cancelled")
# None, the scopes of oversight/scopes.py, and those stores before scopes may hold.
ALLOW_SCOPES = (None, "call", "prefix", "file", "folder", "domain", "tool", "arguments")
_approvals = table_of(Approval)
_commands = table_of(Command)
_runs = table_of(Run)


def no_approval(approval_id: int) -> NotFound:
    # There is no `onloop approvals`: `onloop show RUN_ID` and `onloop audit` name the ids.
    return NotFound(
        f"no approval with id {approval_id}; `onloop show RUN_ID` names a run's approvals"
    )


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
    allow_rule: dict[str, Any] | None = None,
) -> Approval:
    """Record the decision on a pending approval; a decided approval is never changed again."""
    if decision not in DECISIONS:
        raise StoreError(f"unknown decision {decision!r}; use one of {', '.join(DECISIONS)}")
    if allow_scope not in ALLOW_SCOPES:
        names = ", ".join(str(s) for s in ALLOW_SCOPES[1:7])
        raise StoreError(f"unknown allow_scope {allow_scope!r}; use None or one of {names}")
    now = utcnow()
    decide = (
        update(_approvals)
        .where(_approvals.c.id == approval_id, _approvals.c.status == "pending")
        .values(
            status=decision,
            decided_at=now,
            decided_by=decided_by,
            note=note,
            edited_arguments=copy.deepcopy(edited_arguments),
            approved_hash=approved_hash,
            allow_scope=allow_scope,
            allow_rule=copy.deepcopy(allow_rule),
        )
    )
    if decision in (
        "approved",
        "rejected",
    ):  # in the UPDATE itself: no decision slips in past the deadline
        expires = _approvals.c.expires_at  # on the database's clock, as it was set (request)
        decide = decide.where(or_(expires.is_(None), expires > db_now()))
    with write_session(store, durable=True) as session:  # on disk before the run acts on it
        # Conditional UPDATE: of two simultaneous deciders exactly one matches the pending row.
        changed = session.connection().execute(decide).rowcount
        approval = session.get(Approval, approval_id)
        if approval is None:
            raise no_approval(approval_id)
        if not changed:
            raise _not_decidable(approval)
    return approval


def past_deadline(store: Store, *, approval_id: int) -> bool:
    """Whether a pending approval's deadline has passed, on the database's clock: one read."""
    past = select(_approvals.c.id).where(
        _approvals.c.id == approval_id,
        _approvals.c.status == "pending",
        _approvals.c.expires_at <= db_now(),
    )
    with reading(store) as conn:
        return conn.execute(past).first() is not None


def _not_decidable(approval: Approval) -> InvalidState:
    if approval.status == "pending" and approval.expires_at is not None:  # the deadline refused
        return ApprovalExpired(
            f"approval {approval.id} expired at {approval.expires_at:%Y-%m-%d %H:%M:%S} UTC "
            "before anyone decided; it can no longer be decided, and the run treats it as "
            "rejected (the action does not run)"
        )
    by = f" by {approval.decided_by}" if approval.decided_by else ""
    return InvalidState(f"approval {approval.id} was already {approval.status}{by}")


def decisions(store: Store, *, run_id: str | None = None, limit: int = 1000) -> list[Approval]:
    """Decided approvals (the audit trail), newest decision first."""
    query = select(Approval).where(col(Approval.status) != "pending")
    if run_id is not None:
        query = query.where(col(Approval.run_id) == run_id)
    query = query.order_by(col(Approval.decided_at).desc(), col(Approval.id).desc()).limit(limit)
    with read_session(store) as session:
        return list(session.scalars(query))


def request_approval(
    store: Store,
    *,
    run_id: str,
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
    expires_in_s: float | None = None,
    waiting_reason: str = "",
    call_class: str | None = None,
    worker_id: str | None = None,
    fence: Fence | None = None,
) -> Approval:
    """Ask a person: the approval row, its approval_requested event, and the run `waiting` with
    its status event, in one transaction, so no reader sees a pending approval on a running run.

    HaltRequested, and nothing written, when a halt is pending or, given `worker_id`, the run is
    no longer driven by that worker. `expires_in_s`: the deadline is the database's now plus that
    (storage.clock), whatever the asking process's clock says; `expires_at` sets it as given."""
    request: dict[str, Any] = {
        "tool_call_id": tool_call_id,
        "tool": tool,
        "arguments": copy.deepcopy(arguments),
        "risk": risk,
        "reason": reason,
        "rule": rule,
        "summary": summary,
        "model_text": model_text,
        "args_hash": args_hash,
        "call_class": call_class,
    }
    with write_session(store) as session:
        conn = session.connection()
        fence = as_fence(fence, worker_id)
        seq = next_seq(conn, run_id, fence)  # also: no such run; LeaseLost
        approval = Approval(
            run_id=run_id, request_seq=seq, status="pending", expires_at=expires_at, **request
        )
        if expires_in_s is not None:
            approval.expires_at = db_now(expires_in_s)  # type: ignore[assignment]  # SQL
        session.add(approval)
        session.flush()  # its id, for the event
        if expires_in_s is not None:
            session.refresh(approval, ["expires_at"])  # the deadline the database computed
        deadline = approval.expires_at.isoformat() if approval.expires_at else None
        asked = ApprovalRequested(**request, approval_id=approval.id, expires_at=deadline)
        insert_event(conn, run_id=run_id, seq=seq, **asked.row())
        _set_waiting(conn, run_id, waiting_reason, fence)
    return approval


def _set_waiting(conn: Connection, run_id: str, reason: str, fence: Fence | None) -> None:
    by = pending_halt_by(conn, run_id)
    if by is not None:
        raise HaltRequested(f"run {run_id} was {halted_by(by)}; no approval asked")
    # A driver (worker_id given) asks only while the run is still driven and still its own.
    ours = () if fence is None else (_runs.c.status.in_(DRIVEN), *fence.clauses())
    waiting = {"status": "waiting", "reason": reason, "updated_at": utcnow()}
    if conn.execute(update(_runs).where(_runs.c.id == run_id, *ours).values(waiting)).rowcount != 1:
        raise HaltRequested(f"run {run_id} is no longer driven; no approval asked")
    append_in(conn, run_id=run_id, **Status(status=RunStatus.WAITING, reason=reason).row())


# Used up by the one execution it authorises: approved, not used yet, of this run and exactly
# these arguments (IS NOT DISTINCT FROM: an approval without a hash matches only a call without).
_CONSUME = (
    update(_approvals)
    .where(
        _approvals.c.id == bindparam("approval_id"),
        _approvals.c.run_id == bindparam("rid"),
        _approvals.c.status == "approved",
        _approvals.c.consumed_at.is_(None),
        _approvals.c.approved_hash.is_not_distinct_from(bindparam("args_hash")),
    )
    .values(consumed_at=bindparam("now"))
)


def _unusable(conn: Connection, run_id: str, approval_id: int, digest: str | None) -> StoreError:
    row = conn.execute(select(_approvals).where(_approvals.c.id == approval_id)).first()
    if row is None:
        return no_approval(approval_id)
    if row.run_id != run_id:
        why = f"it belongs to run {row.run_id}, not {run_id}"
    elif row.status != "approved":
        why = f"it is {row.status}, not approved"
    elif row.consumed_at is not None:
        why = f"it was already used at {row.consumed_at:%Y-%m-%d %H:%M:%S} UTC"
    else:
        why = "the arguments differ from the ones approved"
    return ApprovalUnusable(
        f"approval {approval_id} cannot authorise this execution: {why}; one approval "
        f"authorises exactly one execution of exactly the approved arguments (args {digest})"
    )


def begin_execution(
    store: Store,
    *,
    run_id: str,
    approval_id: int | None = None,
    args_hash: str | None = None,
    tool_call_id: str | None = None,
    tool: str | None = None,
    worker_id: str | None = None,
    fence: Fence | None = None,
    before: Sequence[tuple[str, dict[str, Any]]] = (),
    usage: Mapping[str, float] | None = None,
) -> int:
    """The one atomic point before a tool starts, in one write transaction: HaltRequested if a
    halt is pending (or the run is no longer this driver's); the approval, if any, consumed by
    this execution of exactly these arguments (ApprovalUnusable otherwise); and a `tool_started`
    event, after the `before` events (kind, payload) if any (the call's own `tool_call`, when
    nothing stood between its verdict and its start, after the model's answer that asked for
    it), with the `usage` they carry. Returns the seq of `tool_started`; nothing is written
    when it refuses."""
    started = ToolStarted(
        tool_call_id=tool_call_id, tool=tool, approval_id=approval_id, args_hash=args_hash
    )
    guards: tuple[Guard, ...] = ()
    if approval_id is not None:  # used up in the same transaction, or nothing is written

        def unusable(conn: Connection) -> Exception:
            return _unusable(conn, run_id, approval_id, args_hash)

        values = {"approval_id": approval_id, "rid": run_id, "args_hash": args_hash}
        consume = Guard(
            _CONSUME,
            {**values, "now": utcnow()},
            "one changed",
            unusable,
            CONSUME_GUARD,
        )
        guards = (consume,)
    return begin_step(
        store,
        run_id=run_id,
        **started.row(),
        fence=fence,
        worker_id=worker_id,
        guards=guards,
        durable=True,  # on disk before the tool's effect starts (storage.durability)
        before=before,
        usage=usage,
    )
