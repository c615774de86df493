"""Red-team variants of the sandbox's host isolation that tests/tools/test_sandbox_isolation.py does not
list: other spellings of the host's loopback, the host's sockets seen through /proc/net or /run,
System V IPC and background writers that could outlive the command, and disk-budget dodges (a
folder closed with chmod, a file written in /tmp then moved in, a seek far past a sparse end,
extended attributes).

No traffic goes to any address but this host's own: the listener runs here; the sandbox's own
loopback answers every loopback spelling."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from agent_core.tools import Workspace
from agent_core.tools.disk_budget import DiskBudget, disk_usage
from agent_core.tools.user_net import host_addresses, pasta_binary
from tests.support.sandbox_helpers import MB, needs_pasta, pasta_required, shell_output  # noqa: F401

pytestmark = pytest.mark.usefixtures("sandbox_required")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "ws").mkdir()
    return Workspace(tmp_path / "ws")


class _Listener(threading.Thread):
    """TCP on every address of this host (:: with IPv4 mapped) and an abstract unix socket."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: list[str] = []
        self.tcp = socket.socket(socket.AF_INET6)
        self.tcp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.tcp.bind(("::", 0))
        self.port = self.tcp.getsockname()[1]
        self.abstract_name = f"onloop-redteam-{os.getpid()}-{self.port}"
        self.abstract = socket.socket(socket.AF_UNIX)
        self.abstract.bind("\0" + self.abstract_name)
        for sock in (self.tcp, self.abstract):
            sock.listen(16)
            sock.settimeout(0.2)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for sock in (self.tcp, self.abstract):
                try:
                    conn, _ = sock.accept()
                    self.seen.append(str(sock.family))
                    conn.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.done.set()
        self.join(5)
        self.tcp.close()
        self.abstract.close()


@pytest.fixture
def listener():
    listening = _Listener()
    listening.start()
    yield listening
    listening.close()


# Every spelling of "this machine" a resolver or inet_aton accepts: inside the sandbox each is
# its own loopback (or its own copy of the host's interface address), never the host's.
LOOPBACK_SPELLINGS = [
    "127.1",
    "2130706433",
    "0",
    "0x7f000001",
    "017700000001",
    "127.0.0.1.",
    "localhost.",
    "LOCALHOST",
    "localhost6",
    "ip6-localhost",
    "sandbox",
    "::ffff:7f00:1",
    "0:0:0:0:0:0:0:1",
    "::ffff:0.0.0.0",
    "127.255.255.254",
]

CONNECT = """python3 - <<'EOF'
import socket
for host in {hosts!r}:
    try:
        infos = socket.getaddrinfo(host, {port}, type=socket.SOCK_STREAM)
    except OSError as exc:
        print("UNRESOLVED", host, exc)
        continue
    for family, kind, proto, _, address in infos:
        s = socket.socket(family, kind, proto)
        s.settimeout(2)
        try:
            s.connect(address)
            print("CONNECTED", host, address)
        except OSError as exc:
            print("BLOCKED", host, address, exc)
        s.close()
EOF"""


def _host_spellings() -> list[str]:
    """This host's own interface addresses, also as IPv4-mapped IPv6 (never another host)."""
    spellings: list[str] = []
    for address in host_addresses():
        if ":" in address:
            if not address.startswith("fe80"):
                spellings.append(address)
        else:
            spellings += [address, f"::ffff:{address}"]
    return spellings


@needs_pasta
@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + _host_spellings())
def test_no_spelling_of_this_machine_reaches_a_host_service(ws, listener, host):
    output = shell_output(ws, CONNECT.format(hosts=[host], port=listener.port), network=True)
    assert "CONNECTED" not in output, output
    assert "BLOCKED" in output or "UNRESOLVED" in output, output
    assert listener.seen == []


@needs_pasta
@pytest.mark.parametrize("network", [False, True], ids=["no-network", "network"])
def test_proc_net_shows_none_of_the_hosts_sockets(ws, listener, network):
    output = shell_output(
        ws, "cat /proc/net/tcp /proc/net/tcp6 /proc/net/unix /proc/net/udp", network=network
    )
    assert f":{listener.port:04X}" not in output, output
    assert listener.abstract_name not in output


