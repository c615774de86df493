"""Not now in the inbox: put an approval off for a while, see what is put off, bring it back.

A snooze hides the approval from this person's list only, until the time passes (storage.inbox).
It is never a decision: the run keeps waiting and the approval's expiry is unchanged.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

import storage
from agent_core.oversight import inert
from dashboard.components.approval_decide import add_notice, notices_key
from dashboard.store import current_person
from storage.models import Approval

# (label, how long, key): a number key picks the while once Not now has opened the choices.
WHILES = (
    ("15 min", timedelta(minutes=15), "1"),
    ("1 h", timedelta(hours=1), "2"),
    ("4 h", timedelta(hours=4), "3"),
)


def render_snooze_choices(store: storage.Store, approval: Approval, *, key: str) -> None:
    """The row Not now opens: how long to put the approval off for."""
    with st.container(horizontal=True, key=f"{key}-snooze-choices", vertical_alignment="center"):
        st.caption("Back in")
        for label, span, shortcut in WHILES:
            st.button(
                label,
                key=f"{key}-snooze-{shortcut}",
                shortcut=shortcut,
                on_click=_snooze,
                args=(store, approval, span, key),
            )


def _snooze(store: storage.Store, approval: Approval, span: timedelta, key: str) -> None:
    assert approval.id is not None  # rows read from the store always have their id
    prefix = key.split("-approval-")[0]
    st.session_state.pop(f"{key}-snoozing", None)
    until = storage.utcnow() + span
    try:
        storage.snooze_approval(
            store, approval_id=approval.id, who=current_person().label, until=until
        )
    except storage.StoreError as error:
        add_notice(notices_key(prefix), "warning", f"Not put off: {inert.markdown(error)}.")
        return
    add_notice(
        notices_key(prefix),
        "success",
        f"Put off until {until:%H:%M} UTC: approval {approval.id} in run "
        f"{inert.markdown(approval.run_id)} (the run keeps waiting; nothing was decided).",
    )


def render_snoozed_line(store: storage.Store, *, key: str) -> None:
    """The line "N put off (back at …)" and a button that brings them all back now."""
    who = current_person().label
    snoozed = storage.snoozed_approvals(store, who=who)
    if not snoozed:
        return
    times = ", ".join(f"{until:%H:%M}" for _, until in snoozed[:3])
    more = "…" if len(snoozed) > 3 else ""
    with st.container(horizontal=True, key=f"{key}-snoozed", vertical_alignment="center"):
        st.caption(f":material/snooze: {len(snoozed)} put off (back at {times}{more} UTC)")
        st.button(
            "Bring them back now",
            key=f"{key}-unsnooze",
            type="tertiary",
            on_click=_bring_back,
            args=(store, who),
        )


def _bring_back(store: storage.Store, who: str) -> None:
    storage.unsnooze_approvals(store, who=who)
