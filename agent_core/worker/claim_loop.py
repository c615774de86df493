"""The worker: claims queued runs and drives each in its own thread (a session: session.py),
while its leases are kept alive (leases.py); stopping, it stops them and closes shared clients."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

import storage
from agent_core.models.settings import Settings, load_settings
from agent_core.oversight.policy import Policy
from agent_core.run.auto_resume import recover_lapsed
from agent_core.telemetry.logs import run_context
from agent_core.telemetry.metrics import lost_lease
from agent_core.tools import shared_clients
from agent_core.worker.leases import LeaseKeeper
from agent_core.worker.outage import Outage
from agent_core.worker.session import drive_run
from agent_core.worker.session_start import ModelFactory
from storage.models import Run
from storage.store_faults import store_fault
from storage.transient import Backoff, brief, is_transient

log = logging.getLogger("onloop.worker")
WAITING_SLOTS_FACTOR = 10  # at most this many runs per slot held, most of them waiting
CLAIM_BATCH = 200  # runs claimed in one transaction at most
QUEUE_CHECK_S = 0.1  # between polls, how often an idle slot looks for a newly queued run


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    """Claims queued runs and drives up to `concurrency` of them at once, one thread each."""

    def __init__(
        self,
        store: storage.Store,
        *,
        concurrency: int = 2,
        lease_seconds: float = 30.0,
        poll_s: float = 0.5,
        worker_id: str | None = None,
        model_factory: ModelFactory | None = None,
        settings: Settings | None = None,
        policy: Policy | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("--concurrency must be at least 1")
        self.store = store
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_s = poll_s
        self.worker_id = worker_id or new_worker_id()
        self.model_factory = model_factory
        self.settings = settings or load_settings()
        self.policy = policy
        self.stop = threading.Event()
        self._active: dict[str, tuple[threading.Thread, threading.Event, int]] = {}
        self._lock = threading.Lock()
        self.outage = Outage(store, self.stop)  # the store's disk fails: no claims till fixed
        self.leases = LeaseKeeper(
            store,
            worker_id=self.worker_id,
            lease_seconds=lease_seconds,
            outage=self.outage,
            stop=self.stop,
            claims=self._claims,
        )
        storage.open_no_other_file(store)  # no connection to a file that took the store's place

    def serve(self) -> None:
        """Claim and drive runs until stop is set; then stop active runs as interrupted."""
        self.start_heartbeat()
        backoff = Backoff()
        try:
            while not self.stop.is_set():
                if self.outage.fault is not None:  # claims wait until the store takes writes
                    if self.outage.recover():
                        self.leases.renew()  # before any lapsed lease is ended
                    continue
                try:
                    self._poll()
                except Exception as error:  # the worker outlives the database's hiccups
                    if self.outage.met(error):
                        continue
                    if not is_transient(error):
                        raise
                    delay = backoff.wait()
                    log.warning(
                        "waiting for the database at %s (%s); trying again in %.1f s",
                        self.store.safe_url,
                        brief(error),
                        delay,
                    )
                    self.stop.wait(delay)
                    continue
                backoff.reset()
                self._idle()
        finally:
            self.shutdown()

    def _idle(self) -> None:
        """Wait for the next poll; a run queued meanwhile (one cheap read every QUEUE_CHECK_S,
        then the room when a run waits) cuts the wait short if a slot is free, so a launch
        starts within a tenth of a second, not a whole poll later."""
        deadline = time.monotonic() + self.poll_s
        while not self.stop.wait(min(QUEUE_CHECK_S, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return
            try:
                # The queue first: one indexed read; the room may read every active run's status.
                if storage.has_claimable_run(self.store) and self._room():
                    return
            except Exception as error:
                if not is_transient(error) and store_fault(error) is None:
                    raise
                return  # the poll meets the outage next, says so and backs off

    def _poll(self) -> None:
        """One round: lapsed leases end, finished threads go, free slots claim queued runs."""
        storage.check_same_store(self.store)  # deleted or replaced: StoreChanged, no claim
        storage.expire_leases(self.store)
        recover_lapsed(self.store, by=self.worker_id)  # lost workers' runs that may go on alone
        self._reap()
        # A claim is a write transaction (SQLite's write lock): taken only when a read says a
        # run is queued, so a worker with free slots and nothing to do writes nothing.
        while storage.has_claimable_run(self.store) and (room := min(self._room(), CLAIM_BATCH)):
            if self._claim(room) < room:
                break  # the queue is empty (or other workers took the rest)

    def _room(self) -> int:
        """How many more runs may start now. Runs waiting for a person hold no model or tool
        work, so they leave their slot free (up to a hard cap), and queued runs do not starve
        behind an unanswered approval."""
        with self._lock:
            active = list(self._active)
        cap = self.concurrency * WAITING_SLOTS_FACTOR - len(active)
        if cap <= 0:
            return 0
        if len(active) < self.concurrency:
            return self.concurrency - len(active)  # at least this many: no read needed
        statuses = storage.run_statuses(self.store, run_ids=active)  # one read, not one per run
        busy = sum(1 for run_id in active if statuses.get(run_id) != "waiting")
        return max(0, min(cap, self.concurrency - busy))

    def start_heartbeat(self) -> None:
        self.leases.start()

    def _claim(self, limit: int) -> int:
        """Claim up to `limit` queued runs in one transaction and start them; how many."""
        runs = storage.claim_next_runs(
            self.store, worker_id=self.worker_id, lease_seconds=self.lease_seconds, limit=limit
        )
        for run in runs:
            self.start(run)
        return len(runs)

    def start(self, run: Run) -> threading.Thread:
        if run.policy is None and self.policy is not None:
            # Runs queued by the dashboard carry no policy: they run under this worker's.
            run.policy = self.policy.model_dump(mode="json")
            storage.update_run(self.store, run_id=run.id, policy=run.policy)
        run_stop = threading.Event()
        thread = threading.Thread(
            target=self._drive, args=(run, run_stop), name=f"run-{run.id}", daemon=True
        )
        with self._lock:
            self._active[run.id] = (thread, run_stop, run.claim_epoch)
        thread.start()
        return thread

    def _drive(self, run: Run, run_stop: threading.Event) -> None:
        with run_context(run.id, self.worker_id):  # its log lines name the run and worker
            self._drive_logged(run, run_stop)

    def _drive_logged(self, run: Run, run_stop: threading.Event) -> None:
        try:
            outcome = drive_run(
                self.store,
                run,
                stop=run_stop,
                model_factory=self.model_factory,
                settings=self.settings,
                outage=self.outage,
            )
            if run_stop.is_set() and not self.stop.is_set():
                lost_lease()
                log.warning(
                    "run %s: this worker's session ended (%s); its lease lapsed or another "
                    "worker holds the run",
                    run.id,
                    outcome.status,
                )
            if outcome.status == "interrupted" and self.stop.is_set():
                # A clean stop (Ctrl-C on `onloop up`): the next worker carries on by itself.
                try:
                    storage.requeue_run(self.store, run_id=run.id, expect_status="interrupted")
                except storage.InvalidState:  # halted meanwhile: it stays halted
                    pass
        except storage.StoreChanged:  # the poll says so, once, and stops the worker
            log.debug("run %s: its store was deleted or replaced", run.id)
        except Exception:  # keep the worker alive; the lease will lapse and mark it interrupted
            log.exception("run %s could not be driven", run.id)

    def _reap(self) -> None:
        with self._lock:
            for run_id, (thread, _, _) in list(self._active.items()):
                if not thread.is_alive():
                    del self._active[run_id]

    def _claims(self) -> list[tuple[str, threading.Event, int]]:
        """The runs this worker holds now: id, the run's stop, its claim epoch."""
        with self._lock:
            active = list(self._active.items())
        return [(run_id, run_stop, epoch) for run_id, (_, run_stop, epoch) in active]

    def shutdown(self, timeout: float = 10.0) -> None:
        self.stop.set()
        with self._lock:
            active = list(self._active.values())
        for _, run_stop, _ in active:
            run_stop.set()
        for thread, _, _ in active:
            thread.join(timeout)
        # The MCP servers this worker started stop with it; the model clients its runs shared
        # close their connections.
        shared_clients.close_all()
