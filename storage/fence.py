"""Fencing: a worker's writes for a run hold only while its claim does.

Every claim names the worker and bumps `runs.claim_epoch`; a session carries both (a Fence) and
each of its writes is conditional on them in the same transaction as the write itself. A lease
that lapsed clears `worker_id`, and a new claim bumps the epoch, so a worker that stalled past
its lease (a GC pause, a frozen VM, a partition) has every write refused with LeaseLost, even
when it is the same worker that claimed the run again since.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, select

from storage.errors import LeaseLost, NotFound
from storage.models import Run, table_of

_runs = table_of(Run)


@dataclass(frozen=True)
class Fence:
    """The claim a session writes under: the worker and the epoch of its claim."""

    worker_id: str
    epoch: int | None = None  # None: only the worker is checked (a caller without an epoch)

    def clauses(self) -> tuple[ColumnElement[bool], ...]:
        held = [_runs.c.worker_id == self.worker_id]
        if self.epoch is not None:
            held.append(_runs.c.claim_epoch == self.epoch)
        return tuple(held)


def as_fence(fence: Fence | None, worker_id: str | None) -> Fence | None:
    """The fence to check: the one given, or the bare worker id of older callers."""
    if fence is not None or worker_id is None:
        return fence
    return Fence(worker_id)


def no_run(run_id: str) -> NotFound:
    return NotFound(f"no run with id {run_id}; `onloop runs` lists them")


def lost(run_id: str, fence: Fence) -> LeaseLost:
    claim = "" if fence.epoch is None else f" (claim {fence.epoch})"
    return LeaseLost(
        f"run {run_id} is no longer {fence.worker_id}'s{claim}: its lease lapsed or another "
        "worker claimed it; the write was refused"
    )


def hold(conn: Connection, run_id: str, fence: Fence | None) -> None:
    """Inside a write transaction: lock the run's row and check the fence (LeaseLost, NotFound).

    SQLite's BEGIN IMMEDIATE already holds the write lock; on PostgreSQL FOR UPDATE waits for a
    concurrent claim to commit and then reads the row as that claim left it."""
    if fence is None:
        return
    row = conn.execute(
        select(_runs.c.worker_id, _runs.c.claim_epoch).where(_runs.c.id == run_id).with_for_update()
    ).first()
    if row is None:
        raise no_run(run_id)
    if not holds(fence, row.worker_id, row.claim_epoch):
        raise lost(run_id, fence)


def holds(fence: Fence, worker_id: str | None, epoch: int) -> bool:
    return worker_id == fence.worker_id and (fence.epoch is None or epoch == fence.epoch)


def refused(conn: Connection, run_id: str, fence: Fence | None) -> Exception:
    """Why a fenced UPDATE matched no row: no such run, or the fence no longer holds."""
    exists = conn.execute(select(_runs.c.id).where(_runs.c.id == run_id)).first()
    if exists is None or fence is None:
        return no_run(run_id)
    return lost(run_id, fence)
