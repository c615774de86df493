"""A step's write transaction in one round trip on PostgreSQL (schema version 13).

On PostgreSQL every statement of a write transaction is a round trip through psycopg, and
psycopg's Python per round trip, not the server, is what a worker's CPU goes to (~45 us each;
docs/benchmarks.md). An event's write (storage.events.write_event: BEGIN, the UPDATE taking its
seq, the halt check, the approval it consumes, its INSERT, the tool-call count, COMMIT) is the
hot path's transaction, several per model call. Here it is one call of a PL/pgSQL function,
`onloop_write_events_v13`, run in autocommit: one statement, one transaction, the same
statements in the same order inside.

What keeps its meaning:
- Order against a halt: the UPDATE that takes the seq locks the run's row first; the function
  is VOLATILE, so in READ COMMITTED each statement after it reads a fresh snapshot: the halt
  check sees every halt committed before the lock was granted, as the separate SELECT after the
  UPDATE does on the driver path (tests/store/test_halt_check_in_the_update.py).
- All or nothing: a refusal after the seq was taken (a halt pending, a newer schema, an approval
  that cannot be used) raises an error of its own SQLSTATE, which rolls the statement's
  transaction back; nothing is written, and the caller reads why afterwards, as before.
- Durable: a durable write turns `synchronous_commit` on for its own transaction when the
  session's setting is off (storage.durability), inside the function.
- The values are the ones Core would bind (the payload through its column's JSON processor).

Only writes whose guards the function knows (the halt check, an approval's consumption) go this
way; any other guard takes the driver path. A store without the function (one restored from a
dump that left it out) takes the driver path too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    bindparam,
    func,
    select,
)
from sqlalchemy.exc import DBAPIError

from storage.driver_sql import driver_autocommit
from storage.engine import Store, json_dumps
from storage.step_function import (
    APPROVAL_UNUSABLE,
    CONSUME_GUARD,
    FUNCTION,
    HALT_GUARD,
    HALT_OR_NEWER,
    KNOWN_GUARDS,
    NO_FUNCTION,
)
from storage.vocabulary import USAGE_NAMES

_PARAMS: tuple[tuple[str, Any], ...] = (
    ("rid", String()),
    ("wid", String()),
    ("epoch", Integer()),
    ("statuses", String()),  # comma-separated; '' for any
    ("usage_at", DateTime()),
    *((f"add_{name}", Float()) for name in USAGE_NAMES),
    ("check_halt", Boolean()),
    ("ours", Integer()),
    ("approval_id", Integer()),
    ("args_hash", String()),
    ("consumed_at", DateTime()),
    ("meta", String()),  # [[kind, at, tool, verdict], ...], JSON
    ("payloads", String()),  # [payload, ...], the store's JSON (as Core writes the column)
    ("durable", Boolean()),
)
_CALL = select(getattr(func, FUNCTION)(*(bindparam(name, type_=type_) for name, type_ in _PARAMS)))


def usable(store: Store, guards: Sequence[str | None]) -> bool:
    """Whether this write can go through the function: PostgreSQL through psycopg (whose errors
    carry the SQLSTATE the refusals are read from), a store that has it, and only guards it
    knows."""
    dialect = store.engine.dialect
    return (
        store.server_steps
        and dialect.name == "postgresql"
        and dialect.driver == "psycopg"
        and all(guard in KNOWN_GUARDS for guard in guards)
    )


class Refused(Exception):
    """The function refused the write: `why` is None (the run's row did not match: no such
    run, not driven, not this claim), HALT_GUARD or CONSUME_GUARD."""

    def __init__(self, why: str | None) -> None:
        self.why = why


class Missing(Exception):
    """The store has no such function: the caller writes on the driver path instead."""


def write_events(
    store: Store,
    *,
    run_id: str,
    worker_id: str | None,
    epoch: int | None,
    statuses: Sequence[str],
    added: Mapping[str, Any] | None,
    guards: Mapping[str, Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    durable: bool,
) -> int:
    """The rows written as the run's next events, in one statement; their last seq. `added`:
    usage to add (add_<name>, and `now` for updated_at), as storage.events takes it. Refused
    (nothing written) or Missing as above; any other database error comes out as from Core."""
    consume = guards.get(CONSUME_GUARD)
    halt = guards.get(HALT_GUARD)
    values: dict[str, Any] = {
        "rid": run_id,
        "wid": worker_id,
        "epoch": epoch,
        "statuses": ",".join(statuses),
        "usage_at": None if added is None else added["now"],
        **{f"add_{name}": (added or {}).get(f"add_{name}", 0) for name in USAGE_NAMES},
        "check_halt": halt is not None,
        "ours": None if halt is None else halt["ours"],
        "approval_id": None if consume is None else consume["approval_id"],
        "args_hash": None if consume is None else consume["args_hash"],
        "consumed_at": None if consume is None else consume["now"],
        "meta": json_dumps(
            [[r["kind"], r["at"].isoformat(), r["tool"], r["verdict"]] for r in rows]
        ),
        "payloads": json_dumps([r["payload"] for r in rows]),
        "durable": durable,
    }
    try:
        seq = driver_autocommit(store, _CALL, values)[0][0]
    except DBAPIError as error:
        state = getattr(error.orig, "sqlstate", None)
        if state == HALT_OR_NEWER:
            raise Refused(HALT_GUARD) from None
        if state == APPROVAL_UNUSABLE:
            raise Refused(CONSUME_GUARD) from None
        if state == NO_FUNCTION and FUNCTION in str(error.orig):
            store.server_steps = False
            raise Missing() from None
        raise
    if seq is None:
        raise Refused(None)
    return int(seq)