@pytest.mark.parametrize(
    "path",
    [
        "/run",
        "/var/run",
        "/var/run/docker.sock",
        "/run/docker.sock",
        "/run/user",
        "/run/dbus/system_bus_socket",
        "/run/systemd/private",
        "/tmp/.X11-unix",
        "/dev/mqueue",
        "/root",
        "/home",
        "/var/lib",
    ],
)
def test_no_host_socket_folder_is_in_view(ws, path):
    output = shell_output(ws, f"ls -A {path}; echo listed=$?")
    assert "listed=0" not in output or output.count("\n") <= 4, output


def test_a_socket_a_host_process_binds_in_the_workspace_is_reachable_by_design(ws):
    """The workspace is shared with the host by design: a host process that puts a unix socket
    there invites the agent to use it (documented in docs/security/sandbox-isolation.md)."""
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(ws.real_root / "host.sock"))
    sock.listen(1)
    try:
        output = shell_output(
            ws,
            "python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); s.connect('host.sock');"
            " print('CONNECTED')\"",
        )
        assert "CONNECTED" in output
    finally:
        sock.close()


# What the command below makes, by the columns of /proc/sysvipc/*: (kind, column, value).
COMMANDS_IPC = (("shm", 3, str(16 << 20)), ("msg", 0, "0"), ("sem", 3, "4"))  # size; any; nsems


def _sysv_ipc_like_the_commands() -> set[tuple[str, str]]:
    """The host's private (key 0) System V objects shaped like the command's. Not a count of all
    of them: a PostgreSQL cluster that another test or process starts or stops meanwhile adds or
    removes a keyed segment of its own."""
    found = set()
    for kind, column, value in COMMANDS_IPC:
        for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[0] == "0" and fields[column] == value:
                found.add((kind, fields[1]))
    return found


def test_system_v_ipc_made_in_the_sandbox_ends_with_it(ws):
    """Segments, queues and semaphores live in the sandbox's own IPC namespace: they are gone
    with the command, never left holding the host's memory."""
    before = _sysv_ipc_like_the_commands()
    output = shell_output(
        ws,
        'python3 -c "import ctypes; c = ctypes.CDLL(None); '
        "print('shm', c.shmget(0, 16 << 20, 0o1600), 'msg', c.msgget(0, 0o1600), "
        "'sem', c.semget(0, 4, 0o1600)); import subprocess; "
        "print(subprocess.run(['ipcs'], capture_output=True, text=True).stdout)\"",
    )
    assert "shm 0" in output or "shm " in output, output
    assert "-1" not in output.split("\n")[2], output  # each was made inside
    assert _sysv_ipc_like_the_commands() <= before


BACKGROUND_WRITERS = [
    "(sleep 1; echo late > late) &",
    'setsid sh -c "sleep 1; echo late > late" </dev/null >/dev/null 2>&1 &',
    'nohup sh -c "trap \\"\\" TERM HUP INT; sleep 1; echo late > late" >/dev/null 2>&1 &',
    'python3 -c "import os, time\nif os.fork(): os._exit(0)\nos.setsid()\n'
    "if os.fork(): os._exit(0)\ntime.sleep(1)\nopen('late', 'w').write('x')\" &",
    "sh -c 'exec -a kworker sh -c \"sleep 1; echo late > late\"' &",
]


@pytest.mark.parametrize("network", [False, True], ids=["no-network", "network"])
@pytest.mark.parametrize("writer", BACKGROUND_WRITERS)
def test_no_background_process_writes_after_the_command_ends(ws, writer, network):
    if network:
        assert pasta_binary() is not None, "pasta is not installed: run .ci/run (Debian passt)"
    output = shell_output(ws, f"{writer} echo started", network=network)
    assert "started" in output, output
    threading.Event().wait(2.5)  # the writers' sleep is 1 s: a survivor would have written
    assert not (ws.real_root / "late").exists()


def test_a_halt_ends_a_background_writer_that_ignores_term(ws):
    cancel = threading.Event()
    command = (
        "sh -c 'trap \"\" TERM HUP; while :; do echo x >> w; sleep 0.2; done' & "
        "trap '' TERM; sleep 30"
    )
    threading.Timer(1.0, cancel.set).start()
    output = shell_output(ws, command, cancel=cancel)
    assert "exit code 0" not in output
    size = (ws.real_root / "w").stat().st_size
    threading.Event().wait(1.5)
    assert (ws.real_root / "w").stat().st_size == size


