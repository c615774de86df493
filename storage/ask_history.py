"""What the asks of a period cost people: the reads behind the approval-fatigue figures.

A period is the runs created since `since` (as on the Insights page), optionally of one model or
one run; its asks are those runs' approvals. A period of whole days (from 00:00 UTC, or all time)
is counted from `ask_counts` (storage/ask_counts.py: the counts per day, model and traits the
database keeps), a few rows a day; one that starts inside a day, or one run, is grouped from the
approvals themselves (ix_approvals_run_id from the runs the period picks). Only the times to
decide come back row by row, the latest DECISION_SAMPLE of them.
agent_core/oversight/fatigue.py turns these rows into the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, case, func, literal, literal_column, select

from storage.ask_counts import ask_counts
from storage.engine import Store, reading
from storage.insights import wait_seconds
from storage.models import Approval, Event, Run, table_of
from storage.record import AllowanceRevoked
from storage.record import field as payload_field
from storage.vocabulary import YES_SUFFIX, EventKind

_runs = table_of(Run)
_approvals = table_of(Approval)
_counts = ask_counts
_events = table_of(Event)
DECISION_SAMPLE = 20_000  # the most recent decisions whose times to decide are read
_REVOKED = literal(EventKind.ALLOWANCE_REVOKED.value, literal_execute=True)
_REVOKED_ID = payload_field(AllowanceRevoked, "approval_id")


@dataclass(frozen=True)
class AskGroup:
    """How many asks share these traits (one row of the grouped count)."""

    tool: str
    rule: str | None
    call_class: str | None
    status: str
    edited: bool  # approved with arguments other than those asked about
    noted: bool  # the decision carries a note
    automatic: bool  # approved by `--yes`, not by a person
    allow_scope: str | None
    asks: int


class Decision(NamedTuple):
    """One decision by a person: who, the outcome, seconds from the request to the decision.
    (A tuple: up to DECISION_SAMPLE of them are made per read, and a tuple is cheap to make.)"""

    by: str
    status: str
    wait_s: float


@dataclass(frozen=True)
class RunDay:
    """The runs created on one day (UTC), their tool calls and their asks."""

    day: str  # YYYY-MM-DD
    runs: int
    tool_calls: int
    asks: int


@dataclass(frozen=True)
class AskHistory:
    """The raw rows of one period; oversight/fatigue.py computes the figures from them."""

    runs: int
    tool_calls: int
    groups: list[AskGroup] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)  # newest first, at most the sample
    per_day: list[RunDay] = field(default_factory=list)  # oldest day first
    revoked: int = 0  # allowances withdrawn (distinct approvals with an allowance_revoked event)
    asks_on_record: int = 0  # every ask in the store, whatever the period


@dataclass(frozen=True)
class _Period:
    since: datetime | None
    runs: list[Any]  # WHERE clauses on runs; none: every run
    counts: list[Any] | None  # the same period's WHERE clauses on ask_counts; None: not whole days


def _picked(since: datetime | None, model: str | None, run_id: str | None) -> _Period:
    clauses: list[Any] = []
    counted: list[Any] = [_counts.c.asks != 0]  # (a row whose asks were all decided: none)
    whole_days = run_id is None
    if since is not None:
        clauses.append(_runs.c.created_at >= since)
        whole_days = whole_days and since.time() == time.min and since.tzinfo is None
        counted.append(_counts.c.day >= since.date())
    if model:
        clauses.append((_runs.c.model == model) | (_runs.c.model_name == model))
        counted.append((_counts.c.model == model) | (_counts.c.model_name == model))
    if run_id is not None:
        clauses.append(_runs.c.id == run_id)
    return _Period(since, clauses, counted if whole_days else None)


def _of_period(query: Select, period: _Period, *, by_status: bool = False) -> Select:
    """Approvals of the period's runs; all of them (no join) when the period is all time.

    `by_status`: a query that reads ix_approvals_status_requested_at. A run's asks come after it
    was created, so `requested_at >= since` leaves out none of them and lets the database range
    over that index instead of every decision (elsewhere it would make SQLite scan the table
    rather than go from the period's runs to their approvals through ix_approvals_run_id).
    """
    if not period.runs:
        return query
    query = query.join(_runs, _runs.c.id == _approvals.c.run_id).where(*period.runs)
    if by_status and period.since is not None:
        query = query.where(_approvals.c.requested_at >= period.since)
    return query


def _automatic() -> Any:
    return _approvals.c.decided_by.endswith(YES_SUFFIX, autoescape=True)


def _flag(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def _groups_query(picked: _Period) -> Select:
    if picked.counts is not None:
        return _counted_groups_query(picked.counts)
    a = _approvals.c
    edited = _flag(and_(a.approved_hash.is_not(None), a.approved_hash != a.args_hash))
    noted = _flag(and_(a.note.is_not(None), a.note != ""))
    automatic = _flag(_automatic())
    traits = (
        a.tool,
        a.rule,
        a.call_class,
        a.status,
        edited.label("edited"),
        noted.label("noted"),
        automatic.label("automatic"),
        a.allow_scope,
    )
    query = select(*traits, func.count().label("asks")).select_from(_approvals)
    return _of_period(query, picked).group_by(*traits)


def _counted_groups_query(where: list[Any]) -> Select:
    """The grouped counts summed from ask_counts ("" there is None here, as in the approvals)."""
    c = _counts.c
    traits = (c.tool, c.rule, c.call_class, c.status, c.edited, c.noted, c.automatic)
    scope = func.nullif(c.allow_scope, "").label("allow_scope")
    query = select(*traits, scope, func.sum(c.asks).label("asks")).where(*where)
    return query.group_by(*traits, c.allow_scope).having(func.sum(c.asks) != 0)


def _decisions_query(picked: _Period, dialect: str) -> Select:
    """The latest decisions, newest first, read down ix_approvals_requested_at until the sample
    is full. On SQLite the status is written `+status`, which keeps its planner (without
    statistics) off ix_approvals_status_requested_at: from there it read every decision of the
    period and sorted them all to keep the newest (300,000 asks: 80-350 ms, now 30-90)."""
    a = _approvals.c
    status = literal_column(f"+{_approvals.name}.status") if dialect == "sqlite" else a.status
    query = (
        select(a.decided_by, a.status, wait_seconds(dialect).label("wait"))
        .select_from(_approvals)
        .where(status.in_(("approved", "rejected")), a.decided_at.is_not(None))
        .where(a.decided_by.is_(None) | ~_automatic())
        .order_by(a.requested_at.desc(), a.id.desc())
        .limit(DECISION_SAMPLE)
    )
    return _of_period(query, picked, by_status=True)


def _runs_query(picked: _Period) -> Select:
    day = func.date(_runs.c.created_at).label("day")
    calls = func.coalesce(func.sum(_runs.c.tool_calls), 0).label("tool_calls")
    return select(day, func.count().label("runs"), calls).where(*picked.runs).group_by(day)


def _asks_per_day_query(picked: _Period) -> Select:
    """Asks per day of the runs' creation: summed from ask_counts, or (a period not of whole
    days) the approvals counted per run first (one pass over ix_approvals_run_id), so only the
    runs that asked are looked up, not every run."""
    if picked.counts is not None:
        c = _counts.c
        query = select(c.day.label("day"), func.sum(c.asks).label("asks")).where(*picked.counts)
        return query.group_by(c.day)
    per_run = (
        select(_approvals.c.run_id, func.count().label("asks"))
        .group_by(_approvals.c.run_id)
        .subquery("per_run")
    )
    day = func.date(_runs.c.created_at).label("day")
    query = select(day, func.sum(per_run.c.asks).label("asks")).select_from(per_run)
    query = query.join(_runs, _runs.c.id == per_run.c.run_id).where(*picked.runs)
    return query.group_by(day)


def _revoked_query(picked: _Period) -> Select:
    """allowance_revoked events (ix_events_revoked holds only those) of the period's runs, in
    runs where someone gave an allowance."""
    e, a = _events.c, _approvals.c
    allowed = select(a.run_id).where(a.run_id == e.run_id, a.allow_scope.is_not(None)).exists()
    query = select(e.run_id, e.payload).where(e.kind == _REVOKED, allowed)
    if picked.runs:
        query = query.join(_runs, _runs.c.id == e.run_id).where(*picked.runs)
    return query


def _revoked(rows: Sequence[Any]) -> set[tuple[str, int]]:
    """(run, approval) pairs withdrawn: an approval revoked twice counts once."""
    pairs = ((run_id, (payload or {}).get(_REVOKED_ID)) for run_id, payload in rows)
    return {(run_id, approval_id) for run_id, approval_id in pairs if isinstance(approval_id, int)}


def _day_text(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def ask_history(
    store: Store,
    *,
    since: datetime | None = None,
    model: str | None = None,
    run_id: str | None = None,
) -> AskHistory:
    """The asks of the runs created since `since` (all time: None), of `model` (the provider or
    the model name) and of `run_id` when given."""
    picked = _picked(since, model, run_id)
    with reading(store) as conn:
        run_days = conn.execute(_runs_query(picked)).all()
        asks = {_day_text(r.day): int(r.asks) for r in conn.execute(_asks_per_day_query(picked))}
        groups = [_group(row) for row in conn.execute(_groups_query(picked))]
        waits = conn.execute(_decisions_query(picked, store.engine.dialect.name)).all()
        revoked = _revoked(conn.execute(_revoked_query(picked)).all())
        on_record = conn.scalar(select(func.count()).select_from(_approvals)) or 0
    per_day = [
        RunDay(day, int(r.runs), int(r.tool_calls), asks.get(day, 0))
        for day, r in sorted((_day_text(r.day), r) for r in run_days)
    ]
    return AskHistory(
        runs=sum(d.runs for d in per_day),
        tool_calls=sum(d.tool_calls for d in per_day),
        groups=groups,
        decisions=[
            Decision(by or "unknown", status, max(0.0, round(float(wait), 3)))
            for by, status, wait in waits
            if wait is not None
        ],  # to the millisecond: SQLite's julianday arithmetic is off by some microseconds
        per_day=per_day,
        revoked=len(revoked),
        asks_on_record=int(on_record),
    )


def _group(row: Any) -> AskGroup:
    return AskGroup(
        tool=row.tool,
        rule=row.rule or None,
        call_class=row.call_class or None,
        status=row.status,
        edited=bool(row.edited),
        noted=bool(row.noted),
        automatic=bool(row.automatic),
        allow_scope=row.allow_scope,
        asks=int(row.asks),
    )
