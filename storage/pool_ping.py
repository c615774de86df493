"""A PostgreSQL connection is pinged when it comes out of the pool after lying idle, not at every
checkout: under load a connection goes back and out again within milliseconds, and a ping per
checkout was a round trip per transaction (a third of a step's round trips). A connection idle
for IDLE_PING_S or more (the server may have restarted, or an administrator ended its backend)
is pinged first; a dead one is replaced before anyone uses it (SQLAlchemy's pessimistic
disconnect handling: DisconnectionError at checkout). A connection that dies between two busy
transactions fails its next statement as a lost connection, which the callers already handle
(storage.transient; the pool then replaces every connection older than the failure)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

IDLE_PING_S = 1.0
_CHECKED_IN = "onloop_checked_in"


def ping_when_idle(engine: Engine) -> None:
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return  # new, or back in the pool just now: its last transaction reached the server
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise DisconnectionError(str(error)) from error  # the pool connects anew
            raise
