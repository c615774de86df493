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


def figure(traces: list[dict[str, Any]], title: str, **layout: Any) -> go.Figure:
    """A figure built in one go from plain dicts, which plotly does not validate. Validating every
    number of every trace, and each later update through plotly's property paths, was most of the
    Insights page's render. The dicts are written in the form validation leaves them in (titles
    as {"text": ...}, lists, no magic underscores), and tests/dashboard/test_insight_figures.py
    checks that validating them would change nothing and that they equal the figures drawn
    before. `_validate` is plotly's own switch for this (plotly >= 4)."""
    spec = {"title": {"text": title}, "height": 320, "margin": _MARGIN, **layout}
    return go.Figure({"data": traces, "layout": spec}, _validate=False)


def vline(x: float, text: str, side: str, **line: str) -> dict[str, dict[str, Any]]:
    """A dashed vertical line across the plot at `x` with `text` at its top, on its `side`
    ("left" or "right"): the shape and annotation plotly's add_vline makes."""
    shape = {"type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain"}
    note = {"showarrow": False, "text": text, "x": x, "xref": "x", "y": 1, "yref": "y domain"}
    anchor = "right" if side == "left" else "left"
    return {
        "shape": {**shape, "line": line},
        "annotation": {**note, "xanchor": anchor, "yanchor": "top"},
    }


def vlines(*lines: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The layout's shapes and annotations of `lines` (vline's)."""
    return {
        "shapes": [line["shape"] for line in lines],
        "annotations": [line["annotation"] for line in lines],
    }


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


def day_axis(days: list[str]) -> dict[str, Any]:
    """Whole days on the x axis, also for a single day (plotly would zoom into milliseconds)."""
    if not days:
        return {}
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
    return axis


def runs_by_outcome(rows: list[dict]) -> go.Figure:
    """Stacked bars: runs created each day, by their status now."""
    days = sorted({r["day"] for r in rows})
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        counts[r["status"]][r["day"]] = r["runs"]
    bars = [
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
    ]
    most = max((sum(c.get(d, 0) for c in counts.values()) for d in days), default=0)
    return figure(
        bars,
        "Runs per day by outcome",
        barmode="stack",
        xaxis=day_axis(days),
        yaxis={**count_axis(most), "title": {"text": "runs"}},
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
    days = [p[0] for p in points]
    line = {
        "type": "scatter",
        "x": days,
        "y": [p[1] for p in points],
        "mode": "lines+markers",
        "name": "success rate",
        "line": {"color": STATUS_COLORS["succeeded"]},
    }
    return figure(
        [line],
        "Success rate per day (succeeded of finished)",
        xaxis=day_axis(days),
        yaxis={"tickformat": ".0%", "range": [0, 1.05]},
    )


def approval_wait_figure(waits_s: list[float], median_s: float, p90_s: float) -> go.Figure:
    """Histogram of request-to-decision times with the median and p90 marked."""
    bars = {
        "type": "histogram",
        "x": list(waits_s),
        "nbinsx": 40,
        "marker": {"color": "#4C78A8"},
        "name": "waits",
    }
    return figure(
        [bars],
        "Time from approval request to decision",
        # The median's words left of its line, p90's right of its own: no overlap.
        **vlines(
            vline(median_s, f"median {median_s:.0f} s", "left", dash="dash"),
            vline(p90_s, f"p90 {p90_s:.0f} s", "right", color="#E45756", dash="dot"),
        ),
        xaxis={"title": {"text": "seconds"}, "rangemode": "tozero"},
        yaxis={**count_axis(len(waits_s)), "title": {"text": "approvals"}},
        showlegend=False,
    )


def decisions_per_tool_figure(rows: list[dict]) -> go.Figure:
    tools = [label(r["tool"]) for r in rows]
    bars = [
        {"type": "bar", "name": decision, "x": tools, "y": values, "marker": {"color": color}}
        for decision, color in DECISION_COLORS.items()
        if any(values := [r[decision] for r in rows])
    ]
    most = max((r[d] for r in rows for d in DECISION_COLORS), default=0)
    return figure(
        bars, "Approvals and rejections per tool", barmode="group", yaxis=count_axis(most)
    )


def usage_figure(rows: list[dict]) -> go.Figure:
    """Tokens (bars) and cost (line, right axis) per day, on the axes plotly's
    make_subplots(specs=[[{"secondary_y": True}]]) lays out."""
    days = [r["day"] for r in rows]
    tokens = {
        "type": "bar",
        "name": "tokens",
        "x": days,
        "y": [r["tokens"] for r in rows],
        "marker": {"color": "#4C78A8"},
        "width": BAR_WIDTH_MS,
        "xaxis": "x",
        "yaxis": "y",
    }
    cost = {
        "type": "scatter",
        "name": "cost (USD)",
        "x": days,
        "y": [r["cost_usd"] for r in rows],
        "mode": "lines+markers",
        "line": {"color": "#F58518"},
        "xaxis": "x",
        "yaxis": "y2",
    }
    most = max((r["tokens"] for r in rows), default=0)
    most_usd = max((r["cost_usd"] for r in rows), default=0.0)
    left = {"anchor": "x", "domain": [0.0, 1.0], "title": {"text": "tokens"}}
    right = {"anchor": "x", "overlaying": "y", "side": "right", "title": {"text": "USD"}}
    return figure(
        [tokens, cost],
        "Tokens and cost per day",
        xaxis={"anchor": "y", "domain": [0.0, 0.94], **day_axis(days)},
        yaxis={**left, **count_axis(most)},
        yaxis2={**right, **cost_axis(most_usd)},
    )


def drift_figure(rows: list[dict]) -> go.Figure:
    totals: dict[str, int] = defaultdict(int)
    for r in rows:
        totals[r["monitor"]] += r["stops"]
    monitors = sorted(totals, key=lambda m: (-totals[m], m))
    bars = []
    for action in sorted({r["action"] for r in rows}):
        stops = {r["monitor"]: r["stops"] for r in rows if r["action"] == action}
        bars.append(
            {
                "type": "bar",
                "name": label(action),
                "x": [label(m) for m in monitors],
                "y": [stops.get(m, 0) for m in monitors],
                "marker": {"color": ACTION_COLORS.get(action, "#9E9E9E")},
            }
        )
    most = max(totals.values(), default=0)
    return figure(
        bars,
        "Drift stops by monitor",
        barmode="stack",
        yaxis={**count_axis(most), "title": {"text": "stops"}},
    )


def tool_usage_figure(rows: list[dict]) -> go.Figure:
    """Horizontal bars, most used tool on top, split by the policy's verdict."""
    ordered = list(reversed(rows))
    bars = [
        {
            "type": "bar",
            "name": verdict,
            "orientation": "h",
            "y": [label(r["tool"]) for r in ordered],
            "x": [r[verdict] for r in ordered],
            "marker": {"color": color},
        }
        for verdict, color in VERDICT_COLORS.items()
    ]
    most = max((r["calls"] for r in rows), default=0)
    return figure(
        bars,
        "Most used tools",
        barmode="stack",
        xaxis={**count_axis(most), "title": {"text": "calls"}},
    )
