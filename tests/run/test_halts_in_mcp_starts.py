"""A halt while an MCP server (re)starts: the wait for a server that never answers `initialize`
is cut by the halt, at the session's start (the run's tools are being listed) and in a tool call
that restarts a server that went away. The server's start time limit is 120 s here; the bound
below is a hang guard."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import storage
from agent_core.oversight import control
from agent_core.oversight.policy import Policy
from agent_core.tools.mcp_client import close_shared_pool
from agent_core.tools.mcp_config import McpServerSettings
from tests.run.test_halts_in_tools import calls, worker_running
from tests.support.halt_helpers import assert_nothing_started_after_the_halt, settle
from tests.support.process_helpers import running_with
from tests.support.run_helpers import events_of, new_run, wait_for

HANG_GUARD_S = 20.0
SCRIPT = Path(__file__).parents[1] / "support" / "mcp_hung_start.py"


def _settings(notes: Path, *extra: str) -> McpServerSettings:
    return McpServerSettings(
        name="hung",
        command=[sys.executable, str(SCRIPT), str(notes), *extra],
        sandbox=False,
        timeout_s=120,
        start_timeout_s=120,
    )


@pytest.fixture(autouse=True)
def _fresh_pool():
    close_shared_pool()
    yield
    close_shared_pool()


def _no_server_left(notes: Path) -> None:
    """The server that never answered is not left running (its start was cancelled)."""
    wait_for(lambda: not running_with(str(notes)), timeout=HANG_GUARD_S, what="the server's end")


def _hung(notes: Path) -> bool:
    return notes.exists() and "hung" in notes.read_text()


def test_a_halt_while_the_session_waits_for_a_server_that_never_starts(store, tmp_path):
    notes = tmp_path / "notes.txt"
    policy = Policy(mcp_servers=[_settings(notes, "--never")])
    run = new_run(store, "use the server", model="scripted", autonomy="autonomous", policy=policy)
    with worker_running(store, calls({"name": "mcp__hung__hello", "arguments": {}})):
        wait_for(lambda: _hung(notes), timeout=HANG_GUARD_S, what="the server to start")
        control.halt(store, run_id=run.id, by="ann")
        settle(store, [run.id], timeout=HANG_GUARD_S)
    assert storage.get_run(store, run_id=run.id).status == "halted"
    _no_server_left(notes)
    assert events_of(store, run.id, "model_request") == []
    assert events_of(store, run.id, "tool_started") == []


def test_a_halt_while_a_call_waits_for_its_server_to_restart(store, tmp_path):
    notes = tmp_path / "notes.txt"
    policy = Policy(mcp_servers=[_settings(notes)])
    run = new_run(store, "use the server", model="scripted", autonomy="autonomous", policy=policy)
    script = [
        {"tool_calls": [{"name": "mcp__hung__crash", "arguments": {}}]},
        {"tool_calls": [{"name": "mcp__hung__hello", "arguments": {}}]},
        "done",
    ]
    with worker_running(store, script):
        wait_for(lambda: _hung(notes), timeout=HANG_GUARD_S, what="the server's restart")
        wait_for(lambda: len(events_of(store, run.id, "tool_started")) == 2, what="the call")
        control.halt(store, run_id=run.id, by="ann")
        settle(store, [run.id], timeout=HANG_GUARD_S)
    assert_nothing_started_after_the_halt(store, run.id)
    _no_server_left(notes)
    result = events_of(store, run.id, "tool_result")[-1].payload
    assert result["outcome"] == "halted", result
