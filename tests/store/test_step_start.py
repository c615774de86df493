"""A step's start: one implementation (storage.events.write_event, on the driver's connection)
on SQLite and PostgreSQL alike. Each step kind and each refusal is checked against every column
of every row of every table it may touch, read raw from the database (the `at` text as stored),
and the check is shown to catch a wrong `at` format, a wrong counter and a skipped column."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

import storage
from storage import events as events_module
from storage.driver_sql import Compiled
from storage.engine import json_dumps, writing
from storage.events import append_in

TABLES = {  # every table a step's start may write, and what names one row of it
    "runs": ("id",),
    "events": ("id",),
    "tool_call_counts": ("day", "tool", "verdict"),
    "approvals": ("id",),
    "commands": ("id",),
}
SQLALCHEMY_DATETIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}"  # what Core writes on SQLite
USAGE = {"steps": 1, "tokens_in": 30, "tokens_out": 7, "cost_usd": 0.25}

Rows = dict[str, dict[tuple, dict[str, Any]]]


def snapshot(store: storage.Store) -> Rows:
    """Every row of every table above, as the database hands it back (SQLite: text for times)."""
    taken: Rows = {}
    with store.engine.connect() as conn:
        for table, key in TABLES.items():
            rows = conn.execute(text(f"SELECT * FROM {table}")).mappings().all()
            taken[table] = {tuple(row[k] for k in key): dict(row) for row in rows}
    return taken


def changes(before: Rows, after: Rows) -> dict[str, dict[str, list]]:
    """Per table: the rows added and the rows changed (old, new); tables left alone are absent."""
    found: dict[str, dict[str, list]] = {}
    for table in TABLES:
        added = [row for key, row in after[table].items() if key not in before[table]]
        changed = [
            (before[table][key], row)
            for key, row in after[table].items()
            if key in before[table] and row != before[table][key]
        ]
        gone = [row for key, row in before[table].items() if key not in after[table]]
        assert not gone, f"rows of {table} went away: {gone}"
        if added or changed:
            found[table] = {"added": added, "changed": changed}
    return found


def stored_payload(store: storage.Store, payload: dict) -> Any:
    """A payload as the database hands it back: the store's JSON text on SQLite."""
    return json_dumps(payload) if store.is_sqlite else payload


def expect_event(
    store, before: Rows, run_id: str, kind: str, payload: dict, tool=None, verdict=None
):
    """Checks every column of the one event row a write added; returns its `at` as stored."""

    def check(found: dict[str, dict[str, list]]) -> Any:
        (row,) = found["events"]["added"]
        seq = before["runs"][(run_id,)]["last_seq"] + 1
        at = row["at"]
        if store.is_sqlite:
            assert isinstance(at, str) and re.fullmatch(SQLALCHEMY_DATETIME, at), at
        assert row == {
            "id": row["id"],
            "run_id": run_id,
            "seq": seq,
            "kind": kind,
            "at": at,
            "payload": stored_payload(store, payload),
            "tool": tool,
            "verdict": verdict,
        }
        assert found["events"]["changed"] == []
        return at

    return check


def expect_run(before: Rows, run_id: str, usage: dict | None, at: Any) -> dict[str, list]:
    """The run's row after a write: last_seq + 1, the usage added, updated_at the event's `at`
    when usage was added; every other column as it was."""
    old = before["runs"][(run_id,)]
    new = {**old, "last_seq": old["last_seq"] + 1}
    if usage:
        for name, amount in usage.items():
            new[name] = old[name] + amount
        new["updated_at"] = at
    return {"added": [], "changed": [(old, new)]}


def assert_step_wrote(
    store, before, after, run_id, kind, payload, *, usage=None, extra=None, **cols
):
    """What one step's start (or append) wrote: exactly one event, the run's row, and `extra`
    (table -> its changes); nothing else anywhere."""
    found = changes(before, after)
    at = expect_event(store, before, run_id, kind, payload, **cols)(found)
    expected = {"events": found["events"], "runs": expect_run(before, run_id, usage, at)}
    for table, make in (extra or {}).items():
        expected[table] = make(at)
    assert found == expected


