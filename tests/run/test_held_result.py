"""A tool's result held by the port (StoreRunPort.hold_record) until its next write: written by
that write's transaction, ahead of its event (the next request, the next call's start), or on
its own before any other write, so the run's events stay in the loop's order. Unlike a model's
answer it is never dropped: refused with its carrier because a halt came first, it is written
on its own before the refusal rises, with the call count it carries; only a lost claim writes
nothing. The loop writes it when the run ends before any other write (a halt seen, the worker
stopping), and a crash's record writes it first. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

import storage
from agent_core.oversight import control
from agent_core.run.port import StoreRunPort
from agent_core.tools.cancel_token import CancelReason
from storage.record import ModelRequest, ToolCall, ToolResult
from tests.support.halt_helpers import CALC, assert_nothing_started_after_the_halt
from tests.support.held_writes import (
    approved_for_other_arguments,
    drive_and_cut,
    kinds,
    other_write,
    port_for,
)


def hold_result(port: StoreRunPort, output: str = "42") -> None:
    result = ToolResult(tool_call_id="c1", tool="calculator", ok=True, output=output, outcome="ok")
    port.hold_record(result, usage={"tool_calls": 1})


def added(store: storage.Store, run_id: str, before: list[str]) -> list[str]:
    return [e.kind for e in storage.events_after(store, run_id=run_id)][len(before) :]


def calls_counted(store: storage.Store, run_id: str) -> int:
    return storage.get_run(store, run_id=run_id).tool_calls


def test_the_next_step_carries_it_in_one_transaction(any_store):
    port = port_for(any_store, "result, then a request")
    before = kinds(any_store, port.run_id)
    hold_result(port)
    assert kinds(any_store, port.run_id) == before
    assert calls_counted(any_store, port.run_id) == 0
    seq = port.begin_step(ModelRequest(step=2))
    events = storage.events_after(any_store, run_id=port.run_id)[len(before) :]
    assert [e.kind for e in events] == ["tool_result", "model_request"]
    assert [e.seq for e in events] == [seq - 1, seq]  # one bump took both
    assert events[0].payload["output"] == "42"
    assert calls_counted(any_store, port.run_id) == 1


def test_the_next_calls_start_carries_it_ahead_of_the_call(any_store):
    port = port_for(any_store, "result, then the next call")
    before = kinds(any_store, port.run_id)
    hold_result(port)
    call = ToolCall(tool_call_id="c2", tool="calculator", arguments={}, verdict="allow")
    port.begin_execution(call_event=call, tool_call_id="c2", tool="calculator", args_hash="h")
    assert added(any_store, port.run_id, before) == ["tool_result", "tool_call", "tool_started"]
    assert calls_counted(any_store, port.run_id) == 1


@pytest.mark.parametrize(
    "write", ["record", "set_status", "add_usage", "write_held", "hold_record", "hold_step"]
)
def test_any_other_write_writes_it_first(any_store, write):
    port = port_for(any_store, f"then {write}")
    before = kinds(any_store, port.run_id)
    hold_result(port, "first")
    if write == "hold_record":
        hold_result(port, "second")
    else:
        other_write(port, write)
    written = added(any_store, port.run_id, before)
    assert written[0] == "tool_result"
    port.write_held()  # whatever the write held itself
    outputs = [
        e.payload["output"]
        for e in storage.events_after(any_store, run_id=port.run_id)
        if e.kind == "tool_result"
    ]
    assert outputs == (["first", "second"] if write == "hold_record" else ["first"])


@pytest.mark.parametrize("write", ["begin_step", "begin_execution", "begin_execution_alone"])
def test_a_halt_first_refuses_the_step_and_still_records_the_result(any_store, write):
    port = port_for(any_store, f"halted, then {write}")
    hold_result(port)
    control.halt(any_store, run_id=port.run_id, by="ann")
    before = kinds(any_store, port.run_id)
    call = ToolCall(tool_call_id="c2", tool="calculator", arguments={}, verdict="allow")
    with pytest.raises(storage.HaltRequested):
        if write == "begin_step":
            port.begin_step(ModelRequest(step=2))
        elif write == "begin_execution":
            port.begin_execution(
                call_event=call, tool_call_id="c2", tool="calculator", args_hash="h"
            )
        else:
            port.begin_execution(tool_call_id="c2", tool="calculator", args_hash="h")
    written = added(any_store, port.run_id, before)
    # The result first, on its own; the refused call is on record, never started.
    assert written == (
        ["tool_result", "tool_call"] if write == "begin_execution" else ["tool_result"]
    )
    assert calls_counted(any_store, port.run_id) == 1
    assert port.token.is_set()
    port.write_held()  # nothing left: written once
    assert kinds(any_store, port.run_id).count("tool_result") == 1


def test_an_unusable_approval_refuses_the_start_and_still_records_the_result(any_store):
    port = port_for(any_store, "approved for other arguments")
    approval_id = approved_for_other_arguments(any_store, port.run_id, port.fence, "c2")
    port.set_status("running")
    before = kinds(any_store, port.run_id)
    hold_result(port)
    call = ToolCall(tool_call_id="c2", tool="calculator", arguments={}, verdict="ask")
    with pytest.raises(storage.ApprovalUnusable):
        port.begin_execution(
            call_event=call,
            tool_call_id="c2",
            tool="calculator",
            approval_id=approval_id,
            args_hash="other",
        )
    assert added(any_store, port.run_id, before) == ["tool_result", "tool_call"]
    assert calls_counted(any_store, port.run_id) == 1
    assert storage.get_approval(any_store, approval_id=approval_id).consumed_at is None


def test_a_lost_claim_writes_nothing_of_it(any_store):
    port = port_for(any_store, "claimed elsewhere")
    hold_result(port)
    storage.update_run(any_store, run_id=port.run_id, worker_id="thief")
    before = kinds(any_store, port.run_id)
    with pytest.raises(storage.LeaseLost):
        port.begin_step(ModelRequest(step=2))
    port.write_held()  # the result went with the refused write: nothing left to write
    assert kinds(any_store, port.run_id) == before
    assert calls_counted(any_store, port.run_id) == 0


# --------------------------------------------------- the loop ends with a result still held


def _drive_and_cut_after_the_result(
    store: storage.Store, cut, calls: int = 1, call: dict | None = None, **settings
) -> str:
    """Drive a run whose model asks for `calls` calls (`call`, else the calculator's) in one
    turn, then finishes; right after the first result is held, `cut` (port) acts before
    anything else is written."""
    script = [{"tool_calls": [call or CALC] * calls}, "done"]
    return drive_and_cut(store, "hold_record", cut, script, **settings)


def _results(store: storage.Store, run_id: str) -> list[str]:
    return [
        e.payload["outcome"]
        for e in storage.events_after(store, run_id=run_id)
        if e.kind == "tool_result"
    ]


@pytest.mark.parametrize("calls", [1, 2])
def test_a_halt_seen_after_the_result_still_records_it(any_store, calls):
    def halt(port: StoreRunPort) -> None:  # the halt watcher's part: the token, at once
        control.halt(any_store, run_id=port.run_id, by="ann")
        port.token.cancel(CancelReason.HALTED)

    run_id = _drive_and_cut_after_the_result(any_store, halt, calls)
    run = storage.get_run(any_store, run_id=run_id)
    assert run.status == "halted"
    assert _results(any_store, run_id)[0] == "ok"  # the call that ran before the halt
    assert kinds(any_store, run_id).count("tool_started") == 1
    assert run.tool_calls == 1
    assert_nothing_started_after_the_halt(any_store, run_id)


@pytest.mark.parametrize("calls", [1, 2])
def test_a_halt_committed_after_the_result_still_records_it(any_store, calls):
    """No watcher's warning: the store's refusal of the next step is the first word."""

    def halt(port: StoreRunPort) -> None:
        control.halt(any_store, run_id=port.run_id, by="ann")

    run_id = _drive_and_cut_after_the_result(any_store, halt, calls)
    run = storage.get_run(any_store, run_id=run_id)
    assert run.status == "halted"
    assert _results(any_store, run_id)[0] == "ok"
    assert kinds(any_store, run_id).count("tool_started") == 1
    assert run.tool_calls == 1
    assert_nothing_started_after_the_halt(any_store, run_id)


def test_a_worker_stopping_after_the_result_still_records_it(any_store):
    def stop(port: StoreRunPort) -> None:
        port.stop.set()

    run_id = _drive_and_cut_after_the_result(any_store, stop)
    assert _results(any_store, run_id) == ["ok"]
    assert storage.get_run(any_store, run_id=run_id).tool_calls == 1


def test_a_crash_after_the_result_records_it_before_the_crash(any_store, monkeypatch):
    from agent_core.oversight.monitors import RepetitionMonitor

    def crash(self):
        raise RuntimeError("a bug in a monitor")

    def arm(port: StoreRunPort) -> None:
        monkeypatch.setattr(RepetitionMonitor, "check", crash)

    run_id = _drive_and_cut_after_the_result(any_store, arm)
    order = kinds(any_store, run_id)
    assert order.index("tool_result") < order.index("error")
    assert storage.get_run(any_store, run_id=run_id).status == "failed"


def test_a_store_outage_before_the_carrying_write_leaves_the_call_to_a_person(
    any_store, monkeypatch, tmp_path
):
    """The window the held result adds: the worker loses the store between a file's write and
    the next request. The result is not on record (as if its own commit had failed), the call's
    start is: the interrupted run does not resume by itself, it names the call that may have
    run, and the file written is there."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from agent_core.oversight.policy import Policy
    from agent_core.run.auto_resume import assess
    from agent_core.run.unfinished_calls import unfinished_calls

    def database_gone(*args, **kwargs):
        cause = sqlite3.OperationalError("database is locked")
        raise OperationalError("BEGIN IMMEDIATE", (), cause)

    def lose_the_store(port: StoreRunPort) -> None:
        monkeypatch.setattr(storage, "begin_step", database_gone)

    (tmp_path / "ws").mkdir()
    write = {"name": "write_file", "arguments": {"path": "notes.txt", "content": "hello"}}
    run_id = _drive_and_cut_after_the_result(
        any_store, lose_the_store, call=write, workspace=str(tmp_path / "ws")
    )
    monkeypatch.undo()
    run = storage.get_run(any_store, run_id=run_id)
    assert run.status == "interrupted"
    events = storage.events_after(any_store, run_id=run_id)
    assert [e.kind for e in events].count("tool_started") == 1
    assert "tool_result" not in [e.kind for e in events]
    [unfinished] = unfinished_calls(events, {})
    assert unfinished.call.name == "write_file" and unfinished.may_have_run
    blocker, _ = assess(events, {}, Policy())
    assert blocker is not None and "write_file may have run" in blocker
    [written] = (tmp_path / "ws").rglob("notes.txt")
    assert written.read_text() == "hello"


@pytest.mark.parametrize("path", ["carried", "alone after a halt"])
def test_a_secret_in_a_held_result_never_reaches_the_store(any_store, path):
    """A tool that prints a credential (a hostile page, a careless script): the result is held
    for the next write, and whichever write takes it (the next step's, or its own after a halt
    refused that step) stores it redacted, the credential also gone in base64."""
    import base64

    from agent_core.oversight.redact import Redactor

    secret = "tok-9f8e7d6c5b4a39281706"
    port = port_for(any_store, f"a secret, {path}")
    port.redactor = Redactor({"DEPLOY_TOKEN": secret})
    encoded = base64.b64encode(secret.encode()).decode()
    hold_result(port, f"deploying with {secret}; header {encoded}")
    if path == "carried":
        port.begin_step(ModelRequest(step=2))
    else:
        control.halt(any_store, run_id=port.run_id, by="ann")
        with pytest.raises(storage.HaltRequested):
            port.begin_step(ModelRequest(step=2))
    [stored] = [
        e.payload["output"]
        for e in storage.events_after(any_store, run_id=port.run_id)
        if e.kind == "tool_result"
    ]
    assert secret not in stored and encoded not in stored
    assert "[redacted DEPLOY_TOKEN]" in stored
