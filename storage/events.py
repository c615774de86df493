"""The append-only event record: the hot path, with statements built once."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, insert, or_, select, text, update
from sqlalchemy.sql import ClauseElement

from storage.driver_sql import DriverTransaction, driver_rows, driver_transaction
from storage.engine import Store, reading
from storage.fence import Fence, hold, refused
from storage.fence import no_run as no_run
from storage.models import Event, Run, table_of, tool_fields, utcnow
from storage.record import parse_event
from storage.server_steps import Missing, Refused, usable, write_events
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
_EVENT_COLUMNS = ("run_id", "seq", "kind", "at", "payload", "tool", "verdict")
# Every event row is written by this one statement, whichever transaction it is part of; inline:
# no RETURNING of the id (nobody reads it).
_INSERT_EVENT = insert(_events).values({name: bindparam(name) for name in _EVENT_COLUMNS}).inline()
# A transaction's events in one statement (a step's start writes up to three): each statement
# the driver runs lets go of the GIL and, on PostgreSQL, is a round trip. Built once per count.
_INSERT_EVENTS: dict[int, Any] = {1: _INSERT_EVENT}
_ROWS_AT_ONCE = 16
# One more tool call on its run's day (storage.models.ToolCallCount). Plain SQL: SQLite and
# PostgreSQL spell this upsert the same way.
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


def event_row(*, run_id: str, seq: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An event's column values (the `tool` and `verdict` columns copied from its payload)."""
    tool, verdict = tool_fields(kind, payload)
    return {
        "run_id": run_id,
        "seq": seq,
        "kind": kind,
        "at": utcnow(),
        "payload": payload,
        "tool": tool,
        "verdict": verdict,
    }


def insert_event(conn: Connection, *, run_id: str, seq: int, kind: str, payload: dict) -> None:
    """Write an event inside the caller's Core transaction (write_event writes one on its own)."""
    row = event_row(run_id=run_id, seq=seq, kind=kind, payload=payload)
    conn.execute(_INSERT_EVENT, row)
    if kind == "tool_call":
        conn.execute(_COUNT_TOOL_CALL, _count_params(run_id, row["tool"], row["verdict"]))


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
    return write_event(store, run_id=run_id, kind=kind, payload=payload, fence=fence, usage=usage)


@dataclass(frozen=True, slots=True)
class Guard:
    """A statement a write of one event runs once the run's row is locked (its seq taken): the
    event is written only if the guard holds, else nothing is and `refusal` says why (read after
    the rollback). `statement` is built once (a module constant), so it is compiled once."""

    statement: ClauseElement
    values: Mapping[str, Any]
    holds: Literal["no row", "one changed"]
    refusal: Callable[[Connection], Exception]
    # The same check as storage.server_steps' function runs it on PostgreSQL (one of its
    # KNOWN_GUARDS, taking these values), or None: a write with it takes the driver path.
    server: str | None = None


class _Refused(Exception):
    def __init__(self, refusal: Callable[[Connection], Exception]) -> None:
        self.refusal = refusal


_BUMPS: dict[tuple[str, tuple[str, ...], bool, bool, int], Any] = {}


def _bump_for(
    fence: Fence | None, statuses: tuple[str, ...], returning: bool, usage: bool, events: int = 1
) -> Any:
    """The UPDATE taking the run's next `events` seqs, built once per shape: fenced by worker or
    claim or not, only in `statuses` or in any, with RETURNING or without, adding usage or not.
    The usage goes in the same UPDATE (one statement fewer): the row it changes is the one the
    bump locks, in the same transaction, and a refused write rolls both back."""
    held_by = "none" if fence is None else "worker" if fence.epoch is None else "claim"
    shape = (held_by, statuses, returning, usage, events)
    bump = _BUMPS.get(shape)
    if bump is None:
        where = [_runs.c.id == bindparam("rid")]
        if statuses:
            where.append(or_(*(_runs.c.status == status for status in statuses)))
        if fence is not None:
            where.append(_runs.c.worker_id == bindparam("wid"))
            if fence.epoch is not None:
                where.append(_runs.c.claim_epoch == bindparam("epoch"))
        bump = update(_runs).where(*where).values(last_seq=_runs.c.last_seq + events)
        if usage:
            bump = bump.values(_ADDED_USAGE).values(updated_at=bindparam("now"))
        bump = _BUMPS[shape] = bump.returning(_runs.c.last_seq) if returning else bump
    return bump


_ADDED_USAGE = {name: _runs.c[name] + bindparam(f"add_{name}") for name in USAGE_NAMES}


