"""A worker's session of a run ends: its status, fields and `status` event in one transaction,
releasing the run.

Every session ends once, and the usual ending (the claim still holds, no halt waits) runs on the
driver (storage.driver_sql): the fenced seq bump, a halt check and one UPDATE, compiled once,
instead of six Core executions. Any other ending (a halt pending, the claim lost, no such run)
is rolled back there and done again on the Core path, which says what happened; a test holds
both paths to the same answers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, literal, select, update

from storage.engine import Store, writing
from storage.errors import StoreError
from storage.events import Guard, insert_event, next_seq, no_run, write_event
from storage.fence import Fence, holds
from storage.halts import consume_halts, halt_pending_for, pending_halt_by
from storage.models import Run, table_of, utcnow
from storage.record import Status
from storage.runs import UPDATABLE, session_ending
from storage.vocabulary import RUN_STATUSES, RunStatus

_runs = table_of(Run)
_OWNER = select(_runs.c.status, _runs.c.worker_id, _runs.c.claim_epoch).where(
    _runs.c.id == bindparam("rid")
)
_HALT_WAITS = select(literal(1)).where(halt_pending_for(bindparam("rid")))
_RELEASES: dict[tuple[str, ...], Any] = {}


class _Unusual(Exception):
    """Not the usual ending: rolled back, to be done on the Core path."""


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
    release = _release_for(tuple(sorted(values)))
    bound = {"rid": run_id, **{f"v_{name}": value for name, value in values.items()}}

    def unusual(_conn: Connection) -> Exception:
        return _Unusual()

    write_event(
        store,
        run_id=run_id,
        **Status(status=RunStatus(status), reason=ending.get("reason")).row(),
        fence=fence,
        guards=(
            Guard(_HALT_WAITS, {"rid": run_id}, "no row", unusual),
            Guard(release, bound, "one changed", unusual),
        ),
        refusal=unusual,
    )
    return status


def _release_for(names: tuple[str, ...]) -> Any:
    """The UPDATE setting these fields of a run, built once per set of names (so compiled once)."""
    release = _RELEASES.get(names)
    if release is None:
        values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in names}
        release = update(_runs).where(_runs.c.id == bindparam("rid")).values(values)
        _RELEASES[names] = release
    return release


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
