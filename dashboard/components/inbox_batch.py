"""Decide several at once: tick approvals in the inbox, then approve or reject them together."""

from __future__ import annotations

import time
from typing import Literal

import streamlit as st

import storage
from agent_core.oversight import decisions, inert
from dashboard.components.approval_decide import NOTICE_SECONDS
from dashboard.components.role_buttons import lacks
from dashboard.store import current_person

KEY = "inbox"
Decision = Literal["approve", "reject"]


def select_key(approval_id: int | None) -> str:
    return f"{KEY}-select-{approval_id}"


def render_batch(store: storage.Store, pending: list[storage.Approval]) -> None:
    """Folded under the list: a tick per approval, one note, Approve / Reject selected."""
    selected = [
        a.id for a in pending if a.id is not None and st.session_state.get(select_key(a.id))
    ]
    title = f"Decide several at once ({len(selected)} ticked)"
    with st.expander(title, key=f"{KEY}-batch-expander"), st.container(key=f"{KEY}-batch"):
        for approval in pending:
            what = inert.markdown(approval.summary or f"call {approval.tool}", limit=80)
            st.checkbox(
                f"Tick: {what} ({inert.markdown(approval.risk)} risk, run "
                f"{inert.markdown(approval.run_id[:8])})",
                key=select_key(approval.id),
            )
        st.text_input("Note for every ticked approval (optional)", key=f"{KEY}-batch-note")
        choices: list[tuple[Decision, str]] = [
            ("approve", f"Approve ticked ({len(selected)})"),
            ("reject", f"Reject ticked ({len(selected)})"),
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
                f"Tick all {len(pending)} shown",
                key=f"{KEY}-select-all",
                on_click=_select_all,
                args=([a.id for a in pending],),
            )


def render_batch_result() -> None:
    """What the last batch did, for a minute; shown even when it emptied the inbox."""
    result = st.session_state.get(f"{KEY}-batch-result")
    if result and time.monotonic() - result[2] > NOTICE_SECONDS:
        st.session_state.pop(f"{KEY}-batch-result")
    elif result:
        message, problems, _ = result
        (st.warning if problems else st.success)(message)
        for problem in problems:
            st.warning(inert.markdown(problem))


def _decide_selected(store: storage.Store, ids: list[int], decision: Decision) -> None:
    """Batch callback: decide every ticked approval; keep the per-item failures to show."""
    note = (st.session_state.get(f"{KEY}-batch-note") or "").strip() or None
    problems = decisions.decide_many(
        store, approval_ids=ids, decision=decision, by=current_person(), note=note
    )
    done = len(ids) - len(problems)
    verb = "Approved" if decision == "approve" else "Rejected"
    message = f"{verb} {done} of {len(ids)} ticked."
    st.session_state[f"{KEY}-batch-result"] = (message, problems, time.monotonic())
    for approval_id in ids:
        st.session_state.pop(select_key(approval_id), None)


def _select_all(ids: list[int | None]) -> None:
    for approval_id in ids:
        st.session_state[select_key(approval_id)] = True
