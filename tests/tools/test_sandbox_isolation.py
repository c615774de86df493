"""Host isolation under attack: a granted network that is not the host's (no loopback services,
no abstract sockets, none of the host's own addresses), capped in-memory filesystems, and a disk
budget that stops a command and pauses the run.

No traffic goes to any address but the host's own: the listeners here run on this machine, and
the sandbox's outbound link is checked by its route and resolver, never by sending."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.confinement import run_disk_budget
from agent_core.oversight.policy import Policy, Rule, SandboxSettings
from agent_core.tools import Workspace
from agent_core.tools.disk_budget import DiskBudget, disk_usage
from agent_core.tools.mcp_config import McpServerSettings
from agent_core.tools.sandbox import (
    Limits,
    NetworkUnavailable,
    sandbox_argv,
    server_argv,
)
from agent_core.tools.user_net import host_addresses
from tests.support.run_helpers import Driver, events_of, new_run
from tests.support.sandbox_helpers import MB, needs_pasta, pasta_required, shell_output  # noqa: F401

pytestmark = pytest.mark.usefixtures("sandbox_required")
SMALL_TMP = Limits(tmp_bytes=4 * MB)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "ws").mkdir()
    return Workspace(tmp_path / "ws")


class _Listener(threading.Thread):
    """TCP on every host address (:: with IPv4 mapped), UDP on 127.0.0.1, and an abstract and a
    filesystem unix socket: each records what reaches it."""

    def __init__(self, unix_path: Path) -> None:
        super().__init__(daemon=True)
        self.seen: list[str] = []
        self.tcp = socket.socket(socket.AF_INET6)
        self.tcp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.tcp.bind(("::", 0))
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.abstract_name = f"onloop-test-{os.getpid()}-{self.port}"
        self.abstract = socket.socket(socket.AF_UNIX)
        self.abstract.bind("\0" + self.abstract_name)
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(str(unix_path))
        self.socks = [self.tcp, self.abstract, self.unix]
        for sock in self.socks:
            sock.listen(16)
            sock.settimeout(0.2)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for sock in self.socks:
                try:
                    conn, _ = sock.accept()
                    self.seen.append(str(sock.family))
                    conn.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.done.set()
        self.join(5)
        for sock in [*self.socks, self.udp]:
            sock.close()


@pytest.fixture
def listener(tmp_path: Path):
    (tmp_path / "outside").mkdir()
    listening = _Listener(tmp_path / "outside" / "host.sock")
    listening.start()
    yield listening
    listening.close()


CONNECT = """python3 - <<'EOF'
import socket
for family, address in {targets}:
    try:
        if family != socket.AF_UNIX:
            address = socket.getaddrinfo(*address, family, socket.SOCK_STREAM)[0][4]
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(address)
        print("CONNECTED", address)
    except OSError as exc:
        print("BLOCKED", address, exc)
