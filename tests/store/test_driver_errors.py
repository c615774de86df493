"""A write that cannot get a connection fails as Core's would: a DBAPIError the worker reads as
the database being away (transient), never as a bug of the run."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError

import storage
from storage.transient import is_transient
from tests.support.run_helpers import new_run


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("unable to open database file"),
        sqlite3.DatabaseError("connection refused"),
        sqlite3.InterfaceError("connection closed"),
    ],
)
def test_no_connection_for_a_write_is_the_database_being_away(store, monkeypatch, error):
    run = new_run(store, "write while the server is away", model="scripted")

    def refuse() -> None:
        raise error

    monkeypatch.setattr(store.engine, "raw_connection", refuse)
    with pytest.raises(DBAPIError) as raised:
        storage.append_event(store, run_id=run.id, kind="guidance", payload={"message": "hi"})
    assert raised.value.orig is error
    assert raised.value.connection_invalidated
    assert is_transient(raised.value)
    monkeypatch.undo()
    assert [e.kind for e in storage.events_after(store, run_id=run.id)] == ["status"]
