"""A run's steps: one page of events drawn once per full run, and a live tail of what arrives.

A full run of the page draws one page of PAGE_SIZE events (the newest, an older one, the page a
model step starts on, or only some kinds), each read with one indexed query (storage.feed). A
page replaces the one before it, so paging back never grows the page.

While the newest page is shown, a fragment (views/run.py) keeps the tail: the events after the
page was drawn. Its refresh asks the shared pulse (components/run_pulse.py) whether the run moved,
reads only the events after the last seq it has seen, and draws only the tail (a running run's
refresh stays open and appends each event as it arrives, components/live_hold.py); past FOLD_AFTER
events, or when one of them changes what the controls must offer, it reruns the page once, which
folds the tail into a new newest page. Each seq is drawn once, in order: the tail starts exactly
where the page ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import streamlit as st

import storage
from dashboard.components.events import render_event
from dashboard.components.run_pulse import fresh_pulse, shared_pulse
from storage.feed import KIND_GROUPS, Direction, count_events, event_page, step_start
from storage.vocabulary import EventKind

PAGE_SIZE = 100  # events on one page
FOLD_AFTER = 100  # tail events before the page folds them into a new newest page (a full rerun)
ALL = "all"
# Events after which the controls or approval cards outside the fragment may no longer fit.
RERUN_KINDS = frozenset(
    {
        EventKind.STATUS,
        EventKind.APPROVAL_REQUESTED,
        EventKind.APPROVAL_DECIDED,
        EventKind.HALT_REQUESTED,
    }
)


@dataclass
class FeedView:
    """Which page of a run's events the person is looking at."""

    show: str = ALL  # ALL or a name of storage.feed.KIND_GROUPS
    direction: Direction = "newest"
    seq: int = 0
    notice: str | None = None  # a one-line answer to the last jump that found nothing

    @property
    def kinds(self) -> tuple[str, ...] | None:
        return None if self.show == ALL else KIND_GROUPS[self.show]


@dataclass
class Tail:
    """What the live fragment has drawn under the page since the page was drawn."""

    checked: int  # every event with a seq up to this one is drawn (or filtered out)
    status: str  # the run's status when the page was drawn
    read_at: float  # monotonic time of the pulse the page was drawn from
    kinds: tuple[str, ...] | None
    follow: bool  # the newest page: new events join the tail (an older page only watches status)
    events: list[storage.EventRecord] = field(default_factory=list)


Change = Literal["same", "grew", "rerun"]


def view_of(run_id: str) -> FeedView:
    key = f"run_view_{run_id}"
    if key not in st.session_state:
        st.session_state[key] = FeedView()
    return st.session_state[key]


def load_page(
    store: storage.Store, run_id: str, view: FeedView
) -> tuple[list[storage.EventRecord], Tail | None]:
    """The page `view` names, and the tail that watches the run from there (None: no such run)."""
    pulse, read_at = fresh_pulse(store, run_id)  # before the page: nothing falls in between
    events = event_page(
        store, run_id=run_id, direction=view.direction, seq=view.seq, n=PAGE_SIZE, kinds=view.kinds
    )
    if pulse is None:
        return events, None
    follow = view.direction == "newest"
    checked = max(pulse.last_seq, events[-1].seq if events else 0)
    return events, Tail(checked, pulse.status, read_at, view.kinds, follow)


def advance(store: storage.Store, run_id: str, tail: Tail) -> Change:
    """Add to the tail what arrived since it last looked: "rerun" when the page must be redrawn."""
    pulse = shared_pulse(store, run_id, not_before=tail.read_at)
    if pulse is None or pulse.status != tail.status:
        return "rerun"
    if not tail.follow or pulse.last_seq <= tail.checked:
        return "same"
    limit = FOLD_AFTER + 1
    fresh = event_page(
        store, run_id=run_id, direction="after", seq=tail.checked, n=limit, kinds=tail.kinds
    )
    if len(fresh) == limit:
        return "rerun"  # more than a tail: a new newest page reads them in one go
    tail.events.extend(fresh)
    tail.checked = max(pulse.last_seq, fresh[-1].seq if fresh else 0)
    if len(tail.events) > FOLD_AFTER or any(e.kind in RERUN_KINDS for e in fresh):
        return "rerun"
    return "grew"


