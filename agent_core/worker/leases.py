"""A worker's leases kept alive: renewed every third of a lease while the worker lives, so none
lapses under a run it drives; a run whose claim another holds is told to stop, and so is a run
whose lease this worker could not renew in time (cut off from its store: before the lease lapses
and another worker ends the run, halted or interrupted, its tools are cut here)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import storage
from agent_core.worker.outage import Outage
from storage.transient import brief, is_transient

log = logging.getLogger("onloop.worker")
Claims = Callable[[], list[tuple[str, threading.Event, int]]]  # run id, its stop, claim epoch
RETRY_FRACTION = 0.1  # after a failed renewal, tried again every tenth of a lease
GIVE_UP_FRACTION = 0.8  # not renewed for this much of a lease: its run stops here


class LeaseKeeper:
    """Renews the leases of the runs `claims` names (read afresh at every beat)."""

    def __init__(
        self,
        store: storage.Store,
        *,
        worker_id: str,
        lease_seconds: float,
        outage: Outage,
        stop: threading.Event,
        claims: Claims,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.outage = outage
        self.stop = stop
        self.claims = claims
        self._renewed: dict[tuple[str, int], float] = {}  # claim -> when its lease last began

    def start(self) -> None:
        threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True).start()

    def _beat(self) -> None:
        while not self.stop.wait(self.lease_seconds * (1 / 3 if self.renew() else RETRY_FRACTION)):
            pass

    def renew(self) -> bool:
        """Every lease this worker holds, in one transaction; a run whose claim another holds
        now is told to stop. False when the leases could not be renewed (then the runs whose
        lease is about to lapse are told to stop: see _give_up)."""
        claims = self.claims()
        started = time.monotonic()
        held = {(run_id, epoch) for run_id, _, epoch in claims}
        # A claim first seen here had its lease begin at its claim, just before.
        self._renewed = {claim: self._renewed.get(claim, started) for claim in held}
        if not claims:
            return True
        if self.outage.fault is not None:  # nothing can be written: said once, elsewhere
            self._give_up(claims)
            return False
        try:
            kept = storage.renew_leases(
                self.store,
                worker_id=self.worker_id,
                claims=[(run_id, epoch) for run_id, _, epoch in claims],
                lease_seconds=self.lease_seconds,
            )
        except Exception as error:  # tried again soon, before the leases lapse
            if not self.outage.met(error):
                if not is_transient(error):
                    log.exception("could not renew the leases of %d runs", len(claims))
                else:
                    log.warning(
                        "could not renew the leases of %d runs: %s", len(claims), brief(error)
                    )
            self._give_up(claims)
            return False
        self._renewed = dict.fromkeys(held, started)
        for run_id, run_stop, _epoch in claims:
            if run_id not in kept:
                run_stop.set()
        return True

    def _give_up(self, claims: list[tuple[str, threading.Event, int]]) -> None:
        """Stop the runs whose lease was last renewed GIVE_UP_FRACTION of a lease ago: it lapses
        soon, and then any worker may end the run (a halt waiting for it ends it `halted`) or
        queue it again. Its tools are cut now, so nothing of it still runs once the store says
        it ended."""
        now = time.monotonic()
        for run_id, run_stop, epoch in claims:
            renewed = self._renewed.get((run_id, epoch), now)
            if now - renewed >= self.lease_seconds * GIVE_UP_FRACTION and not run_stop.is_set():
                log.warning(
                    "run %s: its lease could not be renewed and lapses soon; stopping it here",
                    run_id,
                )
                run_stop.set()
