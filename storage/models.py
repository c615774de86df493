"""The tables of the store: runs, their append-only events, approvals and commands, and the
tool call counts that append_event keeps beside the events for the Insights page.

Timestamp columns are annotated NaiveDatetime: sqlmodel maps a plain `datetime` to a tz-aware
column type that refuses naive values, and the store keeps naive UTC throughout (see utcnow).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Any, cast

from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, Index, Table, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel

from storage.record import ToolCall, ToolResult, field
from storage.vocabulary import TOOL_EVENT_KINDS, Autonomy, EventKind, RunStatus

# revoke: withdraw what an approval allowed for the rest of the run (payload: approval_id)
COMMAND_KINDS = ("halt", "pause", "resume", "guidance", "revoke")
# cancelled: the run was halted while the approval waited (decided_by names who halted it)
APPROVAL_STATUSES = ("pending", "approved", "rejected", "expired", "cancelled")


def utcnow() -> datetime:
    """Naive UTC now: SQLite keeps no zone, so every timestamp in the store is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class Run(SQLModel, table=True):
    __tablename__ = "runs"
    __table_args__ = (
        # Newest first with ties by id: History pages pick their 50 ids from this index alone.
        Index("ix_runs_created_at_id", "created_at", "id"),
        Index("ix_runs_status_created_at_id", "status", "created_at", "id"),
        Index("ix_runs_model_created_at", "model", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    goal: str
    model: str = "demo"  # provider: demo | openai | scripted
    model_name: str = "demo"  # e.g. gpt-4o-mini
    autonomy: str = Autonomy.SUPERVISED.value
    status: str = RunStatus.QUEUED.value
    tools: list[str] | None = Field(default=None, sa_column=Column(JSON))  # None = all tools
    max_steps: int = 30
    max_seconds: float = 600.0
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    policy: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    workspace: str | None = None  # absolute: a per-run folder named by the id, or the person's own
    parent_run_id: str | None = None  # set when a run re-runs another run's goal
    created_by: str | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    started_at: NaiveDatetime | None = None  # when the latest session (claim) began
    finished_at: NaiveDatetime | None = None
    updated_at: NaiveDatetime = Field(default_factory=utcnow)
    worker_id: str | None = None
    lease_expires_at: NaiveDatetime | None = None
    last_seq: int = 0
    steps: int = 0  # model calls made
    tool_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    active_seconds: float = 0.0  # wall time spent running, summed over resumes
    result: str | None = None  # the final answer
    reason: str | None = None  # why the run failed, halted, paused or was interrupted
    # Last, where migration 4 adds it: a fresh per-run workspace starts as a copy of this folder.
    seed_from: str | None = None
    # Last, where migration 6 adds it: grows with every claim; a session's writes carry the
    # epoch of its claim, and the store refuses them once another claim has taken the run.
    claim_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})

    @property
    def own_workspace(self) -> bool:
        """The run works directly in a folder the person chose (per-run folders bear its id)."""
        return bool(self.workspace) and PurePath(str(self.workspace)).name != self.id


