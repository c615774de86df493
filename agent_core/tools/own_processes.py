"""The processes a call of the user's own Python tool starts end with the call: on a halt (or the
worker's stop) TERM at once, KILL after a grace; and when the call returns, whatever it left
running, since onloop cannot oversee a process once its call is over.

Python cannot kill the tool's thread, but it can see every process the thread starts. While a
call runs, the ways Python starts a process (subprocess.Popen and all built on it, such as
subprocess.run and asyncio's subprocesses; os.system; os.posix_spawn(p); os.fork and
os.forkpty, and so multiprocessing's fork) note the new process's pid and start time and give
it the call's mark in its environment, which its descendants inherit even after they leave its
process group or its parent dies. A fork that does not exec cannot show a new environment in
/proc, so it notes itself on a pipe the call reads. process_family finds them all at the end.

The call is known through a context variable: its thread and what it hands its context to
(asyncio tasks in asyncio.run, asyncio.to_thread), the threads it starts and the tasks it hands
to a thread pool count; other calls' threads, the sandboxed shell's own calls, MCP servers and
the worker's threads do not. Once the call ends, a process
it would still start is refused. Nothing here runs for built-in tools: the hooks are installed
when a user's module is loaded and do nothing outside a user tool's call."""

from __future__ import annotations

import _thread
import concurrent.futures
import inspect
import multiprocessing.popen_forkserver
import multiprocessing.util
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from agent_core.tools import process_family
from agent_core.tools.errors import ToolCancelled

MARK = "ONLOOP_TOOL_CALL"  # in the environment of every process a user tool's call starts
TERM_GRACE_S = 0.5  # between TERM and KILL
ENDED = "this tool call has ended (halted or returned): onloop starts no process for it any more"


class CallProcesses:
    """One call of a user's tool: the processes it started and how they end."""

    def __init__(self) -> None:
        self.mark = uuid.uuid4().hex
        self._owner = os.getpid()  # the worker; a fork of it holds a copy that nobody reads
        self.started = False  # whether it started any process (else there is nothing to end)
        self.closed = False
        self._known: set[tuple[int, int]] = set()
        self._notes: tuple[int, int] | None = None  # the pipe forks without exec note themselves on
        self._starting = threading.RLock()  # held by each start; closing waits for them
        self._term_sent: float | None = None
        self._running = False  # whether any of its processes ran when TERM went out

    @contextmanager
    def marking(self) -> Iterator[None]:
        """While inside, processes started here (and in what inherits this context) are the call's."""
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)

    @contextmanager
    def starting(self) -> Iterator[None]:
        """Around one start: refused once the call has ended; the sweep waits for it otherwise."""
        with self._starting:
            if self.closed:
                raise ToolCancelled(ENDED)
            self.started = True
            yield

    def env(self, base: Mapping | None) -> dict:
        env: dict = dict(os.environ if base is None else base)
        env[MARK] = self.mark
        return env

    def record(self, pid: int) -> None:
        start = process_family.start_time(pid)
        if start is None:
            return
        if os.getpid() == self._owner:
            self._known.add((pid, start))
        else:  # in a fork of the call (a daemon's first fork): noted before that fork goes on
            self._note(pid, start)

    def terminate(self) -> None:
        """The halt reached the call: no new process, and TERM to what runs (KILL follows)."""
        self._close()
        if self.started and self._term_sent is None:
            self._term_sent = time.monotonic()
            running = self._family()
            self._running = bool(running)
            process_family.send(running, signal.SIGTERM)

    def end(self) -> None:
        """The call is over (returned, or no longer waited for): end every process it left."""
        self.terminate()
        # None was running once it could start no more: none can appear (a descendant needs a
        # live ancestor of the call), so one look at /proc was all it cost.
        if self._running and self._term_sent is not None:
            process_family.wait_gone(self._family, self._term_sent + TERM_GRACE_S)
            process_family.kill_all(self._family)
        if self._notes is not None:
            for fd in self._notes:
                os.close(fd)
            self._notes = None

    def _close(self) -> None:
        with self._starting:  # a start under way finishes first, so the sweep sees it
            self.closed = True

    def _family(self) -> dict[int, int]:
        self._read_notes()
        return process_family.family(self._known, f"{MARK}={self.mark}".encode())

    # -- forks without exec --------------------------------------------------------------------

    def before_fork(self) -> None:
        if self._notes is None:
            self._notes = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)

    def in_forked_child(self) -> None:
        os.environ[MARK] = self.mark  # what this fork later execs carries the mark
        start = process_family.start_time(os.getpid())
        if start is not None:
            self._note(os.getpid(), start)

    def _note(self, pid: int, start: int) -> None:
        """On the pipe the call reads. A fork also notes its own forks itself, at once: under
        load the new process may not run its own note before the one that forked it exits and
        the call returns (a double fork's grandchild, then found by nothing)."""
        if self._notes is None:
            return
        try:
            os.write(self._notes[1], f"{pid} {start}\n".encode())
        except OSError:
            pass  # the call has ended and closed its end: the sweep has run

    def _read_notes(self) -> None:
        if self._notes is None:
            return
        data = b""
        try:
            while chunk := os.read(self._notes[0], 65536):
                data += chunk
        except BlockingIOError:
            pass
        for line in data.splitlines():
            pid, start = line.split()
            self._known.add((int(pid), int(start)))


