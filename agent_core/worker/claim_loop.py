"""The worker: claims queued runs, drives each in its own thread, keeps their leases alive."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import storage
from agent_core.models.base import ModelError, ModelProvider
from agent_core.models.demo_goals import seed_demo_workspace
from agent_core.models.providers import make_model
from agent_core.models.settings import Settings, load_settings
from agent_core.oversight.confinement import run_protected, run_redactor, run_shell_offer
from agent_core.oversight.judge import drift_checks_note
from agent_core.oversight.known_hosts import project_hosts
from agent_core.oversight.monitors import Budget, Usage
from agent_core.oversight.notify.notice import end_notice
from agent_core.oversight.policy import Policy
from agent_core.oversight.policy_file import changed_since
from agent_core.run.auto_resume import recover_lapsed
from agent_core.run.loop import AgentLoop
from agent_core.run.outcome import LOST_REASON, Outcome, ended
from agent_core.run.port import StoreRunPort
from agent_core.run.spec import RunSpec
from agent_core.telemetry.logs import note_trace, run_context
from agent_core.telemetry.metrics import lost_lease
from agent_core.telemetry.traces import session_trace
from agent_core.tools import Workspace, shared_clients
from agent_core.tools.builtins import offered_tools
from agent_core.tools.protected import Protected, own_files
from agent_core.tools.registry import ToolLoadError, known_tools, missing_mcp_tools
from agent_core.tools.workspace_choice import copy_from, seed_workspace, work_in
from agent_core.worker.outage import Outage
from storage.engine import sqlite_path
from storage.models import Run, utcnow
from storage.private_files import FOLDER_MODE, private_folder, tighten
from storage.record import Error, RunStarted, parse_as
from storage.runs import STORE_LOST_REASON
from storage.store_faults import store_fault
from storage.transient import Backoff, brief, is_transient, retrying
from storage.vocabulary import FINISHED_STATUSES, EventKind

log = logging.getLogger("onloop.worker")
ModelFactory = Callable[[Run], ModelProvider]
WAITING_SLOTS_FACTOR = 10  # at most this many runs per slot held, most of them waiting
CLAIM_BATCH = 200  # runs claimed in one transaction at most
QUEUE_CHECK_S = 0.1  # between polls, how often an idle slot looks for a newly queued run


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def prepare_workspace(
    run: Run, root: Path, store_file: Path | None = None, protected: Protected | None = None
) -> Workspace:
    """The run's folder: the person's own (checked again: it may have changed since launch), or a
    per-run folder named by the run's id under this worker's `root` (ONLOOP_WORKSPACES: the
    machine that drives the run decides where), made on first use and seeded (a copy, or the
    demo's). `protected`: onloop's own files, which its tools may not write."""
    protected = protected or own_files(store_file=store_file)
    if run.own_workspace:  # the person's own folder: never created or seeded here
        return Workspace(work_in(str(run.workspace), store_file=store_file), protected)
    private_folder(root)  # owner-only, whatever the umask: runs' files are nobody else's
    path = root / run.id
    if not path.exists():
        if run.seed_from:
            seed_workspace(copy_from(run.seed_from, store_file=store_file), path)
        elif run.model == "demo":
            seed_demo_workspace(path)
        tighten(path, FOLDER_MODE, announce=False)  # made just now: no news for the log
    private_folder(path)
    return Workspace(path, protected)


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
        return _finish(store, port, run, Outcome("interrupted", LOST_REASON), run.active_seconds)
    except Exception as error:
        if outage is not None and outage.met(error):
            return _cut_off(store, port, run, outage)
        if not is_transient(error):
            raise
        # Nothing is retried blindly (a write cut off in its commit may have committed): the
        # session ends interrupted, and the run resumes from its events (automatic recovery).
        log.warning(
            "run %s: the database went away (%s); it ends interrupted", run.id, brief(error)
        )
        lost_store = Outcome("interrupted", STORE_LOST_REASON)
        return _finish(store, port, run, lost_store, run.active_seconds)
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
        model = (model_factory or _default_factory(settings or load_settings()))(run)
        spec = _spec(store, run, events)
    except (ModelError, ValueError, OSError) as exc:
        port.record(Error(message=str(exc), where="start"))
        return _finish(store, port, run, Outcome("failed", str(exc)), run.active_seconds)
    port.redactor = run_redactor(spec.policy, spec.workspace)  # its secret files' values too
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
    try:  # a halt that came between the claim and here ends the run before it starts
        port.begin_step(started)
    except storage.HaltRequested:
        return _finish(
            store, port, run, Outcome("halted", "halted before it started"), run.active_seconds
        )
    loop = AgentLoop(spec, model, port)
    try:
        # Still waiting when it was resumed with an approval pending (the claim kept it "waiting");
        # a run never started has asked nobody yet.
        pending = resumed and storage.pending_approvals(store, run_id=run.id, limit=1)
        port.set_status(
            "waiting" if pending else "running", reason=None, model_name=model.model_name
        )
        outcome = loop.run()
    except storage.HaltRequested:  # halted or lost before the loop began (the token says which)
        outcome = ended(port.token)
    except Exception as exc:  # a bug: record it so the run does not hang in "running"
        if is_transient(exc) or store_fault(exc):  # not the run's: it ends interrupted (drive_run)
            raise
        log.exception("run %s crashed", run.id)
        port.record(Error(message=f"{type(exc).__name__}: {exc}", where="loop"))
        outcome = Outcome("failed", f"internal error: {type(exc).__name__}: {exc}")
    return _finish(store, port, run, outcome, loop.elapsed(), outage)


def _cut_off(store, port: StoreRunPort, run: Run, outage: Outage) -> Outcome:
    """A session the store's disk fault cut off: once the store takes writes, it ends
    interrupted with the fault as its reason (resumable); nothing is written before."""
    fault = outage.wait_to_write(run.id)
    if fault is None:  # the worker stopped first: the lease lapses, and the run is ended then
        return Outcome("interrupted", "the worker stopped while the store could not be written")
    try:
        ending = Outcome("interrupted", fault.reason())
        return _finish(store, port, run, ending, run.active_seconds, outage)
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


def _default_factory(settings: Settings) -> ModelFactory:
    def build(run: Run) -> ModelProvider:
        if run.model == "openai" and not settings.openai_configured:
            raise ModelError(missing_model_settings(run))
        limits = Policy.model_validate(run.policy or {}).model
        return make_model(run.model, run.model_name, settings, limits)

    return build


def missing_model_settings(run: Run) -> str:
    """Why this worker cannot drive an openai run, and the fix: the model's settings live in the
    environment of the process that drives a run (never in the store), and this worker's has
    none, e.g. it took over a run an `onloop run` started in another shell and then lost."""
    return (
        f"the worker that took run {run.id} ({run.worker_id or 'this worker'}) has no "
        "OPENAI_API_KEY or OPENAI_BASE_URL in its environment (a run's model settings are never "
        f"stored with it); continue it from a shell where they are set: onloop resume {run.id}, "
        "or restart onloop up / onloop worker with them set"
    )


def _spec(store: storage.Store, run: Run, events: list) -> RunSpec:
    policy = Policy.model_validate(run.policy or {})
    if policy.mcp_servers:  # sandboxed stdio servers get <workspace root>/.mcp/<server>
        # The MCP SDK is imported only by a worker whose runs use servers (it is slow to load).
        from agent_core.tools.mcp_client import shared_pool

        shared_pool().scratch_root = Path(store.workspace_root) / ".mcp"
        shared_pool().protected = run_protected(policy, sqlite_path(store.url))
    try:  # the user's modules and the policy's MCP servers (started once per worker, reused)
        known = known_tools(policy.tools, policy.mcp_servers)
    except ToolLoadError as exc:
        raise ValueError(str(exc)) from exc
    # Where the shell cannot be sandboxed (and the policy did not opt in), it is not offered.
    tools = offered_tools(known, run_shell_offer(policy))
    if run.tools is not None:
        tools.update(missing_mcp_tools(run.tools, known, policy.mcp_servers))
        unknown = sorted(set(run.tools) - set(known) - set(tools))
        if unknown:
            raise ValueError(f"unknown tools {unknown}; available: {sorted(known)}")
        tools = {name: tools[name] for name in run.tools if name in tools}
    workspace = _workspace(store, run, policy)
    return RunSpec(
        run_id=run.id,
        goal=run.goal,
        autonomy=run.autonomy,
        budget=Budget(run.max_steps, run.max_seconds, run.max_tokens, run.max_cost_usd),
        tools=tools,
        workspace=workspace,
        policy=policy,
        usage=Usage(run.steps, run.tokens_in + run.tokens_out, run.cost_usd, run.active_seconds),
        prior_events=events,
        known_hosts=_known_hosts(run, workspace, events),
    )


def _known_hosts(run: Run, workspace: Workspace, events: list) -> dict[str, str]:
    """The hosts the first session found (the workspace as it was before the agent acted);
    found now for a run starting (or one started before onloop recorded them)."""
    for event in events:
        if event.kind == EventKind.RUN_STARTED:
            first = parse_as(RunStarted, event.payload).known_hosts
            if first is not None:
                return dict(first)
            break
    return project_hosts(workspace.real_root, run.goal)


def _workspace(store: storage.Store, run: Run, policy: Policy) -> Workspace:
    """Prepare the run's folder; a per-run folder's path, as this worker resolved it, is what
    the run shows from now on (fenced: only while the run is this session's)."""
    store_file = sqlite_path(store.url)
    protected = run_protected(policy, store_file)
    workspace = prepare_workspace(run, store.workspace_root, store_file, protected)
    if not run.own_workspace and str(workspace.root) != run.workspace and run.worker_id:
        fence = storage.Fence(run.worker_id, run.claim_epoch)
        storage.update_run(store, run_id=run.id, workspace=str(workspace.root), fence=fence)
        run.workspace = str(workspace.root)
    return workspace


def _finish(
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
        port.notify(notice, Policy.model_validate(run.policy or {}).notifications())


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
        storage.open_no_other_file(store)  # no connection to a file that took the store's place

    def serve(self) -> None:
        """Claim and drive runs until stop is set; then stop active runs as interrupted."""
        self.start_heartbeat()
        backoff = Backoff()
        try:
            while not self.stop.is_set():
                if self.outage.fault is not None:  # claims wait until the store takes writes
                    if self.outage.recover():
                        self._renew_leases()  # before any lapsed lease is ended
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
        """Wait for the next poll; a run queued meanwhile (one cheap read every QUEUE_CHECK_S
        while a slot is free) cuts the wait short, so a launch starts within a tenth of a
        second, not a whole poll later."""
        deadline = time.monotonic() + self.poll_s
        while not self.stop.wait(min(QUEUE_CHECK_S, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return
            try:
                if self._room() and storage.has_claimable_run(self.store):
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
        while room := min(self._room(), CLAIM_BATCH):
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
        threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True).start()

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

    def _heartbeat(self) -> None:
        while not self.stop.wait(self.lease_seconds / 3):
            self._renew_leases()

    def _renew_leases(self) -> None:
        with self._lock:
            active = list(self._active.items())
        for run_id, (_, run_stop, epoch) in active:
            if self.outage.fault is not None:
                return  # nothing can be written: the store's outage is said once, elsewhere
            try:
                kept = storage.renew_lease(
                    self.store,
                    run_id=run_id,
                    worker_id=self.worker_id,
                    lease_seconds=self.lease_seconds,
                    epoch=epoch,
                )
            except Exception as error:  # try again next beat, before the lease lapses
                if self.outage.met(error):
                    return
                if not is_transient(error):
                    log.exception("could not renew the lease of run %s", run_id)
                else:
                    log.warning("could not renew the lease of run %s: %s", run_id, brief(error))
                continue
            if not kept:
                run_stop.set()

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
