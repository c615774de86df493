"""Halts that always hold, attacked: halts racing claims (worker threads, a real worker process,
SQLite and PostgreSQL), halts at random moments against the real local Chat Completions server
under load, halts racing approvals and resumes. Every case asserts, by the order of events in the
store (never by durations), that nothing starts after the halt: no run_started, no model request,
no tool start; and that every halted run ends `halted`.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

import storage
from agent_core import control
from agent_core.decisions import DecisionError, approve
from agent_core.models.openai_model import OpenAIModel
from agent_core.models.scripted import ScriptedModel
from agent_core.port import StoreRunPort
from agent_core.worker import Worker, drive_run
from storage.events import append_in
from storage.models import Command, Run, table_of
from tests.fake_openai import Reply
from tests.run_helpers import new_run, wait_for

STARTS = ("run_started", "model_request", "tool_started")  # each begins work
# Never after a halt either: a model answer that arrives after it is dropped (its cost kept).
LATE = (*STARTS, "model_call", "final_answer")
RAN = ("ok", "error")  # tool_result outcomes of a tool that really ran
SETTLED = ("succeeded", "failed", "halted", "paused", "interrupted")
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
    assert len(ran) <= sum(1 for e in events if e.kind == "tool_started")
    run = storage.get_run(store, run_id=run_id)
    assert run.status == "halted", f"run {run_id} ended {run.status} after a halt"
    assert run.worker_id is None and run.finished_at is not None
    return halted_at


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
            try:
                control.halt(store, run_id=run.id, by="racer")
            except control.ControlError:  # it finished before the halt: nothing to assert
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


def test_a_queued_run_with_a_pending_halt_is_never_claimed(any_store):
    run = new_run(any_store, "claimed after a halt?", model="scripted")
    claimed = storage.claim_next_run(any_store, worker_id="w1", lease_seconds=30)
    assert claimed is not None and claimed.id == run.id
    control.halt(any_store, run_id=run.id, by="ann")  # running: becomes a command
    # The worker stops cleanly before it saw the halt: the run is not queued again.
    status = storage.finish_session(
        any_store, run_id=run.id, worker_id="w1", status="interrupted", reason="worker stopped"
    )
    assert status == "halted"
    assert storage.claim_next_run(any_store, worker_id="w2", lease_seconds=30) is None
    assert storage.get_run(any_store, run_id=run.id).reason == "halted by ann"
    assert storage.pending_commands(any_store, run_id=run.id) == []  # the halt was consumed


def test_a_claim_refuses_a_queued_run_that_a_halt_waits_for(any_store):
    run = new_run(any_store, "halt pending while queued", model="scripted")
    # Only reachable by writing the command directly; the claim must still refuse.
    storage.send_command(any_store, run_id=run.id, kind="halt", created_by="ann")
    assert storage.claim_next_run(any_store, worker_id="w", lease_seconds=30) is None
    assert storage.claim_run(any_store, run_id=run.id, worker_id="w", lease_seconds=30) is None
    assert storage.get_run(any_store, run_id=run.id).status == "queued"


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
            try:
                control.halt(store, run_id=run.id, by="racer")
            except control.ControlError:
                continue  # it succeeded first
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
        begun = _count(self.store, run_id, "model_request")
        with self._lock:
            self.arrivals[run_id] = self.arrivals.get(run_id, 0) + 1
            if self.arrivals[run_id] > begun:
                self.escapes.append(f"{run_id}: request {self.arrivals[run_id]} > {begun} begun")
        return self._take(body, headers)


class ToolWitness:
    """The same at the tool's side: a tool running without a recorded start is an escape."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, store: storage.Store) -> None:
        import agent_core.tool_step as tool_step

        self.store, self.runs, self.escapes = store, {}, []
        self._lock = threading.Lock()
        real = tool_step.run_tool

        def run_tool(tool, arguments, *, workspace):
            run_id = Path(workspace.root).name
            begun = _count(store, run_id, "tool_started")
            with self._lock:
                self.runs[run_id] = self.runs.get(run_id, 0) + 1
                if self.runs[run_id] > begun:
                    self.escapes.append(f"{run_id}: tool {self.runs[run_id]} > {begun} begun")
            return real(tool, arguments, workspace=workspace)

        monkeypatch.setattr(tool_step, "run_tool", run_tool)


