"""Run (?run=ID): one run's header, budget, controls, pending approvals, steps and charts.

A full run of the page draws one page of steps (components/event_feed.py: the newest 100, an older
page, the page a model step starts on, or only some kinds), each one indexed read however long the
run is. For an active run a fragment refreshes every REFRESH_SECONDS (IDLE_REFRESH_SECONDS while
the run is queued, waiting or paused, when only a worker or a person can move it): it asks the
pulse shared by every open page (components/run_pulse.py) whether the run moved, and draws only
the budget and the steps that arrived since the page was drawn, plus the turn being streamed. A
running run's refresh then stays open for a while (components/live_hold.py) and appends each step
as it arrives, so the browser pays for one rerun per hold instead of two a second. When the run's
status changes, an approval comes or goes, or the tail grows past a bound, it reruns the whole
page once, so the controls and approval cards always fit the run and the page stays small.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import storage
from agent_core.oversight import inert
from dashboard.components.allowances import render_allowances
from dashboard.components.approval_card import render_approval_card, render_decision_notices
from dashboard.components.audit import render_audit, render_steering
from dashboard.components.charts import render_run_charts
from dashboard.components.event_feed import (
    ALL,
    Tail,
    advance,
    load_page,
    render_events,
    render_feed_controls,
    render_pager,
    view_of,
)
from dashboard.components.live_hold import hold
from dashboard.components.live_tail import TurnSlot
from dashboard.components.notify_deliveries import render_notify_deliveries
from dashboard.components.refreshing import refreshing
from dashboard.components.run_changes import render_changes
from dashboard.components.run_controls import render_controls
from dashboard.components.run_header import describe, run_selector
from dashboard.components.run_pulse import fresh_pulse
from dashboard.components.run_state import final_answer, render_state
from dashboard.components.status import (
    format_cost,
    format_duration,
    format_tokens,
    never_backwards,
    working_seconds,
)
from dashboard.store import get_store

# How often the live part refreshes. Each refresh costs the server a Streamlit fragment rerun
# (the pulse itself is a shared look-up, components/run_pulse.py): a running run's steps need
# the fast one; a queued, waiting or paused run changes only when a worker or a person acts.
REFRESH_SECONDS = 0.5
IDLE_REFRESH_SECONDS = 2.0


def budget(run: storage.Run, approvals: list | None = None) -> None:
    """How much of each budget is spent (the status and its reason are at the top of the page)."""
    spent = never_backwards(f"run_time_shown_{run.id}", working_seconds(run, approvals or []))
    bars = [
        (run.steps / run.max_steps, f"steps {run.steps} / {run.max_steps}"),
        (
            spent / run.max_seconds if run.max_seconds else 0.0,
            f"time {format_duration(spent)} / {format_duration(run.max_seconds)}",
        ),
    ]
    tokens = run.tokens_in + run.tokens_out
    if run.max_tokens:
        bars.append(
            (
                tokens / run.max_tokens,
                f"tokens {format_tokens(tokens)} / {format_tokens(run.max_tokens)}",
            )
        )
    if run.max_cost_usd:
        bars.append(
            (
                run.cost_usd / run.max_cost_usd,
                f"cost {format_cost(run.cost_usd)} / {format_cost(run.max_cost_usd)}",
            )
        )
    for column, (share, label) in zip(st.columns(len(bars)), bars, strict=True):
        column.progress(min(1.0, max(0.0, share)), text=label)
    st.caption(
        f"{run.tool_calls} tool calls · {format_tokens(tokens)} tokens · "
        f"{format_cost(run.cost_usd)}"
    )


def charts(run_id: str, events: list[storage.EventRecord]) -> None:
    if events:
        st.caption(
            f"The charts cover the events on this page (#{events[0].seq}–#{events[-1].seq}); "
            "page back to see earlier ones."
        )
    render_run_charts(events, now=storage.utcnow(), key=f"run_charts_{run_id}")


def _snapshot_key(run_id: str) -> str:
    return f"run_snapshot_{run_id}"


def _inline_key(run_id: str) -> str:
    return f"run_live_inline_{run_id}"


def live_steps(store: storage.Store, run_id: str, budget_slot: DeltaGenerator) -> None:
    """The refreshing part: the budget and the steps that arrived since the page was drawn.

    Drawn once as part of the full page; each later refresh of a running run then stays open
    (components/live_hold.py) and appends what arrives as it arrives.
    """
    tail: Tail = st.session_state[f"run_tail_{run_id}"]
    run, asked = st.session_state[_snapshot_key(run_id)]
    change = advance(store, run_id, tail)
    if change == "rerun":
        st.rerun()  # fold the tail into a new page, with controls that fit the run
    if change == "grew":
        run = storage.get_run(store, run_id=run_id)  # its counters moved with the new steps
        st.session_state[_snapshot_key(run_id)] = (run, asked)
    status = budget_slot.empty()
    with status.container():
        budget(run, asked)
    events = st.container()
    with events:
        render_events(tail.events)
    turn = TurnSlot(st.empty())
    live = tail.follow and run.status == "running"
    if live:
        turn.update(store, run_id, run.steps)
    if st.session_state.pop(_inline_key(run_id), False) or not live:
        return  # part of a full run: the rest of the page is still to be drawn

    def draw_events(fresh: list[storage.EventRecord]) -> None:
        with events:
            render_events(fresh)

    def draw_status(moved: bool) -> None:
        nonlocal run
        if moved:
            run = storage.get_run(store, run_id=run_id)
            st.session_state[_snapshot_key(run_id)] = (run, asked)
        with status.container():
            budget(run, asked)

    hold(
        store,
        run_id,
        tail,
        draw_events=draw_events,
        draw_status=draw_status,
        draw_turn=lambda: turn.update(store, run_id, run.steps),
    )


live_steps_fragment = refreshing(REFRESH_SECONDS, key="run-live")(live_steps)


@refreshing(IDLE_REFRESH_SECONDS, key="run-idle")
def idle_steps_fragment(store: storage.Store, run_id: str, budget_slot: DeltaGenerator) -> None:
    """live_steps for a run that is not running: its own fragment, so its own timer."""
    live_steps(store, run_id, budget_slot)


def steps(
    store: storage.Store, run: storage.Run, budget_slot: DeltaGenerator, answer: str | None
) -> None:
    """One page of the run's events, drawn once; for an active run, the live part under it."""
    view = view_of(run.id)
    render_feed_controls(store, run, view)
    events, tail = load_page(store, run.id, view)
    render_pager(store, run, view, events)
    if not events and view.show == ALL and tail is not None and tail.follow:
        st.info("No steps yet: a worker picks queued runs up (`onloop up` or `onloop worker`).")
    render_events(events, answer)
    asked = storage.decisions(store, run_id=run.id) + storage.pending_approvals(
        store, run_id=run.id
    )
    if run.status in storage.ACTIVE_STATUSES and tail is not None:
        st.session_state[f"run_tail_{run.id}"] = tail
        st.session_state[_snapshot_key(run.id)] = (run, asked)
        st.session_state[_inline_key(run.id)] = True
        running = tail.status == "running"
        (live_steps_fragment if running else idle_steps_fragment)(store, run.id, budget_slot)
    else:  # a finished run changes only when someone acts on it, which reruns the page
        with budget_slot:
            budget(run, asked)
    st.header("Timeline")
    charts(run.id, events)


