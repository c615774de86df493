"""The History page: filters and pages done by the database, links to runs, and the JSONL export."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

import storage
from dashboard.components.run_export import export_jsonl, export_lines
from dashboard.components.status import STATUS_COLORS, TEXT_COLORS
from tests.support import dashboard_seed as seed

pytestmark = pytest.mark.store_for("page")  # a page run on its own by AppTest reads this store


def history() -> AppTest:
    at = AppTest.from_file(str(seed.PAGES / "history.py"), default_timeout=30)
    at.run()
    assert not at.exception
    return at


def shown_ids(at: AppTest) -> list[str]:
    return [link.removeprefix("./?run=") for link in at.dataframe[0].value["Run"]]


def test_empty_store_says_how_to_start(store):
    at = history()
    assert "No runs yet" in at.info[0].value
    assert "Launch page" in at.info[0].value
    assert not at.dataframe


def test_runs_in_every_status_are_listed_newest_first_with_links(store):
    runs = seed.runs_in_every_status(store)
    at = history()
    table = at.dataframe[0].value
    expected = [r.id for r in sorted(runs.values(), key=lambda r: r.created_at, reverse=True)]
    assert shown_ids(at) == expected
    assert list(table["Status"]) == [runs_by_id(runs)[i].status for i in expected]
    assert set(table["Goal"]) == {r.goal for r in runs.values()}
    assert any("Runs 1–9 of 9" in c.value for c in at.caption)


def runs_by_id(runs: dict[str, storage.Run]) -> dict[str, storage.Run]:
    return {r.id: r for r in runs.values()}


def test_status_filter(store):
    runs = seed.runs_in_every_status(store)
    at = history()
    at.multiselect(key="history-status").select("failed").select("halted").run()
    assert set(shown_ids(at)) == {runs["failed"].id, runs["halted"].id}


def test_model_filter_matches_the_provider_or_the_model_name(store):
    demo = seed.make_run(store, goal="offline", model="demo", model_name="demo")
    gpt = seed.make_run(store, goal="online", model="openai", model_name="gpt-4o-mini")
    at = history()
    assert at.multiselect(key="history-model").options == ["demo", "gpt-4o-mini", "openai"]
    at.multiselect(key="history-model").select("gpt-4o-mini").run()
    assert shown_ids(at) == [gpt.id]
    at.multiselect(key="history-model").unselect("gpt-4o-mini").select("demo").run()
    assert shown_ids(at) == [demo.id]


def test_goal_search_is_a_case_insensitive_substring(store):
    invoices = seed.make_run(store, goal="Total the INVOICES and write total.txt")
    seed.make_run(store, goal="Tidy the workspace")
    at = history()
    at.text_input(key="history-search").input("invoices").run()
    assert shown_ids(at) == [invoices.id]
    at.text_input(key="history-search").input("100%_sure").run()
    assert "No runs match these filters" in at.info[0].value


def test_date_range_is_inclusive_of_both_days(store):
    day = datetime(2025, 3, 10, 12, 0)
    before = seed.make_run(store, goal="before", created_at=day - timedelta(days=2))
    first = seed.make_run(store, goal="first day", created_at=day.replace(hour=0, minute=0))
    last = seed.make_run(store, goal="last day", created_at=day + timedelta(days=1, hours=11))
    after = seed.make_run(store, goal="after", created_at=day + timedelta(days=2))
    at = history()
    at.date_input(key="history-dates").set_value((date(2025, 3, 10), date(2025, 3, 11))).run()
    assert shown_ids(at) == [last.id, first.id]
    at.date_input(key="history-dates").set_value((date(2025, 3, 12),)).run()  # open end
    assert shown_ids(at) == [after.id]
    assert before.id not in shown_ids(at)


def test_pages_of_fifty_cover_every_run_once(store):
    start = datetime(2025, 1, 1)
    runs = [seed.make_run(store, created_at=start + timedelta(minutes=i)) for i in range(120)]
    newest_first = [r.id for r in reversed(runs)]
    at = history()
    assert shown_ids(at) == newest_first[:50]
    at.number_input(key="history-page").set_value(3).run()
    assert shown_ids(at) == newest_first[100:]
    assert any("Runs 101–120 of 120 · page 3/3" in c.value for c in at.caption)
    at.number_input(key="history-page").set_value(2).run()
    assert shown_ids(at) == newest_first[50:100]


def test_changing_a_filter_goes_back_to_page_one(store):
    start = datetime(2025, 1, 1)
    for i in range(60):
        seed.make_run(store, status="failed" if i % 2 else "succeeded",
                      created_at=start + timedelta(minutes=i))  # fmt: skip
    at = history()
    at.number_input(key="history-page").set_value(2).run()
    at.multiselect(key="history-status").select("failed").run()
    assert at.number_input(key="history-page").value == 1
    assert len(shown_ids(at)) == 30


def test_the_export_button_is_there_and_warns_when_capped(store, monkeypatch):
    seed.runs_in_every_status(store)
    at = history()
    (button,) = at.download_button
    assert button.label == "Download 9 runs as JSONL"
    monkeypatch.setattr("dashboard.components.run_export.EXPORT_MAX_RUNS", 5)
    at = history()
    assert at.download_button[0].label == "Download 5 runs as JSONL"
    assert any("Only the newest 5 of the 9" in w.value for w in at.warning)


def test_export_is_jsonl_with_every_event_of_the_filtered_runs(store):
    runs = seed.runs_in_every_status(store)
    lines = export_jsonl(store, filters={"status": ["waiting", "failed"]}).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == [runs["failed"].id, runs["waiting"].id]
    for record in records:
        stored = storage.events_after(store, run_id=record["id"])
        assert [(e["seq"], e["kind"], e["payload"]) for e in record["events"]] == [
            (e.seq, e.kind, e.payload) for e in stored
        ]
        assert record["status"] in ("waiting", "failed")
        assert record["goal"] == runs[record["status"]].goal
        datetime.fromisoformat(record["created_at"])
    assert [e["kind"] for e in records[1]["events"]][-1] == "approval_requested"


def test_export_reads_in_batches_caps_and_skips_runs_created_after_it_began(store, monkeypatch):
    monkeypatch.setattr("dashboard.components.run_export.RUN_BATCH", 3)
    monkeypatch.setattr("dashboard.components.run_export.EVENT_BATCH", 2)
    start = datetime(2025, 1, 1)
    runs = [seed.make_run(store, created_at=start + timedelta(minutes=i)) for i in range(10)]
    for run in runs:
        seed.add_events(
            store, run, [("guidance", {"message": f"m{i}", "by": "t"}) for i in range(4)]
        )
    began = start + timedelta(minutes=8)  # runs 8 and 9 came later
    records = [json.loads(x) for x in export_lines(store, filters={}, max_runs=7, now=began)]
    assert [r["id"] for r in records] == [r.id for r in reversed(runs[:8])][:7]
    assert all(len(r["events"]) == 5 for r in records)  # "queued" status + 4 guidance
    assert all([e["seq"] for e in r["events"]] == [1, 2, 3, 4, 5] for r in records)


def test_history_renders_inside_the_routed_app(store):
    seed.runs_in_every_status(store)
    at = AppTest.from_file(str(seed.PAGES.parent / "app.py"), default_timeout=30)
    at.run()
    at.switch_page("views/history.py").run()
    assert not at.exception
    assert len(shown_ids(at)) == 9


def test_each_status_is_drawn_in_its_badge_colour(store):
    runs = seed.runs_in_every_status(store)
    at = history()
    styles = at.dataframe[0].proto.arrow_data.styler.styles
    statuses = list(at.dataframe[0].value["Status"])
    for status in ("failed", "succeeded", "waiting", "paused"):
        row = statuses.index(status)
        colour = TEXT_COLORS[STATUS_COLORS[status]]
        assert re.search(rf"row{row}_col1[^{{]*{{ color: {colour}", styles), (status, styles)
    assert len(set(STATUS_COLORS[s] for s in runs)) >= 6  # the colours tell statuses apart
