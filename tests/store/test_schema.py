"""The schema is pinned: a blank store migrates to exactly these tables, columns and indexes, and
a store made by version 1 (tests/store/schema_v1.sql) upgrades on open to the same schema, rows kept."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

from sqlalchemy import event, inspect, select

import storage
from storage import insights, schema, versions
from storage.ask_history import ask_history
from storage.models import SchemaMigration, table_of
from storage.shared_reads import live_board

TABLES = {
    "runs", "events", "approvals", "commands", "tool_call_counts", "live_output",
    "schema_migrations", "project_rules", "snoozes", "notify_keys", "notify_deliveries",
    "link_uses", "ask_counts",
    # Version 11's goal search (FTS5, trigram tokenizer) and the tables FTS5 keeps for it.
    "runs_goal_search", "runs_goal_search_data", "runs_goal_search_idx",
    "runs_goal_search_content", "runs_goal_search_docsize", "runs_goal_search_config",
}  # fmt: skip
SQLITE_ONLY = {table for table in TABLES if table.startswith("runs_goal_search")}
COLUMNS = {
    "runs": [
        "id", "goal", "model", "model_name", "autonomy", "status", "tools", "max_steps",
        "max_seconds", "max_tokens", "max_cost_usd", "policy", "workspace", "parent_run_id",
        "created_by", "created_at", "started_at", "finished_at", "updated_at", "worker_id",
        "lease_expires_at", "last_seq", "steps", "tool_calls", "tokens_in", "tokens_out",
        "cost_usd", "active_seconds", "result", "reason", "seed_from", "claim_epoch",
    ],
    "events": ["id", "run_id", "seq", "kind", "at", "payload", "tool", "verdict"],
    "approvals": [
        "id", "run_id", "request_seq", "tool_call_id", "tool", "arguments", "args_hash", "risk",
        "reason", "rule", "model_text", "summary", "status", "requested_at", "expires_at",
        "decided_at", "decided_by", "note", "edited_arguments", "approved_hash", "allow_scope", "consumed_at",
        "allow_rule", "call_class",
    ],
    "commands": ["id", "run_id", "kind", "payload", "created_by", "created_at", "consumed_at"],
    "tool_call_counts": ["day", "tool", "verdict", "calls"],
    "live_output": ["run_id", "step", "text", "updated_at"],
    "schema_migrations": ["version", "name", "applied_at"],
    "project_rules": [
        "id", "rule_key", "version", "rule", "status", "created_by", "created_at",
        "from_approval_id", "note",
    ],
    "snoozes": ["id", "approval_id", "who", "until", "at"],
    "notify_keys": ["id", "secret", "created_at"],
    "notify_deliveries": [
        "id", "run_id", "approval_id", "event", "channel", "target", "ok", "error", "attempts", "at",
    ],
    "link_uses": ["nonce", "item", "used_by", "used_at"],
    "ask_counts": [
        "day", "model", "model_name", "tool", "rule", "call_class", "status", "edited", "noted",
        "automatic", "allow_scope", "asks",
    ],
    "runs_goal_search": ["run_id", "goal"],
    "runs_goal_search_data": ["id", "block"],
    "runs_goal_search_idx": ["segid", "term", "pgno"],
    "runs_goal_search_content": ["id", "c0", "c1"],
    "runs_goal_search_docsize": ["id", "sz"],
    "runs_goal_search_config": ["k", "v"],
}  # fmt: skip
DAY = "date(created_at)"  # an index on an expression: SQLite reports no column name for it
INDEXES = {
    "runs": {
        "ix_runs_created_at_id": ["created_at", "id"],
        "ix_runs_status_created_at_id": ["status", "created_at", "id"],
        "ix_runs_model_created_at": ["model", "created_at"],
        "ix_runs_model_pair": ["model", "model_name"],
        "ix_runs_day_totals": [
            DAY,
            "status",
            "tokens_in",
            "tokens_out",
            "cost_usd",
            "created_at",
            "tool_calls",
        ],
    },
    "events": {"ix_events_drift": ["run_id"], "ix_events_revoked": ["run_id"]},
    "approvals": {
        "ix_approvals_status_requested_at": ["status", "requested_at"],
        "ix_approvals_run_id": ["run_id"],
        "ix_approvals_requested_at": ["requested_at", "id"],
    },
    "commands": {"ix_commands_run_consumed": ["run_id", "consumed_at"]},
    "tool_call_counts": {},
    "live_output": {},
    "schema_migrations": {},
    "project_rules": {"ix_project_rules_key": ["rule_key", "version"]},
    "snoozes": {"ix_snoozes_who_until": ["who", "until"]},
    "notify_keys": {},
    "notify_deliveries": {"ix_notify_deliveries_run": ["run_id", "id"]},
    "link_uses": {},
    "ask_counts": {
        "ix_ask_counts_traits": [
            "tool",
            "rule",
            "call_class",
            "status",
            "edited",
            "noted",
            "automatic",
            "allow_scope",
            "model",
            "model_name",
            "day",
            "asks",
        ],
    },
    **dict.fromkeys(SQLITE_ONLY, {}),
}
INDEX_SQL = {  # the parts that columns do not show: an expression, a partial index's condition
    "ix_runs_day_totals": (
        "ON runs (date(created_at), status, tokens_in, tokens_out, cost_usd, created_at, tool_calls)"
    ),
    "ix_events_drift": "ON events (run_id) WHERE kind = 'drift'",
    "ix_events_revoked": "ON events (run_id) WHERE kind = 'allowance_revoked'",
}
MIGRATION_NAMES = [
    (1, "create runs, events, approvals and commands"),
    (2, "event tool and verdict columns, tool call counts, indexes for the dashboard"),
    (3, "events append-only and decisions final, enforced by triggers"),
    (4, "approvals consumed by exactly one execution"),
    (5, "runs.seed_from (copy-in workspaces) and live_output (a turn's streamed partial output)"),
    (6, "runs.claim_epoch (fencing tokens: a stale worker's writes are refused)"),
    (7, "approvals.call_class and approvals.allow_rule (classes and scoped allowances)"),
    (8, "project_rules (rules from decisions, versioned and append-only)"),
    (9, "snoozes (an approval put off in one person's inbox, never a decision)"),
    (10, "notify_keys, notify_deliveries and link_uses (notifications and their signed links)"),
    (
        11,
        "goal search index (SQLite FTS5 trigram, PostgreSQL pg_trgm) and the filters' indexes",
    ),
    (12, "ask_counts (asks per day, model and traits, kept by triggers)"),
    (13, "PostgreSQL: an event's write transaction as one function call (storage.server_steps)"),
]
TRIGGERS = {  # SQLite's names; PostgreSQL has one trigger per table for both statements
    "events": {"events_no_update", "events_no_delete"},
    "approvals": {
        "approvals_decision_no_update",
        "approvals_decision_no_delete",
        "approvals_consumed_once",
        "approvals_consumed_if_approved",
        "approvals_count_insert",
        "approvals_count_update",
        "approvals_count_delete",
    },
    "project_rules": {"project_rules_no_update", "project_rules_no_delete"},
    "runs": {
        "runs_goal_search_insert",
        "runs_goal_search_update",
        "runs_goal_search_delete",
        "runs_count_update",
    },
}
V1_SCHEMA = Path(__file__).with_name("schema_v1.sql")


def _migrations(store: storage.Store) -> list[tuple[int, str, object]]:
    with store.engine.connect() as conn:
        table = table_of(SchemaMigration)
        rows = conn.execute(select(table).order_by(table.c.version))
        return [(row.version, row.name, row.applied_at) for row in rows]


def _indexes(store: storage.Store, table: str) -> dict[str, list[str]]:
    """The CREATE INDEX indexes of a table and their columns, read from SQLite itself (SQLAlchemy
    skips indexes on expressions when it reflects a SQLite schema)."""
    with store.engine.connect() as conn:
        listed = conn.exec_driver_sql(f"PRAGMA index_list({table})").all()
        found = {}
        for row in listed:
            if row.origin != "c":  # "u" and "pk": the unique constraint and the primary key
                continue
            parts = conn.exec_driver_sql(f"PRAGMA index_info({row.name})").all()
            found[row.name] = [part.name or DAY for part in parts]
        return found


def _index_sql(store: storage.Store, name: str) -> str:
    with store.engine.connect() as conn:
        query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?"
        sql = conn.exec_driver_sql(query, (name,)).scalar_one()
    return " ".join(sql.replace("IF NOT EXISTS ", "").split())


def _schema(store: storage.Store) -> dict[str, object]:
    inspector = inspect(store.engine)
    return {
        "tables": set(inspector.get_table_names()),
        "columns": {t: [c["name"] for c in inspector.get_columns(t)] for t in TABLES},
        "types": {
            t: [(str(c["type"]), c["nullable"]) for c in inspector.get_columns(t)] for t in TABLES
        },
        "indexes": {t: _indexes(store, t) for t in TABLES},
        "index sql": {name: _index_sql(store, name) for name in INDEX_SQL},
        "primary keys": {t: inspector.get_pk_constraint(t)["constrained_columns"] for t in TABLES},
        "unique": [c["column_names"] for c in inspector.get_unique_constraints("events")],
        "triggers": _triggers(store),
    }


def _triggers(store: storage.Store) -> dict[str, set[str]]:
    with store.engine.connect() as conn:
        query = "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'"
        rows = conn.exec_driver_sql(query).all()
    found: dict[str, set[str]] = {}
    for table, name in rows:
        found.setdefault(table, set()).add(name)
    return found


def test_blank_store_gets_exactly_the_pinned_schema(tmp_path):
    store = storage.open_store(str(tmp_path / "blank.db"))
    pinned = _schema(store)
    assert pinned["tables"] == TABLES
    assert pinned["columns"] == COLUMNS
    assert pinned["indexes"] == INDEXES
    for name, tail in INDEX_SQL.items():
        assert pinned["index sql"][name].endswith(tail), name
    assert pinned["primary keys"]["tool_call_counts"] == ["day", "tool", "verdict"]
    assert pinned["unique"] == [["run_id", "seq"]]
    assert pinned["triggers"] == TRIGGERS
    assert storage.SCHEMA_VERSION == 13
    assert [(v, n) for v, n, _ in _migrations(store)] == MIGRATION_NAMES
    assert storage.current_version(store.engine) == storage.SCHEMA_VERSION
    store.dispose()


def test_reopening_a_migrated_store_changes_nothing(tmp_path):
    path = str(tmp_path / "again.db")
    first = storage.open_store(path)
    before = _migrations(first)
    first.dispose()
    second = storage.open_store(path)
    assert versions.migrate(second.engine) == []
    assert _migrations(second) == before
    second.dispose()


# ---------------------------------------------------------------- version 1 -> 2

V1_RUNS = [  # id, created_at, status, tokens_in
    ("aaaa00000001", "2025-05-01 09:00:00.000000", "succeeded", 100),
    ("aaaa00000002", "2025-05-01 09:00:00.000000", "failed", 20),  # the same instant: ties by id
    ("aaaa00000003", "2025-05-02 15:30:00.000000", "running", 5),
]
V1_EVENTS = [  # run, kind, payload
    ("aaaa00000001", "tool_call", {"tool": "read_file", "verdict": "allow", "arguments": {}}),
    ("aaaa00000001", "tool_result", {"tool": "read_file", "ok": True, "verdict": "ignored"}),
    ("aaaa00000001", "tool_call", {"tool": "run_shell", "verdict": "deny"}),
    ("aaaa00000002", "tool_call", {"tool": "write_file", "verdict": "ask"}),
    ("aaaa00000002", "tool_call", {"verdict": "allow"}),  # no tool: counted as "unknown"
    ("aaaa00000002", "tool_call", {"tool": 7, "verdict": ["ask"]}),  # not strings: no columns
    ("aaaa00000003", "model_call", {"tool": "not a tool event", "tokens_in": 5}),
    ("aaaa00000003", "drift", {"monitor": "repetition", "action": "pause"}),
    ("aaaa00000003", "tool_call", {"tool": "read_file", "verdict": "allow"}),
]
V1_COLUMNS = {  # what version 2 fills in, by event
    "tool_call": [
        ("read_file", "allow"), ("run_shell", "deny"), ("write_file", "ask"), (None, "allow"),
        (None, None), ("read_file", "allow"),
    ],
    "tool_result": [("read_file", None)],
}  # fmt: skip


def _make_v1_store(path: Path) -> None:
    """A store exactly as version 1 left it: its schema, its migration record, a few rows."""
    raw = sqlite3.connect(path)
    raw.executescript(V1_SCHEMA.read_text())
    raw.execute(
        "INSERT INTO schema_migrations VALUES (1, ?, '2025-01-01 00:00:00.000000')",
        (schema.MIGRATIONS[0].name,),
    )
    for run_id, created, status, tokens_in in V1_RUNS:
        raw.execute(
            "INSERT INTO runs (id, goal, model, model_name, autonomy, status, max_steps, "
            "max_seconds, created_at, updated_at, last_seq, steps, tool_calls, tokens_in, "
            "tokens_out, cost_usd, active_seconds) VALUES "
            "(?, ?, 'demo', 'demo', 'supervised', ?, 30, 600, ?, ?, 0, 0, 0, ?, 0, 0, 0)",
            (run_id, f"goal of {run_id}", status, created, created, tokens_in),
        )
    for run_id, kind, payload in V1_EVENTS:
        seq = raw.execute(
            "UPDATE runs SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq", (run_id,)
        ).fetchone()[0]
        raw.execute(
            "INSERT INTO events (run_id, seq, kind, at, payload) VALUES (?, ?, ?, ?, ?)",
            (run_id, seq, kind, "2025-05-03 10:00:00.000000", json.dumps(payload)),
        )
    raw.commit()
    raw.close()


def _tool_columns(store: storage.Store) -> dict[str, list[tuple[str | None, str | None]]]:
    found: dict[str, list[tuple[str | None, str | None]]] = {}
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT kind, tool, verdict FROM events ORDER BY id").all()
    for kind, tool, verdict in rows:
        found.setdefault(kind, []).append((tool, verdict))
    return found


def _tool_call_counts(store: storage.Store) -> list[tuple]:
    with store.engine.connect() as conn:
        query = "SELECT day, tool, verdict, calls FROM tool_call_counts ORDER BY day, tool, verdict"
        return [tuple(row) for row in conn.exec_driver_sql(query)]


def test_a_version_1_store_upgrades_to_the_blank_schema_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v1.db"
    _make_v1_store(path)
    store = storage.open_store(str(path))
    assert [v for v, _, _ in _migrations(store)] == [v for v, _ in MIGRATION_NAMES]
    assert storage.current_version(store.engine) == storage.SCHEMA_VERSION
    blank = storage.open_store(str(tmp_path / "blank.db"))
    assert _schema(store) == _schema(blank)  # ix_runs_created_at is gone, the new ones are there
    blank.dispose()

    assert [r.id for r in storage.list_runs(store)] == [
        "aaaa00000003",
        "aaaa00000002",
        "aaaa00000001",
    ]
    events = storage.events_after(store, run_id="aaaa00000002")
    assert [(e.kind, e.payload) for e in events] == [
        (kind, payload) for run_id, kind, payload in V1_EVENTS if run_id == "aaaa00000002"
    ]
    columns = _tool_columns(store)
    assert {kind: columns[kind] for kind in V1_COLUMNS} == V1_COLUMNS
    assert set(columns["model_call"] + columns["drift"]) == {(None, None)}
    assert _tool_call_counts(store) == [  # counted by the day their run was created
        ("2025-05-01", "", "", 1),
        ("2025-05-01", "", "allow", 1),
        ("2025-05-01", "read_file", "allow", 1),
        ("2025-05-01", "run_shell", "deny", 1),
        ("2025-05-01", "write_file", "ask", 1),
        ("2025-05-02", "read_file", "allow", 1),
    ]
    store.dispose()


def _feed_through_the_api(store: storage.Store) -> None:
    """The same runs and events as _make_v1_store, written by today's create_run/append_event."""
    runs = table_of(storage.Run)
    for run_id, created, status, tokens_in in V1_RUNS:
        made = storage.create_run(store, goal=f"goal of {run_id}")
        storage.update_run(store, run_id=made.id, status=status, tokens_in=tokens_in)
        with store.engine.begin() as conn:
            when = datetime.fromisoformat(created)
            conn.execute(runs.update().where(runs.c.id == made.id).values(created_at=when))
        for owner, kind, payload in V1_EVENTS:
            if owner == run_id:
                storage.append_event(store, run_id=made.id, kind=kind, payload=payload)