# -- the store's situations --------------------------------------------------------------------


def driven(store: storage.Store, goal: str) -> tuple[Any, storage.Fence]:
    run = storage.create_run(store, goal=goal)
    claimed = storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=60)
    storage.mark_driven(store, run_id=run.id, status="running", worker_id="w")
    return claimed, storage.Fence("w", claimed.claim_epoch)


def approved(store: storage.Store, run_id: str, args_hash: str | None = "h1") -> Any:
    approval = storage.create_approval(
        store,
        run_id=run_id,
        request_seq=1,
        tool_call_id="call-1",
        tool="delete_files",
        arguments={"paths": ["a.tmp"]},
        args_hash=args_hash or "",
        risk="high",
    )
    return storage.decide_approval(
        store,
        approval_id=approval.id,
        decision="approved",
        decided_by="alice",
        approved_hash=args_hash,
    )


# -- each step kind: every column of every row it writes ---------------------------------------


@pytest.mark.parametrize("kind", ["model_request", "model_call", "final_answer", "run_started"])
def test_a_step_writes_its_event_and_usage_and_nothing_else(any_store, kind):
    run, fence = driven(any_store, "think")
    payload = {"step": 1, "text": "Plan: list the files\u2014then read them.", "n": [1, 2.5]}
    before = snapshot(any_store)
    seq = storage.begin_step(
        any_store, run_id=run.id, kind=kind, payload=payload, fence=fence, usage=USAGE
    )
    after = snapshot(any_store)
    assert seq == before["runs"][(run.id,)]["last_seq"] + 1
    assert_step_wrote(any_store, before, after, run.id, kind, payload, usage=USAGE)


def test_a_step_without_usage_leaves_the_runs_totals_and_updated_at(any_store):
    run, fence = driven(any_store, "think")
    before = snapshot(any_store)
    storage.begin_step(any_store, run_id=run.id, kind="model_request", payload={}, fence=fence)
    assert_step_wrote(any_store, before, snapshot(any_store), run.id, "model_request", {})


def test_a_tool_starts_without_an_approval(any_store):
    run, fence = driven(any_store, "calculate")
    before = snapshot(any_store)
    storage.begin_execution(
        any_store, run_id=run.id, tool_call_id="c1", tool="calculator", args_hash="h", fence=fence
    )
    payload = {"tool_call_id": "c1", "tool": "calculator", "approval_id": None, "args_hash": "h"}
    assert_step_wrote(any_store, before, snapshot(any_store), run.id, "tool_started", payload)


@pytest.mark.parametrize("args_hash", ["h1", None])
def test_a_tool_starts_consuming_its_approval(any_store, args_hash):
    run, fence = driven(any_store, "delete")
    approval = approved(any_store, run.id, args_hash)
    before = snapshot(any_store)
    storage.begin_execution(
        any_store,
        run_id=run.id,
        approval_id=approval.id,
        args_hash=args_hash,
        tool_call_id="call-1",
        tool="delete_files",
        fence=fence,
    )
    after = snapshot(any_store)
    payload = {
        "tool_call_id": "call-1",
        "tool": "delete_files",
        "approval_id": approval.id,
        "args_hash": args_hash,
    }
    old = before["approvals"][(approval.id,)]
    used = after["approvals"][(approval.id,)]["consumed_at"]
    assert used is not None
    if any_store.is_sqlite:
        assert re.fullmatch(SQLALCHEMY_DATETIME, used)

    def consumed(_at: Any) -> dict[str, list]:
        return {"added": [], "changed": [(old, {**old, "consumed_at": used})]}

    assert_step_wrote(
        any_store, before, after, run.id, "tool_started", payload, extra={"approvals": consumed}
    )


