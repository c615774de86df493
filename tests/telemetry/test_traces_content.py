"""Content on spans only when opted in, redacted as the store is; and the canary: no API key or
configured secret in any byte sent to the collector, content opted in or not."""

from __future__ import annotations

import json

import pytest

from agent_core.oversight.policy import Policy, SandboxSettings
from agent_core.telemetry import trace_names as n
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.run_helpers import Driver, events_of, new_run
from tests.telemetry.conftest import sent

API_KEY = "sk-canary0api0key0that0must0never0leave0000"
PASSPHRASE = "canary-passphrase-of-the-billing-service-77"  # named by the policy, no KEY in it
HEADER = "canary-collector-token-5150"  # the collector's own credential, sent as a header


def _secret_run(store, fake_openai, monkeypatch) -> str:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("BILLING_WORDS", PASSPHRASE)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer {HEADER}")
    leak = f"key {API_KEY} and words {PASSPHRASE}"
    write = {"name": "write_file", "arguments": {"path": "leak.txt", "content": leak}}
    read = {"name": "read_file", "arguments": {"path": "leak.txt"}}
    fake_openai.script(
        [
            {"text": f"I will write {leak}", "tool_calls": [write]},
            {"tool_calls": [read]},
            f"Done: {leak}",
        ]
    )
    policy = Policy(sandbox=SandboxSettings(secret_env=["BILLING_WORDS"]))
    run = new_run(store, f"Save {PASSPHRASE}", model="openai", autonomy="autonomous", policy=policy)
    assert Driver(store, run).start().join().status == "succeeded"
    return run.id


@pytest.mark.parametrize("capture", ["true", "false"])
def test_no_api_key_or_configured_secret_in_any_exported_byte(
    store, otlp: OtlpReceiver, fake_openai, monkeypatch, capture
):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", capture)
    run_id = _secret_run(store, fake_openai, monkeypatch)
    sent(otlp)
    assert len(otlp.named("execute_tool")) == 2  # the run was traced
    wire = b"".join(otlp.bodies)
    for secret in (API_KEY, PASSPHRASE, HEADER):
        assert secret.encode() not in wire
    stored = json.dumps([e.payload for e in events_of(store, run_id, "tool_result")])
    assert PASSPHRASE not in stored  # the store has it redacted too: the same redactor


def test_content_goes_only_when_opted_in_and_redacted_as_the_store_has_it(
    store, otlp: OtlpReceiver, fake_openai, monkeypatch
):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    run_id = _secret_run(store, fake_openai, monkeypatch)
    sent(otlp)
    root = otlp.named("invoke_agent")[0]
    goal = json.loads(root.attributes[n.INPUT_MESSAGES])
    assert goal[0]["role"] == "user"
    assert goal[0]["parts"][0]["content"] == "Save [redacted BILLING_WORDS]"
    final = json.loads(root.attributes[n.OUTPUT_MESSAGES])[0]["parts"][0]["content"]
    assert final.startswith("Done: key [redacted")
    first = sorted(otlp.named("chat"), key=lambda s: s.start_ns)[0]
    reply = json.loads(first.attributes[n.OUTPUT_MESSAGES])[0]
    assert [part["type"] for part in reply["parts"]] == ["text", "tool_call"]
    assert reply["parts"][1]["name"] == "write_file"
    write, read = sorted(otlp.named("execute_tool"), key=lambda s: s.start_ns)
    arguments = json.loads(write.attributes[n.TOOL_ARGUMENTS])
    stored = events_of(store, run_id, "tool_call")[0].payload["arguments"]
    assert arguments == stored and "[redacted BILLING_WORDS]" in arguments["content"]
    output = events_of(store, run_id, "tool_result")[1].payload["output"]
    assert read.attributes[n.TOOL_RESULT] == output and "[redacted BILLING_WORDS]" in output
