"""One model I/O loop per process: a daemon thread running asyncio, where every model request
of every run in this process waits on the network, instead of a thread per call.

A run's thread submits a coroutine and blocks on its result; the run's CancelToken (a halt, the
worker's stop, the time budget) cancels the task at once, closing its HTTP stream."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

from agent_core.tools import shared_clients
from agent_core.tools.cancel_token import CancelToken

T = TypeVar("T")
THREAD_NAME = "onloop-model-io"
WAIT_SLICE_S = 0.1  # how often a waiter looks at a plain threading.Event (a CancelToken wakes it)


class Cancelled(Exception):
    """The call was cancelled by its signal before it finished."""


class _IOLoop:
    """The process's event loop thread, started on first use (and again in a forked child)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = _ModelLoop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=_run_forever, args=(loop, ready), name=THREAD_NAME, daemon=True
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def running(self) -> asyncio.AbstractEventLoop | None:
        with self._lock:
            alive = self._thread is not None and self._thread.is_alive()
            return self._loop if alive else None

    def forget(self) -> None:
        """In a forked child: the parent's loop thread did not come along."""
        self._lock = threading.Lock()
        self._loop = self._thread = None


class _ModelLoop(asyncio.SelectorEventLoop):
    """The loop the model calls run on. The SDK leaves three async generators suspended at the
    end of every streamed call (its SSE event iterator stops at `[DONE]` without closing its
    source); each is closed by a task the loop's finalizer hook schedules. asyncio's hook may
    be called from any thread (the collector runs where it runs), so it always wakes the loop
    through its self-pipe: two system calls, each letting go of the GIL to another thread. On
    the loop's own thread (where a finished stream drops them) the task is scheduled directly.
    """

    def _asyncgen_finalizer_hook(self, agen: Any) -> None:
        if threading.get_ident() != getattr(self, "_thread_id", None):
            super()._asyncgen_finalizer_hook(agen)  # type: ignore[misc]  # asyncio's own
            return
        self._asyncgens.discard(agen)  # type: ignore[attr-defined]  # asyncio's own
        if not self.is_closed():
            self.call_soon(self.create_task, agen.aclose())


def _run_forever(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()


_io = _IOLoop()


def io_loop() -> asyncio.AbstractEventLoop:
    """The process's model I/O loop (started on first use)."""
    return _io.loop()


def call(
    coroutine: Coroutine[Any, Any, T],
    cancel: threading.Event,
    *,
    tick: Callable[[], None] | None = None,
    every: float = WAIT_SLICE_S,
) -> T:
    """Run `coroutine` on the I/O loop and wait for its result in the calling thread.

    Setting `cancel` cancels the task at once (Cancelled here). A CancelToken wakes this wait
    directly; a plain threading.Event is looked at every WAIT_SLICE_S. `tick`, if given, is
    called in this thread every `every` seconds while the call is in flight."""
    future = asyncio.run_coroutine_threadsafe(coroutine, io_loop())
    remove = cancel.on_set(lambda: _cancel(future)) if isinstance(cancel, CancelToken) else None
    slice_s = every if tick is not None else (None if remove is not None else WAIT_SLICE_S)
    if remove is None and slice_s is not None:
        slice_s = min(slice_s, WAIT_SLICE_S)
    try:
        while True:
            try:
                return future.result(slice_s)
            except concurrent.futures.TimeoutError:
                if cancel.is_set():
                    future.cancel()
                elif tick is not None:
                    tick()
            except concurrent.futures.CancelledError:
                raise Cancelled("the call was cancelled") from None
    finally:
        if remove is not None:
            remove()
        if not future.done():
            future.cancel()


def _cancel(future: concurrent.futures.Future[Any]) -> None:
    future.cancel()  # thread-safe: the loop cancels the task itself (call_soon_threadsafe)


# -- shared clients ------------------------------------------------------------------------
# Touched on the I/O loop only: which clients calls are using now, and which are to be closed
# once their last call ends (another worker of this process shut down meanwhile).
_users: dict[int, int] = {}
_closing: dict[int, Any] = {}
_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def shared_client(key: tuple, build: Callable[[], T]) -> T:
    """The process's client for `key` (built once, reused by every run until close_clients)."""
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = build()
        return client


def client_count() -> int:
    with _clients_lock:
        return len(_clients)


@contextlib.asynccontextmanager
async def using(client: T) -> AsyncIterator[T]:
    """On the I/O loop, around one call: close_clients waits for the call before closing."""
    _users[id(client)] = _users.get(id(client), 0) + 1
    try:
        yield client
    finally:
        _users[id(client)] -= 1
        if not _users[id(client)]:
            del _users[id(client)]
            if id(client) in _closing:
                await _closing.pop(id(client)).close()


def close_clients(timeout_s: float = 5.0) -> None:
    """Close every shared client's connections (the worker's shutdown, and at exit); a client
    a call still uses (another worker of this process) closes when that call ends."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    loop = _io.running()
    if loop is None or not clients:
        return

    async def close_all() -> None:
        idle = []
        for client in clients:
            if _users.get(id(client)):
                _closing[id(client)] = client
            else:
                idle.append(client.close())
        await asyncio.gather(*idle, return_exceptions=True)

    try:
        asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout_s)
    except (concurrent.futures.TimeoutError, RuntimeError):
        pass  # exiting anyway: the OS closes the sockets


# A forked child (a tool's subprocess before it execs) keeps the parent's clients referenced
# and never closes them: finalising one there (aiohttp's connector closes its connections when
# collected) would unregister the parent's sockets from the epoll instance the two processes
# share after fork, and the parent's next response would never be read.
_inherited: list[Any] = []


def _forget_after_fork() -> None:
    global _clients_lock
    _clients_lock = threading.Lock()
    _inherited.extend((*_clients.values(), *_closing.values(), _io._loop))  # no lock: fork
    _clients.clear()  # bound to the parent's loop, which is not running here
    _users.clear()
    _closing.clear()
    _io.forget()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close_clients)
shared_clients.on_close(close_clients)  # a stopping worker closes its runs' connections
