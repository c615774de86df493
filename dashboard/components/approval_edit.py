"""Approve with edited arguments: the editor (folded until opened), and what the edit changes."""

from __future__ import annotations

import streamlit as st

import storage
from agent_core.oversight import decisions, inert
from dashboard.components.approval_decide import decide
from storage.models import Approval

EDIT_LABEL = "Edit the arguments, then approve"


def render_edit(
    store: storage.Store, approval: Approval, *, key: str, context: dict, locked: bool
) -> None:
    """The folded editor; the Edit key (the inbox's `e`) opens it through its session state."""
    with st.expander(EDIT_LABEL, key=f"{key}-edit-expander", on_change="rerun"):
        st.text_area(
            "Arguments as a JSON object (checked against the tool's schema before saving)",
            value=inert.json_text(approval.arguments, indent=2),  # parses to the same arguments
            key=f"{key}-edited",
            height=160,
        )
        _render_edit_review(store, approval, st.session_state.get(f"{key}-edited"))
        st.button(
            "Approve edited arguments",
            key=f"{key}-approve-edited",
            disabled=locked,
            on_click=decide,
            kwargs={**context, "action": "edited"},
        )


def _render_edit_review(store: storage.Store, approval: Approval, typed: str | None) -> None:
    """What the edit changes and what the policy says of the edited call, before approving."""
    if not typed:
        return
    try:
        edited = decisions.parse_edited_arguments(typed)
        review = decisions.review_of(store, approval, edited)
    except decisions.DecisionError as error:
        st.caption("The edited call")
        st.text(inert.visible(f"Cannot be approved as typed: {error}"))
        return
    if not review.changes:
        return
    st.caption("What the edit changes (old → new)")
    st.text(inert.visible("\n".join(review.changes)))
    st.caption("The policy for the edited call")
    st.text(inert.visible(review.verdict_line))
    if review.refusal is not None:
        st.error(f"Cannot be approved: {inert.markdown(review.refusal)}.", icon=":material/block:")
    elif review.role != "approver":
        st.warning(
            f"Approving this edit needs the {review.role} role: {inert.markdown(review.why_role())}.",
            icon=":material/shield_person:",
        )
