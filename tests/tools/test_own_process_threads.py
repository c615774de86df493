"""Threads and thread pools a user's tool uses carry its call (agent_core/tools/own_processes.py):
what they start is the call's, and ends with it; a task handed over outside any call is no call's,
even on a thread an earlier call started. The halts through the real worker are in
tests/run/test_halts_own_processes.py (the `thread...`, `timer`, `...pool` and `asyncio-executor`
ways)."""

from __future__ import annotations

import concurrent.futures
import subprocess
import threading

import pytest

from agent_core.tools import own_processes
from agent_core.tools.errors import ToolCancelled
from tests.support.own_process_watch import new_tag

SLEEP = "sleep"


@pytest.fixture(autouse=True)
def hooks() -> None:
    own_processes.install()  # as loading a user's tool module does (once per process)


def _popen_in_thread(tag: str) -> subprocess.Popen:
    started: list = []
    thread = threading.Thread(target=lambda: started.append(subprocess.Popen([SLEEP, tag])))
    thread.start()
    thread.join(30)
    return started[0]


def test_a_process_a_calls_thread_starts_is_the_calls_and_ends_with_it():
    call = own_processes.CallProcesses()
    with call.marking():
        child = _popen_in_thread(new_tag())
    assert call.started
    call.end()
    assert child.wait(30) is not None  # ended by the call's end, not by itself (1000 s)


def test_a_thread_of_an_ended_call_may_start_no_more():
    call = own_processes.CallProcesses()
    go, said = threading.Event(), []

    def later() -> None:
        go.wait(30)
        try:
            subprocess.Popen([SLEEP, new_tag()]).kill()
            said.append("started")
        except ToolCancelled as exc:
            said.append(str(exc))

    with call.marking():
        thread = threading.Thread(target=later)
        thread.start()
    call.end()
    go.set()
    thread.join(30)
    assert said == [own_processes.ENDED]


def test_a_pool_thread_an_ended_call_started_runs_later_tasks_as_no_calls():
    pool = concurrent.futures.ThreadPoolExecutor(1)
    call = own_processes.CallProcesses()
    with call.marking():
        pool.submit(lambda: None).result(30)  # the pool's thread starts inside the call
    call.end()
    try:  # handed over outside any call: started normally, not refused as the ended call's
        child = pool.submit(subprocess.Popen, [SLEEP, "0"]).result(30)
        assert child.wait(30) == 0
    finally:
        pool.shutdown()


def test_a_task_handed_to_a_pool_made_before_the_call_is_the_calls():
    pool = concurrent.futures.ThreadPoolExecutor(1)
    pool.submit(lambda: None).result(30)  # its thread exists, started outside any call
    call = own_processes.CallProcesses()
    try:
        with call.marking():
            child = pool.submit(subprocess.Popen, [SLEEP, new_tag()]).result(30)
        assert call.started
        call.end()
        assert child.wait(30) is not None
    finally:
        pool.shutdown()
