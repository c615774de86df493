"""The inbox's compact list: one line per pending approval (risk, action, tool, run; its age), the
selected one decided beside it (desktop) or under it (phone), moved through with J and K.

The selection is the radio's value (an approval id). When the selected approval leaves the list
(decided, put off, decided elsewhere) the one that took its place is selected: the next item.
"""

from __future__ import annotations

import streamlit as st

import storage
from agent_core.oversight import inert
from dashboard.components.approval_card import RISK_COLORS, SELECTED, age_text
from storage.models import Approval

_POSITION = "inbox-position"
LIST_LABEL = "Waiting for you: riskiest first, then oldest"
KEY_HELP = (
    "Keys: **J** / **K** next / previous · **A** approve · **X** reject with a note "
    "(Enter sends) · **E** edit · **N** not now (then **1** / **2** / **3**) · **O** open the run"
)


def selected_approval(pending: list[Approval]) -> Approval:
    """The approval to show in detail: the chosen one, else the one now where it was."""
    ids = [a.id for a in pending]
    current = st.session_state.get(SELECTED)
    if current not in ids:
        position = min(st.session_state.get(_POSITION, 0), len(ids) - 1)
        current = ids[position]
        st.session_state[SELECTED] = current
    st.session_state[_POSITION] = ids.index(current)
    return pending[ids.index(current)]


def render_list(store: storage.Store, pending: list[Approval]) -> None:
    """Previous / Next, the one-line list, and the keys' legend."""
    ids = [a.id for a in pending]
    labels = _labels(store, pending)
    with st.container(horizontal=True, key="inbox-nav"):
        st.button("Previous", key="inbox-previous", shortcut="k", on_click=_move, args=(ids, -1))
        st.button("Next", key="inbox-next", shortcut="j", on_click=_move, args=(ids, 1))
    with st.container(key="inbox-list"):
        # The age goes in the captions: a label that changes would reset the choice on screen.
        st.radio(
            LIST_LABEL,
            options=ids,
            format_func=labels.get,
            captions=[f"waiting {age_text(a)}" for a in pending],
            key=SELECTED,
        )
    with st.container(key="inbox-keys"):  # hidden on a phone, which has no keys to press
        st.caption(KEY_HELP)


def _move(ids: list[int | None], step: int) -> None:
    current = st.session_state.get(SELECTED)
    position = ids.index(current) if current in ids else 0
    st.session_state[SELECTED] = ids[max(0, min(len(ids) - 1, position + step))]


def _labels(store: storage.Store, pending: list[Approval]) -> dict[int | None, str]:
    goals = {run_id: _goal(store, run_id) for run_id in {a.run_id for a in pending}}
    return {a.id: _label(a, goals[a.run_id]) for a in pending}


def _label(approval: Approval, goal: str) -> str:
    """risk · action · tool · run, all model-written text made inert."""
    color = RISK_COLORS.get(approval.risk, "gray")
    action = inert.markdown(approval.summary or f"call {approval.tool}", limit=90)
    run = f"run {inert.markdown(approval.run_id[:8])} ({inert.markdown(goal, limit=40)})"
    return (
        f":{color}-badge[{inert.markdown(approval.risk)} risk] **{action}** · "
        f"{inert.markdown(approval.tool)} · {run}"
    )


def _goal(store: storage.Store, run_id: str) -> str:
    try:
        return storage.get_run(store, run_id=run_id).goal
    except storage.NotFound:
        return "run not found"
