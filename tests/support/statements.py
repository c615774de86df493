"""Count the SQL statements a store's driver runs, on SQLite and PostgreSQL alike.

The store writes its hot path on the driver's cursor (storage/driver_sql.py), below Core's
execution events, so the count is taken on the driver's connections: a SQLAlchemy `connect`
listener gives each new connection sqlite3's trace hook or a counting psycopg cursor. Transaction
control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT) and PRAGMAs are not statements here: SQLite's
trace sees them and psycopg runs them on the connection, so counting them would compare
unlike things. What SQLite runs inside a trigger is not counted either. Nor is the durability
switch (storage/durability.py): SQLite's is a PRAGMA, PostgreSQL's a `SHOW synchronous_commit`
once per connection and a `SET LOCAL` in a durable transaction on a server running with it off,
as the test clusters do (a default server needs neither).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from sqlalchemy import event

from storage.engine import Store

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "END", "--")


def statement_key(sql: str) -> str | None:
    """'UPDATE runs', 'INSERT INTO events', 'SELECT ... FROM commands': a statement's verb and
    first table; None for transaction control."""
    words = sql.split()
    if not words or words[0].upper().startswith(_CONTROL):
        return None
    if words[0].upper() in ("SET", "SHOW") and "synchronous_commit" in sql.lower():
        return None
    verb = words[0].upper()
    upper = [w.upper() for w in words]
    if verb == "SELECT" and "FROM" in upper:
        return f"SELECT {words[upper.index('FROM') + 1]}"
    if verb == "SELECT" and len(words) > 1 and "(" in words[1]:  # a function's call
        return f"SELECT {words[1].split('(')[0]}"
    if verb in ("INSERT", "DELETE") and len(words) > 2:
        return f"{verb} {words[2]}"
    if verb == "UPDATE" and len(words) > 1:
        return f"UPDATE {words[1]}"
    return verb


class StatementCounter:
    """`with StatementCounter(store) as counter:` counts, per statement_key, what every thread
    but `skip_threads` runs on the store's connections opened inside (the pool is emptied on
    entry and on exit, so none escapes the count)."""

    def __init__(self, store: Store, skip_threads: tuple[str, ...] = ()) -> None:
        self.store = store
        self.skip_threads = skip_threads
        self._raw: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._on = False

    def count(self, sql: str) -> None:
        if not self._on or threading.current_thread().name in self.skip_threads:
            return
        with self._lock:  # the SQL text as it came: its key is worked out when read
            self._raw[sql] += 1

    @property
    def counts(self) -> Counter[str]:
        """Statements by statement_key (transaction control left out)."""
        with self._lock:
            raw = list(self._raw.items())
        counts: Counter[str] = Counter()
        for sql, n in raw:
            key = statement_key(sql)
            if key is not None:
                counts[key] += n
        return counts

    def texts(self) -> Counter[str]:
        """Every statement's SQL text as the driver ran it, with how often."""
        with self._lock:
            return Counter(self._raw)

    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        with self._lock:
            self._raw.clear()

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        if self.store.is_sqlite:
            dbapi_connection.set_trace_callback(self.count)
            return
        counter = self

        class Counting(dbapi_connection.cursor_factory):  # type: ignore[name-defined,misc]
            def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
                counter.count(str(query))
                return super().execute(query, *args, **kwargs)

            def executemany(self, query: Any, *args: Any, **kwargs: Any) -> Any:
                counter.count(str(query))
                return super().executemany(query, *args, **kwargs)

        dbapi_connection.cursor_factory = Counting

    def __enter__(self) -> StatementCounter:
        event.listen(self.store.engine, "connect", self._connected)
        self.store.engine.dispose()  # every connection from now on is a counted one
        self._on = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._on = False
        event.remove(self.store.engine, "connect", self._connected)
        self.store.engine.dispose()
