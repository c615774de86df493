"""Faults of the store's disk, not of onloop: full, read-only, I/O errors, a file that cannot be
opened. They last until a person acts (frees space, makes the file writable, fixes the disk), so
a process that meets one stays up, says once what is wrong and how to fix it, writes nothing new
and tries again until the store takes writes (agent_core.worker.outage)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from storage.engine import Store, sqlite_path, writing

# SQLite's primary result codes (an extended code's low byte is its primary code).
_SQLITE = {8: "read-only", 10: "io", 13: "full", 14: "cannot-open"}
# PostgreSQL's SQLSTATEs: disk_full, read_only_sql_transaction, io_error.
_POSTGRES = {"53100": "full", "25006": "read-only", "58030": "io"}
FREE_TO_RESUME = 256 * 1024  # a full SQLite disk counts as freed with at least this much room
RETRY_EVERY_S = 5.0  # the longest wait between attempts to write again


@dataclass(frozen=True)
class StoreFault:
    """What is wrong with the store's disk: `kind` full / read-only / io / cannot-open."""

    kind: str
    detail: str  # the driver's own words, e.g. "database or disk is full"
    where: str  # the store's file's folder (SQLite) or the database's URL

    @property
    def what(self) -> str:
        return {
            "full": "the store's disk is full",
            "read-only": "the store is read-only",
            "io": "the store's disk gives I/O errors",
            "cannot-open": "the store's file cannot be opened",
        }[self.kind]

    @property
    def fix(self) -> str:
        return {
            "full": f"free space on {self.where}",
            "read-only": f"make {self.where} writable by this process again",
            "io": f"check the disk behind {self.where} (dmesg) and its free space",
            "cannot-open": f"check that {self.where} exists and this process may write it",
        }[self.kind]

    def line(self) -> str:
        """The one log line: what is wrong, the fix, and what onloop does meanwhile."""
        return (
            f"{self.what} ({self.detail}): {self.fix}; onloop retries every "
            f"{RETRY_EVERY_S:.0f} s and claims no run until it can write again"
        )

    def reason(self) -> str:
        """Why a session it cut off ended: the run is resumable once the store takes writes."""
        return f"{self.what} ({self.detail}); the run can be resumed"


def store_fault(error: BaseException, store: Store | None = None) -> StoreFault | None:
    """The disk fault behind a database error, or None (a bug, a passing outage, bad input)."""
    if not isinstance(error, DBAPIError) or error.orig is None:
        return None
    orig = error.orig
    kind = None
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        kind = _SQLITE.get(code & 0xFF)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate:
        kind = _POSTGRES.get(str(sqlstate))
    if kind is None:
        return None
    lines = str(orig).strip().splitlines()
    return StoreFault(kind, lines[0] if lines else type(orig).__name__, _where(store))


def _where(store: Store | None) -> str:
    if store is None:
        return "the store's disk"
    path = sqlite_path(store.url)
    return str(path.parent) if path is not None else store.safe_url


# A full PostgreSQL tablespace still takes the probe's UPDATE (the new row version fits in its
# page, and the WAL lives in the cluster's own folder): only a write that needs a new page fails.
# A fresh temporary table's first row always adds one, in the database's default tablespace (the
# one onloop's tables were created in); the table goes at commit.
_NEW_PAGE_SQL = (
    "SET LOCAL temp_tablespaces = ''",
    "CREATE TEMP TABLE onloop_probe (n int) ON COMMIT DROP",
    "INSERT INTO onloop_probe VALUES (1)",
)
_NO_PRIVILEGE = "42501"  # insufficient_privilege


def probe_write(store: Store, fault: StoreFault | None = None) -> None:
    """One real write that changes nothing; raises while the store cannot take writes. A full
    SQLite disk also needs FREE_TO_RESUME bytes free (small writes can still fit in the WAL file
    while the disk is full); a full PostgreSQL tablespace, room for a new page."""
    path = sqlite_path(store.url)
    if fault is not None and fault.kind == "full" and path is not None:
        free = shutil.disk_usage(path.parent).free
        if free < FREE_TO_RESUME:
            raise DiskStillFull(f"{free} bytes free on {path.parent}")
    if fault is not None and fault.kind != "full":
        store.engine.dispose()  # connections opened read-only (or broken) are not reused
    with writing(store) as conn:
        conn.execute(text("UPDATE schema_migrations SET applied_at = applied_at WHERE version = 1"))
        if fault is not None and fault.kind == "full" and conn.dialect.name == "postgresql":
            _new_page(conn)


def _new_page(conn: Connection) -> None:
    """Write a row that needs a new page (PostgreSQL); raises while the tablespace is full. A
    role without the TEMPORARY privilege cannot: then the probe's UPDATE is all it can try."""
    try:
        with conn.begin_nested():
            for statement in _NEW_PAGE_SQL:
                conn.exec_driver_sql(statement)
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) != _NO_PRIVILEGE:
            raise


class DiskStillFull(Exception):
    """The probe found too little room to count the full disk as freed."""
