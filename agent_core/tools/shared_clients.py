"""What a process's runs share and a stopping worker closes: MCP servers, model connections.

A module that keeps such a client registers its closer here when it is imported; the worker's
shutdown calls `close_all()`, so the worker needs to know neither module (and one never imported
has nothing to close). It sits in tools/, the lowest room both the MCP client (tools) and the
model I/O loop (models) may import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_closers: list[Callable[[], object]] = []
_lock = threading.Lock()


def on_close(closer: Callable[[], object]) -> None:
    """Have `close_all` call `closer` (once registered, in the order registered)."""
    with _lock:
        if closer not in _closers:
            _closers.append(closer)


def close_all() -> None:
    """Close every registered shared client; a later use opens it again."""
    with _lock:
        closers = list(_closers)
    for closer in closers:
        closer()
