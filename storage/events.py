"""The append-only event record: the hot path, in SQLAlchemy Core with prebuilt statements."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, bindparam, select, text, update
from sqlalchemy.exc import DBAPIError

from storage.engine import Store, json_dumps, reading, write_turn, writing
from storage.fence import Fence, hold, refused
from storage.fence import no_run as no_run
from storage.models import Event, Run, table_of, tool_fields, utcnow
from storage.record import parse_event
from storage.vocabulary import USAGE_NAMES

_runs = table_of(Run)
_events = table_of(Event)


@dataclass(frozen=True, slots=True)
class EventRecord:
    run_id: str
    seq: int
    kind: str
    at: datetime
    payload: dict[str, Any]

    def exported(self) -> dict[str, Any]:
        """The event as a run export shows it, its payload read through its kind's model."""
        payload = parse_event(self.kind, self.payload).payload()
        return {"seq": self.seq, "kind": self.kind, "at": self.at.isoformat(), "payload": payload}


# Built once: SQLAlchemy caches the compiled form, so each append only binds values.
_BUMP_SEQ = (
    update(_runs)
    .where(_runs.c.id == bindparam("rid"))
    .values(last_seq=_runs.c.last_seq + 1)
    .returning(_runs.c.last_seq)
)
_BUMP_SEQ_PLAIN = (
    update(_runs).where(_runs.c.id == bindparam("rid")).values(last_seq=_runs.c.last_seq + 1)
)
_READ_SEQ = select(_runs.c.last_seq).where(_runs.c.id == bindparam("rid"))
_INSERT_EVENT = _events.insert()
# One more tool call on its run's day (storage.models.ToolCallCount). Plain SQL: SQLite and
# PostgreSQL spell this upsert the same way, and sqlite3 on the fast path takes it as it is.
_COUNT_TOOL_CALL_SQL = (
    "INSERT INTO tool_call_counts (day, tool, verdict, calls) "
    "SELECT date(created_at), :tool, :verdict, 1 FROM runs WHERE id = :rid "
    "ON CONFLICT (day, tool, verdict) DO UPDATE SET calls = tool_call_counts.calls + 1"
)
_COUNT_TOOL_CALL = text(_COUNT_TOOL_CALL_SQL)
_COLUMNS = (_events.c.run_id, _events.c.seq, _events.c.kind, _events.c.at, _events.c.payload)
_AFTER = (
    select(*_COLUMNS)
    .where(_events.c.run_id == bindparam("rid"), _events.c.seq > bindparam("after"))
    .order_by(_events.c.seq)
)
_AFTER_LIMITED = _AFTER.limit(bindparam("n"))
_LAST = (
    select(*_COLUMNS)
    .where(_events.c.run_id == bindparam("rid"))
    .order_by(_events.c.seq.desc())
    .limit(bindparam("n"))
)


def next_seq(conn: Connection, run_id: str, fence: Fence | None = None) -> int:
    """Take the run's next seq inside the caller's write transaction (LeaseLost when `fence`,
    the writer's claim, no longer holds: nothing is taken)."""
    hold(conn, run_id, fence)
    if conn.dialect.update_returning:
        seq = conn.execute(_BUMP_SEQ, {"rid": run_id}).scalar()
    else:  # SQLite older than 3.35: the write lock is already ours, so read-after-write is safe
        bumped = conn.execute(_BUMP_SEQ_PLAIN, {"rid": run_id}).rowcount
        seq = conn.execute(_READ_SEQ, {"rid": run_id}).scalar() if bumped else None
    if seq is None:
        raise no_run(run_id)
    return seq


def insert_event(conn: Connection, *, run_id: str, seq: int, kind: str, payload: dict) -> None:
    tool, verdict = tool_fields(kind, payload)
    conn.execute(
        _INSERT_EVENT,
        {
            "run_id": run_id,
            "seq": seq,
            "kind": kind,
            "at": utcnow(),
            "payload": payload,
            "tool": tool,
            "verdict": verdict,
        },
    )
    if kind == "tool_call":
        conn.execute(_COUNT_TOOL_CALL, _count_params(run_id, tool, verdict))


def _count_params(run_id: str, tool: str | None, verdict: str | None) -> dict[str, str]:
    return {"rid": run_id, "tool": tool or "", "verdict": verdict or ""}


