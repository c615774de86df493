"""The Run page's Notifications section: what onloop told people about this run, and how each
delivery went (a failure with its error), from the store's delivery record."""

from __future__ import annotations

import streamlit as st

import storage
from agent_core.oversight import inert

EVENT_WORDS = {
    "approval_requested": "approval requested",
    "run_finished": "run finished",
    "run_halted": "run halted",
    "run_paused": "run paused",
}


def render_notify_deliveries(store: storage.Store, run_id: str) -> None:
    """Folded unless a delivery failed; nothing at all for a run nobody was told about."""
    sent = storage.deliveries(store, run_id=run_id)
    if not sent:
        return
    failed = [d for d in sent if not d.ok]
    label = f"Notifications ({len(sent)} sent" + (f", {len(failed)} failed)" if failed else ")")
    with st.expander(label, expanded=bool(failed), icon=":material/notifications:"):
        rows = [
            {
                "when (UTC)": f"{d.at:%Y-%m-%d %H:%M:%S}",
                "about": EVENT_WORDS.get(d.event, d.event),
                "channel": d.channel,
                "to": inert.visible(d.target, newlines=False),
                "result": "delivered"
                if d.ok
                else f"failed: {inert.visible(d.error, newlines=False)}",
                "attempts": d.attempts,
            }
            for d in sent
        ]
        st.dataframe(rows, hide_index=True, key=f"notify_deliveries_{run_id}")
