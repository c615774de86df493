"""Halts stop in-process tools too, attacked through the real worker: fetch_url between redirect
hops and in the middle of a request, MCP calls, and the user's own Python tools. A WITNESS server
on 127.0.0.1 notes every request with whether the run's halt was already recorded: after the halt
it must receive none. Bounds on time only prove that something ended (a hang guard)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.policy import Policy, Rule
from agent_core.oversight.web_gate import url_gate
from agent_core.tools import ToolContext, ToolError
from agent_core.tools.web import fetch_url
from agent_core.worker.claim_loop import Worker
from tests.support.halt_helpers import (
    assert_nothing_started_after_the_halt,
    halt_seq,
    serve,
    settle,
    stop,
)
from tests.support.halts_witness import Witness, witness_server
from tests.support.run_helpers import events_of, new_run, wait_for

LOOPBACK_ALLOWED = [Rule(tool="fetch_url", domains=["127.0.0.1", "127.0.0.2"], action="allow")]
FETCH_POLICY = Policy(rules=LOOPBACK_ALLOWED)
HANG_GUARD_S = 15.0  # far below the fetch's own 20 s limit and the witness's 60 s waits


def calls(*tool_calls: dict) -> list:
    return [{"tool_calls": list(tool_calls)}, "done"]


@contextmanager
def worker_running(store: storage.Store, script: list) -> Iterator[Worker]:
    worker = Worker(
        store, concurrency=1, poll_s=0.01, model_factory=lambda run: ScriptedModel(script)
    )
    threads = serve([worker])
    try:
        yield worker
    finally:
        stop([worker], threads)


def fetch_run(store: storage.Store, witness: Witness, policy: Policy = FETCH_POLICY):
    run = new_run(store, "read the page", model="scripted", autonomy="autonomous", policy=policy)
    witness.halted = lambda: halt_seq(store, run.id) is not None
    return run


def fetch_script(url: str) -> list:
    return calls({"name": "fetch_url", "arguments": {"url": url}})


def halt_and_settle(store: storage.Store, run_id: str, witness: Witness | None = None) -> None:
    control.halt(store, run_id=run_id, by="ann")
    if witness is not None:
        witness.gate.set()  # the held answer goes out only now, after the halt is recorded
    settle(store, [run_id], timeout=HANG_GUARD_S)


def the_result(store: storage.Store, run_id: str):
    (result,) = events_of(store, run_id, "tool_result")
    return result.payload


def assert_stopped_by_the_halt(store: storage.Store, run_id: str, witness: Witness) -> None:
    assert witness.escapes == [], f"requests after the halt: {witness.escapes}"
    assert_nothing_started_after_the_halt(store, run_id)
    result = the_result(store, run_id)
    assert result["outcome"] == "halted", result
    assert "stopped by a halt" in result["output"]


# -- fetch_url ----------------------------------------------------------------------------------


@pytest.mark.parametrize("keep_alive", [False, True], ids=["new-connection", "keep-alive"])
def test_a_halt_mid_chain_stops_the_redirects(store, keep_alive):
    """A 10-hop chain sending data in its query strings; the halt lands while hop 3 is held."""
    with witness_server(keep_alive=keep_alive) as witness:
        witness.hold_at = 3
        run = fetch_run(store, witness)
        with worker_running(store, fetch_script(f"{witness.base}/hop/1?data=secret-1")):
            wait_for(witness.holding.is_set, what="hop 3 to arrive")
            halt_and_settle(store, run.id, witness)
        assert [p.split("?")[0] for p in witness.paths] == ["/hop/1", "/hop/2", "/hop/3"]
    assert_stopped_by_the_halt(store, run.id, witness)


def test_a_303_to_another_host_after_the_halt_is_not_followed(store):
    with witness_server() as first, witness_server(host="127.0.0.2") as other:
        first.redirect_to = f"{other.base}/end?data=secret"
        run = fetch_run(store, first)
        other.halted = first.halted
        with worker_running(store, fetch_script(f"{first.base}/see-other")):
            wait_for(first.holding.is_set, what="the first request")
            halt_and_settle(store, run.id, first)
        assert other.paths == []
    assert_stopped_by_the_halt(store, run.id, first)


def test_a_halt_cuts_a_body_that_drips(store):
    """The server sends a byte every 100 ms for a minute: the halt cuts the read."""
    with witness_server() as witness:
        run = fetch_run(store, witness)
        with worker_running(store, fetch_script(f"{witness.base}/drip")):
            wait_for(lambda: witness.dripped >= 5, what="the body to start")
            halt_and_settle(store, run.id)
            wait_for(witness.cut.is_set, timeout=HANG_GUARD_S, what="the client to hang up")
    assert_stopped_by_the_halt(store, run.id, witness)


def test_a_halt_cuts_a_request_whose_headers_never_come(store):
    with witness_server() as witness:
        run = fetch_run(store, witness)
        with worker_running(store, fetch_script(f"{witness.base}/silent")):
            wait_for(witness.holding.is_set, what="the request to arrive")
            halt_and_settle(store, run.id)
            wait_for(witness.cut.is_set, timeout=HANG_GUARD_S, what="the client to hang up")
    assert_stopped_by_the_halt(store, run.id, witness)


def test_a_halt_just_before_the_first_request_sends_nothing(store, monkeypatch):
    """The halt is recorded after the tool started, while it checks the URL (before connecting)."""
    import agent_core.oversight.confinement as confinement

    checking, halted = threading.Event(), threading.Event()
    real_gate = confinement.url_gate

    def slow_gate(policy):
        gate = real_gate(policy)

        def check(url: str, redirected: bool):
            checking.set()
            halted.wait(HANG_GUARD_S)
            return gate(url, redirected)

        return check

    monkeypatch.setattr(confinement, "url_gate", slow_gate)
    with witness_server() as witness:
        run = fetch_run(store, witness)
        with worker_running(store, fetch_script(f"{witness.base}/end?data=secret")):
            wait_for(checking.is_set, what="the tool to check its first URL")
            control.halt(store, run_id=run.id, by="ann")
            halted.set()
            settle(store, [run.id], timeout=HANG_GUARD_S)
        assert witness.paths == []
    assert_stopped_by_the_halt(store, run.id, witness)


def test_the_workers_stop_also_stops_the_redirects(store):
    with witness_server() as witness:
        witness.hold_at = 2
        run = fetch_run(store, witness)
        worker = Worker(
            store,
            concurrency=1,
            poll_s=0.01,
            model_factory=lambda run: ScriptedModel(fetch_script(f"{witness.base}/hop/1")),
        )
        threads = serve([worker])
        try:
            wait_for(witness.holding.is_set, what="hop 2 to arrive")
            run_stop = worker._active[run.id][1]
            witness.halted = run_stop.is_set
            stopper = threading.Thread(target=stop, args=([worker], threads))
            stopper.start()
            wait_for(run_stop.is_set, what="the worker to stop the run")
            witness.gate.set()
            stopper.join(HANG_GUARD_S)
        finally:
            stop([worker], threads)
        assert [p.split("?")[0] for p in witness.paths] == ["/hop/1", "/hop/2"]
    assert witness.escapes == []
    assert storage.get_run(store, run_id=run.id).status == "queued"  # a clean stop requeues
    assert the_result(store, run.id)["outcome"] == "halted"


def test_a_pause_lets_the_fetch_finish_and_stops_after_it(store):
    """Decided: a pause is not a halt. It never cuts a tool in flight; the run pauses before its
    next step, so the tool's effect is complete and recorded."""
    with witness_server() as witness:
        witness.hold_at = 8
        run = fetch_run(store, witness)
        with worker_running(store, fetch_script(f"{witness.base}/hop/7")):  # 4 redirects
            wait_for(witness.holding.is_set, what="hop 8 to arrive")
            control.pause(store, run_id=run.id, by="ann")
            witness.gate.set()
            settle(store, [run.id], timeout=HANG_GUARD_S)
        assert witness.paths[-1] == "/end"
    assert storage.get_run(store, run_id=run.id).status == "paused"
    assert the_result(store, run.id)["outcome"] == "ok"


def test_a_fetch_whose_context_is_already_stopped_sends_nothing():
    cancel = threading.Event()
    cancel.set()
    with witness_server() as witness:
        context = ToolContext(cancel=cancel, url_gate=url_gate(FETCH_POLICY))
        with pytest.raises(ToolError, match="stopped by a halt"):
            fetch_url.fn(url=f"{witness.base}/end", tool_context=context)
        assert witness.paths == []
