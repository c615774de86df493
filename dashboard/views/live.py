"""Live: every queued, running, waiting or paused run, refreshing itself while you watch.

Runs keep their place (newest launch first): a run that needs a person is announced in a banner
at the top, never moved under the cursor. All viewers share one read per refresh interval.
"""

from __future__ import annotations

import streamlit as st

import storage
from agent_core.oversight import inert
from dashboard.components.refreshing import refreshing
from dashboard.components.run_link import page_link, run_page_link
from dashboard.components.shared_reads import active_board
from dashboard.components.status import (
    STATUS_COLORS,
    STATUS_ICONS,
    STATUS_WORDS,
    elapsed_seconds,
    format_duration,
    human_needed,
    model_label,
    run_usage,
)
from dashboard.routes import APPROVALS_PAGE, LAUNCH_PAGE
from dashboard.store import get_store
from storage.shared_reads import LiveBoard
from storage.vocabulary import RunStatus

REFRESH_SECONDS = 1.5  # while any run is running (or queued: a worker is about to move it)
CALM_REFRESH_SECONDS = 3.0  # while every run waits for a person or is paused: only people move
# them, and a new approval reaches every page within 0.5 s through the sidebar's count and toast
ANNOUNCED = 5  # runs named in the banner; the rest are marked in place


def badge(status: str) -> str:
    """A status badge as Markdown (our own words: safe), so a card needs no extra element."""
    color = STATUS_COLORS.get(status, "gray")
    icon = STATUS_ICONS.get(status, ":material/circle:")
    return f":{color}-badge[{icon} {inert.markdown(STATUS_WORDS.get(status, status))}]"


def run_card(run: storage.Run, pending: int) -> None:
    """One run: keyed by its id, so a refresh updates it in place."""
    with st.container(border=True, key=f"live_run_{run.id}"):
        st.markdown(f"{badge(run.status)} {inert.markdown(run.goal, limit=200)}")
        st.caption(
            f"run {run.id} · {inert.markdown(model_label(run.model, run.model_name))} · "
            f"{run.autonomy} · {run_usage(run)} · elapsed {format_duration(elapsed_seconds(run))}"
        )
        waits = human_needed(run, pending)
        if waits:
            st.warning(f"Needs you: {inert.markdown(waits)}", icon=":material/front_hand:")
        run_page_link(run.id, label=f"Open run {run.id}")


def needs_you(board: LiveBoard) -> None:
    """The banner naming the runs that wait for a person, each with a link to its Run page."""
    waiting = [
        (run, why) for run in board.runs if (why := human_needed(run, board.pending_for(run.id)))
    ]
    if not waiting:
        return
    noun = "run needs" if len(waiting) == 1 else "runs need"
    with st.container(border=True, key="live_needs_you"):
        st.error(f"{len(waiting)} {noun} you", icon=":material/front_hand:")
        for run, why in waiting[:ANNOUNCED]:
            # The goal and the reason as text, which wraps on a phone; a link's text never wraps
            # (it is cut off with an ellipsis), so the link is only the run's id.
            st.markdown(f"{inert.markdown(run.goal, limit=60)} — {inert.markdown(why)}")
            run_page_link(run.id, label=f"Run {run.id}")
        if len(waiting) > ANNOUNCED:
            st.caption(f"and {len(waiting) - ANNOUNCED} more, marked below")
        if board.pending:
            page_link(APPROVALS_PAGE, label="Open the approvals inbox")


def calm(board: LiveBoard) -> bool:
    """Nothing on the board moves by itself: every run waits for a person or is paused."""
    return bool(board.runs) and all(
        run.status in (RunStatus.WAITING, RunStatus.PAUSED) for run in board.runs
    )


def active_runs(store: storage.Store, *, calm_timer: bool) -> None:
    board = active_board(store)
    if calm(board) != calm_timer:  # the board changed pace: the other timer takes over
        st.rerun()
    draw_board(board)


@refreshing(REFRESH_SECONDS, key="live-busy")
def busy_board(store: storage.Store) -> None:
    active_runs(store, calm_timer=False)


@refreshing(CALM_REFRESH_SECONDS, key="live-calm")
def calm_board(store: storage.Store) -> None:
    active_runs(store, calm_timer=True)


def draw_board(board: LiveBoard) -> None:
    if not board.runs:
        st.info("No active runs — launch one on the Launch page.", icon=":material/info:")
        page_link(LAUNCH_PAGE, label="Go to Launch")
        return
    needs_you(board)
    waiting = sum(1 for run in board.runs if human_needed(run, board.pending_for(run.id)))
    every = CALM_REFRESH_SECONDS if calm(board) else REFRESH_SECONDS
    st.caption(
        f"{len(board.runs)} active runs · {waiting} need a human · newest first · "
        f"refreshes every {every:g} s"
    )
    for run in board.runs:  # the store's order: by launch, never by state
        run_card(run, board.pending_for(run.id))


def main() -> None:
    st.title("Live runs")
    store = get_store()
    (calm_board if calm(active_board(store)) else busy_board)(store)


main()
