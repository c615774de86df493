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
from dashboard.components.run_controls import render_controls
from dashboard.components.run_link import page_link
from dashboard.components.status import (
    AUTONOMY_HELP,
    format_cost,
    format_duration,
    format_tokens,
    model_label,
    never_backwards,
    status_badge,
    working_seconds,
)
from dashboard.routes import LAUNCH_PAGE
from dashboard.store import get_store

# How often the live part refreshes. Each refresh costs the server a Streamlit fragment rerun
# (the pulse itself is a shared look-up, components/run_pulse.py): a running run's steps need
# the fast one; a queued, waiting or paused run changes only when a worker or a person acts.
REFRESH_SECONDS = 0.5
IDLE_REFRESH_SECONDS = 2.0


def run_selector(store: storage.Store) -> None:
    runs = storage.list_runs(store, limit=100)
    if not runs:
        st.info("No runs yet — launch one on the Launch page.", icon=":material/info:")
        page_link(LAUNCH_PAGE, label="Go to Launch")
        return
    labels = {
        r.id: f"{r.id} · {r.status} · {' '.join(inert.visible(r.goal).split())[:80]}" for r in runs
    }
    choice = st.selectbox(
        "Open a run",
        list(labels),
        index=None,
        format_func=labels.__getitem__,
        key="run_pick",
        placeholder="Pick one of the 100 newest runs",
    )
    if choice:
        st.query_params["run"] = choice
        st.rerun()


def header(run: storage.Run) -> None:
    st.title(f"Run {run.id}")
    with st.container(border=True, key=f"run_goal_{run.id}"):
        st.caption("Goal")
        st.text(inert.visible(run.goal))
    parent = f" · re-run of {run.parent_run_id}" if run.parent_run_id else ""
    if run.policy:  # the policy it runs under, stored when a worker started it
        rules = len(run.policy.get("rules") or [])
        noun = "rule" if rules == 1 else "rules"
        parent += (
            f" · policy: {inert.markdown(str(run.policy.get('source', '?')))} ({rules} {noun})"
        )
    st.caption(
        f"{inert.markdown(model_label(run.model, run.model_name))} · autonomy {run.autonomy} "
        f"({AUTONOMY_HELP.get(run.autonomy, '')}) · launched by {inert.person(run.created_by or '?')} "
        f"at {run.created_at:%Y-%m-%d %H:%M} UTC{parent}"
    )
    st.caption(workspace_caption(run))
    if ((run.policy or {}).get("sandbox") or {}).get("unconfined_shell"):
        st.warning(
            "This run's shell is UNCONFINED: its policy opts out of the sandbox "
            "([sandbox] unconfined_shell = true), so commands can read and write whatever the "
            "worker's user can, and use the network.",
            icon=":material/gpp_maybe:",
        )


def workspace_caption(run: storage.Run) -> str:
    """Where the run's tools read and write, said so that nobody mistakes a copy for the original."""
    where = inert.markdown(run.workspace or "?")
    if run.seed_from:
        return (
            f":material/folder_copy: Workspace {where}, a copy of {inert.markdown(run.seed_from)}"
        )
    if run.own_workspace:
        return f":material/folder_open: Workspace {where} (your folder: the run works in it)"
    return f":material/folder: Workspace {where}"


def budget(run: storage.Run, approvals: list | None = None) -> None:
    """Status and how much of each budget is spent."""
    badge, reason = st.columns([1, 3], vertical_alignment="center")
    with badge:
        status_badge(run.status)
    if run.reason:
        reason.text(inert.visible(run.reason))
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


live_steps_fragment = st.fragment(run_every=REFRESH_SECONDS)(live_steps)


@st.fragment(run_every=IDLE_REFRESH_SECONDS)
def idle_steps_fragment(store: storage.Store, run_id: str, budget_slot: DeltaGenerator) -> None:
    """live_steps for a run that is not running: its own fragment, so its own timer."""
    live_steps(store, run_id, budget_slot)


def steps(store: storage.Store, run: storage.Run, budget_slot: DeltaGenerator) -> None:
    """One page of the run's events, drawn once; for an active run, the live part under it."""
    st.subheader("Steps")
    view = view_of(run.id)
    render_feed_controls(store, run, view)
    events, tail = load_page(store, run.id, view)
    render_pager(store, run, view, events)
    if not events and view.show == ALL and tail is not None and tail.follow:
        st.info("No steps yet: a worker picks queued runs up (`onloop up` or `onloop worker`).")
    render_events(events)
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
    st.subheader("Timeline")
    charts(run.id, events)


def main() -> None:
    store = get_store()
    wanted = st.query_params.get("run")
    if not wanted:
        st.title("Run")
        run_selector(store)
        return
    try:
        run = storage.get_run(store, run_id=wanted)
    except storage.NotFound:
        st.title("Run")
        st.error(
            f"No run with id {inert.markdown(wanted)}. Pick one below, or find it on the History page."
        )
        run_selector(store)
        return
    header(run)
    render_controls(store, run)
    approvals = storage.pending_approvals(store, run_id=run.id)
    if approvals:
        st.subheader("Waiting for you")
    render_decision_notices(key_prefix=f"run-{run.id}")
    for approval in approvals:
        render_approval_card(store, approval, key_prefix=f"run-{run.id}")
    render_allowances(store, run)
    problem = st.session_state.pop(f"run_allowance_error_{run.id}", None)
    if problem:
        st.error(inert.markdown(problem))
    budget_slot = st.container(key=f"run_budget_{run.id}")
    steps(store, run, budget_slot)
    render_audit(store, run.id)
    render_notify_deliveries(store, run.id)
    render_steering(store, run)


main()
