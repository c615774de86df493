"""A user's own tool module whose tool starts a long-lived process, in many ways, and then ignores
the halt. Copied into a temp folder on sys.path by the tests (like a module of the user's own).

Every process it leaves carries the call's `tag` in its command line (`sleep 1000.<tag>`) or, for
a child that is only a fork of the worker (no exec), writes its pid and start time to `pids.txt`
in `folder`; tests/support/own_process_watch.py finds both in /proc."""

from __future__ import annotations

import _thread
import asyncio
import concurrent.futures
import multiprocessing
import os
import pty
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from onloop import ToolContext, tool

release = threading.Event()  # the test lets a tool that ignores the halt finish
SLEEP = shutil.which("sleep") or "/bin/sleep"
# A python child that ignores TERM and notes a tick in a file every 50 ms until killed.
TICKER = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "while True:\n"
    "    with open(sys.argv[2], 'a') as ticks: ticks.write('tick\\n')\n"
    "    time.sleep(0.05)\n"
)


def _note_pid(folder: str) -> None:
    """In a child that is only a fork: its pid and start time, for the test to find it."""
    # os-level calls only: a fork of a threaded process must not wait on a lock it copied
    stat = os.open(f"/proc/{os.getpid()}/stat", os.O_RDONLY)
    start = os.read(stat, 4096).rsplit(b")", 1)[1].split()[19].decode()
    os.close(stat)
    pids = os.open(os.path.join(folder, "pids.txt"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(pids, f"{os.getpid()} {start}\n".encode())
    os.close(pids)


def _linger(folder: str) -> None:
    _note_pid(folder)
    time.sleep(1000)


def _python_daemon(folder: str) -> None:
    """The classic double fork, in Python and without exec: the grandchild is a copy of the
    worker in a session of its own whose parent has gone."""
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    try:
        os.setsid()
        if os.fork() == 0:
            _linger(folder)
    finally:
        os._exit(0)


async def _asyncio_child(tag: str) -> None:
    process = await asyncio.create_subprocess_exec(SLEEP, tag)
    await process.wait()


def _sh(command: str) -> None:
    subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL)


def _in_thread(start: Callable[[], object]) -> None:
    """A thread the tool starts itself, which starts the process (the call's thread goes on)."""
    threading.Thread(target=start, daemon=True).start()


class _Launcher(threading.Thread):
    """A thread subclass whose own run() starts the process."""

    def __init__(self, tag: str) -> None:
        super().__init__(daemon=True)
        self.tag = tag

    def run(self) -> None:
        subprocess.Popen([SLEEP, self.tag])


# Made when the module is imported, before any call: its threads start at its first submit.
_SHARED_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2)


async def _in_executor(tag: str) -> None:
    await asyncio.get_running_loop().run_in_executor(None, subprocess.Popen, [SLEEP, tag])


