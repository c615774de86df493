"""A session's own status writes: the run marked driven (running <-> waiting, and at the
session's start) and the session's end, each with its `status` event in one transaction.

Every session starts and ends once, and the usual case (the claim still holds, the run is
driven, no halt waits at the end) runs on the driver (storage.driver_sql): the fenced seq bump,
a halt check at the end and one UPDATE, compiled once, instead of five or six Core executions.
Anything else (a halt pending at the end, the claim lost, the run ended, no such run) is rolled
back there and done again on the Core path, which says what happened; a test holds both paths
to the same answers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, literal, select, update

from storage.engine import Store, writing
from storage.errors import StoreError
from storage.events import Guard, insert_event, next_seq, no_run, write_event
from storage.fence import Fence, as_fence, holds
from storage.halts import begin_step, consume_halts, halt_pending_for, pending_halt_by
from storage.halts import mark_driven as mark_driven_in_core
from storage.models import Run, table_of, utcnow
from storage.record import Status
from storage.runs import UPDATABLE, session_ending
from storage.vocabulary import DRIVEN, RUN_STATUSES, EventKind, RunStatus

_runs = table_of(Run)
_OWNER = select(_runs.c.status, _runs.c.worker_id, _runs.c.claim_epoch).where(
    _runs.c.id == bindparam("rid")
)
_HALT_WAITS = select(literal(1)).where(halt_pending_for(bindparam("rid")))
_UPDATES: dict[tuple[str, ...], Any] = {}


class _Unusual(Exception):
    """Not the usual case: rolled back, to be done on the Core path."""


def _unusual(_conn: Connection) -> Exception:
    return _Unusual()


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
    """A driven run's running <-> waiting move and its `status` event, in one transaction; its
    seq. HaltRequested (nothing written) when the run is no longer driven (halted, interrupted
    or ended meanwhile); LeaseLost when the claim (`fence`, or the bare `worker_id`) no longer
    holds: as storage.halts.mark_driven, which says which."""
    fence = as_fence(fence, worker_id)
    if status not in DRIVEN or set(fields) - UPDATABLE:  # refused there, with why
        return mark_driven_in_core(
            store, run_id=run_id, status=status, reason=reason, fence=fence, **fields
        )
    values = {**fields, "status": status, "reason": reason, "updated_at": utcnow()}
    try:
        return write_event(
            store,
            run_id=run_id,
            **Status(status=RunStatus(status), reason=reason).row(),
            fence=fence,
            statuses=tuple(sorted(DRIVEN)),  # the shape a step's start compiles too
            guards=(_setting(run_id, values),),
            refusal=_unusual,
        )
    except _Unusual:
        return mark_driven_in_core(
            store, run_id=run_id, status=status, reason=reason, fence=fence, **fields
        )


def begin_session(
    store: Store,
    *,
    run_id: str,
    started: dict[str, Any],
    status: str,
    reason: str | None = None,
    fence: Fence | None = None,
    **fields: Any,
) -> int:
    """A session's start in one transaction: its `run_started` event (payload `started`), then
    the run marked driven (`status`, `fields`) with its `status` event; the status event's seq.
    Refused whole as a step's start is (storage.begin_step): HaltRequested when a halt waits or
    the run is no longer driven, LeaseLost when the claim no longer holds; nothing written."""
    if status not in DRIVEN or set(fields) - UPDATABLE:
        raise StoreError(f"a session cannot start {status!r} setting {sorted(fields)}")
    values = {**fields, "status": status, "reason": reason, "updated_at": utcnow()}
    marked = Status(status=RunStatus(status), reason=reason).row()
    try:
        return begin_step(
            store,
            run_id=run_id,
            **marked,
            fence=fence,
            guards=(_setting(run_id, values),),
            before=((EventKind.RUN_STARTED.value, started),),
        )
    except _Unusual:  # the run's row did not change: said by the two writes on their own
        begin_step(store, run_id=run_id, kind=EventKind.RUN_STARTED, payload=started, fence=fence)
        return mark_driven(
            store, run_id=run_id, status=status, reason=reason, fence=fence, **fields
        )


def _setting(run_id: str, values: dict[str, Any]) -> Guard:
    """The guard that sets a run's fields (it holds when the run's row changed)."""
    bound = {"rid": run_id, **{f"v_{name}": value for name, value in values.items()}}
    return Guard(_update_for(tuple(sorted(values))), bound, "one changed", _unusual)


def finish_session(
    store: Store,
    *,
    run_id: str,
    worker_id: str,
    status: str,
    epoch: int | None = None,
    **fields: Any,
) -> str:
    """End a worker's session of a run: its status, fields and `status` event in one transaction,
    releasing the run. A pending halt wins over any other ending (the run ends `halted`, the halt
    is consumed). A session that is no longer this worker's (its lease lapsed, the run was halted
    or taken over, i.e. its worker or claim `epoch` no longer the run's) writes nothing. Returns
    the run's status afterwards."""
    unknown = set(fields) - UPDATABLE
    if unknown or status not in RUN_STATUSES:
        raise StoreError(f"finish_session cannot set {sorted(unknown) or status!r}")
    try:
        return _usual_ending(store, run_id, Fence(worker_id, epoch), status, fields)
    except _Unusual:
        return _any_ending(store, run_id, Fence(worker_id, epoch), status, fields)


def _usual_ending(
    store: Store, run_id: str, fence: Fence, status: str, fields: dict[str, Any]
) -> str:
    """The ending while the claim holds and no halt waits, on the driver; _Unusual otherwise
    (nothing written)."""
    ending = {**fields, "status": status}
    values = {**ending, "worker_id": None, "lease_expires_at": None, "updated_at": utcnow()}
    write_event(
        store,
        run_id=run_id,
        **Status(status=RunStatus(status), reason=ending.get("reason")).row(),
        fence=fence,
        guards=(Guard(_HALT_WAITS, {"rid": run_id}, "no row", _unusual), _setting(run_id, values)),
        refusal=_unusual,
    )
    return status


def _update_for(names: tuple[str, ...]) -> Any:
    """The UPDATE setting these fields of a run, built once per set of names (so compiled once)."""
    found = _UPDATES.get(names)
    if found is None:
        values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in names}
        found = update(_runs).where(_runs.c.id == bindparam("rid")).values(values)
        _UPDATES[names] = found
    return found


def _any_ending(
    store: Store, run_id: str, fence: Fence, status: str, fields: dict[str, Any]
) -> str:
    """Any ending, on Core: a pending halt wins, a lost claim writes nothing."""
    now = utcnow()
    with writing(store) as conn:
        row = conn.execute(_OWNER.with_for_update(), {"rid": run_id}).first()
        if row is None:
            raise no_run(run_id)
        if not holds(fence, row.worker_id, row.claim_epoch):
            return str(row.status)
        seq = next_seq(conn, run_id)
        by = pending_halt_by(conn, run_id)
        ending = {**fields, "status": status}
        if by is not None:
            consume_halts(conn, run_id)
            ending.pop("result", None)
            ending.update(session_ending(by, status, None, now))
        released = {"worker_id": None, "lease_expires_at": None, "updated_at": now}
        conn.execute(update(_runs).where(_runs.c.id == run_id).values({**released, **ending}))
        ended = Status(status=ending["status"], reason=ending.get("reason"))
        insert_event(conn, run_id=run_id, seq=seq, **ended.row())
    return str(ending["status"])
