"""Halts that always hold: the halt decision, and the one check every step starts behind.

Ordering is the store's. A halt and a step start both lock the run's row (BEGIN IMMEDIATE on
SQLite; on PostgreSQL the row lock that bumping `runs.last_seq` or SELECT ... FOR UPDATE takes)
and both append an event, so their event seqs say which committed first: a step whose start
event has a lower seq than the halt's began before the halt; no step starts after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    exists,
    literal,
    or_,
    select,
    union_all,
    update,
)

from storage.clock import db_now
from storage.driver_sql import driver_read
from storage.engine import Store, reading, writing
from storage.errors import HaltRequested, InvalidState, StoreUpgraded
from storage.events import Guard, append_in, insert_event, next_seq, no_run, write_event
from storage.fence import Fence, as_fence, holds, lost
from storage.models import Approval, Command, Run, SchemaMigration, table_of, utcnow
from storage.record import ApprovalDecided, HaltRequest, Status
from storage.schema import MIGRATIONS
from storage.step_function import HALT_GUARD
from storage.versions import StoreNewer, refuse_newer
from storage.vocabulary import DRIVEN, HALTABLE_AT_ONCE, RunStatus

_runs = table_of(Run)
_commands = table_of(Command)
_approvals = table_of(Approval)
_migrations = table_of(SchemaMigration)
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
# The same read, and which of the approvals the process's waiting runs wait on no longer wait for a
# person (decided, or past their expiry): the runs waiting here learn of decisions from it.
_HALTED_OR_DECIDED_AMONG = _HALTED_AMONG.add_columns(literal("halt")).union_all(
    select(_approvals.c.run_id, literal("decided")).where(
        _approvals.c.id.in_(bindparam("approval_ids", expanding=True)),
        or_(
            _approvals.c.status != "pending", _approvals.c.expires_at <= db_now()
        ),  # the database's clock
    )
)
# A migration this code does not know: a newer onloop upgraded the store under this process.
_NEWER_SCHEMA = (
    select(_migrations.c.version).where(_migrations.c.version > bindparam("ours")).limit(1)
)
_OURS = max(m.version for m in MIGRATIONS)
# A step starts unless a halt waits or a newer onloop upgraded the store: both in ONE read (a
# row: refused, and which it was is read again after the rollback, off the hot path).
_HALT_OR_NEWER = union_all(
    _FIRST_HALT.with_only_columns(literal("halt")).subquery().select(),
    _NEWER_SCHEMA.with_only_columns(literal("newer")).subquery().select(),
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


def halts_and_decisions(
    store: Store, *, run_ids: list[str], approval_ids: list[int]
) -> tuple[set[str], set[str]]:
    """Which of `run_ids` have a halt waiting, and which runs' approvals among `approval_ids` no
    longer wait for a person (decided, or expired undecided): ONE read for all the runs a process
    drives, what its halt watcher polls (ix_commands_run_consumed, the approvals' primary key)."""
    if not approval_ids:
        return runs_with_halt_pending(store, run_ids=run_ids), set()
    if not run_ids:
        return set(), set()
    params = {"ids": list(run_ids), "approval_ids": list(approval_ids)}
    with reading(store) as conn:
        rows = conn.execute(_HALTED_OR_DECIDED_AMONG, params).all()
    return {r[0] for r in rows if r[1] == "halt"}, {r[0] for r in rows if r[1] == "decided"}


def halt_pending(store: Store, *, run_id: str) -> bool:
    """Whether a halt waits for this run: one indexed read on the driver (one round trip),
    cheap enough to ask before every step."""
    return bool(driver_read(store, _PENDING, {"rid": run_id})[0][0])


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


def _upgraded_under_us(conn: Connection) -> Exception:
    try:
        refuse_newer(conn)
    except StoreNewer as newer:
        return StoreUpgraded(
            f"a newer onloop upgraded the store while this worker drove the run: {newer}"
        )
    return StoreUpgraded("a newer onloop upgraded the store while this worker drove the run")


def begin_step(
    store: Store,
    *,
    run_id: str,
    kind: str,
    payload: dict[str, Any],
    worker_id: str | None = None,
    fence: Fence | None = None,
    usage: Mapping[str, float] | None = None,
    guards: Sequence[Guard] = (),
    durable: bool = False,
    before: Sequence[tuple[str, dict[str, Any]]] = (),
) -> int:
    """Record that a step starts (event `kind`), unless a halt is pending or the run is no longer
    driven (its session ended) or, given `worker_id`, no longer that worker's: then
    HaltRequested and no event. One write transaction; returns the event's seq. Also used to
    record what must not appear after a halt (a late model answer, a final answer). `usage`
    (steps, tokens_in, ...) is added to the run's totals in the same transaction: a reader
    never sees the event without the usage it carries. `guards`: what else the step needs,
    checked after the halt (a tool's approval, consumed by it). `durable`: on disk before this
    returns (a tool's start: storage.durability). `before`: (kind, payload) events written just
    ahead of the step's own, in its transaction (refused with it).

    One fenced UPDATE takes the seq: it locks the run's row first, so a halt committed before
    it is seen by the check after it, and one committed after it gets a higher seq. Only a
    driven run (running, waiting) of this claim matches."""
    fence = as_fence(fence, worker_id)

    def not_started(conn: Connection) -> Exception:
        return _not_started(conn, run_id, kind, fence)

    def refused(conn: Connection) -> Exception:
        # An older onloop stops at its next step once a newer one upgraded the store (a read of
        # a dozen-row table): the run is left to the newer release, as after a lost lease.
        if conn.execute(_NEWER_SCHEMA, {"ours": _OURS}).first() is not None:
            return _upgraded_under_us(conn)
        return not_started(conn)

    no_halt_same_schema = Guard(
        _HALT_OR_NEWER, {"rid": run_id, "ours": _OURS}, "no row", refused, HALT_GUARD
    )
    return write_event(
        store,
        run_id=run_id,
        kind=kind,
        payload=payload,
        fence=fence,
        usage=usage,
        statuses=tuple(sorted(DRIVEN)),  # one shape of the compiled statement
        guards=(no_halt_same_schema, *guards),
        refusal=not_started,
        durable=durable,
        before=before,
    )


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
    with writing(store, durable=True) as conn:  # on disk before anyone acts on it
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
