"""Live: every queued, running, waiting or paused run, refreshing itself while you watch."""

from __future__ import annotations

from collections import Counter

import streamlit as st

import storage
from dashboard.components.events import inert, plain
from dashboard.components.run_link import page_link, run_page_link
from dashboard.components.status import (
    elapsed_seconds,
    format_duration,
    human_needed,
    model_label,
    run_usage,
    status_badge,
)
from dashboard.routes import APPROVALS_PAGE, LAUNCH_PAGE
from dashboard.store import get_store

REFRESH_SECONDS = 1.5
MAX_RUNS = 200


def run_card(run: storage.Run, pending: int) -> None:
    with st.container(border=True, key=f"live_run_{run.id}"):
        head, badge = st.columns([5, 2], vertical_alignment="center")
        head.text(plain(run.goal))  # typed by a person, still shown as text
        with badge:
            status_badge(run.status)
        st.caption(
            f"run {run.id} · {inert(model_label(run.model, run.model_name))} · "
            f"{run.autonomy} · {run_usage(run)} · elapsed {format_duration(elapsed_seconds(run))}"
        )
        waits = human_needed(run, pending)
        if waits:
            st.warning(f"Needs you: {inert(waits)}", icon=":material/front_hand:")
        links = st.columns(2)
        with links[0]:
            run_page_link(run.id, label=f"Open run {run.id}")
        if pending:
            with links[1]:
                page_link(APPROVALS_PAGE, label="Open the approvals inbox")


@st.fragment(run_every=REFRESH_SECONDS)
def active_runs(store: storage.Store) -> None:
    runs = storage.list_runs(store, status=list(storage.ACTIVE_STATUSES), limit=MAX_RUNS)
    if not runs:
        st.info("No active runs — launch one on the Launch page.", icon=":material/info:")
        page_link(LAUNCH_PAGE, label="Go to Launch")
        return
    pending = Counter(a.run_id for a in storage.pending_approvals(store, limit=1000))
    waiting = sum(1 for run in runs if human_needed(run, pending[run.id]))
    st.caption(f"{len(runs)} active runs · {waiting} need a human · refreshes every 1.5 s")
    # Runs that need a person first, then the newest.
    for run in sorted(runs, key=lambda r: human_needed(r, pending[r.id]) is None):
        run_card(run, pending[run.id])


def main() -> None:
    st.title("Live runs")
    active_runs(get_store())


main()
