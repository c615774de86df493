"""The store on a real PostgreSQL server (tests/support/postgres_server.py): the same schema, the same
repository functions and the same Insights figures as SQLite, concurrent writers, and whole
agent runs through the worker."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import storage
from agent_core.models.demo_goals import DEMO_GOALS
from agent_core.oversight.decisions import approve
from storage import insights
from tests.store.test_schema import (
    COLUMNS,
    DAY,
    INDEX_SQL,
    INDEXES,
    MIGRATION_NAMES,
    SQLITE_ONLY,
    TABLES,
)
from tests.support.dashboard_seed import make_approval, make_run
from tests.support.run_helpers import Driver, events_of, in_threads, kinds, new_run

GOALS = {demo.key: demo.goal for demo in DEMO_GOALS}
# SQLite's goal search is an FTS5 table; PostgreSQL's a trigram index on runs.goal.
PG_TABLES = TABLES - SQLITE_ONLY
PG_INDEXES = {t: dict(INDEXES[t]) for t in PG_TABLES}
PG_INDEXES["runs"]["ix_runs_goal_trgm"] = ["goal"]


@pytest.fixture
def pg(postgres_url, tmp_path, monkeypatch):
    """A fresh PostgreSQL store; run workspaces under tmp_path."""
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    store = storage.open_store(postgres_url)
    assert not store.is_sqlite
    yield store
    store.dispose()


# ---------------------------------------------------------------- schema


def _pg_indexes(store: storage.Store, table: str) -> dict[str, list[str]]:
    found = {}
    for index in inspect(store.engine).get_indexes(table):
        if index.get("duplicates_constraint"):  # the unique constraint's own index
            continue
        expressions = index.get("expressions") or index["column_names"]
        found[index["name"]] = [DAY if e == "date(created_at)" else e for e in expressions]
    return found


def _pg_index_sql(store: storage.Store, name: str) -> str:
    with store.engine.connect() as conn:
        query = text("SELECT indexdef FROM pg_indexes WHERE indexname = :name")
        return conn.execute(query, {"name": name}).scalar_one()


def _pg_triggers(store: storage.Store) -> set[tuple[str, str]]:
    query = text("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal")
    with store.engine.connect() as conn:
        return {(table, name) for table, name in conn.execute(query)}


def test_a_blank_database_migrates_to_the_pinned_schema(pg):
    assert storage.current_version(pg.engine) == storage.SCHEMA_VERSION
    inspector = inspect(pg.engine)
    assert set(inspector.get_table_names()) == PG_TABLES
    columns = {t: [c["name"] for c in inspector.get_columns(t)] for t in PG_TABLES}
    assert columns == {t: COLUMNS[t] for t in PG_TABLES}
    assert {t: _pg_indexes(pg, t) for t in PG_TABLES} == PG_INDEXES
    assert "USING gin (goal gin_trgm_ops)" in _pg_index_sql(pg, "ix_runs_goal_trgm")
    assert "(date(created_at), status, tokens_in" in _pg_index_sql(pg, "ix_runs_day_totals")
    assert _pg_index_sql(pg, "ix_events_drift").endswith("WHERE ((kind)::text = 'drift'::text)")
    assert _pg_index_sql(pg, "ix_events_revoked").endswith(
        "WHERE ((kind)::text = 'allowance_revoked'::text)"
    )
    assert set(INDEX_SQL) <= set(INDEXES["runs"]) | set(INDEXES["events"])
    assert inspector.get_pk_constraint("tool_call_counts")["constrained_columns"] == [
        "day",
        "tool",
        "verdict",
    ]
    assert [c["column_names"] for c in inspector.get_unique_constraints("events")] == [
        ["run_id", "seq"]
    ]
    assert _pg_triggers(pg) == {
        ("events", "events_append_only"),
        ("approvals", "approvals_decision_never_edited"),
        ("project_rules", "project_rules_append_only"),
        ("approvals", "approvals_ask_counts"),
        ("runs", "runs_ask_counts"),
    }
    with pg.engine.connect() as conn:
        rows = conn.execute(text("SELECT version, name FROM schema_migrations ORDER BY version"))
        assert [tuple(row) for row in rows] == MIGRATION_NAMES
        functions = text("SELECT proname, provolatile FROM pg_proc WHERE proname LIKE 'onloop%'")
        assert {tuple(row) for row in conn.execute(functions)} == {
            ("onloop_events_append_only", "v"),
            ("onloop_decision_never_edited", "v"),
            ("onloop_project_rules_append_only", "v"),
            ("onloop_ask_counts", "v"),
            ("onloop_run_ask_counts", "v"),
            ("onloop_write_events_v13", "v"),  # volatile: a fresh snapshot per statement
        }
    assert storage.versions.migrate(pg.engine) == []  # opening again changes nothing
    storage.open_store(pg.url).dispose()
    assert storage.current_version(pg.engine) == storage.SCHEMA_VERSION


def test_lost_migration_records_are_reapplied_without_touching_events(pg):
    run = storage.create_run(pg, goal="survive a re-migration")
    storage.append_event(pg, run_id=run.id, kind="tool_call", payload={"tool": "read_file"})
    with pg.engine.begin() as conn:
        conn.execute(text("DELETE FROM schema_migrations"))
    migrated = storage.versions.migrate(pg.engine)
    assert migrated == [v for v, _ in MIGRATION_NAMES]  # the backfill changes nothing
    with pg.engine.connect() as conn:
        counts = conn.execute(text("SELECT tool, verdict, calls FROM tool_call_counts")).all()
    assert [tuple(row) for row in counts] == [("read_file", "", 1)]


# ---------------------------------------------------------------- runs


def test_runs_are_created_found_listed_counted_and_paged(pg):
    day = datetime(2025, 5, 1, 9)
    made = [
        make_run(
            pg,
            goal=f"goal {i}",
            status=status,
            model_name=name,
            created_at=day + timedelta(minutes=i),
        )
        for i, (status, name) in enumerate(
            [("succeeded", "demo"), ("failed", "gpt-4o"), ("succeeded", "gpt-4o")] * 4
        )
    ]
    newest_first = [r.id for r in reversed(made)]
    assert storage.get_run(pg, run_id=made[0].id).goal == "goal 0"
    assert storage.get_run(pg, run_id=made[0].id[:8]).id == made[0].id
    with pytest.raises(storage.NotFound):
        storage.get_run(pg, run_id="nope")
    assert [r.id for r in storage.list_runs(pg)] == newest_first
    pages = [storage.list_runs(pg, limit=5, offset=o) for o in (0, 5, 10)]
    assert [r.id for page in pages for r in page] == newest_first
    assert storage.count_runs(pg) == 12
    assert storage.count_runs(pg, status="failed") == 4
    assert storage.count_runs(pg, status=["failed", "succeeded"], model="gpt-4o") == 8
    assert storage.count_runs(pg, search="GOAL 1") == 3  # 1, 10, 11: case-insensitive
    assert storage.count_runs(pg, search="100%") == 0  # LIKE wildcards are escaped
    window = storage.list_runs(
        pg, since=day + timedelta(minutes=2), until=day + timedelta(minutes=5)
    )
    assert [r.goal for r in window] == ["goal 4", "goal 3", "goal 2"]
    with pytest.raises(storage.StoreError, match="the goal is empty"):
        storage.create_run(pg, goal="  ")


def test_append_event_numbers_a_run_from_one(pg):
    run = storage.create_run(pg, goal="count")
    seqs = [
        storage.append_event(pg, run_id=run.id, kind="model_call", payload={"n": n})
        for n in range(20)
    ]
    assert seqs == list(range(2, 22))  # seq 1 is the "queued" status event
    events = storage.events_after(pg, run_id=run.id)
    assert [e.seq for e in events] == list(range(1, 22))
    assert [e.payload["n"] for e in events[1:]] == list(range(20))
    assert [e.seq for e in storage.events_after(pg, run_id=run.id, after_seq=18)] == [19, 20, 21]
    assert [e.seq for e in storage.events_after(pg, run_id=run.id, after_seq=5, limit=2)] == [6, 7]
    assert [e.seq for e in storage.last_events(pg, run_id=run.id, n=3)] == [19, 20, 21]
    assert storage.get_run(pg, run_id=run.id).last_seq == 21
    with pytest.raises(storage.NotFound):
        storage.append_event(pg, run_id="missing", kind="x", payload={})


def test_concurrent_appends_to_one_run_get_gapless_unique_seqs(pg):
    run = storage.create_run(pg, goal="four writers")

    def append_25(writer: int) -> list[int]:
        return [
            storage.append_event(
                pg,
                run_id=run.id,
                kind="tool_call",
                payload={"tool": f"t{writer}", "verdict": "allow"},
            )
            for _ in range(25)
        ]

    seqs = in_threads(4, append_25)
    assert sorted(seqs) == list(range(2, 102))
    assert [e.seq for e in storage.events_after(pg, run_id=run.id)] == list(range(1, 102))
    assert [u["calls"] for u in insights.tool_usage(pg)] == [25, 25, 25, 25]


def test_four_claimers_never_take_the_same_run(pg):
    queued = {storage.create_run(pg, goal=f"job {i}").id for i in range(20)}

    def claim_all(worker: int) -> list[str]:
        claimed = []
        while run := storage.claim_next_run(pg, worker_id=f"w{worker}", lease_seconds=60):
            claimed.append(run.id)
        return claimed

    claimed = in_threads(4, claim_all)
    assert sorted(claimed) == sorted(queued)  # each exactly once
    assert storage.count_runs(pg, status="running") == 20
    assert storage.claim_next_run(pg, worker_id="late", lease_seconds=60) is None


# ---------------------------------------------------------------- approvals, commands, leases


def test_approvals_are_created_listed_decided_once(pg):
    run = storage.create_run(pg, goal="delete the temporary files")
    first, second = make_approval(pg, run), make_approval(pg, run, tool="run_shell")
    assert [a.id for a in storage.pending_approvals(pg, run_id=run.id)] == [first.id, second.id]
    assert storage.count_pending_approvals(pg) == 2
    decided = storage.decide_approval(
        pg, approval_id=first.id, decision="approved", decided_by="alice", approved_hash="h"
    )
    assert (decided.status, decided.decided_by, decided.approved_hash) == ("approved", "alice", "h")
    with pytest.raises(storage.InvalidState, match=f"approval {first.id} was already approved"):
        storage.decide_approval(pg, approval_id=first.id, decision="rejected", decided_by="bob")
    with pytest.raises(storage.NotFound):
        storage.decide_approval(pg, approval_id=999, decision="rejected", decided_by="bob")
    assert [a.id for a in storage.decisions(pg, run_id=run.id)] == [first.id]
    assert storage.count_pending_approvals(pg) == 1


def test_two_deciders_at_once_exactly_one_wins(pg):
    run = storage.create_run(pg, goal="delete the temporary files")
    approval = make_approval(pg, run)

    def decide(person: int) -> list[str]:
        try:
            storage.decide_approval(
                pg, approval_id=approval.id, decision="approved", decided_by=f"p{person}"
            )
            return ["won"]
        except storage.InvalidState:
            return ["lost"]

    assert sorted(in_threads(4, decide)) == ["lost", "lost", "lost", "won"]


def test_executions_racing_for_one_approval_exactly_one_consumes_it(pg):
    run = storage.create_run(pg, goal="delete the temporary files")
    approval = make_approval(pg, run)
    storage.decide_approval(
        pg, approval_id=approval.id, decision="approved", decided_by="alice", approved_hash="h"
    )
    storage.claim_run(pg, run_id=run.id, worker_id="w", lease_seconds=30)  # tools run when driven

    def execute(_: int) -> list[str]:
        try:
            storage.begin_execution(pg, run_id=run.id, approval_id=approval.id, args_hash="h")
            return ["started"]
        except storage.ApprovalUnusable:
            return ["refused"]

    assert sorted(in_threads(4, execute)) == ["refused", "refused", "refused", "started"]
    storage.send_command(pg, run_id=run.id, kind="halt", created_by="frank")
    with pytest.raises(storage.HaltRequested):
        storage.begin_execution(pg, run_id=run.id, approval_id=None, args_hash=None)


def test_an_expired_approval_cannot_be_decided_and_asking_sets_waiting_at_once(pg):
    run = storage.create_run(pg, goal="delete the temporary files")
    pending = storage.request_approval(
        pg, run_id=run.id, tool_call_id="ol0000001", tool="delete_files",
        arguments={"paths": ["a.tmp"]}, args_hash="h", risk="high",
        expires_at=storage.utcnow() - timedelta(seconds=1), waiting_reason="asked",
    )  # fmt: skip
    assert storage.get_run(pg, run_id=run.id).status == "waiting"
    requested = events_of(pg, run.id, "approval_requested")[0]
    assert requested.payload["approval_id"] == pending.id and pending.request_seq == requested.seq
    with pytest.raises(storage.ApprovalExpired, match="expired"):
        storage.decide_approval(pg, approval_id=pending.id, decision="approved", decided_by="a")


def test_commands_are_sent_listed_and_consumed_once(pg):
    run = storage.create_run(pg, goal="steer me")
    pause = storage.send_command(pg, run_id=run.id, kind="pause", created_by="alice")
    hint = storage.send_command(pg, run_id=run.id, kind="guidance", payload={"message": "go"})
    assert [c.id for c in storage.pending_commands(pg, run_id=run.id)] == [pause.id, hint.id]
    storage.consume_command(pg, command_id=pause.id)
    storage.consume_command(pg, command_id=pause.id)  # twice: harmless
    assert [c.kind for c in storage.pending_commands(pg, run_id=run.id)] == ["guidance"]
    with pytest.raises(storage.NotFound):
        storage.consume_command(pg, command_id=999)
    with pytest.raises(storage.StoreError, match="guidance needs a message"):
        storage.send_command(pg, run_id=run.id, kind="guidance")
    storage.update_run(pg, run_id=run.id, status="succeeded")
    with pytest.raises(storage.InvalidState, match="already succeeded"):
        storage.send_command(pg, run_id=run.id, kind="halt")


def test_lapsed_leases_interrupt_runs_that_can_be_requeued(pg):
    run = storage.create_run(pg, goal="lose my worker")
    claimed = storage.claim_next_run(pg, worker_id="w1", lease_seconds=5)
    assert claimed is not None and claimed.id == run.id
    assert storage.renew_lease(pg, run_id=run.id, worker_id="w1", lease_seconds=5)
    assert not storage.renew_lease(pg, run_id=run.id, worker_id="w2", lease_seconds=5)
    assert storage.expire_leases(pg) == []
    assert storage.expire_leases(pg, now=storage.utcnow() + timedelta(seconds=10)) == [run.id]
    lost = storage.get_run(pg, run_id=run.id)
    assert (lost.status, lost.worker_id, lost.reason) == (
        "interrupted",
        None,
        "worker lost (lease expired)",
    )
    storage.add_usage(pg, run_id=run.id, steps=3, tokens_in=100, cost_usd=0.5)
    again = storage.requeue_run(pg, run_id=run.id, reset_budget=True)
    assert (again.status, again.steps, again.tokens_in, again.cost_usd) == ("queued", 0, 0, 0)
    statuses = [e.payload["status"] for e in events_of(pg, run.id, "status")]
    assert statuses == ["queued", "interrupted", "queued"]
    with pytest.raises(storage.InvalidState, match="only a paused, interrupted"):
        storage.requeue_run(pg, run_id=run.id)


# ---------------------------------------------------------------- Insights: the same numbers

DAY1, DAY2 = datetime(2025, 5, 1, 9), datetime(2025, 5, 2, 15)


def _seed_history(store: storage.Store) -> None:
    """Runs over two days and an old one, with approvals, drift and tool calls."""
    runs = [
        make_run(store, created_at=DAY1, tokens_in=100, tokens_out=10, cost_usd=0.5),
        make_run(
            store,
            created_at=DAY1 + timedelta(hours=5),
            status="failed",
            model_name="gpt-4o",
            tokens_in=7,
        ),
        make_run(store, created_at=DAY1 + timedelta(hours=6), status="running", cost_usd=0.25),
        make_run(store, created_at=DAY2, status="halted", tokens_in=50, tokens_out=5),
        make_run(store, created_at=datetime(2024, 1, 1), status="succeeded", cost_usd=1.0),
    ]
    calls = [
        ("read_file", "allow"),
        ("write_file", "ask"),
        ("run_shell", "deny"),
        ("read_file", "allow"),
    ]
    for i, run in enumerate(runs):
        for tool, verdict in calls[: i + 1]:
            storage.append_event(
                store, run_id=run.id, kind="tool_call", payload={"tool": tool, "verdict": verdict}
            )
        storage.append_event(store, run_id=run.id, kind="tool_call", payload={"verdict": "allow"})
        storage.append_event(
            store,
            run_id=run.id,
            kind="drift",
            payload={"monitor": "repetition" if i % 2 else "budget", "action": "pause"},
        )
    table = storage.Approval.__table__
    for i, decision in enumerate(["approved", "rejected", "expired", "approved", None]):
        approval = make_approval(store, runs[i % 4], tool=("write_file", "run_shell")[i % 2])
        asked = runs[i % 4].created_at + timedelta(minutes=i)
        values: dict = {"requested_at": asked}
        if decision:  # decided in the same write that back-dates it: decisions are final
            values |= {
                "status": decision,
                "decided_by": "x",
                "decided_at": asked + timedelta(seconds=10 * (i + 1)),
            }
        with store.engine.begin() as conn:
            conn.execute(table.update().where(table.c.id == approval.id).values(values))


def _all_figures(store: storage.Store) -> dict:
    figures: dict = {
        "has_history": insights.has_history(store),
        "models": insights.models_in_use(store),
    }
    for since in (
        None,
        datetime(2025, 5, 1),
        DAY1 + timedelta(hours=2),
        DAY2,
        datetime(2030, 1, 1),
    ):
        for name in insights.QUERIES:
            figures[(name, since)] = getattr(insights, name)(store, since=since)
    return figures


def _rounded(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def test_every_insight_gives_the_same_numbers_as_on_sqlite(pg, tmp_path):
    lite = storage.open_store(str(tmp_path / "lite.db"))
    try:
        _seed_history(lite)
        _seed_history(pg)
        on_sqlite, on_pg = _all_figures(lite), _all_figures(pg)
    finally:
        lite.dispose()
    assert on_pg.keys() == on_sqlite.keys()
    for key in on_sqlite:  # SQLite's julianday arithmetic is off by microseconds: round
        assert _rounded(on_pg[key]) == _rounded(on_sqlite[key]), key
    assert on_pg[("tool_usage", None)][0] == {
        "tool": "read_file", "calls": 7, "allowed": 7, "asked": 0, "denied": 0
    }  # fmt: skip
    assert on_pg[("approval_latency", None)]["decided"] == 3
    assert on_pg[("runs_per_day", DAY2)] == [{"day": "2025-05-02", "status": "halted", "runs": 1}]


# ---------------------------------------------------------------- whole runs through the worker


def test_the_demo_arithmetic_goal_runs_end_to_end(pg):
    run = new_run(pg, GOALS["arithmetic"], model="demo")
    outcome = Driver(pg, run).start().join()
    assert outcome.status == "succeeded" and "527.5" in outcome.result
    order = kinds(pg, run.id)
    assert order[0] == "status" and order[-1] in ("final_answer", "status")
    assert order.index("tool_call") < order.index("tool_result") < order.index("final_answer")
    finished = storage.get_run(pg, run_id=run.id)
    assert finished.status == "succeeded" and finished.steps >= 2 and finished.tool_calls == 1
    assert [e.seq for e in storage.events_after(pg, run_id=run.id)] == list(
        range(1, finished.last_seq + 1)
    )


def test_the_demo_report_goal_waits_for_an_approval_then_writes(pg):
    run = new_run(pg, GOALS["report"], model="demo")
    driver = Driver(pg, run).start()
    pending = driver.pending()
    assert pending.tool == "write_file" and storage.get_run(pg, run_id=run.id).status == "waiting"
    assert not (Path(run.workspace) / "report.md").exists()
    approve(pg, approval_id=pending.id, by="alice")
    assert driver.join().status == "succeeded"
    assert "meeting_notes.md" in (Path(run.workspace) / "report.md").read_text()
    decided = events_of(pg, run.id, "approval_decided")[0].payload
    assert decided["decided_by"] == "alice" and decided["args_hash"] == pending.args_hash
    assert storage.decisions(pg, run_id=run.id)[0].status == "approved"
