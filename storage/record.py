"""What each kind of event says: one pydantic model per kind, joined into one union on `kind`.

The events table stores `kind` and the payload as JSON (without `kind`). Writers build a model
and store `payload()`: exactly the fields they set, so a field a writer leaves out stays out of
the JSON as before. Readers go through `parse_event`, which never fails: a field older releases
did not write reads as its default, a key no model names is kept (extra), and a field of the
wrong type reads as its default too (the payload itself is kept as stored, for exports), so
readers always see typed values and an old or odd store opens unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, ValidationError

from storage.vocabulary import EventKind, RunStatus, Verdict

Number = int | float  # kept as written: a cost of 0 stays 0, not 0.0


class EventPayload(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())

    kind: str
    # Fields the JSON leaves out, rather than writing null, when the writer has nothing for them.
    absent_when_none: ClassVar[frozenset[str]] = frozenset()
    _stored: dict[str, Any] | None = PrivateAttr(default=None)  # as read, when it did not fit

    def payload(self) -> dict[str, Any]:
        """The JSON the store keeps: the fields this event was given, never its kind."""
        if self._stored is not None:
            return dict(self._stored)
        dumped = self.model_dump(mode="json", exclude_unset=True, exclude={"kind"})
        return {k: v for k, v in dumped.items() if v is not None or k not in self.absent_when_none}

    def row(self) -> dict[str, Any]:
        """`kind` and `payload`, as the store's append functions take them."""
        return {"kind": self.kind, "payload": self.payload()}

    def given(self, field: str) -> bool:
        """Whether the stored payload named `field` (older releases left some out)."""
        return field in self.model_fields_set


E = TypeVar("E", bound=EventPayload)


class RunStarted(EventPayload):
    kind: Literal["run_started"] = "run_started"
    absent_when_none = frozenset({"policy_changed", "known_hosts", "drift_checks", "trace"})
    goal: str | None = None
    model: str | None = None
    model_name: str | None = None
    autonomy: str | None = None
    tools: list[str] = Field(default_factory=list)
    resumed: bool = False
    shell: dict[str, Any] | None = None  # mode, network, note
    policy_changed: str | None = None  # how the policy file moved on since the run began
    # Hosts the goal or the workspace named when the run first started: host -> where
    # (oversight/known_hosts.py); a resumed session keeps the first session's.
    known_hosts: dict[str, str] | None = None
    # What watches the run for drift: the structural checks, and the progress judge or why not.
    drift_checks: str | None = None
    # The session's span (W3C traceparent) when traces are sent: later sessions join its trace.
    trace: str | None = None


class ModelRequest(EventPayload):
    kind: Literal["model_request"] = "model_request"
    absent_when_none = frozenset({"purpose"})
    step: int | None = None
    # A request beside the conversation: "judge" (the progress judge); None: the step's own.
    purpose: str | None = None


class ModelCall(EventPayload):
    kind: Literal["model_call"] = "model_call"
    step: int | None = None
    text: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)  # id, name, arguments (raw)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Number | None = None
    latency_s: Number | None = None
    model_name: str | None = None
    finish_reason: str | None = None


class ToolCall(EventPayload):
    kind: Literal["tool_call"] = "tool_call"
    absent_when_none = frozenset({"args_hash", "call_class"})
    tool_call_id: str | None = None
    tool: str | None = None
    arguments: Any = None  # an invalid call's raw text, as sent
    risk: str | None = None  # a Risk, or "unknown" for a tool the run does not have
    verdict: Verdict | None = None
    rule: str | None = None
    reason: str | None = None
    args_hash: str | None = None  # left out for a call that could not run
    call_class: str | None = None  # what the call does (storage.CallClass), when classified


class ApprovalRequested(EventPayload):
    kind: Literal["approval_requested"] = "approval_requested"
    tool_call_id: str | None = None
    tool: str | None = None
    arguments: Any = None
    risk: str | None = None
    reason: str | None = None
    rule: str | None = None
    summary: str | None = None
    model_text: str | None = None
    args_hash: str | None = None
    approval_id: int | None = None  # not written before approvals were consumed by id
    expires_at: str | None = None
    call_class: str | None = None  # what the call does (storage.CallClass); None: unclassified


class ApprovalDecided(EventPayload):
    kind: Literal["approval_decided"] = "approval_decided"
    absent_when_none = frozenset({"edited", "edit", "allow_rule"})
    approval_id: int | None = None
    tool_call_id: str | None = None
    tool: str | None = None
    decision: str | None = None  # approved | rejected | expired | cancelled
    decided_by: str | None = None
    note: str | None = None
    args_hash: str | None = None
    edited_arguments: Any = None
    allow_scope: str | None = None
    allow_rule: dict[str, Any] | None = None  # what the scope allows (oversight/scopes.py)
    waited_s: Number | None = None
    edited: bool | None = None
    edit: dict[str, Any] | None = None  # the policy's verdict for the edited call


class ToolStarted(EventPayload):
    kind: Literal["tool_started"] = "tool_started"
    tool_call_id: str | None = None
    tool: str | None = None
    approval_id: int | None = None
    args_hash: str | None = None


