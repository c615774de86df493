"""Approval-fatigue figures on a seeded store, every one checked against sums done by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

import storage
from agent_core.oversight import fatigue
from storage.ask_history import AskGroup, AskHistory, Decision, ask_history
from tests.support import fatigue_seed
from tests.support.fatigue_seed import FIGURES


@dataclass(frozen=True)
class FakeSuggestion:
    saved_asks: int
    label: str


@pytest.fixture
def seeded(store):
    return fatigue_seed.seed_asks(store)


def last_30_days(store, **period) -> fatigue.Fatigue:
    since = fatigue.since_days(30, today=storage.utcnow())
    return fatigue.fatigue(store, since=since, **period)


def test_asks_per_run_and_per_100_tool_calls(store, seeded):
    figures = last_30_days(store)
    for name in ("runs", "tool_calls", "asks", "asks_per_run", "asks_per_100_calls"):
        assert getattr(figures, name) == FIGURES[name], name


def test_how_asks_ended_adds_up_to_every_ask(store, seeded):
    figures = last_30_days(store)
    assert figures.outcomes == FIGURES["outcomes"]
    assert sum(figures.outcomes.values()) == figures.asks
    assert figures.share("approved unchanged") == pytest.approx(8 / 15)
    assert figures.share("approved with an edit") == pytest.approx(1 / 15)


def test_time_to_decide_median_p90_and_the_fast_ones(store, seeded):
    figures = last_30_days(store)
    assert figures.decisions == FIGURES["decisions"]
    assert not figures.sampled
    assert figures.median_s == pytest.approx(FIGURES["median_s"], abs=1e-6)
    assert figures.p90_s == pytest.approx(FIGURES["p90_s"], abs=1e-6)
    assert (figures.fast, figures.fast_share) == (7, pytest.approx(7 / 11))
    assert dict(figures.wait_buckets) == {
        "< 1 s": 3,  # 0.3 0.4 0.5
        "1–2 s": 4,  # 1.0 1.0 1.2 1.5
        "2–5 s": 1,
        "5–10 s": 1,
        "10–30 s": 1,
        "30 s–1 min": 1,  # 30.0: the upper bound belongs to the next bar
        "1–5 min": 0,
        "5–30 min": 0,
        "30 min or more": 0,
    }


def test_a_person_deciding_in_under_2_s_is_flagged_only_over_5_decisions(store, seeded):
    people = {p.by: p for p in last_30_days(store).people}
    assert list(people) == ["ann", "bob", "cy"]  # most decisions first; --yes is nobody
    ann, bob, cy = people["ann"], people["bob"], people["cy"]
    assert (ann.decisions, ann.fast, ann.flagged) == (6, 5, True)
    assert ann.median_s == pytest.approx(1.1, abs=1e-6)  # (1.0 + 1.2) / 2
    assert (bob.decisions, bob.fast, bob.flagged) == (3, 0, False)
    assert bob.median_s == pytest.approx(8.0, abs=1e-6)
    assert (cy.decisions, cy.fast, cy.flagged) == (2, 2, False)  # fast, but only 2 decisions


def test_asks_by_class_rule_and_tool(store, seeded):
    figures = last_30_days(store)
    assert figures.by_class == FIGURES["by_class"]
    assert figures.by_rule == FIGURES["by_rule"]
    assert figures.by_tool == FIGURES["by_tool"]


def test_allowances_given_by_scope_and_revoked(store, seeded):
    figures = last_30_days(store)
    assert figures.allowances == FIGURES["allowances"]
    assert list(figures.allowances) == ["prefix", "folder", "domain"]  # narrowest first
    assert figures.revoked == FIGURES["revoked"]


def test_asks_per_run_per_day(store, seeded):
    run_1, run_2, run_3, _ = seeded.runs
    days = {d["day"]: d for d in last_30_days(store).per_day}
    expected: dict[str, dict] = {}
    for run, asks, calls in ((run_1, 6, 20), (run_2, 4, 10), (run_3, 5, 10)):
        day = expected.setdefault(
            run.created_at.date().isoformat(), {"runs": 0, "asks": 0, "tool_calls": 0}
        )
        day["runs"] += 1
        day["asks"] += asks
        day["tool_calls"] += calls
    assert {d: {k: days[d][k] for k in ("runs", "asks", "tool_calls")} for d in days} == expected
    for day in days.values():
        assert day["asks_per_run"] == day["asks"] / day["runs"]


def test_savings_of_the_suggested_rules_count_every_ask_on_record(store, seeded):
    suggestions = [FakeSuggestion(4, "allow `pytest *`"), FakeSuggestion(3, "allow git status")]
    since = fatigue.since_days(30, today=storage.utcnow())
    savings = fatigue.fatigue(store, since=since, suggestions=suggestions).savings
    assert savings is not None
    assert (savings.asks, savings.rules) == (7, 2)
    assert savings.share == pytest.approx(7 / 16)  # the old run's ask is on record too
    assert savings.labels == ["allow `pytest *`", "allow git status"]
    assert last_30_days(store).savings is None  # no suggestions given: no savings line
    assert fatigue.fatigue(store, suggestions=[]).savings is None  # none yet: no line


def test_one_model_one_run_and_all_time(store, seeded):
    openai = fatigue.fatigue(store, model="gpt-4o-mini")
    assert (openai.runs, openai.asks, openai.tool_calls) == (1, 4, 10)
    assert openai.by_tool == [("fetch_url", 2), ("run_shell", 2)]
    assert fatigue.fatigue(store, model="openai").asks == 4  # the provider's name works too
    run_3 = fatigue.fatigue(store, run_id=seeded.runs[2].id)
    assert (run_3.runs, run_3.asks, run_3.allowances, run_3.revoked) == (1, 5, {"prefix": 1}, 1)
    assert [(p.by, p.decisions) for p in run_3.people] == [("cy", 2), ("ann", 1)]
    ever = fatigue.fatigue(store)
    assert (ever.runs, ever.asks, ever.tool_calls, ever.decisions) == (4, 16, 45, 12)
    assert ever.p90_s == pytest.approx(30.0, abs=1e-6)  # ceil(12 * 0.9) = 11th of 12


def test_an_empty_period_has_no_ratios(store, seeded):
    since = storage.utcnow() + timedelta(days=1)
    empty = fatigue.fatigue(store, since=since)
    assert (empty.runs, empty.asks, empty.decisions) == (0, 0, 0)
    assert empty.asks_per_run is empty.asks_per_100_calls is empty.median_s is None
    assert empty.share("rejected") is None and empty.people == [] and empty.per_day == []


def test_the_json_form_names_every_figure(store, seeded):
    data = last_30_days(store).as_dict()
    assert data["by_class"][0] == {"name": "read", "count": 3}
    assert data["shares"]["pending"] == pytest.approx(1 / 15)
    assert data["people"][0]["by"] == "ann" and data["people"][0]["flagged"] is True


def test_only_the_latest_decisions_are_timed_and_the_figures_say_so():
    decisions = [Decision(by="ann", status="approved", wait_s=float(s)) for s in (1, 3, 5)]
    group = AskGroup("run_shell", None, "build", "approved", False, False, False, None, 10)
    history = AskHistory(runs=2, tool_calls=0, groups=[group], decisions=decisions)
    figures = fatigue.figures(history)
    assert figures.sampled and figures.decisions == 3 and figures.asks == 10
    assert figures.asks_per_100_calls is None  # no tool calls counted: no ratio, no division


def test_a_rule_or_class_named_empty_counts_as_none(store):
    run = storage.create_run(store, goal="g")
    fatigue_seed.ask_once(store, run, fatigue_seed.Ask("run_shell", ""), storage.utcnow())
    assert ask_history(store).groups[0].call_class is None
    figures = fatigue.fatigue(store)
    assert figures.by_class == [("unclassified", 1)]
    assert figures.by_rule == [(fatigue.DEFAULT_RULE, 1)]


def test_sqlite_and_postgresql_count_the_same(any_store):
    fatigue_seed.seed_asks(any_store)
    figures = last_30_days(any_store)
    for name in ("runs", "tool_calls", "asks", "outcomes", "by_class", "by_rule", "by_tool"):
        assert getattr(figures, name) == FIGURES[name], name
    assert (figures.decisions, figures.fast, figures.revoked) == (11, 7, 2)
    assert figures.median_s == pytest.approx(1.2, abs=1e-6)
    assert figures.allowances == FIGURES["allowances"]


def test_a_period_of_days_starts_at_midnight_utc_today_included():
    afternoon = datetime(2025, 5, 3, 15, 30)
    assert fatigue.since_days(1, today=afternoon) == datetime(2025, 5, 3)
    assert fatigue.since_days(30, today=afternoon) == datetime(2025, 4, 4)
