"""A running run's held refresh (dashboard/components/live_hold.py), in AppTest.

The hold waits on a clock and a sleep that the tests replace: each "sleep" is where the world
moves (events appended, the status changed, an approval requested, a click arriving), so every
test is deterministic and none measures time.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import storage
from dashboard.components import live_hold, run_pulse
from dashboard.components.shared_reads import SHARED
from dashboard.routes import RUN_PAGE
from tests.support.dashboard_fixtures import TIMEOUT, app_at, make_run, request_approval

pytestmark = pytest.mark.store_for("dashboard")  # the routed app (AppTest) reads this store


def held_page(url: str, run_id: str) -> None:
    """A page that draws the newest events, then holds: the Run page's live part, stripped."""
    import streamlit as st

    import storage
    from dashboard.components.event_feed import FeedView, load_page, render_events
    from dashboard.components.live_hold import hold

    st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    store = storage.open_store(url)
    events, tail = load_page(store, run_id, FeedView())
    assert tail is not None
    render_events(events)
    box = st.container()
    status = st.empty()

    def draw_events(fresh: list[storage.EventRecord]) -> None:
        with box:
            render_events(fresh)

    def draw_status(moved: bool) -> None:
        st.session_state.setdefault("budgets", []).append(moved)
        status.caption(f"budget drawn, moved={moved}")

    hold(
        store,
        run_id,
        tail,
        draw_events=draw_events,
        draw_status=draw_status,
        draw_turn=lambda: None,
    )
    st.caption("the hold ended")


class World:
    """The replaced clock and sleep: sleep k (from 1) runs what `at` says for k, then time
    moves by one poll. Shared reads are forgotten each time, as real time would expire them."""

    def __init__(self, store: storage.Store, at: dict[int, Callable[[], None]]) -> None:
        self.store, self.at, self.now, self.sleeps = store, at, 0.0, 0
        self.polls: list[int] = []  # per sleep: which run of the page it was in (1, 2, ...)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.polls.append(st.session_state["runs"])
        if self.sleeps in self.at:
            self.at[self.sleeps]()
        self.now += seconds
        run_pulse._pulses.clear()
        SHARED.forget(self.store)


def run_held(store, monkeypatch, run_id: str, at: dict[int, Callable[[], None]]) -> tuple:
    world = World(store, at)
    monkeypatch.setattr(live_hold, "clock", world.clock)
    monkeypatch.setattr(live_hold, "sleep", world.sleep)
    app = AppTest.from_function(held_page, args=(store.url, run_id), default_timeout=TIMEOUT)
    app.run()
    assert not app.exception
    return app, world


def captions(app) -> list[str]:
    return [c.value for c in app.caption]


def shown_messages(app) -> list[str]:
    return [t.value for t in app.text if t.value.startswith("m")]


def guidance(store, run_id: str, *messages: str) -> Callable[[], None]:
    def append() -> None:
        for message in messages:
            storage.append_event(
                store, run_id=run_id, kind="guidance", payload={"message": message}
            )

    return append


def test_a_held_refresh_appends_what_arrives_each_once_in_order(store, monkeypatch):
    run = make_run(store, "running")
    before = storage.get_run(store, run_id=run.id).last_seq
    app, world = run_held(
        store,
        monkeypatch,
        run.id,
        {2: guidance(store, run.id, "m1", "m2"), 5: guidance(store, run.id, "m3"), 6: lambda: None},
    )
    seqs = [int(c.split(" ")[0][1:]) for c in captions(app) if c.startswith("#")]
    assert seqs == list(range(1, before + 4))  # the page, then three arrivals: once, in order
    assert app.session_state["budgets"].count(True) == 2  # once per batch that arrived
    assert captions(app)[-1] == "the hold ended"
    assert world.now >= live_hold.HOLD_SECONDS  # held to the end: nothing cut it short
    assert app.session_state["runs"] == 1  # no rerun: nothing changed the controls


