"""The dashboard reads and writes only the store it opened (storage.identity).

People act on what a page showed them: a decision clicked for run X, approval 3 is meant for the
run X they saw. If the store's file is then deleted, or another file (a restored backup, another
store) is moved into its place, the same ids may name other runs there. So every connection the
dashboard takes from its pool checks first that the file is still the one it opened (one stat),
before opening a new one too (SQLite would create an empty file where one was deleted), and a new
PostgreSQL connection checks the store's id (a database dropped and created anew has another).
On a mismatch StoreChanged, worded for the dashboard: the page shows the banner
(components/store_trouble), a decision or a launch is refused with it, and nothing is written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

import storage
from dashboard.components.store_trouble import changed_text
from storage.identity import StoreChanged, check_same_file, store_identity

_STORE_ID = "SELECT applied_at FROM schema_migrations ORDER BY version LIMIT 1"


def keep_to_the_opened_store(store: storage.Store) -> None:
    """Refuse every connection of `store` to a store other than the one it opened."""
    expected = store_identity(store)
    engine = store.engine

    def same_file() -> None:
        try:
            check_same_file(store, expected)
        except StoreChanged as changed:
            raise StoreChanged(
                changed_text(changed), kind=changed.kind, where=changed.where
            ) from None

    @event.listens_for(engine, "do_connect")
    def before_connecting(*_: Any) -> None:
        same_file()

    @event.listens_for(engine, "checkout")
    def before_use(*_: Any) -> None:
        same_file()

    if expected.inode is not None:
        return  # SQLite: the file says it all (a restored copy has the same id, another inode)
    created = _raw_store_id(engine.raw_connection())

    @event.listens_for(engine, "connect")
    def same_id(dbapi_connection: Any, _record: Any) -> None:
        if _raw_store_id(dbapi_connection, close=False) != created:
            dbapi_connection.close()
            changed = StoreChanged(
                "", kind="dropped and created anew", where=store_identity(store).where
            )
            raise StoreChanged(
                changed_text(changed), kind=changed.kind, where=changed.where
            ) from None


def _raw_store_id(dbapi_connection: Any, *, close: bool = True) -> Any:
    """The store's id as the driver returns it, on a connection outside SQLAlchemy's events."""
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(_STORE_ID)
            row = cursor.fetchone()
        finally:
            cursor.close()
        if not close:
            dbapi_connection.commit()  # PostgreSQL: end the read's transaction
        return row[0] if row else None
    finally:
        if close:
            dbapi_connection.close()
