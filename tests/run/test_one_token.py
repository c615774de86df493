"""A halt during each blocking thing of a run ends it within 1 s, through the run's one cancel
token: the model call (a local server that answers slowly), the sandboxed shell, fetch_url held
mid-redirect, an MCP call, and waiting for an approval. The clock starts once the halt is
recorded (control.halt returned); everything set up before is outside the timed window."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event as sa_event

import storage
from agent_core.models.openai_model import OpenAIModel
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.decisions import approve
from agent_core.oversight.policy import Policy, Rule
from agent_core.run.port import StoreRunPort
from agent_core.tools.cancel_token import CancelReason
from agent_core.tools.mcp_client import close_shared_pool
from agent_core.tools.mcp_config import McpServerSettings
from tests.support.fake_openai import Reply
from tests.support.halts_witness import witness_server
from tests.support.process_helpers import running_with, unique_sleep
from tests.support.run_helpers import Driver, events_of, new_run, wait_for

WITHIN_S = 1.0
ALLOW_ALL = [Rule(tool="*", action="allow")]
TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def ports(monkeypatch) -> list[StoreRunPort]:
    """The ports the worker makes for its runs, to read their tokens."""
    made: list[StoreRunPort] = []

    def watched(*args, **kwargs) -> StoreRunPort:
        made.append(StoreRunPort(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr("agent_core.worker.session.StoreRunPort", watched)
    return made


def halt_and_time(store: storage.Store, driver: Driver) -> float:
    """Halt the run; seconds from the halt being recorded to the run's session having ended."""
    control.halt(store, run_id=driver.run_id, by="ann")
    recorded = time.monotonic()
    driver.thread.join(10)
    elapsed = time.monotonic() - recorded
    assert not driver.thread.is_alive(), "the run did not end"
    return elapsed


def assert_halted_through_the_token(store, driver, ports, elapsed: float) -> None:
    assert elapsed < WITHIN_S, f"the run took {elapsed:.2f} s to end after the halt"
    assert driver.outcome.status == "halted" and "halted by" in driver.outcome.reason
    run = storage.get_run(store, run_id=driver.run_id)
    assert (
        run.status == "halted" and run.reason == "halted by ann"
    )  # the halt, recorded as the cause
    (port,) = ports
    assert port.token.reason is CancelReason.HALTED


def assert_tool_cut(store, run_id: str) -> None:
    (result,) = events_of(store, run_id, "tool_result")
    assert result.payload["outcome"] == "halted", result.payload


def test_a_halt_during_a_model_call_ends_it_within_a_second(store, fake_openai, ports):
    fake_openai.script([Reply(text="too late", delay_s=60)])
    run = new_run(store, "think slowly", model="openai", autonomy="autonomous")
    model = OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url, max_retries=0)
    driver = Driver(store, run, model).start()  # type: ignore[arg-type]
    wait_for(lambda: len(fake_openai.requests) == 1, what="the request to arrive")
    elapsed = halt_and_time(store, driver)
    assert_halted_through_the_token(store, driver, ports, elapsed)
    assert events_of(store, run.id, "model_call") == []  # the late answer is never recorded


@pytest.mark.usefixtures("sandbox_required")
def test_a_halt_during_a_sandboxed_shell_command_ends_it_within_a_second(store, ports):
    marker = unique_sleep()  # a `sleep 30`, told apart from any other test's
    run = new_run(store, "wait", model="scripted", policy=Policy(rules=ALLOW_ALL))
    call = {"name": "run_shell", "arguments": {"command": f"sleep {marker}", "timeout_s": 60}}
    driver = Driver(store, run, ScriptedModel([{"tool_calls": [call]}, "never"])).start()
    wait_for(lambda: running_with(marker), timeout=60, what="the command to start")
    elapsed = halt_and_time(store, driver)
    assert_halted_through_the_token(store, driver, ports, elapsed)
    assert_tool_cut(store, run.id)


def test_a_halt_during_fetch_url_mid_redirect_ends_it_within_a_second(store, ports):
    policy = Policy(rules=[Rule(tool="fetch_url", domains=["127.0.0.1"], action="allow")])
    with witness_server() as witness:
        witness.hold_at = 2  # the second hop answers only after the test lets it
        run = new_run(store, "read", model="scripted", autonomy="autonomous", policy=policy)
        call = {"name": "fetch_url", "arguments": {"url": f"{witness.base}/hop/1"}}
        driver = Driver(store, run, ScriptedModel([{"tool_calls": [call]}, "never"])).start()
        wait_for(witness.holding.is_set, timeout=30, what="the second hop to be held")
        elapsed = halt_and_time(store, driver)
    assert_halted_through_the_token(store, driver, ports, elapsed)
    assert_tool_cut(store, run.id)


def test_a_halt_during_an_mcp_call_ends_it_within_a_second(store, ports, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.touch()
    server = [sys.executable, str(TESTS / "support" / "mcp_halts_server.py"), str(notes)]
    settings = McpServerSettings(name="halts", command=server, sandbox=False, timeout_s=90)
    policy = Policy(mcp_servers=[settings])
    run = new_run(store, "nap", model="scripted", autonomy="autonomous", policy=policy)
    call = {"name": "mcp__halts__nap", "arguments": {"seconds": 60}}
    try:
        driver = Driver(store, run, ScriptedModel([{"tool_calls": [call]}, "never"])).start()
        wait_for(lambda: notes.read_text(), timeout=60, what="the server's tool to start")
        elapsed = halt_and_time(store, driver)
    finally:
        close_shared_pool()
    assert_halted_through_the_token(store, driver, ports, elapsed)
    assert_tool_cut(store, run.id)


def test_a_halt_while_waiting_for_approval_ends_it_within_a_second(store, ports):
    run = new_run(store, "write it", model="scripted", autonomy="supervised")
    call = {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
    driver = Driver(store, run, ScriptedModel([{"tool_calls": [call]}, "never"])).start()
    pending = driver.pending()
    elapsed = halt_and_time(store, driver)
    assert_halted_through_the_token(store, driver, ports, elapsed)
    assert storage.get_approval(store, approval_id=pending.id).status == "cancelled"


def test_a_waiting_run_reads_no_approval_of_its_own_while_it_waits(store):
    """It learns of the decision from the halt watcher's shared read (one query per poll for all
    the process's runs), not by reading its approval every 0.2 s."""
    run = new_run(store, "write it", model="scripted", autonomy="supervised")
    call = {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
    driver = Driver(store, run, ScriptedModel([{"tool_calls": [call]}, "done"])).start()
    pending = driver.pending()
    wait_for(lambda: storage.get_run(store, run_id=run.id).status == "waiting", what="waiting")
    own_reads: list[str] = []
    run_thread = driver.thread.ident

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.get_ident() == run_thread and "approvals" in statement:
            own_reads.append(statement)

    sa_event.listen(store.engine, "before_cursor_execute", seen)
    try:
        time.sleep(1.5)  # about 7 reads of its own row under the old 0.2 s poll
        quiet = list(own_reads)
        control_decided = time.monotonic()
        approve(store, approval_id=pending.id, by="alice")
        outcome = driver.join()
        woke_in = time.monotonic() - control_decided
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", seen)
    assert quiet == [], f"the waiting run read its approval {len(quiet)} times by itself"
    assert (
        outcome.status == "succeeded" and woke_in < 10
    )  # woken by the shared read, not the 30 s recheck
