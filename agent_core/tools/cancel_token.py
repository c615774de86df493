"""A run's one cancellation token: set once, with why, by the process's halt watcher (a halt,
the worker stopping, the run's working time running out) or by the store refusing a write.
Everything a run blocks on honours it: the model call, a tool's processes, in-process tools,
MCP calls, waiting for an approval.

It lives in tools/, the lowest room that blocks on it (tools < models < oversight < run), so
tools and models take it without importing the run that sets it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import StrEnum


class CancelReason(StrEnum):
    HALTED = "halted"  # a person halted the run (the store holds the halt)
    STOPPED = "stopped"  # the worker stops driving it (shutdown, its lease lapsed)
    LOST = "lost"  # the store refused a write: another claim holds the run now
    DEADLINE = "deadline"  # the run's working time ran out during a model call


class CancelToken(threading.Event):
    """A threading.Event that remembers why it was set (the first reason wins) and runs the
    callbacks registered with `on_set` once, in the setting thread, so waiters wake at once."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: CancelReason | None = None
        self.detail: str | None = None  # why, in words, when the reason alone would mislead
        self._callbacks: list[Callable[[], None]] = []
        self._callbacks_lock = threading.Lock()

    def cancel(self, reason: CancelReason, detail: str | None = None) -> bool:
        """Set the token for `reason` (and `detail`); False when it was already set (its first
        reason stays)."""
        with self._callbacks_lock:
            if self.is_set():
                return False
            self.reason, self.detail = reason, detail
            super().set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()
        return True

    def set(self) -> None:
        """threading.Event's own way to set it: a stop of the worker, as far as the run knows."""
        self.cancel(CancelReason.STOPPED)

    def clear(self) -> None:
        raise RuntimeError("a cancel token is never cleared: a cancelled run ends")

    def on_set(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run `callback` when the token is set (at once if it is); returns its remover."""
        with self._callbacks_lock:
            if not self.is_set():
                self._callbacks.append(callback)
                return lambda: self._forget(callback)
        callback()
        return lambda: None

    def _forget(self, callback: Callable[[], None]) -> None:
        with self._callbacks_lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)
