"""Insights: how runs turn out, how often they ask people and how people answer, what it costs,
where agents drift."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from agent_core.oversight.fatigue import since_days
from dashboard.components import fatigue_section
from dashboard.components import insight_charts as charts
from dashboard.components.run_link import page_link
from dashboard.components.status import format_cost, format_duration, format_tokens
from dashboard.store import get_store
from storage import insights
from storage.models import utcnow

KEY = "insights"
CACHE_SECONDS = 120
PERIODS = {"7 days": 7, "30 days": 30, "90 days": 90, "All time": None}


def _since(period: str) -> datetime | None:
    """The first day of the period at 00:00 UTC (whole days, so cached figures stay valid)."""
    days = PERIODS[period]
    return None if days is None else since_days(days, today=utcnow())


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Counting the history…")
def _figures(url: str, since: datetime | None) -> dict[str, Any]:
    """Every aggregate the page draws; cached for every viewer, as they read much of the history."""
    store = get_store()
    return {
        "runs": insights.runs_per_day(store, since=since),
        "success": insights.success_rate(store, since=since),
        "latency": insights.approval_latency(store, since=since),
        "decisions": insights.decisions_per_tool(store, since=since),
        "usage": insights.usage_per_day(store, since=since),
        "drift": insights.drift_stops_by_monitor(store, since=since),
        "tools": insights.tool_usage(store, since=since),
    }


def _render_metrics(data: dict[str, Any]) -> None:
    runs = sum(r["runs"] for r in data["runs"])
    rate = data["success"]["rate"]
    latency = data["latency"]
    tokens = sum(r["tokens"] for r in data["usage"])
    cost = sum(r["cost_usd"] for r in data["usage"])
    columns = st.columns(6)
    columns[0].metric("Runs", f"{runs:,}")
    columns[1].metric(
        "Success rate",
        "–" if rate is None else f"{rate:.0%}",
        help="Succeeded runs out of finished ones (succeeded, unmet = goal not met, failed, "
        "halted).",
    )
    wait_help = "Time from an approval request to a person's decision (expired ones left out)."
    columns[2].metric("Median wait", format_duration(latency["median_s"]), help=wait_help)
    columns[3].metric("p90 wait", format_duration(latency["p90_s"]), help=wait_help)
    columns[4].metric("Tokens", format_tokens(tokens))
    columns[5].metric("Cost", format_cost(cost))


def _chart_or_note(figure_factory: Any, rows: Any, *, key: str, empty: str) -> None:
    if rows:
        st.plotly_chart(figure_factory(rows), key=f"{KEY}-{key}")
    else:
        st.caption(empty)


def _render_charts(data: dict[str, Any]) -> None:
    left, right = st.columns(2)
    with left:
        st.plotly_chart(charts.runs_by_outcome(data["runs"]), key=f"{KEY}-runs")
    with right:
        _chart_or_note(
            charts.success_rate_figure,
            charts.daily_success_rate(data["runs"]),
            key="success",
            empty="No finished runs in this period yet.",
        )
    left, right = st.columns(2)
    with left:
        latency = data["latency"]
        if latency["decided"]:
            figure = charts.approval_wait_figure(
                latency["waits_s"], latency["median_s"], latency["p90_s"]
            )
            st.plotly_chart(figure, key=f"{KEY}-latency")
        else:
            st.caption("No approvals were decided by a person in this period.")
    with right:
        _chart_or_note(
            charts.decisions_per_tool_figure,
            data["decisions"],
            key="decisions",
            empty="No decided approvals in this period.",
        )
    st.plotly_chart(charts.usage_figure(data["usage"]), key=f"{KEY}-usage")
    left, right = st.columns(2)
    with left:
        _chart_or_note(
            charts.drift_figure,
            data["drift"],
            key="drift",
            empty="No drift monitor stopped a run in this period.",
        )
    with right:
        _chart_or_note(
            charts.tool_usage_figure,
            data["tools"],
            key="tools",
            empty="No tool calls in this period.",
        )


def main() -> None:
    st.title("Insights")
    store = get_store()
    if not insights.has_history(store):
        st.info(
            "No history yet. Launch a run on the Launch page: how runs end, how long approvals "
            "wait, tokens and cost, drift stops and the tools used will be charted here.",
            icon=":material/insights:",
        )
        page_link("views/launch.py", label="Go to the Launch page")
        return
    period = st.segmented_control(
        "Period (by the day a run was created, UTC)",
        list(PERIODS),
        default="30 days",
        required=True,
        key=f"{KEY}-period",
    )
    since = _since(period or "All time")
    data = _figures(store.url, since)
    if not data["runs"]:
        st.info(f"No runs were created in the last {period}; choose a longer period.")
        return
    _render_metrics(data)
    _render_charts(data)
    fatigue_section.render(store, since)
    st.caption(f"Figures are recounted at most every {CACHE_SECONDS // 60} minutes.")


main()