EOF"""


def _targets(listener: _Listener, tmp_path: Path) -> list[tuple[int, object]]:
    port = listener.port
    inet = [("127.0.0.1", port), ("localhost", port), ("127.0.0.2", port), ("0.0.0.0", port)]
    inet6 = [("::1", port), ("::ffff:127.0.0.1", port), ("::", port)]
    for address in host_addresses():  # the host's own interface addresses, never another host
        if ":" in address:
            scope = "%eth0" if address.startswith("fe80") else ""
            inet6.append((address + scope, port))
        else:
            inet.append((address, port))
    targets: list[tuple[int, object]] = [(int(socket.AF_INET), a) for a in inet]
    targets += [(int(socket.AF_INET6), a) for a in inet6]
    targets.append((int(socket.AF_UNIX), "\0" + listener.abstract_name))
    targets.append((int(socket.AF_UNIX), str(tmp_path / "outside" / "host.sock")))
    return targets


# -- a granted network is not the host's ------------------------------------------------------
@needs_pasta
def test_a_granted_network_reaches_no_host_service(ws, listener, tmp_path):
    targets = _targets(listener, tmp_path)
    output = shell_output(ws, CONNECT.format(targets=repr(targets)), network=True)
    assert "CONNECTED" not in output, output
    assert output.count("BLOCKED") == len(targets), output
    assert listener.seen == []


@needs_pasta
def test_udp_to_a_host_loopback_service_never_arrives(ws, listener):
    command = (
        'python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); '
        f"[s.sendto(b'x', (h, {listener.port})) for h in ('127.0.0.1', 'localhost')]; "
        "print('sent')\""
    )
    assert "sent" in shell_output(ws, command, network=True)
    listener.udp.settimeout(1.0)  # a datagram that arrived would be queued by now
    with pytest.raises(TimeoutError):
        listener.udp.recvfrom(100)


@needs_pasta
def test_a_granted_network_has_a_route_and_a_resolver_of_its_own(ws):
    output = shell_output(
        ws, "cat /proc/net/route /etc/resolv.conf; ls /sys/class/net 2>/dev/null", network=True
    )
    routes = [line.split() for line in output.splitlines() if "\t" in line or "00000000" in line]
    assert any(r[1:2] == ["00000000"] and r[0] != "lo" for r in routes if len(r) > 2), output
    assert "nameserver" in output


@needs_pasta
def test_a_sandboxed_mcp_server_with_network_reaches_no_host_service(tmp_path, listener):
    targets = _targets(listener, tmp_path)
    script = CONNECT.format(targets=repr(targets)).split("\n", 1)[1].rsplit("\nEOF", 1)[0]
    argv = server_argv(
        [sys.executable, "-c", script], scratch=tmp_path / "scratch", paths=[], network=True
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert "CONNECTED" not in done.stdout and done.stdout.count("BLOCKED") == len(targets), (
        done.stdout + done.stderr
    )
    assert listener.seen == []


def test_without_pasta_a_granted_network_fails_closed_naming_the_package(ws, monkeypatch):
    monkeypatch.setenv("ONLOOP_PASTA", "/nonexistent/pasta")
    output = shell_output(ws, "echo command-ran", network=True)
    assert "command-ran" not in output and "apt-get install passt" in output
    with pytest.raises(NetworkUnavailable, match="passt"):
        server_argv(["true"], scratch=ws.root / "s", paths=[], network=True)


def test_no_command_line_ever_shares_the_host_network(tmp_path):
    for network in (False, True):
        try:
            argv, fds = sandbox_argv(["true"], workspace=tmp_path, network=network)
        except NetworkUnavailable:
            continue
        for fd in fds:
            os.close(fd)
        assert "--share-net" not in argv and "--unshare-all" in argv
        try:
            server = server_argv(["true"], scratch=tmp_path / "s", paths=[], network=network)
        except NetworkUnavailable:
            continue
        assert "--share-net" not in server


# -- in-memory filesystems are capped -----------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        "dd if=/dev/zero of=/dev/shm/x bs=1M count=20",
        "head -c 20000000 /dev/urandom > /dev/shm/x",
        "fallocate -l 20M /dev/shm/x",
        "for i in 1 2 3 4 5 6; do head -c 2000000 /dev/zero > /dev/shm/f$i & done; wait",
        "mkdir /dev/shm/d && cp /dev/zero /dev/shm/d/x",
        "head -c 20000000 /dev/zero > /tmp/x",
    ],
)
def test_dev_shm_and_tmp_hold_no_more_than_their_cap(ws, command):
    output = shell_output(ws, f"{command}; du -sk /dev/shm /tmp", limits=SMALL_TMP)
    sizes = [int(line.split()[0]) for line in output.splitlines() if line.endswith(("shm", "tmp"))]
    assert len(sizes) == 2 and all(kb <= 4096 + 64 for kb in sizes), output


@pytest.mark.parametrize(
    "command",
    [
        "head -c 1000000 /dev/zero > /dev/x",
        "mkdir /dev/d",
        "ln -s /proc/self /dev/l",
        "mkfifo /dev/f",
        "head -c 1000000 /dev/zero > /x",
        "mkdir /newdir",
        "head -c 1000000 /dev/zero > /etc/x",
        "mkdir /etc/d",
    ],
)
def test_dev_the_root_and_mount_points_are_not_writable(ws, command):
    output = shell_output(ws, command + "; echo exit=$?")
    assert "exit=0" not in output and "Read-only file system" in output, output


def test_a_sandboxed_mcp_server_has_capped_dev_shm_and_tmp(tmp_path):
    script = (
        "head -c 100000000 /dev/zero > /dev/shm/x; head -c 100000000 /dev/zero > /tmp/x; "
        "touch /dev/y; du -sk /dev/shm /tmp"
    )
    argv = server_argv(["/bin/sh", "-c", script], scratch=tmp_path / "s", paths=[], network=False)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    sizes = [int(line.split()[0]) for line in done.stdout.splitlines()]
    assert len(sizes) == 2 and all(kb <= Limits().tmp_bytes // 1024 + 64 for kb in sizes)
    assert "Read-only file system" in done.stderr


# -- the disk budget ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        "head -c 5000000 /dev/zero > a",
        "fallocate -l 5M a",
        "truncate -s 5M sparse",
        "for i in $(seq 800); do : > f$i; done",
        "for i in $(seq 800); do mkdir d$i; done",
        "for i in 1 2 3 4 5 6 7 8; do (while :; do head -c 65536 /dev/zero >> w$i; done) & done",
        "i=0; while :; do i=$((i+1)); head -c 100000 /dev/zero > f$i; done",
        "python3 -c \"import os; os.posix_fallocate(os.open('p', os.O_CREAT | os.O_WRONLY), 0, 5<<20)\"",
    ],
)
def test_a_command_over_the_disk_budget_is_stopped(ws, command):
    budget = DiskBudget.start([ws.real_root], 2)
    output = shell_output(ws, f"{command}; sleep 30; echo finished", disk=budget)
    assert "finished" not in output and "disk budget of 2 MB" in output, output
    assert "[sandbox] disk_mb" in output
    assert disk_usage(ws.real_root) < 200 * MB  # stopped soon, far from filling the disk


def test_hard_links_count_once_and_the_budget_holds_below_it(ws):
    budget = DiskBudget.start([ws.real_root], 2)
    output = shell_output(
        ws, "head -c 1000000 /dev/zero > a; for i in $(seq 20); do ln a l$i; done", disk=budget
    )
    assert output.startswith("exit code 0") and budget.exceeded() is None


def _allow_shell_policy(disk_mb: int, **sandbox) -> Policy:
    return Policy(
        rules=[Rule(tool="run_shell", action="allow")],
        sandbox=SandboxSettings(disk_mb=disk_mb, **sandbox),
    )


def _calls(*calls: tuple[str, dict]) -> ScriptedModel:
    return ScriptedModel([{"tool_calls": [{"name": n, "arguments": a} for n, a in calls]}, "done"])


@pytest.mark.parametrize(
    "call",
    [
        # one file is capped at the budget (RLIMIT_FSIZE), so two
        ("run_shell", {"command": "head -c 900000 /dev/zero > a; head -c 900000 /dev/zero > b"}),
        ("run_shell", {"command": "truncate -s 900K a; truncate -s 900K b"}),
        ("write_file", {"path": "notes.txt", "content": "x" * 1_500_000}),
    ],
)
def test_a_run_over_its_disk_budget_pauses_and_says_why(store, tmp_path, call):
    (tmp_path / "ws").mkdir()
    run = new_run(
        store,
        "fill the disk",
        model="scripted",
        autonomy="autonomous",
        policy=_allow_shell_policy(1),
        workspace=str(tmp_path / "ws"),
    )
    model = _calls(call, ("calculator", {"expression": "1+1"}))
    outcome = Driver(store, run, model).start().join()
    assert outcome.status == "paused" and "disk budget of 1 MB" in outcome.reason, outcome
    drift = events_of(store, run.id, "drift")[0].payload
    assert drift["monitor"] == "budget_disk" and "[sandbox] disk_mb" in drift["detail"]
    results = events_of(store, run.id, "tool_result")
    assert results[-1].payload["outcome"] == "skipped"  # the rest of the batch did not run
    assert storage.get_run(store, run_id=run.id).status == "paused"


def test_the_disk_budget_covers_the_folders_an_mcp_server_may_write(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    server = McpServerSettings(name="fs", command=["true"], paths=[str(data)])
    policy = Policy(sandbox=SandboxSettings(disk_mb=1), mcp_servers=[server])
    budget = run_disk_budget(policy, tmp_path / "ws")
    assert budget.exceeded() is None
    (data / "dump.bin").write_bytes(b"\0" * (2 * MB))  # what a hostile server would write
    assert "disk budget of 1 MB" in (budget.exceeded() or "")


def test_the_disk_budget_is_a_policy_setting_with_a_default():
    assert SandboxSettings().disk_mb == 1024
    with pytest.raises(ValueError):
        SandboxSettings(disk_mb=0)