def write_event(
    store: Store,
    *,
    run_id: str,
    kind: str,
    payload: dict[str, Any],
    fence: Fence | None = None,
    usage: Mapping[str, float] | None = None,
    statuses: tuple[str, ...] = (),
    guards: Sequence[Guard] = (),
    refusal: Callable[[Connection], Exception] | None = None,
    durable: bool = False,
    before: Sequence[tuple[str, dict[str, Any]]] = (),
) -> int:
    """One event in a write transaction of its own (the hot path: see storage.driver_sql);
    its seq. Written only while `fence`'s claim holds, the run is in one of `statuses` (any
    when empty) and every guard holds, with `usage` added to the run's totals; else nothing is
    written and `refusal` (default: no such run, or LeaseLost) says why. `durable`: on disk
    before this returns (storage.durability). `before`: (kind, payload) events written just
    ahead of it in the same transaction, under the same checks (all or none)."""
    check_usage(usage)  # an unknown name is refused before anything is written
    rows = [event_row(run_id=run_id, seq=0, kind=k, payload=p) for k, p in before]
    rows.append(row := event_row(run_id=run_id, seq=0, kind=kind, payload=payload))
    adds = {f"add_{name}": (usage or {}).get(name, 0) for name in USAGE_NAMES}
    added = {**adds, "now": row["at"]} if any(adds.values()) else None
    if usable(store, [guard.server for guard in guards]):
        try:  # PostgreSQL: the same transaction in one round trip
            return _server_write(store, run_id, fence, statuses, added, guards, rows, durable)
        except Refused as refused_write:
            refusal_of = {guard.server: guard.refusal for guard in guards}
            default = refusal or (lambda conn: refused(conn, run_id, fence))
            with reading(store) as conn:
                raise refusal_of.get(refused_write.why, default)(conn) from None
        except Missing:
            pass  # the driver path, below (and for this store from now on)
    try:
        with driver_transaction(store, durable=durable) as transaction:
            seq = _take_seq(transaction, store, run_id, fence, statuses, added, len(rows))
            if seq is None:
                raise _Refused(refusal or (lambda conn: refused(conn, run_id, fence)))
            for guard in guards:
                if guard.holds == "no row":
                    held = not transaction.rows(guard.statement, guard.values)
                else:
                    held = transaction.changed(guard.statement, guard.values) == 1
                if not held:
                    raise _Refused(guard.refusal)
            _insert_rows(transaction, rows, first=seq - len(rows) + 1)
            for each in rows:
                if each["kind"] == "tool_call":
                    counted = _count_params(run_id, each["tool"], each["verdict"])
                    transaction.execute(_COUNT_TOOL_CALL, counted)
    except _Refused as refused_write:  # rolled back: say why from what the store holds now
        with reading(store) as conn:
            raise refused_write.refusal(conn) from None
    return seq


def _server_write(
    store: Store,
    run_id: str,
    fence: Fence | None,
    statuses: tuple[str, ...],
    added: Mapping[str, Any] | None,
    guards: Sequence[Guard],
    rows: list[dict[str, Any]],
    durable: bool,
) -> int:
    return write_events(
        store,
        run_id=run_id,
        worker_id=None if fence is None else fence.worker_id,
        epoch=None if fence is None else fence.epoch,
        statuses=statuses,
        added=added,
        guards={guard.server: guard.values for guard in guards if guard.server is not None},
        rows=rows,
        durable=durable,
    )


def _insert_rows(transaction: DriverTransaction, rows: list[dict[str, Any]], first: int) -> None:
    """The rows as events `first`, `first + 1`, ... in one INSERT (or one per _ROWS_AT_ONCE: a
    statement's parameters are bounded, 999 in older SQLite)."""
    for start in range(0, len(rows), _ROWS_AT_ONCE):
        chunk = rows[start : start + _ROWS_AT_ONCE]
        if len(chunk) == 1:
            transaction.execute(_INSERT_EVENT, {**chunk[0], "seq": first + start})
            continue
        values: dict[str, Any] = {}
        for offset, each in enumerate(chunk):
            for name in _EVENT_COLUMNS:
                values[f"{name}_{offset}"] = first + start + offset if name == "seq" else each[name]
        transaction.execute(_insert_events(len(chunk)), values)


def _insert_events(count: int) -> Any:
    statement = _INSERT_EVENTS.get(count)
    if statement is None:
        # typed: only the first row's binds would take their columns' types (JSON, datetimes)
        names = [
            {name: bindparam(f"{name}_{i}", type_=_events.c[name].type) for name in _EVENT_COLUMNS}
            for i in range(count)
        ]
        statement = _INSERT_EVENTS[count] = insert(_events).values(names)
    return statement


def _take_seq(
    transaction: DriverTransaction,
    store: Store,
    run_id: str,
    fence: Fence | None,
    statuses: tuple[str, ...],
    added: Mapping[str, Any] | None,
    events: int = 1,
) -> int | None:
    """Bump the run's last_seq by `events` where the write may go, adding the `added` usage
    (add_<name> and now) if any; its new value (the last of the seqs taken), or None (no
    match). The UPDATE locks the run's row first, so what is read after it is read as of that
    lock."""
    returning = store.engine.dialect.update_returning
    values: dict[str, Any] = {"rid": run_id, **(added or {})}
    if fence is not None:
        values["wid"] = fence.worker_id
        if fence.epoch is not None:
            values["epoch"] = fence.epoch
    bump = _bump_for(fence, statuses, returning, added is not None, events)
    if returning:
        rows = transaction.rows(bump, values)
        return rows[0][0] if rows else None
    if not transaction.changed(bump, values):  # SQLite older than 3.35: the lock is ours
        return None
    return transaction.rows(_READ_SEQ, {"rid": run_id})[0][0]


def _records(rows: Any) -> list[EventRecord]:
    return [EventRecord(r[0], r[1], r[2], r[3], r[4] if r[4] is not None else {}) for r in rows]


def events_after(
    store: Store, *, run_id: str, after_seq: int = 0, limit: int | None = None
) -> list[EventRecord]:
    """Events with seq > after_seq, ascending (what a live view polls for)."""
    query, params = _AFTER, {"rid": run_id, "after": after_seq}
    if limit is not None:
        query, params = _AFTER_LIMITED, {**params, "n": limit}
    return _records(driver_rows(store, query, params))  # one round trip: a session's start


def last_events(store: Store, *, run_id: str, n: int) -> list[EventRecord]:
    """The last n events of a run, ascending."""
    if n <= 0:
        return []
    return _records(reversed(driver_rows(store, _LAST, {"rid": run_id, "n": n})))
