"""Aggregates over the whole history for the Insights page: runs, approvals, usage, drift, tools.

Every function takes `since` (a naive UTC datetime or None for all time) and counts the runs
created since then, with their approvals and events. None of them reads every event or every run
row, which matters at millions of events: the per-day figures read the covering index
ix_runs_day_totals, tool usage reads the per-day tool_call_counts, drift stops read the drift
events through ix_events_drift. Results are plain lists of dicts, ready for a chart.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, case, func, literal, select

from storage import goal_search
from storage.engine import Store, reading
from storage.models import Approval, Event, Run, ToolCallCount, table_of
from storage.record import Drift, field
from storage.vocabulary import FINISHED_STATUSES, YES_SUFFIX, EventKind

_runs = table_of(Run)
_events = table_of(Event)
_approvals = table_of(Approval)
_counts = table_of(ToolCallCount)
DECIDED_BY_PEOPLE = ("approved", "rejected")
_VERDICT_COUNTS = {"allow": "allowed", "ask": "asked", "deny": "denied"}
# A literal in the SQL, not a bound parameter: ix_events_drift is partial (kind = 'drift'), and a
# database can use it only when it sees the value while planning (a PostgreSQL generic plan does
# not; SQLite looks at bound values).
_DRIFT = literal(EventKind.DRIFT.value, literal_execute=True)
_MONITOR, _ACTION = field(Drift, "monitor"), field(Drift, "action")
LATENCY_SAMPLE = 20_000  # the most recent decisions used for the latency figures


# Every aggregate the Insights page draws, by function name (benchmarks and parity tests use it).
QUERIES = (
    "runs_per_day",
    "success_rate",
    "approval_latency",
    "decisions_per_tool",
    "usage_per_day",
    "drift_stops_by_monitor",
    "tool_usage",
)


def _day(column: Any) -> Any:
    return func.date(column)  # 'YYYY-MM-DD' on SQLite; a DATE on PostgreSQL


def _day_text(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _since_runs(query: Select, since: datetime | None) -> Select:
    return query if since is None else query.where(_runs.c.created_at >= since)


def runs_per_day(store: Store, *, since: datetime | None = None) -> list[dict]:
    """[{"day", "status", "runs"}] for each day (of created_at) and final or current status."""
    day = _day(_runs.c.created_at).label("day")
    query = _since_runs(
        select(day, _runs.c.status, func.count().label("runs")).group_by(day, _runs.c.status), since
    ).order_by(day)
    with reading(store) as conn:
        rows = conn.execute(query).all()
    return [{"day": _day_text(r.day), "status": r.status, "runs": r.runs} for r in rows]


def success_rate(store: Store, *, since: datetime | None = None) -> dict:
    """{"finished", "succeeded", "rate"}: succeeded / finished (None when nothing finished)."""
    succeeded = func.sum(case((_runs.c.status == "succeeded", 1), else_=0))
    query = _since_runs(
        select(func.count().label("finished"), succeeded.label("succeeded")).where(
            _runs.c.status.in_(FINISHED_STATUSES)
        ),
        since,
    )
    with reading(store) as conn:
        row = conn.execute(query).one()
    finished, won = row.finished or 0, row.succeeded or 0
    return {"finished": finished, "succeeded": won, "rate": won / finished if finished else None}


def wait_seconds(dialect: str) -> Any:
    """Seconds from an approval's request to its decision, as SQL for this dialect."""
    if dialect == "sqlite":
        days = func.julianday(_approvals.c.decided_at) - func.julianday(_approvals.c.requested_at)
        return days * 86_400.0
    return func.extract("epoch", _approvals.c.decided_at - _approvals.c.requested_at)


_by_a_person = _approvals.c.decided_by.is_(None) | ~_approvals.c.decided_by.endswith(
    YES_SUFFIX, autoescape=True
)


def approval_latency(store: Store, *, since: datetime | None = None) -> dict:
    """{"decided", "median_s", "p90_s", "waits_s"}: request-to-decision time of human decisions.

    Expired approvals are left out (nobody answered), and so are those `onloop run --yes` gave
    (nobody looked). Figures cover the latest LATENCY_SAMPLE.
    """
    waits = wait_seconds(store.engine.dialect.name).label("wait")
    query = (
        select(waits)
        .where(_approvals.c.status.in_(DECIDED_BY_PEOPLE), _approvals.c.decided_at.is_not(None))
        .where(_by_a_person)
        .order_by(_approvals.c.requested_at.desc())
        .limit(LATENCY_SAMPLE)
    )
    if since is not None:
        query = query.where(_approvals.c.requested_at >= since)
    with reading(store) as conn:
        seconds = [max(0.0, float(w)) for w in conn.scalars(query) if w is not None]
    return {
        "decided": len(seconds),
        "median_s": statistics.median(seconds) if seconds else None,
        "p90_s": percentile(seconds, 0.9),
        "waits_s": seconds,
    }


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: the smallest value with `fraction` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * fraction)) - 1]


