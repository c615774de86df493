"""The audit trail of one run: every human decision, who made it, when, on which arguments."""

from __future__ import annotations

import streamlit as st

import storage


def render_audit(store: storage.Store, run_id: str) -> None:
    decided = storage.decisions(store, run_id=run_id)
    with st.expander(f"Decisions (audit): {len(decided)}", key=f"run_audit_{run_id}"):
        if not decided:
            st.caption(
                "No decisions yet. Approvals this run asks for, and who answered them, "
                "are listed here; decisions are never edited or deleted."
            )
            return
        st.dataframe(
            [
                {
                    "when (UTC)": a.decided_at,
                    "decision": a.status,
                    "by": a.decided_by,
                    "tool": a.tool,
                    "what": a.summary,
                    "edited arguments": "yes" if a.edited_arguments is not None else "",
                    "allowed for the run": a.allow_scope or "",
                    "arguments sha256": (a.approved_hash or a.args_hash)[:16],
                    "note": a.note or "",
                }
                for a in decided
            ],
            hide_index=True,
            width="stretch",
            key=f"run_audit_table_{run_id}",
        )