def test_a_quiet_hold_redraws_only_the_budget_clock(store, monkeypatch):
    run = make_run(store, "running")
    app, world = run_held(store, monkeypatch, run.id, {})
    budgets = app.session_state["budgets"]
    assert budgets and not any(budgets)  # its clock ticks; nothing else moved it
    assert len(budgets) < world.sleeps / 10  # every few seconds, never on every poll
    assert captions(app)[-1] == "the hold ended"


def test_a_status_change_ends_the_hold_with_a_full_rerun(store, monkeypatch):
    run = make_run(store, "running")

    def pause() -> None:
        storage.update_run(store, run_id=run.id, status="paused", reason="paused by a test")

    app, _ = run_held(store, monkeypatch, run.id, {3: pause})
    assert app.session_state["runs"] == 2  # the page was drawn again, for the paused run


def test_a_new_approval_request_ends_the_hold_so_the_sidebar_count_follows(store, monkeypatch):
    run, other = make_run(store, "running"), make_run(store, "running")
    # The other run's request: this page's steps do not change, the sidebar's count does.
    app, world = run_held(
        store, monkeypatch, run.id, {3: lambda: request_approval(store, other.id)}
    )
    assert world.sleeps == 3  # ended right after the poll that saw the count move
    assert captions(app)[-1] == "the hold ended"
    assert app.session_state["runs"] == 1


def test_a_click_while_held_takes_over_at_the_next_poll(store, monkeypatch):
    """What a click sends while a refresh is held: a rerun request. The hold draws nothing while
    nothing moves, so it must give Streamlit a yield point on every poll."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

    run = make_run(store, "running")

    def click() -> None:
        if world.sleeps == 4:  # once: the rerun it asks for holds again, to the end
            ctx = get_script_run_ctx()
            assert ctx is not None and ctx.script_requests is not None
            ctx.script_requests.request_rerun(RerunData(query_string=""))

    world = World(store, {4: click})
    monkeypatch.setattr(live_hold, "clock", world.clock)
    monkeypatch.setattr(live_hold, "sleep", world.sleep)
    app = AppTest.from_function(held_page, args=(store.url, run.id), default_timeout=TIMEOUT)
    app.run()
    assert not app.exception
    assert world.polls.count(1) == 4  # the click's rerun took over at the poll after it came
    assert app.session_state["runs"] == 2 and world.now >= live_hold.HOLD_SECONDS


def test_the_full_page_never_holds_only_its_later_refreshes_do(store, monkeypatch):
    """Drawn as part of the full page, the live part must return at once: the timeline, audit and
    steering below it are still to be drawn."""
    held: list[str] = []
    monkeypatch.setattr(live_hold, "hold", lambda store, run_id, *a, **k: held.append(run_id))
    run = make_run(store, "running")
    app = app_at(RUN_PAGE, query={"run": run.id})
    assert not app.exception and held == []
    assert "Timeline" in [s.value for s in app.header]  # what comes after it was drawn


def turn_page(url: str, run_id: str, updates: int) -> None:
    import streamlit as st

    import storage
    from dashboard.components.live_tail import TurnSlot

    store = storage.open_store(url)
    slot = TurnSlot(st.empty())
    for _ in range(updates):
        slot.update(store, run_id, recorded_steps=2)


def test_the_streamed_turn_is_redrawn_only_when_it_changes(store, monkeypatch):
    from dashboard.components import live_tail

    drawn: list[str] = []
    real = live_tail.draw_turn
    monkeypatch.setattr(live_tail, "draw_turn", lambda p: (drawn.append(p.text), real(p)))
    run = make_run(store, "running")  # two steps recorded
    storage.set_live_output(store, run_id=run.id, step=3, text="Reading plan.md")
    app = AppTest.from_function(turn_page, args=(store.url, run.id, 3), default_timeout=TIMEOUT)
    app.run()
    assert not app.exception
    assert drawn == ["Reading plan.md"]  # three reads, one drawing
    assert [t.value for t in app.text] == ["Reading plan.md"]
