"""A running turn's partial output: written by the worker while the model streams, read by the
CLI follower and the Run page, deleted when the turn is recorded as its model_call event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update

from storage.engine import Store, reading, writing
from storage.fence import Fence, hold
from storage.models import LiveOutput, table_of, utcnow

_live = table_of(LiveOutput)
MAX_LIVE_CHARS = 20_000  # the tail kept: a reader shows the end of a long answer, not all of it


@dataclass(frozen=True, slots=True)
class LiveText:
    run_id: str
    step: int
    text: str
    updated_at: datetime


def set_live_output(
    store: Store, *, run_id: str, step: int, text: str, fence: Fence | None = None
) -> None:
    """Replace the run's partial output (one row per run; only the newest tail is kept); given
    the driver's `fence`, only while its claim holds (else LeaseLost)."""
    values = {"step": step, "text": text[-MAX_LIVE_CHARS:], "updated_at": utcnow()}
    with writing(store) as conn:
        hold(conn, run_id, fence)
        # Only the run's own worker writes its row, so update-then-insert cannot race itself.
        changed = conn.execute(update(_live).where(_live.c.run_id == run_id).values(values))
        if changed.rowcount == 0:
            conn.execute(insert(_live).values(run_id=run_id, **values))


def clear_live_output(store: Store, *, run_id: str, fence: Fence | None = None) -> None:
    with writing(store) as conn:
        hold(conn, run_id, fence)
        conn.execute(delete(_live).where(_live.c.run_id == run_id))


def live_output(store: Store, *, run_id: str) -> LiveText | None:
    """The run's partial output, or None when no turn is streaming."""
    with reading(store) as conn:
        row = conn.execute(select(_live).where(_live.c.run_id == run_id)).first()
    if row is None:
        return None
    return LiveText(row.run_id, row.step, row.text, row.updated_at)
