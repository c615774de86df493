"""Asks counted by day, model and traits, kept by the database itself (schema version 12).

The approval-fatigue figures group a period's asks by tool, rule, class, outcome and how they
were decided. Grouped from the approvals table, a year of asks is a scan of every one of them
(300,000 asks: over a second); `ask_counts` holds the same counts per day of the run's creation
and per model, so a period's groups are a sum over a few rows a day.

Triggers keep it: an approval inserted adds one to its row, a change of any column a count is
keyed on (a decision: status, who, the note, the arguments approved, the allowance) takes one
from the old row and adds one to the new, a deletion takes one away. Every writer is covered,
whatever code or hand-written SQL it is, and in the approval's own transaction. A row may fall
to zero (every pending ask is decided): readers skip those. onloop never deletes a run nor
changes its creation or model; an UPDATE that does moves its asks' counts (a trigger on runs).

A period is whole days (the Insights page asks from 00:00 UTC): counts answer it exactly. One
that starts inside a day, or one run's asks, is read from the approvals as before
(storage/ask_history.py).
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Date, Integer, MetaData, String, Table, text

from storage.vocabulary import YES_SUFFIX

TABLE = "ask_counts"
KEY = (
    "day",
    "model",
    "model_name",
    "tool",
    "rule",
    "call_class",
    "status",
    "edited",
    "noted",
    "automatic",
    "allow_scope",
)
# Not in SQLModel's metadata: version 1 must not make it (version 12 does, written out below).
ask_counts = Table(
    TABLE,
    MetaData(),
    Column("day", Date, primary_key=True),
    Column("model", String, primary_key=True),
    Column("model_name", String, primary_key=True),  # "" for none
    Column("tool", String, primary_key=True),
    Column("rule", String, primary_key=True),  # "" for none
    Column("call_class", String, primary_key=True),  # "" for none
    Column("status", String, primary_key=True),
    Column("edited", Integer, primary_key=True),
    Column("noted", Integer, primary_key=True),
    Column("automatic", Integer, primary_key=True),
    Column("allow_scope", String, primary_key=True),  # "" for none
    Column("asks", Integer, nullable=False),
)

_CREATE = f"""
    CREATE TABLE IF NOT EXISTS {TABLE} (
      day DATE NOT NULL, model VARCHAR NOT NULL, model_name VARCHAR NOT NULL,
      tool VARCHAR NOT NULL, rule VARCHAR NOT NULL, call_class VARCHAR NOT NULL,
      status VARCHAR NOT NULL, edited INTEGER NOT NULL, noted INTEGER NOT NULL,
      automatic INTEGER NOT NULL, allow_scope VARCHAR NOT NULL, asks INTEGER NOT NULL,
      PRIMARY KEY ({", ".join(KEY)}))"""
# The grouped counts read in this order, all of each row in the index: no sort of the rows (a
# year of varied asks is tens of thousands of rows: 86 ms sorted, 14 ms in this order).
_BY_TRAITS = (
    f"CREATE INDEX IF NOT EXISTS ix_ask_counts_traits ON {TABLE} (tool, rule, call_class, "
    "status, edited, noted, automatic, allow_scope, model, model_name, day, asks)"
)
# The columns a count is keyed on: a change of any other (consumed_at) moves no count.
_KEYED_COLUMNS = (
    "run_id, tool, rule, call_class, status, args_hash, approved_hash, note, decided_by, "
    "allow_scope"
)
# YES_SUFFIX is matched with LIKE, as storage.ask_history's `endswith` does: no wildcard in it.
assert not set(YES_SUFFIX) & set("%_'/\\"), YES_SUFFIX


def _day(dialect: str) -> str:
    return "date(r.created_at)" if dialect == "sqlite" else "CAST(r.created_at AS DATE)"


def key_values(approval: str, dialect: str) -> str:
    """The key of `approval`'s count (an alias: NEW, OLD, a), its run joined as `r`. The same
    traits storage.ask_history groups by: edited (approved with other arguments than asked),
    noted (a note that is not empty), automatic (decided by `--yes`)."""
    a = approval
    return ", ".join(
        (
            _day(dialect),
            "r.model",
            "coalesce(r.model_name, '')",
            f"{a}.tool",
            f"coalesce({a}.rule, '')",
            f"coalesce({a}.call_class, '')",
            f"{a}.status",
            f"CASE WHEN {a}.approved_hash IS NOT NULL AND {a}.approved_hash <> {a}.args_hash "
            "THEN 1 ELSE 0 END",
            f"CASE WHEN {a}.note IS NOT NULL AND {a}.note <> '' THEN 1 ELSE 0 END",
            f"CASE WHEN {a}.decided_by LIKE '%{YES_SUFFIX}' THEN 1 ELSE 0 END",
            f"coalesce({a}.allow_scope, '')",
        )
    )


def _add(approval: str, step: int, dialect: str) -> str:
    """One statement: `step` added to the count of `approval` (made at `step` if it is new)."""
    return (
        f"INSERT INTO {TABLE} ({', '.join(KEY)}, asks) "
        f"SELECT {key_values(approval, dialect)}, {step} FROM runs r "
        f"WHERE r.id = {approval}.run_id "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET asks = {TABLE}.asks + excluded.asks"
    )


def _move(run: str, sign: str, dialect: str) -> str:
    """One statement: the counts of every ask of a run whose day or model changed, taken from
    its OLD key (sign "-") or given to its NEW one ("+")."""
    r = f"(SELECT {run}.created_at AS created_at, {run}.model AS model, "
    r += f"{run}.model_name AS model_name) r"
    key = key_values("a", dialect)
    return (
        f"INSERT INTO {TABLE} ({', '.join(KEY)}, asks) "
        f"SELECT {key}, {sign}count(*) FROM approvals a, {r} WHERE a.run_id = {run}.id "
        f"GROUP BY {key} "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET asks = {TABLE}.asks + excluded.asks"
    )


# onloop never changes a run's creation or model; a hand-written UPDATE (or a test back-dating a
# run) moves its asks' counts with it.
_RUN_KEY = "created_at, model, model_name"
_RUN_KEY_CHANGED = (
    "OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.model IS DISTINCT FROM NEW.model "
    "OR OLD.model_name IS DISTINCT FROM NEW.model_name"
)


def _sqlite_triggers() -> tuple[str, ...]:
    changed = _RUN_KEY_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
    return (
        f"""CREATE TRIGGER IF NOT EXISTS runs_count_update AFTER UPDATE OF {_RUN_KEY} ON runs
        WHEN {changed}
        BEGIN {_move("OLD", "-", "sqlite")}; {_move("NEW", "", "sqlite")}; END""",
        f"""CREATE TRIGGER IF NOT EXISTS approvals_count_insert AFTER INSERT ON approvals
        BEGIN {_add("NEW", 1, "sqlite")}; END""",
        f"""CREATE TRIGGER IF NOT EXISTS approvals_count_update
        AFTER UPDATE OF {_KEYED_COLUMNS} ON approvals
        BEGIN {_add("OLD", -1, "sqlite")}; {_add("NEW", 1, "sqlite")}; END""",
        f"""CREATE TRIGGER IF NOT EXISTS approvals_count_delete AFTER DELETE ON approvals
        BEGIN {_add("OLD", -1, "sqlite")}; END""",
    )


def _postgresql_triggers() -> tuple[str, ...]:
    return (
        f"""CREATE OR REPLACE FUNCTION onloop_ask_counts() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') THEN {_add("OLD", -1, "postgresql")}; END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') THEN {_add("NEW", 1, "postgresql")}; END IF;
          RETURN NULL;
        END $$""",
        f"""CREATE OR REPLACE FUNCTION onloop_run_ask_counts() RETURNS trigger
        LANGUAGE plpgsql AS $$ BEGIN
          {_move("OLD", "-", "postgresql")};
          {_move("NEW", "", "postgresql")};
          RETURN NULL;
        END $$""",
        "DROP TRIGGER IF EXISTS runs_ask_counts ON runs",
        f"CREATE TRIGGER runs_ask_counts AFTER UPDATE OF {_RUN_KEY} ON runs FOR EACH ROW "
        f"WHEN ({_RUN_KEY_CHANGED}) EXECUTE FUNCTION onloop_run_ask_counts()",
        "DROP TRIGGER IF EXISTS approvals_ask_counts ON approvals",
        "CREATE TRIGGER approvals_ask_counts "
        f"AFTER INSERT OR UPDATE OF {_KEYED_COLUMNS} OR DELETE ON approvals "
        "FOR EACH ROW EXECUTE FUNCTION onloop_ask_counts()",
    )


def _fill(dialect: str) -> str:
    """Every approval counted (a store upgraded to version 12 with its asks on record)."""
    return (
        f"INSERT INTO {TABLE} ({', '.join(KEY)}, asks) "
        f"SELECT {key_values('a', dialect)}, count(*) FROM approvals a "
        f"JOIN runs r ON r.id = a.run_id GROUP BY {key_values('a', dialect)}"
    )


# The figures' other reads: the latest decisions newest first (stopping at the sample), and the
# allowances withdrawn (a partial index, as ix_events_drift: a few rows, not every event).
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_approvals_requested_at ON approvals (requested_at, id)",
    "CREATE INDEX IF NOT EXISTS ix_events_revoked ON events (run_id) "
    "WHERE kind = 'allowance_revoked'",
)


def count_asks(conn: Connection) -> None:
    """Version 12: `ask_counts`, filled from the approvals on record, the triggers that keep it,
    and the indexes of the figures' other reads."""
    dialect = conn.dialect.name
    triggers = _sqlite_triggers() if dialect == "sqlite" else _postgresql_triggers()
    statements = (
        *_INDEXES,
        _CREATE,
        _BY_TRAITS,
        f"DELETE FROM {TABLE}",
        *triggers,
        _fill(dialect),
    )
    for statement in statements:  # DELETE: applied again (its record lost), all recounted
        conn.execute(text(statement))  # text(): the driver's paramstyle escapes LIKE's %
