"""`--processes N`: a supervisor that runs N `onloop worker` processes sharing the runs.

Each child is an ordinary worker (its own worker id, its own `--concurrency`) that claims runs
from the store like any other; the store's atomic claims keep every run to one of them. The
supervisor forwards SIGINT/SIGTERM (children stop cleanly and queue their runs again), restarts
a child that dies unexpectedly after a backoff, and children die with it (PR_SET_PDEATHSIG), so
a killed supervisor leaves no worker driving runs unsupervised.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger("onloop.worker_pool")

SUPERVISOR_ENV = "ONLOOP_SUPERVISOR_PID"  # set in a child: the pid it must not outlive
USAGE_EXIT = 2  # a child that exits 2 met a user error (bad option, policy): restarting won't help
STOP_GRACE_S = 30.0  # a stopping child finishes its runs' current writes and queues them again
STABLE_S = 60.0  # a child that lived this long had no crash loop: its backoff starts over
MAX_BACKOFF_S = 30.0
NEWER_STORE_EXIT = 3  # the store is a newer onloop's (storage.StoreNewer): no restart helps
STORE_CHANGED_EXIT = 4  # the store was deleted or replaced (storage.StoreChanged): nor here
PR_SET_PDEATHSIG = 1


# A child's exit that no restart mends: the pool stops and exits with the same code.
FINAL = {
    NEWER_STORE_EXIT: "the store is newer than it",
    STORE_CHANGED_EXIT: "the store was deleted or replaced",
}


class ProcessesError(ValueError):
    """A --processes value that is not a count of processes."""


MOST_PROCESSES = 256


def parse_processes(value: str | int) -> int:
    """`--processes`: a count of at least 1, or `auto` / 0 for one per CPU this process may use."""
    text = str(value).strip().lower()
    if text in ("auto", "0"):
        return cpu_count()
    try:
        count = int(text)
    except ValueError:
        raise ProcessesError(
            f"--processes takes a number of worker processes or 'auto', not {value!r}"
        ) from None
    if count < 0:
        raise ProcessesError(
            f"--processes must be 1 or more (or 0 / 'auto' for one per CPU), not {count}"
        )
    if count > MOST_PROCESSES:  # a slip of the keyboard would start them all, one by one
        raise ProcessesError(f"--processes must be at most {MOST_PROCESSES}, not {count}")
    return count


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def die_with_supervisor() -> None:
    """In a child: ask the kernel for SIGTERM when the supervisor dies (and leave at once if it
    is already gone), so no worker outlives the process that started it."""
    expected = os.environ.pop(SUPERVISOR_ENV, None)
    if not expected:
        return
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != int(expected):  # it died before the prctl above took effect
        raise SystemExit("onloop worker: the supervisor that started this worker is gone")


@dataclass
class Child:
    """One worker process slot: the live process, and how often it has had to be restarted."""

    slot: int
    process: subprocess.Popen | None = None
    pid: int = 0  # the latest process's, kept for the log line once it has ended
    started: float = 0.0
    starts: int = 0
    failures: int = 0  # unexpected ends in a row, for the backoff
    restart_at: float = 0.0


class WorkerPool:
    """Keeps `processes` child workers running `command` until `stop` is set; then stops them."""

    def __init__(
        self,
        command: Sequence[str],
        processes: int,
        *,
        env: dict[str, str] | None = None,
        stop: threading.Event | None = None,
        check_s: float = 0.2,
    ) -> None:
        self.command = list(command)
        self.env = dict(os.environ if env is None else env)
        self.stop = stop or threading.Event()
        self.check_s = check_s
        self.children = [Child(slot) for slot in range(processes)]
        self.gave_up: str | None = None
        self.exit_code = 0  # the code serve() returns once it gave up

    def serve(self) -> int:
        """Run until stopped; 0 after a clean stop, 2 when a child's own start keeps failing."""
        try:
            while not self.stop.is_set():
                for child in self.children:
                    self._tend(child)
                self.stop.wait(self.check_s)
        finally:
            self.shutdown()
        return self.exit_code if self.gave_up else 0

    def _tend(self, child: Child) -> None:
        now = time.monotonic()
        if child.process is None:
            if now >= child.restart_at:
                self._start(child)
            return
        code = child.process.poll()
        if code is None:
            return
        child.process = None
        if self.stop.is_set():
            return
        lived = now - child.started
        if code in FINAL:
            self._give_up(code, f"worker process {child.slot + 1} stopped: {FINAL[code]}")
            return
        if code == USAGE_EXIT and child.starts == 1 and lived < STABLE_S:
            # A bad option or policy file at the first start: every restart would fail the same
            # way. (A restarted child may meet a passing outage instead: it is retried.)
            self._give_up(code, f"worker process {child.slot + 1} could not start (exit {code})")
            return
        child.failures = 1 if lived >= STABLE_S else child.failures + 1
        delay = min(MAX_BACKOFF_S, 0.5 * 2 ** (child.failures - 1))
        child.restart_at = now + delay
        log.warning(
            "worker process %d (pid %s) %s after %.1f s; starting it again in %.1f s "
            "(its runs come back when their lease lapses)",
            child.slot + 1,
            child.pid,
            _how_it_ended(code),
            lived,
            delay,
        )

    def _give_up(self, code: int, why: str) -> None:
        self.gave_up, self.exit_code = why, code
        log.error("%s; stopping the others", why)
        self.stop.set()

    def _start(self, child: Child) -> None:
        env = {**self.env, SUPERVISOR_ENV: str(os.getpid())}
        child.process = subprocess.Popen(self.command, env=env, stdin=subprocess.DEVNULL)
        child.pid = child.process.pid
        child.started = time.monotonic()
        child.starts += 1

    def shutdown(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM every child (a clean stop: their runs are queued again), SIGKILL stragglers."""
        self.stop.set()
        live = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in live:
            _signal(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for process in live:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning(
                    "worker process %d did not stop in %.0f s; killing it", process.pid, grace_s
                )
                _signal(process, signal.SIGKILL)
                process.wait()


def _signal(process: subprocess.Popen, signum: int) -> None:
    try:
        process.send_signal(signum)
    except ProcessLookupError:
        pass


def _how_it_ended(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"