def _figures(store: storage.Store) -> dict[str, object]:
    names = ("runs_per_day", "usage_per_day", "drift_stops_by_monitor", "tool_usage")
    return {
        (name, since): getattr(insights, name)(store, since=since)
        for name in names
        for since in (None, datetime(2025, 5, 1, 12), datetime(2025, 5, 2))
    }


def test_the_upgraded_store_gives_the_insights_of_a_store_fed_through_the_api(tmp_path):
    _make_v1_store(tmp_path / "v1.db")
    upgraded = storage.open_store(str(tmp_path / "v1.db"))
    fed = storage.open_store(str(tmp_path / "fed.db"))
    _feed_through_the_api(fed)
    assert _tool_call_counts(fed) == _tool_call_counts(upgraded)  # appends count as they go
    assert _figures(upgraded) == _figures(fed)
    assert insights.tool_usage(upgraded) == [
        {"tool": "read_file", "calls": 2, "allowed": 2, "asked": 0, "denied": 0},
        {"tool": "unknown", "calls": 2, "allowed": 1, "asked": 0, "denied": 0},
        {"tool": "run_shell", "calls": 1, "allowed": 0, "asked": 0, "denied": 1},
        {"tool": "write_file", "calls": 1, "allowed": 0, "asked": 1, "denied": 0},
    ]
    assert insights.tool_usage(upgraded, since=datetime(2025, 5, 2)) == [
        {"tool": "read_file", "calls": 1, "allowed": 1, "asked": 0, "denied": 0},
    ]
    upgraded.dispose()
    fed.dispose()


