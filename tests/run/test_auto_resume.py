"""Automatic recovery: a run lost with its worker resumes by itself when the step in flight is
safe to repeat (a model call, a repeatable tool); a call that may have run and is not repeatable
goes to a person. Exactly one worker acts on each run."""

from __future__ import annotations

import json
from datetime import timedelta

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.policy import Policy
from agent_core.run.auto_resume import recover_lapsed
from storage.runs import LEASE_LOST_REASON
from tests.support.run_helpers import Driver, events_of, new_run

FAR = timedelta(hours=1)


def _lost_during(store, *kinds_payloads, policy=None):
    """A run whose worker died after writing these events (its lease then lapsed)."""
    run = new_run(store, "add up", model="scripted", autonomy="autonomous", policy=policy)
    storage.claim_run(store, run_id=run.id, worker_id="dead", lease_seconds=30)
    for kind, payload in kinds_payloads:
        storage.append_event(store, run_id=run.id, kind=kind, payload=payload)
    assert storage.expire_leases(store, now=storage.utcnow() + FAR) == [run.id]
    assert storage.get_run(store, run_id=run.id).reason == LEASE_LOST_REASON
    return run


def _tool_in_flight(tool, arguments):
    call = {"id": "c1", "name": tool, "arguments": json.dumps(arguments)}
    return (
        ("run_started", {"goal": "add up"}),
        ("model_request", {"step": 1}),
        ("model_call", {"step": 1, "text": "working", "tool_calls": [call]}),
        ("tool_call", {"tool_call_id": "c1", "tool": tool, "verdict": "allow", "arguments": {}}),
        ("tool_started", {"tool_call_id": "c1", "tool": tool}),
    )


def test_a_run_lost_during_a_model_call_resumes_by_itself_once(any_store):
    run = _lost_during(any_store, ("run_started", {}), ("model_request", {"step": 1}))
    assert recover_lapsed(any_store, by="w2") == [run.id]
    assert recover_lapsed(any_store, by="w3") == []  # one worker acts; the others see it queued
    assert storage.get_run(any_store, run_id=run.id).status == "queued"
    [recovered] = events_of(any_store, run.id, "recovered")
    assert recovered.payload["by"] == "w2" and "model call" in recovered.payload["in_flight"]
    add = {"tool_calls": [{"name": "calculator", "arguments": {"expression": "2+3"}}]}
    outcome = Driver(any_store, run, ScriptedModel([add, "it is 5"])).start().join()
    assert outcome.status == "succeeded"


def test_a_low_risk_tool_in_flight_runs_again_without_a_person(any_store):
    run = _lost_during(any_store, *_tool_in_flight("calculator", {"expression": "2+3"}))
    assert recover_lapsed(any_store, by="w2") == [run.id]
    outcome = Driver(any_store, run, ScriptedModel(["it is 5"])).start().join()
    assert outcome.status == "succeeded"
    assert not storage.decisions(any_store, run_id=run.id)  # nobody was asked
    [result] = events_of(any_store, run.id, "tool_result")
    assert result.payload["output"] == "5"


def test_a_risky_tool_that_may_have_run_goes_to_a_person(any_store):
    run = _lost_during(any_store, *_tool_in_flight("write_file", {"path": "a", "content": "x"}))
    assert recover_lapsed(any_store, by="w2") == []
    lost = storage.get_run(any_store, run_id=run.id)
    assert lost.status == "interrupted" and "write_file may have run" in lost.reason
    assert recover_lapsed(any_store, by="w3") == []  # it stays with the person
    assert not events_of(any_store, run.id, "recovered")


def test_a_tool_recorded_as_low_risk_is_repeated_e_g_a_read_only_mcp_tool(any_store):
    events = list(_tool_in_flight("mcp__docs__search", {"q": "x"}))
    events[3] = ("tool_call", {**events[3][1], "risk": "low"})  # a trusted server's readOnlyHint
    run = _lost_during(any_store, *events)
    assert recover_lapsed(any_store, by="w2") == [run.id]


def test_the_policy_file_marks_tools_safe_to_repeat(any_store):
    policy = Policy(repeat_on_recovery=["write_*"])
    run = _lost_during(
        any_store, *_tool_in_flight("write_file", {"path": "a", "content": "x"}), policy=policy
    )
    assert recover_lapsed(any_store, by="w2") == [run.id]
    calc = _lost_during(
        any_store, *_tool_in_flight("calculator", {"expression": "1"}), policy=policy
    )
    assert recover_lapsed(any_store, by="w2") == []  # the list replaces the low-risk default
    assert "calculator may have run" in storage.get_run(any_store, run_id=calc.id).reason


def test_runs_stopped_for_other_reasons_are_left_alone(any_store):
    run = new_run(any_store, "stay paused")
    storage.claim_run(any_store, run_id=run.id, worker_id="w", lease_seconds=30)
    storage.finish_session(
        any_store,
        run_id=run.id,
        worker_id="w",
        status="interrupted",
        reason="the worker stopped; resume the run to continue",
    )
    assert recover_lapsed(any_store, by="w2") == []
    assert storage.get_run(any_store, run_id=run.id).status == "interrupted"


def test_a_recovery_is_shown_by_onloop_show_and_on_the_run_page(tmp_path, monkeypatch):
    from agent_core.cli.render import render_event
    from dashboard.routes import RUN_PAGE
    from tests.support.dashboard_fixtures import add_events, app_at, make_run, open_store, plain

    payload = {"by": "host-2", "after": LEASE_LOST_REASON, "in_flight": "a model call"}
    line = render_event("recovered", payload, 7)
    assert line is not None and "resumed automatically" in line and "a model call" in line
    store = next(open_store(tmp_path, monkeypatch))
    run = make_run(store, "running")
    add_events(store, run.id, [("recovered", payload)])
    at = app_at(RUN_PAGE, query={"run": run.id})
    assert not at.exception
    shown = [plain(c.value) for c in at.caption]
    assert any("resumed automatically" in c and "host-2" in c for c in shown), shown
