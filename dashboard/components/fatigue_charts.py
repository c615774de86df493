"""Figures of approval fatigue: how long people take to decide, what asks, asks per run by day."""

from __future__ import annotations

import plotly.graph_objects as go

from dashboard.components.insight_charts import count_axis, day_axis, figure, label, vline, vlines

FAST_COLOR, SLOW_COLOR = "#E45756", "#4C78A8"
# Mildest to severest (storage.vocabulary.CallClass), then asks nobody classified.
CLASS_COLORS = {
    "read": "#54A24B",
    "build": "#88D27A",
    "write": "#4C78A8",
    "network": "#72B7B2",
    "install": "#F58518",
    "guarded": "#B279A2",
    "destructive": "#E45756",
    "escalation": "#9D2E2E",
    "unclassified": "#9E9E9E",
}


def time_to_decide_figure(
    buckets: list[tuple[str, int]], fast_bars: int, fast_s: float
) -> go.Figure:
    """Decisions per time-to-decide bar; the first `fast_bars` bars are under `fast_s`, marked by
    a line where they end."""
    counts = [n for _, n in buckets]
    colors = [FAST_COLOR if i < fast_bars else SLOW_COLOR for i in range(len(buckets))]
    bars = {"type": "bar", "x": [name for name, _ in buckets], "y": counts}
    # Between the last fast bar and the first slow one (a category axis).
    fast = vline(
        fast_bars - 0.5,
        f"{fast_s:g} s: faster is rubber-stamping",
        "right",
        color=FAST_COLOR,
        dash="dash",
    )
    return figure(
        [{**bars, "marker": {"color": colors}, "name": "decisions"}],
        "Time to decide (decisions by people)",
        **vlines(fast),
        xaxis={"type": "category", "title": {"text": "time from the ask to the decision"}},
        # Room above the tallest bar for the line's words.
        yaxis={
            **count_axis(max(counts, default=0)),
            "title": {"text": "decisions"},
            "range": [0, max(counts, default=0) * 1.25 + 0.5],
        },
        showlegend=False,
    )


def asks_by_class_figure(rows: list[tuple[str, int]]) -> go.Figure:
    """Asks per call class, mildest class first."""
    bars = {
        "type": "bar",
        "x": [label(name) for name, _ in rows],
        "y": [n for _, n in rows],
        "marker": {"color": [CLASS_COLORS.get(name, "#9E9E9E") for name, _ in rows]},
        "name": "asks",
    }
    return figure(
        [bars],
        "Asks by what the call does",
        xaxis={"type": "category"},
        yaxis={**count_axis(max((n for _, n in rows), default=0)), "title": {"text": "asks"}},
        showlegend=False,
    )


def asks_per_run_figure(per_day: list[dict]) -> go.Figure:
    """Asks per run, by the day the runs were created."""
    days = [d["day"] for d in per_day]
    line = {
        "type": "scatter",
        "x": days,
        "y": [d["asks_per_run"] for d in per_day],
        "mode": "lines+markers",
        "name": "asks per run",
        "line": {"color": "#F58518"},
        "customdata": [[d["asks"], d["runs"]] for d in per_day],
        "hovertemplate": "%{x|%b %d}: %{y:.1f} asks per run (%{customdata[0]} asks, "
        "%{customdata[1]} runs)<extra></extra>",
    }
    return figure(
        [line],
        "Asks per run, by the day runs were created",
        xaxis=day_axis(days),
        yaxis={"rangemode": "tozero", "title": {"text": "asks per run"}},
        showlegend=False,
    )
