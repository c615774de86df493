"""Arize Phoenix, served on 127.0.0.1, receives a supervised run's trace: its spans, attributes
and parent links read back through Phoenix's own REST API (and what Phoenix makes of them)."""

from __future__ import annotations

from urllib.error import HTTPError

import pytest

from agent_core.oversight.decisions import approve
from agent_core.telemetry import trace_export
from agent_core.telemetry import trace_names as n
from tests.support.phoenix_server import phoenix, spans
from tests.support.run_helpers import Driver, new_run, wait_for

PROJECT = "onloop-test"
WRITE = {"name": "write_file", "arguments": {"path": "notes.md", "content": "hello"}}


@pytest.fixture(scope="module")
def phoenix_url(tmp_path_factory):
    with phoenix(tmp_path_factory.mktemp("phoenix")) as url:
        yield url


@pytest.mark.timeout(400)
def test_phoenix_receives_a_supervised_runs_trace_with_its_parents(
    store, phoenix_url, fake_openai, monkeypatch
):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", phoenix_url)
    # The standard variable names the Phoenix project the spans go to.
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={PROJECT}")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-1234567890")
    fake_openai.script([{"tool_calls": [WRITE]}, "Wrote notes.md."])
    run = new_run(store, "Write notes.md", model="openai", model_name="gpt-4o-mini")
    driver = Driver(store, run).start()
    approve(store, approval_id=driver.pending().id, by="alice")
    assert driver.join().status == "succeeded"
    try:
        assert trace_export.flush(timeout_s=30)
    finally:
        trace_export.shutdown()

    # Phoenix takes spans in and writes them on its own schedule: read until all five are there.
    found = wait_for(lambda: _all_five(phoenix_url), timeout=60, what="the spans in Phoenix")
    by_name = {}
    for span in found:
        by_name.setdefault(span["name"], []).append(span)
    assert sorted(by_name) == [
        "chat gpt-4o-mini",
        "execute_tool write_file",
        "invoke_agent onloop",
        "onloop.approval",
    ]
    (root,) = by_name["invoke_agent onloop"]
    (tool,) = by_name["execute_tool write_file"]
    (approval,) = by_name["onloop.approval"]
    chats = by_name["chat gpt-4o-mini"]
    assert len(chats) == 2 and len({s["context"]["trace_id"] for s in found}) == 1
    assert root["parent_id"] is None
    assert {c["parent_id"] for c in chats} == {tool["parent_id"]} == {root["context"]["span_id"]}
    assert approval["parent_id"] == tool["context"]["span_id"]

    assert root["attributes"][n.OPERATION] == "invoke_agent"
    assert root["attributes"][n.RUN_ID] == run.id
    assert root["attributes"][n.RUN_STATUS] == "succeeded"
    for chat in chats:
        assert chat["attributes"][n.REQUEST_MODEL] == "gpt-4o-mini"
        assert chat["attributes"][n.INPUT_TOKENS] == 12
        assert chat["attributes"][n.SERVER_ADDRESS] == "127.0.0.1"
    assert tool["attributes"][n.TOOL_NAME] == "write_file"
    assert tool["attributes"][n.VERDICT] == "ask"
    assert approval["attributes"][n.DECIDED_BY] == "alice"
    assert approval["attributes"][n.DECISION] == "approved"
    # Phoenix reads the GenAI conventions itself: the session is an agent, a chat an LLM call.
    assert root["span_kind"] == "AGENT"
    assert {c["span_kind"] for c in chats} == {"LLM"}


def _all_five(url: str) -> list[dict] | None:
    try:
        found = spans(url, PROJECT)
    except HTTPError as error:  # 404: the project is made with its first span
        if error.code != 404:
            raise
        return None
    return found if len(found) >= 5 else None
