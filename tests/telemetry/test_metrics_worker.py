"""A real `onloop worker` with --metrics-port and --log-format json: a supervised run with an
approval is driven through it, the endpoint is scraped over HTTP and read with prometheus_client's
text parser, and every log line is parsed with json.loads. With --processes 2, the counts of both
processes are summed by the supervisor's one endpoint."""

from __future__ import annotations

import socket
from collections import Counter

import storage
from agent_core.oversight.decisions import approve
from tests.support.run_helpers import new_run, wait_for
from tests.support.telemetry_helpers import WorkerProcess, total

SUMMARY = "Summarise the files in the workspace into report.md"  # the demo asks to write it
ARITHMETIC = "What is 17.5% of 2,340, plus 118?"  # the demo answers it with no approval


def _status(store: storage.Store, run_id: str) -> str:
    return storage.get_run(store, run_id=run_id).status


def test_a_supervised_run_through_a_worker_is_scraped_and_logged(tmp_path):
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    store = storage.open_store(url)
    run = new_run(store, SUMMARY, model="demo")
    worker = WorkerProcess(url, tmp_path, "--metrics-port", "0")
    try:
        assert worker.endpoint().startswith("http://127.0.0.1:")  # loopback unless asked
        pending = wait_for(lambda: storage.pending_approvals(store, run_id=run.id), 90, "ask")
        waiting = worker.scrape()  # the store's gauges, read at this scrape
        assert total(waiting, "onloop_pending_approvals") == 1
        assert total(waiting, "onloop_runs", status="waiting") == 1
        assert total(waiting, "onloop_queue_depth") == 0
        approve(store, approval_id=pending[0].id, by="night shift")
        wait_for(lambda: _status(store, run.id) == "succeeded", 90, "the run to succeed")
        found = worker.scrape()
    finally:
        assert worker.stop() == 0
    done = storage.get_run(store, run_id=run.id)
    lines = worker.lines()  # every stderr line is one JSON object
    (worker_id,) = {line["worker_id"] for line in lines}  # every line names its worker
    assert total(found, "onloop_runs", status="succeeded") == 1
    assert total(found, "onloop_pending_approvals") == 0
    assert total(found, "onloop_runs_driven_total", worker=worker_id) == 1
    assert total(found, "onloop_approval_decision_seconds_count", decision="approved") == 1
    assert total(found, "onloop_tool_calls_total", verdict="ask", **{"class": "write"}) == 1
    assert total(found, "onloop_model_call_seconds_count", model="demo") == done.steps
    assert total(found, "onloop_model_tokens_total", direction="input") == done.tokens_in
    assert total(found, "onloop_model_tokens_total", direction="output") == done.tokens_out
    assert total(found, "onloop_lost_leases_total") == 0

    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    events = [line for line in lines if "event_kind" in line]
    assert {line["run_id"] for line in events} == {run.id}
    kinds = Counter(line["event_kind"] for line in events)
    assert kinds["approval_requested"] == kinds["approval_decided"] == 1
    assert kinds["model_call"] == done.steps
    recorded = Counter(e.kind for e in storage.events_after(store, run_id=run.id))
    assert kinds["tool_call"] == recorded["tool_call"]
    decided = next(line for line in events if line["event_kind"] == "approval_decided")
    assert "decision=approved" in decided["message"] and "night shift" in decided["message"]


def test_two_processes_are_summed_by_the_supervisors_endpoint(tmp_path):
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    store = storage.open_store(url)
    args = ("--processes", "2", "--concurrency", "1", "--metrics-port", "0")
    env = {"ONLOOP_DEMO_DELAY": "0.2", "TMPDIR": str(tmp_path)}  # the private folder: here
    pool = WorkerProcess(url, tmp_path, *args, env=env)
    try:
        pool.endpoint()
        wait_for(lambda: pool.messages().count(": driving up to") >= 2, 90, "both processes")
        # Both are up before the runs come, and each drives one at a time: each takes some.
        runs = [new_run(store, ARITHMETIC, model="demo", autonomy="autonomous") for _ in range(4)]
        wait_for(lambda: all(_status(store, r.id) == "succeeded" for r in runs), 120, "four runs")
        found = pool.scrape()
        (folder,) = tmp_path.glob("onloop-metrics-*")  # the children's files, one folder
        assert folder.stat().st_mode & 0o777 == 0o700 and list(folder.glob("*.db"))
    finally:
        assert pool.stop() == 0
    done = [storage.get_run(store, run_id=r.id) for r in runs]
    started = [line for line in pool.lines() if line.get("event_kind") == "run_started"]
    assert sorted(line["run_id"] for line in started) == sorted(r.id for r in runs)
    by_worker = Counter(line["worker_id"] for line in started)  # who drove each, from the logs
    assert len(by_worker) == 2, by_worker  # two processes drove them
    for worker_id, count in by_worker.items():
        assert total(found, "onloop_runs_driven_total", worker=worker_id) == count
    assert total(found, "onloop_runs_driven_total") == 4
    steps = sum(r.steps for r in done)
    assert total(found, "onloop_model_call_seconds_count") == steps  # both processes' calls
    assert total(found, "onloop_model_tokens_total") == sum(
        r.tokens_in + r.tokens_out for r in done
    )
    assert total(found, "onloop_runs", status="succeeded") == 4  # read once, not once per child
    assert not list(tmp_path.glob("onloop-metrics-*"))  # removed as the supervisor stopped


def test_onloop_up_serves_metrics_and_json_logs_for_its_worker(tmp_path):
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    store = storage.open_store(url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ("--port", str(port), "--metrics-port", "0", "--processes", "2")
    up = WorkerProcess(url, tmp_path, *args, command="up")
    try:
        up.endpoint()
        run = new_run(store, ARITHMETIC, model="demo", autonomy="autonomous")
        wait_for(lambda: _status(store, run.id) == "succeeded", 120, "the run to succeed")
        found = up.scrape()
    finally:
        assert up.stop() == 0
    assert total(found, "onloop_runs_driven_total") == 1
    assert total(found, "onloop_runs", status="succeeded") == 1
    lines = up.lines()
    assert any(line["message"].startswith("onloop is up") for line in lines)
    assert [line["run_id"] for line in lines if line.get("event_kind") == "run_started"] == [run.id]
