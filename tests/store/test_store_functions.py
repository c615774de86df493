"""Every public function of the store, including its error paths (concurrency has its own file)."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, update

import storage
from storage import events as events_module
from storage.engine import writing
from storage.models import Run, table_of
from storage.schema import rebuild_tool_call_counts

# ---------------------------------------------------------------- fixtures and helpers


def _set_created(store, run_id: str, when: datetime) -> None:
    """Tests pin creation times; the store itself never rewrites created_at."""
    with store.engine.begin() as conn:
        runs = table_of(Run)
        conn.execute(update(runs).where(runs.c.id == run_id).values(created_at=when))


def _approval(store, run_id: str, tool_call_id: str = "call-1", **extra):
    fields: dict[str, Any] = dict(
        run_id=run_id,
        request_seq=2,
        tool_call_id=tool_call_id,
        tool="delete_files",
        arguments={"paths": ["a.tmp"]},
        args_hash="h1",
        risk="high",
    )
    return storage.create_approval(store, **(fields | extra))


def _seqs(store, run_id: str) -> list[int]:
    return [e.seq for e in storage.events_after(store, run_id=run_id)]


# ---------------------------------------------------------------- opening the store


def test_database_url_prefers_argument_then_env_then_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ONLOOP_DATABASE_URL", raising=False)
    assert storage.database_url() == f"sqlite:///{tmp_path.resolve() / 'onloop.db'}"
    monkeypatch.setenv("ONLOOP_DATABASE_URL", "postgresql://u@db.example/onloop")
    assert storage.database_url() == "postgresql://u@db.example/onloop"
    assert storage.database_url("sub/x.db") == f"sqlite:///{tmp_path.resolve() / 'sub/x.db'}"
    assert storage.database_url("sqlite:////abs/y.db") == "sqlite:////abs/y.db"


def test_open_store_applies_the_sqlite_pragmas(store):
    assert store.is_sqlite and store.url.startswith("sqlite:///")
    with store.engine.connect() as conn:
        pragma = conn.connection.driver_connection.execute
        assert pragma("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert pragma("PRAGMA busy_timeout").fetchone()[0] == 30000
        assert pragma("PRAGMA foreign_keys").fetchone()[0] == 1
        assert pragma("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_workspace_root_follows_env_then_the_db_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("ONLOOP_WORKSPACES", raising=False)
    beside = storage.open_store(str(tmp_path / "data" / "onloop.db"))  # creates data/
    assert beside.workspace_root == tmp_path.resolve() / "data" / "onloop-workspaces"
    beside.dispose()
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "ws"))
    chosen = storage.open_store(str(tmp_path / "other.db"))
    assert chosen.workspace_root == tmp_path.resolve() / "ws"
    run = storage.create_run(chosen, goal="where do I work")
    assert run.workspace == str(tmp_path.resolve() / "ws" / run.id)
    chosen.dispose()


@pytest.mark.parametrize("where", ["a-directory", "under-a-file"])
def test_unopenable_database_names_the_fix(tmp_path, where):
    (tmp_path / "plain.txt").write_text("not a folder")
    path = tmp_path if where == "a-directory" else tmp_path / "plain.txt" / "onloop.db"
    with pytest.raises(storage.StoreError) as caught:
        storage.open_store(str(path))
    message = str(caught.value)
    assert message.startswith(f"cannot open database at {path.resolve()}")
    assert "--db PATH" in message and "ONLOOP_DATABASE_URL" in message


def test_unopenable_url_never_shows_its_password():
    with pytest.raises(storage.StoreError) as caught:
        storage.open_store("nosuchdb://ann:s3cret@127.0.0.1:1/onloop")
    assert "s3cret" not in str(caught.value) and "ann:***@127.0.0.1" in str(caught.value)


def test_in_memory_store_works_for_quick_scripts(monkeypatch):
    monkeypatch.delenv("ONLOOP_WORKSPACES", raising=False)
    with storage.open_store(":memory:") as memory:
        run = storage.create_run(memory, goal="remember nothing")
        assert storage.append_event(memory, run_id=run.id, kind="guidance", payload={}) == 2
        assert memory.workspace_root.name == "onloop-workspaces"


# ---------------------------------------------------------------- runs


def test_create_run_fills_defaults_and_records_queued(store):
    tools = ["read_file"]
    run = storage.create_run(store, goal="  tidy the folder  ", tools=tools, created_by="ann")
    tools.append("run_shell")  # the caller's list is not the stored one
    assert re.fullmatch(r"[0-9a-f]{12}", run.id)
    assert run.goal == "tidy the folder"
    assert (run.status, run.model, run.autonomy) == ("queued", "demo", "supervised")
    assert (run.max_steps, run.max_seconds, run.last_seq) == (30, 600.0, 1)
    assert run.workspace == str(store.workspace_root / run.id)
    stored = storage.get_run(store, run_id=run.id)
    assert stored.tools == ["read_file"] and stored.created_by == "ann"
    for row in (run, stored, *storage.list_runs(store)):  # usable after their session closed
        assert inspect(row).detached and not inspect(row).unloaded
    [event] = storage.events_after(store, run_id=run.id)
    assert (event.seq, event.kind) == (1, "status")
    assert event.payload == {"status": "queued", "reason": None}


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"goal": "   "}, "goal is empty"),
        ({"goal": "x", "autonomy": "yolo"}, "manual, supervised, autonomous"),
        ({"goal": "x", "max_steps": 0}, "max_steps must be at least 1"),
        ({"goal": "x", "max_seconds": 0}, "max_seconds must be more than 0"),
    ],
)
def test_create_run_refuses_bad_input(store, fields, words):
    with pytest.raises(storage.StoreError, match=words):
        storage.create_run(store, **fields)
    assert storage.count_runs(store) == 0


def test_get_run_by_id_and_unique_prefix(store, monkeypatch):
    ids = iter(["abcd1111" + "0" * 24, "abcd2222" + "0" * 24, "ffff0000" + "0" * 24])
    monkeypatch.setattr(storage.runs.uuid, "uuid4", lambda: uuid.UUID(next(ids)))
    first = storage.create_run(store, goal="one")
    storage.create_run(store, goal="two")
    assert storage.get_run(store, run_id=first.id).goal == "one"
    assert storage.get_run(store, run_id="abcd1").goal == "one"
    assert storage.get_run(store, run_id="abcd2222").goal == "two"
    with pytest.raises(storage.StoreError, match="matches several runs"):
        storage.get_run(store, run_id="abcd")
    with pytest.raises(storage.NotFound, match="no run with id 'abc'; give at least 4 characters"):
        storage.get_run(store, run_id="abc")  # too short for a prefix
    with pytest.raises(storage.NotFound):
        storage.get_run(store, run_id="9999")


def test_list_and_count_runs_filter_and_page(store):
    base = datetime(2025, 1, 1)
    specs = [
        ("Write a REPORT", "demo", "demo", "queued"),
        ("clean up temp files", "openai", "gpt-4o-mini", "running"),
        ("100% coverage", "openai", "gpt-4o", "succeeded"),
        ("another report", "scripted", "script", "failed"),
    ]
    made = []
    for day, (goal, model, model_name, status) in enumerate(specs):
        run = storage.create_run(store, goal=goal, model=model, model_name=model_name)
        storage.update_run(store, run_id=run.id, status=status)
        _set_created(store, run.id, base + timedelta(days=day))
        made.append(run.id)

    def ids(**filters):
        return [r.id for r in storage.list_runs(store, **filters)]

    assert ids() == made[::-1]  # newest first
    assert ids(status="running") == [made[1]]
    assert ids(status=["queued", "failed"]) == [made[3], made[0]]
    assert ids(model="openai") == [made[2], made[1]]  # the provider ...
    assert ids(model="gpt-4o") == [made[2]]  # ... or the model name
    assert ids(since=base + timedelta(days=1), until=base + timedelta(days=3)) == [made[2], made[1]]
    assert ids(search="report") == [made[3], made[0]]  # case-insensitive substring
    assert ids(search="100%") == [made[2]]  # wildcards are literal
    assert ids(limit=2) == [made[3], made[2]] and ids(limit=2, offset=2) == [made[1], made[0]]
    assert storage.count_runs(store) == 4
    assert storage.count_runs(store, status=["queued", "failed"], search="REPORT") == 2
    assert storage.count_runs(store, model="openai", since=base + timedelta(days=2)) == 1
    assert storage.count_runs(store, model="gpt-4o", since=base + timedelta(days=3)) == 0


def test_list_runs_pages_newest_first_with_ties_by_id_at_every_offset(store):
    base = datetime(2025, 1, 1)
    made = []  # (created_at, id, status, goal)
    for i in range(12):
        goal, status = (
            f"run {i}" + (" report" if i % 3 == 0 else ""),
            ("succeeded", "failed")[i % 2],
        )
        run = storage.create_run(store, goal=goal)
        storage.update_run(store, run_id=run.id, status=status)
        created = base + timedelta(hours=i // 4)  # four runs share each instant
        _set_created(store, run.id, created)
        made.append((created, run.id, status, goal))
    newest_first = sorted(made, reverse=True)
    cases = {
        "all": ({}, newest_first),
        "failed": ({"status": "failed"}, [r for r in newest_first if r[2] == "failed"]),
        "search": ({"search": "REPORT"}, [r for r in newest_first if "report" in r[3]]),
    }
    for name, (filters, expected) in cases.items():
        for offset in range(0, len(expected) + 2):
            page = storage.list_runs(store, **filters, limit=5, offset=offset)
            wanted = expected[offset : offset + 5]
            assert [(r.id, r.status, r.goal) for r in page] == [
                (run_id, status, goal) for _, run_id, status, goal in wanted
            ], (name, offset)


def test_update_run_sets_fields_and_refuses_the_wrong_ones(store):
    run = storage.create_run(store, goal="update me", policy={"rules": []})
    finished = datetime(2025, 5, 1, 12, 0)
    storage.update_run(
        store, run_id=run.id, status="succeeded", result="done", finished_at=finished,
        policy={"rules": [{"tool": "run_shell", "verdict": "deny"}]},
    )  # fmt: skip
    stored = storage.get_run(store, run_id=run.id)
    assert (stored.status, stored.result, stored.finished_at) == ("succeeded", "done", finished)
    assert stored.policy == {"rules": [{"tool": "run_shell", "verdict": "deny"}]}
    assert stored.updated_at >= run.updated_at
    with pytest.raises(TypeError, match="cannot set last_seq, nonsense"):
        storage.update_run(store, run_id=run.id, nonsense=1, last_seq=9)
    with pytest.raises(storage.StoreError, match="unknown run status 'sleeping'"):
        storage.update_run(store, run_id=run.id, status="sleeping")
    with pytest.raises(storage.NotFound):
        storage.update_run(store, run_id="nope", status="failed")


def test_add_usage_accumulates(store):
    run = storage.create_run(store, goal="count tokens")
    storage.add_usage(store, run_id=run.id, steps=1, tokens_in=100, tokens_out=20, cost_usd=0.25)
    storage.add_usage(store, run_id=run.id, steps=1, tool_calls=2, tokens_in=50, cost_usd=0.5)
    stored = storage.get_run(store, run_id=run.id)
    usage = (stored.steps, stored.tool_calls, stored.tokens_in, stored.tokens_out, stored.cost_usd)
    assert usage == (2, 2, 150, 20, 0.75)
    with pytest.raises(storage.NotFound):
        storage.add_usage(store, run_id="nope", steps=1)


def test_claim_takes_the_oldest_queued_run_once(store):
    older = storage.create_run(store, goal="older")
    newer = storage.create_run(store, goal="newer")
    _set_created(store, older.id, datetime(2025, 1, 1))
    _set_created(store, newer.id, datetime(2025, 1, 2))
    claimed = storage.claim_next_run(store, worker_id="w1", lease_seconds=60)
    assert claimed.id == older.id and claimed.status == "running" and claimed.worker_id == "w1"
    assert claimed.started_at is not None
    # The lease is the database's clock plus 60 s (storage.clock); started_at the worker's.
    lease = claimed.lease_expires_at - claimed.started_at
    assert timedelta(seconds=59) < lease < timedelta(seconds=61)
    assert storage.claim_next_run(store, worker_id="w2", lease_seconds=60).id == newer.id
    assert storage.claim_next_run(store, worker_id="w3", lease_seconds=60) is None


def test_leases_renew_release_and_expire(store):
    run = storage.create_run(store, goal="hold the lease")
    storage.claim_next_run(store, worker_id="w1", lease_seconds=30)
    assert storage.renew_lease(store, run_id=run.id, worker_id="w1", lease_seconds=30)
    assert not storage.renew_lease(store, run_id=run.id, worker_id="w2", lease_seconds=30)
    storage.release_run(store, run_id=run.id, worker_id="w2")  # not w2's: no effect
    assert storage.get_run(store, run_id=run.id).worker_id == "w1"
    storage.release_run(store, run_id=run.id, worker_id="w1")
    released = storage.get_run(store, run_id=run.id)
    assert released.worker_id is None and released.lease_expires_at is None
    assert not storage.renew_lease(store, run_id=run.id, worker_id="w1", lease_seconds=30)


def test_expire_leases_interrupts_only_lapsed_running_or_waiting_runs(store):
    queued = storage.create_run(store, goal="never claimed")
    lapsed, waiting, fresh = (storage.create_run(store, goal=g) for g in "abc")
    for run in (lapsed, waiting, fresh):
        storage.update_run(store, run_id=run.id, status="running", worker_id=f"w-{run.id}")
        storage.renew_lease(store, run_id=run.id, worker_id=f"w-{run.id}", lease_seconds=10)
    storage.update_run(store, run_id=waiting.id, status="waiting")
    storage.renew_lease(store, run_id=fresh.id, worker_id=f"w-{fresh.id}", lease_seconds=3600)
    later = storage.utcnow() + timedelta(seconds=60)
    assert sorted(storage.expire_leases(store, now=later)) == sorted([lapsed.id, waiting.id])
    for run in (lapsed, waiting):
        stored = storage.get_run(store, run_id=run.id)
        assert (stored.status, stored.reason, stored.worker_id) == (
            "interrupted", "worker lost (lease expired)", None,
        )  # fmt: skip
        last = storage.last_events(store, run_id=run.id, n=1)[0]
        assert last.payload == {"status": "interrupted", "reason": "worker lost (lease expired)"}
        assert not storage.renew_lease(
            store, run_id=run.id, worker_id=f"w-{run.id}", lease_seconds=5
        )
    assert storage.get_run(store, run_id=fresh.id).status == "running"
    assert storage.get_run(store, run_id=queued.id).status == "queued"
    assert storage.expire_leases(store, now=later) == []


@pytest.mark.parametrize("status", ["paused", "interrupted", "halted", "failed"])
def test_requeue_run_resumes_a_stopped_run(store, status):
    run = storage.create_run(store, goal="resume me", max_steps=3)
    storage.claim_next_run(store, worker_id="w1", lease_seconds=30)
    storage.add_usage(store, run_id=run.id, steps=3, tokens_in=10, cost_usd=1.0)
    storage.update_run(store, run_id=run.id, status=status, reason="stopped", active_seconds=4.0)
    kept = storage.requeue_run(store, run_id=run.id)
    assert (kept.status, kept.reason, kept.worker_id, kept.steps) == ("queued", None, None, 3)
    assert kept.last_seq == 2 == storage.get_run(store, run_id=run.id).last_seq
    event = storage.last_events(store, run_id=run.id, n=1)[0]
    assert event.payload == {"status": "queued", "reason": None, "resumed": True}

    storage.update_run(store, run_id=run.id, status=status)
    fresh = storage.requeue_run(store, run_id=run.id, reset_budget=True)
    budget = (fresh.steps, fresh.tokens_in, fresh.cost_usd, fresh.active_seconds)
    assert budget == (0, 0, 0.0, 0.0)
    assert storage.claim_next_run(store, worker_id="w2", lease_seconds=30).id == run.id


@pytest.mark.parametrize("status", ["queued", "running", "waiting", "succeeded"])
def test_requeue_run_refuses_runs_that_are_not_stopped(store, status):
    run = storage.create_run(store, goal="busy")
    storage.update_run(store, run_id=run.id, status=status)
    with pytest.raises(storage.InvalidState, match=f"run {run.id} is {status}; only a paused"):
        storage.requeue_run(store, run_id=run.id)
    with pytest.raises(storage.NotFound):
        storage.requeue_run(store, run_id="nope")


# ---------------------------------------------------------------- events


def test_events_are_numbered_and_read_back_in_order(store):
    run = storage.create_run(store, goal="log things")
    seqs = [
        storage.append_event(store, run_id=run.id, kind="model_call", payload={"step": i})
        for i in range(10)
    ]
    assert seqs == list(range(2, 12))
    assert storage.get_run(store, run_id=run.id).last_seq == 11
    after = storage.events_after(store, run_id=run.id, after_seq=5)
    assert [e.seq for e in after] == list(range(6, 12)) and after[0].payload == {"step": 4}
    assert [e.seq for e in storage.events_after(store, run_id=run.id, after_seq=5, limit=2)] == [
        6,
        7,
    ]
    assert storage.events_after(store, run_id=run.id, after_seq=11) == []
    assert [e.seq for e in storage.last_events(store, run_id=run.id, n=3)] == [9, 10, 11]
    assert len(storage.last_events(store, run_id=run.id, n=100)) == 11
    assert storage.last_events(store, run_id=run.id, n=0) == []
    assert storage.events_after(store, run_id="nope") == []


def test_event_payloads_survive_datetimes_and_records_are_frozen(store):
    run = storage.create_run(store, goal="odd payloads")
    moment = datetime(2025, 3, 4, 5, 6, 7)
    storage.append_event(store, run_id=run.id, kind="error", payload={"at": moment, "n": [1, 2]})
    record = storage.last_events(store, run_id=run.id, n=1)[0]
    assert record.payload == {"at": "2025-03-04 05:06:07", "n": [1, 2]}
    assert isinstance(record.at, datetime) and record.at.tzinfo is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.seq = 99


def test_append_event_to_an_unknown_run_writes_nothing(store):
    with pytest.raises(storage.NotFound, match="no run with id ghost"):
        storage.append_event(store, run_id="ghost", kind="status", payload={})
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar() == 0


@pytest.mark.parametrize("route", ["returning", "no-returning"])
def test_appends_number_events_with_and_without_returning(store, monkeypatch, route):
    """SQLite older than 3.35 has no RETURNING: the seq is read after the bump instead."""
    if route == "no-returning":
        monkeypatch.setattr(store.engine.dialect, "update_returning", False)
    run = storage.create_run(store, goal="portable")
    assert storage.append_event(store, run_id=run.id, kind="guidance", payload={"m": 1}) == 2
    with pytest.raises(storage.NotFound):
        storage.append_event(store, run_id="ghost", kind="status", payload={})
    assert _seqs(store, run.id) == [1, 2]


TOOL_EVENTS = [  # kind, payload, the (tool, verdict) columns append_event writes
    ("tool_call", {"tool": "delete_files", "verdict": "ask", "arguments": {}}, ("delete_files", "ask")),
    ("tool_result", {"tool": "delete_files", "ok": True, "verdict": "x"}, ("delete_files", None)),
    ("tool_call", {"verdict": "allow"}, (None, "allow")),
    ("tool_call", {"tool": 3, "verdict": None}, (None, None)),  # only strings are copied
    ("approval_requested", {"tool": "delete_files"}, (None, None)),  # not a tool step
    ("model_call", {"tool_calls": [{"name": "read_file"}]}, (None, None)),
]  # fmt: skip


def _append(store, route: str, **event: Any) -> None:
    """An event in a transaction of its own, or inside a larger one (a halt's, a claim's)."""
    if route == "own-transaction":
        storage.append_event(store, **event)
    else:
        with writing(store) as conn:
            events_module.append_in(conn, **event)


@pytest.mark.parametrize("route", ["own-transaction", "inside-a-transaction"])
def test_append_event_copies_tool_and_verdict_into_their_columns(store, route):
    run = storage.create_run(store, goal="use tools")
    for kind, payload, _ in TOOL_EVENTS:
        _append(store, route, run_id=run.id, kind=kind, payload=payload)
    with store.engine.connect() as conn:
        query = "SELECT tool, verdict FROM events WHERE run_id = ? AND seq > 1 ORDER BY seq"
        columns = [tuple(row) for row in conn.exec_driver_sql(query, (run.id,))]
    assert columns == [expected for _, _, expected in TOOL_EVENTS]
    assert [e.payload for e in storage.events_after(store, run_id=run.id, after_seq=1)] == [
        payload for _, payload, _ in TOOL_EVENTS
    ]


@pytest.mark.parametrize("route", ["own-transaction", "inside-a-transaction"])
def test_append_event_counts_tool_calls_by_their_runs_day(store, route):
    runs = [storage.create_run(store, goal=f"run {i}") for i in range(3)]
    for run, day in zip(runs, (1, 1, 2), strict=True):
        _set_created(store, run.id, datetime(2025, 5, day, 23, 59))
    for run in runs:
        for kind, payload, _ in TOOL_EVENTS + TOOL_EVENTS[:1]:
            _append(store, route, run_id=run.id, kind=kind, payload=payload)

    def counts():
        query = "SELECT day, tool, verdict, calls FROM tool_call_counts ORDER BY day, tool, verdict"
        with store.engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(query)]

    assert counts() == [
        ("2025-05-01", "", "", 2),
        ("2025-05-01", "", "allow", 2),
        ("2025-05-01", "delete_files", "ask", 4),
        ("2025-05-02", "", "", 1),
        ("2025-05-02", "", "allow", 1),
        ("2025-05-02", "delete_files", "ask", 2),
    ]
    kept = counts()
    with store.engine.begin() as conn:
        rebuild_tool_call_counts(conn)
    assert counts() == kept  # what the appends kept is what a recount of the events gives


def test_appends_write_timestamps_in_sqlalchemys_format(store):
    run = storage.create_run(store, goal="formats")  # its first event: inside a transaction
    storage.append_event(store, run_id=run.id, kind="status", payload={})  # in its own
    raw = sqlite3.connect(store.engine.url.database)
    stamps = [row[0] for row in raw.execute("SELECT at FROM events ORDER BY seq")]
    raw.close()
    assert len(stamps) == 2
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", s) for s in stamps)


# ---------------------------------------------------------------- approvals


def test_approvals_are_created_listed_and_counted(store):
    run, other = storage.create_run(store, goal="a"), storage.create_run(store, goal="b")
    arguments = {"paths": ["a.tmp"]}
    first = _approval(store, run.id, arguments=arguments, summary="delete 1 file")
    arguments["paths"].append("b.tmp")  # the caller's dict is not the stored one
    second = _approval(store, other.id, "call-2")
    third = _approval(store, run.id, "call-3")
    fetched = storage.get_approval(store, approval_id=first.id)
    assert (fetched.status, fetched.summary, fetched.risk) == ("pending", "delete 1 file", "high")
    assert first.arguments == fetched.arguments == {"paths": ["a.tmp"]}
    assert [a.id for a in storage.pending_approvals(store)] == [first.id, second.id, third.id]
    assert [a.id for a in storage.pending_approvals(store, run_id=run.id)] == [first.id, third.id]
    assert [a.id for a in storage.pending_approvals(store, limit=1)] == [first.id]
    assert storage.count_pending_approvals(store) == 3
    with pytest.raises(storage.NotFound, match="no approval with id 999"):
        storage.get_approval(store, approval_id=999)
    with pytest.raises(storage.NotFound, match="no run with id ghost"):
        _approval(store, "ghost")


def test_decide_approval_records_once_and_refuses_a_second_decision(store):
    run = storage.create_run(store, goal="decide")
    pending = _approval(store, run.id)
    decided = storage.decide_approval(
        store, approval_id=pending.id, decision="approved", decided_by="alice", note="ok",
        edited_arguments={"paths": ["b.tmp"]}, approved_hash="h2", allow_scope="tool",
    )  # fmt: skip
    assert (decided.status, decided.decided_by, decided.note) == ("approved", "alice", "ok")
    assert decided.edited_arguments == {"paths": ["b.tmp"]} and decided.approved_hash == "h2"
    assert decided.allow_scope == "tool" and decided.decided_at is not None
    with pytest.raises(
        storage.InvalidState, match=f"approval {pending.id} was already approved by alice"
    ):
        storage.decide_approval(
            store, approval_id=pending.id, decision="rejected", decided_by="bob"
        )
    assert storage.get_approval(store, approval_id=pending.id).decided_by == "alice"
    assert storage.count_pending_approvals(store) == 0
    with pytest.raises(storage.NotFound):
        storage.decide_approval(store, approval_id=999, decision="approved", decided_by="x")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"decision": "maybe"}, "unknown decision 'maybe'"),
        ({"allow_scope": "forever"}, "allow_scope"),
    ],
)
def test_decide_approval_refuses_unknown_values(store, fields, words):
    pending = _approval(store, storage.create_run(store, goal="x").id)
    with pytest.raises(storage.StoreError, match=words):
        storage.decide_approval(
            store, approval_id=pending.id, decided_by="x", **({"decision": "approved"} | fields)
        )
    assert storage.get_approval(store, approval_id=pending.id).status == "pending"


def test_decisions_are_the_audit_newest_first(store):
    run, other = storage.create_run(store, goal="a"), storage.create_run(store, goal="b")
    a1, a2, a3, a4 = (_approval(store, r.id, f"c{i}") for i, r in enumerate([run, run, other, run]))
    for approval, decision in ((a2, "rejected"), (a1, "approved"), (a3, "expired")):
        storage.decide_approval(store, approval_id=approval.id, decision=decision, decided_by="ann")
    assert [a.id for a in storage.decisions(store)] == [a3.id, a1.id, a2.id]  # a4 is pending
    assert [a.id for a in storage.decisions(store, run_id=run.id)] == [a1.id, a2.id]
    assert [a.id for a in storage.decisions(store, limit=1)] == [a3.id]
    assert storage.get_approval(store, approval_id=a4.id).status == "pending"


# ---------------------------------------------------------------- commands


def test_commands_wait_until_consumed(store):
    run = storage.create_run(store, goal="steer me")
    pause = storage.send_command(store, run_id=run.id, kind="pause", created_by="ann")
    guide = storage.send_command(
        store, run_id=run.id, kind="guidance", payload={"message": "use fewer steps"}
    )
    assert [c.id for c in storage.pending_commands(store, run_id=run.id)] == [pause.id, guide.id]
    assert guide.payload == {"message": "use fewer steps"} and pause.created_by == "ann"
    storage.consume_command(store, command_id=pause.id)
    storage.consume_command(store, command_id=pause.id)  # twice is harmless
    assert [c.id for c in storage.pending_commands(store, run_id=run.id)] == [guide.id]
    with pytest.raises(storage.NotFound, match="no command with id 999"):
        storage.consume_command(store, command_id=999)


def test_send_command_refuses_what_cannot_happen(store):
    run = storage.create_run(store, goal="finish")
    with pytest.raises(storage.StoreError, match="unknown command 'explode'"):
        storage.send_command(store, run_id=run.id, kind="explode")
    with pytest.raises(storage.StoreError, match="guidance needs a message"):
        storage.send_command(store, run_id=run.id, kind="guidance", payload={"message": "  "})
    with pytest.raises(storage.NotFound):
        storage.send_command(store, run_id="ghost", kind="halt")
    storage.update_run(store, run_id=run.id, status="halted")
    with pytest.raises(storage.InvalidState, match=f"run {run.id} already halted"):
        storage.send_command(store, run_id=run.id, kind="pause")
    assert storage.send_command(store, run_id=run.id, kind="resume").kind == "resume"
    storage.update_run(store, run_id=run.id, status="succeeded")
    with pytest.raises(storage.InvalidState, match="already succeeded"):
        storage.send_command(store, run_id=run.id, kind="resume")