def decisions_per_tool(store: Store, *, since: datetime | None = None) -> list[dict]:
    """[{"tool", "approved", "rejected", "expired"}] of decided approvals, most decided first."""
    counts = {
        status: func.sum(case((_approvals.c.status == status, 1), else_=0)).label(status)
        for status in ("approved", "rejected", "expired")
    }
    query = (
        select(_approvals.c.tool, *counts.values())
        .where(_approvals.c.status.in_(tuple(counts)))  # a halt's cancellation is no decision
        .group_by(_approvals.c.tool)
    )
    if since is not None:
        query = query.where(_approvals.c.requested_at >= since)
    with reading(store) as conn:
        rows = conn.execute(query).all()
    result = [{"tool": r.tool, **{s: int(getattr(r, s) or 0) for s in counts}} for r in rows]
    return sorted(
        result, key=lambda r: (-(r["approved"] + r["rejected"] + r["expired"]), r["tool"])
    )


def usage_per_day(store: Store, *, since: datetime | None = None) -> list[dict]:
    """[{"day", "runs", "tokens_in", "tokens_out", "tokens", "cost_usd"}] by created day."""
    day = _day(_runs.c.created_at).label("day")
    query = _since_runs(
        select(
            day,
            func.count().label("runs"),
            func.coalesce(func.sum(_runs.c.tokens_in), 0).label("tokens_in"),
            func.coalesce(func.sum(_runs.c.tokens_out), 0).label("tokens_out"),
            func.coalesce(func.sum(_runs.c.cost_usd), 0.0).label("cost_usd"),
        ).group_by(day),
        since,
    ).order_by(day)
    with reading(store) as conn:
        rows = conn.execute(query).all()
    return [
        {
            "day": _day_text(r.day),
            "runs": r.runs,
            "tokens_in": int(r.tokens_in),
            "tokens_out": int(r.tokens_out),
            "tokens": int(r.tokens_in) + int(r.tokens_out),
            "cost_usd": float(r.cost_usd),
        }
        for r in rows
    ]


def _runs_created(since: datetime, until: datetime | None = None) -> Select:
    query = select(_runs.c.id).where(_runs.c.created_at >= since)
    return query if until is None else query.where(_runs.c.created_at < until)


def drift_stops_by_monitor(store: Store, *, since: datetime | None = None) -> list[dict]:
    """[{"monitor", "action", "stops"}] from 'drift' events, most stops first."""
    monitor = func.coalesce(_events.c.payload[_MONITOR].as_string(), literal("unknown"))
    action = func.coalesce(_events.c.payload[_ACTION].as_string(), literal("unknown"))
    query = (
        select(monitor.label("monitor"), action.label("action"), func.count().label("n"))
        .where(_events.c.kind == _DRIFT)
        .group_by(monitor, action)
    )
    if since is not None:
        query = query.where(_events.c.run_id.in_(_runs_created(since)))
    with reading(store) as conn:
        rows = conn.execute(query).all()
    result = [{"monitor": r.monitor, "action": r.action, "stops": r.n} for r in rows]
    return sorted(result, key=lambda r: (-r["stops"], r["monitor"], r["action"]))


def _tool_calls_since(since: datetime | None) -> list[Select]:
    """Queries of (tool, verdict, calls) that together count the runs created since `since`:
    whole days from tool_call_counts and, when `since` falls inside a day, the rest of that day
    from the tool_call events of the runs created in it."""
    counted = select(_counts.c.tool, _counts.c.verdict, func.sum(_counts.c.calls)).group_by(
        _counts.c.tool, _counts.c.verdict
    )
    if since is None:
        return [counted]
    if since.time() == time.min:
        return [counted.where(_counts.c.day >= since.date())]
    midnight = datetime.combine(since.date() + timedelta(days=1), time.min)
    tool, verdict = func.coalesce(_events.c.tool, ""), func.coalesce(_events.c.verdict, "")
    rest_of_day = (
        select(tool, verdict, func.count())
        .where(_events.c.kind == "tool_call", _events.c.run_id.in_(_runs_created(since, midnight)))
        .group_by(tool, verdict)
    )
    return [counted.where(_counts.c.day >= midnight.date()), rest_of_day]


def tool_usage(store: Store, *, since: datetime | None = None, limit: int = 15) -> list[dict]:
    """[{"tool", "calls", "allowed", "asked", "denied"}] from tool_call events, most first."""
    with reading(store) as conn:
        rows = [row for part in _tool_calls_since(since) for row in conn.execute(part).all()]
    tools: dict[str, dict] = {}
    for tool, verdict, calls in rows:
        name = tool or "unknown"  # "" in tool_call_counts: the call named no tool
        counts = tools.setdefault(
            name, {"tool": name, "calls": 0, **dict.fromkeys(_VERDICT_COUNTS.values(), 0)}
        )
        counts["calls"] += int(calls)
        if verdict in _VERDICT_COUNTS:
            counts[_VERDICT_COUNTS[verdict]] += int(calls)
    return sorted(tools.values(), key=lambda r: (-r["calls"], r["tool"]))[:limit]


def has_history(store: Store) -> bool:
    """True once any run exists (the Insights page shows its empty state otherwise)."""
    with reading(store) as conn:
        return conn.execute(select(_runs.c.id).limit(1)).first() is not None


def models_in_use(store: Store) -> list[str]:
    """Every provider and model name that runs used, sorted (the History page's model filter)."""
    with reading(store) as conn:
        return goal_search.models_in_use(conn)