class ToolResult(EventPayload):
    kind: Literal["tool_result"] = "tool_result"
    absent_when_none = frozenset({"arguments", "edited_by", "requested_arguments"})
    tool_call_id: str = ""
    tool: str | None = None
    ok: bool = False
    output: str = ""
    duration_s: Number | None = None
    outcome: str | None = None  # ok | error | denied | rejected | invalid | skipped | halted
    arguments: Any = None  # what ran, for a call that ran
    edited_by: str | None = None
    requested_arguments: Any = None


class Guidance(EventPayload):
    kind: Literal["guidance"] = "guidance"
    message: str = ""
    by: str | None = None


class AllowanceRevoked(EventPayload):
    """What an approval allowed for the rest of the run is withdrawn from here on."""

    kind: Literal["allowance_revoked"] = "allowance_revoked"
    approval_id: int | None = None
    by: str | None = None


class HaltRequest(EventPayload):
    kind: Literal["halt_requested"] = "halt_requested"
    by: str | None = None
    status: RunStatus | None = None  # the run's status when the halt was asked


class Drift(EventPayload):
    kind: Literal["drift"] = "drift"
    monitor: str | None = None
    detail: str | None = None
    action: str | None = None  # pause | halt | fail


class Judge(EventPayload):
    kind: Literal["judge"] = "judge"
    score: Number | None = None
    reason: str | None = None
    threshold: Number | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: Number | None = None


class GoalCheck(EventPayload):
    kind: Literal["goal_check"] = "goal_check"
    met: bool = False
    reason: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: Number | None = None


class Recovered(EventPayload):
    kind: Literal["recovered"] = "recovered"
    in_flight: str | None = None
    repeats: list[str] = Field(default_factory=list)
    by: str | None = None
    after: str | None = None


class Status(EventPayload):
    kind: Literal["status"] = "status"
    absent_when_none = frozenset({"resumed", "automatic", "by"})
    status: RunStatus | None = None
    reason: str | None = None
    resumed: bool | None = None
    automatic: bool | None = None  # resumed by a worker, not a person
    by: str | None = None  # who resumed it


class FinalAnswer(EventPayload):
    kind: Literal["final_answer"] = "final_answer"
    text: str = ""
    goal_met: bool = True  # older releases wrote no verdict: the answer stood
    claimed_goal_met: bool | None = None
    structured: bool | None = None
    problems: list[str] = Field(default_factory=list)


class Error(EventPayload):
    kind: Literal["error"] = "error"
    message: str | None = None
    where: str | None = None


class OtherEvent(EventPayload):
    """A kind this release does not know (written by a newer one): read, never refused."""


RecordedEvent = Annotated[
    RunStarted
    | ModelRequest
    | ModelCall
    | ToolCall
    | ApprovalRequested
    | ApprovalDecided
    | ToolStarted
    | ToolResult
    | Guidance
    | AllowanceRevoked
    | HaltRequest
    | Drift
    | Judge
    | GoalCheck
    | Recovered
    | Status
    | FinalAnswer
    | Error,
    Field(discriminator="kind"),
]
EVENTS: TypeAdapter[RecordedEvent] = TypeAdapter(RecordedEvent)
MODELS: dict[str, type[EventPayload]] = {
    model.model_fields["kind"].default: model
    for model in (
        RunStarted,
        ModelRequest,
        ModelCall,
        ToolCall,
        ApprovalRequested,
        ApprovalDecided,
        ToolStarted,
        ToolResult,
        Guidance,
        AllowanceRevoked,
        HaltRequest,
        Drift,
        Judge,
        GoalCheck,
        Recovered,
        Status,
        FinalAnswer,
        Error,
    )
}
if set(MODELS) != set(EventKind):  # one model per kind, and a kind for every model
    raise RuntimeError(f"event models and kinds differ: {set(MODELS) ^ set(EventKind)}")


def parse_event(kind: str, payload: Any) -> EventPayload:
    """The stored event as its model: the union discriminated on `kind` reads every known kind;
    an unknown kind, or a field of the wrong type, is read as the module's docstring says (never
    raises)."""
    stored = payload if isinstance(payload, dict) else {}
    model = MODELS.get(kind, OtherEvent)
    try:
        if model is OtherEvent:
            return model.model_validate({**stored, "kind": kind})
        return EVENTS.validate_python({**stored, "kind": kind})
    except ValidationError as error:
        # The union's errors are located under the kind's tag: (kind, field, ...).
        locations = [e["loc"][1:] if model is not OtherEvent else e["loc"] for e in error.errors()]
        unfit = {str(loc[0]) for loc in locations if loc}
        fitting = {k: v for k, v in stored.items() if k not in unfit}
        parsed = model.model_validate({**fitting, "kind": kind})
        parsed._stored = stored
        return parsed


def parse_as(model: type[E], payload: Any) -> E:
    """A payload of a kind the caller already knows, as that kind's model."""
    parsed = parse_event(model.model_fields["kind"].default, payload)
    if not isinstance(parsed, model):
        raise TypeError(f"{model.__name__} is not an event model")
    return parsed


def field(model: type[EventPayload], name: str) -> str:
    """`name`, checked to be a field of `model`: for SQL that reads payloads in the database."""
    if name not in model.model_fields:
        raise KeyError(f"{model.__name__} has no field {name!r}")
    return name
