"""One halt watcher per process and store: a single daemon thread that, every HALT_POLL_S, asks
the store in ONE indexed query which of the runs driven here have a halt pending and which of
those waiting for a person have their approval decided, then cancels the run's CancelToken (a
halt, the worker's stop, the working time of a model call passing) or wakes the waiting run.

It is an early warning that cuts waits short; the store's transactions (begin_step,
begin_execution, request_approval, mark_driven, finish_session) still decide every halt."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import storage
from agent_core.run.per_store import PerStore
from agent_core.tools.cancel_token import CancelReason, CancelToken

log = logging.getLogger("onloop.halt_watch")
HALT_POLL_S = 0.1  # how often the process looks for halts and decisions of its runs (one query)
FRESH_S = 0.25  # a view at most this old answers halt_requested() without a read of its own


@dataclass(eq=False)
class WatchedRun:
    """A run driven in this process, as the watcher sees it: its token is cancelled here."""

    run_id: str
    stop: threading.Event  # the worker's word to stop driving the run
    token: CancelToken
    watcher: HaltWatcher
    halted: bool = False  # a pending halt was seen (stays True: halts are never taken back)
    registered_at: float = field(default_factory=time.monotonic)
    deadline: float | None = None  # time.monotonic() after which the token is cancelled
    awaited: int | None = None  # the approval the run waits for a person to decide
    wake: threading.Event = field(default_factory=threading.Event)  # set: look at it again

    @contextmanager
    def until(self, deadline: float) -> Iterator[None]:
        """While inside, passing `deadline` (time.monotonic()) cancels the token (DEADLINE)."""
        self.deadline = deadline
        self.watcher._check(self)  # already halted, stopped or late: cancelled at once
        try:
            yield
        finally:
            self.deadline = None

    @contextmanager
    def awaiting(self, approval_id: int) -> Iterator[threading.Event]:
        """While inside, the watcher's shared read looks at the approval too: the event it yields
        is set when it is decided (or expired), or when the token is cancelled."""
        self.wake.clear()
        remove = self.token.on_set(self.wake.set)
        self.awaited = approval_id
        try:
            yield self.wake
        finally:
            self.awaited = None
            remove()

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

    def register(self, run_id: str, stop: threading.Event, token: CancelToken) -> WatchedRun:
        watched = WatchedRun(run_id, stop, token, self)
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
        awaited = {r.awaited: r for r in runs if r.awaited is not None}
        try:
            halted, decided = storage.halts_and_decisions(
                store, run_ids=[r.run_id for r in runs], approval_ids=list(awaited)
            )
        except Exception as error:  # a busy store: look again at the next poll
            log.debug("halt watch: %s", error)
            halted, decided = set(), set()
        else:
            with self._lock:
                self._polled_at = started
            self.polls += 1
        for watched in runs:
            if watched.run_id in halted:
                watched.halted = True
            self._check(watched)
            if watched.run_id in decided and watched.awaited is not None:
                watched.wake.set()

    @staticmethod
    def _check(watched: WatchedRun) -> None:
        if watched.halted:
            watched.token.cancel(CancelReason.HALTED)
        elif watched.stop.is_set():
            watched.token.cancel(CancelReason.STOPPED)
        elif watched.deadline is not None and time.monotonic() >= watched.deadline:
            watched.token.cancel(CancelReason.DEADLINE)


watcher_for: PerStore[HaltWatcher] = PerStore(HaltWatcher)
"""The process's halt watcher for a store (made on first use)."""