def test_the_portable_backfill_agrees_with_the_sqlite_one(tmp_path, monkeypatch):
    _make_v1_store(tmp_path / "v1.db")
    store = storage.open_store(str(tmp_path / "v1.db"))  # filled by the SQL backfill
    by_sql = _tool_columns(store)
    monkeypatch.setattr(schema, "BACKFILL_BATCH", 2)  # several batches
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER events_no_update")  # as before version 3
        conn.exec_driver_sql("UPDATE events SET tool = NULL, verdict = NULL")
        schema.backfill_tool_fields_in_batches(conn)
    assert _tool_columns(store) == by_sql
    updates: list[str] = []
    with store.engine.begin() as conn:
        event.listen(conn, "before_cursor_execute", lambda *a: updates.append(a[2]))
        schema.backfill_tool_fields_in_batches(conn)  # again: every row already agrees
    assert not any(s.lstrip().startswith("UPDATE") for s in updates), updates
    store.dispose()


# ---------------------------------------------------------------- the queries use the indexes

SINCE = datetime(2025, 5, 1, 12)  # inside a day: tool_usage also counts that day's events
PLANS = {  # query: the index its plan must use. A store has no ANALYZE statistics: none here.
    "History, deep page": (
        lambda s: storage.list_runs(s, offset=99_950),
        "COVERING INDEX ix_runs_created_at_id",
    ),
    "History, status filter": (
        lambda s: storage.list_runs(s, status=["failed", "halted"]),
        "COVERING INDEX ix_runs_status_created_at_id",
    ),
    "History, model filter count": (
        lambda s: storage.count_runs(s, model="gpt-4o"),
        "SCAN runs USING COVERING INDEX ix_runs_model_pair",
    ),
    "Approvals inbox": (
        lambda s: storage.inbox_approvals(s, who="ann"),
        "SEARCH approvals USING INDEX ix_approvals_status_requested_at (status=?)",
    ),
    "Live board": (
        lambda s: live_board(s),
        "SEARCH runs USING INDEX ix_runs_status_created_at_id (status=?)",
    ),
    "runs per day": (lambda s: insights.runs_per_day(s), "COVERING INDEX ix_runs_day_totals"),
    "approval fatigue, runs and tool calls per day": (
        lambda s: ask_history(s),
        "SCAN runs USING COVERING INDEX ix_runs_day_totals",
    ),
    "approval fatigue, asks per day": (
        lambda s: ask_history(s),
        "SCAN ask_counts USING INDEX sqlite_autoindex_ask_counts_1",
    ),
    "approval fatigue, the asks' groups": (
        lambda s: ask_history(s),
        "SCAN ask_counts USING COVERING INDEX ix_ask_counts_traits",
    ),
    "approval fatigue, a period's asks": (
        lambda s: ask_history(s, since=datetime(2025, 5, 1)),
        "SEARCH ask_counts USING INDEX sqlite_autoindex_ask_counts_1 (day>?)",
    ),
    "approval fatigue, the latest decisions": (
        lambda s: ask_history(s),
        "SCAN approvals USING INDEX ix_approvals_requested_at",
    ),
    "approval fatigue, allowances withdrawn": (
        lambda s: ask_history(s),
        "SCAN events USING INDEX ix_events_revoked",
    ),
    "usage per day": (
        lambda s: insights.usage_per_day(s, since=SINCE),
        "COVERING INDEX ix_runs_day_totals",
    ),
    "drift, all time": (
        lambda s: insights.drift_stops_by_monitor(s),
        "SCAN events USING INDEX ix_events_drift",
    ),
    "drift, a period": (
        lambda s: insights.drift_stops_by_monitor(s, since=SINCE),
        "SEARCH events USING INDEX ix_events_drift (run_id=?)",
    ),
    "tool usage, a period": (
        lambda s: insights.tool_usage(s, since=SINCE),
        "SEARCH events USING INDEX sqlite_autoindex_events_1 (run_id=?)",
    ),
}


