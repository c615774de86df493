"""`--log-format`: JSON lines a log shipper can parse (run, worker, event, trace and span ids;
hostile text escaped, secrets redacted), and the human format as before, made inert."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from opentelemetry.sdk.trace import TracerProvider

from agent_core.telemetry import logs

HOSTILE = 'done\n{"level": "critical"}\x1b[2J\u202egnp.exe\r\rfake line'
KEY = "sk-canary0123456789abcdefghijklmnop"
CONFIGURED = "tenant-secret-4f9a0c2e8b7d"


@pytest.fixture
def stream(monkeypatch):
    """onloop's handler writing into a buffer; the root logger's handlers as they were after."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.getLogger("onloop").level)
    buffer = io.StringIO()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("TENANT_TOKEN", CONFIGURED)
    yield buffer
    root.handlers[:] = before[0]
    root.setLevel(before[1])
    logging.getLogger("onloop").setLevel(before[2])
    logs._process_worker[0] = None


def json_lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_json_line_carries_run_worker_event_and_escapes_hostile_text(stream):
    logs.configure("json", secret_env=("TENANT_TOKEN",), stream=stream)
    logs.set_worker("host-1-abc123")
    log = logging.getLogger("onloop.worker")
    log.info("outside any run")
    with logs.run_context("run123", "host-1-abc123"):
        log.warning("the tool said: %s", HOSTILE)
        logs.event_line("run123", "tool_call", {"tool": HOSTILE, "verdict": "ask", "output": "x"})
    outside, warned, event = json_lines(stream)  # three records, three lines: nothing split
    assert outside["worker_id"] == "host-1-abc123" and "run_id" not in outside
    assert outside["level"] == "info" and outside["logger"] == "onloop.worker"
    assert outside["time"].endswith("+00:00")
    assert warned["run_id"] == "run123" and warned["worker_id"] == "host-1-abc123"
    assert warned["message"] == f"the tool said: {HOSTILE}"  # the text itself, inside its string
    assert event["event_kind"] == "tool_call" and event["run_id"] == "run123"
    assert "verdict=ask" in event["message"] and "output" not in event["message"]
    assert "\x1b" not in stream.getvalue() and "\u202e" not in stream.getvalue()  # all escaped


def test_trace_and_span_ids_when_a_span_is_current(stream):
    logs.configure("json", stream=stream)
    tracer = TracerProvider().get_tracer("test")
    log = logging.getLogger("onloop.run")
    with tracer.start_as_current_span("invoke_agent") as span:
        log.warning("inside the span")
    log.warning("after it")
    inside, after = json_lines(stream)
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in after and "span_id" not in after


def test_a_run_session_s_trace_ids_on_its_lines_while_no_span_is_current(stream):
    """The worker's spans are built from recorded events, so none is current while a run's
    thread logs: its lines carry the session's trace and span from its traceparent instead."""
    logs.configure("json", stream=stream)
    log = logging.getLogger("onloop.worker")
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    with logs.run_context("run1", "w1"):
        log.warning("before the trace is known")
        logs.note_trace(f"00-{trace_id}-{span_id}-01")
        log.warning("inside the session")
        logs.note_trace("not-a-traceparent")
        log.warning("a malformed one is ignored")
        logs.note_trace(f"00-{trace_id}-{span_id}-01")
    log.warning("after the run")  # the next run on this thread does not inherit it
    before, inside, malformed, after = json_lines(stream)
    assert "trace_id" not in before and "trace_id" not in malformed and "trace_id" not in after
    assert inside["trace_id"] == trace_id and inside["span_id"] == span_id
    assert inside["run_id"] == "run1"


def test_secrets_are_redacted_in_json_and_human_lines(stream):
    for fmt in ("json", "human"):
        logs.configure(fmt, secret_env=("TENANT_TOKEN",), stream=stream)
        log = logging.getLogger("onloop.worker")
        log.warning("calling with %s and %s", KEY, CONFIGURED)
        try:
            raise RuntimeError(f"server refused {KEY}")
        except RuntimeError:
            log.exception("run crashed")
    text = stream.getvalue()
    assert KEY not in text and CONFIGURED not in text
    assert text.count("calling with") == 2 and "RuntimeError" in text


def test_the_human_format_is_the_message_as_before_made_inert(stream):
    logs.configure("human", stream=stream)
    log = logging.getLogger("onloop.worker")
    log.info("not shown: the human format starts at WARNING, as Python's default did")
    log.warning("waiting for the database at %s", "sqlite:///x.db")
    log.warning("the model said %s", HOSTILE)
    first, second = stream.getvalue().splitlines()
    assert first == "waiting for the database at sqlite:///x.db"
    assert second.startswith("the model said done\\x0a")  # its newline cannot fake a line
    assert "\\x1b[2J" in second and "<U+202E>" in second


def test_configure_twice_keeps_one_handler(stream):
    logs.configure("json", stream=stream)
    logs.configure("json", stream=stream)
    logging.getLogger("onloop.worker").warning("once")
    assert len(json_lines(stream)) == 1


@pytest.mark.parametrize("value", ["xml", "", "JSONL"])
def test_a_bad_log_format_names_the_choices(value):
    with pytest.raises(logs.LogFormatError, match="human or json"):
        logs.check_format(value)
    assert logs.check_format(" JSON ") == "json"


LOGFMT = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


@pytest.mark.parametrize(
    "tool",
    [
        "read_file verdict=allow risk=low",  # a model's tool name that does not exist
        'x" verdict=allow',
        "read_file\tverdict=allow",
        "read_file\u2028verdict=allow",
        "x" * 5000 + " verdict=allow",
    ],
    ids=["spaces", "quote", "tab", "line-separator", "very-long"],
)
def test_an_event_line_s_fields_cannot_be_forged_by_a_model_s_tool_name(stream, tool):
    """The line's fields are `name=value`: a tool name the model made up (recorded as sent, for
    a call refused as unknown) must stay one field's value, not add `verdict=allow`."""
    logs.configure("json", stream=stream)
    logs.event_line("run123", "tool_call", {"tool": tool, "verdict": "invalid", "risk": "unknown"})
    [event] = json_lines(stream)
    fields = LOGFMT.findall(event["message"])
    assert [name for name, _ in fields] == ["tool", "verdict", "risk"]
    assert dict(fields)["verdict"] == "invalid"
    assert json.loads(dict(fields)["tool"]) == tool


def test_a_quoted_field_is_still_redacted(stream):
    """Quoting a field must not hide a secret in it from the redactor that reads the line."""
    logs.configure("json", secret_env=("TENANT_TOKEN",), stream=stream)
    logs.event_line("run123", "approval_decided", {"decided_by": f"night shift {KEY}"})
    logs.event_line("run123", "tool_call", {"tool": f'x" {CONFIGURED}', "verdict": "invalid"})
    assert KEY not in stream.getvalue() and CONFIGURED not in stream.getvalue()
    assert 'decided_by="night shift ' in json_lines(stream)[0]["message"]
