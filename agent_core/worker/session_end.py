"""How a session ends: recorded (through outages and disk faults), the run released, and said on
the policy's channels."""

from __future__ import annotations

import logging

import storage
from agent_core.oversight.notify.notice import end_notice
from agent_core.oversight.stored_policy import stored_policy
from agent_core.run.outcome import Outcome
from agent_core.run.port import StoreRunPort
from agent_core.worker.outage import Outage
from storage.models import Run, utcnow
from storage.transient import retrying
from storage.vocabulary import FINISHED_STATUSES

log = logging.getLogger("onloop.worker")


def cut_off(store, port: StoreRunPort, run: Run, outage: Outage) -> Outcome:
    """A session the store's disk fault cut off: once the store takes writes, it ends
    interrupted with the fault as its reason (resumable); nothing is written before."""
    fault = outage.wait_to_write(run.id)
    if fault is None:  # the worker stopped first: the lease lapses, and the run is ended then
        return Outcome("interrupted", "the worker stopped while the store could not be written")
    try:
        ending = Outcome("interrupted", fault.reason())
        return end_session(store, port, run, ending, run.active_seconds, outage)
    finally:
        outage.done(run.id)


def _written(write, *, what: str, run_id: str, outage: Outage | None):
    """`write` (safe to repeat) done, through passing outages (retrying) and, with `outage`,
    through disk faults: it waits for the store to take writes, then writes."""
    while True:
        try:
            return retrying(write, what=what, log=log)
        except Exception as error:
            if outage is None or not outage.met(error):
                raise
            if outage.wait_to_write(run_id) is None:
                raise
            outage.done(run_id)


def end_session(
    store,
    port: StoreRunPort,
    run: Run,
    outcome: Outcome,
    seconds: float,
    outage: Outage | None = None,
) -> Outcome:
    """Record how the session ended and release the run; a pending halt wins (storage)."""
    fields: dict = {"reason": port.redactor(outcome.reason or "") or None}
    fields["active_seconds"] = round(seconds, 3)
    if outcome.result is not None:
        fields["result"] = port.redactor(outcome.result)  # secrets never reach the store
    if outcome.status in FINISHED_STATUSES:
        fields["finished_at"] = utcnow()
    # Safe to repeat: once one attempt committed, the fence refuses the next (it writes nothing).
    status = _written(
        lambda: storage.finish_session(
            store,
            run_id=run.id,
            worker_id=run.worker_id or "",
            epoch=run.claim_epoch,
            status=outcome.status,
            **fields,
        ),
        what=f"ending run {run.id} ({outcome.status})",
        run_id=run.id,
        outage=outage,
    )
    if status == outcome.status:
        _tell(port, run, outcome)
        return outcome
    reason = retrying(
        lambda: storage.get_run(store, run_id=run.id).reason, what=f"reading run {run.id}", log=log
    )
    _tell(port, run, Outcome(status, reason))
    return Outcome(status, reason)


def _tell(port: StoreRunPort, run: Run, outcome: Outcome) -> None:
    """Say on the policy's channels that the run finished, was halted or paused by itself."""
    port.trace.ended(outcome.status, outcome.reason)
    notice = end_notice(
        run_id=run.id,
        goal=run.goal,
        status=outcome.status,
        reason=port.redactor(outcome.reason or ""),
    )
    if notice is not None:
        port.notify(notice, stored_policy(run.policy).notifications())
