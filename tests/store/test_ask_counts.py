"""ask_counts (schema version 12) gives the approval-fatigue reads what the approvals give.

Every check compares the counts' answer with the approvals' own (the grouped read the figures
made before version 12), on both databases: asks requested, decided in every way, consumed,
written by hand-written SQL, deleted while pending, their runs back-dated or given another model
afterwards, and a version 11 store's asks counted when it is upgraded.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import text

import storage
from agent_core.oversight.fatigue import since_days
from storage import ask_history as history
from storage.ask_counts import TABLE
from tests.support import dashboard_seed
from tests.support.fatigue_seed import Ask, ask_once
from tests.support.old_runs import write_run
from tests.support.old_schemas import make_old_store

TOOLS = [  # (tool, call class, rule)
    ("run_shell", "build", "ask-shell"),
    ("run_shell", None, None),
    ("write_file", "write", None),
    ("fetch_url", "network", "ask-new-domain"),
    ("delete_files", "destructive", ""),  # a rule of "" is counted as none, as before
]
DECISIONS = [  # (decided by, status, note, edited, allowance); None: left pending
    None,
    ("ann", "approved", None, False, None),
    ("bob", "approved", "careful", False, "prefix"),
    ("cy", "approved", "", True, None),  # an empty note is no note
    ("bob", "rejected", "no", False, None),
    ("dan (--yes)", "approved", None, False, None),
    ("DAN (--YES)", "approved", None, False, "call"),  # LIKE folds case on SQLite, not PostgreSQL
    ("onloop (approval expired)", "expired", None, False, None),
    ("onloop (halted)", "cancelled", None, False, None),
]
MODELS = [("demo", "demo"), ("openai", "gpt-4o-mini"), ("openai", "llama3.1")]


def _seed(store: storage.Store, runs: int = 24, seed: int = 12) -> list[storage.Run]:
    """Runs over the last 40 days on three models, each with up to six varied asks."""
    rng = random.Random(seed)
    now = storage.utcnow()
    made = []
    for n in range(runs):
        model, model_name = MODELS[n % len(MODELS)]
        # (every third run today: the shortest period, today since 00:00, has asks too)
        created = now - (timedelta(seconds=n) if n % 3 == 0 else timedelta(days=rng.uniform(0, 40)))
        run = dashboard_seed.make_run(
            store, model=model, model_name=model_name, created_at=created, status="running"
        )
        made.append(run)
        for k in range(rng.randrange(0, 7)):
            tool, call_class, rule = rng.choice(TOOLS)
            decision = rng.choice(DECISIONS)
            ask = Ask(tool, call_class, rule=rule)
            if decision is not None:
                by, status, note, edited, scope = decision
                ask = dataclasses.replace(
                    ask, by=by, status=status, note=note, edited=edited, scope=scope, wait_s=2.0
                )
            approval = ask_once(store, run, ask, created + timedelta(minutes=k))
            if approval.status == "approved" and rng.random() < 0.5:
                _consume(store, approval.id)  # not a trait: moves no count
    return made


def _consume(store: storage.Store, approval_id: int) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE approvals SET consumed_at = :at WHERE id = :id"),
            {"at": storage.utcnow(), "id": approval_id},
        )


def _periods() -> list[dict]:
    now = storage.utcnow()
    return [
        {},
        {"since": since_days(1, today=now)},
        {"since": since_days(7, today=now)},
        {"since": since_days(30, today=now)},
        {"model": "openai"},
        {"model": "llama3.1"},
        {"since": since_days(10, today=now), "model": "demo"},
    ]


def _both_ways(store: storage.Store, **period) -> tuple[tuple, tuple]:
    """(groups, asks per day) from ask_counts, and the same from the approvals."""
    counted = history._picked(period.get("since"), period.get("model"), None)
    assert counted.counts is not None, period  # whole days: the counts answer
    exact = dataclasses.replace(counted, counts=None)
    return _read(store, counted), _read(store, exact)


def _read(store: storage.Store, picked) -> tuple:
    with storage.engine.reading(store) as conn:
        groups = Counter()
        for row in conn.execute(history._groups_query(picked)):
            group = history._group(row)
            groups[dataclasses.replace(group, asks=0)] += group.asks
        days = Counter()
        for row in conn.execute(history._asks_per_day_query(picked)):
            days[history._day_text(row.day)] += int(row.asks)
    return +groups, +days  # "+": what is counted at zero is no group and no day


def _assert_counts_agree(store: storage.Store) -> None:
    for period in _periods():
        counted, exact = _both_ways(store, **period)
        assert counted == exact, period
        assert counted[0], period  # the seed gives every period some asks


def test_the_counts_give_the_groups_and_days_the_approvals_give(any_store):
    _seed(any_store)
    _assert_counts_agree(any_store)


def test_the_figures_come_from_the_counts_for_whole_days(any_store):
    """The full ask_history: counted, and from the approvals for the same period starting a
    microsecond later, which no ask of the seed falls in."""
    _seed(any_store)
    since = since_days(30, today=storage.utcnow())
    counted = history.ask_history(any_store, since=since)
    exact = history.ask_history(any_store, since=since + timedelta(microseconds=1))
    assert counted.per_day == exact.per_day
    assert Counter(_merged(counted.groups)) == Counter(_merged(exact.groups))
    assert counted.decisions == exact.decisions and counted.revoked == exact.revoked


def _merged(groups) -> dict:
    merged: Counter = Counter()
    for group in groups:
        merged[dataclasses.replace(group, asks=0)] += group.asks
    return dict(merged)


def test_hand_written_sql_and_changed_runs_move_the_counts(any_store):
    runs = _seed(any_store, runs=9)
    moved, other = runs[0], runs[1]
    with any_store.engine.begin() as conn:
        conn.execute(  # an ask written by hand
            text(
                "INSERT INTO approvals (run_id, request_seq, tool_call_id, tool, arguments, "
                "args_hash, risk, reason, rule, model_text, summary, status, requested_at, "
                "call_class) VALUES (:run, 1, 'x', 'run_shell', '{}', 'h', 'high', '', "
                "'by-hand', '', '', 'pending', :at, 'build')"
            ),
            {"run": other.id, "at": storage.utcnow()},
        )
        pending = conn.execute(
            text("SELECT id FROM approvals WHERE status = 'pending' ORDER BY id")
        ).scalars()
        first, *rest = list(pending)
        conn.execute(  # decided by hand
            text(
                "UPDATE approvals SET status = 'rejected', decided_by = 'eve', note = 'n', "
                "decided_at = :at WHERE id = :id"
            ),
            {"at": storage.utcnow(), "id": first},
        )
        for approval_id in rest[:2]:  # a pending ask may be deleted
            conn.execute(text("DELETE FROM approvals WHERE id = :id"), {"id": approval_id})
        conn.execute(  # a run back-dated and given another model after it asked
            text(
                "UPDATE runs SET created_at = :at, model = 'openai', model_name = 'o3' WHERE id = :id"
            ),
            {"at": storage.utcnow() - timedelta(days=3, hours=5), "id": moved.id},
        )
    _assert_counts_agree(any_store)
    counted, exact = _both_ways(any_store, model="o3")
    assert counted == exact


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_version_11_store_has_its_asks_counted_on_open(backend, request, tmp_path, monkeypatch):
    """The asks a store had before version 12 are counted by the upgrade."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'v11.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    monkeypatch.setenv(storage.versions.UPGRADE_COPY_ENV, "0")
    states = ["waiting_pending", "waiting_approved", "approved_started"] * 3

    def fill(conn, version):
        for n, state in enumerate(states):
            write_run(conn, version, state, f"old-asks-{n:02d}", tmp_path / "old" / str(n))

    make_old_store(url, 11, fill)
    store = storage.open_store(url)
    try:
        assert storage.current_version(store.engine) == storage.SCHEMA_VERSION
        with store.engine.connect() as conn:
            counted_asks = conn.execute(text(f"SELECT sum(asks) FROM {TABLE}")).scalar()
            on_record = conn.execute(text("SELECT count(*) FROM approvals")).scalar()
        assert counted_asks == on_record == len(states)
        counted, exact = _both_ways(store)
        assert counted == exact
    finally:
        store.dispose()


