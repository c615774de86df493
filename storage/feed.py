"""Reads for the Run page's step feed: a run's pulse, pages of its events, and where a step starts.

Each is one indexed query whatever the run's length: the pulse reads one runs row by primary key;
a page walks the (run_id, seq) unique index from a known seq in one direction and stops after
`n` matching rows; a kind filter is part of the same query, never done in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import bindparam, func, select

from storage.engine import Store, reading
from storage.events import EventRecord
from storage.models import Event, Run, table_of
from storage.record import ModelCall, ModelRequest, field
from storage.vocabulary import EventKind

_runs = table_of(Run)
_events = table_of(Event)
_COLUMNS = (_events.c.run_id, _events.c.seq, _events.c.kind, _events.c.at, _events.c.payload)

# What the Run page's filter offers, in its words: each name stands for the event kinds it shows.
K = EventKind
KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "tool calls": (K.TOOL_CALL, K.TOOL_STARTED, K.TOOL_RESULT),
    "approvals": (K.APPROVAL_REQUESTED, K.APPROVAL_DECIDED),
    "drift": (K.DRIFT, K.JUDGE, K.GOAL_CHECK),
    "errors": (K.ERROR,),
    "guidance and steering": (K.GUIDANCE, K.HALT_REQUESTED, K.RECOVERED, K.STATUS),
}


def _records(rows: Any) -> list[EventRecord]:
    # Its own copy of storage.events' row mapping: that module's hot path is changing elsewhere.
    return [EventRecord(r[0], r[1], r[2], r[3], r[4] if r[4] is not None else {}) for r in rows]


Direction = Literal["newest", "before", "after", "from"]


@dataclass(frozen=True, slots=True)
class RunPulse:
    """What tells a viewer that a run moved: its status and its newest event's seq."""

    status: str
    last_seq: int


_PULSE = select(_runs.c.status, _runs.c.last_seq).where(_runs.c.id == bindparam("rid"))


def run_pulse(store: Store, *, run_id: str) -> RunPulse | None:
    """The run's status and last seq (one primary-key read), or None when there is no such run."""
    with reading(store) as conn:
        row = conn.execute(_PULSE, {"rid": run_id}).first()
    return RunPulse(row[0], row[1]) if row else None


def event_page(
    store: Store,
    *,
    run_id: str,
    direction: Direction = "newest",
    seq: int = 0,
    n: int = 100,
    kinds: tuple[str, ...] | None = None,
) -> list[EventRecord]:
    """Up to `n` events of the run (only `kinds`, when given), ascending.

    newest: the last n; before: the last n with seq < `seq`; after: the first n with seq > `seq`;
    from: the first n with seq >= `seq`.
    """
    query = select(*_COLUMNS).where(_events.c.run_id == run_id)
    if kinds is not None:
        query = query.where(_events.c.kind.in_(kinds))
    backwards = direction in ("newest", "before")
    if direction == "before":
        query = query.where(_events.c.seq < seq)
    elif direction == "after":
        query = query.where(_events.c.seq > seq)
    elif direction == "from":
        query = query.where(_events.c.seq >= seq)
    order = _events.c.seq.desc() if backwards else _events.c.seq
    with reading(store) as conn:
        rows = conn.execute(query.order_by(order).limit(n)).all()
    return _records(reversed(rows) if backwards else rows)


def count_events(store: Store, *, run_id: str, kinds: tuple[str, ...] | None = None) -> int:
    """How many events the run has (only `kinds`, when given)."""
    query = select(func.count()).select_from(_events).where(_events.c.run_id == run_id)
    if kinds is not None:
        query = query.where(_events.c.kind.in_(kinds))
    with reading(store) as conn:
        return int(conn.execute(query).scalar() or 0)


_STEP = _events.c.payload[field(ModelCall, "step")].as_integer()
_STEP_KINDS = (EventKind.MODEL_REQUEST, EventKind.MODEL_CALL)
field(ModelRequest, "step")  # both kinds name the step alike


def step_start(store: Store, *, run_id: str, step: int) -> int | None:
    """The seq of the first event of model step `step` (its request, else its call), or None."""
    query = select(func.min(_events.c.seq)).where(
        _events.c.run_id == run_id, _events.c.kind.in_(_STEP_KINDS), _STEP == step
    )
    with reading(store) as conn:
        return conn.execute(query).scalar()
