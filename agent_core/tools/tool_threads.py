"""The threads in-process tools run on, so that a halt never waits for a tool that ignores it:
the run's thread waits for the result or the call's cancel event, gives a stopped tool GRACE_S to
return by itself, then stops waiting. Threads are reused (never one per call) and are daemons (a
tool that never returns does not hold the process open)."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from agent_core.tools.errors import ToolCancelled

GRACE_S = 0.5  # a stopped tool may still return its own result this long
_WAIT_SLICE_S = 0.05  # the run's thread looks at the cancel event this often
ABANDONED = (
    f"stopped by a halt: the tool did not stop by itself within {GRACE_S:g} s, so onloop stopped "
    "waiting for it; whatever it still does is not recorded as this call's result"
)


class _Job:
    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self.work()
        except BaseException as error:  # handed to the waiting thread, raised there
            self.error = error
        finally:
            self.done.set()

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class _ToolThreads:
    """Idle threads take the next job; a job that finds none idle starts one more."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0

    def submit(self, job: _Job) -> None:
        with self._lock:  # reserve a thread and queue the job together: every job has one
            if self._idle:
                self._idle -= 1
            else:
                self._started += 1
                name = f"onloop-tool-{self._started}"
                threading.Thread(target=self._serve, name=name, daemon=True).start()
            self._jobs.put(job)

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            job.run()
            del job  # an abandoned result is dropped here, never recorded
            with self._lock:
                self._idle += 1


_threads = _ToolThreads()


def _fresh_after_fork() -> None:
    global _threads
    _threads = _ToolThreads()  # the parent's threads did not come along


os.register_at_fork(after_in_child=_fresh_after_fork)


def call_stoppably(
    work: Callable[[], Any],
    cancel: threading.Event,
    on_cancel: Callable[[], None] | None = None,
) -> Any:
    """What `work()` returns (or raises), run on a tool thread; ToolCancelled when `cancel` is
    set and the work has not returned GRACE_S later (it may go on: its result is dropped).
    `on_cancel` runs (in this thread) as soon as the cancel is seen, before the grace."""
    job = _Job(work)
    _threads.submit(job)
    while not job.done.wait(_WAIT_SLICE_S):
        if cancel.is_set():
            if on_cancel is not None:
                on_cancel()
            if not job.done.wait(GRACE_S):
                raise ToolCancelled(ABANDONED)
            break
    return job.outcome()
