"""A halt ends the processes a user's own Python tool started, attacked through the real worker:
the tool starts a 1000 s process in one of many ways (Popen, run, os.system, asyncio, posix_spawn,
a fork, a double fork, setsid and nohup, a child that ignores TERM, one with a cleared environment)
and then ignores the halt. The run must end halted and no process of the call may remain, found
in /proc; the 1000 s means only onloop can have ended them (bounds are hang guards).

Only the call's own processes end: another run's tool call, an MCP server and a process the
worker itself started go on."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import storage
from agent_core.oversight.policy import Policy, Rule
from agent_core.tools.mcp_client import close_shared_pool, shared_pool
from tests.run.test_halts_in_tools import calls, halt_and_settle, the_result, worker_running
from tests.support import own_process_tools
from tests.support.fake_openai import Reply
from tests.support.halt_helpers import assert_nothing_started_after_the_halt, serve, stop
from tests.support.mcp_helpers import halts_server
from tests.support.own_process_watch import (
    assert_all_gone,
    kill_left,
    left,
    new_tag,
    wait_until_started,
)
from tests.support.run_helpers import new_run, wait_for

MODULE = "onloop_own_process_tools"  # the name the user's module has on sys.path


@pytest.fixture
def own_tools(tmp_path, monkeypatch):
    folder = tmp_path / "module"
    folder.mkdir()
    shutil.copy(own_process_tools.__file__, folder / f"{MODULE}.py")
    monkeypatch.syspath_prepend(str(folder))
    yield MODULE
    module = sys.modules.pop(MODULE, None)
    if module is not None:
        module.release.set()


@pytest.fixture
def tag(tmp_path):
    tag = new_tag()
    yield tag
    module = sys.modules.get(MODULE)
    if module is not None:
        module.release.set()  # first: a tool that keeps starting processes stops
    kill_left(tag, tmp_path)


def own_run(store, tool: str, **arguments):
    policy = Policy(tools=[MODULE], rules=[Rule(tool="*", action="allow")])  # no approvals
    run = new_run(store, "use my tool", model="scripted", autonomy="autonomous", policy=policy)
    return run, calls({"name": tool, "arguments": arguments})


def start_arguments(how: str, tag: str, folder: Path, wait: bool = True) -> dict:
    return {"how": how, "tag": tag, "notes": str(folder), "wait": wait}


WAYS = sorted(own_process_tools.STARTS)


@pytest.mark.parametrize("how", WAYS)
def test_a_halt_ends_every_process_the_tool_started(store, own_tools, tag, tmp_path, how):
    run, script = own_run(store, "launch_process", **start_arguments(how, tag, tmp_path))
    with worker_running(store, script):
        wait_until_started(tag, tmp_path, how)
        halt_and_settle(store, run.id)
        assert_all_gone(tag, tmp_path)
    assert_nothing_started_after_the_halt(store, run.id)
    assert the_result(store, run.id)["outcome"] == "halted"


def test_a_child_that_ignores_term_is_killed_and_stops_writing(store, own_tools, tag, tmp_path):
    ticks = tmp_path / "ticks.txt"
    run, script = own_run(store, "launch_process", **start_arguments("ignores-term", tag, tmp_path))
    with worker_running(store, script):
        wait_for(lambda: ticks.exists() and ticks.stat().st_size > 20, what="ticks")
        halt_and_settle(store, run.id)
        assert_all_gone(tag, tmp_path)
        written = ticks.stat().st_size
    # Its process is gone, so nothing can write any more: the file stays as it was.
    assert ticks.stat().st_size == written
    assert storage.get_run(store, run_id=run.id).status == "halted"


def test_a_tool_that_keeps_starting_processes_after_the_halt_is_refused(
    store, own_tools, tag, tmp_path
):
    tries = tmp_path / "tries.txt"
    run, script = own_run(store, "keep_launching", tag=tag, notes=str(tmp_path))
    with worker_running(store, script):
        wait_for(lambda: left(tag, tmp_path), what="the first process")
        halt_and_settle(store, run.id)
        wait_for(lambda: "refused" in tries.read_text(), what="a refused start after the halt")
        assert_all_gone(tag, tmp_path)
        refusal = [line for line in tries.read_text().splitlines() if "refused" in line][0]
    assert "ended" in refusal, refusal
    assert the_result(store, run.id)["outcome"] == "halted"


def test_a_tool_that_stops_its_own_child_ends_with_its_own_words(store, own_tools, tag, tmp_path):
    run, script = own_run(store, "launch_then_stop", tag=tag)
    with worker_running(store, script):
        wait_until_started(tag, tmp_path, "popen")
        halt_and_settle(store, run.id)
        assert_all_gone(tag, tmp_path)
    assert the_result(store, run.id)["output"] == "stopped my own child"


@pytest.mark.parametrize(
    "how", ["popen", "os-system-background", "python-double-fork", "thread", "shared-thread-pool"]
)
def test_what_a_call_leaves_behind_ends_when_it_returns(store, own_tools, tag, tmp_path, how):
    """onloop cannot watch a process once its call has returned, so it does not outlive it."""
    arguments = start_arguments(how, tag, tmp_path, wait=False)
    run, script = own_run(store, "launch_process", **arguments)
    with worker_running(store, script):
        wait_for(
            lambda: storage.get_run(store, run_id=run.id).status == "succeeded",
            timeout=60,
            what="the run to finish",
        )
        assert left(tag, tmp_path) == []  # already gone when the result was recorded
    result = the_result(store, run.id)
    assert result["outcome"] == "ok" and result["output"] == f"started {how}"


def test_a_daemons_grandchild_slow_to_run_still_ends_with_the_call(
    store, own_tools, tag, tmp_path, monkeypatch
):
    """Under load a double fork's grandchild may not run (and note itself) before its parent
    exits and the call returns: the fork that made it notes it at once. Here every fork of the
    call is slow to note itself, as a busy machine makes it (CI found the grandchild left)."""
    from agent_core.tools.own_processes import CallProcesses

    noted_by_itself, recorded = CallProcesses.in_forked_child, CallProcesses.record
    forks = tmp_path / "forks.txt"

    def slow(self):
        time.sleep(1.0)
        noted_by_itself(self)

    def witnessed(self, pid):  # the test's own list: each fork as the process making it sees it
        with open(forks, "a") as witness:
            witness.write(f"{pid}\n")
        recorded(self, pid)

    monkeypatch.setattr(CallProcesses, "record", witnessed)
    monkeypatch.setattr(CallProcesses, "in_forked_child", slow)
    arguments = start_arguments("python-double-fork", tag, tmp_path, wait=False)
    run, script = own_run(store, "launch_process", **arguments)
    try:
        with worker_running(store, script):
            wait_for(
                lambda: storage.get_run(store, run_id=run.id).status == "succeeded",
                timeout=60,
                what="the run to finish",
            )
            wait_for(lambda: len(_pids(forks)) == 2, timeout=60, what="both forks recorded")
            wait_for(
                lambda: not [p for p in _pids(forks) if _alive(p)],
                timeout=30,
                what=f"the forks to end ({[p for p in _pids(forks) if _alive(p)]} left)",
            )
    finally:
        for pid in _pids(forks):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _pids(witness: Path) -> list[int]:
    return [int(line) for line in witness.read_text().split()] if witness.exists() else []


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent (or gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_stopping_worker_ends_the_tools_processes(store, own_tools, tag, tmp_path):
    """The worker's stop (Ctrl-C on `onloop up` or `onloop worker`) cuts the call like a halt."""
    run, script = own_run(store, "launch_process", **start_arguments("popen", tag, tmp_path))
    with worker_running(store, script):
        wait_until_started(tag, tmp_path, "popen")
    assert left(tag, tmp_path) == []  # the worker's stop waited for them to end
    assert storage.get_run(store, run_id=run.id).status in ("queued", "interrupted")


