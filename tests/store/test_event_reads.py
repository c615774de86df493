"""A run's events read on the driver (one round trip, storage.driver_sql.driver_rows) come out
exactly as SQLAlchemy Core reads them: the same times, the same JSON, in the same order, on both
databases; and a broken read says so as Core would."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

import storage
from storage.engine import reading
from storage.events import _COLUMNS
from storage.models import Event, table_of

PAYLOADS = [
    {"status": "queued", "reason": None},
    {"text": "naïve café ☕ \u202e reversed \x1b[31m red", "n": 3, "f": 0.1 + 0.2, "big": 2**62},
    {"nested": {"list": [1, "two", None, {"three": [True, False]}], "empty": {}}, "e": []},
    {"tool": "calculator", "arguments": {"expression": "17.5/100*2340+118"}, "verdict": "allow"},
    {"long": "x" * 70_000, "quote": 'say "hi"\n\ttab', "backslash": "C:\\path\\"},
    {},
]


def core_events(store: storage.Store, run_id: str) -> list[tuple]:
    """The run's events as Core reads them (its result processors), oldest first."""
    events = table_of(Event)
    query = select(*_COLUMNS).where(events.c.run_id == run_id).order_by(events.c.seq)
    with reading(store) as conn:
        return [tuple(row) for row in conn.execute(query).all()]


def as_tuples(records: list[storage.EventRecord]) -> list[tuple]:
    return [(r.run_id, r.seq, r.kind, r.at, r.payload) for r in records]


def test_the_driver_read_is_what_core_reads(any_store):
    run = storage.create_run(any_store, goal="read me back", model="demo")
    other = storage.create_run(any_store, goal="not this one", model="demo")
    for payload in PAYLOADS:
        storage.append_event(any_store, run_id=run.id, kind="observation", payload=payload)
        storage.append_event(any_store, run_id=other.id, kind="observation", payload={"x": 1})
    read = storage.events_after(any_store, run_id=run.id)
    assert as_tuples(read) == core_events(any_store, run.id)
    assert [r.payload for r in read[1:]] == PAYLOADS
    assert all(isinstance(r.at, datetime) and r.at.tzinfo is None for r in read)
    assert [r.seq for r in read] == sorted(r.seq for r in read)


def test_after_a_seq_with_a_limit_and_the_last_ones(any_store):
    run = storage.create_run(any_store, goal="pages", model="demo")
    for n in range(6):
        storage.append_event(any_store, run_id=run.id, kind="observation", payload={"n": n})
    everything = as_tuples(storage.events_after(any_store, run_id=run.id))
    assert len(everything) == 7  # the queued status, then six
    third = everything[2][1]
    assert (
        as_tuples(storage.events_after(any_store, run_id=run.id, after_seq=third))
        == (everything[3:])
    )
    assert (
        as_tuples(storage.events_after(any_store, run_id=run.id, after_seq=third, limit=2))
        == (everything[3:5])
    )
    assert as_tuples(storage.last_events(any_store, run_id=run.id, n=3)) == everything[-3:]
    assert storage.last_events(any_store, run_id=run.id, n=0) == []
    assert storage.events_after(any_store, run_id="no-such-run") == []


def test_a_broken_read_comes_out_as_core_says_it(store, monkeypatch: pytest.MonkeyPatch):
    """The events table gone (a damaged store): the read raises SQLAlchemy's DBAPIError naming
    the statement, as a Core read does, and the connection goes back to the pool usable."""
    run = storage.create_run(store, goal="g", model="demo")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE events RENAME TO events_gone")
    with pytest.raises(DBAPIError) as raised:
        storage.events_after(store, run_id=run.id)
    assert "no such table" in str(raised.value)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE events_gone RENAME TO events")
    assert [e.kind for e in storage.events_after(store, run_id=run.id)] == ["status"]
