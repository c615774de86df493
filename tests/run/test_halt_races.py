"""Halts that always hold, attacked: halts racing claims (worker threads, a real worker process,
SQLite and PostgreSQL), halts at points of progress against the real local Chat Completions
server under load, halts racing approvals and resumes. Every case asserts, by the order of events
in the store (never by durations), that nothing starts after the halt (no run_started, model
request or tool start; no model answer recorded) and that every halted run ends `halted`.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import storage
from agent_core.models.openai_model import OpenAIModel
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.decisions import DecisionError, approve
from agent_core.worker.claim_loop import Worker
from tests.support.fake_openai import Reply
from tests.support.halt_helpers import (
    assert_nothing_started_after_the_halt,
    count,
    halt_seq,
    serve,
    settle,
    slow_script,
    stop,
    try_halt,
)
from tests.support.run_helpers import new_run, wait_for

# ---------------------------------------------------------------- (a) halt vs claim


def halt_while_workers_claim(store: storage.Store, iterations: int) -> dict[str, int]:
    """Workers poll hard; each run is halted a random moment after it is queued."""
    rng = random.Random(7)
    factory = lambda run: ScriptedModel(slow_script())  # noqa: E731
    workers = [Worker(store, concurrency=2, poll_s=0.002, model_factory=factory) for _ in range(3)]
    threads = serve(workers)
    seen: dict[str, int] = {"queued": 0, "running": 0, "finished first": 0}
    halted: list[str] = []
    try:
        for _ in range(iterations):
            run = new_run(store, "race the claim", model="scripted", autonomy="autonomous")
            threading.Event().wait(rng.random() * 0.01)  # jitter: land before or after a claim
            if not try_halt(store, run.id):  # it finished before the halt: nothing to assert
                seen["finished first"] += 1
                continue
            halted.append(run.id)
            first = halt_seq(store, run.id)
            kind = next(
                e.kind for e in storage.events_after(store, run_id=run.id) if e.seq == first
            )
            seen["queued" if kind == "status" else "running"] += 1
        settle(store, halted)
    finally:
        stop(workers, threads)
    for run_id in halted:
        assert_nothing_started_after_the_halt(store, run_id)
    assert halted, "no halt landed at all"
    return seen


def test_a_halt_racing_worker_threads_for_a_queued_run_always_holds(any_store):
    seen = halt_while_workers_claim(any_store, iterations=30 if any_store.is_sqlite else 20)
    assert seen["queued"] + seen["running"] >= 1


def _worker_process(db: Path) -> subprocess.Popen:
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0.05"}
    command = [sys.executable, "-m", "agent_core", "worker", "--db", str(db), "--concurrency", "2"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_halt_racing_a_real_worker_process_always_holds(tmp_path, monkeypatch):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    db = tmp_path / "onloop.db"
    store = storage.open_store(str(db))
    goal = "What is 17.5% of 2,340, plus 118?"
    warm = new_run(store, goal, model="demo", autonomy="autonomous")
    worker = _worker_process(db)
    rng = random.Random(11)
    halted: list[str] = []
    try:
        wait_for(
            lambda: storage.get_run(store, run_id=warm.id).status == "succeeded",
            timeout=60,
            what="the worker process to be up",
        )
        for _ in range(12):
            run = new_run(store, goal, model="demo", autonomy="autonomous")
            threading.Event().wait(rng.random() * 0.6)  # the worker polls every 0.5 s
            if try_halt(store, run.id):  # else it succeeded first
                halted.append(run.id)
        settle(store, halted)
    finally:
        worker.terminate()
        worker.wait(20)
    for run_id in halted:
        assert_nothing_started_after_the_halt(store, run_id)
    assert halted
    store.dispose()


# ---------------------------------------------------------------- (b) halts at random moments


class ServerWitness:
    """Wraps the fake server's intake: for every request it notes, at arrival, how many of its
    run's model requests the store had recorded. A request with no recorded start is an escape."""

    def __init__(self, fake, store: storage.Store, tags: dict[str, str]) -> None:
        self.store, self.tags = store, tags
        self.arrivals: dict[str, int] = {}
        self.escapes: list[str] = []
        self._lock = threading.Lock()
        self._take = fake._take
        fake._take = self.take

    def take(self, body: dict, headers: dict):
        run_id = next(
            (r for tag, r in self.tags.items() if tag in str(body.get("messages"))), "unknown"
        )
        begun = count(self.store, run_id, "model_request")
        with self._lock:
            self.arrivals[run_id] = self.arrivals.get(run_id, 0) + 1
            if self.arrivals[run_id] > begun:
                self.escapes.append(f"{run_id}: request {self.arrivals[run_id]} > {begun} begun")
        return self._take(body, headers)


