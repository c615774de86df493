"""Helpers for tests that drive real runs through a store: start, wait, inspect."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.policy import Policy
from agent_core.worker.claim_loop import Worker, drive_run


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def kinds(store: storage.Store, run_id: str) -> list[str]:
    return [e.kind for e in storage.events_after(store, run_id=run_id)]


def events_of(store: storage.Store, run_id: str, kind: str) -> list[Any]:
    return [e for e in storage.events_after(store, run_id=run_id) if e.kind == kind]


def new_run(store: storage.Store, goal: str, *, policy: Policy | None = None, **settings: Any):
    settings.setdefault("autonomy", "supervised")
    return storage.create_run(
        store, goal=goal, policy=(policy or Policy()).model_dump(mode="json"), **settings
    )


class Driver:
    """Claims one run and drives it on a thread, like a worker, with an optional scripted model."""

    def __init__(self, store: storage.Store, run, model: ScriptedModel | None = None) -> None:
        self.store = store
        self.worker = Worker(
            store,
            concurrency=1,
            lease_seconds=30,
            model_factory=(lambda run: model) if model else None,
        )
        claimed = storage.claim_next_run(store, worker_id=self.worker.worker_id, lease_seconds=30)
        assert claimed is not None and claimed.id == run.id
        self.run_id = run.id
        self.outcome = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._go, args=(claimed,), daemon=True)

    def _go(self, claimed) -> None:
        self.outcome = drive_run(
            self.store, claimed, stop=self.stop, model_factory=self.worker.model_factory
        )

    def start(self) -> Driver:
        self.thread.start()
        return self

    def join(self, timeout: float = 30.0):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the run did not finish in time"
        return self.outcome

    def pending(self, after: int = 0):
        """The run's first pending approval (with `after`, one newer than that approval id)."""
        return wait_for(
            lambda: [
                a
                for a in storage.pending_approvals(self.store, run_id=self.run_id)
                if (a.id or 0) > after
            ],
            what="a pending approval",
        )[0]


def in_threads(count: int, work) -> list:
    """`work(index)` in `count` threads started together; what they returned, joined in a list
    (an error in any thread fails the caller)."""
    results: list = []
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def go(index: int) -> None:
        try:
            start.wait()
            results.extend(work(index))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


OLD_PER_CALL_THREADS = ("model-", "onloop-model-gpt", "onloop-model-fake", "halt-watch")


def per_call_threads() -> list[str]:
    """Threads named like the ones the old hot path started per model call or per tool."""
    return [t.name for t in threading.enumerate() if t.name.startswith(OLD_PER_CALL_THREADS)]
