"""Find and end a tool call's processes, read from /proc: the ones it started (known by pid and
start time), every process that carries its mark in its environment (a child that left its
process group, or whose parent is gone, still inherited it) and all their descendants.

A pid can be reused the moment its process is reaped, so a signal goes through a pidfd opened
before the process's start time is checked: a stranger that took the pid is never signalled."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable

Known = Iterable[tuple[int, int]]  # (pid, start time in clock ticks since boot)
# Kill rounds, each a fresh look (a process forking meanwhile is found in the next), for at most
# this long: one in uninterruptible sleep (a hung disk) dies only when it leaves it.
KILL_FOR_S = 5.0
_POLL_S = 0.01
_STOP_WAIT_S = 0.2


def _stat(pid: int | str) -> list[bytes] | None:
    """/proc/<pid>/stat's fields from the state on (the name before them may hold anything)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _live(fields: list[bytes] | None) -> bool:
    return fields is not None and fields[0] not in (b"Z", b"X")


def start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot); None when it is gone or a zombie."""
    fields = _stat(pid)
    return int(fields[19]) if fields is not None and _live(fields) else None


def _table() -> dict[int, tuple[int, int]]:
    """Every live process: pid -> (parent pid, start time)."""
    table: dict[int, tuple[int, int]] = {}
    for name in _pids():
        fields = _stat(name)
        if fields is not None and _live(fields):
            table[int(name)] = (int(fields[1]), int(fields[19]))
    return table


def _pids() -> list[str]:
    try:
        return [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def marked(mark: bytes) -> set[int]:
    """Live processes whose environment holds `mark` (NAME=value), as /proc shows them."""
    found: set[int] = set()
    for name in _pids():
        environ = _environ(name)
        if environ is not None and mark in environ.split(b"\0"):
            found.add(int(name))
    return found


_EXEC_READS = 5  # looks at an empty environment before taking it as empty
_EXEC_PAUSE_S = 0.002


def _environ(name: str) -> bytes | None:
    """/proc/<pid>/environ; None when it cannot be read. A process in the middle of an exec
    shows an empty environment for a moment (the kernel sets the new one up after the new
    memory map): under load a call's `sh -c '… &'` child, exec'ing, was missed and left running.
    An empty one of a process that is not a kernel thread is read again, briefly."""
    data = b""
    for _ in range(_EXEC_READS):
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                data = environ.read()
        except OSError:
            return None
        if data or not _user_process(name):
            return data
        time.sleep(_EXEC_PAUSE_S)
    return data


def _user_process(name: str) -> bool:
    """Live and not a kernel thread (kthreadd, pid 2, and its children have no environment)."""
    fields = _stat(name)
    return _live(fields) and name != "2" and fields is not None and int(fields[1]) != 2


def family(known: Known, mark: bytes) -> dict[int, int]:
    """The call's live processes now (pid -> start time): the known ones still alive as
    themselves, the marked ones, and the descendants of both."""
    table = _table()
    found = {pid: start for pid, start in known if table.get(pid, (0, -1))[1] == start}
    found.update({pid: table[pid][1] for pid in marked(mark) if pid in table})
    found.pop(os.getpid(), None)  # never the worker: a fork of it notes itself, not its parent
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found[child] = table[child][1]
                stack.append(child)
    return found


def send(processes: dict[int, int], sig: int) -> None:
    for pid, start in processes.items():
        _signal(pid, start, sig)


def _signal(pid: int, start: int, sig: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except OSError:  # no pidfds (a kernel before 5.3): check, then signal by pid
        if start_time(pid) == start:
            _kill(pid, sig)
        return
    try:
        if start_time(pid) == start:  # the pidfd holds the very process that was checked
            signal.pidfd_send_signal(fd, sig)
    except OSError:
        pass  # it ended meanwhile
    finally:
        os.close(fd)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _wait_stopped(processes: dict[int, int]) -> None:
    """Until each has stopped (no fork of theirs is still under way), or a short while: one in
    uninterruptible sleep stops only when it leaves it."""
    until = time.monotonic() + _STOP_WAIT_S
    while time.monotonic() < until:
        if all(_stopped(_stat(pid)) for pid in processes):
            return
        time.sleep(_POLL_S / 10)


def _stopped(fields: list[bytes] | None) -> bool:
    return fields is None or fields[0] in (b"T", b"t", b"Z", b"X")


def wait_gone(find: Callable[[], dict[int, int]], until: float) -> bool:
    """Whether every process `find` names ends before the monotonic time `until`."""
    while find():
        if time.monotonic() >= until:
            return False
        time.sleep(_POLL_S)
    return True


def kill_all(find: Callable[[], dict[int, int]]) -> None:
    """KILL every process `find` names, frozen first (SIGSTOP) until no new one shows up, so a
    child forked meanwhile is found while its parent still holds it, not after it was orphaned
    and lost its last link to the call."""
    deadline = time.monotonic() + KILL_FOR_S
    while time.monotonic() < deadline:
        frozen = find()
        if not frozen:
            return
        while True:
            send(frozen, signal.SIGSTOP)
            _wait_stopped(frozen)
            again = find()
            if again.keys() <= frozen.keys():
                break
            frozen.update(again)
        send(frozen, signal.SIGKILL)
        time.sleep(_POLL_S)
