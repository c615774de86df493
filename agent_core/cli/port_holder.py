"""Who holds a port `onloop up` wants: a leftover onloop dashboard (an earlier `up` that did not
stop cleanly, e.g. a release without parent-death signals), another `up`'s dashboard, or another
program, named with its pid and how to stop it. Linux /proc; elsewhere only "in use"."""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from agent_core.cli.errors import fail
from storage.engine import DATABASE_URL_ENV, shown_url

DASHBOARD_MARK = ("dashboard", "app.py")  # the last two parts of the dashboard's script path


@dataclass(frozen=True)
class Holder:
    """A process listening on the port."""

    pid: int
    command: list[str]
    parent: list[str]  # its parent's command line ([] when it is gone or unreadable)
    parent_pid: int | None
    store: str | None  # for an onloop dashboard: the store it serves, if this user may read it

    @property
    def is_dashboard(self) -> bool:
        return any(Path(arg).parts[-2:] == DASHBOARD_MARK for arg in self.command) and any(
            "streamlit" in arg or "agent_core" in arg for arg in self.command
        )

    @property
    def owned_by_up(self) -> bool:
        """Its parent is a running `onloop up` (of another store: this one's lock is ours)."""
        return "agent_core" in " ".join(self.parent) and "up" in self.parent


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A":  # 0A: LISTEN
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _command(pid: int | str) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _store_of(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for entry in raw.split(b"\0"):
        name, _, value = entry.partition(b"=")
        if name.decode(errors="replace") == DATABASE_URL_ENV:
            return shown_url(value.decode("utf-8", "replace"))  # never a password
    return None


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def who_holds(port: int) -> Holder | None:
    """The process listening on `port` (any address), or None when this user cannot see it."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not sockets:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:  # another user's process, or gone meanwhile
            continue
        if links & sockets:
            pid = int(entry.name)
            parent = _parent(pid)
            command = _command(parent) if parent else []
            return Holder(pid, _command(pid), command, parent, _store_of(pid))
    return None


def _shown(command: list[str], limit: int = 80) -> str:
    words = [Path(command[0]).name, *command[1:]] if command else ["?"]
    text = " ".join(" ".join(words).split())  # one line, whatever the arguments hold
    return text if len(text) <= limit else text[: limit - 1] + "…"


def port_free(host: str, port: int) -> bool:
    """Whether the dashboard can bind host:port; False when something holds the port. A host
    that is no address of this machine is refused here: it was reported as the port in use."""
    fix = "pass --host an address of this machine, e.g. 127.0.0.1"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as error:  # socket.gaierror: no such name
        raise fail(f"--host {host} names no address ({error}); {fix}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            if error.errno == errno.EACCES:
                raise fail(
                    f"port {port} needs privileges; pick one above 1023 with --port"
                ) from None
            raise fail(f"cannot serve on {host}: {error.strerror or error}; {fix}") from None
    return True


def port_in_use(host: str, port: int) -> str:
    """Why `up` cannot serve `port`, naming the holder and how to stop it (shown through inert
    by the caller: a command line is anyone's words)."""
    holder = who_holds(port)
    where = f"port {port} on {host}"
    if holder is None:
        return f"{where} is in use; pick another with --port"
    serving = f", serving {holder.store}" if holder.store else ""
    if holder.is_dashboard and holder.owned_by_up:
        return (
            f"{where} is held by the dashboard of another onloop up (pid {holder.parent_pid}, "
            f"its dashboard pid {holder.pid}{serving}); pick another with --port"
        )
    if holder.is_dashboard:
        return (
            f"{where} is held by an onloop dashboard (pid {holder.pid}{serving}) left by an "
            f"earlier onloop up that did not stop cleanly; stop it with kill {holder.pid} and "
            "start again, or pick another with --port"
        )
    return (
        f"{where} is in use by pid {holder.pid} ({_shown(holder.command)}); pick another with "
        f"--port, or stop that program (kill {holder.pid})"
    )