def test_a_whole_day_period_reads_the_counts_not_the_approvals(store):
    """Structurally: the grouped counts and the asks per day of a whole-day period name only
    ask_counts, and SQLite reads the groups in the order of an index that holds them."""
    _seed(store, runs=6)
    since = since_days(30, today=storage.utcnow())
    for period in ({}, {"since": since}, {"model": "demo"}):
        picked = history._picked(period.get("since"), period.get("model"), None)
        for query in (history._groups_query(picked), history._asks_per_day_query(picked)):
            tables = {t.name for t in query.get_final_froms()}
            assert tables == {TABLE}, (period, tables)
    picked = history._picked(since, None, None)
    compiled = history._groups_query(picked).compile(store.engine)
    with store.engine.connect() as conn:
        plan = " ".join(
            str(row[-1])
            for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())
            )
        )
    assert "ask_counts USING COVERING INDEX ix_ask_counts_traits" in plan, plan
    assert "approvals" not in plan and "TEMP B-TREE" not in plan, plan  # no rows sorted


@pytest.mark.parametrize("since_in_day", [timedelta(hours=5), timedelta(microseconds=1)])
def test_a_period_starting_inside_a_day_is_read_from_the_approvals(store, since_in_day):
    since = since_days(3, today=storage.utcnow()) + since_in_day
    assert history._picked(since, None, None).counts is None
    assert history._picked(None, None, "some-run").counts is None