def _plans_of(store: storage.Store, query) -> list[str]:
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        query(store)
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    plans = []
    with store.engine.connect() as conn:
        for statement, parameters in statements:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            plans.append(" | ".join(row[3] for row in rows))
    return plans


def test_the_dashboard_queries_read_their_indexes_not_whole_tables(tmp_path):
    store = storage.open_store(str(tmp_path / "plans.db"))
    for name, (query, wanted) in PLANS.items():
        plans = _plans_of(store, query)
        assert any(wanted in plan for plan in plans), (name, plans)
        for plan in plans:  # a bare SCAN of a table reads every row of it
            assert "SCAN runs |" not in f"{plan} |" and "SCAN events |" not in f"{plan} |", plan
    store.dispose()


# ---------------------------------------------------------------- the migration machinery


def test_a_later_migration_is_applied_on_open(tmp_path, monkeypatch):
    path = str(tmp_path / "old.db")
    storage.open_store(path).dispose()  # a store at the current version
    after = storage.SCHEMA_VERSION + 1

    def add_run_labels(conn):
        schema.add_column_if_missing(conn, "runs", "labels", "TEXT")
        conn.exec_driver_sql("CREATE INDEX ix_runs_parent_run_id ON runs (parent_run_id)")

    later = [*schema.MIGRATIONS, schema.Migration(after, "add run labels", add_run_labels)]
    monkeypatch.setattr(schema, "MIGRATIONS", later)
    store = storage.open_store(path)
    assert "labels" in [c["name"] for c in inspect(store.engine).get_columns("runs")]
    assert "ix_runs_parent_run_id" in _indexes(store, "runs")
    assert [(v, n) for v, n, _ in _migrations(store)][-1] == (after, "add run labels")
    assert storage.current_version(store.engine) == after
    assert versions.migrate(store.engine) == []  # and once applied, it stays applied
    store.dispose()


