"""The audit trail of one run: every human decision, who made it, when, on which arguments."""

from __future__ import annotations

import streamlit as st

import storage
from agent_core.oversight import inert


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
                    "by": _cell(a.decided_by),
                    "tool": _cell(a.tool),
                    "what": _cell(a.summary),
                    "edited arguments": "yes" if a.edited_arguments is not None else "",
                    "allowed for the run": _cell(
                        (a.allow_rule or {}).get("name") or a.allow_scope or ""
                    ),
                    "arguments sha256": (a.approved_hash or a.args_hash)[:16],
                    "note": _cell(a.note or ""),
                }
                for a in decided
            ],
            hide_index=True,
            width="stretch",
            key=f"run_audit_table_{run_id}",
        )


def render_steering(store: storage.Store, run: storage.Run) -> None:
    """Who launched the run and every halt, pause and guidance people sent it."""
    sent = storage.command_history(store, run_id=run.id)
    rows = [{"when (UTC)": run.created_at, "what": "launch", "by": _cell(run.created_by or "?")}]
    rows += [
        {"when (UTC)": c.created_at, "what": c.kind, "by": _cell(c.created_by or "?")} for c in sent
    ]
    with st.expander(f"Steering (audit): {len(rows)}", key=f"run_steering_{run.id}"):
        st.dataframe(rows, hide_index=True, width="stretch", key=f"run_steering_table_{run.id}")


def _cell(text: object) -> str:
    """A table cell of someone else's words: plain text, but drawn by the browser, where a bidi
    control would reorder it; every acting character shown instead, on one line."""
    return inert.visible(text, newlines=False, tabs=False)
