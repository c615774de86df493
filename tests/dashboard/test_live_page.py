"""The Live page (AppTest) and the status formatting it relies on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

import storage
from dashboard.components.status import (
    elapsed_seconds,
    format_cost,
    format_duration,
    format_tokens,
    human_needed,
    model_label,
)
from dashboard.routes import LIVE_PAGE
from dashboard.store import get_store
from tests.support.dashboard_fixtures import (
    app_at,
    make_run,
    plain,
    request_approval,
    runs_in_every_status,
)

LIVE = LIVE_PAGE


pytestmark = pytest.mark.store_for("dashboard")  # the routed app (AppTest) reads this store


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def _order(at, runs: dict[str, storage.Run]) -> list[str]:
    """The statuses of the listed runs, in the order their cards appear."""
    by_id = {f"run {run.id} ·": status for status, run in runs.items()}
    return [
        status for c in at.caption for line, status in by_id.items() if c.value.startswith(line)
    ]


def test_empty_store_says_what_to_do_next(store):
    at = app_at(LIVE)
    assert not at.exception
    assert at.title[0].value == "Live runs"
    assert at.info[0].value == "No active runs — launch one on the Launch page."
    assert [link.proto.label for link in at.get("page_link")] == ["Go to Launch"]


def test_only_active_runs_are_listed_and_those_waiting_for_a_human_are_marked(store):
    runs = runs_in_every_status(store)
    at = app_at(LIVE)
    assert not at.exception
    text = _captions(at)
    assert "4 active runs · 2 need a human" in text
    for status in storage.ACTIVE_STATUSES:
        assert f"run {runs[status].id}" in text
    for status in ("succeeded", "failed", "halted", "interrupted"):
        assert runs[status].id not in text
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 2
    assert any("waiting for a human" in w and "1 pending approval" in w for w in warnings)
    assert any("paused" in w for w in warnings)
    # The runs stay in launch order, newest first; the two that need a person are announced.
    assert _order(at, runs) == ["paused", "waiting", "running", "queued"]
    assert at.error[0].value == "2 runs need you"
    links = {link.proto.label: link.proto for link in at.get("page_link")}
    for status in storage.ACTIVE_STATUSES:
        link = links[f"Open run {runs[status].id}"]
        assert (link.page, link.query_string) == ("run", f"run={runs[status].id}")
    announced = [label for label in links if label.startswith("Run ")]
    assert sorted(announced) == sorted(f"Run {runs[s].id}" for s in ("waiting", "paused"))
    reasons = [plain(m.value) for m in at.markdown if " — " in m.value]
    assert any("a waiting run" in r and "1 pending approval" in r for r in reasons), reasons
    assert links["Open the approvals inbox"].page == "approvals"


def test_the_list_follows_the_store_on_each_refresh(store):
    at = app_at(LIVE)
    assert at.info  # empty at first
    run = make_run(store, "running", goal="watch me")
    at.run()  # AppTest does not fire run_every by itself: rerun as the timer would
    assert f"run {run.id}" in _captions(at)
    assert "step 2/30" in _captions(at)
    storage.update_run(store, run_id=run.id, status="succeeded")
    at.run()
    assert run.id not in _captions(at)
    assert at.info[0].value.startswith("No active runs")


def test_the_status_line_shows_usage_and_model(store):
    run = make_run(store, "running")
    storage.update_run(store, run_id=run.id, model="openai", model_name="gpt-4o-mini")
    at = app_at(LIVE)
    line = next(c.value for c in at.caption if run.id in c.value)
    assert "openai · gpt-4o-mini" in line
    assert "step 2/30 · 400 tokens · $0.0032" in line


def test_formatting():
    assert format_duration(3.25) == "3.2 s"
    assert format_duration(42) == "42 s"
    assert format_duration(125) == "2 min 05 s"
    assert format_duration(3 * 3600 + 120) == "3 h 02 min"
    assert format_duration(None) == "–"
    assert format_tokens(999) == "999"
    assert format_tokens(12_345) == "12.3k"
    assert format_tokens(2_500_000) == "2.50M"
    assert format_cost(0) == "$0"
    assert format_cost(0.0012) == "$0.0012"
    assert format_cost(1.5) == "$1.50"
    assert model_label("demo", "demo") == "Demo model (offline)"
    assert model_label("openai", "gpt-4o-mini") == "openai · gpt-4o-mini"


def test_elapsed_and_human_needed(store):
    run = make_run(store, "running")
    assert elapsed_seconds(run, run.started_at + timedelta(seconds=90)) == 90
    resumed = run.model_copy(update={"active_seconds": 120.0})  # two earlier sessions' time
    assert elapsed_seconds(resumed, run.started_at + timedelta(seconds=30)) == 150
    finished = make_run(store, "succeeded")
    assert elapsed_seconds(finished) == 20.0
    assert elapsed_seconds(make_run(store, "queued")) == 0.0
    assert human_needed(run) is None
    assert human_needed(run, 2) == "waiting for a human: 2 pending approvals"
    assert "paused" in human_needed(make_run(store, "paused"))


def test_a_run_that_starts_waiting_keeps_its_place_and_is_announced(store):
    older, middle, newest = (make_run(store, "running", goal=f"run number {i}") for i in range(3))
    runs = {"older": older, "middle": middle, "newest": newest}
    at = app_at(LIVE)
    assert _order(at, runs) == ["newest", "middle", "older"]
    assert not at.error  # nobody needs a person yet
    storage.update_run(store, run_id=older.id, status="waiting")
    request_approval(store, older.id)
    at.run()
    assert _order(at, runs) == ["newest", "middle", "older"]  # not moved under the cursor
    assert at.error[0].value == "1 run needs you"
    announced = [link.proto for link in at.get("page_link") if link.proto.label.startswith("Run ")]
    assert [link.query_string for link in announced] == [f"run={older.id}"]
    assert announced[0].label == f"Run {older.id}"
    (reason,) = [plain(m.value) for m in at.markdown if " — " in m.value]
    assert "run number 0" in reason and "waiting for a human: 1 pending approval" in reason


def test_the_refresh_reads_the_same_few_queries_for_5_or_50_runs(store):
    """No query per run: the statements one refresh sends do not grow with the active runs."""

    def statements_per_rerun(active: int) -> int:
        for _ in range(active - len(storage.list_runs(store, status="running", limit=100))):
            make_run(store, "running")
        at = app_at(LIVE)
        seen: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            seen.append(statement)

        engines = {get_store().engine, get_store().reader}
        for engine in engines:
            event.listen(engine, "before_cursor_execute", count)
        try:
            at.run()
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", count)
        assert not at.exception
        assert f"{active} active runs" in _captions(at)
        assert any("FROM runs" in sql and "JOIN" in sql for sql in seen)  # the board's one read
        return len(seen)

    assert statements_per_rerun(5) == statements_per_rerun(50)


def test_a_calm_board_refreshes_slower_and_a_running_run_brings_the_fast_timer_back(store):
    """Only people move runs that wait or are paused: their board refreshes every 3 s; once a
    run is running (or queued) again the page is back on the 1.5 s timer."""
    waiting = make_run(store, "waiting")
    make_run(store, "paused")
    at = app_at(LIVE)
    assert "refreshes every 3 s" in _captions(at)
    storage.update_run(store, run_id=waiting.id, status="running")
    at.run()
    assert "refreshes every 1.5 s" in _captions(at)
