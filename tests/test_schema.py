"""The schema is pinned: a blank store migrates to exactly these tables, columns and indexes."""

from __future__ import annotations

from sqlalchemy import inspect, select

import storage
from storage import schema
from storage.models import SchemaMigration, table_of

TABLES = {"runs", "events", "approvals", "commands", "schema_migrations"}
COLUMNS = {
    "runs": [
        "id", "goal", "model", "model_name", "autonomy", "status", "tools", "max_steps",
        "max_seconds", "max_tokens", "max_cost_usd", "policy", "workspace", "parent_run_id",
        "created_by", "created_at", "started_at", "finished_at", "updated_at", "worker_id",
        "lease_expires_at", "last_seq", "steps", "tool_calls", "tokens_in", "tokens_out",
        "cost_usd", "active_seconds", "result", "reason",
    ],
    "events": ["id", "run_id", "seq", "kind", "at", "payload"],
    "approvals": [
        "id", "run_id", "request_seq", "tool_call_id", "tool", "arguments", "args_hash", "risk",
        "reason", "rule", "model_text", "summary", "status", "requested_at", "expires_at",
        "decided_at", "decided_by", "note", "edited_arguments", "approved_hash", "allow_scope",
    ],
    "commands": ["id", "run_id", "kind", "payload", "created_by", "created_at", "consumed_at"],
    "schema_migrations": ["version", "name", "applied_at"],
}  # fmt: skip
INDEXES = {
    "runs": {"ix_runs_created_at", "ix_runs_status_created_at", "ix_runs_model_created_at"},
    "events": set(),
    "approvals": {"ix_approvals_status_requested_at", "ix_approvals_run_id"},
    "commands": {"ix_commands_run_consumed"},
    "schema_migrations": set(),
}


def _migrations(store: storage.Store) -> list[tuple[int, str, object]]:
    with store.engine.connect() as conn:
        table = table_of(SchemaMigration)
        rows = conn.execute(select(table).order_by(table.c.version))
        return [(row.version, row.name, row.applied_at) for row in rows]


def test_blank_store_gets_exactly_the_pinned_schema(tmp_path):
    store = storage.open_store(str(tmp_path / "blank.db"))
    inspector = inspect(store.engine)
    assert set(inspector.get_table_names()) == TABLES
    for table, columns in COLUMNS.items():
        assert [c["name"] for c in inspector.get_columns(table)] == columns, table
    for table, indexes in INDEXES.items():
        assert {i["name"] for i in inspector.get_indexes(table)} == indexes, table
    seq_unique = inspector.get_unique_constraints("events")
    assert [c["column_names"] for c in seq_unique] == [["run_id", "seq"]]
    assert storage.SCHEMA_VERSION == 1
    assert [(v, n) for v, n, _ in _migrations(store)] == [(1, schema.MIGRATIONS[0].name)]
    assert storage.current_version(store.engine) == storage.SCHEMA_VERSION
    store.dispose()


def test_reopening_a_migrated_store_changes_nothing(tmp_path):
    path = str(tmp_path / "again.db")
    first = storage.open_store(path)
    before = _migrations(first)
    first.dispose()
    second = storage.open_store(path)
    assert schema.migrate(second.engine) == []
    assert _migrations(second) == before
    second.dispose()


def test_an_older_store_is_upgraded_on_open(tmp_path, monkeypatch):
    path = str(tmp_path / "old.db")
    storage.open_store(path).dispose()  # a store at version 1

    def add_run_labels(conn):
        schema.add_column_if_missing(conn, "runs", "labels", "TEXT")
        conn.exec_driver_sql("CREATE INDEX ix_runs_parent_run_id ON runs (parent_run_id)")

    later = [*schema.MIGRATIONS, schema.Migration(2, "add run labels", add_run_labels)]
    monkeypatch.setattr(schema, "MIGRATIONS", later)
    store = storage.open_store(path)
    inspector = inspect(store.engine)
    assert "labels" in [c["name"] for c in inspector.get_columns("runs")]
    assert "ix_runs_parent_run_id" in {i["name"] for i in inspector.get_indexes("runs")}
    assert [(v, n) for v, n, _ in _migrations(store)] == [
        (1, schema.MIGRATIONS[0].name),
        (2, "add run labels"),
    ]
    assert storage.current_version(store.engine) == 2
    assert schema.migrate(store.engine) == []  # and once applied, it stays applied
    store.dispose()


def test_a_missing_migration_record_is_reapplied_without_losing_rows(tmp_path):
    path = str(tmp_path / "forgot.db")
    store = storage.open_store(path)
    run = storage.create_run(store, goal="survive a re-migration")
    with store.engine.begin() as conn:
        conn.execute(SchemaMigration.__table__.delete())
    assert storage.current_version(store.engine) == 0
    store.dispose()

    reopened = storage.open_store(path)
    assert storage.current_version(reopened.engine) == storage.SCHEMA_VERSION
    assert storage.get_run(reopened, run_id=run.id).goal == "survive a re-migration"
    reopened.dispose()


def test_add_column_if_missing_skips_an_existing_column(tmp_path):
    store = storage.open_store(str(tmp_path / "cols.db"))
    with store.engine.begin() as conn:
        schema.add_column_if_missing(conn, "runs", "goal", "TEXT")  # already there: no error
        schema.add_column_if_missing(conn, "runs", "extra", "INTEGER")
    names = [c["name"] for c in inspect(store.engine).get_columns("runs")]
    assert names.count("goal") == 1 and names[-1] == "extra"
    store.dispose()