def check_usage(usage: Mapping[str, float] | None) -> None:
    """ValueError for a name that is not one of USAGE_NAMES (before anything is written)."""
    for name in usage or ():
        if name not in USAGE_NAMES:
            raise ValueError(f"unknown usage {name!r}; one of {', '.join(USAGE_NAMES)}")


def usage_values(usage: Mapping[str, float] | None) -> dict[str, Any]:
    """SET clauses adding `usage` (steps, tokens, cost...) to a run's totals, atomically."""
    values: dict[str, Any] = {}
    for name, amount in (usage or {}).items():
        if name not in USAGE_NAMES:
            raise ValueError(f"unknown usage {name!r}; one of {', '.join(USAGE_NAMES)}")
        if amount:
            values[name] = _runs.c[name] + amount
    if values:
        values["updated_at"] = utcnow()
    return values


def append_in(
    conn: Connection,
    *,
    run_id: str,
    kind: str,
    payload: dict[str, Any],
    fence: Fence | None = None,
    usage: Mapping[str, float] | None = None,
) -> int:
    """append_event inside a transaction the caller already holds."""
    seq = next_seq(conn, run_id, fence)
    insert_event(conn, run_id=run_id, seq=seq, kind=kind, payload=payload)
    values = usage_values(usage)
    if values:
        conn.execute(update(_runs).where(_runs.c.id == run_id).values(values))
    return seq


def append_event(
    store: Store,
    *,
    run_id: str,
    kind: str,
    payload: dict[str, Any],
    fence: Fence | None = None,
    usage: Mapping[str, float] | None = None,
) -> int:
    """Record one event (its own transaction, committed on return); returns its seq. Given the
    writer's `fence`, only while its claim holds (else LeaseLost and nothing is written).
    `usage` (steps, tool_calls, tokens_in, ...) is added to the run's totals in the same
    transaction, so a reader never sees the event without the usage it carries."""
    check_usage(usage)  # an unknown name is refused before anything is written
    if sqlite_fast(store):
        seq = append_sqlite(
            store, run_id=run_id, kind=kind, payload=payload, fence=fence, usage=usage
        )
        assert seq is not None  # only a step (step=True) may be turned down
        return seq
    with writing(store) as conn:
        return append_in(conn, run_id=run_id, kind=kind, payload=payload, fence=fence, usage=usage)