def _count(store: storage.Store, run_id: str, kind: str) -> int:
    return sum(1 for e in storage.events_after(store, run_id=run_id) if e.kind == kind)


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
    halters = []
    try:
        for run in runs:
            # At a random point of its progress (k model requests begun), plus a random moment.
            steps, moment = rng.randint(0, 6), rng.random() * 0.25

            def halt_later(run_id=run.id, steps=steps, moment=moment) -> None:
                wait_for(
                    lambda: _count(store, run_id, "model_request") >= steps,
                    timeout=120,
                    what=f"{steps} model requests",
                )
                threading.Event().wait(moment)
                try:
                    control.halt(store, run_id=run_id, by="chaos")
                except control.ControlError:
                    pass  # it ended by itself first (budget): asserted below

            halters.append(threading.Thread(target=halt_later, daemon=True))
        for halter in halters:
            halter.start()
        for halter in halters:
            halter.join(150)
        settle(store, [r.id for r in runs])
    finally:
        stop(workers, threads)
    assert server.escapes == [] and tools.escapes == []
    for run in runs:
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
        wait_for(lambda: _count(store, run.id, "model_request") == 1, what="the model request")
        wait_for(lambda: len(fake_openai.requests) == 1, what="the request to arrive")
        control.halt(store, run_id=run.id, by="ann")
        settle(store, [run.id], timeout=20)  # long before the 60 s answer
    finally:
        stop(workers, threads)
    assert_nothing_started_after_the_halt(store, run.id)
    assert _count(store, run.id, "model_call") == 0


# ---------------------------------------------------------------- (c) approvals, pauses, resumes


