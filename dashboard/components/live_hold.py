"""The Run page's live part held open: one refresh that draws each step as it arrives.

Measured with benchmarks/live_view.py (real Chromium, 10 Run pages on running runs, 2 cores):
every Streamlit rerun costs the browser tens of milliseconds of React work whatever it draws, so a
fragment rerunning twice a second per page kept both cores busy in Chromium alone, and steps
waited behind it (p95 1.8-2.7 s). So a refresh of a running run's live part stays open on the
server for up to HOLD_SECONDS: it polls the shared pulse every POLL_SECONDS and sends only what
changed, as it changes: the new events appended under the ones shown, the budget, the streamed
turn. The browser gets one rerun per hold and one small update per change.

A hold ends early when a person acts (reading session state is a Streamlit yield point, where a
click's rerun or a closed tab's stop takes over), when the pending-approvals count moves (the
sidebar's own refresh waits behind this one, so it must get its turn), or when the run's status
changes or the tail outgrows its bound (a full rerun, as before).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

import storage
from dashboard.components.event_feed import Tail, advance
from dashboard.components.shared_reads import pending_count

HOLD_SECONDS = 10.0  # longest one refresh stays open; then the fragment's next rerun redraws all
POLL_SECONDS = 0.1  # how often a held refresh looks at the shared pulse (a dictionary look-up)
TURN_SECONDS = 0.5  # how often it re-reads the streamed turn (one primary-key read per page)
STATUS_SECONDS = 2.0  # how often it redraws the budget when no step moved it (its clock ticks)
_YIELD_KEY = "_onloop_live_hold"  # never set: reading it only gives Streamlit its yield point

# Seams for tests: a held refresh waits on these.
clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep


def yield_point() -> None:
    """Let Streamlit take over if a person clicked something or closed the tab.

    A held refresh draws nothing while nothing moves, and Streamlit only acts on a click's rerun
    (or a stop) at its yield points: every session state access is one.
    """
    _ = _YIELD_KEY in st.session_state


def hold(
    store: storage.Store,
    run_id: str,
    tail: Tail,
    *,
    draw_events: Callable[[list[storage.EventRecord]], None],
    draw_status: Callable[[bool], None],
    draw_turn: Callable[[], None],
    seconds: float = HOLD_SECONDS,
) -> None:
    """Keep drawing what arrives for up to `seconds`: new events through `draw_events`, the
    budget through `draw_status(moved)` (moved: a step changed the run's counters) and the
    streamed turn through `draw_turn`. Calls st.rerun() when the page must be redrawn."""
    approvals = pending_count(store)
    began = clock()
    next_status, next_turn = began + STATUS_SECONDS, began + TURN_SECONDS
    while clock() - began < seconds:
        sleep(POLL_SECONDS)
        yield_point()
        shown = len(tail.events)
        change = advance(store, run_id, tail)
        if change == "rerun":
            st.rerun()  # fold the tail into a new page, with controls that fit the run
        now = clock()
        if change == "grew":
            draw_events(tail.events[shown:])
            draw_status(True)
            draw_turn()
            next_status, next_turn = now + STATUS_SECONDS, now + TURN_SECONDS
        else:
            if now >= next_status:
                draw_status(False)
                next_status = now + STATUS_SECONDS
            if now >= next_turn:
                draw_turn()
                next_turn = now + TURN_SECONDS
        if pending_count(store) != approvals:
            return  # the sidebar's refresh is queued behind this one: let it show the count
