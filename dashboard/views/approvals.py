"""Approvals: every pending approval across all runs, oldest first, one by one or in a batch."""

from __future__ import annotations

from typing import Literal

import streamlit as st

import storage
from agent_core.oversight import decisions, inert
from dashboard.components.approval_card import render_approval_card, render_decision_notices
from dashboard.components.role_buttons import lacks
from dashboard.components.run_link import page_link
from dashboard.store import current_person, get_store

KEY = "inbox"
SHOWN = 25  # cards drawn at first (each is a dozen elements, redrawn every refresh)
SHOWN_KEY = f"{KEY}-shown"
EMPTY = (
    "No approvals waiting. Runs in supervised mode ask here before risky actions — "
    "launch one on the Launch page."
)
TOASTS_PER_REFRESH = 3
Decision = Literal["approve", "reject"]


def _select_key(approval_id: int | None) -> str:
    return f"{KEY}-select-{approval_id}"


def _decide_selected(store: storage.Store, ids: list[int], decision: Decision) -> None:
    """Batch callback: decide every selected approval; keep the per-item failures to show."""
    note = (st.session_state.get(f"{KEY}-batch-note") or "").strip() or None
    problems = decisions.decide_many(
        store, approval_ids=ids, decision=decision, by=current_person(), note=note
    )
    done = len(ids) - len(problems)
    verb = "Approved" if decision == "approve" else "Rejected"
    st.session_state[f"{KEY}-batch-result"] = (f"{verb} {done} of {len(ids)} selected.", problems)
    for approval_id in ids:
        st.session_state.pop(_select_key(approval_id), None)


def _select_all(ids: list[int | None]) -> None:
    for approval_id in ids:
        st.session_state[_select_key(approval_id)] = True


def _show_more() -> None:
    st.session_state[SHOWN_KEY] = st.session_state.get(SHOWN_KEY, SHOWN) + SHOWN


def _render_batch_bar(store: storage.Store, pending: list[storage.Approval]) -> None:
    selected = [
        a.id for a in pending if a.id is not None and st.session_state.get(_select_key(a.id))
    ]
    with st.container(border=True, key=f"{KEY}-batch"):
        st.caption("Decide several at once: tick the approvals below, then approve or reject them.")
        st.text_input("Note for every selected approval (optional)", key=f"{KEY}-batch-note")
        choices: list[tuple[Decision, str]] = [
            ("approve", f"Approve selected ({len(selected)})"),
            ("reject", f"Reject selected ({len(selected)})"),
        ]
        with st.container(horizontal=True, key=f"{KEY}-batch-actions"):
            for decision, label in choices:
                st.button(
                    label,
                    key=f"{KEY}-batch-{decision}",
                    disabled=not selected or lacks("approver"),
                    on_click=_decide_selected,
                    args=(store, selected, decision),
                )
            st.button(
                f"Select all {len(pending)} shown",
                key=f"{KEY}-select-all",
                on_click=_select_all,
                args=([a.id for a in pending],),
            )


def _render_batch_result() -> None:
    """What the last batch did; shown even when it emptied the inbox."""
    result = st.session_state.pop(f"{KEY}-batch-result", None)
    if result:
        message, problems = result
        (st.warning if problems else st.success)(message)
        for problem in problems:
            st.warning(inert.markdown(problem))


@st.fragment(run_every=2)
def inbox() -> None:
    store = get_store()
    pending = storage.pending_approvals(store, limit=st.session_state.get(SHOWN_KEY, SHOWN))
    total = storage.count_pending_approvals(store)
    render_decision_notices(key_prefix=KEY)
    _render_batch_result()
    if not pending:
        st.info(EMPTY, icon=":material/inbox:")
        page_link("views/launch.py", label="Go to the Launch page")
        return
    shown = f"the oldest {len(pending)} of {total}" if total > len(pending) else f"{total}"
    st.caption(f"{shown} waiting, oldest first. This list refreshes every 2 seconds.")
    _render_batch_bar(store, pending)
    for approval in pending:
        st.checkbox(f"Select approval {approval.id}", key=_select_key(approval.id))
        render_approval_card(store, approval, key_prefix=KEY)
    if total > len(pending):
        more = min(SHOWN, total - len(pending))
        st.button(
            f"Show {more} more ({total - len(pending)} not shown)",
            key=f"{KEY}-show-more",
            on_click=_show_more,
        )


st.title("Approvals")
st.caption(
    "Every action an agent is waiting to take, across all runs. What you approve is exactly "
    "what runs: edited arguments are checked against the tool's schema first."
)
inbox()
