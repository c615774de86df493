"""A worker's leases kept alive: renewed every third of a lease while the worker lives, so none
lapses under a run it drives; a run whose claim another holds is told to stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import storage
from agent_core.worker.outage import Outage
from storage.transient import brief, is_transient

log = logging.getLogger("onloop.worker")
Claims = Callable[[], list[tuple[str, threading.Event, int]]]  # run id, its stop, claim epoch


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

    def start(self) -> None:
        threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True).start()

    def _beat(self) -> None:
        while not self.stop.wait(self.lease_seconds / 3):
            self.renew()

    def renew(self) -> None:
        """Every lease this worker holds, in one transaction; a run whose claim another holds
        now is told to stop."""
        claims = self.claims()
        if not claims or self.outage.fault is not None:
            return  # nothing can be written: the store's outage is said once, elsewhere
        try:
            kept = storage.renew_leases(
                self.store,
                worker_id=self.worker_id,
                claims=[(run_id, epoch) for run_id, _, epoch in claims],
                lease_seconds=self.lease_seconds,
            )
        except Exception as error:  # try again next beat, before the leases lapse
            if self.outage.met(error):
                return
            if not is_transient(error):
                log.exception("could not renew the leases of %d runs", len(claims))
            else:
                log.warning("could not renew the leases of %d runs: %s", len(claims), brief(error))
            return
        for run_id, run_stop, _epoch in claims:
            if run_id not in kept:
                run_stop.set()