# -- only the call's own processes --------------------------------------------------------------


@pytest.fixture
def mcp_server(tmp_path):
    yield halts_server(tmp_path)[0]
    close_shared_pool()


def test_a_halt_ends_none_but_the_calls_own_processes(store, own_tools, tmp_path, mcp_server):
    """Two runs' calls in one worker, an MCP server and a child of the worker's own: the halt of
    one run ends its call's processes and nothing else."""
    from agent_core.models.scripted import ScriptedModel
    from agent_core.worker.claim_loop import Worker

    tags = {"halted": new_tag(), "other": new_tag(), "worker's own": new_tag()}
    folders = {name: tmp_path / name.replace("'", "") for name in tags}
    for folder in folders.values():
        folder.mkdir()
    server_pid = int(shared_pool().call(mcp_server, "pid", {}))
    own = subprocess.Popen([own_process_tools.SLEEP, tags["worker's own"]])
    runs = {}
    for name in ("halted", "other"):
        runs[name] = own_run(
            store, "launch_process", **start_arguments("popen", tags[name], folders[name])
        )
    scripts = {run.id: script for run, script in runs.values()}
    worker = Worker(
        store, concurrency=2, poll_s=0.01, model_factory=lambda run: ScriptedModel(scripts[run.id])
    )
    threads = serve([worker])
    try:
        for name in ("halted", "other"):
            wait_until_started(tags[name], folders[name], "popen")
        halt_and_settle(store, runs["halted"][0].id)
        assert_all_gone(tags["halted"], folders["halted"])
        assert left(tags["other"], folders["other"]), "another run's process was ended"
        assert own.poll() is None, "the worker's own child was ended"
        assert Path(f"/proc/{server_pid}").exists(), "the MCP server was ended"
        assert shared_pool().call(mcp_server, "pid", {}) == str(server_pid)
        halt_and_settle(store, runs["other"][0].id)
        assert_all_gone(tags["other"], folders["other"])
    finally:
        stop([worker], threads)
        own.kill()
        own.wait()
        for name in tags:
            kill_left(tags[name], folders[name])


def test_ctrl_c_on_onloop_worker_ends_the_tools_processes(
    store, own_tools, tag, tmp_path, fake_openai
):
    """The real `onloop worker` process, its model a local Chat Completions server: SIGINT (what
    Ctrl-C sends) stops it, and the process its run's tool started is gone when it has exited."""
    arguments = start_arguments("popen", tag, tmp_path)
    fake_openai.script([Reply(tool_calls=[{"name": "launch_process", "arguments": arguments}])])
    run = new_run(
        store,
        "use my tool",
        model="openai",
        autonomy="autonomous",
        policy=Policy(tools=[MODULE], rules=[Rule(tool="*", action="allow")]),
    )
    env = {
        **os.environ,
        "OPENAI_BASE_URL": fake_openai.base_url,
        "OPENAI_API_KEY": "test",
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "module"), os.environ.get("PYTHONPATH", "")]),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "worker", "--db", store.url, "--poll-seconds", "0.05"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_until_started(tag, tmp_path, "popen")
        worker.send_signal(signal.SIGINT)
        out, _ = worker.communicate(timeout=60)
        assert left(tag, tmp_path) == [], out[-3000:]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert storage.get_run(store, run_id=run.id).status in ("queued", "interrupted")
