"""The granted network's pasta starts only once bubblewrap has set up the sandbox's loopback.

bwrap adds 127.0.0.1 to the new namespace's `lo` (an exclusive add) right after creating it;
pasta's --config-net brings `lo` up, which adds the same address. Started together, bwrap's
add could fail ("bwrap: loopback: Failed RTM_NEWADDR") and the sandbox end before its command."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from agent_core.tools import user_net


def test_pasta_starts_after_the_loopback_is_configured(monkeypatch):
    order: list[str] = []
    monkeypatch.setattr(user_net, "_loopback_configured", lambda pid, deadline: order.append("lo"))

    class Pasta:
        def poll(self):
            return None

    def start(pasta, pid, log):
        order.append("pasta")
        return Pasta()

    monkeypatch.setattr(user_net, "_start_pasta", start)
    monkeypatch.setattr(user_net, "_has_default_route", lambda pid: True)
    monkeypatch.setattr(user_net, "_block_host_addresses", lambda pid: None)
    link, problem = user_net._attach("pasta", 12345, log=None)
    assert order == ["lo", "pasta"] and problem is None


def test_a_sandbox_that_is_gone_is_not_waited_for():
    gone = subprocess.Popen(["true"])  # a pid that has exited and been reaped
    gone.wait()
    started = time.monotonic()
    user_net._loopback_configured(gone.pid, time.monotonic() + 60)
    assert time.monotonic() - started < 30  # returned at once, not at the deadline


@pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("ip") is None,
    reason="needs unshare and ip (util-linux, iproute2)",
)
def test_the_wait_ends_when_the_namespace_has_its_loopback_address():
    child = subprocess.Popen(
        [
            "unshare",
            "--net",
            "--",
            "sh",
            "-c",
            "sleep 0.3; ip addr add 127.0.0.1/8 dev lo; sleep 30",
        ]
    )
    try:
        own = os.readlink("/proc/self/ns/net")
        while os.readlink(f"/proc/{child.pid}/ns/net") == own:  # until unshare made its own
            assert child.poll() is None, "unshare --net failed"
            time.sleep(0.01)
        user_net._loopback_configured(child.pid, time.monotonic() + 60)
        table = open(f"/proc/{child.pid}/net/fib_trie").read()
        assert "127.0.0.1\n" in table  # the wait ended because the address is there
    finally:
        child.kill()
        child.wait()
