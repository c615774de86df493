"""Run (?run=ID): one run's header, budget, controls, pending approvals, steps and charts.

The steps refresh inside a fragment that reads only the newest events at first and then only the
events after the last one seen (components/event_feed.py), so a run with thousands of steps stays
fast.

While the model streams a turn, its output so far is drawn under the steps by a smaller fragment
that refreshes faster (components/live_tail.py), so tokens arrive without rerunning the page.

When the run's status or its pending approvals change, the fragment reruns the whole page, so the
controls and approval cards outside it always fit the run.
"""

from __future__ import annotations

import streamlit as st

import storage
from dashboard.components.approval_card import render_approval_card, render_decision_notices
from dashboard.components.audit import render_audit, render_steering
from dashboard.components.charts import render_run_charts
from dashboard.components.event_feed import Feed, load_feed, render_feed
from dashboard.components.events import inert, plain
from dashboard.components.live_tail import live_tail
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

REFRESH_SECONDS = 1.5
CHART_EVENTS = 5000  # the charts draw at most the newest this many loaded events


def run_selector(store: storage.Store) -> None:
    runs = storage.list_runs(store, limit=100)
    if not runs:
        st.info("No runs yet — launch one on the Launch page.", icon=":material/info:")
        page_link(LAUNCH_PAGE, label="Go to Launch")
        return
    labels = {r.id: f"{r.id} · {r.status} · {' '.join(plain(r.goal).split())[:80]}" for r in runs}
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
        st.text(plain(run.goal))
    parent = f" · re-run of {run.parent_run_id}" if run.parent_run_id else ""
    if run.policy:  # the policy it runs under, stored when a worker started it
        rules = len(run.policy.get("rules") or [])
        noun = "rule" if rules == 1 else "rules"
        parent += f" · policy: {inert(str(run.policy.get('source', '?')))} ({rules} {noun})"
    st.caption(
        f"{inert(model_label(run.model, run.model_name))} · autonomy {run.autonomy} "
        f"({AUTONOMY_HELP.get(run.autonomy, '')}) · launched by {inert(run.created_by or '?')} "
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
    where = inert(run.workspace or "?")
    if run.seed_from:
        return f":material/folder_copy: Workspace {where}, a copy of {inert(run.seed_from)}"
    if run.own_workspace:
        return f":material/folder_open: Workspace {where} (your folder: the run works in it)"
    return f":material/folder: Workspace {where}"


def budget(run: storage.Run, approvals: list | None = None) -> None:
    """Status and how much of each budget is spent."""
    badge, reason = st.columns([1, 3], vertical_alignment="center")
    with badge:
        status_badge(run.status)
    if run.reason:
        reason.text(run.reason)
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


def charts(run_id: str, feed: Feed) -> None:
    events = feed["events"][-CHART_EVENTS:]
    if events and events[0].seq > 1:
        st.caption(
            f"The charts cover events #{events[0].seq}–#{events[-1].seq}, the ones this page "
            "has loaded; show earlier events to extend them."
        )
    render_run_charts(events, now=storage.utcnow(), key=f"run_charts_{run_id}")


def run_view(store: storage.Store, run_id: str, drawn_as: tuple) -> None:
    """The part of the page that refreshes itself: budget, steps and charts."""
    run = storage.get_run(store, run_id=run_id)
    pending = tuple(a.id for a in storage.pending_approvals(store, run_id=run_id))
    if (run.status, pending) != drawn_as:
        st.rerun()  # the controls and approval cards outside this fragment no longer fit
    asked = storage.decisions(store, run_id=run_id) + storage.pending_approvals(
        store, run_id=run_id
    )
    budget(run, asked)
    feed = load_feed(store, run_id)
    st.subheader("Steps")
    render_feed(store, run_id, feed)
    if run.status == "running":
        live_tail(store, run_id, run.steps)
    st.subheader("Timeline")
    charts(run_id, feed)


live_run_view = st.fragment(run_every=REFRESH_SECONDS)(run_view)
still_run_view = st.fragment(run_view)  # a finished run changes only when someone acts on it


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
        st.error(f"No run with id {inert(wanted)}. Pick one below, or find it on the History page.")
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
    view = live_run_view if run.status in storage.ACTIVE_STATUSES else still_run_view
    view(store, run.id, (run.status, tuple(a.id for a in approvals)))
    render_audit(store, run.id)
    render_steering(store, run)


main()
