"""Versions agree or refuse: every process checks the store's schema on open and at every claim.

- A store a newer onloop wrote (it records a migration this code does not know) is refused with
  StoreNewer, naming both versions and the fix (upgrade onloop), on open and at every claim: an
  older worker beside a newer one stops claiming instead of driving runs unfenced.
- A store that needs migrations gets them once, in one transaction under a lock (SQLite: BEGIN
  IMMEDIATE, the write lock; PostgreSQL: an advisory lock); a second process opening it at the
  same moment waits, then finds nothing left to do. Before migrating a SQLite store that has data,
  a consistent copy of it is written beside it (`onloop.db.before-v10`), unless one is already
  there or ONLOOP_UPGRADE_COPY=0; one line on the log says so (PostgreSQL: take a pg_dump before
  upgrading onloop; the line says that too).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, select, text
from sqlmodel import col

from storage import schema
from storage.errors import StoreError
from storage.models import SchemaMigration, table_of, utcnow
from storage.private_files import private_store_file
from storage.schema import READ_ONLY, Migration

log = logging.getLogger("onloop.store")
# Any arbitrary constant: PostgreSQL serialises concurrent migrators on this advisory lock.
_PG_MIGRATION_LOCK = 7_130_001
UPGRADE_COPY_ENV = "ONLOOP_UPGRADE_COPY"  # "0": no copy of a SQLite store before migrating it
UPGRADE_HELP = "docs/operations.md, Upgrades and versions"


class StoreNewer(StoreError):
    """The store was written by a newer onloop than this one: this code must not touch it."""


def applied_versions(conn: Connection) -> set[int]:
    return set(conn.scalars(select(col(SchemaMigration.version))))


def current_version(engine: Engine) -> int:
    """The highest applied version (0 for a blank store)."""
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        if not inspect(conn).has_table(SchemaMigration.__tablename__):
            return 0
        return max(applied_versions(conn), default=0)


def _where(conn: Connection) -> str:
    url = conn.engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return str(Path(str(url.database)).resolve())
    return url.render_as_string(hide_password=True)


def refuse_newer(conn: Connection, applied: set[int] | None = None) -> None:
    """StoreNewer when the store records a migration this code does not know."""
    refuse_unknown(applied_versions(conn) if applied is None else applied, lambda: _where(conn))


def refuse_unknown(applied: set[int], where: Callable[[], str]) -> None:
    """StoreNewer when `applied` holds a version this code does not know (the store at where())."""
    unknown = applied - {m.version for m in schema.MIGRATIONS}
    if unknown:
        ours = max(m.version for m in schema.MIGRATIONS)
        raise StoreNewer(
            f"the store at {where()} is at schema version {max(applied)}, newer than this "
            f"onloop (schema version {ours}): upgrade onloop here to the release that wrote it "
            f"(pip install --upgrade onloop) and start this process again; see {UPGRADE_HELP}"
        )


def check_version(conn: Connection) -> None:
    """At a claim, inside its transaction: StoreNewer if a newer onloop migrated the store since
    this process opened it (one read of a table of a dozen rows)."""
    refuse_newer(conn)


def migrate(engine: Engine, migrations: Sequence[Migration] | None = None) -> list[int]:
    """Apply every missing migration in one write transaction; returns the versions applied.

    Opening an up-to-date store is a read of schema_migrations and nothing more. Concurrent
    openers are serialised by BEGIN IMMEDIATE (SQLite) or an advisory lock (PostgreSQL), and each
    checks again under it, so a migration runs once. A newer store is refused (StoreNewer).
    """
    steps = sorted(schema.MIGRATIONS if migrations is None else migrations, key=lambda m: m.version)
    if _is_current(engine, steps):
        return []
    applied: list[int] = []
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        had_data = inspect(conn).has_table("runs")
        table_of(SchemaMigration).create(conn, checkfirst=True)
        done = applied_versions(conn)
        refuse_newer(conn, done)
        missing = [step for step in steps if step.version not in done]
        if missing and had_data:
            _before_upgrading(conn, max(done, default=0), missing[-1].version)
        for step in missing:
            step.apply(conn)
            conn.execute(
                table_of(SchemaMigration)
                .insert()
                .values(version=step.version, name=step.name, applied_at=utcnow())
            )
            applied.append(step.version)
    return applied


def _is_current(engine: Engine, steps: Sequence[Migration]) -> bool:
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        if not inspect(conn).has_table(SchemaMigration.__tablename__):
            return False
        done = applied_versions(conn)
        refuse_newer(conn, done)
        return {m.version for m in steps} <= done


def _before_upgrading(conn: Connection, found: int, target: int) -> None:
    """Under the migration lock, before the first change: keep a copy (SQLite) and say so."""
    where = _where(conn)
    upgrading = f"upgrading the store at {where} from schema version {found} to {target}"
    if conn.dialect.name != "sqlite" or conn.engine.url.database in (None, "", ":memory:"):
        log.warning(
            "%s; back it up with pg_dump before upgrading onloop next time (%s)",
            upgrading,
            UPGRADE_HELP,
        )
        return
    copy = Path(f"{where}.before-v{target}")
    if os.environ.get(UPGRADE_COPY_ENV) == "0":
        log.warning("%s; no copy kept (%s=0)", upgrading, UPGRADE_COPY_ENV)
    elif copy.exists():
        log.warning("%s; the copy made before an earlier attempt stays at %s", upgrading, copy)
    else:
        _sqlite_copy(Path(where), copy)
        log.warning("%s; the store as it was is kept at %s", upgrading, copy)


def _sqlite_copy(source: Path, copy: Path) -> None:
    """A consistent copy with SQLite's online backup (this transaction holds the write lock, so
    no other process changes the store meanwhile); the copy is owner-only, as the store is."""
    partial = copy.with_name(copy.name + ".partial")
    try:
        partial.unlink(missing_ok=True)
        private_store_file(partial)
        with closing(sqlite3.connect(source)) as reader, closing(sqlite3.connect(partial)) as to:
            reader.backup(to)
        partial.replace(copy)
    except (OSError, sqlite3.Error) as error:
        partial.unlink(missing_ok=True)
        raise StoreError(
            f"cannot keep a copy of the store at {source} before upgrading it ({error}): free "
            f"space beside it and start again, or copy it yourself and set {UPGRADE_COPY_ENV}=0"
        ) from error
