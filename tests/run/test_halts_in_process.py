"""Halts stop in-process tools, attacked through the real worker: MCP calls, on stdio and on
streamable HTTP (the server is told with notifications/cancelled and its session survives for
other runs) and the user's own Python tools (a token they read; one that ignores it is no longer
waited for and its late result is never recorded). A WITNESS server notes requests that arrive after the halt is recorded: none may."""

from __future__ import annotations

import sys
import textwrap
import threading
from pathlib import Path

import pytest

import storage
from agent_core.oversight.policy import Policy
from agent_core.tools.mcp_client import close_shared_pool, shared_pool
from agent_core.tools.mcp_config import McpServerSettings
from tests.run.test_halts_in_tools import (
    HANG_GUARD_S,
    assert_stopped_by_the_halt,
    calls,
    halt_and_settle,
    the_result,
    worker_running,
)
from tests.support import mcp_helpers
from tests.support.halt_helpers import halt_seq
from tests.support.halts_witness import witness_server
from tests.support.run_helpers import events_of, new_run, wait_for

# -- MCP calls ----------------------------------------------------------------------------------


@pytest.fixture(params=["stdio", "http"])
def halts_server(request, tmp_path):
    """tests/support/mcp_halts_server.py on each transport: on streamable HTTP the SDK also
    aborts the call's POST, and the server's tool must hear the cancel all the same."""
    if request.param == "stdio":
        yield mcp_helpers.halts_server(tmp_path)
    else:
        with mcp_helpers.http_halts_server(tmp_path) as served:
            yield served
    close_shared_pool()


def mcp_run(store, settings: McpServerSettings, tool: str, **arguments):
    policy = Policy(mcp_servers=[settings])
    run = new_run(store, "use the server", model="scripted", autonomy="autonomous", policy=policy)
    return run, calls({"name": f"mcp__halts__{tool}", "arguments": arguments})


def notes_of(notes: Path) -> list[str]:
    return notes.read_text().splitlines()


def test_a_halt_cancels_an_mcp_call_and_the_session_survives(store, halts_server):
    settings, notes = halts_server
    run, script = mcp_run(store, settings, "nap", seconds=60)
    with worker_running(store, script):
        wait_for(lambda: notes_of(notes), timeout=60, what="the server's tool to start")
        halt_and_settle(store, run.id)
        # The server heard notifications/cancelled and stopped its work.
        wait_for(lambda: "cancelled" in notes_of(notes), timeout=HANG_GUARD_S, what="the cancel")
        started_in = notes_of(notes)[0].split()[1]
        # The same server process answers the next call (another run's, say).
        assert shared_pool().call(settings, "pid", {}) == started_in
    result = the_result(store, run.id)
    assert result["outcome"] == "halted" and "stopped by a halt" in result["output"]
    assert storage.get_run(store, run_id=run.id).status == "halted"


def test_an_mcp_tool_that_would_call_the_witness_later_never_does(store, halts_server):
    settings, notes = halts_server
    with witness_server() as witness:
        run, script = mcp_run(store, settings, "call_later", url=f"{witness.base}/end", seconds=3)
        witness.halted = lambda: halt_seq(store, run.id) is not None
        with worker_running(store, script):
            wait_for(lambda: notes_of(notes), timeout=60, what="the server's tool to start")
            halt_and_settle(store, run.id)
            wait_for(lambda: "cancelled" in notes_of(notes), timeout=HANG_GUARD_S, what="cancel")
            threading.Event().wait(4)  # past the moment it would have called
        assert witness.paths == []
    assert_stopped_by_the_halt(store, run.id, witness)


def test_an_mcp_call_the_server_cannot_interrupt_is_no_longer_waited_for(store, halts_server):
    settings, notes = halts_server
    run, script = mcp_run(store, settings, "doze", seconds=60)
    with worker_running(store, script):
        wait_for(lambda: notes_of(notes), timeout=60, what="the server's tool to start")
        halt_and_settle(store, run.id)  # long before its 60 s
    result = the_result(store, run.id)
    assert result["outcome"] == "halted" and "dozed" not in result["output"]