VIEWS = {"steps": "Steps", "changes": "Changes"}


@refreshing(IDLE_REFRESH_SECONDS, key="run-watch")
def watch_status(store: storage.Store, run_id: str) -> None:
    """Under the Changes view of an active run: reruns the page when the run's status changes."""
    tail: Tail = st.session_state[f"run_watch_{run_id}"]
    if advance(store, run_id, tail) == "rerun":
        st.rerun()


def changes(store: storage.Store, run: storage.Run, budget_slot: DeltaGenerator) -> None:
    """The Changes view: what the run did to its workspace's files, with the budget above it."""
    asked = storage.decisions(store, run_id=run.id) + storage.pending_approvals(
        store, run_id=run.id
    )
    with budget_slot:
        budget(run, asked)
    st.button(
        "Refresh changes",
        key=f"run_changes_refresh_{run.id}",
        icon=":material/refresh:",
        help="Reads the run's newest tool calls and its workspace again.",
    )
    render_changes(store, run)
    if run.status in storage.ACTIVE_STATUSES:
        pulse, read_at = fresh_pulse(store, run.id)
        if pulse is not None:
            watch = Tail(pulse.last_seq, pulse.status, read_at, None, follow=False)
            st.session_state[f"run_watch_{run.id}"] = watch
            watch_status(store, run.id)


def main() -> None:
    store = get_store()
    wanted = st.query_params.get("run")
    if not wanted:
        st.title("Run")
        run_selector(store)
        return
    try:
        run = storage.get_run(store, run_id=wanted)
    except (storage.NotFound, storage.AmbiguousId) as missing:
        st.title("Run")
        said = (
            f"No run with id {inert.markdown(wanted)}"
            if isinstance(missing, storage.NotFound)
            else f"The run id {inert.markdown(wanted)} starts several runs' ids"
        )
        st.error(f"{said}. Pick one below, or find it on the History page.")
        run_selector(store)
        return
    st.title(f"Run {run.id}")
    approvals = storage.pending_approvals(store, run_id=run.id)
    answer = final_answer(store, run)
    render_state(store, run, approvals, answer)  # first: what state it is in and what to do
    render_controls(store, run)  # then the ways to act on it, then what it is
    describe(run)
    if approvals:
        st.header("Waiting for you")
    render_decision_notices(key_prefix=f"run-{run.id}")
    for approval in approvals:
        render_approval_card(store, approval, key_prefix=f"run-{run.id}")
    render_allowances(store, run)
    problem = st.session_state.pop(f"run_allowance_error_{run.id}", None)
    if problem:
        st.error(inert.markdown(problem))
    budget_slot = st.container(key=f"run_budget_{run.id}")
    shown = st.segmented_control(
        "Show",
        list(VIEWS),
        default="steps",
        required=True,
        format_func=VIEWS.__getitem__,
        key=f"run_view_pick_{run.id}",
        label_visibility="collapsed",
    )
    if shown == "changes":
        changes(store, run, budget_slot)
    else:
        steps(store, run, budget_slot, answer)
    render_audit(store, run.id)
    render_notify_deliveries(store, run.id)
    render_steering(store, run)


main()
