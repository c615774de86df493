"""Which database errors are disk faults of the store (storage.store_faults), from real SQLite
errors and psycopg's own error classes; bugs and passing outages are not."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError

import storage
from storage.engine import reading, writing
from storage.store_faults import StoreFault, probe_write, store_fault


def _raised(store: storage.Store, pragma: str, statement: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught, writing(store) as conn:
        conn.exec_driver_sql(pragma)
        conn.execute(text(statement))
    return caught.value


def test_a_full_sqlite_store_is_a_full_disk_naming_its_folder(store):
    """PRAGMA max_page_count: SQLite's own SQLITE_FULL once the file may not grow."""
    with reading(store) as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    grow = (
        "INSERT INTO schema_migrations (version, name, applied_at) "
        "SELECT 9000 + value, printf('%.50000c', 'x'), '2024-01-01' "
        "FROM (SELECT 1 AS value UNION SELECT 2 UNION SELECT 3)"
    )
    error = _raised(store, f"PRAGMA max_page_count = {pages}", grow)
    fault = store_fault(error, store)
    assert fault is not None and fault.kind == "full", error
    assert fault.detail == "database or disk is full"
    folder = storage.engine.sqlite_path(store.url).parent
    assert fault.line().startswith(
        f"the store's disk is full (database or disk is full): free space on {folder}; "
        "onloop retries every 5 s"
    )


def test_a_read_only_sqlite_store_is_read_only(store):
    error = _raised(store, "PRAGMA query_only = 1", "DELETE FROM schema_migrations WHERE 0")
    fault = store_fault(error, store)
    assert fault is not None and fault.kind == "read-only"
    assert "make " in fault.line() and "writable by this process again" in fault.line()
    assert fault.reason().endswith("; the run can be resumed")


def test_a_store_file_that_cannot_be_opened(tmp_path):
    with pytest.raises(DBAPIError) as caught:
        engine = create_engine(f"sqlite:///{tmp_path / 'gone' / 'onloop.db'}")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    fault = store_fault(caught.value)
    assert fault is not None and fault.kind == "cannot-open"


@pytest.mark.parametrize(
    ("name", "kind"),
    [("DiskFull", "full"), ("ReadOnlySqlTransaction", "read-only"), ("IoError", "io")],
)
def test_postgres_disk_faults_by_sqlstate(name, kind):
    errors = pytest.importorskip("psycopg.errors")
    orig = getattr(errors, name)("from the server")
    assert store_fault(OperationalError("UPDATE runs", {}, orig)).kind == kind


def test_bugs_busy_stores_and_lost_connections_are_no_disk_fault():
    errors = pytest.importorskip("psycopg.errors")
    bug = sqlite3.OperationalError("no such table: nope")
    bug.sqlite_errorcode = 1  # SQLITE_ERROR
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = 5  # SQLITE_BUSY: passes by itself (storage.transient)
    lost = errors.AdminShutdown("terminating connection")
    for orig in (bug, busy, lost):
        assert store_fault(OperationalError("SELECT 1", {}, orig)) is None
    assert store_fault(ValueError("not a database error")) is None


def test_the_full_postgres_probe_goes_on_without_the_temporary_privilege(postgres_url):
    """Once a PostgreSQL store's disk was full, the probe also writes a temporary table's row (a
    new page); a role refused temporary tables still probes with its UPDATE, never stops there."""
    psycopg = pytest.importorskip("psycopg")
    url = make_url(postgres_url)
    role = f"no_temp_{url.database}"
    storage.open_store(postgres_url).dispose()  # the schema, created by its owner
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        admin.execute(f"REVOKE TEMPORARY ON DATABASE {url.database} FROM PUBLIC")
        try:
            store = storage.open_store(url.set(username=role).render_as_string(False))
            try:
                probe_write(store, StoreFault("full", "could not extend file", store.safe_url))
                with pytest.raises(DBAPIError, match="permission denied to create temporary"):
                    with writing(store) as conn:
                        conn.exec_driver_sql("CREATE TEMP TABLE refused (n int)")
            finally:
                store.dispose()
        finally:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")
