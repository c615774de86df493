"""The human side on the session's span: guidance, a halt, a drift trip, a rejection with an
edit; and a tool call's error status."""

from __future__ import annotations

from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.decisions import approve, reject
from agent_core.telemetry import trace_names as n
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.run_helpers import Driver, new_run
from tests.telemetry.conftest import sent


def _write(path: str) -> dict:
    return {"tool_calls": [{"name": "write_file", "arguments": {"path": path, "content": "x"}}]}


def test_guidance_a_rejection_an_edit_and_a_halt_are_on_the_trace(store, otlp: OtlpReceiver):
    model = ScriptedModel([_write("a.md"), _write("b.md"), _write("c.md"), "done"])
    run = new_run(store, "write three files", model="scripted")
    driver = Driver(store, run, model).start()
    first = driver.pending()
    control.guide(store, run_id=run.id, by="carol", message="keep them short")
    reject(store, approval_id=first.id, by="carol", note="not a.md")
    second = driver.pending(after=first.id)
    edited = {"path": "b2.md", "content": "y"}
    approve(store, approval_id=second.id, by="dan", edited_arguments=edited)
    third = driver.pending(after=second.id)
    control.halt(store, run_id=run.id, by="erin")
    assert driver.join().status == "halted"

    sent(otlp)
    root = otlp.named("invoke_agent")[0]
    events = dict(root.events)
    assert events[n.GUIDANCE][n.BY] == "carol"
    assert n.MESSAGE not in events[n.GUIDANCE]  # content stays home unless opted in
    assert events[n.HALT][n.BY] == "erin"  # who; the reason itself is content
    assert root.attributes[n.RUN_STATUS] == "halted" and root.status == "STATUS_CODE_UNSET"
    decisions = {
        s.attributes[n.APPROVAL_ID]: s.attributes for s in otlp.named(n.APPROVAL)
    }  # the third was cancelled by the halt
    assert decisions[first.id][n.DECISION] == "rejected"
    assert decisions[second.id][n.DECISION] == "approved"
    assert decisions[second.id][n.EDITED] is True
    assert decisions[third.id][n.DECISION] == "cancelled"
    outcomes = sorted(s.attributes[n.TOOL_OUTCOME] for s in otlp.named("execute_tool"))
    assert outcomes == ["halted", "ok", "rejected"]


def test_a_drift_trip_and_a_failing_tool_are_on_the_trace(store, otlp: OtlpReceiver):
    same = {"tool_calls": [{"name": "read_file", "arguments": {"path": "missing.md"}}]}
    run = new_run(store, "read it", model="scripted", autonomy="autonomous")
    assert Driver(store, run, ScriptedModel([same] * 6)).start().join().status == "paused"

    sent(otlp)
    root = otlp.named("invoke_agent")[0]
    (drift,) = [attributes for name, attributes in root.events if name == n.DRIFT]
    assert drift[n.DRIFT_ACTION] == "pause" and drift[n.DRIFT_MONITOR]
    assert n.DRIFT_DETAIL not in drift
    assert root.attributes[n.RUN_STATUS] == "paused" and n.PAUSE in dict(root.events)
    failed = otlp.named("execute_tool read_file")[0]
    assert failed.attributes[n.TOOL_OUTCOME] == "error" and failed.status == "STATUS_CODE_ERROR"
    assert failed.attributes[n.ERROR_TYPE] == "error"
