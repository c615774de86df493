"""Stores as the releases at each earlier schema version left them, built in the test from the old
schemas, never from the network: version 1 is tests/store/schema_v1.sql (as version 1 made it;
on PostgreSQL the same tables in its dialect), then the migrations 2..N exactly as recorded. Rows
go in with plain SQL, only the columns that version had, and events in the shapes that release's
writers gave them (old_runs.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Connection, create_engine, text

from storage import schema

V1_SCHEMA = Path(__file__).parent.parent / "store" / "schema_v1.sql"
EARLIER = tuple(m.version for m in schema.MIGRATIONS[:-1])  # every version before today's
CONSUMING = 4  # the first release that consumed approvals and numbered its approval requests


def v1_statements(dialect: str) -> list[str]:
    """Version 1's DDL, statement by statement, for SQLite or PostgreSQL."""
    lines = [line for line in V1_SCHEMA.read_text().splitlines() if not line.startswith("--")]
    statements = [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
    if dialect == "sqlite":
        return statements
    translated = []
    for statement in statements:
        statement = statement.replace("DATETIME", "TIMESTAMP WITHOUT TIME ZONE")
        statement = statement.replace("FLOAT", "DOUBLE PRECISION")
        # Version 1 made its integer ids with create_all: SERIAL there.
        if re.match(r"CREATE TABLE (events|approvals|commands) ", statement):
            statement = statement.replace("id INTEGER NOT NULL", "id SERIAL NOT NULL", 1)
        translated.append(statement)
    return translated


def build_schema(conn: Connection, version: int) -> None:
    """The tables, triggers and migration records a store had at `version`."""
    for statement in v1_statements(conn.dialect.name):
        conn.exec_driver_sql(statement)
    for migration in schema.MIGRATIONS[:version]:
        if migration.version > 1:
            migration.apply(conn)
        conn.execute(
            text("INSERT INTO schema_migrations VALUES (:v, :n, '2025-01-01 00:00:00')"),
            {"v": migration.version, "n": migration.name},
        )


def columns(conn: Connection, table: str) -> set[str]:
    from sqlalchemy import inspect

    return {c["name"] for c in inspect(conn).get_columns(table)}


def make_old_store(url: str, version: int, fill) -> None:
    """A store at schema `version` at `url`, with `fill(conn, version)` writing its rows."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            build_schema(conn, version)
            fill(conn, version)
    finally:
        engine.dispose()
