"""Schema versions: ordered, named migrations recorded in schema_migrations, applied on open.

Adding a migration: append `Migration(N + 1, "what it does", fn)` to MIGRATIONS and bump nothing
else (SCHEMA_VERSION follows). Version 1 builds the tables from the current models, so a later
migration must check the live schema before changing it (see `add_column_if_missing`): on a blank
store version 1 already created the newest shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, inspect, select, text, update
from sqlmodel import SQLModel

from storage.ask_counts import count_asks
from storage.goal_search import index_goal_search
from storage.models import (
    TOOL_EVENT_KINDS,
    Event,
    ProjectRule,
    Snooze,
    ToolCallCount,
    table_of,
    tool_fields,
)
from storage.notify_tables import LinkUse, NotifyDelivery, NotifyKey
from storage.step_function import create_function

# The execution option that marks a connection as a reader (engine.py opens readers with it).
READ_ONLY = "onloop_read_only"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _create_tables(conn: Connection) -> None:
    SQLModel.metadata.create_all(conn, checkfirst=True)


# Version 2, written out rather than taken from the models so that it keeps its meaning when the
# models move on; a test holds an upgraded store to the same schema as a blank one.
_TOOL_CALL_COUNTS = """
    CREATE TABLE IF NOT EXISTS tool_call_counts (
      day DATE NOT NULL, tool VARCHAR NOT NULL, verdict VARCHAR NOT NULL, calls INTEGER NOT NULL,
      PRIMARY KEY (day, tool, verdict))"""
_DASHBOARD_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_runs_created_at_id ON runs (created_at, id)",
    "CREATE INDEX IF NOT EXISTS ix_runs_day_totals ON runs "
    "(date(created_at), status, tokens_in, tokens_out, cost_usd, created_at)",
    "CREATE INDEX IF NOT EXISTS ix_events_drift ON events (run_id) WHERE kind = 'drift'",
)
# The same rule as storage.models.tool_fields, in each database's JSON dialect: (tool, verdict,
# "differs from" operator). Only rows whose columns differ are written, so applying version 2
# again (its record lost) touches no event once version 3 has made events append-only.
_TOOL_FIELDS_SQL = {
    "sqlite": (
        "CASE WHEN json_type(payload, '$.tool') = 'text' THEN json_extract(payload, '$.tool') END",
        "CASE WHEN kind = 'tool_call' AND json_type(payload, '$.verdict') = 'text' "
        "THEN json_extract(payload, '$.verdict') END",
        "IS NOT",
    ),
    "postgresql": (
        "CASE WHEN json_typeof(payload -> 'tool') = 'string' THEN payload ->> 'tool' END",
        "CASE WHEN kind = 'tool_call' AND json_typeof(payload -> 'verdict') = 'string' "
        "THEN payload ->> 'verdict' END",
        "IS DISTINCT FROM",
    ),
}


def _backfill_sql(dialect: str) -> str | None:
    if dialect not in _TOOL_FIELDS_SQL:
        return None
    tool, verdict, differs = _TOOL_FIELDS_SQL[dialect]
    return (
        f"UPDATE events SET tool = {tool}, verdict = {verdict} "
        f"WHERE kind IN ('tool_call', 'tool_result') "
        f"AND (tool {differs} {tool} OR verdict {differs} {verdict})"
    )


BACKFILL_BATCH = 5_000
_RECOUNT_TOOL_CALLS = """
    INSERT INTO tool_call_counts (day, tool, verdict, calls)
    SELECT date(runs.created_at), coalesce(events.tool, ''), coalesce(events.verdict, ''), count(*)
    FROM events JOIN runs ON runs.id = events.run_id
    WHERE events.kind = 'tool_call'
    GROUP BY date(runs.created_at), coalesce(events.tool, ''), coalesce(events.verdict, '')"""


def _dashboard_schema(conn: Connection) -> None:
    """Events get tool and verdict columns (filled from their payloads) and tool calls get
    counted per day; runs and events get the indexes that keep History paging and the Insights
    aggregates fast on a long history."""
    add_column_if_missing(conn, "events", "tool", "VARCHAR")
    add_column_if_missing(conn, "events", "verdict", "VARCHAR")
    backfill = _backfill_sql(conn.dialect.name)
    if backfill is not None:
        conn.exec_driver_sql(backfill)
    else:
        backfill_tool_fields_in_batches(conn)
    conn.exec_driver_sql(_TOOL_CALL_COUNTS)
    rebuild_tool_call_counts(conn)
    # ix_runs_created_at_id starts with created_at: the old single-column index only cost writes.
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_runs_created_at")
    for statement in _DASHBOARD_INDEXES:
        conn.exec_driver_sql(statement)


def backfill_tool_fields_in_batches(conn: Connection) -> None:
    """The portable backfill (any other database): read payloads in id order, write the columns."""
    events = table_of(Event)
    page = (
        select(events.c.id, events.c.kind, events.c.payload, events.c.tool, events.c.verdict)
        .where(events.c.kind.in_(TOOL_EVENT_KINDS), events.c.id > bindparam("after"))
        .order_by(events.c.id)
        .limit(BACKFILL_BATCH)
    )
    fill = (
        update(events)
        .where(events.c.id == bindparam("event_id"))
        .values(tool=bindparam("tool_value"), verdict=bindparam("verdict_value"))
    )
    after = 0
    while rows := conn.execute(page, {"after": after}).all():
        filled = []
        for event_id, kind, payload, had_tool, had_verdict in rows:
            tool, verdict = tool_fields(kind, payload or {})
            if (tool, verdict) != (had_tool, had_verdict):  # see _TOOL_FIELDS_SQL
                filled.append({"event_id": event_id, "tool_value": tool, "verdict_value": verdict})
        if filled:
            conn.execute(fill, filled)
        after = rows[-1].id


def rebuild_tool_call_counts(conn: Connection) -> None:
    """Recount tool_call_counts from the events (how version 2 fills it; also a repair)."""
    conn.execute(table_of(ToolCallCount).delete())
    conn.exec_driver_sql(_RECOUNT_TOOL_CALLS)


# Version 3: the database itself refuses to edit or delete an event or a decided approval, so no
# code path, old or new, and no hand-written SQL can rewrite the record. SQLite's RAISE takes only
# a literal message, so there the approval's id is not in it.
EVENTS_APPEND_ONLY = "events are append-only"
DECISIONS_NEVER_EDITED = "was already decided; decisions are never edited"
_SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, '{EVENTS_APPEND_ONLY}: an event cannot be updated'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, '{EVENTS_APPEND_ONLY}: an event cannot be deleted'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS approvals_decision_no_update BEFORE UPDATE ON approvals
    WHEN OLD.status != 'pending'
    BEGIN SELECT RAISE(ABORT, 'approval {DECISIONS_NEVER_EDITED}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS approvals_decision_no_delete BEFORE DELETE ON approvals
    WHEN OLD.status != 'pending'
    BEGIN SELECT RAISE(ABORT, 'approval {DECISIONS_NEVER_EDITED}'); END""",
)
_POSTGRESQL_TRIGGERS = (
    f"""CREATE OR REPLACE FUNCTION onloop_events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN
      RAISE EXCEPTION '{EVENTS_APPEND_ONLY}: event % (run %, seq %) cannot be %',
        OLD.id, OLD.run_id, OLD.seq, CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'updated' END
        USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    f"""CREATE OR REPLACE FUNCTION onloop_decision_never_edited() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN
      IF OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'approval % {DECISIONS_NEVER_EDITED}', OLD.id
          USING ERRCODE = 'integrity_constraint_violation';
      END IF;
      RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
    END $$""",
    "DROP TRIGGER IF EXISTS events_append_only ON events",
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION onloop_events_append_only()",
    "DROP TRIGGER IF EXISTS approvals_decision_never_edited ON approvals",
    "CREATE TRIGGER approvals_decision_never_edited BEFORE UPDATE OR DELETE ON approvals "
    "FOR EACH ROW EXECUTE FUNCTION onloop_decision_never_edited()",
)
_RECORD_GUARDS = {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRESQL_TRIGGERS}


def _guard_the_record(conn: Connection) -> None:
    """Triggers that abort any UPDATE or DELETE of an event, and of an approval once decided
    (other databases: none; the storage functions still never do either)."""
    for statement in _RECORD_GUARDS.get(conn.dialect.name, ()):
        conn.execute(text(statement))  # text(): the driver's paramstyle escapes RAISE's % signs


# Version 4: an approved approval is consumed by the one execution it authorises. Consuming is
# the only change a decided approval still allows, and only once; the columns a decision writes
# are listed so that SQLite's trigger fires on any of them (and never on consumed_at alone).
APPROVAL_CONSUMED_ONCE = "was already consumed; one approval authorises one execution"
ONLY_APPROVED_CONSUMED = "is not approved; only an approved approval is consumed"
_DECISION_COLUMNS = (
    "id, run_id, request_seq, tool_call_id, tool, arguments, args_hash, risk, reason, rule, "
    "model_text, summary, status, requested_at, expires_at, decided_at, decided_by, note, "
    "edited_arguments, approved_hash, allow_scope"
)
_SQLITE_CONSUMPTION = (
    "DROP TRIGGER IF EXISTS approvals_decision_no_update",
    f"""CREATE TRIGGER IF NOT EXISTS approvals_decision_no_update
    BEFORE UPDATE OF {_DECISION_COLUMNS} ON approvals WHEN OLD.status != 'pending'
    BEGIN SELECT RAISE(ABORT, 'approval {DECISIONS_NEVER_EDITED}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS approvals_consumed_once
    BEFORE UPDATE OF consumed_at ON approvals WHEN OLD.consumed_at IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'approval {APPROVAL_CONSUMED_ONCE}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS approvals_consumed_if_approved
    BEFORE UPDATE OF consumed_at ON approvals
    WHEN OLD.consumed_at IS NULL AND (OLD.status != 'approved' OR NEW.consumed_at IS NULL)
    BEGIN SELECT RAISE(ABORT, 'approval {ONLY_APPROVED_CONSUMED}'); END""",
)
_POSTGRESQL_CONSUMPTION = (
    f"""CREATE OR REPLACE FUNCTION onloop_decision_never_edited() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN
      IF OLD.consumed_at IS NOT NULL THEN
        RAISE EXCEPTION 'approval % {APPROVAL_CONSUMED_ONCE}', OLD.id
          USING ERRCODE = 'integrity_constraint_violation';
      END IF;
      IF TG_OP = 'UPDATE' AND NEW.consumed_at IS NOT NULL THEN
        IF OLD.status <> 'approved' THEN
          RAISE EXCEPTION 'approval % {ONLY_APPROVED_CONSUMED}', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF to_jsonb(NEW) - 'consumed_at' = to_jsonb(OLD) - 'consumed_at' THEN
          RETURN NEW;
        END IF;
      END IF;
      IF OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'approval % {DECISIONS_NEVER_EDITED}', OLD.id
          USING ERRCODE = 'integrity_constraint_violation';
      END IF;
      RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
    END $$""",
)
_CONSUMPTION_GUARDS = {"sqlite": _SQLITE_CONSUMPTION, "postgresql": _POSTGRESQL_CONSUMPTION}


def _approvals_consumed_once(conn: Connection) -> None:
    """approvals.consumed_at, and triggers that let it be set once, on an approved approval, and
    change nothing else of a decision (other databases: the column; storage still checks)."""
    moment = "DATETIME" if conn.dialect.name == "sqlite" else "TIMESTAMP"  # as version 1 makes it
    add_column_if_missing(conn, "approvals", "consumed_at", moment)
    for statement in _CONSUMPTION_GUARDS.get(conn.dialect.name, ()):
        conn.execute(text(statement))


# Version 5: written out like version 2.
_LIVE_OUTPUT = """
    CREATE TABLE IF NOT EXISTS live_output (
      run_id VARCHAR NOT NULL, step INTEGER NOT NULL, text VARCHAR NOT NULL,
      updated_at DATETIME NOT NULL,
      PRIMARY KEY (run_id), FOREIGN KEY(run_id) REFERENCES runs (id))"""


def _workspaces_and_live_output(conn: Connection) -> None:
    """Runs may start as a copy of a folder (runs.seed_from), and a turn's partial output has a
    table of its own (live_output) that the CLI and the Run page read while the model streams."""
    add_column_if_missing(conn, "runs", "seed_from", "VARCHAR")
    live_output = _LIVE_OUTPUT
    if conn.dialect.name == "postgresql":
        live_output = live_output.replace("DATETIME", "TIMESTAMP WITHOUT TIME ZONE")
    conn.exec_driver_sql(live_output)


def _fencing(conn: Connection) -> None:
    """Every claim bumps runs.claim_epoch; a session's writes are conditional on it."""
    add_column_if_missing(conn, "runs", "claim_epoch", "INTEGER NOT NULL DEFAULT 0")


# Version 7: the columns a decision writes now include the allowance's rule and the call's class.
_DECISION_COLUMNS_7 = f"{_DECISION_COLUMNS}, allow_rule, call_class"


def _classes_and_scoped_allowances(conn: Connection) -> None:
    """approvals.call_class (what the call does) and approvals.allow_rule (the scoped allowance a
    person gave with it); SQLite's guard then covers both, as PostgreSQL's whole-row one does."""
    add_column_if_missing(conn, "approvals", "allow_rule", "JSON")
    add_column_if_missing(conn, "approvals", "call_class", "VARCHAR")
    if conn.dialect.name == "sqlite":
        conn.execute(text("DROP TRIGGER IF EXISTS approvals_decision_no_update"))
        conn.execute(
            text(
                f"""CREATE TRIGGER approvals_decision_no_update
                BEFORE UPDATE OF {_DECISION_COLUMNS_7} ON approvals WHEN OLD.status != 'pending'
                BEGIN SELECT RAISE(ABORT, 'approval {DECISIONS_NEVER_EDITED}'); END"""
            )
        )


# Version 8: rules people add to the project, versioned; a version is never edited or deleted.
PROJECT_RULES_APPEND_ONLY = "project rules are append-only: edit or revoke makes a new version"
_PROJECT_RULE_GUARDS = {
    "sqlite": (
        f"""CREATE TRIGGER IF NOT EXISTS project_rules_no_update BEFORE UPDATE ON project_rules
        BEGIN SELECT RAISE(ABORT, '{PROJECT_RULES_APPEND_ONLY}'); END""",
        f"""CREATE TRIGGER IF NOT EXISTS project_rules_no_delete BEFORE DELETE ON project_rules
        BEGIN SELECT RAISE(ABORT, '{PROJECT_RULES_APPEND_ONLY}'); END""",
    ),
    "postgresql": (
        f"""CREATE OR REPLACE FUNCTION onloop_project_rules_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN
          RAISE EXCEPTION '{PROJECT_RULES_APPEND_ONLY}'
            USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
        "DROP TRIGGER IF EXISTS project_rules_append_only ON project_rules",
        "CREATE TRIGGER project_rules_append_only BEFORE UPDATE OR DELETE ON project_rules "
        "FOR EACH ROW EXECUTE FUNCTION onloop_project_rules_append_only()",
    ),
}


def _project_rules(conn: Connection) -> None:
    """project_rules (version 1 makes it on a blank store), and triggers keeping it append-only."""
    table_of(ProjectRule).create(conn, checkfirst=True)
    for statement in _PROJECT_RULE_GUARDS.get(conn.dialect.name, ()):
        conn.execute(text(statement))


def _snoozes(conn: Connection) -> None:
    """snoozes: "not now" on the inbox, one row per put-off (version 1 makes it on a blank store)."""
    table_of(Snooze).create(conn, checkfirst=True)


def _notifications(conn: Connection) -> None:
    """notify_keys (the link-signing key), notify_deliveries and link_uses (version 1 makes them
    on a blank store)."""
    for model in (NotifyKey, NotifyDelivery, LinkUse):
        table_of(model).create(conn, checkfirst=True)


MIGRATIONS: list[Migration] = [
    Migration(1, "create runs, events, approvals and commands", _create_tables),
    Migration(
        2,
        "event tool and verdict columns, tool call counts, indexes for the dashboard",
        _dashboard_schema,
    ),
    Migration(3, "events append-only and decisions final, enforced by triggers", _guard_the_record),
    Migration(4, "approvals consumed by exactly one execution", _approvals_consumed_once),
    Migration(
        5,
        "runs.seed_from (copy-in workspaces) and live_output (a turn's streamed partial output)",
        _workspaces_and_live_output,
    ),
    Migration(
        6, "runs.claim_epoch (fencing tokens: a stale worker's writes are refused)", _fencing
    ),
    Migration(
        7,
        "approvals.call_class and approvals.allow_rule (classes and scoped allowances)",
        _classes_and_scoped_allowances,
    ),
    Migration(8, "project_rules (rules from decisions, versioned and append-only)", _project_rules),
    Migration(9, "snoozes (an approval put off in one person's inbox, never a decision)", _snoozes),
    Migration(
        10,
        "notify_keys, notify_deliveries and link_uses (notifications and their signed links)",
        _notifications,
    ),
    Migration(
        11,
        "goal search index (SQLite FTS5 trigram, PostgreSQL pg_trgm) and the filters' indexes",
        index_goal_search,
    ),
    Migration(12, "ask_counts (asks per day, model and traits, kept by triggers)", count_asks),
    Migration(
        13,
        "PostgreSQL: an event's write transaction as one function call (storage.server_steps)",
        create_function,
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1].version


def add_column_if_missing(conn: Connection, table: str, column: str, ddl_type: str) -> None:
    """For later migrations: ALTER TABLE ... ADD COLUMN unless version 1 already made it."""
    if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {ddl_type}")
