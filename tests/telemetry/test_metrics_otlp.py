"""OTel metrics over OTLP/HTTP: a receiver on 127.0.0.1 decodes what a real worker sends with
opentelemetry-proto's ExportMetricsServiceRequest; a dead endpoint changes no run's outcome."""

from __future__ import annotations

import socket

import storage
from tests.support.run_helpers import new_run, wait_for
from tests.support.telemetry_helpers import OtlpReceiver, WorkerProcess

ARITHMETIC = "What is 17.5% of 2,340, plus 118?"
FAST_EXPORT = {"OTEL_METRIC_EXPORT_INTERVAL": "200", "OTEL_SERVICE_NAME": "onloop-test"}


def test_a_worker_sends_the_same_instruments_over_otlp_http(tmp_path):
    receiver = OtlpReceiver()
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    store = storage.open_store(url)
    run = new_run(store, ARITHMETIC, model="demo", autonomy="autonomous")
    env = {**FAST_EXPORT, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
    worker = WorkerProcess(url, tmp_path, env=env)
    try:
        wait_for(lambda: storage.get_run(store, run_id=run.id).status == "succeeded", 90, "run")
        done = storage.get_run(store, run_id=run.id)

        def sent_all() -> bool:
            calls = receiver.latest("onloop_model_call_seconds", model="demo")
            runs = receiver.latest("onloop_runs", status="succeeded")
            return bool(calls and calls.count == done.steps and runs and runs.as_int == 1)

        wait_for(sent_all, 90, "the run's metrics at the receiver")
    finally:
        assert worker.stop() == 0
        receiver.close()
    paths = {(path, kind) for path, kind, _ in receiver.requests}
    assert paths == {("/v1/metrics", "application/x-protobuf")}  # OTLP/HTTP, binary protobuf
    tokens_in = receiver.latest("onloop_model_tokens", model="demo", direction="input")
    assert tokens_in.as_int == done.tokens_in  # cumulative: the last point is the total
    assert receiver.latest("onloop_runs_driven").as_int == 1
    assert receiver.latest("onloop_tool_calls", verdict="allow").as_int == done.tool_calls
    assert receiver.latest("onloop_queue_depth").as_double == 0
    resources = {
        a.key: a.value.string_value
        for *_, resource in receiver.points()
        for a in resource.attributes
    }
    assert resources["service.name"] == "onloop-test"


def _dead_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_dead_otlp_endpoint_changes_no_runs_outcome(tmp_path):
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    store = storage.open_store(url)
    runs = [new_run(store, ARITHMETIC, model="demo", autonomy="autonomous") for _ in range(3)]
    env = {**FAST_EXPORT, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_dead_port()}"}
    worker = WorkerProcess(url, tmp_path, "--metrics-port", "0", env=env)
    try:
        wait_for(
            lambda: all(storage.get_run(store, run_id=r.id).status == "succeeded" for r in runs),
            120,
            "every run to succeed",
        )
        scraped = worker.scrape()  # the Prometheus side goes on as before
    finally:
        assert worker.stop() == 0  # the stop waits a bounded time for the dead collector
    assert all(storage.get_run(store, run_id=r.id).result for r in runs)
    assert scraped[("onloop_runs_driven_total", (("worker", worker.lines()[0]["worker_id"]),))] == 3
