"""The dashboard on a store whose disk fails (storage.store_faults): a banner naming the fault and
the fix, never a traceback; other errors are not mistaken for one."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

import storage
from dashboard.components.store_trouble import trouble_text
from dashboard.store import get_store
from tests.support.dashboard_fixtures import app_at

pytestmark = pytest.mark.store_for("dashboard")  # the routed app (AppTest) reads this store


def _plain(markdown: str) -> str:
    """The banner's words without the Markdown escapes inert.markdown adds."""
    return markdown.replace("\\", "")


def _read_only(store: storage.Store) -> None:
    """Every connection of `store`'s engine refuses writes, as SQLite itself does
    (PRAGMA query_only: "attempt to write a readonly database", SQLITE_READONLY)."""

    @event.listens_for(store.engine, "before_cursor_execute")
    def refuse_writes(conn, cursor, statement, parameters, context, executemany):
        cursor.connection.execute("PRAGMA query_only = 1")


def test_a_launch_on_a_read_only_store_shows_a_banner_not_a_traceback(store):
    at = app_at()
    _read_only(get_store())  # the dashboard's own store (one per process and URL)
    at.text_area(key="launch_goal").input("Clean up the temporary files in the workspace")
    at.button(key="launch_submit").click().run()
    assert not at.exception
    shown = [_plain(e.value) for e in at.error]
    assert any(
        "The store is read-only (attempt to write a readonly database)" in text
        and "make " in text
        and "writable by this process again" in text
        for text in shown
    ), shown
    assert storage.count_runs(store) == 0


def test_reads_that_meet_a_disk_io_error_show_the_banner_on_every_page(store):
    at = app_at()

    @event.listens_for(get_store().engine, "before_cursor_execute")
    def io_error(conn, cursor, statement, parameters, context, executemany):
        failure = sqlite3.OperationalError("disk I/O error")
        failure.sqlite_errorcode = 10  # SQLITE_IOERR, as SQLite sets it
        raise failure

    at.run()
    assert not at.exception
    shown = " ".join(_plain(e.value) for e in at.error)
    assert "The store's disk gives I/O errors (disk I/O error)" in shown
    assert "check the disk behind" in shown


def test_other_database_errors_are_no_disk_fault(store):
    bug = sqlite3.OperationalError("no such table: nope")
    bug.sqlite_errorcode = 1  # SQLITE_ERROR: a bug, raised as before
    assert trouble_text(OperationalError("SELECT 1", {}, bug), store) is None
