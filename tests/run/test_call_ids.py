"""onloop's own call ids and the crash-recovery pairing of calls with their events."""

from __future__ import annotations

from types import SimpleNamespace

from agent_core.models.base import ModelTurn, ToolCallRequest
from agent_core.run.call_ids import CallIds
from agent_core.run.unfinished_calls import unfinished_calls


def turn(*model_ids: str) -> ModelTurn:
    calls = tuple(ToolCallRequest(i, "calculator", '{"expression": "1"}') for i in model_ids)
    return ModelTurn("", calls, 0, 0, 0.0, "m", 0.0)


def event(seq: int, kind: str, **payload) -> SimpleNamespace:
    return SimpleNamespace(seq=seq, kind=kind, payload=payload)


def test_every_call_of_a_run_gets_its_own_nine_character_id_whatever_the_model_sent():
    ids = CallIds()
    first, record = ids.number(turn("call_0", "call_0"))
    second, _ = ids.number(turn("call_0", ""))
    ours = [c.id for c in first.tool_calls + second.tool_calls]
    assert ours == ["ol0000001", "ol0000002", "ol0000003", "ol0000004"]
    assert all(len(i) == 9 and i.isalnum() for i in ours)
    assert [r["model_id"] for r in record] == ["call_0", "call_0"]
    assert [r["id"] for r in record] == ours[:2]


def test_a_resumed_run_goes_on_after_the_ids_its_events_used():
    prior = [
        event(1, "model_call", tool_calls=[{"id": "ol0000001"}, {"id": "ol0000003"}]),
        event(2, "model_call", tool_calls=[{"id": "call_0"}]),  # a legacy event: a model id
    ]
    numbered, _ = CallIds(prior).number(turn("x", "y"))
    assert [c.id for c in numbered.tool_calls] == ["ol0000004", "ol0000005"]


def test_recovery_pairs_calls_with_their_events_by_order_not_by_id():
    calls = [{"id": "c1", "name": "t", "arguments": "{}"}] * 3  # one id, three calls
    approvals = {5: SimpleNamespace(consumed_at="then", status="approved")}
    events = [
        event(1, "model_call", text="go", tool_calls=calls),
        event(2, "tool_call", tool_call_id="c1", verdict="allow"),
        event(3, "tool_result", tool_call_id="c1"),
        event(4, "tool_call", tool_call_id="c1", verdict="ask"),
        event(5, "approval_requested", tool_call_id="c1", approval_id=9),
        event(6, "approval_decided", tool_call_id="c1", decision="approved"),
    ]
    second, third = unfinished_calls(events, approvals)
    assert (second.recorded, second.may_have_run, second.approval) == (True, True, approvals[5])
    assert (third.recorded, third.may_have_run, third.approval) == (False, False, None)
    assert second.text == "go"
