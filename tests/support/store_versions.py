"""Stores as other releases leave them: one a newer onloop migrated, and shifted writer clocks."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

import storage
from storage import models
from storage.models import SchemaMigration, table_of

NEWER = storage.SCHEMA_VERSION + 1


def record_newer_version(store: storage.Store) -> int:
    """Record a migration this code does not know, as the next release's first open would."""
    row = {"version": NEWER, "name": "a newer release's migration", "applied_at": storage.utcnow()}
    with store.engine.begin() as conn:
        conn.execute(insert(table_of(SchemaMigration)).values(row))
    return NEWER


def shift_clock(monkeypatch: pytest.MonkeyPatch, offset: timedelta) -> None:
    """This process's wall clock `offset` off: every storage.models.utcnow() (the one Python
    time source of the store's writes) reads it; the database's own clock is untouched."""

    class Shifted(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
            return datetime.now(tz) + offset

    monkeypatch.setattr(models, "datetime", Shifted)
