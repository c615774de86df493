"""A granted network that is not the host's: the sandbox keeps its own network namespace (its own
loopback, its own abstract unix sockets) and pasta (Debian package passt) links it to the outside
as a user-mode TCP/IP stack, with nothing of the host's mapped in.

Run as a script it is the launcher: `python user_net.py --pasta PATH [--fd N]... -- BWRAP ARGS`
starts bubblewrap held at its start, attaches pasta to the sandbox's network namespace, blocks
the host's own addresses there, then lets the command run and waits for it. Standard library
only, so it starts fast and needs nothing of onloop's imports."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

PASTA = "pasta"  # looked up on PATH; ONLOOP_PASTA names another (tests name a missing one)
INSTALL_HINT = (
    "a granted network needs pasta for a network of its own: install passt "
    "(Debian/Ubuntu: sudo apt-get install passt; Fedora: sudo dnf install passt)"
)
# No port forwarding either way (-t/-u into the sandbox, -T/-U to the host's loopback: "auto"
# would map every port the host listens on to the sandbox's 127.0.0.1), and the gateway address
# stays the real gateway instead of the host (--no-map-gw).
PASTA_OPTIONS = (
    "--config-net",
    "--quiet",
    "--foreground",
    "--no-map-gw",
    "-t",
    "none",
    "-u",
    "none",
    "-T",
    "none",
    "-U",
    "none",
)
READY_TIMEOUT_S = 10.0
LOOPBACK_WAIT_S = 2.0
_PR_SET_PDEATHSIG = 1


def pasta_binary() -> str | None:
    """The pasta program, or None when it is not installed."""
    name = os.environ.get("ONLOOP_PASTA") or PASTA
    found = shutil.which(name) if os.sep not in name else name
    return found if found and os.access(found, os.X_OK) else None


def launcher_argv(bwrap_argv: list[str], pass_fds: Iterable[int] = ()) -> list[str]:
    """The command line that runs `bwrap_argv` (a sandbox without --share-net) with a user-mode
    network; RuntimeError naming the package when pasta is missing (never the host's network)."""
    pasta = pasta_binary()
    if pasta is None:
        raise RuntimeError(INSTALL_HINT)
    argv = [sys.executable, "-I", os.path.abspath(__file__), "--pasta", pasta]
    for fd in pass_fds:
        argv += ["--fd", str(fd)]
    return [*argv, "--", *bwrap_argv]


# -- the host's own addresses -------------------------------------------------------------------
def host_addresses() -> list[str]:
    """Every address of this host except loopback (the sandbox has its own loopback)."""
    found: list[str] = []
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
    except OSError:
        lines = []
    for above, line in zip(lines, lines[1:], strict=False):
        if line.strip().startswith("/32 host LOCAL"):
            address = above.strip().removeprefix("|-- ")
            if not address.startswith("127.") and address not in found:
                found.append(address)
    try:
        rows = Path("/proc/net/if_inet6").read_text().splitlines()
    except OSError:
        rows = []
    for row in rows:
        raw = row.split()[0]
        address = ":".join(raw[i : i + 4] for i in range(0, 32, 4))
        if raw != "0" * 31 + "1" and address not in found:
            found.append(address)
    return found


def _own_addresses(pid: int) -> set[str]:
    """The addresses pasta gave the sandbox itself (a connection to them stays inside)."""
    own: set[str] = set()
    try:
        lines = Path(f"/proc/{pid}/net/fib_trie").read_text().splitlines()
        rows = Path(f"/proc/{pid}/net/if_inet6").read_text().splitlines()
    except OSError:
        return own
    for above, line in zip(lines, lines[1:], strict=False):
        if line.strip().startswith("/32 host LOCAL"):
            own.add(above.strip().removeprefix("|-- "))
    for row in rows:
        raw = row.split()[0]
        own.add(":".join(raw[i : i + 4] for i in range(0, 32, 4)))
    return own


def _block_host_addresses(pid: int) -> str | None:
    """Make the host's other addresses unreachable from the sandbox (pasta would otherwise open
    a connection to them from the host, reaching a service listening on 0.0.0.0); why not, or
    None."""
    own = _own_addresses(pid)
    wanted = [a for a in host_addresses() if _expanded(a) not in {_expanded(o) for o in own}]
    if not wanted:
        return None
    ip, nsenter = shutil.which("ip"), shutil.which("nsenter")
    if ip is None or nsenter is None:
        return "blocking the host's own addresses needs ip (iproute2) and nsenter (util-linux)"
    enter = [nsenter, f"--net=/proc/{pid}/ns/net"]
    if os.getuid() != 0:
        enter[1:1] = [f"--user=/proc/{pid}/ns/user", "--preserve-credentials"]
    for address in wanted:
        family, prefix = ("-6", "/128") if ":" in address else ("-4", "/32")
        route = [ip, family, "rule", "add", "to", address + prefix, "prohibit"]
        done = subprocess.run([*enter, *route], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"could not block host address {address}: {done.stderr.strip()}"
    return None


def _expanded(address: str) -> str:
    if ":" not in address:
        return address
    import ipaddress

    return ipaddress.ip_address(address).exploded


# -- the launcher -------------------------------------------------------------------------------
def _read_child_pid(fd: int, deadline: float) -> int | None:
    """bubblewrap's --info-fd JSON: the pid of the sandbox's first process."""
    data = b""
    while time.monotonic() < deadline:
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        data += chunk
        try:
            return int(json.loads(data)["child-pid"])
        except (ValueError, KeyError):
            continue
    return None


def _has_default_route(pid: int) -> bool:
    try:
        v4 = Path(f"/proc/{pid}/net/route").read_text().splitlines()[1:]
        v6 = Path(f"/proc/{pid}/net/ipv6_route").read_text().splitlines()
    except OSError:
        return False
    if any(line.split()[1:2] == ["00000000"] and line.split()[0] != "lo" for line in v4):
        return True
    return any(line.startswith("0" * 32 + " 00 ") and not line.endswith(" lo") for line in v6)


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _start_pasta(pasta: str, pid: int, log) -> subprocess.Popen:
    argv = [pasta, *PASTA_OPTIONS]
    if os.getuid() == 0:
        # As root pasta would drop to nobody before opening the namespace; it keeps uid 0 but
        # still drops its capabilities and isolates itself (passt's own hardening).
        argv += ["--runas", "0", "--netns", f"/proc/{pid}/ns/net"]
    else:  # the sandbox's user namespace is this user's: joining it grants the network's admin
        argv += ["--userns", f"/proc/{pid}/ns/user", "--netns", f"/proc/{pid}/ns/net"]
    return subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_die_with_parent
    )


def _loopback_configured(pid: int, deadline: float) -> None:
    """Wait (until `deadline`) for bubblewrap's own setup of the sandbox's loopback: it adds
    127.0.0.1 to `lo` right after making the namespace, while pasta (--config-net) configures
    `lo` too. Started together, bwrap's exclusive add can meet pasta's and fail ("loopback:
    Failed RTM_NEWADDR"), ending the sandbox before its command runs."""
    while time.monotonic() < deadline:
        try:
            table = Path(f"/proc/{pid}/net/fib_trie").read_text()
        except OSError:  # the sandbox is gone (or this kernel has no table): nothing to wait for
            return
        if "127.0.0.1\n" in table:
            return
        time.sleep(0.002)


def _attach(pasta: str, pid: int, log) -> tuple[subprocess.Popen | None, str | None]:
    """pasta linked to the sandbox's namespace and the host's addresses blocked; or why not."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    # At most LOOPBACK_WAIT_S: a bwrap that never adds the address gets pasta as before.
    _loopback_configured(pid, min(deadline, time.monotonic() + LOOPBACK_WAIT_S))
    link = _start_pasta(pasta, pid, log)
    while not _has_default_route(pid):
        if link.poll() is not None or time.monotonic() > deadline:
            link.kill()
            link.wait()
            log.seek(0)
            said = " ".join(log.read().decode(errors="replace").split())[-300:]
            return None, f"pasta could not link the sandbox to the network ({said or 'no route'})"
        time.sleep(0.01)
    problem = _block_host_addresses(pid)
    return link, problem


def launch(pasta: str, fds: list[int], bwrap_argv: list[str]) -> int:
    info_read, info_write = os.pipe()
    block_read, block_write = os.pipe()
    argv = [bwrap_argv[0], "--info-fd", str(info_write), "--block-fd", str(block_read)]
    argv += bwrap_argv[1:]
    sandbox = subprocess.Popen(argv, pass_fds=[*fds, info_write, block_read])
    os.close(info_write)
    os.close(block_read)
    for fd in fds:
        os.close(fd)
    signal.signal(signal.SIGTERM, lambda *_: sandbox.terminate())
    link = None
    with tempfile.TemporaryFile() as log:
        pid = _read_child_pid(info_read, time.monotonic() + READY_TIMEOUT_S)
        problem = "the sandbox did not start" if pid is None else None
        if pid is not None:
            link, problem = _attach(pasta, pid, log)
        if problem is not None:
            sandbox.kill()
            sandbox.wait()
            if link is not None:
                link.kill()
            print(f"onloop: the granted network could not start: {problem}", file=sys.stderr)
            return 125
        os.write(block_write, b"go")
        try:
            return sandbox.wait()
        finally:
            if link is not None:
                link.terminate()
                link.wait()


def main(args: list[str]) -> int:
    cut = args.index("--")
    options, bwrap_argv = args[:cut], args[cut + 1 :]
    pasta = options[options.index("--pasta") + 1]
    fds = [int(options[i + 1]) for i, o in enumerate(options) if o == "--fd"]
    return launch(pasta, fds, bwrap_argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
