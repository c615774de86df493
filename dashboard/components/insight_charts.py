"""Figures for the Insights page, one per question, from the rows storage.insights returns."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

import plotly.graph_objects as go

from agent_core.oversight import inert
from storage.vocabulary import FINISHED_STATUSES, RUN_STATUSES

# Tableau 10, one hue per status (no two statuses share a colour family), in the badges' sense
# where it can: green succeeded, red failed, orange waiting, violet paused, blue running.
STATUS_COLORS = {
    "queued": "#BAB0AC",
    "running": "#4C78A8",
    "waiting": "#F58518",
    "paused": "#B279A2",
    "succeeded": "#54A24B",
    "unmet": "#EECA3B",
    "failed": "#E45756",
    "halted": "#9D755D",
    "interrupted": "#72B7B2",
}
DECISION_COLORS = {"approved": "#54A24B", "rejected": "#E45756", "expired": "#9E9E9E"}
VERDICT_COLORS = {"allowed": "#4C78A8", "asked": "#F58518", "denied": "#E45756"}
ACTION_COLORS = {"pause": "#B279A2", "halt": "#9D2E2E"}
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
DAY_MS = 86_400_000
BAR_WIDTH_MS = DAY_MS * 0.8  # bars on a date axis are as wide as this many milliseconds


def label(text: object) -> str:
    """Plotly reads a little HTML in labels and hover text: names from events are made inert."""
    return inert.chart_label(text)


def unchecked(*traces: dict[str, Any]) -> go.Figure:
    """A figure plotly does not validate while it is built. Validating every number of every
    trace (and again on each later update) was most of the Insights page's render; these figures
    are written in the form validation leaves them in (`title={"text": ...}`, lists, no magic
    underscores that validation would expand differently), and tests/dashboard/
    test_insight_figures.py checks that validating them would change nothing and that they equal
    the figures drawn before. `_validate` is plotly's own switch for this (plotly >= 4)."""
    return go.Figure(list(traces), _validate=False)


def layout(figure: go.Figure, title: str, **extra: object) -> go.Figure:
    figure.update_layout(title={"text": title}, height=320, margin=_MARGIN, **extra)
    return figure


def count_axis(most: float) -> dict[str, object]:
    """An axis of counts from 0 (fixed, so an all-zero chart never shows -1) to a little over the
    largest stack, in whole numbers (plotly ticks 0.2 or 0.5 steps under ~5)."""
    axis: dict[str, object] = {"range": [0, max(most, 1) * 1.08], "tickformat": ",d"}
    if most <= 10:
        axis["dtick"] = 1
    return axis


def cost_axis(most_usd: float) -> dict[str, object]:
    """A US-dollar axis from $0, in round cents (tenths of a cent for small sums)."""
    top = max(most_usd, 0.001) * 1.1
    return {"range": [0, top], "tickformat": "$.3f" if top < 0.1 else "$,.2f"}


def day_axis(figure: go.Figure, days: list[str]) -> go.Figure:
    """Whole days on the x axis, also for a single day (plotly would zoom into milliseconds)."""
    if not days:
        return figure
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    half_day = timedelta(hours=12)
    edges = [
        datetime.combine(first, time.min) - half_day,
        datetime.combine(last, time.min) + half_day,
    ]
    axis: dict[str, Any] = {
        "type": "date",
        "tickformat": "%b %d",
        "range": [edge.isoformat() for edge in edges],
    }
    if (last - first).days <= 14:
        axis["dtick"] = DAY_MS
    figure.update_xaxes(axis)
    return figure


def runs_by_outcome(rows: list[dict]) -> go.Figure:
    """Stacked bars: runs created each day, by their status now."""
    days = sorted({r["day"] for r in rows})
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        counts[r["status"]][r["day"]] = r["runs"]
    figure = unchecked(
        *(
            {
                "type": "bar",
                "name": status,
                "x": days,
                "y": [counts[status].get(d, 0) for d in days],
                "marker": {"color": STATUS_COLORS[status]},
                "width": BAR_WIDTH_MS,
            }
            for status in RUN_STATUSES
            if status in counts
        )
    )
    day_axis(figure, days)
    most = max((sum(c.get(d, 0) for c in counts.values()) for d in days), default=0)
    return layout(
        figure,
        "Runs per day by outcome",
        barmode="stack",
        yaxis={**count_axis(most), "title": "runs"},
    )


def daily_success_rate(rows: list[dict]) -> list[tuple[str, float]]:
    """(day, succeeded / finished) for days with finished runs."""
    finished: dict[str, int] = defaultdict(int)
    succeeded: dict[str, int] = defaultdict(int)
    for r in rows:
        if r["status"] in FINISHED_STATUSES:
            finished[r["day"]] += r["runs"]
            if r["status"] == "succeeded":
                succeeded[r["day"]] += r["runs"]
    return [(day, succeeded[day] / finished[day]) for day in sorted(finished)]


