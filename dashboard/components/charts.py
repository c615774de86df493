"""Charts of one run, derived from its events: where the time went, and tokens and cost by step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from agent_core.oversight import inert
from dashboard.components.events import or_default
from storage import EventRecord, record
from storage.record import parse_as, parse_event
from storage.vocabulary import EventKind, RunStatus

LANES = ("model call", "tool", "human wait", "paused")
LANE_COLORS = {
    "model call": "#4C78A8",
    "tool": "#54A24B",
    "human wait": "#F58518",
    "paused": "#B279A2",
}


@dataclass(frozen=True)
class Segment:
    lane: str  # one of LANES
    label: str  # plain text (escaped when drawn)
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


def _ended(event: EventRecord, seconds: Any) -> tuple[datetime, datetime]:
    """An interval that ends at the event and lasted `seconds` (events are written afterwards)."""
    try:
        length = max(0.0, float(seconds or 0.0))
    except (TypeError, ValueError):
        length = 0.0
    return event.at - timedelta(seconds=length), event.at


def timeline_segments(events: Sequence[EventRecord], *, now: datetime) -> list[Segment]:
    """Model calls, tool runs, waits for a human and pauses, in event order."""
    segments: list[Segment] = []
    asked: dict[str, tuple[datetime, str]] = {}  # approval key -> (asked at, tool)
    paused_at: datetime | None = None
    for event in events:
        e = parse_event(event.kind, event.payload)
        if isinstance(e, record.ModelCall):
            start, end = _ended(event, e.latency_s)
            segments.append(Segment("model call", f"step {or_default(e.step, '?')}", start, end))
        elif isinstance(e, record.ToolResult):
            start, end = _ended(event, e.duration_s)
            segments.append(Segment("tool", str(or_default(e.tool, "?")), start, end))
        elif isinstance(e, record.ApprovalRequested):
            asked[_approval_key(e)] = (event.at, str(or_default(e.tool, "?")))
        elif isinstance(e, record.ApprovalDecided):
            start_tool = asked.pop(_approval_key(e), None)
            if start_tool is not None:
                label = f"{start_tool[1]}: {or_default(e.decision, '?')}"
                segments.append(Segment("human wait", label, start_tool[0], event.at))
        elif isinstance(e, record.Status):
            status = e.status
            if status == RunStatus.PAUSED and paused_at is None:
                paused_at = event.at
            elif status != RunStatus.PAUSED and paused_at is not None:
                segments.append(Segment("paused", "paused", paused_at, event.at))
                paused_at = None
    for start, tool in asked.values():  # still waiting
        segments.append(Segment("human wait", f"{tool}: pending", start, max(start, now)))
    if paused_at is not None:
        segments.append(Segment("paused", "paused", paused_at, max(paused_at, now)))
    return segments


def _approval_key(e: record.ApprovalRequested | record.ApprovalDecided) -> str:
    return str(e.approval_id or e.tool_call_id or "?")


def timeline_figure(segments: Sequence[Segment]) -> go.Figure:
    """Gantt-like bars, one lane per kind, on seconds since the first segment began."""
    figure = go.Figure()
    origin = min(s.start for s in segments)
    for lane in LANES:
        rows = [s for s in segments if s.lane == lane]
        if not rows:
            continue
        figure.add_trace(
            go.Bar(
                name=lane,
                orientation="h",
                y=[lane] * len(rows),
                base=[(s.start - origin).total_seconds() for s in rows],
                x=[max(s.seconds, 0.05) for s in rows],  # a zero-length bar would not show
                marker_color=LANE_COLORS[lane],
                # Plotly reads a little HTML in hover text: escape the tool names models chose.
                customdata=[[inert.chart_label(s.label), f"{s.seconds:.2f}"] for s in rows],
                hovertemplate="%{customdata[0]}<br>%{customdata[1]} s<extra></extra>",
            )
        )
    figure.update_layout(
        barmode="overlay",
        height=260,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="seconds since the run began",
        yaxis={"categoryorder": "array", "categoryarray": list(reversed(LANES))},
        title="Where the time went",
        showlegend=False,
    )
    return figure


def usage_by_step(events: Sequence[EventRecord]) -> list[tuple[int, int, float]]:
    """(step, cumulative tokens, cumulative cost) after each model call."""
    tokens, cost = 0, 0.0
    rows: list[tuple[int, int, float]] = []
    for event in events:
        if event.kind != EventKind.MODEL_CALL:
            continue
        call = parse_as(record.ModelCall, event.payload)
        tokens += int(call.tokens_in or 0) + int(call.tokens_out or 0)
        cost += float(call.cost_usd or 0.0)
        rows.append((int(call.step or len(rows) + 1), tokens, cost))
    return rows


def usage_figure(rows: Sequence[tuple[int, int, float]]) -> go.Figure:
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    steps = [r[0] for r in rows]
    figure.add_trace(
        go.Scatter(x=steps, y=[r[1] for r in rows], name="tokens", mode="lines+markers"),
        secondary_y=False,
    )
    figure.add_trace(
        go.Scatter(x=steps, y=[r[2] for r in rows], name="cost (USD)", mode="lines+markers"),
        secondary_y=True,
    )
    figure.update_layout(
        height=260, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title="Tokens and cost by step"
    )
    figure.update_xaxes(title_text="step")
    figure.update_yaxes(title_text="tokens", rangemode="tozero", secondary_y=False)
    figure.update_yaxes(title_text="USD", rangemode="tozero", secondary_y=True)
    return figure


def render_run_charts(events: Sequence[EventRecord], *, now: datetime, key: str) -> None:
    """The timeline and the usage chart side by side, or a line saying when they will appear."""
    segments = timeline_segments(events, now=now)
    rows = usage_by_step(events)
    if not segments and not rows:
        st.caption("Charts appear once the run has taken its first step.")
        return
    left, right = st.columns(2)
    with left:
        if segments:
            st.plotly_chart(timeline_figure(segments), key=f"{key}-timeline")
    with right:
        if rows:
            st.plotly_chart(usage_figure(rows), key=f"{key}-usage")