def render_events(events: list[storage.EventRecord], answer: str | None = None) -> None:
    """Draw events in order (`answer`: the final answer the top of the page already shows)."""
    for event in events:
        render_event(event, answer)


def _go(run_id: str, direction: Direction, seq: int = 0) -> None:
    view = view_of(run_id)
    view.direction, view.seq, view.notice = direction, seq, None


def _filter_changed(run_id: str) -> None:
    view = view_of(run_id)
    view.show = st.session_state[f"run_show_{run_id}"]
    view.direction, view.seq, view.notice = "newest", 0, None


def _jump(store: storage.Store, run_id: str, steps: int) -> None:
    step = int(st.session_state[f"run_jump_step_{run_id}"])
    seq = step_start(store, run_id=run_id, step=step)
    view = view_of(run_id)
    if seq is None:
        have = f"it has steps 1 to {steps}" if steps else "it has no model steps yet"
        view.notice = f"This run has no model step {step}: {have}."
        return
    view.direction, view.seq, view.notice = "from", seq, None


def render_feed_controls(store: storage.Store, run: storage.Run, view: FeedView) -> None:
    """The kind filter and the jump to a model step."""
    shows, jump, go = st.columns([2, 1, 1], vertical_alignment="bottom")
    shows.selectbox(
        "Show",
        [ALL, *KIND_GROUPS],
        index=[ALL, *KIND_GROUPS].index(view.show),
        key=f"run_show_{run.id}",
        on_change=_filter_changed,
        args=(run.id,),
    )
    jump.number_input(
        "Jump to model step",
        min_value=1,
        value=1,
        step=1,
        key=f"run_jump_step_{run.id}",
    )
    go.button(
        "Go to step",
        icon=":material/move_down:",
        key=f"run_jump_go_{run.id}",
        on_click=_jump,
        args=(store, run.id, run.steps),
    )
    if view.notice:
        st.error(view.notice, icon=":material/search_off:")


def render_pager(
    store: storage.Store, run: storage.Run, view: FeedView, events: list[storage.EventRecord]
) -> None:
    """Where this page sits in the run, with the buttons to the pages around it."""
    run_id = run.id
    if view.kinds is None:  # seqs run 1, 2, 3, ...: the newest one counts them
        total = max(run.last_seq, events[-1].seq if events else 0)
        what = "events"
    else:
        total = count_events(store, run_id=run_id, kinds=view.kinds)
        what = f"{view.show} events"
    if not events:
        st.caption(f"No {what} on this page ({total:,} in the run).")
    else:
        st.caption(f"Events #{events[0].seq}–#{events[-1].seq} · {total:,} {what} in the run")
    older, newer, newest = st.columns(3)
    first = events[0].seq if events else view.seq
    last = events[-1].seq if events else view.seq
    older.button(
        "Older",
        icon=":material/arrow_upward:",
        key=f"run_page_older_{run_id}",
        on_click=_go,
        args=(run_id, "before", first),
        disabled=not events or not _has_older(store, run_id, view, first),
    )
    live = view.direction == "newest"
    newer.button(
        "Newer",
        icon=":material/arrow_downward:",
        key=f"run_page_newer_{run_id}",
        on_click=_newer,
        args=(store, run_id, last),
        disabled=live,
    )
    newest.button(
        "Newest",
        icon=":material/vertical_align_bottom:",
        key=f"run_page_newest_{run_id}",
        on_click=_go,
        args=(run_id, "newest"),
        disabled=live,
    )


def _has_older(store: storage.Store, run_id: str, view: FeedView, first: int) -> bool:
    if view.kinds is None:
        return first > 1
    return bool(
        event_page(store, run_id=run_id, direction="before", seq=first, n=1, kinds=view.kinds)
    )


def _newer(store: storage.Store, run_id: str, last: int) -> None:
    """The page after `last`; the newest page (which follows the run live) once it reaches it."""
    view = view_of(run_id)
    following = event_page(
        store, run_id=run_id, direction="after", seq=last, n=PAGE_SIZE + 1, kinds=view.kinds
    )
    if len(following) <= PAGE_SIZE:
        _go(run_id, "newest")
    else:
        _go(run_id, "after", last)