def success_rate_figure(points: list[tuple[str, float]]) -> go.Figure:
    figure = unchecked(
        {
            "type": "scatter",
            "x": [p[0] for p in points],
            "y": [p[1] for p in points],
            "mode": "lines+markers",
            "name": "success rate",
            "line": {"color": STATUS_COLORS["succeeded"]},
        }
    )
    day_axis(figure, [p[0] for p in points])
    return layout(
        figure,
        "Success rate per day (succeeded of finished)",
        yaxis={"tickformat": ".0%", "range": [0, 1.05]},
    )


def approval_wait_figure(waits_s: list[float], median_s: float, p90_s: float) -> go.Figure:
    """Histogram of request-to-decision times with the median and p90 marked."""
    figure = unchecked(
        {
            "type": "histogram",
            "x": list(waits_s),
            "nbinsx": 40,
            "marker": {"color": "#4C78A8"},
            "name": "waits",
        }
    )
    figure.add_vline(
        x=median_s,
        line_dash="dash",
        annotation_text=f"median {median_s:.0f} s",
        annotation_position="top left",  # left of its line, p90 right of its own: no overlap
    )
    figure.add_vline(
        x=p90_s,
        line_dash="dot",
        line_color="#E45756",
        annotation_text=f"p90 {p90_s:.0f} s",
        annotation_position="top right",
    )
    return layout(
        figure,
        "Time from approval request to decision",
        xaxis={"title": "seconds", "rangemode": "tozero"},
        yaxis={**count_axis(len(waits_s)), "title": "approvals"},
        showlegend=False,
    )


def decisions_per_tool_figure(rows: list[dict]) -> go.Figure:
    tools = [label(r["tool"]) for r in rows]
    figure = unchecked()
    for decision, color in DECISION_COLORS.items():
        values = [r[decision] for r in rows]
        if any(values):
            bar = {"name": decision, "x": tools, "y": values, "marker": {"color": color}}
            figure.add_trace({"type": "bar", **bar})
    most = max((r[d] for r in rows for d in DECISION_COLORS), default=0)
    return layout(
        figure, "Approvals and rejections per tool", barmode="group", yaxis=count_axis(most)
    )


def usage_figure(rows: list[dict]) -> go.Figure:
    """Tokens (bars) and cost (line, right axis) per day."""
    days = [r["day"] for r in rows]
    tokens = {
        "type": "bar",
        "name": "tokens",
        "x": days,
        "y": [r["tokens"] for r in rows],
        "marker": {"color": "#4C78A8"},
        "width": BAR_WIDTH_MS,
    }
    cost = {
        "type": "scatter",
        "name": "cost (USD)",
        "x": days,
        "y": [r["cost_usd"] for r in rows],
        "mode": "lines+markers",
        "line": {"color": "#F58518"},
    }
    # The axes plotly.subplots.make_subplots(specs=[[{"secondary_y": True}]]) lays out.
    figure = unchecked(
        {**tokens, "xaxis": "x", "yaxis": "y"}, {**cost, "xaxis": "x", "yaxis": "y2"}
    )
    most = max((r["tokens"] for r in rows), default=0)
    most_usd = max((r["cost_usd"] for r in rows), default=0.0)
    figure.update_layout(
        xaxis={"anchor": "y", "domain": [0.0, 0.94]},
        yaxis={
            "anchor": "x",
            "domain": [0.0, 1.0],
            "title": {"text": "tokens"},
            **count_axis(most),
        },
        yaxis2={
            "anchor": "x",
            "overlaying": "y",
            "side": "right",
            "title": {"text": "USD"},
            **cost_axis(most_usd),
        },
    )
    day_axis(figure, days)
    return layout(figure, "Tokens and cost per day")


def drift_figure(rows: list[dict]) -> go.Figure:
    totals: dict[str, int] = defaultdict(int)
    for r in rows:
        totals[r["monitor"]] += r["stops"]
    monitors = sorted(totals, key=lambda m: (-totals[m], m))
    figure = unchecked()
    for action in sorted({r["action"] for r in rows}):
        stops = {r["monitor"]: r["stops"] for r in rows if r["action"] == action}
        figure.add_trace(
            {
                "type": "bar",
                "name": label(action),
                "x": [label(m) for m in monitors],
                "y": [stops.get(m, 0) for m in monitors],
                "marker": {"color": ACTION_COLORS.get(action, "#9E9E9E")},
            }
        )
    most = max(totals.values(), default=0)
    return layout(
        figure,
        "Drift stops by monitor",
        barmode="stack",
        yaxis={**count_axis(most), "title": "stops"},
    )


def tool_usage_figure(rows: list[dict]) -> go.Figure:
    """Horizontal bars, most used tool on top, split by the policy's verdict."""
    ordered = list(reversed(rows))
    figure = unchecked(
        *(
            {
                "type": "bar",
                "name": verdict,
                "orientation": "h",
                "y": [label(r["tool"]) for r in ordered],
                "x": [r[verdict] for r in ordered],
                "marker": {"color": color},
            }
            for verdict, color in VERDICT_COLORS.items()
        )
    )
    most = max((r["calls"] for r in rows), default=0)
    return layout(
        figure, "Most used tools", barmode="stack", xaxis={**count_axis(most), "title": "calls"}
    )
