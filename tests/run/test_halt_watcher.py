"""A running tool is ended through the process's one halt watcher, and one watcher query covers
every run of the process."""

from __future__ import annotations

import sys
import textwrap
import threading

import pytest
from sqlalchemy import event as sa_event

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.policy import Policy
from agent_core.run.halt_watcher import watcher_for
from agent_core.run.port import StoreRunPort
from agent_core.tools.cancel_token import CancelReason
from tests.support.halt_helpers import (
    count,
)
from tests.support.run_helpers import Driver, events_of, new_run, per_call_threads, wait_for

# -- a running tool: ended by the one watcher -------------------------------------------------

WAITER = '''
    from agent_core.tools.context import ToolContext
    from onloop import tool


    @tool(risk="low")
    def wait_here(seconds: int = 60, tool_context: ToolContext | None = None) -> str:
        """Wait until the run is halted, or `seconds` pass.

        Args:
            seconds: How long to wait at most.
        """
        assert tool_context is not None
        return "cut short" if tool_context.cancel.wait(seconds) else "waited"
'''


@pytest.fixture
def waiter_module(tmp_path, monkeypatch):
    (tmp_path / "lean_waiter_demo.py").write_text(textwrap.dedent(WAITER))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "lean_waiter_demo"
    sys.modules.pop("lean_waiter_demo", None)


def test_a_halt_during_a_tool_ends_it_through_the_watcher(store, waiter_module):
    policy = Policy(tools=[waiter_module])
    run = new_run(store, "wait", model="scripted", autonomy="autonomous", policy=policy)
    model = ScriptedModel([{"tool_calls": [{"name": "wait_here", "arguments": {}}]}, "never"])
    driver = Driver(store, run, model).start()
    wait_for(lambda: count(store, run.id, "tool_started") == 1, what="the tool to start")
    assert per_call_threads() == []
    watcher = watcher_for(store)  # one watcher thread for this store (earlier tests' may linger)
    assert watcher._thread is not None and watcher._thread.is_alive()
    control.halt(store, run_id=run.id, by="ann")
    outcome = driver.join(20)  # long before the tool's 60 s
    assert outcome.status == "halted"
    (result,) = events_of(store, run.id, "tool_result")
    assert result.payload["outcome"] == "halted" and result.payload["output"] == "cut short"
    assert storage.get_run(store, run_id=run.id).tool_calls == 1


def test_one_watcher_query_covers_every_run_of_the_process(store):
    runs = [new_run(store, f"run {n}", model="scripted") for n in range(5)]
    for run in runs:
        storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=30)
    ports = [StoreRunPort(store, run.id) for run in runs]
    for port in ports:
        assert port.watched  # registered with the process's halt watcher
    signals = [port.token for port in ports]
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "commands" in statement and threading.current_thread().name == "onloop-halt-watch":
            statements.append(statement)

    sa_event.listen(store.engine, "before_cursor_execute", seen)
    try:
        control.halt(store, run_id=runs[2].id, by="ann")
        wait_for(lambda: signals[2].is_set(), what="the halted run's signal")
        polls = watcher_for(store).polls
        wait_for(lambda: watcher_for(store).polls >= polls + 2, what="two more polls")
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", seen)
        for port in ports:
            port.close()
    assert [s.is_set() for s in signals] == [False, False, True, False, False]
    assert signals[2].reason is CancelReason.HALTED
    assert ports[2].halt_requested() and not ports[0].halt_requested()
    # One statement per poll for all five runs, not one per run.
    assert statements and len(statements) <= watcher_for(store).polls
    assert all(" IN " in s.upper() for s in statements)