def test_a_tool_call_writes_its_tool_and_verdict_columns_and_its_count(any_store):
    run, fence = driven(any_store, "count")
    payload = {"tool": "delete_files", "verdict": "ask", "arguments": {"paths": ["a"]}}
    storage.append_event(any_store, run_id=run.id, kind="tool_call", payload=payload, fence=fence)
    before = snapshot(any_store)
    usage = {"tool_calls": 1}
    storage.append_event(
        any_store, run_id=run.id, kind="tool_call", payload=payload, fence=fence, usage=usage
    )
    after = snapshot(any_store)
    (key,) = after["tool_call_counts"]  # one row per day, tool and verdict
    old = before["tool_call_counts"][key]
    assert key[1:] == ("delete_files", "ask") and old["calls"] == 1

    def counted(_at: Any) -> dict[str, list]:
        return {"added": [], "changed": [(old, {**old, "calls": 2})]}

    assert_step_wrote(
        any_store,
        before,
        after,
        run.id,
        "tool_call",
        payload,
        usage=usage,
        extra={"tool_call_counts": counted},
        tool="delete_files",
        verdict="ask",
    )


def test_an_event_in_its_own_transaction_is_the_row_core_writes_inside_one(any_store):
    """Events are also written inside larger Core transactions (a halt, a claim): the same
    statement and values, so the same row but for its id, seq and moment."""
    run, fence = driven(any_store, "both ways")
    payload = {"tool": "calculator", "verdict": "allow", "note": "caf\u00e9 \u2603"}
    storage.append_event(any_store, run_id=run.id, kind="tool_call", payload=payload, fence=fence)
    with writing(any_store) as conn:
        append_in(conn, run_id=run.id, kind="tool_call", payload=payload, fence=fence)
    rows = sorted(snapshot(any_store)["events"].values(), key=lambda r: r["seq"])[-2:]
    mine, cores = ({k: v for k, v in r.items() if k not in ("id", "seq", "at")} for r in rows)
    assert mine == cores
    assert type(rows[0]["at"]) is type(rows[1]["at"])
    if any_store.is_sqlite:
        assert all(re.fullmatch(SQLALCHEMY_DATETIME, r["at"]) for r in rows)
    (count,) = snapshot(any_store)["tool_call_counts"].values()
    assert count["calls"] == 2


# -- refusals: nothing written anywhere, and the reason --------------------------------------


def _refusals(store: storage.Store) -> list[tuple[str, Callable[[], Any], type, str]]:
    halted, halted_fence = driven(store, "halted")
    storage.halt_run(store, run_id=halted.id, by="ann")
    other, _ = driven(store, "another worker's")
    older, older_fence = driven(store, "an older claim's")
    paused, paused_fence = driven(store, "paused")
    storage.update_run(store, run_id=paused.id, status="paused")
    using, using_fence = driven(store, "wrong arguments")
    approval = approved(store, using.id, "h1")
    unapproved, unapproved_fence = driven(store, "halted with an approval")
    pending = approved(store, unapproved.id, "h2")
    storage.halt_run(store, run_id=unapproved.id, by="bob")

    def step(run_id, fence, **extra):
        return lambda: storage.begin_step(
            store, run_id=run_id, kind="model_call", payload={}, fence=fence, usage=USAGE, **extra
        )

    def execute(run_id, fence, approval_id, args_hash):
        return lambda: storage.begin_execution(
            store, run_id=run_id, approval_id=approval_id, args_hash=args_hash, fence=fence
        )

    later = storage.Fence("w", older_fence.epoch + 1)
    return [
        ("halt pending", step(halted.id, halted_fence), storage.HaltRequested, "halted by ann"),
        ("another worker", step(other.id, storage.Fence("x")), storage.LeaseLost, "x's"),
        ("an older claim", step(older.id, later), storage.LeaseLost, "no longer w's"),
        ("not driven", step(paused.id, paused_fence), storage.HaltRequested, "is paused"),
        ("no run", step("ghost", storage.Fence("w")), storage.NotFound, "no run with id ghost"),
        ("unfenced, halted", step(halted.id, None), storage.HaltRequested, "halted by ann"),
        (
            "approval for other arguments",
            execute(using.id, using_fence, approval.id, "h9"),
            storage.ApprovalUnusable,
            "the arguments differ",
        ),
        (
            "halt pending, approval usable",  # the halt wins; the approval stays unused
            execute(unapproved.id, unapproved_fence, pending.id, "h2"),
            storage.HaltRequested,
            "halted by bob",
        ),
        (
            "append, lost claim",
            lambda: storage.append_event(
                store, run_id=older.id, kind="judge", payload={}, fence=later, usage=USAGE
            ),
            storage.LeaseLost,
            "no longer w's",
        ),
    ]


