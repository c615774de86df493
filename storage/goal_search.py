"""Goal search and the History filter's options, served by indexes (schema version 11).

Search keeps the meaning it always had: the goal contains the words as typed, as a substring,
case-insensitively as the database's LIKE/ILIKE folds case (SQLite: ASCII letters; PostgreSQL:
its locale's). What changed is how the rows are found:

- SQLite: `runs_goal_search`, an FTS5 table with the trigram tokenizer holding each run's goal,
  kept in step with `runs` by triggers. A search of 3 characters or more asks it for the
  candidate runs (the trigrams of the words, in order), then checks each candidate with the old
  LIKE, so the results are exactly the old ones. The trigram index folds case more widely than
  LIKE (non-ASCII letters too), so its candidates are a superset and the check only removes.
  A term found in more than DENSE runs is counted by reading the table instead: reading a
  twentieth of the rows through the index costs as much as reading them all.
- PostgreSQL: a GIN index with pg_trgm's gin_trgm_ops on runs.goal, which serves the same ILIKE
  query unchanged. Without the pg_trgm extension (not installed, or no right to create it) the
  migration leaves the index out and says so; search then reads the table as before.

Terms under 3 characters have no trigram: they read the table on both databases.
"""

from __future__ import annotations

import logging
import sqlite3
import weakref

from sqlalchemy import ColumnElement, Connection, Engine, bindparam, func, select, text, tuple_

from storage.models import Run, table_of

log = logging.getLogger(__name__)
_runs = table_of(Run)
SEARCH_TABLE = "runs_goal_search"
TRIGRAM = 3  # the shortest term the trigram index can find
DENSE = 5_000  # more candidates than this: count by reading the table (see above)

_SQLITE_SEARCH = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SEARCH_TABLE} "
    "USING fts5(run_id UNINDEXED, goal, tokenize = 'trigram')",
    f"""CREATE TRIGGER IF NOT EXISTS runs_goal_search_insert AFTER INSERT ON runs
    BEGIN INSERT INTO {SEARCH_TABLE} (run_id, goal) VALUES (NEW.id, NEW.goal); END""",
    # A goal is never edited by onloop and runs are not deleted; both stay correct if they are.
    f"""CREATE TRIGGER IF NOT EXISTS runs_goal_search_update AFTER UPDATE OF id, goal ON runs
    WHEN OLD.id IS NOT NEW.id OR OLD.goal IS NOT NEW.goal
    BEGIN
      DELETE FROM {SEARCH_TABLE} WHERE run_id = OLD.id;
      INSERT INTO {SEARCH_TABLE} (run_id, goal) VALUES (NEW.id, NEW.goal);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS runs_goal_search_delete AFTER DELETE ON runs
    BEGIN DELETE FROM {SEARCH_TABLE} WHERE run_id = OLD.id; END""",
)
_FILL = f"INSERT INTO {SEARCH_TABLE} (run_id, goal) SELECT id, goal FROM runs"
_PG_TRIGRAM_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_runs_goal_trgm ON runs USING gin (goal gin_trgm_ops)"
)
# The model filter's options are the distinct pairs of ix_runs_model_pair, and its count reads
# that index rather than the table; the status filter's page of ids comes from its index alone
# once it holds the id too.
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_runs_model_pair ON runs (model, model_name)",
    "DROP INDEX IF EXISTS ix_runs_status_created_at",
    "CREATE INDEX IF NOT EXISTS ix_runs_status_created_at_id ON runs (status, created_at, id)",
    # The per-day totals also cover tool_calls now: the approval-fatigue figures sum them.
    "DROP INDEX IF EXISTS ix_runs_day_totals",
    "CREATE INDEX ix_runs_day_totals ON runs "
    "(date(created_at), status, tokens_in, tokens_out, cost_usd, created_at, tool_calls)",
)


def sqlite_has_trigram() -> bool:
    """Whether this SQLite has FTS5 with the trigram tokenizer (3.34 and later, usually)."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE probe USING fts5(x, tokenize = 'trigram')")
    except sqlite3.Error:
        return False
    finally:
        probe.close()
    return True


def index_goal_search(conn: Connection) -> None:
    """Version 11: the goal search index (see the module's doc) and the filters' indexes."""
    for statement in _INDEXES:
        conn.exec_driver_sql(statement)
    if conn.dialect.name == "sqlite":
        if not sqlite_has_trigram():
            log.warning("this SQLite has no FTS5 trigram tokenizer: goal search reads the table")
            return
        fresh = not conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = ?", (SEARCH_TABLE,)
        ).first()
        for statement in _SQLITE_SEARCH:
            conn.exec_driver_sql(statement)
        if fresh:
            conn.exec_driver_sql(_FILL)
    elif conn.dialect.name == "postgresql":
        with conn.begin_nested() as extension:  # a refusal must not undo the migration
            try:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception as error:  # noqa: BLE001 - any refusal: search reads the table
                extension.rollback()
                log.warning("no pg_trgm extension (%s): goal search reads the table", error)
                return
        conn.exec_driver_sql(_PG_TRIGRAM_INDEX)


_HAS_INDEX: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def _sqlite_index(conn: Connection) -> bool:
    """Whether this SQLite store has the search table (once per engine: it never goes away)."""
    engine = conn.engine
    if engine not in _HAS_INDEX:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        _HAS_INDEX[engine] = conn.exec_driver_sql(query, (SEARCH_TABLE,)).first() is not None
    return _HAS_INDEX[engine]


def _phrase(term: str) -> str:
    """The term as one FTS5 string: its trigrams in order, i.e. the substring."""
    return '"' + term.replace('"', '""') + '"'


def goal_contains(conn: Connection, term: str) -> list[ColumnElement[bool]]:
    """WHERE clauses for runs whose goal contains `term` (already stripped, not empty)."""
    if conn.dialect.name != "sqlite":
        return [_runs.c.goal.icontains(term, autoescape=True)]  # served by ix_runs_goal_trgm
    # SQLite's LIKE folds ASCII letters, as its lower() does: the same test as
    # lower(goal) LIKE lower(term), without lowering every goal it reads.
    like = _runs.c.goal.contains(term, autoescape=True)
    if len(term) < TRIGRAM or not _sqlite_index(conn):
        return [like]
    phrase = _phrase(term)
    matched = text(f"{SEARCH_TABLE} MATCH :goal_phrase").bindparams(goal_phrase=phrase)
    found = select(func.count()).select_from(text(SEARCH_TABLE)).where(matched)
    if conn.execute(found).scalar_one() > DENSE:
        return [like]
    candidates = select(text("run_id")).select_from(text(SEARCH_TABLE)).where(matched)
    return [_runs.c.id.in_(candidates), like]


def models_in_use(conn: Connection) -> list[str]:
    """Every provider and model name that runs used, sorted: each distinct (model, model_name)
    pair found by one seek in ix_runs_model_pair past the previous pair (a skip scan), not by
    reading every run."""
    pair = (_runs.c.model, _runs.c.model_name)
    first = select(*pair).order_by(*pair).limit(1)
    after = first.where(tuple_(*pair) > tuple_(bindparam("model"), bindparam("name")))
    found: set[str] = set()
    row = conn.execute(first).first()
    while row is not None:
        found.update(name for name in row if name)
        row = conn.execute(after, {"model": row[0], "name": row[1]}).first()
    return sorted(found)