class Event(SQLModel, table=True):
    """One step of a run. `tool` and `verdict` repeat payload fields so aggregates need no JSON."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("run_id", "seq", name="uq_events_run_seq"),
        # Drift stops per monitor. Partial, so the other kinds' appends never pay for it; queries
        # must name the kind as a literal for the database to use it (see storage.insights).
        Index(
            "ix_events_drift",
            "run_id",
            sqlite_where=text("kind = 'drift'"),
            postgresql_where=text("kind = 'drift'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id")
    seq: int
    kind: str
    at: NaiveDatetime = Field(default_factory=utcnow)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    tool: str | None = None  # payload["tool"] of tool_call and tool_result events
    verdict: str | None = None  # payload["verdict"] of tool_call events: allow | ask | deny


class ToolCallCount(SQLModel, table=True):
    """Tool calls counted by the day their run was created (UTC), tool and verdict.

    append_event adds each tool_call event here in the same transaction, so Insights count any
    period's calls from a few hundred rows instead of every event; schema.rebuild_tool_call_counts
    recounts them from the events.
    """

    __tablename__ = "tool_call_counts"

    day: date = Field(primary_key=True)
    tool: str = Field(primary_key=True)  # "" when the call named no tool
    verdict: str = Field(primary_key=True)  # "" when it had no verdict
    calls: int = 0


class Approval(SQLModel, table=True):
    __tablename__ = "approvals"
    __table_args__ = (
        Index("ix_approvals_status_requested_at", "status", "requested_at"),
        Index("ix_approvals_run_id", "run_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id")
    request_seq: int  # seq of the approval_requested event
    tool_call_id: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    args_hash: str
    risk: str
    reason: str = ""  # why the policy asked
    rule: str | None = None  # the policy rule that asked, if any
    model_text: str = ""  # what the model said before asking for the tool
    summary: str = ""  # what will happen, in plain words
    status: str = "pending"
    requested_at: NaiveDatetime = Field(default_factory=utcnow)
    expires_at: NaiveDatetime | None = None
    # The decision: written once, never edited.
    decided_at: NaiveDatetime | None = None
    decided_by: str | None = None
    note: str | None = None
    edited_arguments: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    approved_hash: str | None = None  # sha256 of the arguments that may run
    # What a person allowed for the rest of the run with this approval: None, or the scope's
    # kind ("call", "prefix", "folder", "domain"; "tool" and "arguments" in older stores) ...
    allow_scope: str | None = None
    # Set once, by storage.begin_execution, when the one execution it authorises starts.
    consumed_at: NaiveDatetime | None = None
    # (Schema 7) ... and the allow rule the scope became (oversight/scopes.py), e.g.
    # {"tool": "run_shell", "commands": ["git commit"], "up_to": "write"}.
    allow_rule: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    call_class: str | None = None  # what the call does (storage.vocabulary.CallClass)


class Command(SQLModel, table=True):
    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_run_consumed", "run_id", "consumed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id")
    kind: str  # halt | pause | resume | guidance
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created_by: str | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    consumed_at: NaiveDatetime | None = None


class ProjectRule(SQLModel, table=True):
    """One version of a rule people added to the project (every run of this store) from a
    decision or the Policy page. Never updated or deleted: an edit or a revoke is a new version
    of the same key, so the table is its own audit trail."""

    __tablename__ = "project_rules"
    __table_args__ = (
        UniqueConstraint("rule_key", "version"),
        Index("ix_project_rules_key", "rule_key", "version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_key: str  # the same for every version of one rule
    version: int
    rule: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))  # a policy Rule
    status: str = "active"  # active | revoked
    created_by: str
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    from_approval_id: int | None = None  # the approval it was made from, if any
    note: str | None = None


class Snooze(SQLModel, table=True):
    """Not now on the inbox: one person hides a pending approval from their list until a time.
    Never a decision: the run keeps waiting and the approval's expiry is unchanged."""

    __tablename__ = "snoozes"
    __table_args__ = (Index("ix_snoozes_who_until", "who", "until"),)

    id: int | None = Field(default=None, primary_key=True)
    approval_id: int = Field(foreign_key="approvals.id")
    who: str  # the person whose inbox it leaves (as decided_by names people)
    until: NaiveDatetime  # back in the list from then on
    at: NaiveDatetime = Field(default_factory=utcnow)


class LiveOutput(SQLModel, table=True):
    """What the model has streamed so far in a run's current turn: one row per run, rewritten a
    few times a second while the turn streams and deleted once its model_call event is recorded.
    Not part of the record (events are); readers show it only while the run is running."""

    __tablename__ = "live_output"

    run_id: str = Field(primary_key=True, foreign_key="runs.id")
    step: int  # the step this turn will be recorded as (its model_call event's "step")
    text: str = ""
    updated_at: NaiveDatetime = Field(default_factory=utcnow)


class SchemaMigration(SQLModel, table=True):
    __tablename__ = "schema_migrations"

    version: int = Field(primary_key=True)
    name: str
    applied_at: NaiveDatetime = Field(default_factory=utcnow)


_TOOL = field(ToolCall, "tool") and field(ToolResult, "tool")
_VERDICT = field(ToolCall, "verdict")


def tool_fields(kind: str, payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """An event's (tool, verdict) columns: the payload's strings, for the kinds that carry them."""
    if kind not in TOOL_EVENT_KINDS:
        return None, None
    tool = payload.get(_TOOL)
    verdict = payload.get(_VERDICT) if kind == EventKind.TOOL_CALL else None
    return (
        column_text(tool) if isinstance(tool, str) else None,
        column_text(verdict) if isinstance(verdict, str) else None,
    )


def column_text(value: str) -> str:
    """`value` as a text column takes it on every database: a model may name a tool with a NUL
    (PostgreSQL's text holds none) or a lone surrogate (no driver encodes one), and the write
    of its event must not fail for that. Each becomes U+FFFD; the payload keeps the exact text,
    escaped in its JSON."""
    if value.isascii() and "\x00" not in value:
        return value
    return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in value)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a table model, typed (sqlmodel does not declare `__table__`)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


_run = table_of(Run).c
# Insights per day: the created day first, then every column runs_per_day and usage_per_day read,
# so both group in index order without touching the table (created_at: the period filter;
# tool_calls: the approval-fatigue figures, schema 11).
Index(
    "ix_runs_day_totals",
    func.date(_run.created_at),
    _run.status,
    _run.tokens_in,
    _run.tokens_out,
    _run.cost_usd,
    _run.created_at,
    _run.tool_calls,
)
