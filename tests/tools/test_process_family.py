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


def test_a_process_caught_mid_exec_with_an_empty_environment_is_read_again(monkeypatch):
    """The kernel shows a process's new environment only once its exec has set it up: read in
    that moment, a call's child looked unmarked and was left running (CI, `os.system('… &')`).
    An empty environment of a user process is read again; a kernel thread's is not."""
    import builtins
    import io

    from agent_core.tools import process_family

    mark = b"ONLOOP_TOOL_CALL=abc"
    reads: dict[str, int] = {}
    real_open = builtins.open

    def fake_open(path, *args, **kwargs):
        if isinstance(path, str) and path.startswith("/proc/") and path.endswith("/environ"):
            pid = path.split("/")[2]
            reads[pid] = reads.get(pid, 0) + 1
            if pid == "4242":  # mid-exec: empty twice, then its environment
                return io.BytesIO(b"" if reads[pid] <= 2 else b"A=1\0" + mark + b"\0")
            return io.BytesIO(b"")  # pid 77: a kernel thread, empty for good
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(process_family, "_pids", lambda: ["4242", "77"])
    monkeypatch.setattr(
        process_family,
        "_stat",
        lambda pid: [b"S", b"1" if str(pid) == "4242" else b"2", *[b"0"] * 20],
    )
    assert process_family.marked(mark) == {4242}
    assert reads == {"4242": 3, "77": 1}
