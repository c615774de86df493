"""A real worker with traces on and --log-format json: the lines it logs while driving a run carry
that run's trace id (and its session span's id), so a log line leads to the trace and back."""

from __future__ import annotations

import storage
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.run_helpers import new_run, wait_for
from tests.support.telemetry_helpers import WorkerProcess

ARITHMETIC = "What is 17.5% of 2,340, plus 118?"  # the demo answers it with no approval


def _all_succeeded(store: storage.Store, runs: list) -> bool:
    return all(storage.get_run(store, run_id=r.id).status == "succeeded" for r in runs)


def test_a_traced_worker_s_run_lines_carry_the_run_s_trace_and_session_span(tmp_path):
    receiver = OtlpReceiver().start()
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    store = storage.open_store(url)
    try:
        runs = [new_run(store, ARITHMETIC, model="demo", autonomy="autonomous") for _ in range(2)]
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        worker = WorkerProcess(url, tmp_path, "--concurrency", "1", env=env)
        try:
            wait_for(lambda: _all_succeeded(store, runs), 90, "both runs to succeed")
        finally:
            assert worker.stop() == 0  # a clean stop flushes the spans
        roots = {s.attributes["onloop.run.id"]: s for s in receiver.named("invoke_agent")}
        assert set(roots) == {r.id for r in runs}
        # Every event of a run is logged once its session's trace began (run_started on).
        lines = [line for line in worker.lines() if "event_kind" in line]
        assert {line["run_id"] for line in lines} == set(roots)
        assert {line["event_kind"] for line in lines} >= {
            "run_started",
            "model_call",
            "final_answer",
        }
        for line in lines:
            root = roots[line["run_id"]]
            assert line.get("trace_id") == root.trace_id, line
            assert line.get("span_id") == root.span_id, line
        outside = [line for line in worker.lines() if "run_id" not in line]
        assert outside and all("trace_id" not in line for line in outside)  # no run, no trace
    finally:
        store.dispose()
        receiver.stop()
