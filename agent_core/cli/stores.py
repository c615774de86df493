"""Opening the store a command names (`--db`), for every command module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_core.cli.errors import fail

if TYPE_CHECKING:  # SQLAlchemy loads with the store, when a command runs (fast `--help`)
    import storage


def open_db(db: str | None) -> storage.Store:
    import storage

    return storage.open_store(storage.database_url(db))


def open_existing_db(db: str | None) -> storage.Store:
    """The store for a command that reads, steers or decides on what a store already holds: a
    missing SQLite file is an error, never created (in the wrong folder it would be a new, empty
    store that answers "no run with id ...")."""
    import storage
    from storage.engine import sqlite_path

    url = storage.database_url(db)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise fail(
            f"no onloop store at {path}; pass --db with the right file, or start a run first "
            "(`onloop run`, `onloop up`)"
        )
    return storage.open_store(url)
