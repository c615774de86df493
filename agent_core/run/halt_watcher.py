"""One halt watcher per process and store: a single daemon thread that, every HALT_POLL_S, asks
the store in ONE indexed query which of the runs driven here have a halt pending, and cancels
what those runs have in flight (a model call, a running tool). It also cancels on the worker's
stop (lease lost, shutdown) and when a call's deadline (the run's time budget) passes.

It is an early warning that cuts waits short; the store's transactions (begin_step,
begin_execution, request_approval, mark_driven, finish_session) still decide every halt."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import storage

log = logging.getLogger("onloop.halt_watch")
HALT_POLL_S = 0.1  # how often the process looks for halts of the runs it drives (one query)
FRESH_S = 0.25  # a view at most this old answers halt_requested() without a read of its own


@dataclass(eq=False)
class Armed:
    """One cancellable piece of work of a run: its signal, its deadline, and why it was cut."""

    cancel: threading.Event
    deadline: float | None = None  # time.monotonic() after which the work is cancelled
    reason: str | None = None  # "halted" | "stopped" | "deadline", once cancelled here

    def fire(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            self.cancel.set()

    @property
    def out_of_time(self) -> bool:
        return self.reason == "deadline"


@dataclass(eq=False)
class WatchedRun:
    """A run driven in this process, as the watcher sees it."""

    run_id: str
    stop: threading.Event
    watcher: HaltWatcher
    halted: bool = False  # a pending halt was seen (stays True: halts are never taken back)
    registered_at: float = field(default_factory=time.monotonic)
    armed: list[Armed] = field(default_factory=list)

    @contextmanager
    def arm(self, cancel: threading.Event, deadline: float | None = None) -> Iterator[Armed]:
        """While inside, a halt, the stop or the deadline sets `cancel` within ~HALT_POLL_S."""
        armed = Armed(cancel, deadline)
        with self.watcher._lock:
            self.armed.append(armed)
        self.watcher._check(self, armed)  # already halted or stopped: cancel at once
        try:
            yield armed
        finally:
            with self.watcher._lock:
                self.armed.remove(armed)

    def halt_seen(self) -> bool | None:
        """True/False from a poll at most FRESH_S old that began after this run registered;
        None when the watcher has no such view (the caller reads the store itself)."""
        return self.watcher._seen(self)

    def close(self) -> None:
        self.watcher._unregister(self)


class HaltWatcher:
    """The watcher of one store in this process; its thread runs only while runs are registered."""

    def __init__(self, store: storage.Store) -> None:
        # Weak: the process-wide map of watchers must not keep a store (its engine, its open
        # connections) alive; the ports of the runs registered here hold it while they run.
        self._store = weakref.ref(store)
        self._lock = threading.Lock()
        self._runs: list[WatchedRun] = []
        self._thread: threading.Thread | None = None
        self._polled_at = float("-inf")  # when the last successful poll began
        self.polls = 0

    def register(self, run_id: str, stop: threading.Event) -> WatchedRun:
        watched = WatchedRun(run_id, stop, self)
        with self._lock:
            self._runs.append(watched)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="onloop-halt-watch", daemon=True
                )
                self._thread.start()
        return watched

    def _unregister(self, watched: WatchedRun) -> None:
        with self._lock:
            if watched in self._runs:
                self._runs.remove(watched)

    def _seen(self, watched: WatchedRun) -> bool | None:
        if watched.halted:
            return True
        with self._lock:
            polled_at = self._polled_at
        now = time.monotonic()
        if polled_at < watched.registered_at or now - polled_at > FRESH_S:
            return None
        return False

    def _watch(self) -> None:
        while True:
            started = time.monotonic()
            with self._lock:
                if self._store() is None:  # every port of this store is gone: nothing to watch
                    self._runs.clear()
                runs = list(self._runs)
                if not runs:
                    self._thread = None  # the next registration starts a new one
                    return
            self._poll(runs, started)
            time.sleep(max(HALT_POLL_S - (time.monotonic() - started), 0.0))

    def _poll(self, runs: list[WatchedRun], started: float) -> None:
        store = self._store()
        if store is None:  # every port of this store is gone
            return
        try:
            halted = storage.runs_with_halt_pending(store, run_ids=[r.run_id for r in runs])
        except Exception as error:  # a busy store: look again at the next poll
            log.debug("halt watch: %s", error)
            halted = set()
        else:
            with self._lock:
                self._polled_at = started
            self.polls += 1
        for watched in runs:
            if watched.run_id in halted:
                watched.halted = True
            with self._lock:
                armed = list(watched.armed)
            for item in armed:
                self._check(watched, item)

    @staticmethod
    def _check(watched: WatchedRun, armed: Armed) -> None:
        if watched.halted:
            armed.fire("halted")
        elif watched.stop.is_set():
            armed.fire("stopped")
        elif armed.deadline is not None and time.monotonic() >= armed.deadline:
            armed.fire("deadline")


_watchers: weakref.WeakKeyDictionary[storage.Store, HaltWatcher] = weakref.WeakKeyDictionary()
_watchers_lock = threading.Lock()


def watcher_for(store: storage.Store) -> HaltWatcher:
    """The process's halt watcher for `store` (made on first use)."""
    with _watchers_lock:
        watcher = _watchers.get(store)
        if watcher is None:
            watcher = _watchers[store] = HaltWatcher(store)
        return watcher


def _forget_after_fork() -> None:
    """In a forked child (worker --processes): the parent's watcher threads did not come along."""
    global _watchers_lock
    _watchers_lock = threading.Lock()
    _watchers.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
