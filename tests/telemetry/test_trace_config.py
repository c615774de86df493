"""Traces are off unless configured the standard way; what cannot be sent is said in one line
naming the fix; a process without an endpoint never loads OpenTelemetry."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from agent_core.telemetry import trace_config as trace_config_module
from agent_core.telemetry.trace_config import trace_config
from agent_core.telemetry.traces import NO_TRACE, session_trace
from tests.support.run_helpers import Driver, events_of, new_run

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


def test_off_unless_an_endpoint_is_set_and_on_with_either_standard_variable():
    assert trace_config({}) is None
    assert trace_config({"OTEL_SERVICE_NAME": "agents"}) is None
    on = trace_config(ENDPOINT)
    assert on is not None and on.endpoint == "http://127.0.0.1:4318" and not on.capture_content
    only_traces = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:6006/v1/traces"}
    assert trace_config(only_traces).endpoint == "http://127.0.0.1:6006/v1/traces"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "off", [{"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}], ids=["sdk", "none"]
)
def test_the_standard_switches_turn_traces_off(off):
    assert trace_config({**ENDPOINT, **off}) is None


def test_content_capture_is_the_genai_opt_in_and_settings_make_a_new_exporter():
    on = trace_config({**ENDPOINT, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "True"})
    assert on is not None and on.capture_content
    named = trace_config({**ENDPOINT, "OTEL_SERVICE_NAME": "agents"})
    assert named is not None and named.settings != trace_config(ENDPOINT).settings  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("setting", "fix"),
    [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "set it to http/protobuf"),
        ({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, "set it to http/protobuf"),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "set it to otlp"),
    ],
)
def test_what_onloop_cannot_send_is_said_once_with_the_fix_and_traces_stay_off(
    setting, fix, caplog, monkeypatch
):
    monkeypatch.setattr(trace_config_module, "_said", set())
    with caplog.at_level(logging.WARNING, logger="onloop.telemetry"):
        assert trace_config({**ENDPOINT, **setting}) is None
        assert trace_config({**ENDPOINT, **setting}) is None
    said = [r.getMessage() for r in caplog.records if r.name == "onloop.telemetry"]
    assert len(said) == 1 and all(fix in line and "Traces are off" in line for line in said)
    assert all(not r.exc_info for r in caplog.records)


def test_an_untraced_run_records_no_trace(store):
    assert session_trace(None, [], None, None, resumed=False) is NO_TRACE  # type: ignore[arg-type]
    run = new_run(store, "What is 17.5% of 2,340, plus 118?", model="demo", autonomy="autonomous")
    assert Driver(store, run).start().join().status == "succeeded"
    assert "trace" not in events_of(store, run.id, "run_started")[0].payload


def test_a_worker_without_an_endpoint_never_loads_opentelemetry():
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, agent_core.worker.claim_loop, agent_core.cli.app; "
            "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