_current: ContextVar[CallProcesses | None] = ContextVar("onloop_call_processes", default=None)


# -- the hooks ------------------------------------------------------------------------------------

_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Hook the ways Python starts a process, once per process. Called before a user's tool
    module is imported, so a name it takes from os (`from os import system`) is the hooked one."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
        popen: Any = subprocess.Popen
        popen._execute_child = _hooked_execute_child(popen._execute_child)
        os.system = _hooked_system(os.system, os.posix_spawn)
        os.posix_spawn = _hooked_spawn(os.posix_spawn)
        os.posix_spawnp = _hooked_spawn(os.posix_spawnp)
        os.fork = _hooked_fork(os.fork, lambda pid: pid)
        os.forkpty = _hooked_fork(os.forkpty, lambda pid_fd: pid_fd[0])
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
        threading.Thread.start = _hooked_thread_start(threading.Thread.start)  # type: ignore[method-assign]
        # the low-level start under threading (threading keeps its own reference to it)
        _thread.start_new_thread = _hooked_new_thread(_thread.start_new_thread)
        executor: Any = concurrent.futures.ThreadPoolExecutor
        executor.submit = _hooked_submit(executor.submit)
        # multiprocessing's spawn method forks and execs below Popen and os.fork; its forkserver
        # method has a shared server fork the child, which it names to the caller
        mp_util: Any = multiprocessing.util
        mp_util.spawnv_passfds = _hooked_spawnv_passfds(mp_util.spawnv_passfds)
        served: Any = multiprocessing.popen_forkserver.Popen
        served._launch = _hooked_served_launch(served._launch)


def _hooked_thread_start(original: Callable[[threading.Thread], None]) -> Callable:
    """A thread started during a call is the call's (a Timer, a subclass's run(), a thread a
    thread of the call started): what it starts is noted as the call's, and refused once the
    call has ended. Outside a call, nothing changes."""

    def start(self: threading.Thread) -> None:
        call = _current.get()
        if call is not None:
            run = self.run  # bound now: a subclass's own run() too
            self.run = lambda: _as_call(call, run)  # type: ignore[method-assign]
        original(self)

    return start


def _hooked_new_thread(original: Callable[..., int]) -> Callable[..., int]:
    """`_thread.start_new_thread(fn, args)` during a call: fn runs as the call's, as a
    threading.Thread's run() does."""

    def start_new_thread(function: Callable[..., Any], args: tuple, kwargs: Any = None) -> int:
        call = _current.get()
        if call is None:
            return original(function, args, *([kwargs] if kwargs is not None else []))
        return original(_as_call, (call, function, *args), kwargs or {})

    return start_new_thread


