"""A dead collector and a 5 s-slow one change no run's outcome: real sockets on 127.0.0.1, and
the same run untraced as the measure (its outcome and the kinds of its events)."""

from __future__ import annotations

import socket

import pytest

from agent_core.oversight.decisions import approve
from agent_core.telemetry import trace_export
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.run_helpers import Driver, kinds, new_run, wait_for

REPORT = "Summarise the files in the workspace into report.md"


def _supervised_run(store, while_waiting=lambda: None) -> tuple[str, list[str]]:
    run = new_run(store, REPORT, model="demo")
    driver = Driver(store, run).start()
    pending = driver.pending()
    while_waiting()
    approve(store, approval_id=pending.id, by="alice")
    outcome = driver.join()
    return outcome.status, kinds(store, run.id)


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def frequent_exports(monkeypatch):
    """Batches go every 10 ms, so the collector is met while the run is still going."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
    yield
    trace_export.shutdown(timeout_s=0.5)


def test_a_dead_collector_changes_no_runs_outcome(store, monkeypatch, frequent_exports, caplog):
    untraced = _supervised_run(store)
    assert untraced[0] == "succeeded"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    traced = _supervised_run(store)
    assert traced == untraced
    # The exporter met the dead collector (refused) on its own thread; the run never saw it.
    wait_for(lambda: _refused(caplog), what="the exporter's failed attempt")


def _refused(caplog) -> bool:
    return any(
        r.name.startswith("opentelemetry.exporter") and "Connection refused" in r.getMessage()
        for r in caplog.records
    )


def test_a_collector_five_seconds_slow_changes_no_runs_outcome(
    store, monkeypatch, frequent_exports
):
    untraced = _supervised_run(store)
    slow = OtlpReceiver(delay_s=5.0).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", slow.endpoint)
    try:
        # The collector holds the first batch (the first model call's span) while a person
        # decides and the run goes on to its end.
        traced = _supervised_run(store, lambda: wait_for(lambda: slow.waiting, what="an export"))
        assert traced == untraced
    finally:
        slow.stop()
