"""The words the record is written in, defined once: statuses and their groups, risk, autonomy,
verdicts, event kinds and usage names.

Each is a StrEnum, so a member equals (and stores, and prints, as) its plain string: rows and
event payloads written before these existed read back unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    UNMET = "unmet"  # finished, goal not met
    FAILED = "failed"
    HALTED = "halted"
    INTERRUPTED = "interrupted"


RUN_STATUSES = tuple(RunStatus)  # in this order wherever they are listed
ACTIVE_STATUSES = frozenset(
    {RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.PAUSED}
)
FINISHED_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.UNMET, RunStatus.FAILED, RunStatus.HALTED}
)
RESUMABLE_STATUSES = frozenset(
    {RunStatus.PAUSED, RunStatus.INTERRUPTED, RunStatus.HALTED, RunStatus.FAILED}
)
DRIVEN = frozenset(
    {RunStatus.RUNNING, RunStatus.WAITING}
)  # a worker drives these; only then may a step start
UNDER_WAY = DRIVEN | {
    RunStatus.QUEUED
}  # not yet ended nor stopped: may be paused, still worth watching
HALTABLE_AT_ONCE = frozenset(
    {RunStatus.QUEUED, RunStatus.PAUSED, RunStatus.INTERRUPTED}
)  # nobody drives these


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Autonomy(StrEnum):
    MANUAL = "manual"
    SUPERVISED = "supervised"
    AUTONOMOUS = "autonomous"


AUTONOMY_LEVELS = tuple(Autonomy)


class Verdict(StrEnum):
    """The policy's word on one tool call (`invalid`: the call could not run at all)."""

    ALLOW = "allow"
    ASK = "ask"
    DENY = "deny"
    INVALID = "invalid"


class EventKind(StrEnum):
    RUN_STARTED = "run_started"
    MODEL_REQUEST = "model_request"
    MODEL_CALL = "model_call"
    TOOL_CALL = "tool_call"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_DECIDED = "approval_decided"
    TOOL_STARTED = "tool_started"
    TOOL_RESULT = "tool_result"
    GUIDANCE = "guidance"
    ALLOWANCE_REVOKED = "allowance_revoked"
    HALT_REQUESTED = "halt_requested"
    DRIFT = "drift"
    JUDGE = "judge"
    GOAL_CHECK = "goal_check"
    RECOVERED = "recovered"
    STATUS = "status"
    FINAL_ANSWER = "final_answer"
    ERROR = "error"


class CallClass(StrEnum):
    """What a tool call does, mildest first (oversight/call_classes.py says which a call is).

    The policy's `[classes]` table gives each a verdict per autonomy level; an allowance given
    for a call covers later calls of its own class or a milder one, never a riskier one.
    """

    READ = "read"  # inspects: ls, cat, grep, git status/diff/log, read_file
    BUILD = "build"  # builds or tests the project's own code inside the sandbox
    WRITE = "write"  # creates or edits files inside the workspace
    NETWORK = "network"  # sends requests or data to another host
    INSTALL = "install"  # fetches and runs third-party code (pip install, npm install)
    GUARDED = "guarded"  # .git/, hooks, CI config, package manifests: runs elsewhere or later
    DESTRUCTIVE = "destructive"  # loses work or history for good (rm -r, reset --hard, push -f)
    ESCALATION = "escalation"  # reaches for more power than the sandbox gives (sudo, chmod 777)


CALL_CLASSES = tuple(CallClass)
CLASS_RANK = {c: rank for rank, c in enumerate(CALL_CLASSES)}  # higher: riskier


TOOL_EVENT_KINDS = frozenset({EventKind.TOOL_CALL, EventKind.TOOL_RESULT})  # payload names a tool


class UsageName(StrEnum):
    """The run totals an event may add to, in the event's own transaction."""

    STEPS = "steps"
    TOOL_CALLS = "tool_calls"
    TOKENS_IN = "tokens_in"
    TOKENS_OUT = "tokens_out"
    COST_USD = "cost_usd"


USAGE_NAMES = tuple(UsageName)

# How `onloop run --yes` signs the approvals it gives ("<user> (--yes)"): a setting, not a person
# deciding, so the Insights figures count these apart and give them no time to decide.
YES_SUFFIX = " (--yes)"
