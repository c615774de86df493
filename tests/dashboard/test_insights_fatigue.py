"""The Insights page's "How often onloop asks": the seeded figures as metrics, charts and tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

import storage
from agent_core.oversight import fatigue
from tests.support import dashboard_seed as seed
from tests.support import fatigue_seed

pytestmark = pytest.mark.store_for("page")  # a page run on its own by AppTest reads this store
SECTION = "insights-fatigue"


def insights_page() -> AppTest:
    at = AppTest.from_file(str(seed.PAGES / "insights.py"), default_timeout=30)
    at.run()
    assert not at.exception
    return at


def section_charts(at: AppTest) -> dict[str, dict]:
    """The section's plotly figures as JSON, by the last word of their widget key."""
    return {
        c.key.removeprefix(f"{SECTION}-"): json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if c.key.startswith(SECTION)
    }


def tables(at: AppTest) -> dict[str, list[dict]]:
    """The section's tables as rows, by the first column's name."""
    frames = [d.value for d in at.dataframe]
    return {frame.columns[0]: frame.to_dict("records") for frame in frames}


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_section_shows_every_figure_of_the_period(store):
    fatigue_seed.seed_asks(store)
    at = insights_page()
    assert "How often onloop asks" in [h.value for h in at.header]
    shown = metrics(at)
    assert shown["Asks per run"] == "5.0"
    assert shown["Per 100 tool calls"] == "37.5"
    assert shown["Unchanged"] == "53%"  # 8 of 15
    assert shown["Median to decide"] == "1.2 s"
    assert shown["p90 to decide"] == "12 s"
    assert shown["Under 2 s"] == "7 (64%)"
    (flagged,) = at.warning
    assert flagged.value.startswith("ann decided 6 asks with a median of 1.1 s")
    rows = tables(at)
    assert [(r["person"], r["decisions"], r["flagged"]) for r in rows["person"]] == [
        ("ann", 6, "yes"),
        ("bob", 3, ""),
        ("cy", 2, ""),
    ]
    assert [(r["rule"], r["asks"]) for r in rows["rule"]] == fatigue_seed.FIGURES["by_rule"]
    assert [(r["tool"], r["asks"]) for r in rows["tool"]] == fatigue_seed.FIGURES["by_tool"]
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Allowances given\\: 3 \\(prefix 1, folder 1") for c in captions)
    assert any(c.endswith("Revoked\\: 2.") for c in captions)
    assert not at.info  # no suggestions given: no savings line


def test_the_charts_carry_the_counts_on_whole_number_axes_from_zero(store):
    fatigue_seed.seed_asks(store)
    charts = section_charts(insights_page())
    assert set(charts) == {"wait", "classes", "trend"}
    (wait,) = charts["wait"]["data"]
    assert wait["y"] == [3, 4, 1, 1, 1, 1, 0, 0, 0]
    (two_seconds,) = charts["wait"]["layout"]["shapes"]
    assert two_seconds["x0"] == 1.5  # between "1–2 s" and "2–5 s"
    (classes,) = charts["classes"]["data"]
    assert list(zip(classes["x"], classes["y"], strict=True)) == fatigue_seed.FIGURES["by_class"]
    for name in ("wait", "classes"):
        axis = charts[name]["layout"]["yaxis"]
        assert (axis["range"][0], axis["tickformat"], axis["dtick"]) == (0, ",d", 1)
    (trend,) = charts["trend"]["data"]
    assert sum(a for a, _ in trend["customdata"]) == 15  # asks, over the days' runs
    assert charts["trend"]["layout"]["yaxis"]["rangemode"] == "tozero"


def test_one_model_and_the_savings_of_suggested_rules(store, monkeypatch):
    @dataclass(frozen=True)
    class Suggested:
        saved_asks: int
        label: str

    fatigue_seed.seed_asks(store)
    monkeypatch.setattr(fatigue, "SUGGESTIONS", lambda opened: [Suggested(4, "allow pytest *")])
    at = insights_page()
    (saved,) = at.info
    assert saved.value == (
        "4 asks \\(25% of every ask on record\\) would have been saved by 1 suggested rules."
    )
    at.selectbox(key=f"{SECTION}-model").set_value("gpt-4o-mini").run()
    assert not at.exception
    assert metrics(at)["Asks per run"] == "4.0"
    assert metrics(at)["Per 100 tool calls"] == "40.0"
    assert not at.warning  # ann decided nothing in that model's run


def test_names_from_the_store_render_as_text(store):
    run = seed.make_run(store, status="running")
    storage.add_usage(store, run_id=run.id, tool_calls=6)
    person = "[click me](http://evil.example/x.png)"
    for minute in range(5):
        ask = fatigue_seed.Ask("<b>tool</b>", "read", person, wait_s=0.5, rule="**rule**")
        fatigue_seed.ask_once(store, run, ask, storage.utcnow() - timedelta(minutes=minute + 1))
    at = insights_page()
    (flagged,) = at.warning
    assert flagged.value.startswith(r"\[click me\]\(http\[\:\]//evil.example/x.png\) decided 5")
    rows = tables(at)
    assert rows["rule"] == [{"rule": "**rule**", "asks": 5}]  # a table cell is text, never Markdown
    assert rows["tool"] == [{"tool": "<b>tool</b>", "asks": 5}]
    classes = section_charts(at)["classes"]["data"][0]
    assert classes["x"] == ["read"]


def test_a_period_without_asks_says_so(store):
    run = seed.make_run(store)
    storage.add_usage(store, run_id=run.id, tool_calls=3)
    at = insights_page()
    assert "Nothing asked a person in this period." in [c.value for c in at.caption]
    assert not section_charts(at)
