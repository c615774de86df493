"""A supervised run with an approval, traced to a real OTLP/HTTP receiver: the wire format
(protobuf decoded by opentelemetry-proto), span names, GenAI attributes and parent links."""

from __future__ import annotations

import storage
from agent_core.oversight import control
from agent_core.oversight.decisions import approve
from agent_core.telemetry import trace_names as n
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.run_helpers import Driver, events_of, new_run
from tests.telemetry.conftest import sent

WRITE = {"name": "write_file", "arguments": {"path": "notes.md", "content": "hello"}}


def _openai(monkeypatch, fake_openai) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-1234567890")


def _one(spans: list[ReceivedSpan]) -> ReceivedSpan:
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def _approved_run(store, fake_openai, monkeypatch) -> str:
    _openai(monkeypatch, fake_openai)
    fake_openai.script([{"tool_calls": [WRITE]}, "Wrote notes.md."])
    run = new_run(store, "Write notes.md", model="openai", model_name="gpt-4o-mini")
    driver = Driver(store, run).start()
    approve(store, approval_id=driver.pending().id, by="alice")
    assert driver.join().status == "succeeded"
    return run.id


def test_a_supervised_run_is_one_trace_of_genai_spans_with_the_approval_under_its_call(
    store, otlp: OtlpReceiver, fake_openai, monkeypatch
):
    run_id = _approved_run(store, fake_openai, monkeypatch)
    spans = sent(otlp).spans
    assert {path for path, _ in otlp.requests} == {"/v1/traces"}
    assert {kind for _, kind in otlp.requests} == {"application/x-protobuf"}
    assert len({s.trace_id for s in spans}) == 1  # one trace for the run

    root = _one(otlp.named("invoke_agent"))
    assert root.name == "invoke_agent onloop" and root.parent_id == ""
    assert root.kind == "SPAN_KIND_INTERNAL" and root.scope == "onloop"
    assert root.resource["service.name"] == "onloop"
    assert root.attributes[n.OPERATION] == "invoke_agent"
    assert root.attributes[n.CONVERSATION] == run_id == root.attributes[n.RUN_ID]
    assert root.attributes[n.RUN_STATUS] == "succeeded"
    assert root.attributes[n.RUN_RESUMED] is False

    chats = otlp.named("chat")
    assert [c.name for c in chats] == ["chat gpt-4o-mini"] * 2
    for chat in chats:
        assert chat.parent_id == root.span_id and chat.kind == "SPAN_KIND_CLIENT"
        assert chat.attributes[n.OPERATION] == "chat"
        assert chat.attributes[n.PROVIDER] == "openai"
        assert chat.attributes[n.REQUEST_MODEL] == "gpt-4o-mini"
        assert chat.attributes[n.RESPONSE_MODEL] == "gpt-4o-mini"
        assert (chat.attributes[n.INPUT_TOKENS], chat.attributes[n.OUTPUT_TOKENS]) == (12, 7)
        assert chat.attributes[n.SERVER_ADDRESS] == "127.0.0.1"
        assert f":{chat.attributes[n.SERVER_PORT]}/" in fake_openai.base_url
    finish = sorted(c.attributes[n.FINISH_REASONS][0] for c in chats)
    assert finish == ["stop", "tool_calls"]

    tool = _one(otlp.named("execute_tool"))
    call = events_of(store, run_id, "tool_call")[0].payload
    assert tool.name == "execute_tool write_file" and tool.parent_id == root.span_id
    assert tool.attributes[n.OPERATION] == "execute_tool"
    assert tool.attributes[n.TOOL_NAME] == "write_file"
    assert tool.attributes[n.TOOL_CALL_ID] == call["tool_call_id"]
    assert tool.attributes[n.VERDICT] == "ask" and tool.attributes[n.RISK] == "medium"
    assert tool.attributes[n.TOOL_OUTCOME] == "ok"
    assert [name for name, _ in tool.events] == ["onloop.approval.requested"]

    approval = _one(otlp.named("onloop.approval"))
    assert approval.parent_id == tool.span_id
    assert approval.attributes[n.DECISION] == "approved"
    assert approval.attributes[n.DECIDED_BY] == "alice"
    assert approval.attributes[n.EDITED] is False
    assert approval.attributes[n.WAIT_S] >= 0
    assert tool.start_ns <= approval.start_ns <= approval.end_ns <= tool.end_ns

    # Without the opt-in, no content at all: no prompt, reply, arguments or output.
    content = {n.INPUT_MESSAGES, n.OUTPUT_MESSAGES, n.TOOL_ARGUMENTS, n.TOOL_RESULT}
    assert not [s.name for s in spans if content & set(s.attributes)]


def test_a_run_resumed_on_another_worker_continues_its_trace(
    store, otlp: OtlpReceiver, fake_openai, monkeypatch
):
    _openai(monkeypatch, fake_openai)
    fake_openai.script([{"tool_calls": [WRITE]}, "Wrote notes.md."])
    run = new_run(store, "Write notes.md", model="openai", model_name="gpt-4o-mini")
    first = Driver(store, run).start()
    pending = first.pending()
    first.stop.set()  # the worker goes away while the run waits for a person
    assert first.join().status == "interrupted"
    approve(store, approval_id=pending.id, by="bob")
    control.resume_run(store, run_id=run.id, by="bob")
    second = Driver(store, storage.get_run(store, run_id=run.id)).start()
    assert second.worker.worker_id != first.worker.worker_id
    assert second.join().status == "succeeded"

    sessions = sorted(sent(otlp).named("invoke_agent"), key=lambda s: s.start_ns)
    assert len(sessions) == 2 and len({s.trace_id for s in otlp.spans}) == 1
    assert sessions[0].parent_id == "" and sessions[1].parent_id == sessions[0].span_id
    assert sessions[0].attributes[n.RUN_STATUS] == "interrupted"
    assert sessions[1].attributes[n.RUN_RESUMED] is True
    assert sessions[0].attributes[n.WORKER_ID] != sessions[1].attributes[n.WORKER_ID]
    decided = _one(otlp.named("onloop.approval"))  # decided while no session ran
    assert decided.attributes[n.DECIDED_BY] == "bob"
    assert decided.trace_id == sessions[1].trace_id
