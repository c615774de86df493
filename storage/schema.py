"""Schema versions: ordered, named migrations recorded in schema_migrations, applied on open.

Adding a migration: append `Migration(N + 1, "what it does", fn)` to MIGRATIONS and bump nothing
else (SCHEMA_VERSION follows). Version 1 builds the tables from the current models, so a later
migration must check the live schema before changing it (see `add_column_if_missing`): on a blank
store version 1 already created the newest shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect, select, text
from sqlmodel import SQLModel, col

from storage.engine import READ_ONLY  # engine imports this module lazily: no cycle
from storage.models import SchemaMigration, table_of, utcnow

# Any arbitrary constant: PostgreSQL serialises concurrent migrators on this advisory lock.
_PG_MIGRATION_LOCK = 7_130_001


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _create_tables(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn, checkfirst=True)


MIGRATIONS: list[Migration] = [
    Migration(1, "create runs, events, approvals and commands", _create_tables),
]
SCHEMA_VERSION = MIGRATIONS[-1].version


def add_column_if_missing(conn: Connection, table: str, column: str, ddl_type: str) -> None:
    """For later migrations: ALTER TABLE ... ADD COLUMN unless version 1 already made it."""
    if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {ddl_type}")


def applied_versions(conn: Connection) -> set[int]:
    return set(conn.scalars(select(col(SchemaMigration.version))))


def current_version(engine: Engine) -> int:
    """The highest applied version (0 for a blank store)."""
    with engine.execution_options(**{READ_ONLY: True}).connect() as conn:
        if not inspect(conn).has_table(SchemaMigration.__tablename__):
            return 0
        return max(applied_versions(conn), default=0)


def migrate(engine: Engine, migrations: Sequence[Migration] | None = None) -> list[int]:
    """Apply every missing migration in one write transaction; returns the versions applied.

    Opening an up-to-date store is a read of schema_migrations and nothing more. Concurrent
    openers are serialised by BEGIN IMMEDIATE (SQLite) or an advisory lock (PostgreSQL).
    """
    steps = sorted(MIGRATIONS if migrations is None else migrations, key=lambda m: m.version)
    if _is_current(engine, steps):
        return []
    applied: list[int] = []
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        table_of(SchemaMigration).create(conn, checkfirst=True)
        done = applied_versions(conn)
        for step in steps:
            if step.version in done:
                continue
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
        return {m.version for m in steps} <= applied_versions(conn)
