"""One clock for leases: the database's own, never the writing process's wall clock.

A lease is written as "the database's now plus N seconds" and lapses when "the database's now"
passes it, both computed in the SQL statement itself. Workers on several machines then agree on
every lease whatever their own clocks say: PostgreSQL's `now()` is the server's (one clock for
every client); SQLite is one file on one machine, so its `'now'` is that machine's clock, read by
SQLite in the statement (a process whose Python clock is off, or whose time zone differs, writes
the same instants as any other). Timestamps that only record when something happened
(created_at, started_at, ...) stay on the writer's clock: nothing is decided by them.

Both databases write naive UTC with microseconds, the text SQLAlchemy writes on SQLite, so
leases compare correctly with values written before (and with `now=` of the tests).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class db_now(FunctionElement[datetime]):  # noqa: N801 (reads as the SQL function it is)
    """The database's current time as naive UTC, plus `seconds` (a bound number)."""

    type = DateTime()
    name = "onloop_db_now"
    inherit_cache = True

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__(literal(float(seconds), Float()))


def _seconds(element: db_now, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(list(element.clauses)[0], **kw))


@compiles(db_now, "postgresql")
def _postgresql(element: db_now, compiler: Any, **kw: Any) -> str:
    # clock_timestamp(): the moment of the statement itself, not of its transaction's start
    # (a claim transaction that waited for a lock still writes a lease from now).
    seconds = _seconds(element, compiler, **kw)
    return f"(timezone('UTC', clock_timestamp()) + make_interval(secs => {seconds}))"


@compiles(db_now, "sqlite")
def _sqlite(element: db_now, compiler: Any, **kw: Any) -> str:
    # %f is seconds with milliseconds; three zeros make microseconds, as SQLAlchemy writes them.
    seconds = _seconds(element, compiler, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', ({seconds}) || ' seconds') || '000')"


@compiles(db_now)
def _other(element: db_now, compiler: Any, **kw: Any) -> str:
    seconds = _seconds(element, compiler, **kw)
    return f"(CURRENT_TIMESTAMP + {seconds} * INTERVAL '1' SECOND)"
