"""A worker through a disk fault of its store (storage.store_faults): full, read-only, I/O errors.

The first fault met says so in one log line, with the fix; from then on the worker claims nothing
and its run threads write nothing: each one that met the fault waits here, and the worker tries
one harmless write every few seconds (backing off up to RETRY_EVERY_S). Once the store takes
writes, the waiting threads end their sessions `interrupted` with the fault as the reason (fenced,
before this worker ends any lapsed lease), the worker says so in one more line and claims again.
"""

from __future__ import annotations

import logging
import threading

import storage
from storage.store_faults import (
    RETRY_EVERY_S,
    DiskStillFull,
    StoreFault,
    probe_write,
    store_fault,
)
from storage.transient import Backoff, brief, is_transient

log = logging.getLogger("onloop.worker")
ENDING_PATIENCE_S = 60.0  # how long claims wait for the cut-off sessions to be written ended


class Outage:
    """The state of one process's store: writable, or a fault with the threads waiting on it."""

    def __init__(self, store: storage.Store, stop: threading.Event) -> None:
        self.store = store
        self.stop = stop
        self.fault: StoreFault | None = None
        self.writable = threading.Event()
        self.writable.set()
        self._backoff = Backoff(first=0.5, cap=RETRY_EVERY_S)
        self._cut: set[str] = set()  # runs whose sessions wait to be ended
        self._ended = threading.Condition()

    def met(self, error: BaseException) -> bool:
        """True when `error` is a disk fault (then it is the outage now; said once)."""
        fault = store_fault(error, self.store)
        if fault is None:
            return False
        with self._ended:
            if self.fault is None:
                self.fault = fault
                self.writable.clear()
                log.error("%s", fault.line())
        return True

    def wait_to_write(self, run_id: str) -> StoreFault | None:
        """Block the thread of `run_id`, cut off by the fault, until the store takes writes; the
        fault it met, or None when the worker stops first (its lease lapses; whichever worker
        expires it ends the session)."""
        with self._ended:
            fault = self.fault
            self._cut.add(run_id)
        log.warning(
            "run %s: cut off by the store's fault; it ends interrupted once the store takes "
            "writes again",
            run_id,
        )
        while not self.writable.wait(0.2):
            if self.stop.is_set():
                self.done(run_id)
                return None
        return fault

    def done(self, run_id: str) -> None:
        """The session of `run_id` is ended (or given up): claims may go on."""
        with self._ended:
            self._cut.discard(run_id)
            self._ended.notify_all()

    def recover(self) -> bool:
        """While in an outage: one attempt to write; True once the store takes writes again and
        the cut-off sessions are ended. Waits (backing off) after an attempt that failed."""
        fault = self.fault
        if fault is None:
            return True
        try:
            probe_write(self.store, fault)
        except Exception as error:
            if store_fault(error, self.store) is None and not _passing(error):
                raise
            self.stop.wait(self._backoff.wait())
            return False
        with self._ended:
            cut = len(self._cut)
            self.fault = None
            self.writable.set()
            self._ended.wait_for(lambda: not self._cut or self.stop.is_set(), ENDING_PATIENCE_S)
        self._backoff.reset()
        log.warning(
            "the store takes writes again; %d run%s the fault cut off ended interrupted "
            "(resume them: onloop resume RUN); claiming runs again",
            cut,
            "" if cut == 1 else "s",
        )
        return True


def _passing(error: BaseException) -> bool:
    if isinstance(error, DiskStillFull):
        return True
    if is_transient(error):
        log.debug("writing again: %s", brief(error))
        return True
    return False
