"""One connection kept for a SQLite store's write transactions on the driver path.

A process writes to SQLite one transaction at a time (Store.write_gate). Taken from the pool,
each of those transactions got whichever connection came back first, and a SQLite connection in
WAL mode drops its whole page cache when another connection wrote since its last transaction:
every step's writes read their pages from the file again (~70 `pread`s per model call at 100
runs). The driver path's writes (storage.driver_sql) therefore go through one connection held
for the store while nothing else in the process writes between them, so its cache stays warm
(docs/benchmarks.md, seventh round).

It is used only by the thread holding the write gate, so only one thread at a time touches it.
A nested write transaction in that thread (the gate is reentrant) gets a pooled connection as
before. The held connection is given back when the store is disposed; when the engine's pool was
replaced meanwhile (`engine.dispose()`: after a fault, connections opened read-only or broken
are not reused) it is closed and a fresh one taken; in a forked child it is let go unclosed, as
SQLAlchemy lets go of the parent's pool (its file handles are the parent's). A connection the
driver path invalidated (lost) is never kept. PostgreSQL has no write gate: its writes take
pooled connections, one per concurrent transaction.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from typing import Any


class HeldWriter:
    """The connection held for one store's gated writes; `take` and `give_back` under the gate."""

    def __init__(self, gate: threading.RLock, pool_of: Callable[[], Any]) -> None:
        self._gate = gate
        self._pool_of = pool_of  # the engine's current pool (a new one after dispose)
        self._pooled: Any = None
        self._pool: Any = None
        self._pid = 0
        self._busy = False

    def take(self, checkout: Callable[[], Any]) -> Any:
        """The held connection (taken with `checkout` when there is none, or it is stale); a
        fresh pooled one when the held one is in use by an enclosing transaction of this
        thread. The caller holds the write gate."""
        if self._busy:
            return checkout()
        if self._pooled is not None and not self._usable():
            self._let_go()
        if self._pooled is None:
            self._pooled = checkout()
            self._pool, self._pid = self._pool_of(), os.getpid()
        self._busy = True
        return self._pooled

    def give_back(self, pooled: Any) -> None:
        """After the transaction ended (committed or rolled back): keep the held one unless it
        was invalidated; a pooled one goes back to the pool."""
        if pooled is not self._pooled:
            pooled.close()
            return
        self._busy = False
        if pooled.dbapi_connection is None:  # invalidated: it left the pool
            self._let_go()

    def close(self) -> None:
        """Give the held connection back to the pool (before the engine is disposed)."""
        with self._gate:
            if not self._busy:
                self._let_go()

    def _usable(self) -> bool:
        return (
            self._pid == os.getpid()
            and self._pool is self._pool_of()
            and self._pooled.dbapi_connection is not None
        )

    def _let_go(self) -> None:
        pooled, pool, self._pooled, self._pool = self._pooled, self._pool, None, None
        if pooled is None or self._pid != os.getpid():
            return  # none, or the parent's: a forked child never closes it
        try:
            if pool is self._pool_of():
                pooled.close()  # back to the pool
            else:  # the pool was replaced (disposed): it would only sit in the old one
                pooled.invalidate()  # closed, and out of every pool
        except sqlite3.Error:  # a broken connection is dropped either way
            pass