STARTS: dict[str, Callable[[str, str], object]] = {
    "popen": lambda tag, folder: subprocess.Popen([SLEEP, tag]),
    "run": lambda tag, folder: subprocess.run([SLEEP, tag]),  # blocks the tool's thread
    "shell-true": lambda tag, folder: subprocess.Popen(f"{SLEEP} {tag}", shell=True),
    "os-system": lambda tag, folder: os.system(f"{SLEEP} {tag}"),  # blocks too
    "os-system-background": lambda tag, folder: os.system(
        f"setsid {SLEEP} {tag} </dev/null >/dev/null 2>&1 &"
    ),
    "asyncio": lambda tag, folder: asyncio.run(_asyncio_child(tag)),
    "posix-spawn": lambda tag, folder: os.posix_spawn(SLEEP, [SLEEP, tag], os.environ),
    "posix-spawnp": lambda tag, folder: os.posix_spawnp("sleep", ["sleep", tag], dict(os.environ)),
    "multiprocessing-fork": lambda tag, folder: (
        multiprocessing.get_context("fork")
        .Process(target=_linger, args=(folder,), daemon=True)
        .start()
    ),
    # a fresh interpreter (fork and exec, underneath neither Popen nor os.fork), per Process
    "multiprocessing-spawn": lambda tag, folder: (
        multiprocessing.get_context("spawn")
        .Process(target=_linger, args=(folder,), daemon=True)
        .start()
    ),
    # forked by multiprocessing's fork server (a process every call shares), not by the call
    "multiprocessing-forkserver": lambda tag, folder: (
        multiprocessing.get_context("forkserver")
        .Process(target=_linger, args=(folder,), daemon=True)
        .start()
    ),
    "python-double-fork": lambda tag, folder: _python_daemon(folder),
    "setsid-and-nohup": lambda tag, folder: _sh(
        f"setsid {SLEEP} {tag} </dev/null >/dev/null 2>&1 & "
        f"nohup {SLEEP} {tag} </dev/null >/dev/null 2>&1 &"
    ),
    "double-fork": lambda tag, folder: _sh(
        f"( ( setsid sh -c \"trap '' TERM HUP; exec {SLEEP} {tag}\" </dev/null >/dev/null 2>&1"
        " & ) & )"
    ),
    "ignores-term": lambda tag, folder: subprocess.Popen(
        [sys.executable, "-c", TICKER, tag, os.path.join(folder, "ticks.txt")]
    ),
    "cleared-environment": lambda tag, folder: _sh(f"env -i {SLEEP} {tag} & wait"),
    # a pseudo-terminal's child (os.forkpty underneath), the tool's thread copying its output
    "pty-spawn": lambda tag, folder: pty.spawn([SLEEP, tag]),
    # threads the tool starts itself: the process starts there, not in the call's thread
    "thread": lambda tag, folder: _in_thread(lambda: subprocess.Popen([SLEEP, tag])),
    "thread-os-system": lambda tag, folder: _in_thread(lambda: os.system(f"{SLEEP} {tag}")),
    "thread-subclass": lambda tag, folder: _Launcher(tag).start(),
    "timer": lambda tag, folder: threading.Timer(0.01, subprocess.Popen, [[SLEEP, tag]]).start(),
    "thread-pool": lambda tag, folder: concurrent.futures.ThreadPoolExecutor(1).submit(
        subprocess.Popen, [SLEEP, tag]
    ),
    "shared-thread-pool": lambda tag, folder: _SHARED_POOL.submit(subprocess.Popen, [SLEEP, tag]),
    "asyncio-executor": lambda tag, folder: asyncio.run(_in_executor(tag)),
    # the low-level thread start under threading (no Thread object, no Thread.start)
    "low-level-thread": lambda tag, folder: _thread.start_new_thread(
        subprocess.Popen, ([SLEEP, tag],)
    ),
    "thread-in-thread": lambda tag, folder: _in_thread(
        lambda: _in_thread(lambda: subprocess.Popen([SLEEP, tag]))
    ),
    "thread-fork": lambda tag, folder: _in_thread(
        lambda: (
            multiprocessing.get_context("fork")
            .Process(target=_linger, args=(folder,), daemon=True)
            .start()
        )
    ),
}


@tool(risk="low")
def launch_process(how: str, tag: str, notes: str, wait: bool = True) -> str:
    """Starts a long-lived process and, unless told not to wait, ignores the halt.

    Args:
        how: Which way to start it (a key of STARTS).
        tag: Goes on the process's command line.
        notes: The folder where children that are only forks note their pids.
        wait: Block (ignoring the halt) after starting it; False returns at once.
    """
    STARTS[how](tag, notes)
    if wait:
        release.wait(120)
    return f"started {how}"


@tool(risk="low")
def keep_launching(tag: str, notes: str) -> str:
    """Starts a process every 50 ms, ignoring the halt, and notes what became of each try.

    Args:
        tag: Goes on the processes' command lines.
        notes: The folder where the tries are noted (tries.txt).
    """
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not release.is_set():
        try:
            subprocess.Popen([SLEEP, tag])
            note = "started"
        except Exception as exc:  # what a tool that ignores the halt sees once it has ended
            note = f"refused: {type(exc).__name__}: {exc}"
        with open(os.path.join(notes, "tries.txt"), "a") as tries:
            tries.write(note + "\n")
        time.sleep(0.05)
    return "gave up"


@tool(risk="low")
def launch_then_stop(tag: str, tool_context: ToolContext | None = None) -> str:
    """Starts a process and stops it itself when the halt comes (a well-behaved tool).

    Args:
        tag: Goes on the process's command line.
    """
    assert tool_context is not None
    process = subprocess.Popen([SLEEP, tag])
    tool_context.wait(120)
    process.terminate()
    process.wait()
    return "stopped my own child"
