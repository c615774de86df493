"""One object per store in this process, made on first use and shared by every run the process
drives (the halt watcher, the project rules' view); a forked child (worker --processes) starts
afresh: the parent's threads did not come along, and a lock another thread held stays held."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

import storage

T = TypeVar("T")


class PerStore(Generic[T]):
    def __init__(self, make: Callable[[storage.Store], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._by_store: weakref.WeakKeyDictionary[storage.Store, T] = weakref.WeakKeyDictionary()
        os.register_at_fork(after_in_child=self._forget)

    def __call__(self, store: storage.Store) -> T:
        with self._lock:
            found = self._by_store.get(store)
            if found is None:
                found = self._by_store[store] = self._make(store)
            return found

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._by_store.clear()
