"""The Insights page: its empty state, its figures on a real history, and escaped labels."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

import storage
from dashboard.components import insight_charts
from storage.vocabulary import RUN_STATUSES
from tests.support import dashboard_seed as seed

pytestmark = pytest.mark.store_for("page")  # a page run on its own by AppTest reads this store


def insights_page() -> AppTest:
    at = AppTest.from_file(str(seed.PAGES / "insights.py"), default_timeout=30)
    at.run()
    assert not at.exception
    return at


def charts(at: AppTest) -> dict[str, dict]:
    """Each plotly chart's figure JSON, by its widget key."""
    return {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_empty_store_says_how_history_starts(store):
    at = insights_page()
    assert "No history yet" in at.info[0].value
    assert not at.get("plotly_chart")


def test_every_chart_on_a_history_with_runs_in_every_status(store):
    runs = seed.runs_in_every_status(store)
    (approval,) = storage.pending_approvals(store)
    storage.decide_approval(store, approval_id=approval.id, decision="rejected", decided_by="me")
    seed.add_events(
        store,
        runs["paused"],
        [
            ("drift", {"monitor": "repetition", "detail": "same call", "action": "pause"}),
            ("tool_call", {"tool": "read_file", "verdict": "allow"}),
            ("tool_call", {"tool": "delete_files", "verdict": "ask"}),
        ],
    )
    at = insights_page()
    shown = metrics(at)
    assert shown["Runs"] == "9"
    assert shown["Success rate"] == "25%"  # 1 succeeded of 4 finished (+ unmet, failed, halted)
    assert shown["Tokens"] == "135"
    keys = [c.key for c in at.get("plotly_chart")]
    assert len([k for k in keys if not k.startswith("insights-fatigue-")]) == 7
    assert (
        sorted(k for k in keys if k.startswith("insights-fatigue-"))
        == [
            "insights-fatigue-classes",
            "insights-fatigue-trend",
            "insights-fatigue-wait",
        ]
    )  # the one decided approval: "How often onloop asks" (tests/dashboard/test_insights_fatigue.py)
    assert not [c.value for c in at.caption if c.value.startswith("No ")]


def test_charts_carry_the_counted_numbers(store):
    run = seed.make_run(store, status="failed", tokens_in=1000, tokens_out=500, cost_usd=0.25)
    seed.add_events(store, run, [("tool_call", {"tool": "run_shell", "verdict": "deny"})])
    at = insights_page()
    figures = charts(at)
    assert set(figures) == {"runs", "success", "usage", "tools"}
    (failed,) = figures["runs"]["data"]
    assert (failed["name"], failed["y"]) == ("failed", [1])
    assert figures["success"]["data"][0]["y"] == [0.0]
    assert figures["usage"]["data"][0]["y"] == [1500]
    assert figures["usage"]["data"][1]["y"] == [0.25]
    denied = [t for t in figures["tools"]["data"] if t["name"] == "denied"][0]
    assert (denied["y"], denied["x"]) == (["run_shell"], [1])
    notes = [c.value for c in at.caption]
    assert "No approvals were decided by a person in this period." in notes
    assert "No drift monitor stopped a run in this period." in notes


def test_the_period_leaves_out_older_runs(store):
    seed.make_run(store, created_at=storage.utcnow() - timedelta(days=60))
    at = insights_page()
    assert "No runs were created in the last 30 days" in at.info[0].value
    at.segmented_control(key="insights-period").set_value("90 days").run()
    assert metrics(at)["Runs"] == "1"
    at.segmented_control(key="insights-period").set_value("All time").run()
    assert metrics(at)["Runs"] == "1"


def test_names_from_events_are_escaped_in_figures():
    rows = [{"tool": "<b>x</b>", "calls": 1, "allowed": 1, "asked": 0, "denied": 0}]
    figure = insight_charts.tool_usage_figure(rows)
    assert list(figure.data[0].y) == ["&lt;b&gt;x&lt;/b&gt;"]


def test_insights_render_inside_the_routed_app(store):
    seed.runs_in_every_status(store)
    at = AppTest.from_file(str(seed.PAGES.parent / "app.py"), default_timeout=30)
    at.run()
    at.switch_page("views/insights.py").run()
    assert not at.exception
    assert metrics(at)["Runs"] == "9"


def test_count_axes_start_at_zero_in_whole_numbers():
    """Three runs tick 0 1 2 3, never 0.5; an all-zero day never draws a negative axis."""
    day = "2025-05-01"
    figures = {
        "runs": (
            insight_charts.runs_by_outcome([{"day": day, "status": "failed", "runs": 3}]),
            "y",
        ),
        "waits": (insight_charts.approval_wait_figure([1.0, 2.0], 1.5, 2.0), "y"),
        "decisions": (
            insight_charts.decisions_per_tool_figure(
                [{"tool": "t", "approved": 2, "rejected": 0, "expired": 0}]
            ),
            "y",
        ),
        "drift": (
            insight_charts.drift_figure([{"monitor": "m", "action": "pause", "stops": 1}]),
            "y",
        ),
        "tools": (
            insight_charts.tool_usage_figure(
                [{"tool": "t", "calls": 4, "allowed": 4, "asked": 0, "denied": 0}]
            ),
            "x",
        ),
    }
    for name, (figure, axis) in figures.items():
        shown = figure.layout[f"{axis}axis"]
        assert (shown.range[0], shown.tickformat, shown.dtick) == (0, ",d", 1), name
        assert shown.range[1] >= 1, name
    zero = [{"day": day, "tokens": 0, "cost_usd": 0.0}]
    usage = insight_charts.usage_figure(zero).layout
    assert usage.yaxis.range[0] == usage.yaxis2.range[0] == 0
    assert usage.yaxis.dtick == 1 and usage.yaxis2.tickformat == "$.3f"


def test_the_cost_axis_starts_at_zero_dollars():
    rows = [{"day": "2025-05-01", "tokens": 900, "cost_usd": 0.012}]
    rows.append({"day": "2025-05-02", "tokens": 400, "cost_usd": 0.019})
    cost = insight_charts.usage_figure(rows).layout.yaxis2
    assert cost.range[0] == 0 and cost.range[1] > 0.019 and cost.tickformat == "$.3f"
    dear = insight_charts.usage_figure([{**rows[0], "cost_usd": 4.5}]).layout.yaxis2
    assert dear.tickformat == "$,.2f"


def test_each_status_has_its_own_colour():
    colours = insight_charts.STATUS_COLORS
    assert set(colours) == set(RUN_STATUSES)
    assert len(set(colours.values())) == len(colours)
    rgb = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in colours.values()]
    closest = min(
        sum(abs(a - b) for a, b in zip(x, y, strict=True))
        for i, x in enumerate(rgb)
        for y in rgb[i + 1 :]
    )
    assert closest >= 60  # unmet and interrupted were 26 apart (two near-identical yellows)