# The SQLite fast path (stdlib sqlite3 driver). A Core execution costs ~35 us of Python per
# statement, several times what SQLite itself needs, and Core managed only ~0.3x raw sqlite3;
# so the hot path runs on the pooled DBAPI connection (pragmas applied by the connect hook). It
# writes exactly what the Core path writes: the same JSON serialiser and SQLAlchemy's datetime
# text format ("YYYY-MM-DD HH:MM:SS.ffffff"); tests hold both paths to the same results.
_SQLITE_RETURNING = sqlite3.sqlite_version_info >= (3, 35)
_SQLITE_BUMP = "UPDATE runs SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq"
_SQLITE_BUMP_FENCED = (
    "UPDATE runs SET last_seq = last_seq + 1 WHERE id = ? AND worker_id = ? "
    "AND (? IS NULL OR claim_epoch = ?) RETURNING last_seq"
)
# A step's start (storage.halts.begin_step): only while the run is driven (DRIVEN there).
_SQLITE_STEP = _SQLITE_BUMP.replace(
    " WHERE id = ?", " WHERE id = ? AND status IN ('running', 'waiting')"
)
_SQLITE_STEP_FENCED = _SQLITE_BUMP_FENCED.replace(
    " WHERE id = ?", " WHERE id = ? AND status IN ('running', 'waiting')"
)
_SQLITE_HALT_PENDING = (
    "SELECT 1 FROM commands WHERE run_id = ? AND consumed_at IS NULL AND kind = 'halt' LIMIT 1"
)
_SQLITE_USAGE = (
    "UPDATE runs SET steps = steps + ?, tool_calls = tool_calls + ?, tokens_in = tokens_in + ?, "
    "tokens_out = tokens_out + ?, cost_usd = cost_usd + ?, updated_at = ? WHERE id = ?"
)
_SQLITE_INSERT = (
    "INSERT INTO events (run_id, seq, kind, at, payload, tool, verdict) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def sqlite_fast(store: Store) -> bool:
    """Whether the store takes the SQLite fast path (the stdlib driver, RETURNING)."""
    return _SQLITE_RETURNING and store.engine.dialect.driver == "pysqlite"


def append_sqlite(
    store: Store,
    *,
    run_id: str,
    kind: str,
    payload: dict[str, Any],
    fence: Fence | None,
    usage: Mapping[str, float] | None = None,
    step: bool = False,
) -> int | None:
    """append_event on the SQLite fast path; its seq. With `step`, storage.halts.begin_step's
    common case: the event only while the run is driven (by `fence`'s claim) and no halt is
    pending; None (nothing written) otherwise, and the caller's Core path says why."""
    at = utcnow().isoformat(sep=" ", timespec="microseconds")
    body = json_dumps(payload)  # serialise before taking the write lock, not while holding it
    tool, verdict = tool_fields(kind, payload)
    with write_turn(store):
        return _append_sqlite_turn(store, run_id, kind, at, body, tool, verdict, fence, usage, step)


def _append_sqlite_turn(
    store: Store,
    run_id: str,
    kind: str,
    at: str,
    body: str,
    tool: str | None,
    verdict: str | None,
    fence: Fence | None,
    usage: Mapping[str, float] | None,
    step: bool,
) -> int | None:
    pooled = store.engine.raw_connection()  # connect hooks applied: pragmas, no implicit BEGIN
    try:
        dbapi = cast(sqlite3.Connection, pooled.driver_connection)
        statement, params = "BEGIN IMMEDIATE", cast(tuple[Any, ...] | dict[str, str], ())
        try:
            dbapi.execute(statement)
            statement, params = _SQLITE_STEP if step else _SQLITE_BUMP, (run_id,)
            if fence is not None:
                statement = _SQLITE_STEP_FENCED if step else _SQLITE_BUMP_FENCED
                params = (run_id, fence.worker_id, fence.epoch, fence.epoch)
            rows = dbapi.execute(statement, params).fetchall()
            if step and rows:  # the row is locked now: a halt committed before is seen here
                statement, params = _SQLITE_HALT_PENDING, (run_id,)
                if dbapi.execute(statement, params).fetchall():
                    rows = []
            if not rows:
                dbapi.execute("ROLLBACK")
                if step:
                    return None
                with reading(store) as conn:
                    raise refused(conn, run_id, fence)
            seq = rows[0][0]
            statement, params = _SQLITE_INSERT, (run_id, seq, kind, at, body, tool, verdict)
            dbapi.execute(statement, params)
            if kind == "tool_call":
                statement, params = _COUNT_TOOL_CALL_SQL, _count_params(run_id, tool, verdict)
                dbapi.execute(statement, params)
            if usage and any(usage.values()):
                amounts = tuple(usage.get(name, 0) for name in USAGE_NAMES)
                statement, params = _SQLITE_USAGE, (*amounts, at, run_id)
                dbapi.execute(statement, params)
            dbapi.execute("COMMIT")
        except sqlite3.Error as error:
            if dbapi.in_transaction:
                dbapi.execute("ROLLBACK")
            raise DBAPIError.instance(statement, params, error, sqlite3.Error) from error
        return seq
    finally:
        pooled.close()  # back to the pool


def _records(rows: Any) -> list[EventRecord]:
    return [EventRecord(r[0], r[1], r[2], r[3], r[4] if r[4] is not None else {}) for r in rows]


def events_after(
    store: Store, *, run_id: str, after_seq: int = 0, limit: int | None = None
) -> list[EventRecord]:
    """Events with seq > after_seq, ascending (what a live view polls for)."""
    query, params = _AFTER, {"rid": run_id, "after": after_seq}
    if limit is not None:
        query, params = _AFTER_LIMITED, {**params, "n": limit}
    with reading(store) as conn:
        rows = conn.execute(query, params).all()
    return _records(rows)


def last_events(store: Store, *, run_id: str, n: int) -> list[EventRecord]:
    """The last n events of a run, ascending."""
    if n <= 0:
        return []
    with reading(store) as conn:
        rows = conn.execute(_LAST, {"rid": run_id, "n": n}).all()
    return _records(reversed(rows))