class ToolWitness:
    """The same at the tool's side: a tool running without a recorded start is an escape."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, store: storage.Store) -> None:
        import agent_core.run.tool_step as tool_step

        self.store, self.runs, self.escapes = store, {}, []
        self._lock = threading.Lock()
        real = tool_step.run_tool

        def run_tool(tool, arguments, *, workspace, context=None):
            run_id = Path(workspace.root).name
            begun = count(store, run_id, "tool_started")
            with self._lock:
                self.runs[run_id] = self.runs.get(run_id, 0) + 1
                if self.runs[run_id] > begun:
                    self.escapes.append(f"{run_id}: tool {self.runs[run_id]} > {begun} begun")
            return real(tool, arguments, workspace=workspace, context=context)

        monkeypatch.setattr(tool_step, "run_tool", run_tool)


def _replies(rng: random.Random, n: int) -> list[Reply]:
    out = []
    for i in range(n):
        expression = f"{i}*{rng.randint(2, 9)}"
        call = {"name": "calculator", "arguments": {"expression": expression}}
        out.append(
            Reply(
                text=f"step {i}",
                tool_calls=[call],
                delay_s=rng.choice((0.0, 0.02, 0.08, 0.2)),
                chunk_delay_s=rng.choice((0.0, 0.01)),
            )
        )
    return out


def test_halts_at_random_moments_against_the_real_server_start_nothing_after(
    store, fake_openai, monkeypatch
):
    rng = random.Random(2024)
    fake_openai.script(_replies(rng, 600))
    runs = [
        new_run(store, f"count things [race-{i}]", model="openai", autonomy="autonomous")
        for i in range(8)
    ]
    for run in runs:
        storage.update_run(store, run_id=run.id, max_steps=60)
    server = ServerWitness(fake_openai, store, {f"[race-{i}]": r.id for i, r in enumerate(runs)})
    tools = ToolWitness(monkeypatch, store)

    def model(run):
        return OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url, max_retries=0)

    workers = [Worker(store, concurrency=4, poll_s=0.01, model_factory=model) for _ in range(2)]
    threads = serve(workers)
    halters, halted = [], set()
    try:
        for run in runs:
            # At a random point of its progress (k model requests begun), plus a random moment.
            steps, moment = rng.randint(0, 6), rng.random() * 0.25

            def halt_later(run_id=run.id, steps=steps, moment=moment) -> None:
                wait_for(
                    lambda: count(store, run_id, "model_request") >= steps,
                    timeout=120,
                    what=f"{steps} model requests",
                )
                threading.Event().wait(moment)
                if try_halt(store, run_id, by="chaos"):  # else it ended by itself first
                    halted.add(run_id)

            halters.append(threading.Thread(target=halt_later, daemon=True))
        for halter in halters:
            halter.start()
        for halter in halters:
            halter.join(150)
        settle(store, [r.id for r in runs])
    finally:
        stop(workers, threads)
    assert server.escapes == [] and tools.escapes == []
    assert halted
    for run in runs:
        if run.id not in halted:
            continue
        halted_at = assert_nothing_started_after_the_halt(store, run.id)
        begun = [
            e.seq for e in storage.events_after(store, run_id=run.id) if e.kind == "model_request"
        ]
        assert all(seq < halted_at for seq in begun)
        assert server.arrivals.get(run.id, 0) <= len(begun)
    assert server.arrivals.get("unknown", 0) == 0


def test_an_in_flight_model_call_is_cancelled_by_a_halt(store, fake_openai):
    fake_openai.script([Reply(text="too late", delay_s=60)])
    run = new_run(store, "think slowly", model="openai", autonomy="autonomous")

    def model(run):
        return OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url, max_retries=0)

    workers = [Worker(store, concurrency=1, poll_s=0.01, model_factory=model)]
    threads = serve(workers)
    try:
        wait_for(lambda: count(store, run.id, "model_request") == 1, what="the model request")
        wait_for(lambda: len(fake_openai.requests) == 1, what="the request to arrive")
        control.halt(store, run_id=run.id, by="ann")
        settle(store, [run.id], timeout=20)  # long before the 60 s answer
    finally:
        stop(workers, threads)
    assert_nothing_started_after_the_halt(store, run.id)
    assert count(store, run.id, "model_call") == 0


# ---------------------------------------------------------------- (c) approvals and resumes


def _paused(store: storage.Store, goal: str):
    run = new_run(store, goal, model="scripted", autonomy="autonomous")
    storage.update_run(store, run_id=run.id, status="paused", reason="paused by test")
    storage.append_event(
        store, run_id=run.id, kind="status", payload={"status": "paused", "reason": "test"}
    )
    return run


def test_a_halt_racing_an_approval_never_lets_the_tool_start_after_it(store):
    write = {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
    factory = lambda run: ScriptedModel([{"tool_calls": [write]}, "done"])  # noqa: E731
    workers = [Worker(store, concurrency=4, poll_s=0.005, model_factory=factory)]
    threads = serve(workers)
    runs, halted = [], set()
    try:
        for _ in range(8):
            run = new_run(store, "write a file", model="scripted", autonomy="supervised")
            runs.append(run)
            pending = wait_for(
                lambda run=run: storage.pending_approvals(store, run_id=run.id),
                what="a pending approval",
            )[0]
            gate = threading.Barrier(2)

            def decide(approval_id=pending.id, gate=gate) -> None:
                gate.wait()
                try:
                    approve(store, approval_id=approval_id, by="bob")
                except DecisionError:
                    pass  # the halt expired it first

            def halt(run_id=run.id, gate=gate) -> None:
                gate.wait()
                if try_halt(store, run_id, by="ann"):  # else the run finished first
                    halted.add(run_id)

            racers = [threading.Thread(target=decide), threading.Thread(target=halt)]
            for racer in racers:
                racer.start()
            for racer in racers:
                racer.join(20)
        settle(store, [r.id for r in runs])
    finally:
        stop(workers, threads)
    assert halted
    for run in runs:
        if run.id not in halted:
            continue
        halted_at = assert_nothing_started_after_the_halt(store, run.id)
        started = [
            e.seq for e in storage.events_after(store, run_id=run.id) if e.kind == "tool_started"
        ]
        wrote = (Path(run.workspace) / "a.txt").exists()
        assert wrote == bool(started)  # the file exists only if the tool began ...
        assert all(seq < halted_at for seq in started)  # ... and then before the halt


def test_a_halt_racing_a_resume_always_leaves_the_run_halted(store):
    # Paused before any worker serves: a paused run is one no worker drives.
    runs = [_paused(store, "paused, then resumed and halted at once") for _ in range(15)]
    factory = lambda run: ScriptedModel(slow_script())  # noqa: E731
    workers = [Worker(store, concurrency=4, poll_s=0.002, model_factory=factory)]
    threads = serve(workers)
    halted, outcomes = set(), {"resume first": 0, "halt first": 0}
    try:
        for run in runs:
            gate = threading.Barrier(2)

            def resume(run_id=run.id, gate=gate) -> None:
                gate.wait()
                try:
                    # As the Run page does: the resume names the status the person saw.
                    control.resume_run(store, run_id=run_id, by="bob", seen_status="paused")
                    outcomes["resume first"] += 1
                except control.ControlError:
                    outcomes["halt first"] += 1

            def halt(run_id=run.id, gate=gate) -> None:
                gate.wait()
                if try_halt(store, run_id, by="ann"):  # else the resumed run finished first
                    halted.add(run_id)

            racers = [threading.Thread(target=resume), threading.Thread(target=halt)]
            for racer in racers:
                racer.start()
            for racer in racers:
                racer.join(20)
        settle(store, [r.id for r in runs])
    finally:
        stop(workers, threads)
    assert halted
    for run in runs:
        if run.id not in halted:
            continue
        halted_at = assert_nothing_started_after_the_halt(store, run.id)
        queued = [
            e.seq
            for e in storage.events_after(store, run_id=run.id)
            if e.kind == "status" and e.payload.get("status") == "queued"
        ]
        assert all(seq < halted_at for seq in queued[1:])  # no resume undid the halt
    assert sum(outcomes.values()) == 15
