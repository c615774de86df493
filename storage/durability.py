"""Durable where it counts: the commits that must reach the disk before anything follows them.

onloop's invariant: the transaction that precedes a tool's effect (its `tool_started` event), a
human's decision on an approval and a halt are on disk before the effect (or whatever acts on
them) starts. Those transactions are *durable* ones (`writing(store, durable=True)`,
`write_session(..., durable=True)`, `driver_transaction(..., durable=True)`).

SQLite (WAL): with `synchronous = NORMAL` a commit is not fsynced (the WAL is synced at a
checkpoint), so a power loss can drop it even though the process saw it committed; with `FULL`
every commit fsyncs the WAL. The store runs NORMAL and switches its connection to FULL for a
durable transaction (the pragma cannot change inside a transaction: it is set before BEGIN and
put back after the end). An fsync of the WAL file covers every frame before it, so a durable
commit also makes all earlier commits durable: the order on disk is the order of commits.
`ONLOOP_SQLITE_SYNCHRONOUS=full` makes every commit FULL (what the peers' SQLite stores run);
docs/benchmarks.md has the cost of each.

PostgreSQL: `synchronous_commit` is on by default, and then every commit waits for its WAL
flush. When a server or role turned it off, a durable transaction turns it on for itself
(`SET LOCAL`); the server's setting is read once per connection. `local`, `remote_write`,
`on` and `remote_apply` all flush locally and are left as they are.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from storage.errors import StoreError

SYNCHRONOUS_ENV = "ONLOOP_SQLITE_SYNCHRONOUS"
SYNCHRONOUS_MODES = {"normal": "NORMAL", "full": "FULL"}
# Keys in a pooled connection's info (kept with the connection for its whole life).
SQLITE_SYNC = "onloop_sqlite_synchronous"  # the connection's pragma between transactions
PG_SYNC_OFF = "onloop_synchronous_commit_off"  # the server said off (so durable ones SET LOCAL)


def sqlite_synchronous() -> str:
    """The pragma SQLite stores run between durable transactions: NORMAL (default) or FULL."""
    chosen = os.environ.get(SYNCHRONOUS_ENV, "").strip().lower() or "normal"
    if chosen not in SYNCHRONOUS_MODES:
        raise StoreError(
            f"{SYNCHRONOUS_ENV}={chosen!r} is not a mode: set it to 'normal' (the default: an "
            "fsync for each tool start, decision and halt) or 'full' (an fsync for every commit)"
            ", or unset it"
        )
    return SYNCHRONOUS_MODES[chosen]


def set_sqlite_synchronous(dbapi_connection: Any, info: dict[Any, Any], mode: str) -> None:
    """On connect: the connection's pragma, remembered in its pool record's info."""
    dbapi_connection.execute(f"PRAGMA synchronous = {mode}")
    info[SQLITE_SYNC] = mode


def full_before(pooled: Any) -> bool:
    """Before BEGIN of a durable transaction on a pooled connection: SQLite's pragma FULL for
    it (the pragma cannot change inside a transaction). Whether it switched (then normal_after
    once the transaction has ended); no switch on PostgreSQL or when the store runs FULL."""
    if pooled.info.get(SQLITE_SYNC) != "NORMAL":
        return False
    pooled.driver_connection.execute("PRAGMA synchronous = FULL")  # isolation_level None: no BEGIN
    return True


def normal_after(pooled: Any) -> None:
    """After the durable transaction's COMMIT or ROLLBACK: back to NORMAL."""
    raw = pooled.driver_connection
    if raw is None:  # invalidated after an error: it leaves the pool
        return
    try:
        raw.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error:  # the connection is broken (and leaves the pool); FULL is only safer
        pass


@contextmanager
def sync_full(pooled: Any) -> Iterator[None]:
    """full_before and normal_after around a `with` that ends its transaction inside."""
    switched = full_before(pooled)
    try:
        yield
    finally:
        if switched:
            normal_after(pooled)


def sync_commit_on(pooled: Any, execute: Callable[[str], Any]) -> None:
    """Inside a durable transaction on PostgreSQL: synchronous_commit on for it when the
    server's setting is off (read once per connection). `execute` runs SQL in the transaction
    and returns a cursor or result."""
    info = pooled.info
    if info.get(SQLITE_SYNC) is not None:
        return
    off = info.get(PG_SYNC_OFF)
    if off is None:
        off = info[PG_SYNC_OFF] = execute("SHOW synchronous_commit").fetchone()[0] == "off"
    if off:
        execute("SET LOCAL synchronous_commit = on")
