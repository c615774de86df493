"""Run a shell command in a workspace, in the sandbox: bounded output, time and resources, and
ended on a halt."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from agent_core.tools.process_family import marked
from agent_core.tools.protected import Guard, Protected, guard, sweep
from agent_core.tools.sandbox import (
    Limits,
    PidsCgroup,
    SandboxUnavailable,
    child_setup,
    sandbox_argv,
    sandbox_env,
    sandbox_status,
)

OUTPUT_CAP = 10_000  # bytes kept of stdout and of stderr: 20,000 in all
_READ_CHUNK = 65_536
_DRAIN_SECONDS = 5.0  # how long to wait for output after the command's group is gone
_CANCEL_POLL_S = 0.05  # how often a running command looks at its cancel event
_TERM_GRACE_S = 0.5  # between TERM and KILL when a halt cancels a command
_CALL_MARK = "ONLOOP_SHELL_CALL"  # in an unconfined command's environment: finds its strays
_STRAY_ROUNDS = 200  # kill rounds for processes that left the group (each one sweep of them)


class Budget(Protocol):
    """What a running command is measured against (the run's disk budget)."""

    def exceeded(self) -> str | None: ...

    def interval(self) -> float: ...


@dataclass(frozen=True)
class ShellResult:
    exit_code: int
    stdout: str
    stderr: str
    stdout_bytes: int  # the full size, even where the text was cut at the cap
    stderr_bytes: int
    timed_out: bool
    cancelled: bool = False  # ended by its cancel event (a halt, or the worker stopping)
    over_budget: str | None = None  # why its budget (the run's disk budget) stopped it
    removed: tuple[str, ...] = ()  # onloop's own files the command created, removed after it


def run_command(
    command: str,
    *,
    cwd: Path,
    timeout_s: float,
    cap: int = OUTPUT_CAP,
    cancel: threading.Event | None = None,
    confined: bool = True,
    network: bool = False,
    limits: Limits = Limits(),
    budget: Budget | None = None,
    protected: Protected | None = None,
) -> ShellResult:
    """Run `command` with /bin/sh in `cwd`, in the sandbox unless `confined` is False (an
    operator's explicit opt-in); end its processes on timeout, on `cancel`, and when it exits,
    so a background process cannot outlive the call (nor keep its pipes open). `budget` is
    asked now and then while it runs (the disk budget): a reason it gives stops the command.

    onloop's own files in `cwd` are bound read-only (with the folders above them pinned), and
    any the command creates where onloop would read one is removed after it.

    SandboxUnavailable when confined and the sandbox cannot start here.
    """
    plan = guard(cwd, protected or Protected())
    argv, fds, cgroup = _command_line(command, cwd, confined, network, limits, plan)
    env = sandbox_env(cwd)  # even bwrap itself never holds the worker's environment
    mark = None if confined else f"{_CALL_MARK}={uuid.uuid4().hex}"
    if mark is not None:
        # Unconfined, a child may leave the process group (setsid, a double fork, nohup): no
        # sandbox dies with the call then. Its cgroup, or this mark it inherits, still finds it.
        env[_CALL_MARK] = mark.split("=", 1)[1]
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            pass_fds=fds,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so one killpg reaches every child
            preexec_fn=child_setup(limits, cgroup),
        )
    except BaseException:
        if cgroup is not None:
            cgroup.remove()
        raise
    finally:
        for fd in fds:
            os.close(fd)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _Capture(proc.stdout, cap), _Capture(proc.stderr, cap)
    timed_out = cancelled = False
    over: str | None = None
    try:
        timed_out, cancelled, over = _wait(proc, timeout_s, cancel, budget)
    finally:
        _end_group(proc, graceful=cancelled)
        _end_strays(cgroup, mark)
        if cgroup is not None:
            cgroup.remove()
    out.join(_DRAIN_SECONDS)
    err.join(_DRAIN_SECONDS)
    removed = tuple(sweep(plan))
    return ShellResult(
        exit_code=proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        stdout_bytes=out.total,
        stderr_bytes=err.total,
        timed_out=timed_out,
        cancelled=cancelled,
        over_budget=over,
        removed=removed,
    )


def _command_line(
    command: str, cwd: Path, confined: bool, network: bool, limits: Limits, plan: Guard
) -> tuple[list[str], list[int], PidsCgroup | None]:
    if not confined:
        # No sandbox: the pids cgroup (where the worker may make one) holds every process the
        # command starts, wherever it moves in the process tree, so all of them can be ended.
        return ["/bin/sh", "-c", command], [], PidsCgroup.create(limits.processes)
    status = sandbox_status()
    if not status.available:
        raise SandboxUnavailable(status.reason)
    argv, fds = sandbox_argv(
        ["/bin/sh", "-c", command],
        workspace=cwd,
        network=network,
        limits=limits,
        read_only=plan.bind_args(),
    )
    return argv, fds, PidsCgroup.create(limits.processes)


def _wait(
    proc: subprocess.Popen,
    timeout_s: float,
    cancel: threading.Event | None,
    budget: Budget | None = None,
) -> tuple[bool, bool, str | None]:
    """Wait for the command; (timed out, cancelled, why its budget stopped it)."""
    deadline = time.monotonic() + timeout_s
    polled = cancel is not None or budget is not None
    next_check = time.monotonic() + (budget.interval() if budget is not None else 0.0)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True, False, None
        try:
            proc.wait(timeout=min(left, _CANCEL_POLL_S) if polled else left)
            return False, False, None
        except subprocess.TimeoutExpired:
            if cancel is not None and cancel.is_set():
                return False, True, None
        if budget is not None and time.monotonic() >= next_check:
            reason = budget.exceeded()
            if reason is not None:
                return False, False, reason
            next_check = time.monotonic() + budget.interval()


def _end_group(proc: subprocess.Popen, *, graceful: bool) -> None:
    """End the command's process group: TERM first when it was cancelled, KILL after a grace."""
    if graceful and proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=_TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc.pid, signal.SIGKILL)  # also reaches what the shell left behind
    proc.wait()


def _end_strays(cgroup: PidsCgroup | None, mark: str | None) -> None:
    """Kill what is left of the command outside its process group: every process still in its
    cgroup and, unconfined, every process that carries its mark. Rounds until none is found (a
    process forking meanwhile is found in the next round)."""
    if cgroup is None and mark is None:
        return
    for _ in range(_STRAY_ROUNDS):
        left = cgroup.members() if cgroup is not None else set()
        if mark is not None:
            left |= marked(mark.encode())
        left.discard(os.getpid())
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


class _Capture(threading.Thread):
    """Drain one pipe: keep the first `cap` bytes, count the rest, so a chatty command never
    blocks on a full pipe and never fills memory."""

    def __init__(self, pipe: IO[bytes], cap: int) -> None:
        super().__init__(daemon=True)
        self._pipe, self._cap = pipe, cap
        self._kept = bytearray()
        self._lock = threading.Lock()
        self.total = 0
        self.start()

    def run(self) -> None:
        try:
            while chunk := self._pipe.read1(_READ_CHUNK):  # type: ignore[attr-defined]
                with self._lock:
                    room = self._cap - len(self._kept)
                    if room > 0:
                        self._kept += chunk[:room]
                    self.total += len(chunk)
        except (OSError, ValueError):
            pass  # the pipe was closed under us; keep what arrived
        finally:
            self._pipe.close()

    def text(self) -> str:
        with self._lock:
            return bytes(self._kept).decode("utf-8", errors="replace")
