"""Goal search through schema 11's index finds exactly what the old LIKE found (punctuation, LIKE's
own wildcards, non-ASCII letters, case), on SQLite and PostgreSQL; the index follows the runs
(insert, goal change, delete) and a version-10 store gets it, filled, when it is opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, select, text

import storage
from storage import goal_search
from storage.models import Run, table_of
from tests.support.old_runs import write_run
from tests.support.old_schemas import make_old_store

_runs = table_of(Run)
GOALS = [
    "Total the invoices in the workspace and write the sum to total.txt",
    "TOTAL THE INVOICES",
    "Ärger mit der Übung: fix it",
    "ärger, klein geschrieben",
    "Σίσυφος pushes the stone",
    "straße und STRASSE",
    "Kelvin sign \u212a here",  # folds to "k" in Unicode, not in LIKE
    "100% done_with a/b\\c",
    'say "hello" to (#42)',
    "emoji \U0001f642 in the goal",
    "tabs\tand  double  spaces",
    "日本語のゴール",
]
SEARCHES = [
    "invoices", "INVOICES", "Invoi", "total.txt", "ärger", "ÄRGER", "Übung", "übung", "σίσ",
    "ΣΊΣ", "straß", "STRASSE", "ss", "kelvin k", "kelvin \u212a", "\u212a h", "100%", "%",
    "_", "done_with", "e_w", "a/b", "b\\c", '"hello"', '"', "(#42)", "#4", "\U0001f642",
    "and  double", "日本", "日本語", "ゴール", "no such words", "e", "he", "the",
]  # fmt: skip


def _old_like(store: storage.Store, term: str) -> set[str]:
    """What search found before schema 11: lower(goal) LIKE lower('%term%'), wildcards escaped."""
    query = select(_runs.c.id).where(_runs.c.goal.icontains(term, autoescape=True))
    with store.engine.connect() as conn:
        return set(conn.scalars(query))


@pytest.fixture
def seeded(any_store):
    ids = {storage.create_run(any_store, goal=goal).id: goal for goal in GOALS}
    return any_store, ids


@pytest.mark.parametrize("dense", [goal_search.DENSE, 0], ids=["index", "scan"])
def test_search_finds_what_the_old_like_found(seeded, monkeypatch, dense):
    store, _ = seeded
    monkeypatch.setattr(goal_search, "DENSE", dense)  # 0: every term counts as common
    for term in SEARCHES:
        wanted = _old_like(store, term)
        found = {run.id for run in storage.list_runs(store, search=term, limit=100)}
        assert found == wanted, term
        assert storage.count_runs(store, search=term) == len(wanted), term
    assert len(_old_like(store, "invoices")) == 2  # the set does exercise matches


def test_search_pages_newest_first_with_other_filters(seeded):
    store, ids = seeded
    [upper] = [i for i, goal in ids.items() if goal == "TOTAL THE INVOICES"]
    storage.update_run(store, run_id=upper, status="failed")
    assert [r.id for r in storage.list_runs(store, search="invoices", status="failed")] == [upper]
    newest_first = [r.id for r in storage.list_runs(store, search="the", limit=100)]
    assert newest_first == [
        r.id for r in storage.list_runs(store, limit=100) if r.id in newest_first
    ]


def _indexed(store: storage.Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT run_id, goal FROM {goal_search.SEARCH_TABLE}")
        return {run_id: goal for run_id, goal in rows}


def test_the_sqlite_index_follows_inserts_goal_changes_and_deletes(store):
    run = storage.create_run(store, goal="sort the invoices")
    assert _indexed(store) == {run.id: "sort the invoices"}
    storage.update_run(store, run_id=run.id, goal="sort the receipts")
    assert _indexed(store) == {run.id: "sort the receipts"}
    assert storage.count_runs(store, search="invoices") == 0
    assert [r.id for r in storage.list_runs(store, search="receipts")] == [run.id]
    storage.update_run(store, run_id=run.id, status="failed")  # not the goal: index untouched
    assert _indexed(store) == {run.id: "sort the receipts"}
    with store.engine.begin() as conn:  # runs are never deleted by onloop; by hand they may be
        conn.exec_driver_sql(
            "INSERT INTO runs (id, goal, model, model_name, autonomy, status, max_steps, "
            "max_seconds, workspace, created_at, updated_at, last_seq, steps, tool_calls, "
            "tokens_in, tokens_out, cost_usd, active_seconds, claim_epoch) VALUES ('bare01', "
            "'a bare row', 'demo', 'demo', 'supervised', 'queued', 1, 1, '/w', "
            "'2025-01-01 00:00:00', '2025-01-01 00:00:00', 0, 0, 0, 0, 0, 0, 0, 0)"
        )
        indexed = f"SELECT count(*) FROM {goal_search.SEARCH_TABLE} WHERE run_id = 'bare01'"
        assert conn.exec_driver_sql(indexed).scalar_one() == 1
        conn.exec_driver_sql("DELETE FROM runs WHERE id = 'bare01'")
    assert _indexed(store) == {run.id: "sort the receipts"}


def _statements(store: storage.Store, action) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    return seen


def _search(store: storage.Store) -> None:
    storage.count_runs(store, search="invoices")
    storage.list_runs(store, search="invoices")


def test_sqlite_search_reads_the_trigram_index_not_the_runs(store):
    for goal in GOALS:
        storage.create_run(store, goal=goal)
    statements = _statements(store, lambda: _search(store))
    plans = []
    with store.engine.connect() as conn:
        for statement, parameters in statements:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            plans.append(" | ".join(row[3] for row in rows))
    runs_read = [p for p in plans if "runs " in f"{p} " and "runs_goal_search" in p]
    assert len(runs_read) == 2, plans  # the count and the page, each through the index
    for plan in runs_read:
        assert f"SCAN {goal_search.SEARCH_TABLE} VIRTUAL TABLE INDEX" in plan, plan
        assert "SEARCH runs USING INDEX sqlite_autoindex_runs_1 (id=?)" in plan, plan
    for plan in plans:
        assert "SCAN runs |" not in f"{plan} |", plan  # no read of every run


def test_postgres_search_reads_the_trigram_index(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    store = storage.open_store(postgres_url)
    try:
        for goal in GOALS:
            storage.create_run(store, goal=goal)
        statements = _statements(store, lambda: _search(store))
        with store.engine.begin() as conn:
            # A table of 12 rows is read whole whatever its indexes; the question is whether
            # the search can use the index, so the planner is told to avoid a plain scan.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            for statement, parameters in statements:
                plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
                assert "Bitmap Index Scan on ix_runs_goal_trgm" in plan, plan
    finally:
        store.dispose()


def _v10_store(url: str, workspaces: Path, goals: list[str]) -> list[str]:
    ids = [f"old-search{n:02d}" for n in range(len(goals))]

    def fill(conn, version):
        for run_id, goal in zip(ids, goals, strict=True):
            write_run(conn, version, "succeeded", run_id, workspaces / run_id)
            conn.execute(text("UPDATE runs SET goal = :g WHERE id = :i"), {"g": goal, "i": run_id})

    make_old_store(url, 10, fill)
    return ids


def test_a_version_10_store_gets_the_index_filled_on_open(tmp_path, monkeypatch):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    monkeypatch.setenv(storage.versions.UPGRADE_COPY_ENV, "0")
    url = f"sqlite:///{tmp_path / 'v10.db'}"
    ids = _v10_store(url, tmp_path / "workspaces", GOALS)
    store = storage.open_store(url)
    try:
        assert storage.current_version(store.engine) == storage.SCHEMA_VERSION
        assert _indexed(store) == dict(zip(ids, GOALS, strict=True))
        for term in SEARCHES:
            found = {run.id for run in storage.list_runs(store, search=term, limit=100)}
            assert found == _old_like(store, term), term
        assert storage.insights.models_in_use(store) == ["demo"]
    finally:
        store.dispose()


def test_a_version_10_postgres_store_gets_the_index_on_open(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    _v10_store(postgres_url, tmp_path / "workspaces", GOALS)
    store = storage.open_store(postgres_url)
    try:
        assert storage.current_version(store.engine) == storage.SCHEMA_VERSION
        with store.engine.connect() as conn:
            query = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_runs_goal_trgm'"
            assert "gin_trgm_ops" in conn.exec_driver_sql(query).scalar_one()
        for term in SEARCHES:
            found = {run.id for run in storage.list_runs(store, search=term, limit=100)}
            assert found == _old_like(store, term), term
    finally:
        store.dispose()


def test_model_options_seek_once_per_distinct_pair_in_their_index(store):
    pairs = [("openai", "gpt-4o-mini"), ("demo", "demo"), ("openai", "gpt-4o")]
    for model, name in pairs * 10:
        storage.create_run(store, goal="g", model=model, model_name=name)
    options: list[list[str]] = []
    statements = _statements(store, lambda: options.append(storage.insights.models_in_use(store)))
    assert options == [["demo", "gpt-4o", "gpt-4o-mini", "openai"]]
    assert len(statements) == len(pairs) + 1  # one seek per pair and one finding none: not 30 rows
    with store.engine.connect() as conn:
        for statement, parameters in statements:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            plan = " | ".join(row[3] for row in rows)
            assert "USING COVERING INDEX ix_runs_model_pair" in plan, plan
    seeks = " ".join(statements[-1][0].split())
    assert "WHERE (runs.model, runs.model_name) > (?, ?)" in seeks, seeks