# -- the user's own Python tools ----------------------------------------------------------------

OWN_TOOLS = '''
    import threading
    import time
    import urllib.request

    from onloop import ToolContext, tool

    release = threading.Event()  # the test lets a tool that ignores the halt finish
    finished = threading.Event()


    @tool(risk="low")
    def loop_until_stopped(tool_context: ToolContext | None = None) -> str:
        """Works in small steps, looking at the token between them."""
        assert tool_context is not None
        while not tool_context.stopped:
            time.sleep(0.01)
        return "stopped cleanly after a halt"


    @tool(risk="low")
    def raise_when_stopped(tool_context: ToolContext | None = None) -> str:
        """Works in small steps; raises when stopped."""
        assert tool_context is not None
        while True:
            tool_context.raise_if_stopped()
            time.sleep(0.01)


    @tool(risk="low")
    def ignore_the_halt() -> str:
        """Never looks at the token."""
        release.wait(120)
        finished.set()
        return "a late result"


    @tool(risk="low")
    def wait_then_call(url: str, tool_context: ToolContext | None = None) -> str:
        """Waits a minute (a halt ends the wait), then calls `url` unless stopped.

        Args:
            url: What to call.
        """
        assert tool_context is not None
        if tool_context.wait(60):
            return "stopped before calling"
        tool_context.before_sending()
        return urllib.request.urlopen(url, timeout=5).read().decode()
'''


@pytest.fixture
def own_tools(tmp_path, monkeypatch):
    (tmp_path / "halts_own_tools.py").write_text(textwrap.dedent(OWN_TOOLS))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "halts_own_tools"
    module = sys.modules.pop("halts_own_tools", None)
    if module is not None:
        module.release.set()


def own_run(store, module: str, tool: str, **arguments):
    policy = Policy(tools=[module])
    run = new_run(store, "use my tool", model="scripted", autonomy="autonomous", policy=policy)
    return run, calls({"name": tool, "arguments": arguments})


def halt_own_tool(store, module: str, tool: str, **arguments):
    run, script = own_run(store, module, tool, **arguments)
    with worker_running(store, script):
        wait_for(lambda: events_of(store, run.id, "tool_started"), what="the tool to start")
        halt_and_settle(store, run.id)
    assert storage.get_run(store, run_id=run.id).status == "halted"
    return run, the_result(store, run.id)


def test_an_own_tool_that_reads_the_token_ends_with_its_own_words(store, own_tools):
    _, result = halt_own_tool(store, own_tools, "loop_until_stopped")
    assert result == {**result, "outcome": "halted", "output": "stopped cleanly after a halt"}


def test_an_own_tool_that_raises_when_stopped_is_recorded_as_halted(store, own_tools):
    _, result = halt_own_tool(store, own_tools, "raise_when_stopped")
    assert result["outcome"] == "halted" and "stopped by a halt" in result["output"]


def test_an_own_tool_that_ignores_the_halt_is_dropped_and_its_result_never_recorded(
    store, own_tools
):
    run, result = halt_own_tool(store, own_tools, "ignore_the_halt")
    assert result["outcome"] == "halted" and "not recorded" in result["output"]
    module = sys.modules[own_tools]
    module.release.set()  # now it finishes, long after the run ended
    assert module.finished.wait(HANG_GUARD_S)
    threading.Event().wait(0.5)
    results = events_of(store, run.id, "tool_result")
    assert len(results) == 1 and "a late result" not in str([e.payload for e in results])


def test_an_own_tool_that_would_call_the_witness_after_a_wait_never_does(store, own_tools):
    with witness_server() as witness:
        run, script = own_run(store, own_tools, "wait_then_call", url=f"{witness.base}/end")
        witness.halted = lambda: halt_seq(store, run.id) is not None
        with worker_running(store, script):
            wait_for(lambda: events_of(store, run.id, "tool_started"), what="the tool to start")
            halt_and_settle(store, run.id)
        assert witness.paths == []
    assert the_result(store, run.id)["output"] == "stopped before calling"
