"""A toast on any page when runs start waiting for a person (the sidebar calls it every refresh)."""

from __future__ import annotations

import streamlit as st

import storage
from agent_core.oversight import inert
from dashboard.components.shared_reads import pending_list

KEY = "announce"
TOASTS_PER_REFRESH = 3


def announce_new_approvals(store: storage.Store, total: int) -> None:
    """Toast the approvals that arrived since the last refresh (none on the first one)."""
    seen: set[int] | None = st.session_state.get(f"{KEY}-seen")
    last_total = st.session_state.get(f"{KEY}-last-total", total)
    st.session_state[f"{KEY}-last-total"] = total
    if seen is not None and total <= last_total:
        return
    pending = pending_list(store)
    st.session_state[f"{KEY}-seen"] = (seen or set()) | {a.id for a in pending}
    if seen is None:
        return
    new = [a for a in pending if a.id not in seen]
    for approval in new[:TOASTS_PER_REFRESH]:
        summary = approval.summary or f"call {approval.tool}"
        st.toast(
            f"Run {inert.markdown(approval.run_id)} is waiting for approval: {inert.markdown(summary, limit=160)}",
            icon=":material/front_hand:",
        )
    unnamed = total - last_total - len(new[:TOASTS_PER_REFRESH])
    if unnamed > 0:
        st.toast(f"{unnamed} more approvals are waiting.", icon=":material/front_hand:")
