"""A halt through a real run ends every process the shell command started, in the sandbox and in
the operator's unconfined opt-in alike: a command that ignores TERM, background children, a child
that leaves the process group (setsid, a double fork) and one that keeps the output pipe open.
Found by their unique `sleep` argument in /proc; the sleeps are 1000 s long, so only the halt can
have ended them (the bound below is a hang guard)."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.policy import Policy, Rule, SandboxSettings
from agent_core.tools.shell import run_command
from tests.support.halt_helpers import assert_nothing_started_after_the_halt
from tests.support.process_helpers import running_with
from tests.support.run_helpers import Driver, events_of, new_run, wait_for
from tests.support.sandbox_helpers import need_sandbox

HANG_GUARD_S = 15.0
ALLOW_ALL = [Rule(tool="*", action="allow")]


def _marker() -> str:
    return f"1000.{uuid.uuid4().int % 10**9:09d}"


# {m}: the unique sleep argument; every variant leaves at least one such sleep running.
COMMANDS = {
    "ignores-term": "trap '' TERM HUP INT; sleep {m}",
    "background-child": "sleep {m} & sleep {m}",
    "background-ignoring-term": "sh -c \"trap '' TERM HUP; sleep {m}\" & sleep {m}",
    "setsid": "setsid sleep {m} </dev/null >/dev/null 2>&1 & sleep {m}",
    "nohup": "nohup sh -c \"trap '' TERM HUP; sleep {m}\" >/dev/null 2>&1 & sleep {m}",
    "double-fork-daemon": (
        "( ( setsid sh -c \"trap '' TERM HUP; exec sleep {m}\" </dev/null >/dev/null 2>&1 & ) & )"
        "; sleep {m}"
    ),
    "holds-stdout": "(setsid sleep {m} &) ; exec sleep {m}",
}


def _policy(mode: str) -> Policy:
    unconfined, network = mode == "unconfined", mode == "sandbox-network"
    return Policy(
        rules=ALLOW_ALL, sandbox=SandboxSettings(unconfined_shell=unconfined, network=network)
    )


@pytest.fixture(params=["sandbox", "sandbox-network", "unconfined"])
def mode(request, monkeypatch):
    if request.param.startswith("sandbox"):
        need_sandbox()
    if request.param == "unconfined":
        monkeypatch.setenv("ONLOOP_BWRAP", "/nonexistent/bwrap")
    return request.param


@pytest.mark.parametrize("variant", sorted(COMMANDS))
def test_a_halt_leaves_no_process_of_the_command_alive(store, mode, variant):
    marker = _marker()
    command = COMMANDS[variant].format(m=marker)
    call = {"name": "run_shell", "arguments": {"command": command, "timeout_s": 300}}
    model = ScriptedModel([{"tool_calls": [call]}, "never reached"])
    run = new_run(store, "wait", model="scripted", policy=_policy(mode), autonomy="autonomous")
    driver = Driver(store, run, model).start()
    try:
        wait_for(lambda: running_with(marker), timeout=30, what="the command to start")
        wait_for(lambda: events_of(store, run.id, "tool_started"), what="the tool's start")
        control.halt(store, run_id=run.id, by="ann")
        outcome = driver.join(HANG_GUARD_S)
        assert outcome.status == "halted", outcome
        wait_for(
            lambda: not running_with(marker),
            timeout=HANG_GUARD_S,
            what=f"every process of the command to end ({running_with(marker)} left)",
        )
    finally:
        _kill(marker)
    assert model.remaining == 1  # no model call after the halt
    shell = events_of(store, run.id, "run_started")[0].payload["shell"]
    assert shell["network"] is (mode != "sandbox"), shell  # unconfined: it has the network
    assert_nothing_started_after_the_halt(store, run.id)
    result = events_of(store, run.id, "tool_result")[-1].payload
    assert result["outcome"] == "halted", result


@pytest.mark.parametrize("variant", ["setsid", "double-fork-daemon", "holds-stdout"])
def test_an_unconfined_command_that_ends_leaves_no_escaped_child(tmp_path, variant):
    """Without a halt too: when the command ends, what left its process group ends with it (the
    sandbox does this by its pid namespace; the unconfined opt-in by its cgroup or its mark)."""
    marker = _marker()
    command = COMMANDS[variant].format(m=marker).rsplit(";", 1)[0].replace("& sleep", "& : sleep")
    try:
        result = run_command(command, cwd=tmp_path, timeout_s=60, confined=False)
        assert not result.timed_out
        wait_for(
            lambda: not running_with(marker),
            timeout=HANG_GUARD_S,
            what=f"every process of the command to end ({running_with(marker)} left)",
        )
    finally:
        _kill(marker)


def _kill(marker: str) -> None:
    for pid in running_with(marker):  # never leave a 1000 s sleep behind a failed test
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_without_a_cgroup_the_mark_still_finds_an_escaped_child(tmp_path, monkeypatch):
    """Where the worker may not make a cgroup (not root, no delegation), the call's mark in the
    environment its processes inherit finds them."""
    from agent_core.tools import shell

    monkeypatch.setattr(shell.PidsCgroup, "create", classmethod(lambda cls, limit: None))
    marker = _marker()
    try:
        run_command(
            f"setsid sleep {marker} </dev/null >/dev/null 2>&1 &",
            cwd=tmp_path,
            timeout_s=60,
            confined=False,
        )
        wait_for(lambda: not running_with(marker), timeout=HANG_GUARD_S, what="the child to end")
    finally:
        _kill(marker)
