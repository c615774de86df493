"""Traces sent to a real OTLP/HTTP receiver on 127.0.0.1 (tests/support/otlp_receiver.py)."""

from __future__ import annotations

import pytest

from agent_core.telemetry import trace_export
from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture
def otlp(monkeypatch: pytest.MonkeyPatch):
    """A receiver, and this process configured to send it traces the standard way."""
    receiver = OtlpReceiver().start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    yield receiver
    trace_export.shutdown()
    receiver.stop()


def sent(receiver: OtlpReceiver) -> OtlpReceiver:
    """The receiver once this process's queued spans have gone to it."""
    assert trace_export.flush(timeout_s=20), "the spans did not reach the receiver"
    return receiver
