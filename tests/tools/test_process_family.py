"""process_family never signals a process that is not the one it recorded: a pid is known by its
start time too, so a stranger that took a reused pid is left alone."""

from __future__ import annotations

import signal
import subprocess

from agent_core.tools import process_family
from tests.support.own_process_watch import new_tag


def test_a_pid_whose_start_time_differs_is_a_stranger_and_never_signalled():
    stranger = subprocess.Popen(["sleep", new_tag()])
    try:
        start = process_family.start_time(stranger.pid)
        assert start is not None
        recorded = {(stranger.pid, start - 1)}  # the pid as an earlier process had it
        assert process_family.family(recorded, b"ONLOOP_TOOL_CALL=none") == {}
        process_family.send({stranger.pid: start - 1}, signal.SIGKILL)
        assert stranger.poll() is None, "a process the call never started was killed"
        assert process_family.family({(stranger.pid, start)}, b"x") == {stranger.pid: start}
    finally:
        stranger.kill()
        stranger.wait()


def test_the_worker_itself_is_never_part_of_a_family():
    import os

    me = process_family.start_time(os.getpid())
    assert me is not None
    assert process_family.family({(os.getpid(), me)}, b"x") == {}
