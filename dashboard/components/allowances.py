"""What people allowed for the rest of one run (scoped allowances), each revocable.

An allowance is given with an approval (oversight/scopes.py); revoking sends the run a `revoke`
command, which its worker reads before its next step (an allowance_revoked event records it),
so calls like it ask again from then on.
"""

from __future__ import annotations

import streamlit as st

import storage
from agent_core.oversight import control, inert
from dashboard.components.role_buttons import explain_missing, lacks, needs_note
from dashboard.store import current_person
from storage.models import Approval


def allowances_of(store: storage.Store, run_id: str) -> list[tuple[Approval, str | None]]:
    """The run's approvals that allowed something for the rest of it, oldest first, each with
    who revoked it (None: still in force)."""
    revoked: dict[int, str] = {}
    for command in storage.command_history(store, run_id=run_id):
        approval_id = (command.payload or {}).get("approval_id")
        if command.kind == "revoke" and isinstance(approval_id, int):
            revoked.setdefault(approval_id, command.created_by or "a human")
    given = [
        a
        for a in storage.decisions(store, run_id=run_id)
        if a.status == "approved" and a.allow_scope and a.id is not None
    ]
    given.sort(key=lambda a: a.id or 0)
    return [(a, revoked.get(a.id or 0)) for a in given]


def describe(approval: Approval) -> str:
    """The allowance in plain words, from the rule its scope became."""
    named = (approval.allow_rule or {}).get("name")
    if named:
        return str(named)
    return f"this exact call of {approval.tool}"


def render_allowances(store: storage.Store, run: storage.Run) -> None:
    found = allowances_of(store, run.id)
    if not found:
        return
    live = sum(1 for _, by in found if by is None)
    title = f"Allowed for the rest of this run: {live} in force"
    with st.expander(title, expanded=live > 0, key=f"run_allowances_{run.id}"):
        explain_missing("operator", "revoking allowances")
        ended = run.status in storage.FINISHED_STATUSES
        for approval, revoked_by in found:
            with st.container(horizontal=True, key=f"run_allowance_{run.id}_{approval.id}"):
                who = inert.markdown(approval.decided_by or "?")
                text = f"{inert.markdown(describe(approval), limit=300)} · approval {approval.id} by {who}"
                if revoked_by is not None:
                    text += f" · revoked by {inert.markdown(revoked_by)}"
                st.markdown(text)
                if revoked_by is None and not ended:
                    st.button(
                        "Revoke",
                        key=f"run_allowance_revoke_{run.id}_{approval.id}",
                        icon=":material/remove_moderator:",
                        disabled=lacks("operator"),
                        help=needs_note("operator") if lacks("operator") else None,
                        on_click=_revoke,
                        kwargs={"store": store, "run_id": run.id, "approval_id": approval.id},
                    )


def _revoke(*, store: storage.Store, run_id: str, approval_id: int) -> None:
    try:
        control.revoke_allowance(store, run_id=run_id, approval_id=approval_id, by=current_person())
    except (control.ControlError, storage.StoreError) as error:
        st.session_state[f"run_allowance_error_{run_id}"] = str(error)
        return
    st.toast(f"Revoked: calls approval {approval_id} allowed ask again from the next step.")