def _hooked_submit(original: Callable[..., Any]) -> Callable[..., Any]:
    """A task handed to a thread pool is the call's that handed it over, whichever thread runs
    it: a pool made before the call (its threads carry no call, or an earlier one) included;
    asyncio's run_in_executor goes through here too. A task submitted outside any call runs as
    no call's, even on a thread an earlier call started."""

    def submit(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return original(self, _as_call, _current.get(), fn, *args, **kwargs)

    return submit


def _as_call(call: CallProcesses | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    token = _current.set(call)
    try:
        return fn(*args, **kwargs)
    finally:
        _current.reset(token)


def _hooked_execute_child(original: Callable) -> Callable:
    signature = inspect.signature(original)

    def _execute_child(self: subprocess.Popen, *args: Any, **kwargs: Any) -> None:
        call = _current.get()
        if call is None:
            return original(self, *args, **kwargs)
        with call.starting():
            bound = signature.bind(self, *args, **kwargs)
            bound.arguments["env"] = call.env(bound.arguments["env"])
            original(*bound.args, **bound.kwargs)
            call.record(self.pid)
        return None

    return _execute_child


def _hooked_spawn(original: Callable[..., int]) -> Callable[..., int]:
    def spawn(path: Any, argv: Any, env: Mapping | None = None, *args: Any, **kwargs: Any) -> int:
        call = _current.get()
        if call is None:
            return original(path, argv, env, *args, **kwargs)
        with call.starting():
            pid = original(path, argv, call.env(env), *args, **kwargs)
            call.record(pid)
        return pid

    return spawn


def _hooked_spawnv_passfds(original: Callable[..., int]) -> Callable[..., int]:
    """A multiprocessing Process started with the spawn method during a call is the call's (its
    command line names --multiprocessing-fork). The helpers every call shares, the resource
    tracker and the fork server, that this also starts are not: they serve later calls too."""

    def spawnv_passfds(path: Any, args: Any, passfds: Any) -> int:
        call = _current.get()
        if call is None or "--multiprocessing-fork" not in args:
            return original(path, args, passfds)
        with call.starting():
            pid = original(path, args, passfds)
            call.record(pid)
        return pid

    return spawnv_passfds


def _hooked_served_launch(original: Callable[..., None]) -> Callable[..., None]:
    """A multiprocessing Process started with the forkserver method during a call is the call's:
    the fork server (shared, no call's) forks it and names its pid, noted here. Its children are
    found through it in /proc while it lives (the server's environment has no call's mark)."""

    def _launch(self: Any, process_obj: Any) -> None:
        call = _current.get()
        if call is None:
            return original(self, process_obj)
        with call.starting():
            original(self, process_obj)
            call.record(self.pid)
        return None

    return _launch


def _hooked_system(original: Callable[[Any], int], spawn: Callable[..., int]) -> Callable:
    def system(command: Any) -> int:
        call = _current.get()
        if call is None:
            return original(command)
        # C's system() gives the shell the worker's environment, without the mark: the same
        # through posix_spawn, with it. Same wait status as os.system returns.
        with call.starting():
            pid = spawn("/bin/sh", ["sh", "-c", command], call.env(None))
            call.record(pid)
        return os.waitpid(pid, 0)[1]

    return system


def _hooked_fork(original: Callable[[], Any], pid_of: Callable[[Any], int]) -> Callable[[], Any]:
    def fork() -> Any:
        call = _current.get()
        if call is None:
            return original()
        with call.starting():
            result = original()
            if pid_of(result):  # in the parent; the child noted itself (_after_fork_in_child)
                call.record(pid_of(result))
        return result

    return fork


def _before_fork() -> None:
    call = _current.get()
    if call is not None:
        call.before_fork()


def _after_fork_in_child() -> None:
    call = _current.get()
    if call is not None:
        call.in_forked_child()
