"""Helpers for the halt attacks: what "nothing started after the halt" means, read from the
store's event order, and workers to race against."""

from __future__ import annotations

import threading

import storage
from agent_core.oversight import control
from agent_core.worker.claim_loop import Worker
from tests.support.run_helpers import wait_for

STARTS = ("run_started", "model_request", "tool_started")  # each begins work
# Never after a halt either: a model answer that arrives after it is dropped (its cost kept).
LATE = (*STARTS, "model_call", "final_answer")
RAN = ("ok", "error")  # tool_result outcomes of a tool that really ran
SETTLED = ("succeeded", "unmet", "failed", "halted", "paused", "interrupted")
CALC = {"name": "calculator", "arguments": {"expression": "6*7"}}


def halt_seq(store: storage.Store, run_id: str) -> int | None:
    """Seq of the first event that records a halt (a halt command, or the halted status)."""
    for event in storage.events_after(store, run_id=run_id):
        if event.kind == "halt_requested":
            return event.seq
        if event.kind == "status" and event.payload.get("status") == "halted":
            return event.seq
    return None


def assert_nothing_started_after_the_halt(store: storage.Store, run_id: str) -> int:
    """The attack's verdict for one halted run; returns the halt's seq."""
    halted_at = halt_seq(store, run_id)
    assert halted_at is not None, f"run {run_id}: no halt recorded"
    events = storage.events_after(store, run_id=run_id)
    late = [(e.seq, e.kind) for e in events if e.seq > halted_at and e.kind in LATE]
    assert late == [], f"run {run_id}: work began after the halt at #{halted_at}: {late}"
    ran = [e for e in events if e.kind == "tool_result" and e.payload.get("outcome") in RAN]
    started = sum(1 for e in events if e.kind == "tool_started")
    assert len(ran) <= started
    # Every tool that started has its result on record (held ones too: never dropped by a halt).
    results = sum(1 for e in events if e.kind == "tool_result")
    assert results >= started, f"run {run_id}: {started} tools started, {results} results"
    run = storage.get_run(store, run_id=run_id)
    assert run.status == "halted", f"run {run_id} ended {run.status} after a halt"
    assert run.worker_id is None and run.finished_at is not None
    return halted_at


def try_halt(store: storage.Store, run_id: str, by: str = "racer") -> bool:
    """Halt the run; False when it had already ended by itself (nothing to assert then)."""
    try:
        control.halt(store, run_id=run_id, by=by)
    except control.ControlError:
        return False
    return True


def count(store: storage.Store, run_id: str, kind: str) -> int:
    return sum(1 for e in storage.events_after(store, run_id=run_id) if e.kind == kind)


def slow_script() -> list:
    """Long enough that a halt lands first; a cancelled call is not consumed."""
    return [
        {"tool_calls": [CALC], "delay_s": 0.3},
        {"tool_calls": [CALC], "delay_s": 0.3},
        "done",
    ]


def serve(workers: list[Worker]) -> list[threading.Thread]:
    threads = [threading.Thread(target=w.serve, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    return threads


def stop(workers: list[Worker], threads: list[threading.Thread]) -> None:
    for worker in workers:
        worker.stop.set()
    for thread in threads:
        thread.join(20)


def settle(store: storage.Store, run_ids: list[str], timeout: float = 60.0) -> None:
    def settled() -> bool:
        return all(storage.get_run(store, run_id=r).status in SETTLED for r in run_ids)

    wait_for(settled, timeout=timeout, what="every run to settle")
