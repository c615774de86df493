"""Which database errors pass by themselves (connection lost, server restarting, a serialization
failure, SQLite busy), so a worker waits and tries again instead of giving up on a run."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

T = TypeVar("T")
# SQLSTATE classes that say "try again": connection exception, transaction rollback
# (serialization failure, deadlock), insufficient resources, operator intervention (shutdown,
# "the database system is starting up").
_TRANSIENT_SQLSTATE = ("08", "40", "53", "57")
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")
# Called once per wait before the database is tried again (the worker's metrics count them:
# agent_core/telemetry/metrics.py); the store itself knows nothing of who listens.
RETRY_LISTENERS: list[Callable[[], None]] = []


def is_transient(error: BaseException) -> bool:
    """True for errors that a later attempt may not meet; False for bugs and bad input."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated or isinstance(error, InterfaceError):
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if sqlstate:
        return str(sqlstate).startswith(_TRANSIENT_SQLSTATE)
    message = str(error.orig).lower()
    if any(busy in message for busy in _SQLITE_BUSY):
        return True
    # Drivers that give no SQLSTATE for a lost connection (the server went away mid-query).
    return isinstance(error, OperationalError) and "sqlite" not in type(error.orig).__module__


class Backoff:
    """Growing, jittered waits between attempts: 0.2 s doubling up to `cap`."""

    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self.first, self.cap, self.next_wait = first, cap, first

    def wait(self) -> float:
        for listener in RETRY_LISTENERS:
            listener()
        delay = self.next_wait * random.uniform(0.8, 1.2)
        self.next_wait = min(self.next_wait * 2, self.cap)
        return delay

    def reset(self) -> None:
        self.next_wait = self.first


def retrying(
    read: Callable[[], T], *, what: str, log: logging.Logger, give_up_after: float = 30.0
) -> T:
    """`read` again after transient errors, for up to `give_up_after` seconds, logging what it
    waits for. Only for reads and writes that are safe to repeat: a write whose commit was cut
    off may have committed."""
    backoff = Backoff()
    deadline = time.monotonic() + give_up_after
    while True:
        try:
            return read()
        except Exception as error:
            if not is_transient(error) or time.monotonic() >= deadline:
                raise
            delay = backoff.wait()
            log.warning(
                "%s: the database is unavailable (%s); trying again in %.1f s",
                what,
                brief(error),
                delay,
            )
            time.sleep(delay)


def brief(error: BaseException) -> str:
    """The first line of a database error, without the SQL and parameters SQLAlchemy appends."""
    orig = getattr(error, "orig", None) or error
    return (
        f"{type(orig).__name__}: {str(orig).strip().splitlines()[0] if str(orig).strip() else ''}"
    )
