"""Automatic recovery in the store: a run interrupted by a lost worker or database is queued
again by any worker (a `recovered` event says so), or handed to a person, in one transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from storage.engine import Store, read_session, writing
from storage.events import append_in, no_run
from storage.halts import pending_halt_by
from storage.models import Run, table_of, utcnow
from storage.record import Recovered, Status
from storage.vocabulary import RunStatus

_runs = table_of(Run)


def lapsed_runs(store: Store, *, reasons: tuple[str, ...], limit: int) -> list[Run]:
    """Interrupted runs nobody holds, for one of `reasons`, oldest first."""
    query = (
        select(Run)
        .where(
            col(Run.status) == "interrupted",
            col(Run.reason).in_(reasons),
            col(Run.worker_id).is_(None),
        )
        .order_by(col(Run.created_at), col(Run.id))
        .limit(limit)
    )
    with read_session(store) as session:
        return list(session.scalars(query))


def _still_lapsed(conn: Any, run_id: str, reason: str) -> bool:
    """Lock the run; True while it is interrupted for `reason` and nobody holds or halts it."""
    row = conn.execute(
        select(_runs.c.status, _runs.c.reason, _runs.c.worker_id)
        .where(_runs.c.id == run_id)
        .with_for_update()
    ).first()
    if row is None:
        raise no_run(run_id)
    lapsed = row.status == "interrupted" and row.reason == reason and row.worker_id is None
    return lapsed and pending_halt_by(conn, run_id) is None


def recover_run(store: Store, *, run_id: str, expect_reason: str, detail: dict[str, Any]) -> bool:
    """Queue the run again with a `recovered` event (`detail`: what was in flight, who did it);
    False, and nothing written, when it is no longer interrupted for `expect_reason` (another
    worker or a person got there first)."""
    with writing(store) as conn:
        if not _still_lapsed(conn, run_id, expect_reason):
            return False
        append_in(conn, run_id=run_id, **Recovered(**detail).row())
        queued = {"status": "queued", "reason": None, "finished_at": None, "updated_at": utcnow()}
        conn.execute(update(_runs).where(_runs.c.id == run_id).values(queued))
        queued_again = Status(status=RunStatus.QUEUED, reason=None, resumed=True, automatic=True)
        append_in(conn, run_id=run_id, **queued_again.row())
    return True


def hand_to_a_person(store: Store, *, run_id: str, expect_reason: str, reason: str) -> bool:
    """The run stays interrupted, now with `reason` (why a person must resume it), so workers
    stop looking at it; False when it changed meanwhile."""
    with writing(store) as conn:
        if not _still_lapsed(conn, run_id, expect_reason):
            return False
        values = {"reason": reason, "updated_at": utcnow()}
        conn.execute(update(_runs).where(_runs.c.id == run_id).values(values))
        still = Status(status=RunStatus.INTERRUPTED, reason=reason)
        append_in(conn, run_id=run_id, **still.row())
    return True