def test_a_halt_racing_an_approval_never_lets_the_tool_start_after_it(store):
    write = {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
    factory = lambda run: ScriptedModel([{"tool_calls": [write]}, "done"])  # noqa: E731
    workers = [Worker(store, concurrency=4, poll_s=0.005, model_factory=factory)]
    threads = serve(workers)
    runs = []
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
                control.halt(store, run_id=run_id, by="ann")

            racers = [threading.Thread(target=decide), threading.Thread(target=halt)]
            for racer in racers:
                racer.start()
            for racer in racers:
                racer.join(20)
        settle(store, [r.id for r in runs])
    finally:
        stop(workers, threads)
    for run in runs:
        halted_at = assert_nothing_started_after_the_halt(store, run.id)
        if not (Path(run.workspace) / "a.txt").exists():
            continue
        started = [e.seq for e in storage.events_after(store, run_id=run.id)]
        assert any(s < halted_at for s in started)  # it ran: then it began before the halt


def _paused(store: storage.Store, goal: str):
    run = new_run(store, goal, model="scripted", autonomy="autonomous")
    storage.update_run(store, run_id=run.id, status="paused", reason="paused by test")
    storage.append_event(
        store, run_id=run.id, kind="status", payload={"status": "paused", "reason": "test"}
    )
    return run


def test_halting_a_paused_run_ends_it_and_a_resume_cannot_undo_the_halt(store):
    run = _paused(store, "stay paused")
    assert control.halt(store, run_id=run.id, by="ann").status == "halted"
    with pytest.raises(control.ControlError, match="nothing to halt"):
        control.halt(store, run_id=run.id, by="ann")
    # A resume that saw the run paused is refused: the halt came after what it saw.
    with pytest.raises(storage.InvalidState, match="became halted meanwhile"):
        storage.requeue_run(store, run_id=run.id, expect_status="paused", clear_stops=True)
    assert storage.get_run(store, run_id=run.id).status == "halted"
    assert storage.claim_next_run(store, worker_id="w", lease_seconds=30) is None
    assert_nothing_started_after_the_halt(store, run.id)


def test_a_halt_racing_a_resume_always_leaves_the_run_halted(store):
    factory = lambda run: ScriptedModel(slow_script())  # noqa: E731
    workers = [Worker(store, concurrency=4, poll_s=0.002, model_factory=factory)]
    threads = serve(workers)
    runs, outcomes = [], {"resume first": 0, "halt first": 0}
    try:
        for _ in range(15):
            run = _paused(store, "paused, then resumed and halted at once")
            runs.append(run)
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
                control.halt(store, run_id=run_id, by="ann")

            racers = [threading.Thread(target=resume), threading.Thread(target=halt)]
            for racer in racers:
                racer.start()
            for racer in racers:
                racer.join(20)
        settle(store, [r.id for r in runs])
    finally:
        stop(workers, threads)
    for run in runs:
        halted_at = assert_nothing_started_after_the_halt(store, run.id)
        queued = [
            e.seq
            for e in storage.events_after(store, run_id=run.id)
            if e.kind == "status" and e.payload.get("status") == "queued"
        ]
        assert all(seq < halted_at for seq in queued[1:])  # no resume undid the halt
    assert sum(outcomes.values()) == 15


def test_a_waiting_run_whose_worker_died_ends_halted_not_interrupted(store):
    run = new_run(store, "wait forever", model="scripted")
    claimed = storage.claim_next_run(store, worker_id="dead", lease_seconds=30)
    assert claimed is not None
    storage.update_run(store, run_id=run.id, status="waiting")
    control.halt(store, run_id=run.id, by="ann")
    later = storage.utcnow() + timedelta(seconds=60)
    assert storage.expire_leases(store, now=later) == [run.id]
    assert_nothing_started_after_the_halt(store, run.id)
    assert storage.get_run(store, run_id=run.id).reason == "halted by ann"


def test_begin_step_refuses_once_a_halt_is_recorded(any_store):
    run = new_run(any_store, "one step", model="scripted")
    assert storage.claim_next_run(any_store, worker_id="w", lease_seconds=30) is not None
    first = storage.begin_step(any_store, run_id=run.id, kind="model_request", payload={})
    assert not storage.halt_pending(any_store, run_id=run.id)
    control.halt(any_store, run_id=run.id, by="ann")
    assert storage.halt_pending(any_store, run_id=run.id)
    with pytest.raises(storage.HaltRequested):
        storage.begin_step(any_store, run_id=run.id, kind="model_request", payload={})
    with pytest.raises(storage.HaltRequested):
        storage.begin_execution(any_store, run_id=run.id, tool="calculator", args_hash="h")
    assert halt_seq(any_store, run.id) == first + 1  # the refused steps left no event, no gap
    seqs = [e.seq for e in storage.events_after(any_store, run_id=run.id)]
    assert seqs == list(range(1, len(seqs) + 1))


# ---------------------------------------------------------------- the store's ordering, pinned


def _hold_a_halt_open(store: storage.Store, run_id: str):
    """What storage.halt_run does for a running run, left uncommitted: the row lock is held."""
    conn = store.engine.connect()
    transaction = conn.begin()
    runs, commands = table_of(Run), table_of(Command)
    conn.execute(select(runs.c.status).where(runs.c.id == run_id).with_for_update())
    conn.execute(
        commands.insert().values(
            run_id=run_id, kind="halt", payload={}, created_by="ann", created_at=storage.utcnow()
        )
    )
    append_in(conn, run_id=run_id, kind="halt_requested", payload={"by": "ann"})
    return conn, transaction


def _waiting_on_a_lock(store: storage.Store) -> bool:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with store.engine.connect() as conn:
        return bool(conn.execute(query).scalar())


def test_on_postgresql_a_step_queued_behind_a_halt_sees_it(postgres_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    store = storage.open_store(postgres_url)
    run = new_run(store, "step behind a halt", model="scripted")
    assert storage.claim_next_run(store, worker_id="w", lease_seconds=30) is not None
    conn, transaction = _hold_a_halt_open(store, run.id)
    outcome: dict[str, object] = {}

    def step() -> None:
        try:
            outcome["seq"] = storage.begin_step(
                store, run_id=run.id, kind="model_request", payload={}
            )
        except storage.HaltRequested as refused:
            outcome["refused"] = refused

    stepper = threading.Thread(target=step)
    stepper.start()
    wait_for(lambda: _waiting_on_a_lock(store), what="the step to wait for the halt's row lock")
    transaction.commit()
    conn.close()
    stepper.join(20)
    assert "refused" in outcome and "seq" not in outcome  # READ COMMITTED saw the late commit
    assert [e.kind for e in storage.events_after(store, run_id=run.id)][-1] == "halt_requested"
    store.dispose()


def test_on_postgresql_a_claim_passes_a_run_being_halted(postgres_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    store = storage.open_store(postgres_url)
    run = new_run(store, "halted while a worker looks", model="scripted")
    runs = table_of(Run)
    with store.engine.connect() as conn, conn.begin():
        conn.execute(select(runs.c.id).where(runs.c.id == run.id).with_for_update())
        # The halt holds the row: a claim skips it rather than taking it under the halt.
        assert storage.claim_next_run(store, worker_id="w", lease_seconds=30) is None
    control.halt(store, run_id=run.id, by="ann")
    assert storage.claim_next_run(store, worker_id="w", lease_seconds=30) is None
    assert_nothing_started_after_the_halt(store, run.id)
    store.dispose()


@pytest.mark.parametrize("ending", ["succeeded", "failed", "paused", "interrupted"])
def test_a_pending_halt_wins_over_any_other_ending(any_store, ending):
    run = new_run(any_store, "ends while a halt waits", model="scripted")
    assert storage.claim_next_run(any_store, worker_id="w", lease_seconds=30) is not None
    control.halt(any_store, run_id=run.id, by="ann")
    written = storage.finish_session(
        any_store, run_id=run.id, worker_id="w", status=ending, reason="x", result="answer"
    )
    assert written == "halted"
    done = storage.get_run(any_store, run_id=run.id)
    assert (done.status, done.reason, done.result) == ("halted", "halted by ann", None)
    assert done.worker_id is None and done.lease_expires_at is None
    assert_nothing_started_after_the_halt(any_store, run.id)


def test_a_session_ends_as_asked_when_no_halt_waits(any_store):
    run = new_run(any_store, "ends by itself", model="scripted")
    assert storage.claim_next_run(any_store, worker_id="w", lease_seconds=30) is not None
    written = storage.finish_session(
        any_store, run_id=run.id, worker_id="w", status="succeeded", result="42"
    )
    done = storage.get_run(any_store, run_id=run.id)
    assert written == "succeeded" and (done.status, done.result) == ("succeeded", "42")
    last = storage.events_after(any_store, run_id=run.id)[-1]
    assert (last.kind, last.payload["status"]) == ("status", "succeeded")


def test_a_clean_worker_stop_does_not_requeue_a_run_a_halt_waits_for(store):
    run = new_run(store, "stopped worker", model="scripted")
    assert storage.claim_next_run(store, worker_id="w", lease_seconds=30) is not None
    storage.update_run(store, run_id=run.id, status="interrupted")  # the session ended first
    storage.send_command(store, run_id=run.id, kind="halt", created_by="ann")
    requeued = storage.requeue_run(store, run_id=run.id, expect_status="interrupted")
    assert requeued.status == "halted" and requeued.reason == "halted by ann"
    assert storage.get_run(store, run_id=run.id).status == "halted"
    assert storage.claim_next_run(store, worker_id="w2", lease_seconds=30) is None


def test_run_statuses_reads_many_runs_at_once(any_store):
    queued = new_run(any_store, "a", model="scripted")
    halted = new_run(any_store, "b", model="scripted")
    control.halt(any_store, run_id=halted.id, by="ann")
    found = storage.run_statuses(any_store, run_ids=[queued.id, halted.id, "nope"])
    assert found == {queued.id: "queued", halted.id: "halted"}
    assert storage.run_statuses(any_store, run_ids=[]) == {}


# ---------------------------------------------------------------- halts in the narrowest windows


def _halt_right_after(monkeypatch, store: storage.Store, method: str, when) -> None:
    """Make StoreRunPort.<method> halt its run (committed) just after it returns, when `when`."""
    real = getattr(StoreRunPort, method)

    def wrapped(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        if when(*args, **kwargs) and not storage.halt_pending(store, run_id=self.run_id):
            control.halt(store, run_id=self.run_id, by="sniper")
        return result

    monkeypatch.setattr(StoreRunPort, method, wrapped)


def _drive(store: storage.Store, script: list) -> str:
    run = new_run(store, "snipe me", model="scripted", autonomy="autonomous")
    worker = Worker(store, concurrency=1, model_factory=lambda run: ScriptedModel(script))
    claimed = storage.claim_next_run(store, worker_id=worker.worker_id, lease_seconds=30)
    assert claimed is not None
    outcome = drive_run(store, claimed, model_factory=worker.model_factory)
    assert outcome.status == "halted"
    return run.id


def test_a_halt_between_the_tool_call_and_its_start_stops_the_tool(store, monkeypatch):
    _halt_right_after(monkeypatch, store, "record", lambda kind, payload: kind == "tool_call")
    run_id = _drive(store, [{"tool_calls": [CALC]}, "done"])
    assert_nothing_started_after_the_halt(store, run_id)
    assert _count(store, run_id, "tool_started") == 0
    assert [e.payload["outcome"] for e in _events(store, run_id, "tool_result")] == []


def test_a_halt_between_the_step_check_and_the_request_stops_the_request(store, monkeypatch):
    _halt_right_after(monkeypatch, store, "take_commands", lambda: True)
    run_id = _drive(store, ["never asked"])
    assert_nothing_started_after_the_halt(store, run_id)
    assert _count(store, run_id, "model_request") == 0


def test_a_halt_while_the_answer_is_on_its_way_drops_the_answer(store, monkeypatch):
    def halt_on_request(kind, payload):
        return kind == "model_request"

    _halt_right_after(monkeypatch, store, "begin_step", halt_on_request)
    run_id = _drive(store, [{"text": "42", "tokens_in": 5, "tokens_out": 2}])
    assert_nothing_started_after_the_halt(store, run_id)
    assert _count(store, run_id, "model_request") == 1  # begun before the halt
    assert _count(store, run_id, "model_call") == 0  # its answer came after: not recorded
    assert storage.get_run(store, run_id=run_id).tokens_in == 5  # but it was paid for


def _events(store: storage.Store, run_id: str, kind: str) -> list:
    return [e for e in storage.events_after(store, run_id=run_id) if e.kind == kind]