def test_a_refused_step_writes_nothing_in_any_table(any_store):
    for name, attempt, error, reason in _refusals(any_store):
        before = snapshot(any_store)
        with pytest.raises(error, match=re.escape(reason)):
            attempt()
        assert changes(before, snapshot(any_store)) == {}, name


# -- the check above catches a wrong `at`, a wrong counter, a skipped column -----------------


def _one_step(store: storage.Store) -> tuple[Rows, Rows, str, dict]:
    run, fence = driven(store, "mutated")
    payload = {"tool": "calculator", "verdict": "allow"}
    before = snapshot(store)
    storage.append_event(
        store, run_id=run.id, kind="tool_call", payload=payload, fence=fence, usage=USAGE
    )
    return before, snapshot(store), run.id, payload


def _check(store, before, after, run_id, payload) -> None:
    count = {"tool_call_counts": lambda _at: changes(before, after)["tool_call_counts"]}
    assert_step_wrote(
        store,
        before,
        after,
        run_id,
        "tool_call",
        payload,
        usage=USAGE,
        extra=count,
        tool="calculator",
        verdict="allow",
    )


def test_the_check_passes_on_the_store_as_it_is(any_store):
    _check(any_store, *_one_step(any_store))


def test_the_check_catches_a_changed_at_format(store, monkeypatch):
    """SQLite: an `at` written as ISO 8601 with a T (not SQLAlchemy's text) is caught."""
    real = Compiled.parameters

    def iso_at(self: Compiled, values: Any) -> Any:
        parameters = real(self, values)
        if "at" not in values or self.order is None:
            return parameters
        at = self.order.index("at")
        return (*parameters[:at], values["at"].isoformat(), *parameters[at + 1 :])

    monkeypatch.setattr(Compiled, "parameters", iso_at)
    with pytest.raises(AssertionError):
        _check(store, *_one_step(store))


def test_the_check_catches_a_wrong_counter(any_store, monkeypatch):
    real = events_module.write_event

    def doubled(*args: Any, usage: Any = None, **kwargs: Any) -> int:
        usage = {name: amount * 2 for name, amount in (usage or {}).items()}
        return real(*args, usage=usage, **kwargs)

    monkeypatch.setattr(events_module, "write_event", doubled)
    with pytest.raises(AssertionError):
        _check(any_store, *_one_step(any_store))


def test_the_check_catches_a_skipped_column(any_store, monkeypatch):
    real = events_module.event_row
    monkeypatch.setattr(events_module, "event_row", lambda **f: {**real(**f), "verdict": None})
    with pytest.raises(AssertionError):
        _check(any_store, *_one_step(any_store))


def test_the_payload_is_the_stores_json(any_store):
    """What a reader gets back is what was written (the text itself on SQLite)."""
    run, fence = driven(any_store, "json")
    payload = {"when": "2025-01-01", "nested": {"a": [1, None, True]}, "text": "\u00e9\u2603"}
    storage.begin_step(any_store, run_id=run.id, kind="model_call", payload=payload, fence=fence)
    (event,) = storage.last_events(any_store, run_id=run.id, n=1)
    assert event.payload == payload
    if any_store.is_sqlite:
        (row,) = [r for r in snapshot(any_store)["events"].values() if r["seq"] == event.seq]
        assert json.loads(row["payload"]) == payload and row["payload"] == json_dumps(payload)
