"""A run's steps as they arrive, kept per run in session state and read from the store in pieces.

The first draw reads only the newest FIRST_READ events (and draws the newest PAGE_SIZE of them);
each refresh reads only the events after the last one seen; "show earlier" reads the page before
the first one loaded when it runs out. Seqs of a run are 1, 2, 3, ... without gaps, so each piece
is one indexed range query however long the run is.
"""

from __future__ import annotations

from typing import TypedDict

import streamlit as st

import storage
from dashboard.components.events import render_event

PAGE_SIZE = 200  # events drawn at first; "show earlier" adds this many more
FIRST_READ = 2000  # enough for the charts of most runs, still a few milliseconds to read


class Feed(TypedDict):
    events: list[storage.EventRecord]  # ascending, contiguous seqs
    last_seq: int  # the newest seq read (0 before any)
    shown: int  # how many of the newest events are drawn


def _key(run_id: str) -> str:
    return f"run_feed_{run_id}"


def load_feed(store: storage.Store, run_id: str) -> Feed:
    """The run's feed with any events written since the last call appended."""
    feed: Feed | None = st.session_state.get(_key(run_id))
    if feed is None:
        newest = storage.last_events(store, run_id=run_id, n=FIRST_READ)
        feed = {"events": newest, "last_seq": newest[-1].seq if newest else 0, "shown": PAGE_SIZE}
        st.session_state[_key(run_id)] = feed
        return feed
    fresh = storage.events_after(store, run_id=run_id, after_seq=feed["last_seq"])
    if fresh:
        feed["events"].extend(fresh)
        feed["last_seq"] = fresh[-1].seq
    return feed


def not_loaded(feed: Feed) -> int:
    """How many of the run's earliest events this session has not read yet."""
    return feed["events"][0].seq - 1 if feed["events"] else 0


def _show_earlier(store: storage.Store, run_id: str) -> None:
    feed: Feed = st.session_state[_key(run_id)]
    feed["shown"] += PAGE_SIZE
    missing = min(feed["shown"] - len(feed["events"]), not_loaded(feed))
    if missing > 0:
        first = feed["events"][0].seq
        earlier = storage.events_after(
            store, run_id=run_id, after_seq=first - 1 - missing, limit=missing
        )
        feed["events"][:0] = earlier


def render_feed(store: storage.Store, run_id: str, feed: Feed) -> None:
    """The newest `shown` events, oldest first, under a button that reveals earlier ones."""
    events = feed["events"]
    if not events:
        st.info("No steps yet: a worker picks queued runs up (`onloop up` or `onloop worker`).")
        return
    hidden = not_loaded(feed) + max(0, len(events) - feed["shown"])
    if hidden:
        st.button(
            f"Show {min(PAGE_SIZE, hidden)} earlier events ({hidden} not shown)",
            key=f"run_show_earlier_{run_id}",
            on_click=_show_earlier,
            args=(store, run_id),
        )
    for event in events[-feed["shown"] :]:
        render_event(event)
