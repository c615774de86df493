"""storage.insights on a small hand-made history, where every number can be counted by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import storage
from storage import insights
from tests.support import dashboard_seed as seed

DAY1 = datetime(2025, 5, 1, 9, 0)
DAY2 = datetime(2025, 5, 2, 15, 30)
OLD = datetime(2024, 1, 1, 12, 0)


pytestmark = pytest.mark.store_for("page")  # a page run on its own by AppTest reads this store


def decide_at(
    store, approval, decision: str, *, asked: datetime, waited_s: float, by: str = "x"
) -> None:
    """Decide a pending approval as if asked at `asked` and answered `waited_s` later (one write:
    a decided approval can no longer be changed)."""
    table = storage.Approval.__table__
    with store.engine.begin() as conn:
        conn.execute(
            table.update()
            .where(table.c.id == approval.id)
            .values(
                status=decision,
                decided_by=by,
                requested_at=asked,
                decided_at=asked + timedelta(seconds=waited_s),
            )
        )


@pytest.fixture
def history(store):
    """Day 1: 2 succeeded, 1 failed, 1 running. Day 2: 1 succeeded, 1 halted. Old: 1 failed."""
    runs = {
        "a": seed.make_run(store, created_at=DAY1, tokens_in=100, tokens_out=10, cost_usd=0.5),
        "b": seed.make_run(store, created_at=DAY1, tokens_in=200, tokens_out=20, cost_usd=0.25),
        "c": seed.make_run(store, created_at=DAY1, status="failed", tokens_in=1, cost_usd=0.0),
        "d": seed.make_run(store, created_at=DAY1, status="running"),
        "e": seed.make_run(store, created_at=DAY2, tokens_in=50, tokens_out=5, cost_usd=0.125),
        "f": seed.make_run(store, created_at=DAY2, status="halted"),
        "old": seed.make_run(store, created_at=OLD, status="failed", tokens_in=7, cost_usd=1.0),
    }
    return runs


def test_runs_per_day_by_status(store, history):
    rows = insights.runs_per_day(store, since=datetime(2025, 1, 1))
    assert sorted((r["day"], r["status"], r["runs"]) for r in rows) == [
        ("2025-05-01", "failed", 1),
        ("2025-05-01", "running", 1),
        ("2025-05-01", "succeeded", 2),
        ("2025-05-02", "halted", 1),
        ("2025-05-02", "succeeded", 1),
    ]
    every_day = {r["day"] for r in insights.runs_per_day(store)}
    assert every_day == {"2024-01-01", "2025-05-01", "2025-05-02"}


def test_success_rate_counts_only_finished_runs(store, history):
    assert insights.success_rate(store) == {"finished": 6, "succeeded": 3, "rate": 0.5}
    recent = insights.success_rate(store, since=datetime(2025, 1, 1))
    assert recent == {"finished": 5, "succeeded": 3, "rate": 0.6}
    assert insights.success_rate(store, since=datetime(2030, 1, 1))["rate"] is None


def test_usage_per_day_sums_tokens_and_cost(store, history):
    rows = insights.usage_per_day(store, since=datetime(2025, 1, 1))
    assert rows == [
        {"day": "2025-05-01", "runs": 4, "tokens_in": 301, "tokens_out": 30, "tokens": 331,
         "cost_usd": 0.75},
        {"day": "2025-05-02", "runs": 2, "tokens_in": 50, "tokens_out": 5, "tokens": 55,
         "cost_usd": 0.125},
    ]  # fmt: skip
    assert insights.usage_per_day(store)[0]["cost_usd"] == 1.0


def test_approval_latency_median_and_p90_of_human_decisions(store, history):
    run = history["a"]
    waits = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    for i, wait in enumerate(waits):
        approval = seed.make_approval(store, run)
        decision = "approved" if i % 2 else "rejected"
        decide_at(store, approval, decision, asked=DAY1 + timedelta(minutes=i), waited_s=wait)
    expired = seed.make_approval(store, run)
    decide_at(store, expired, "expired", asked=DAY1, waited_s=5000)  # nobody answered: no latency
    seed.make_approval(store, run)  # still pending
    result = insights.approval_latency(store)
    assert result["decided"] == 10
    assert result["median_s"] == pytest.approx(55.0, abs=0.01)
    assert result["p90_s"] == pytest.approx(90.0, abs=0.01)
    assert sorted(result["waits_s"]) == pytest.approx(waits, abs=0.01)
    later = insights.approval_latency(store, since=DAY1 + timedelta(minutes=5))
    assert later["decided"] == 5 and later["median_s"] == pytest.approx(80.0, abs=0.01)


def test_approval_latency_leaves_out_what_yes_approved(store, history):
    approval = seed.make_approval(store, history["a"])
    decide_at(store, approval, "approved", asked=DAY1, waited_s=1)
    yes = seed.make_approval(store, history["a"])
    decide_at(store, yes, "approved", asked=DAY1, waited_s=0.1, by="ann (--yes)")
    result = insights.approval_latency(store)
    assert result["decided"] == 1 and result["median_s"] == pytest.approx(1.0, abs=0.01)


def test_approval_latency_with_no_decisions(store, history):
    assert insights.approval_latency(store) == {
        "decided": 0, "median_s": None, "p90_s": None, "waits_s": []
    }  # fmt: skip


def test_decisions_per_tool(store, history):
    run = history["b"]
    plan = [("delete_files", "approved"), ("delete_files", "rejected"),
            ("delete_files", "rejected"), ("write_file", "approved"),
            ("run_shell", "expired"), ("run_shell", "pending")]  # fmt: skip
    for tool, decision in plan:
        approval = seed.make_approval(store, run, tool=tool, arguments={"x": tool})
        if decision != "pending":
            storage.decide_approval(
                store, approval_id=approval.id, decision=decision, decided_by="x"
            )
    assert insights.decisions_per_tool(store) == [
        {"tool": "delete_files", "approved": 1, "rejected": 2, "expired": 0},
        {"tool": "run_shell", "approved": 0, "rejected": 0, "expired": 1},
        {"tool": "write_file", "approved": 1, "rejected": 0, "expired": 0},
    ]


def drift(monitor: str, action: str) -> tuple[str, dict]:
    return "drift", {"monitor": monitor, "detail": "tripped", "action": action}


def call(tool: str, verdict: str) -> tuple[str, dict]:
    return "tool_call", {"tool": tool, "verdict": verdict, "arguments": {}}


def test_drift_stops_and_tool_usage_from_events(store, history):
    seed.add_events(
        store,
        history["a"],
        [drift("repetition", "pause"), call("read_file", "allow"), call("read_file", "allow"),
         call("write_file", "ask")],
    )  # fmt: skip
    seed.add_events(
        store,
        history["e"],
        [drift("repetition", "pause"), drift("budget", "halt"), call("read_file", "allow"),
         call("run_shell", "deny")],
    )  # fmt: skip
    seed.add_events(store, history["old"], [drift("budget", "halt"), call("calculator", "allow")])
    assert insights.drift_stops_by_monitor(store) == [
        {"monitor": "budget", "action": "halt", "stops": 2},
        {"monitor": "repetition", "action": "pause", "stops": 2},
    ]
    recent = insights.drift_stops_by_monitor(store, since=datetime(2025, 1, 1))
    assert recent[0] == {"monitor": "repetition", "action": "pause", "stops": 2}
    assert recent[1] == {"monitor": "budget", "action": "halt", "stops": 1}
    assert insights.tool_usage(store, since=datetime(2025, 1, 1)) == [
        {"tool": "read_file", "calls": 3, "allowed": 3, "asked": 0, "denied": 0},
        {"tool": "run_shell", "calls": 1, "allowed": 0, "asked": 0, "denied": 1},
        {"tool": "write_file", "calls": 1, "allowed": 0, "asked": 1, "denied": 0},
    ]
    assert [r["tool"] for r in insights.tool_usage(store, limit=2)] == ["read_file", "calculator"]


def _counted_from_payloads(store, since: datetime | None) -> tuple[list[dict], list[dict]]:
    """tool_usage and drift_stops_by_monitor as defined before schema version 2, when both read
    the JSON payloads: the tool_call and drift events of the runs created since `since`."""
    tools: dict[str, dict] = {}
    stops: dict[tuple[str, str], int] = {}
    for run in storage.list_runs(store, since=since, limit=1_000):
        for event in storage.events_after(store, run_id=run.id):
            if event.kind == "drift":
                key = (
                    event.payload.get("monitor", "unknown"),
                    event.payload.get("action", "unknown"),
                )
                stops[key] = stops.get(key, 0) + 1
            if event.kind != "tool_call":
                continue
            name = event.payload.get("tool") or "unknown"
            row = tools.setdefault(
                name, {"tool": name, "calls": 0, "allowed": 0, "asked": 0, "denied": 0}
            )
            row["calls"] += 1
            verdict = {"allow": "allowed", "ask": "asked", "deny": "denied"}.get(
                event.payload.get("verdict")
            )
            if verdict:
                row[verdict] += 1
    drift_rows = [{"monitor": m, "action": a, "stops": n} for (m, a), n in stops.items()]
    return (
        sorted(tools.values(), key=lambda r: (-r["calls"], r["tool"])),
        sorted(drift_rows, key=lambda r: (-r["stops"], r["monitor"], r["action"])),
    )


def test_event_aggregates_match_a_count_of_the_payloads(store, history):
    """The tool and verdict columns give what the payloads say, for every period."""
    tools = ["read_file", "write_file", "run_shell", "calculator"]
    verdicts = ["allow", "allow", "ask", "deny", "allow", "maybe"]
    for i, run in enumerate(history.values()):
        events = [call(tools[(i + k) % 4], verdicts[(i * k) % 6]) for k in range(i + 3)]
        events += [("tool_result", {"tool": "read_file", "ok": True}), drift("budget", "halt")]
        events += [("tool_call", {"verdict": "allow"})] if i % 2 else []  # no tool: "unknown"
        seed.add_events(store, run, events)
    for since in (None, OLD, datetime(2025, 1, 1), DAY1, DAY1 + timedelta(hours=1), DAY2):
        expected_tools, expected_drift = _counted_from_payloads(store, since)
        assert insights.tool_usage(store, since=since) == expected_tools, since
        assert insights.drift_stops_by_monitor(store, since=since) == expected_drift, since
        assert insights.tool_usage(store, since=since, limit=2) == expected_tools[:2], since


def test_models_in_use_and_has_history(store):
    assert insights.has_history(store) is False
    assert insights.models_in_use(store) == []
    seed.make_run(store, model="openai", model_name="gpt-4o-mini")
    seed.make_run(store, model="demo", model_name="demo")
    assert insights.has_history(store) is True
    assert insights.models_in_use(store) == ["demo", "gpt-4o-mini", "openai"]


def test_an_empty_store_gives_empty_figures(store):
    assert insights.runs_per_day(store) == []
    assert insights.usage_per_day(store) == []
    assert insights.decisions_per_tool(store) == []
    assert insights.drift_stops_by_monitor(store) == []
    assert insights.tool_usage(store) == []
    assert insights.success_rate(store) == {"finished": 0, "succeeded": 0, "rate": None}
