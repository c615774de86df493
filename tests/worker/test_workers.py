"""Workers: racing for runs, dying mid-run (SIGKILL), leases, and resuming from stored events."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.worker.claim_loop import Worker
from tests.support.run_helpers import Driver, events_of, new_run, wait_for

ARITHMETIC = "What is 17.5% of 2,340, plus 118?"


def test_two_workers_racing_never_take_the_same_run(store):
    runs = [new_run(store, ARITHMETIC, model="demo", autonomy="autonomous") for _ in range(12)]
    workers = [Worker(store, concurrency=3, poll_s=0.05) for _ in range(2)]
    threads = [threading.Thread(target=w.serve, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        wait_for(
            lambda: storage.count_runs(store, status="succeeded") == 12,
            timeout=60,
            what="all runs to succeed",
        )
    finally:
        for w in workers:
            w.stop.set()
        for thread in threads:
            thread.join(15)
    for run in runs:
        started = events_of(store, run.id, "run_started")
        assert len(started) == 1, f"run {run.id} was started {len(started)} times"
    drivers = {e.payload["status"] for r in runs for e in events_of(store, r.id, "status")}
    assert "interrupted" not in drivers


def _worker_process(db: Path, lease: float) -> subprocess.Popen:
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0.3"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent_core",
            "worker",
            "--db",
            str(db),
            "--concurrency",
            "1",
            "--lease-seconds",
            str(lease),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_killed_worker_loses_no_event_and_its_run_resumes(tmp_path):
    db = tmp_path / "onloop.db"
    store = storage.open_store(str(db))
    run = new_run(
        store,
        "Summarise the files in the workspace into report.md",
        model="demo",
        autonomy="autonomous",
    )
    worker = _worker_process(db, lease=1.0)
    try:
        wait_for(
            lambda: len(events_of(store, run.id, "tool_result")) >= 2,
            timeout=30,
            what="the worker to make progress",
        )
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        seen = storage.events_after(store, run_id=run.id)
    finally:
        if worker.poll() is None:
            worker.kill()
    seqs = [e.seq for e in seen]
    assert seqs == list(range(1, len(seqs) + 1))  # every committed event is there, no gap
    assert storage.get_run(store, run_id=run.id).status == "running"
    wait_for(lambda: storage.expire_leases(store), timeout=10, what="the lease to lapse")
    interrupted = storage.get_run(store, run_id=run.id)
    assert interrupted.status == "interrupted" and "lease" in interrupted.reason
    after_kill = storage.events_after(store, run_id=run.id)
    assert [e.seq for e in after_kill][: len(seqs)] == seqs

    control.resume_run(store, run_id=run.id, by="test")
    outcome = Driver(store, storage.get_run(store, run_id=run.id)).start().join()
    assert outcome.status == "succeeded"
    assert (Path(run.workspace) / "report.md").exists()
    started = events_of(store, run.id, "run_started")
    assert [e.payload["resumed"] for e in started] == [False, True]
    store.dispose()


def test_resume_rebuilds_the_conversation_from_events(store):
    first = ScriptedModel(
        [
            {
                "text": "one",
                "tool_calls": [{"name": "calculator", "arguments": {"expression": "1+1"}}],
            },
            {
                "text": "two",
                "tool_calls": [{"name": "calculator", "arguments": {"expression": "2+2"}}],
            },
        ]
    )
    run = new_run(store, "count", model="scripted", max_steps=2, autonomy="autonomous")
    assert Driver(store, run, first).start().join().status == "paused"
    control.resume_run(store, run_id=run.id, by="test", extra_steps=5, message="finish up")
    second = ScriptedModel(["All done: 2 and 4."])
    outcome = Driver(store, storage.get_run(store, run_id=run.id), second).start().join()
    assert outcome.status == "succeeded"
    seen = second.calls[0]
    assert [m["role"] for m in seen] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "user",
    ]
    assert seen[3]["content"] == "2" and seen[5]["content"] == "4"
    assert seen[-1]["content"] == "Guidance from a human: finish up"
    assert storage.get_run(store, run_id=run.id).max_steps == 7


def test_a_call_that_may_have_run_goes_back_to_a_human_on_resume(store):
    """A tool_call recorded as allowed but with no result: on resume it is not silently re-run."""
    run = new_run(store, "write", model="scripted", autonomy="autonomous")
    call = {"id": "c1", "name": "write_file", "arguments": '{"path": "a.txt", "content": "x"}'}
    storage.append_event(store, run_id=run.id, kind="run_started", payload={"goal": "write"})
    storage.append_event(
        store,
        run_id=run.id,
        kind="model_call",
        payload={"step": 1, "text": "writing", "tool_calls": [call]},
    )
    storage.append_event(
        store,
        run_id=run.id,
        kind="tool_call",
        payload={
            "tool_call_id": "c1",
            "tool": "write_file",
            "verdict": "allow",
            "arguments": {"path": "a.txt", "content": "x"},
        },
    )
    storage.update_run(store, run_id=run.id, status="interrupted", reason="worker lost")
    control.resume_run(store, run_id=run.id, by="test")
    model = ScriptedModel(["ok"])
    driver = Driver(store, storage.get_run(store, run_id=run.id), model).start()
    pending = driver.pending()
    assert pending.tool_call_id == "c1" and "may or may not have taken effect" in pending.reason
    control.halt(store, run_id=run.id, by="test")
    assert driver.join().status == "halted"
    assert not (Path(run.workspace) / "a.txt").exists()


def test_a_decision_made_while_the_run_was_not_driven_is_used_on_resume(store):
    model = ScriptedModel(
        [
            {
                "tool_calls": [
                    {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
                ]
            },
        ]
    )
    run = new_run(store, "write", model="scripted")
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    driver.stop.set()  # the worker goes away while the run waits for a person
    assert driver.join().status == "interrupted"
    from agent_core.oversight.decisions import approve

    approve(store, approval_id=pending.id, by="night shift")
    control.resume_run(store, run_id=run.id, by="test")
    later = ScriptedModel(["written"])
    assert Driver(store, storage.get_run(store, run_id=run.id), later).start().join().status == (
        "succeeded"
    )
    assert len(events_of(store, run.id, "approval_requested")) == 1
    assert (Path(run.workspace) / "a.txt").read_text() == "x"


def test_a_clean_worker_stop_queues_its_runs_for_the_next_worker(store):
    model = ScriptedModel([{"text": "slow", "delay_s": 30}])
    run = new_run(store, "think", model="scripted", autonomy="autonomous")
    worker = Worker(store, concurrency=1, poll_s=0.05, model_factory=lambda r: model)
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    wait_for(lambda: storage.get_run(store, run_id=run.id).status == "running", what="running")
    worker.stop.set()
    thread.join(15)
    assert not thread.is_alive()
    assert storage.get_run(store, run_id=run.id).status == "queued"


def test_runs_waiting_for_a_person_do_not_block_queued_runs(store):
    waiting = new_run(store, "Clean up the temporary files in the workspace", model="demo")
    quick = new_run(store, ARITHMETIC, model="demo")
    worker = Worker(store, concurrency=1, poll_s=0.05)
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: storage.get_run(store, run_id=waiting.id).status == "waiting",
            what="the first run to wait for a person",
        )
        wait_for(
            lambda: storage.get_run(store, run_id=quick.id).status == "succeeded",
            what="the queued run to go ahead",
        )
    finally:
        worker.stop.set()
        thread.join(15)


def test_each_session_records_its_start_and_working_time_adds_up(store):
    first = ScriptedModel(
        [{"tool_calls": [{"name": "current_time", "arguments": {}}], "delay_s": 0.3}]
    )
    run = new_run(store, "time", model="scripted", max_steps=1, autonomy="autonomous")
    assert Driver(store, run, first).start().join().status == "paused"
    after_first = storage.get_run(store, run_id=run.id)
    assert after_first.active_seconds >= 0.3
    control.resume_run(store, run_id=run.id, by="t")
    second = ScriptedModel([{"text": "done", "delay_s": 0.3}])
    resumed = storage.get_run(store, run_id=run.id)
    assert Driver(store, resumed, second).start().join().status == "succeeded"
    final = storage.get_run(store, run_id=run.id)
    assert final.started_at > after_first.started_at  # the second session's start
    assert final.active_seconds >= after_first.active_seconds + 0.3