# -- disk budget dodges ---------------------------------------------------------------------------
DODGES = [
    "head -c 3000000 /dev/zero > /tmp/x && mv /tmp/x x",
    "head -c 3000000 /dev/zero > /dev/shm/x && cp /dev/shm/x x",
    "mkdir hide && head -c 3000000 /dev/zero > hide/x && chmod 000 hide",
    "mkdir -p a/b && head -c 3000000 /dev/zero > a/b/x && chmod 000 a/b && chmod 100 a",
    "truncate -s 1M s && dd if=/dev/zero of=s bs=1M seek=50 count=1 conv=notrunc",
    "python3 -c \"f = open('s', 'wb'); f.seek(3 << 20); f.write(b'x')\"",
    "for i in $(seq 300); do ln -s /nonexistent/$i l$i; done; mkdir d; "
    "for i in $(seq 300); do mkfifo d/p$i; done",
    "python3 -c \"import os\nfor i in range(800):\n  os.mkdir(f'n{i}')\n"
    "  os.setxattr(f'n{i}', 'user.a', b'x' * 3000)\"",
]


@pytest.mark.parametrize("command", DODGES)
def test_a_disk_budget_dodge_is_still_counted(ws, command):
    budget = DiskBudget.start([ws.real_root], 2)
    output = shell_output(ws, f"{command}; sleep 30; echo finished", disk=budget)
    grown = disk_usage(ws.real_root) - budget.baseline[ws.real_root]
    assert "disk budget of 2 MB" in output or grown <= 2 * MB, output
    assert "finished" not in output or grown <= 2 * MB, output


def _closed_folder_sizes(base: Path, mode: int) -> tuple[int, int, int]:
    """As the user running it: a 3 MB file in a folder, the folder closed to `mode`; the
    workspace's measured size before and after, and the folder's mode after the walk."""
    root = base / "ws"
    (root / "closed" / "inner").mkdir(parents=True)
    (root / "closed" / "inner" / "big").write_bytes(b"x" * (3 * MB))
    before = disk_usage(root)
    (root / "closed" / "inner").chmod(mode)
    (root / "closed").chmod(mode)
    after = disk_usage(root)
    return before, after, (root / "closed").stat().st_mode & 0o777


def _as_nobody(base: Path, mode: int) -> tuple[int, int, int]:
    """The same check in a child that became `nobody` (root reads every folder anyway)."""
    base.chmod(0o777)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover  # the child reports through the pipe
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.write(write, " ".join(map(str, _closed_folder_sizes(base, mode))).encode())
        except BaseException as exc:
            os.write(write, repr(exc).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    said = os.read(read, 2000).decode()
    os.close(read)
    assert said[:1].isdigit(), said
    before, after, left = (int(n) for n in said.split())
    return before, after, left


@pytest.mark.parametrize("mode", [0o000, 0o400, 0o100, 0o200])
def test_a_folder_its_command_closed_still_counts_for_a_worker_that_is_not_root(mode):
    """As root every folder reads anyway; as the worker's own user (the sandbox's files are its)
    a command could chmod 000 a folder so the walk skips it. Run as root (CI), the check runs in
    a child that becomes nobody; run as another user, it runs as that user."""
    base = Path(tempfile.mkdtemp(prefix="onloop-redteam-"))  # pytest's own is root's alone
    try:
        if os.getuid() == 0:
            before, after, left = _as_nobody(base, mode)
        else:
            before, after, left = _closed_folder_sizes(base, mode)
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)
    assert after == before >= 3 * MB
    assert left == mode  # the walk put the folder's mode back


@needs_pasta
def test_everyday_work_with_a_network_and_a_budget_still_works(ws):
    """Ordinary use: a local server and client inside the sandbox, files within the budget."""
    budget = DiskBudget.start([ws.real_root], 20)
    command = (
        "mkdir -p src && head -c 1000000 /dev/urandom > src/data && "
        "python3 -m http.server 8765 --bind 127.0.0.1 >/dev/null 2>&1 & "
        'sleep 1; python3 -c "import urllib.request as u; '
        "print(len(u.urlopen('http://127.0.0.1:8765/src/data').read()))\"; kill %1"
    )
    started = time.monotonic()
    output = shell_output(ws, command, network=True, disk=budget)
    assert "1000000" in output and budget.exceeded() is None, output
    assert time.monotonic() - started < 60
