"""The loop's only door to the outside: record events, read commands and decisions (wired to storage)."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError

import storage
from agent_core.oversight.notify.notice import Notice
from agent_core.oversight.notify.sender import SENDER
from agent_core.oversight.notify_settings import NotifySettings
from agent_core.oversight.policy import Policy
from agent_core.oversight.project_rules import ProjectRules
from agent_core.oversight.redact import Redactor, redactor_for
from agent_core.run.halt_watcher import WatchedRun, watcher_for
from agent_core.run.per_store import PerStore
from agent_core.telemetry.metrics import event_recorded
from agent_core.telemetry.run_trace import NO_TRACE, RunTrace
from agent_core.tools.cancel_token import CancelReason, CancelToken
from storage.record import EventPayload, RunStarted
from storage.store_faults import store_fault
from storage.transient import brief, retrying

log = logging.getLogger("onloop.port")
READ_PATIENCE_S = 10.0  # how long a read waits out the database before the session gives up
T = TypeVar("T")
PARTIAL_EVERY_S = 0.25  # a streaming turn's partial output is written at most 4 times a second


@dataclass(frozen=True)
class HumanCommand:
    kind: str  # halt | pause | resume | guidance | revoke
    message: str = ""
    by: str | None = None
    approval_id: int | None = None  # revoke: the approval whose allowance is withdrawn


@dataclass(frozen=True)
class HumanDecision:
    decision: str  # approved | rejected | expired
    decided_by: str
    note: str | None
    approved_hash: str | None
    edited_arguments: dict[str, Any] | None
    allow_scope: str | None
    approval_id: int | None = None  # onloop's id of the approval this decides
    allow_rule: dict[str, Any] | None = None  # the scoped allowance's rule (oversight/scopes.py)
    call_class: str | None = None  # the call's class when it was asked (caps "this exact call")


UsageAdded = Mapping[str, float]  # by storage.UsageName: what one event adds to the run totals


@dataclass(frozen=True, slots=True)
class HeldStep:
    """An event waiting for the port's next write, which carries it in its own transaction,
    ahead of its own event and under the same halt check.

    A step's event (a model's answer, `always` False) refused with that write is dropped, `late`
    (its cost) still added to the run's totals: an answer after a halt is never recorded. A
    record (a tool's result, `always` True) refused with it is written on its own before the
    refusal rises: what a tool did is always on record."""

    kind: str
    payload: dict[str, Any]
    usage: UsageAdded | None
    late: UsageAdded
    always: bool = False


def _added(*usages: UsageAdded | None) -> dict[str, float] | None:
    """Usages summed by name (None when there is none)."""
    total: dict[str, float] = {}
    for usage in usages:
        for name, amount in (usage or {}).items():
            total[name] = total.get(name, 0) + amount
    return total or None


class RunPort(Protocol):
    def record(self, event: EventPayload, usage: UsageAdded | None = None) -> int: ...
    def set_status(self, status: str, **fields: Any) -> None: ...
    def add_usage(self, **amounts: Any) -> None: ...
    def take_commands(self) -> list[HumanCommand]: ...
    def halt_requested(self) -> bool: ...
    def cancelled_now(self) -> bool: ...
    def begin_step(self, event: EventPayload, usage: UsageAdded | None = None) -> int: ...
    def hold_step(self, event: EventPayload, usage: UsageAdded, late: UsageAdded) -> None: ...
    def hold_record(self, event: EventPayload, usage: UsageAdded | None = None) -> None: ...
    def write_held(self) -> None: ...

    token: CancelToken

    def working_until(self, deadline: float) -> AbstractContextManager[None]: ...
    def awaiting(self, approval_id: int) -> AbstractContextManager[threading.Event]: ...
    def begin_execution(self, call_event: EventPayload | None = None, **call: Any) -> int: ...
    def should_stop(self) -> bool: ...
    def request_approval(self, **request: Any) -> int: ...
    def approvals_requested_after(self, seq: int) -> dict[int, Any]: ...
    def approval(self, approval_id: int) -> Any: ...
    def decision(self, approval_id: int) -> HumanDecision | None: ...
    def expire_approval(self, approval_id: int) -> HumanDecision | None: ...
    def cancel_approval(self, approval_id: int) -> HumanDecision | None: ...
    def partial(self, step: int, text: str) -> None: ...
    def end_partial(self) -> None: ...
    def with_project_rules(self, policy: Policy) -> Policy: ...
    def notify(self, notice: Notice, settings: NotifySettings) -> None: ...


@dataclass
class StoreRunPort:
    """RunPort over the store; `stop` is set by the worker when it shuts down or loses the lease.

    Given `worker_id` (and `epoch`, the claim's), every write for the run is fenced: the store
    refuses it once the claim no longer holds, and the port then cancels the run's token (LOST),
    sets `stop` and lets the refusal rise to the loop, so a stale driver starts no model call or
    tool. A refused step (a halt) cancels the token too (HALTED): the store has the last word."""

    store: storage.Store
    run_id: str
    stop: threading.Event = field(default_factory=threading.Event)
    # The run's one cancellation token (see cancel_token): everything it blocks on honours it.
    token: CancelToken = field(default_factory=CancelToken)
    worker_id: str | None = None  # set: steps start only while the run is still this worker's
    epoch: int | None = None  # the claim's epoch (runs.claim_epoch): its writes carry it
    _held: list[HumanCommand] = field(default_factory=list)
    _step_held: HeldStep | None = None  # what the next write carries (hold_step, hold_record)
    _partial: str | None = None  # the partial output last written (None: no live_output row)
    _partial_at: float = float("-inf")
    redactor: Redactor = field(default_factory=redactor_for)  # the worker set it to the run's
    _watched: WatchedRun | None = None
    _project: ProjectRules | None = None
    trace: RunTrace = NO_TRACE  # the session's spans (agent_core/telemetry), fed what is recorded

    def with_project_rules(self, policy: Policy) -> Policy:
        """The run's policy with the project's rules as they are now (read again only when one
        changed): a rule added on the Policy page applies to the next call of every run."""
        if self._project is None:
            self._project = project_rules_for(self.store)
        project = self._project
        return self._read(lambda: project.applied_to(policy))

    @property
    def watched(self) -> WatchedRun:
        """This run in the process's halt watcher for its store (registered on first use,
        unregistered by close() or when the port is gone)."""
        if self._watched is None:
            self._watched = watcher_for(self.store).register(self.run_id, self.stop, self.token)
            weakref.finalize(self, self._watched.close)
        return self._watched

    def close(self) -> None:
        self.trace.close()
        if self._watched is not None:
            self._watched.close()

    def working_until(self, deadline: float) -> AbstractContextManager[None]:
        """While inside, passing `deadline` (time.monotonic()) cancels the token within ~0.1 s,
        as a halt or the worker's stop does at any time: the process's one halt watcher looks
        for all its runs."""
        return self.watched.until(deadline)

    def awaiting(self, approval_id: int) -> AbstractContextManager[threading.Event]:
        """While inside, the halt watcher's one read also looks at this approval: the event is
        set when it is decided or expired (or the token is cancelled); no read of its own."""
        return self.watched.awaiting(approval_id)

    @property
    def fence(self) -> storage.Fence | None:
        return None if self.worker_id is None else storage.Fence(self.worker_id, self.epoch)

    @contextmanager
    def _fenced(self) -> Iterator[None]:
        """A refused write ends this driver's session at once: another claim holds the run (the
        token LOST) or a halt came first (HALTED); the refusal rises to the loop."""
        try:
            yield
        except storage.LeaseLost as lost:
            self.stop.set()
            upgraded = isinstance(lost, storage.StoreUpgraded)  # said as the run's reason
            self.token.cancel(CancelReason.LOST, str(lost) if upgraded else None)
            log.warning("stopped driving run %s: %s", self.run_id, lost)
            raise
        except storage.HaltRequested:
            self.token.cancel(CancelReason.HALTED)
            raise

    def record(self, event: EventPayload, usage: UsageAdded | None = None) -> int:
        """Append an event; `usage` it carries is added to the run's totals in the same
        transaction."""
        kind, payload = event.kind, self.redactor.payload(event.payload())  # no secrets stored
        self.write_held()
        seq = self._append(kind, payload, usage)
        self._seen(kind, payload)
        return seq

    def _append(self, kind: str, payload: dict[str, Any], usage: UsageAdded | None) -> int:
        """One event in a transaction of its own, fenced (no halt refuses it); its seq."""
        extra = {"usage": usage} if usage else {}
        with self._fenced():
            return storage.append_event(
                self.store,
                run_id=self.run_id,
                kind=kind,
                payload=payload,
                fence=self.fence,
                **extra,
            )

    def set_status(self, status: str, **fields: Any) -> None:
        """running <-> waiting: only while the run is still driven, else HaltRequested (see
        mark_driven), the token cancelled."""
        fields = self._redacted(fields)
        self.write_held()
        with self._fenced():
            storage.mark_driven(
                self.store, run_id=self.run_id, status=status, fence=self.fence, **fields
            )

    def _redacted(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A run's fields as they may be stored: every text redacted."""
        return {k: self.redactor(v) if isinstance(v, str) else v for k, v in fields.items()}

    def begin_session(self, started: RunStarted, status: str, **fields: Any) -> int:
        """The session's start and the run marked driven (`status`), in one transaction,
        refused whole as a step's start is (storage.begin_session)."""
        payload = self.redactor.payload(started.payload())  # no secrets stored
        fields = self._redacted(fields)
        self.write_held()
        with self._fenced():
            seq = storage.begin_session(
                self.store,
                run_id=self.run_id,
                started=payload,
                status=status,
                fence=self.fence,
                **fields,
            )
        self._seen(started.kind, payload)
        return seq

    def add_usage(self, **amounts: Any) -> None:
        self.write_held()
        with self._fenced():
            storage.add_usage(self.store, run_id=self.run_id, fence=self.fence, **amounts)

    def take_commands(self) -> list[HumanCommand]:
        """The commands waiting for the run: one indexed read, and a write only when there is
        something. A pending halt comes alone and stays pending (the session's end takes it)."""
        rows = self._read(lambda: storage.pending_command_rows(self.store, run_id=self.run_id))
        halts = [row for row in rows if row.kind == "halt"]
        if halts:
            self.watched.halted = True
            return [HumanCommand("halt", "", halts[0].created_by)]
        taken = []
        if rows:
            self.write_held()
        for row in rows:
            with self._fenced():  # a stale driver must not swallow a command meant for the run
                storage.consume_command(
                    self.store, command_id=row.id, run_id=self.run_id, fence=self.fence
                )
            payload = row.payload or {}
            message = str(payload.get("message", ""))
            approval_id = payload.get("approval_id")
            approval_id = approval_id if isinstance(approval_id, int) else None
            taken.append(HumanCommand(row.kind, message, row.created_by, approval_id))
        return taken

    def halt_requested(self) -> bool:
        """From the halt watcher's view when it is fresh (an early warning: the store's step
        transactions decide), else one indexed read."""
        seen = self.watched.halt_seen()
        if seen is not None:
            return seen
        return self._read(lambda: storage.halt_pending(self.store, run_id=self.run_id))

    def cancelled_now(self) -> bool:
        """Whether the run must stop now: the worker's stop, or a halt read from the store itself
        (one indexed read, never the watcher's view); either cancels the token. Asked by a running
        tool right before it sends anything out (ToolContext.halt_check, before_sending)."""
        if self.stop.is_set():
            self.token.cancel(CancelReason.STOPPED)
        elif self._read(lambda: storage.halt_pending(self.store, run_id=self.run_id)):
            self.watched.halted = True
            self.token.cancel(CancelReason.HALTED)
        return self.token.reason in (CancelReason.HALTED, CancelReason.STOPPED, CancelReason.LOST)

    def _read(self, read: Callable[[], T]) -> T:
        """Reads ride out a database hiccup (a few seconds); a longer outage ends the session
        interrupted (the worker), and the run resumes from its events."""
        return retrying(read, what=f"run {self.run_id}", log=log, give_up_after=READ_PATIENCE_S)

    def begin_step(self, event: EventPayload, usage: UsageAdded | None = None) -> int:
        """Record that a step starts, atomically with the halt check (storage.HaltRequested),
        with the `usage` the event carries added to the run's totals in the same transaction
        (and a held step's event ahead of it, see hold_step)."""
        kind, payload = event.kind, self.redactor.payload(event.payload())  # no secrets stored
        held, self._step_held = self._step_held, None
        try:
            with self._fenced():
                seq = storage.begin_step(
                    self.store,
                    run_id=self.run_id,
                    kind=kind,
                    payload=payload,
                    fence=self.fence,
                    usage=_added(None if held is None else held.usage, usage),
                    before=() if held is None else ((held.kind, held.payload),),
                )
        except storage.LeaseLost:
            raise  # another claim holds the run: this driver writes nothing more
        except storage.HaltRequested:
            self._refused(held)
            raise
        self._saw(held)
        self._seen(kind, payload)
        return seq

    def hold_step(self, event: EventPayload, usage: UsageAdded, late: UsageAdded) -> None:
        """A step's event (a model's answer) written by this port's next write, in its
        transaction and ahead of its event, under its halt check: an answer followed by a tool
        call that nothing stops is one commit with the call's start, not two. Any write writes
        it first (record, a status, a command taken, an approval asked for...), so the order of
        the run's events is the order of the loop's calls; the loop writes it before it ends
        (write_held). Refused because a halt came first, it is dropped and `late` (its cost) is
        added to the run's totals: an answer that comes after a halt is never recorded."""
        self.write_held()
        payload = self.redactor.payload(event.payload())  # no secrets stored
        self._step_held = HeldStep(event.kind, payload, usage, late)

    def hold_record(self, event: EventPayload, usage: UsageAdded | None = None) -> None:
        """An event that is always recorded (a tool's result), written by this port's next write
        in its transaction, ahead of its event, as hold_step's: the result and the next request
        (or the next call's start) are one commit, not two. Refused with that write by a halt,
        it is written on its own before the refusal rises; after a lost claim nothing is. A
        crash before the next write loses it as one in its own commit would: the call's start
        is on record, so a resume asks a person before that call runs again (unless the policy
        marks the tool safe to repeat)."""
        self.write_held()
        payload = self.redactor.payload(event.payload())  # no secrets stored
        self._step_held = HeldStep(event.kind, payload, usage, {}, always=True)

    def write_held(self) -> None:
        """The held event (hold_step, hold_record), if any, in a transaction of its own, now."""
        held, self._step_held = self._step_held, None
        if held is None:
            return
        if held.always:
            self._write_alone(held)
            return
        try:
            with self._fenced():
                storage.begin_step(
                    self.store,
                    run_id=self.run_id,
                    kind=held.kind,
                    payload=held.payload,
                    fence=self.fence,
                    usage=held.usage or None,
                )
        except storage.LeaseLost:
            raise
        except storage.HaltRequested:
            self._late(held)
            raise
        self._saw(held)

    def _write_alone(self, held: HeldStep) -> None:
        """A held record in an event transaction of its own (no halt refuses it)."""
        self._append(held.kind, held.payload, held.usage)
        self._saw(held)

    def _refused(self, held: HeldStep | None) -> None:
        """What was held when a halt refused the write carrying it: a record is written on its
        own, a step dropped with its cost kept."""
        if held is not None and held.always:
            self._write_alone(held)
        else:
            self._late(held)

    def _late(self, held: HeldStep | None) -> None:
        """A held step refused by a halt: dropped, its cost kept."""
        if held is not None and any(held.late.values()):
            with self._fenced():
                late: dict[str, Any] = dict(held.late)  # tokens and cost, by their names
                storage.add_usage(self.store, run_id=self.run_id, fence=self.fence, **late)

    def _saw(self, held: HeldStep | None) -> None:
        if held is not None:
            self._seen(held.kind, held.payload)

    def _seen(self, kind: str, payload: dict[str, Any]) -> None:
        """An event written: the run's trace and the metrics (and its log line) are told."""
        self.trace.saw(kind, payload)
        event_recorded(self.run_id, self.worker_id, kind, payload)

    def begin_execution(self, call_event: EventPayload | None = None, **call: Any) -> int:
        """The last step before a tool starts, in one transaction: no halt pending (else
        storage.HaltRequested), the approval if any consumed for exactly these arguments (else
        storage.ApprovalUnusable), and a `tool_started` event; returns its seq.

        `call_event`, the call's own `tool_call` event when nothing stood between its verdict
        and its start, is written in the same transaction, just before `tool_started` (one
        commit a call fewer); refused, it is recorded alone before the refusal rises, so the
        call the model sent stays on record as it did when it was written first."""
        held, self._step_held = self._step_held, None
        before = [] if held is None else [(held.kind, held.payload)]
        if call_event is not None:
            kind, payload = call_event.kind, self.redactor.payload(call_event.payload())
            before.append((kind, payload))
        try:
            with self._fenced():
                seq = storage.begin_execution(
                    self.store,
                    run_id=self.run_id,
                    fence=self.fence,
                    before=tuple(before),
                    usage=None if held is None else held.usage,
                    **call,
                )
        except storage.LeaseLost:
            raise  # another claim holds the run: nothing more is written by this driver
        except storage.HaltRequested:
            if held is not None and not held.always:  # an answer after the halt: not its call
                self._late(held)
            else:
                self._refused(held)  # a previous call's result, on its own
                if call_event is not None:
                    self.record(call_event)
            raise
        except storage.ApprovalUnusable:
            self._step_held = held  # written first, on its own, by the next write
            if call_event is not None:
                self.record(call_event)
            self.write_held()
            raise
        self._saw(held)
        if call_event is not None:
            self._seen(kind, payload)
        return seq

    def should_stop(self) -> bool:
        """The worker's stop (shutdown, a lapsed lease); it cancels the token (STOPPED)."""
        if self.stop.is_set():
            self.token.cancel(CancelReason.STOPPED)
            return True
        return False

    def notify(self, notice: Notice, settings: NotifySettings) -> None:
        """Tell people on the policy's channels, off this thread (oversight/notify/sender.py):
        the notice's words redacted as the store has them (a goal may quote a pasted key)."""
        redact = self.redactor
        shown = replace(
            notice,
            goal=redact(notice.goal),
            action=redact(notice.action),
            reason=redact(notice.reason),
        )
        SENDER.submit(self.store, settings, shown)

    def request_approval(self, **request: Any) -> int:
        """Open an approval and set the run waiting, in one transaction; returns its id."""
        for shown in ("model_text", "summary", "reason"):  # the arguments stay: their hash binds
            if isinstance(request.get(shown), str):
                request[shown] = self.redactor(request[shown])
        call = request.get("tool_call_id")  # what a trace is told: the call, not its content
        self.write_held()
        with self._fenced():  # a halt first: HaltRequested, nothing written, the token cancelled
            approval = storage.request_approval(
                self.store, run_id=self.run_id, fence=self.fence, **request
            )
        self.trace.saw("approval_requested", {"approval_id": approval.id, "tool_call_id": call})
        event_recorded(
            self.run_id,
            self.worker_id,
            "approval_requested",
            {"approval_id": approval.id, **request},
        )
        return _id(approval.id)

    def approvals_requested_after(self, seq: int) -> dict[int, Any]:
        """This run's approvals requested after event `seq`, by request_seq (crash recovery)."""
        found = storage.pending_approvals(self.store, run_id=self.run_id)
        found += storage.decisions(self.store, run_id=self.run_id)
        return {a.request_seq: a for a in found if a.request_seq > seq}

    def approval(self, approval_id: int) -> Any:
        return self._read(lambda: storage.get_approval(self.store, approval_id=approval_id))

    def decision(self, approval_id: int) -> HumanDecision | None:
        approval = self.approval(approval_id)
        if approval.status == "pending":
            if approval.expires_at is not None and storage.past_deadline(  # the database's clock
                self.store, approval_id=approval_id
            ):
                return self.expire_approval(approval_id)
            return None
        return _as_decision(approval)

    def expire_approval(self, approval_id: int) -> HumanDecision | None:
        try:
            approval = storage.decide_approval(
                self.store,
                approval_id=approval_id,
                decision="expired",
                decided_by="onloop (approval expired)",
                note="no decision before the approval expired; treated as rejected",
            )
        except storage.InvalidState:  # a human decided at the same moment: theirs stands
            approval = storage.get_approval(self.store, approval_id=approval_id)
        return _as_decision(approval)

    def cancel_approval(self, approval_id: int) -> HumanDecision | None:
        """A halt came while the approval waited: it is cancelled by that halt, named by whom."""
        by = storage.halt_requested_by(self.store, run_id=self.run_id) or "a human"
        try:
            approval = storage.decide_approval(
                self.store,
                approval_id=approval_id,
                decision="cancelled",
                decided_by=by,
                note=f"cancelled: the run was halted by {by} while this approval waited",
            )
        except storage.InvalidState:  # a human decided at the same moment: theirs stands
            approval = storage.get_approval(self.store, approval_id=approval_id)
        return _as_decision(approval)

    def partial(self, step: int, text: str) -> None:
        """The streaming turn's output so far, for the CLI and the Run page (throttled: a
        preview, not the record; the turn's model_call event is)."""
        now = time.monotonic()
        if not text or now - self._partial_at < PARTIAL_EVERY_S:
            return
        text = self.redactor.preview(text)  # streamed in pieces: a secret is whole only later
        if not text or text == self._partial:
            return
        self._partial_at = now
        try:
            storage.set_live_output(
                self.store, run_id=self.run_id, step=step, text=text, fence=self.fence
            )
        except storage.LeaseLost as lost:  # the token cuts the call in flight
            self.stop.set()
            self.token.cancel(CancelReason.LOST)
            log.warning("stopped driving run %s: %s", self.run_id, lost)
            return
        except SQLAlchemyError as error:  # a busy store: the preview waits, the run goes on
            # A disk fault (full, read-only) is said once by the worker, not once per preview.
            quiet = store_fault(error) is not None
            log.log(
                logging.DEBUG if quiet else logging.WARNING,
                "could not write the partial output of run %s: %s",
                self.run_id,
                brief(error),
            )
            return
        self._partial = text

    def end_partial(self) -> None:
        """The turn is over (recorded, failed or cancelled): its partial output goes."""
        if self._partial is not None:
            self.clear_partial()

    def clear_partial(self) -> None:
        """The run's partial output in the store goes, whoever wrote it (a resumed run: what a
        crashed session was streaming)."""
        self._partial = None
        self.write_held()  # the turn is in the store before its preview goes
        with self._fenced():
            storage.clear_live_output(self.store, run_id=self.run_id, fence=self.fence)


project_rules_for: PerStore[ProjectRules] = PerStore(ProjectRules)
"""The process's one view of a store's project rules, shared by every run it drives: each call
still reads the rules' mark (a rule added applies to every run's next call), the rules themselves
only when it moved, not once more for every run."""


def _id(value: int | None) -> int:
    """Rows read back from the store always have their id."""
    if value is None:
        raise RuntimeError("a stored row came back without an id")
    return value


def _as_decision(approval: Any) -> HumanDecision:
    return HumanDecision(
        decision=approval.status,
        decided_by=approval.decided_by or "unknown",
        note=approval.note,
        approved_hash=approval.approved_hash,
        edited_arguments=approval.edited_arguments,
        allow_scope=approval.allow_scope,
        approval_id=approval.id,
        allow_rule=approval.allow_rule,
        call_class=approval.call_class,
    )
