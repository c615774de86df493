"""One claimed run's session: driven until it ends, pauses or its worker stops, every write
fenced by the claim."""

from __future__ import annotations

import logging
import threading

import storage
from agent_core.models.base import ModelError
from agent_core.models.settings import Settings, load_settings
from agent_core.oversight.confinement import run_redactor, run_shell_offer
from agent_core.oversight.judge import drift_checks_note
from agent_core.oversight.policy_file import changed_since
from agent_core.run.loop import AgentLoop
from agent_core.run.outcome import LOST_REASON, Outcome, ended
from agent_core.run.port import StoreRunPort
from agent_core.telemetry.logs import note_redactor, note_trace
from agent_core.telemetry.traces import session_trace
from agent_core.tools.context import ToolContext, calling
from agent_core.worker.outage import Outage
from agent_core.worker.session_end import cut_off, end_session
from agent_core.worker.session_start import ModelFactory, default_model_factory, run_spec
from storage.models import Run
from storage.record import Error, RunStarted
from storage.runs import STORE_LOST_REASON
from storage.store_faults import store_fault
from storage.transient import brief, is_transient
from storage.vocabulary import EventKind

log = logging.getLogger("onloop.worker")


def drive_run(
    store: storage.Store,
    run: Run,
    *,
    stop: threading.Event | None = None,
    model_factory: ModelFactory | None = None,
    settings: Settings | None = None,
    outage: Outage | None = None,
) -> Outcome:
    """Drive one claimed run until it ends, pauses or its worker stops; record how it ended.

    Every write is fenced by the claim (worker and epoch): once another claim holds the run, the
    store refuses this session's writes and the session ends at once, writing nothing more.
    With `outage` (a worker's), a disk fault of the store (full, read-only, I/O) cuts the session
    off: it waits until the store takes writes again, then ends `interrupted`, saying why."""
    port = StoreRunPort(
        store, run.id, stop or threading.Event(), worker_id=run.worker_id, epoch=run.claim_epoch
    )
    try:
        return _drive(store, run, port, model_factory, settings, outage)
    except storage.LeaseLost:  # a write was refused: the run is another claim's; leave it alone
        return end_session(
            store, port, run, Outcome("interrupted", LOST_REASON), run.active_seconds
        )
    except Exception as error:
        if outage is not None and outage.met(error):
            return cut_off(store, port, run, outage)
        if not is_transient(error):
            raise
        # Nothing is retried blindly (a write cut off in its commit may have committed): the
        # session ends interrupted, and the run resumes from its events (automatic recovery).
        log.warning(
            "run %s: the database went away (%s); it ends interrupted", run.id, brief(error)
        )
        lost_store = Outcome("interrupted", STORE_LOST_REASON)
        return end_session(store, port, run, lost_store, run.active_seconds)
    finally:
        port.close()  # the process's halt watcher stops looking at this run


def _drive(
    store: storage.Store,
    run: Run,
    port: StoreRunPort,
    model_factory: ModelFactory | None,
    settings: Settings | None,
    outage: Outage | None = None,
) -> Outcome:
    events = storage.events_after(store, run_id=run.id)
    resumed = any(e.kind == EventKind.RUN_STARTED for e in events)
    if resumed:  # what a crashed session was streaming (a run never started streamed nothing)
        port.clear_partial()
    try:
        model = (model_factory or default_model_factory(settings or load_settings()))(run)
        # A halt (or the worker's stop) cuts the wait for an MCP server that is slow to start:
        # the process's halt watcher looks at the run from here on (port.watched registers it).
        with calling(ToolContext(cancel=port.watched.token)):
            spec = run_spec(store, run, events)
    except (ModelError, ValueError, OSError) as exc:
        port.record(Error(message=str(exc), where="start"))
        return end_session(store, port, run, Outcome("failed", str(exc)), run.active_seconds)
    port.redactor = run_redactor(spec.policy, spec.workspace)  # its secret files' values too
    note_redactor(port.redactor)  # and its log lines are redacted of them
    port.trace = session_trace(run, events, model, port.redactor, resumed=resumed)
    note_trace(port.trace.traceparent)  # its log lines carry the trace's ids
    shell = run_shell_offer(spec.policy)
    changed = changed_since(spec.policy.origin)
    started = RunStarted(
        goal=run.goal,
        model=run.model,
        model_name=model.model_name,
        autonomy=run.autonomy,
        tools=sorted(spec.tools),
        resumed=resumed,
        shell={"mode": shell.mode, "network": shell.network, "note": shell.describe()},
        # the run keeps its recorded policy; the audit says the file moved on
        policy_changed=changed or None,
        known_hosts=spec.known_hosts,
        drift_checks=drift_checks_note(spec.policy.monitors, model.provider),
        trace=port.trace.traceparent,
    )
    # Still waiting when it was resumed with an approval pending (the claim kept it "waiting");
    # a run never started has asked nobody yet.
    pending = resumed and storage.pending_approvals(store, run_id=run.id, limit=1)
    try:  # a halt that came between the claim and here ends the run before it starts
        port.begin_session(
            started, "waiting" if pending else "running", reason=None, model_name=model.model_name
        )
    except storage.HaltRequested:
        return end_session(
            store, port, run, Outcome("halted", "halted before it started"), run.active_seconds
        )
    loop = AgentLoop(spec, model, port)
    try:
        outcome = loop.run()
    except storage.HaltRequested:  # halted or lost in the loop's first steps (the token says)
        outcome = ended(port.token)
    except Exception as exc:  # a bug: record it so the run does not hang in "running"
        if is_transient(exc) or store_fault(exc):  # not the run's: it ends interrupted (drive_run)
            raise
        if isinstance(exc, storage.StoreChanged):  # deleted or replaced: the worker stops, once
            raise
        log.exception("run %s crashed", run.id)
        try:  # a model's answer the port still held goes first (StoreRunPort.hold_step)
            port.record(Error(message=f"{type(exc).__name__}: {exc}", where="loop"))
        except storage.HaltRequested:  # refused with it: the session's end says halted
            pass
        outcome = Outcome("failed", f"internal error: {type(exc).__name__}: {exc}")
    return end_session(store, port, run, outcome, loop.elapsed(), outage)
