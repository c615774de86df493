"""The Run page's step feed: pages read in SQL, the live tail under concurrent appends, the shared
pulse, and paging, filtering and jumping on the page (AppTest)."""

from __future__ import annotations

import re
import threading

import pytest

import storage
from dashboard.components import event_feed, run_pulse
from dashboard.components.event_feed import FOLD_AFTER, PAGE_SIZE, FeedView, advance, load_page
from dashboard.routes import RUN_PAGE
from storage.feed import KIND_GROUPS, count_events, event_page, step_start
from storage.feed import run_pulse as read_pulse
from tests.support.dashboard_fixtures import add_events, app_at, make_run, open_store

SEQ = re.compile(r"^#(\d+) · ")


def steps_of(run_id: str, n: int) -> list[tuple[str, dict]]:
    """n model steps, each a request, a call, a tool call and its result."""
    events: list[tuple[str, dict]] = []
    for step in range(1, n + 1):
        events += [
            ("model_request", {"step": step}),
            ("model_call", {"step": step, "text": f"step {step}", "tokens_in": 1}),
            ("tool_call", {"tool": "read_file", "arguments": {}, "verdict": "allow"}),
            ("tool_result", {"tool": "read_file", "ok": True, "output": "x"}),
        ]
    return events


def seqs(events) -> list[int]:
    return [e.seq for e in events]


def test_pages_walk_the_run_in_both_directions_and_filter_in_sql(any_store):
    store = any_store
    run = storage.create_run(store, goal="g")
    add_events(store, run.id, steps_of(run.id, 30))  # 121 events with the status event
    assert seqs(event_page(store, run_id=run.id, n=10)) == list(range(112, 122))
    assert seqs(event_page(store, run_id=run.id, direction="before", seq=112, n=10)) == list(
        range(102, 112)
    )
    assert seqs(event_page(store, run_id=run.id, direction="after", seq=115, n=10)) == list(
        range(116, 122)
    )
    assert seqs(event_page(store, run_id=run.id, direction="from", seq=5, n=3)) == [5, 6, 7]
    tools = event_page(store, run_id=run.id, n=4, kinds=KIND_GROUPS["tool calls"])
    assert [e.kind for e in tools] == ["tool_call", "tool_result"] * 2
    assert seqs(tools) == [116, 117, 120, 121]
    assert count_events(store, run_id=run.id) == 121
    assert count_events(store, run_id=run.id, kinds=KIND_GROUPS["tool calls"]) == 60
    assert step_start(store, run_id=run.id, step=7) == 2 + 6 * 4  # its model_request
    assert step_start(store, run_id=run.id, step=31) is None
    assert read_pulse(store, run_id=run.id) == storage.feed.RunPulse("queued", 121)
    assert read_pulse(store, run_id="nosuchrun") is None


def test_the_tail_shows_every_event_once_in_order_under_concurrent_appends(store):
    """A writer appends while the page refreshes and folds: what is on screen (the page, then
    its tail) is always contiguous, and in the end ends with the last event."""
    run = storage.create_run(store, goal="g")
    add_events(store, run.id, steps_of(run.id, 5))
    page, tail = load_page(store, run.id, FeedView())
    assert tail is not None
    written = threading.Event()

    def writer() -> None:
        for kind, payload in steps_of(run.id, 60):  # 240 events in small bursts
            storage.append_event(store, run_id=run.id, kind=kind, payload=payload)
        written.set()

    thread = threading.Thread(target=writer)
    thread.start()
    folds = grew = 0
    last_look = False
    while True:
        if written.is_set() and not last_look:
            last_look = True
            run_pulse._pulses.clear()  # a shared pulse may be up to PULSE_TTL old: look again
        change = advance(store, run.id, tail)
        if change == "rerun":
            folds += 1
            page, tail = load_page(store, run.id, FeedView())  # what st.rerun() does
        grew += change == "grew"
        screen = seqs(page) + seqs(tail.events)
        assert screen == list(range(screen[0], screen[0] + len(screen)))  # no gap, no repeat
        assert len(page) <= PAGE_SIZE and len(tail.events) <= FOLD_AFTER
        if last_look and change == "same":
            break
    thread.join()
    total = 1 + 5 * 4 + 60 * 4
    assert screen[-1] == total
    assert folds >= 1


def test_an_idle_refresh_reads_no_events_and_a_status_change_reruns_the_page(store, monkeypatch):
    run = storage.create_run(store, goal="g")
    page, tail = load_page(store, run.id, FeedView())
    reads = []
    real = event_feed.event_page
    monkeypatch.setattr(event_feed, "event_page", lambda *a, **k: reads.append(k) or real(*a, **k))
    assert [advance(store, run.id, tail) for _ in range(5)] == ["same"] * 5
    assert reads == []
    storage.append_event(store, run_id=run.id, kind="guidance", payload={"message": "hi"})
    run_pulse._pulses.clear()  # the next look is after the shared pulse's lifetime
    assert advance(store, run.id, tail) == "grew"
    assert seqs(tail.events) == [2] and len(reads) == 1
    storage.update_run(store, run_id=run.id, status="running")
    run_pulse._pulses.clear()
    assert advance(store, run.id, tail) == "rerun"