def test_a_missing_migration_record_is_reapplied_without_losing_rows(tmp_path):
    path = str(tmp_path / "forgot.db")
    store = storage.open_store(path)
    run = storage.create_run(store, goal="survive a re-migration")
    storage.append_event(store, run_id=run.id, kind="tool_call", payload={"tool": "read_file"})
    with store.engine.begin() as conn:
        conn.execute(SchemaMigration.__table__.delete())
    assert storage.current_version(store.engine) == 0
    store.dispose()

    reopened = storage.open_store(path)
    assert storage.current_version(reopened.engine) == storage.SCHEMA_VERSION
    assert storage.get_run(reopened, run_id=run.id).goal == "survive a re-migration"
    assert _tool_columns(reopened)["tool_call"] == [("read_file", None)]
    assert [row[1:] for row in _tool_call_counts(reopened)] == [("read_file", "", 1)]  # not twice
    reopened.dispose()


def test_add_column_if_missing_skips_an_existing_column(tmp_path):
    store = storage.open_store(str(tmp_path / "cols.db"))
    with store.engine.begin() as conn:
        schema.add_column_if_missing(conn, "runs", "goal", "TEXT")  # already there: no error
        schema.add_column_if_missing(conn, "runs", "extra", "INTEGER")
    names = [c["name"] for c in inspect(store.engine).get_columns("runs")]
    assert names.count("goal") == 1 and names[-1] == "extra"
    store.dispose()
