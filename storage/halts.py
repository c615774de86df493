"""Halts that always hold: the halt decision, and the one check every step starts behind.

Ordering is the store's. A halt and a step start both lock the run's row (BEGIN IMMEDIATE on
SQLite; on PostgreSQL the row lock that bumping `runs.last_seq` or SELECT ... FOR UPDATE takes)
and both append an event, so their event seqs say which committed first: a step whose start
event has a lower seq than the halt's began before the halt; no step starts after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, exists, select, update

from storage.engine import Store, reading, writing
from storage.errors import HaltRequested, InvalidState
from storage.events import (
    append_in,
    append_sqlite,
    check_usage,
    insert_event,
    next_seq,
    no_run,
    sqlite_fast,
)
from storage.fence import Fence, as_fence, holds, lost
from storage.models import Approval, Command, Run, table_of, utcnow
from storage.record import ApprovalDecided, HaltRequest, Status
from storage.vocabulary import DRIVEN, HALTABLE_AT_ONCE, USAGE_NAMES, RunStatus

_runs = table_of(Run)
_commands = table_of(Command)
_approvals = table_of(Approval)
HALTABLE_BY_COMMAND = DRIVEN  # their driver stops at its next check


def halt_pending_for(run_id: Any) -> ColumnElement[bool]:
    """EXISTS a pending halt command for `run_id` (a value or a column); ix_commands_run_consumed."""
    return exists().where(
        _commands.c.run_id == run_id,
        _commands.c.consumed_at.is_(None),
        _commands.c.kind == "halt",
    )


_STATUS = select(_runs.c.status, _runs.c.worker_id).where(_runs.c.id == bindparam("rid"))
_PENDING = select(halt_pending_for(bindparam("rid")))
_FIRST_HALT = (
    select(_commands.c.created_by)
    .where(
        _commands.c.run_id == bindparam("rid"),
        _commands.c.consumed_at.is_(None),
        _commands.c.kind == "halt",
    )
    .order_by(_commands.c.id)
    .limit(1)
)
_CONSUME_HALTS = (
    update(_commands)
    .where(
        _commands.c.run_id == bindparam("rid"),
        _commands.c.consumed_at.is_(None),
        _commands.c.kind == "halt",
    )
    .values(consumed_at=bindparam("now"))
)


_HALTED_AMONG = (
    select(_commands.c.run_id)
    .where(
        _commands.c.run_id.in_(bindparam("ids", expanding=True)),
        _commands.c.consumed_at.is_(None),
        _commands.c.kind == "halt",
    )
    .distinct()
)
_OWNER = select(_runs.c.status, _runs.c.worker_id, _runs.c.claim_epoch).where(
    _runs.c.id == bindparam("rid")
)


def runs_with_halt_pending(store: Store, *, run_ids: list[str]) -> set[str]:
    """Which of `run_ids` have a halt waiting: ONE indexed read for all the runs a process drives
    (ix_commands_run_consumed), what its halt watcher polls."""
    if not run_ids:
        return set()
    with reading(store) as conn:
        return set(conn.execute(_HALTED_AMONG, {"ids": list(run_ids)}).scalars())


def halt_pending(store: Store, *, run_id: str) -> bool:
    """Whether a halt waits for this run: one indexed read, cheap enough to poll."""
    with reading(store) as conn:
        return bool(conn.execute(_PENDING, {"rid": run_id}).scalar())


def pending_halt_by(conn: Connection, run_id: str) -> str | None:
    """Who asked for the oldest pending halt ("" if nobody said), or None: inside a transaction."""
    row = conn.execute(_FIRST_HALT, {"rid": run_id}).first()
    return None if row is None else (row[0] or "")


def consume_halts(conn: Connection, run_id: str) -> None:
    conn.execute(_CONSUME_HALTS, {"rid": run_id, "now": utcnow()})


def halt_requested_by(store: Store, *, run_id: str) -> str | None:
    """Who asked for the pending halt of this run ("" when nobody was named), or None."""
    with reading(store) as conn:
        return pending_halt_by(conn, run_id)


def halted_by(by: str | None) -> str:
    return f"halted by {by or 'a human'}"


def start_step_in(
    conn: Connection,
    run_id: str,
    kind: str,
    fence: Fence | None,
    usage: Mapping[str, float] | None = None,
) -> int:
    """Inside a write transaction: the step's seq, or HaltRequested when it must not start
    (LeaseLost when the writer's claim no longer holds: its lease lapsed; another took it).

    One fenced UPDATE takes the seq (and adds the step's usage): it locks the run's row first,
    so a halt committed before it is seen by the check after it, and one committed after it
    gets a higher seq. Only a driven run (running, waiting) of this claim matches."""
    check_usage(usage)  # an unknown name is refused before anything is written
    adds = bool(usage and any(usage.values()))
    returning = conn.dialect.update_returning
    bump = _bump_for(fence, adds, returning)
    params: dict[str, Any] = {"rid": run_id}
    if fence is not None:
        params["wid"] = fence.worker_id
        if fence.epoch is not None:
            params["epoch"] = fence.epoch
    if usage and adds:
        params.update({f"add_{name}": usage.get(name, 0) for name in USAGE_NAMES}, now=utcnow())
    if returning:
        seq = conn.execute(bump, params).scalar()
    else:  # SQLite older than 3.35: the write lock is already ours, so read-after-write is safe
        bumped = conn.execute(bump, params).rowcount
        seq = conn.execute(select(_runs.c.last_seq).where(_runs.c.id == run_id)).scalar()
        seq = seq if bumped else None
    if seq is None:
        raise _not_started(conn, run_id, kind, fence)
    by = pending_halt_by(conn, run_id)
    if by is not None:
        raise HaltRequested(f"run {run_id} was {halted_by(by)}; {kind} not started")
    return seq


_BUMPS: dict[tuple[str, bool, bool], Any] = {}


def _bump_for(fence: Fence | None, adds: bool, returning: bool) -> Any:
    """The step's UPDATE, built once per shape (fenced or not, adding usage or not), so each
    step only binds values: SQLAlchemy caches the compiled form."""
    held_by = "none" if fence is None else "worker" if fence.epoch is None else "claim"
    shape = (held_by, adds, returning)
    bump = _BUMPS.get(shape)
    if bump is None:
        held = []
        if fence is not None:
            held.append(_runs.c.worker_id == bindparam("wid"))
            if fence.epoch is not None:
                held.append(_runs.c.claim_epoch == bindparam("epoch"))
        values: dict[str, Any] = {"last_seq": _runs.c.last_seq + 1}
        if adds:
            values.update({name: _runs.c[name] + bindparam(f"add_{name}") for name in USAGE_NAMES})
            values["updated_at"] = bindparam("now")
        where = (_runs.c.id == bindparam("rid"), _runs.c.status.in_(DRIVEN), *held)
        bump = update(_runs).where(*where).values(values)
        bump = _BUMPS[shape] = bump.returning(_runs.c.last_seq) if returning else bump
    return bump


def _not_started(conn: Connection, run_id: str, kind: str, fence: Fence | None) -> Exception:
    """Why the step's UPDATE matched nothing: no run, a lost claim, a halt, or a run not driven."""
    row = conn.execute(_OWNER, {"rid": run_id}).first()
    if row is None:
        return no_run(run_id)
    if fence is not None and not holds(fence, row.worker_id, row.claim_epoch):
        return lost(run_id, fence)
    by = pending_halt_by(conn, run_id)
    if by is not None:
        return HaltRequested(f"run {run_id} was {halted_by(by)}; {kind} not started")
    return HaltRequested(f"run {run_id} is {row.status}; {kind} not started")


def begin_step(
    store: Store,
    *,
    run_id: str,
    kind: str,
    payload: dict[str, Any],
    worker_id: str | None = None,
    fence: Fence | None = None,
    usage: Mapping[str, float] | None = None,
) -> int:
    """Record that a step starts (event `kind`), unless a halt is pending or the run is no longer
    driven (its session ended) or, given `worker_id`, no longer that worker's: then
    HaltRequested and no event. One write transaction; returns the event's seq. Also used to
    record what must not appear after a halt (a late model answer, a final answer). `usage`
    (steps, tokens_in, ...) is added to the run's totals in the same transaction: a reader
    never sees the event without the usage it carries."""
    fence = as_fence(fence, worker_id)
    check_usage(usage)
    if sqlite_fast(store):  # the common case in raw SQL; a step turned down goes the Core way
        seq = append_sqlite(
            store, run_id=run_id, kind=kind, payload=payload, fence=fence, usage=usage, step=True
        )
        if seq is not None:
            return seq
    with writing(store) as conn:  # finds out why the step may not start, and raises
        seq = start_step_in(conn, run_id, kind, fence, usage)
        insert_event(conn, run_id=run_id, seq=seq, kind=kind, payload=payload)
    return seq


def mark_driven(
    store: Store,
    *,
    run_id: str,
    status: str,
    reason: str | None = None,
    worker_id: str | None = None,
    fence: Fence | None = None,
    **fields: Any,
) -> int:
    """A driven run's running <-> waiting move and its `status` event, in one transaction.

    HaltRequested (nothing written) when the run is no longer driven (halted, interrupted or
    ended meanwhile) or, given `worker_id`, no longer that worker's. A straggling driver must
    never turn a halted run back into a running one.
    """
    if status not in DRIVEN:
        raise ValueError(f"mark_driven moves between running and waiting, not to {status!r}")
    fence = as_fence(fence, worker_id)
    with writing(store) as conn:
        seq = next_seq(conn, run_id, fence)  # LeaseLost when the claim no longer holds
        ours = () if fence is None else fence.clauses()
        moved = conn.execute(
            update(_runs)
            .where(_runs.c.id == run_id, _runs.c.status.in_(DRIVEN), *ours)
            .values(status=status, reason=reason, updated_at=utcnow(), **fields)
        ).rowcount
        if not moved:
            raise HaltRequested(f"run {run_id} is no longer driven; not marked {status}")
        insert_event(
            conn,
            run_id=run_id,
            seq=seq,
            **Status(status=RunStatus(status), reason=reason).row(),
        )
    return seq


def _cancel_pending_approvals(conn: Connection, run_id: str, by: str | None) -> None:
    """A halted run's pending approvals are cancelled by that halt (not left to look decidable,
    and never counted as expired); each gets an approval_decided event naming who halted."""
    who = by or "a human"
    pending = conn.execute(
        select(_approvals.c.id, _approvals.c.tool, _approvals.c.tool_call_id).where(
            _approvals.c.run_id == run_id, _approvals.c.status == "pending"
        )
    ).all()
    for approval_id, tool, tool_call_id in pending:
        conn.execute(
            update(_approvals)
            .where(_approvals.c.id == approval_id, _approvals.c.status == "pending")
            .values(
                status="cancelled",
                decided_at=utcnow(),
                decided_by=who,
                note=f"cancelled: the run was halted by {who} while this approval waited",
            )
        )
        decided = ApprovalDecided(
            approval_id=approval_id,
            tool_call_id=tool_call_id,
            tool=tool,
            decision="cancelled",
            decided_by=who,
        )
        append_in(conn, run_id=run_id, **decided.row())


def halt_run(store: Store, *, run_id: str, by: str | None) -> tuple[str, int]:
    """Halt a run in one transaction: (status after, seq of the event that records the halt).

    A run nobody drives (queued, paused, interrupted) ends `halted` here with one conditional
    UPDATE, so no worker can claim it afterwards; a running or waiting run gets a halt command
    and a `halt_requested` event for its driver. The row lock orders this against a claim.
    """
    reason = halted_by(by)
    with writing(store) as conn:
        status = conn.execute(
            select(_runs.c.status).where(_runs.c.id == run_id).with_for_update()
        ).scalar()
        if status is None:
            raise no_run(run_id)
        if status in HALTABLE_AT_ONCE:
            ended = conn.execute(
                update(_runs)
                .where(_runs.c.id == run_id, _runs.c.status.in_(HALTABLE_AT_ONCE))
                .values(
                    status="halted",
                    reason=reason,
                    finished_at=utcnow(),
                    updated_at=utcnow(),
                    worker_id=None,
                    lease_expires_at=None,
                )
            ).rowcount
            if ended != 1:  # the row lock makes this impossible; refuse rather than guess
                raise InvalidState(f"run {run_id} changed while being halted; try again")
            _cancel_pending_approvals(conn, run_id, by)
            halted = Status(status=RunStatus.HALTED, reason=reason)
            return "halted", append_in(conn, run_id=run_id, **halted.row())
        if status in HALTABLE_BY_COMMAND:
            command: dict[str, Any] = {"run_id": run_id, "kind": "halt", "created_by": by}
            conn.execute(_commands.insert().values(payload={}, created_at=utcnow(), **command))
            asked = HaltRequest(by=by, status=status)
            return status, append_in(conn, run_id=run_id, **asked.row())
    raise InvalidState(f"run {run_id} is already {status}; nothing to halt")