def test_an_older_page_follows_nothing_but_the_status(store):
    run = storage.create_run(store, goal="g")
    add_events(store, run.id, steps_of(run.id, 40))
    page, tail = load_page(store, run.id, FeedView(direction="before", seq=50))
    assert seqs(page) == list(range(1, 50)) and tail is not None and not tail.follow
    add_events(store, run.id, steps_of(run.id, 1))
    run_pulse._pulses.clear()
    assert advance(store, run.id, tail) == "same" and tail.events == []


def test_ten_pages_on_one_run_share_one_pulse_read(store, monkeypatch):
    run = storage.create_run(store, goal="g")
    clock = [1000.0]
    monkeypatch.setattr(run_pulse.time, "monotonic", lambda: clock[0])
    run_pulse._pulses.clear()
    tails = [load_page(store, run.id, FeedView())[1] for _ in range(10)]
    reads = []
    real = run_pulse.run_pulse
    monkeypatch.setattr(run_pulse, "run_pulse", lambda s, **k: reads.append(k) or real(s, **k))
    clock[0] += 0.1
    assert {advance(store, run.id, t) for t in tails} == {"same"}
    assert reads == []  # the pulse the pages were drawn from is still fresh
    clock[0] += run_pulse.PULSE_TTL
    assert {advance(store, run.id, t) for t in tails} == {"same"}
    assert len(reads) == 1


@pytest.fixture
def page_store(tmp_path, monkeypatch):
    yield from open_store(tmp_path, monkeypatch)


def shown_seqs(at) -> list[int]:
    return [int(m.group(1)) for c in at.caption if (m := SEQ.match(c.value))]


def test_paging_back_replaces_the_page_and_newer_returns_to_the_live_page(page_store):
    run = make_run(page_store, "running")
    add_events(page_store, run.id, steps_of(run.id, 100))  # 400 more events
    total = storage.get_run(page_store, run_id=run.id).last_seq
    at = app_at(RUN_PAGE, query={"run": run.id})
    assert shown_seqs(at) == list(range(total - 99, total + 1))
    for back in range(1, 4):
        at.button(key=f"run_page_older_{run.id}").click().run()
        first = total - 99 - 100 * back
        assert shown_seqs(at) == list(range(first, first + 100))  # one page, never more
    assert f"run_tail_{run.id}" in at.session_state
    assert not at.session_state[f"run_tail_{run.id}"].follow
    at.button(key=f"run_page_newer_{run.id}").click().run()
    assert shown_seqs(at)[0] == total - 299
    at.button(key=f"run_page_newest_{run.id}").click().run()
    assert shown_seqs(at) == list(range(total - 99, total + 1))
    assert at.button(key=f"run_page_newer_{run.id}").disabled
    assert not at.exception


def test_the_filter_shows_only_that_kind_and_says_how_many(page_store):
    run = make_run(page_store, "succeeded")
    add_events(page_store, run.id, steps_of(run.id, 3))
    add_events(page_store, run.id, [("error", {"where": "tool", "message": "boom"})])
    at = app_at(RUN_PAGE, query={"run": run.id})
    at.selectbox(key=f"run_show_{run.id}").select("errors").run()
    assert [e.value for e in at.error] == ["boom"]
    assert len(shown_seqs(at)) == 1
    assert any("1 errors events in the run" in c.value for c in at.caption)
    at.selectbox(key=f"run_show_{run.id}").select("tool calls").run()
    assert len(shown_seqs(at)) == 6 and not at.error


def test_jump_to_a_step_opens_the_page_it_starts_on_or_says_it_has_none(page_store):
    run = make_run(page_store, "running")  # two steps counted, none recorded as events
    at = app_at(RUN_PAGE, query={"run": run.id})
    at.button(key=f"run_jump_go_{run.id}").click().run()
    assert at.error[0].value == "This run has no model step 1: it has steps 1 to 2."
    add_events(page_store, run.id, steps_of(run.id, 60))
    storage.update_run(page_store, run_id=run.id, steps=60)
    at.run()
    at.number_input(key=f"run_jump_step_{run.id}").set_value(7)
    at.button(key=f"run_jump_go_{run.id}").click().run()
    start = step_start(page_store, run_id=run.id, step=7)
    assert shown_seqs(at) == list(range(start, start + PAGE_SIZE))
    assert not at.error
