"""One approval as a card: what the agent wants to do, the controls to answer it, then why.

The controls come right under the one-line action so that they are on the first screen; the
details (run, tool, age, why the policy asked, a readable preview, the exact arguments folded)
follow. In the inbox (`inbox=True`) each control has one key and Reject, Edit and Not now open a
field with the cursor in it. Decisions themselves run in approval_decide's callbacks.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Literal

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

import storage
from agent_core.oversight import decisions, inert
from agent_core.oversight.decisions import not_driven
from dashboard.components.action_preview import render_action_preview
from dashboard.components.approval_decide import (
    decide,
    error_key,
    notices_key,
    render_decision_notices,
)
from dashboard.components.approval_edit import render_edit
from dashboard.components.keyboard import focus_field
from dashboard.components.role_buttons import explain_missing, lacks, needs_note
from dashboard.components.run_link import run_page_link
from dashboard.components.snooze_controls import render_snooze_choices
from storage.models import Approval, utcnow

__all__ = ["RISK_COLORS", "age_text", "render_approval_card", "render_decision_notices"]

BadgeColor = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray"]
RISK_COLORS: dict[str, BadgeColor] = {"low": "green", "medium": "orange", "high": "red"}
SELECTED = "inbox-selected"  # the inbox list's selection (an approval id)
# The inbox's keys. Streamlit keeps R (rerun) and C (clear caches) for itself: Reject is X.
KEYS = {"approve": "a", "reject": "x", "edit": "e", "snooze": "n", "open": "o"}


def render_approval_card(
    store: storage.Store, approval: Approval, *, key_prefix: str, inbox: bool = False
) -> None:
    """The card for one approval, with Approve / Reject / Edit / Allow… while it is pending."""
    key = f"{key_prefix}-approval-{approval.id}"
    with st.container(border=True, key=f"{key}-card"):
        _render_action_line(approval)
        if approval.status != "pending":
            who = f" by {inert.person(approval.decided_by)}" if approval.decided_by else ""
            st.caption(f"Already {approval.status}{who}.")
            _render_details(store, approval)
            return
        stalled = not_driven(store, approval)
        if stalled is not None:  # marked in the inbox: deciding also queues the run to resume
            st.warning(inert.markdown(stalled, limit=600), icon=":material/link_off:")
        problem = st.session_state.get(error_key(key))
        if problem:
            st.error(problem)
        context = {
            "store": store,
            "approval": approval,
            "key": key,
            "notices_key": notices_key(key_prefix),
            "selected_key": SELECTED if inbox else None,
        }
        _render_controls(store, approval, key=key, context=context, inbox=inbox)
        _render_details(store, approval)
        render_edit(store, approval, key=key, context=context, locked=lacks("approver"))


def _render_action_line(approval: Approval) -> None:
    head, badge = st.columns([4, 1], vertical_alignment="center")  # "medium risk" uncut
    # From model output, on one line: a path's newlines would push the real target far below.
    head.text(inert.visible(approval.summary or f"call {approval.tool}", newlines=False))
    # Not st.badge: it escapes only the brackets, and a backslash before one undoes that, so a
    # risk string from the store could close the badge and link. The inbox list's form instead.
    color = RISK_COLORS.get(approval.risk, "gray")
    badge.markdown(f":{color}-badge[{inert.markdown(approval.risk, limit=40)} risk]")


def _render_controls(
    store: storage.Store, approval: Approval, *, key: str, context: dict, inbox: bool
) -> None:
    explain_missing("approver", "deciding approvals")
    locked = lacks("approver")
    keys = KEYS if inbox else {}
    with st.container(horizontal=True, key=f"{key}-actions"):  # wraps instead of truncating
        st.button(
            "Approve",
            key=f"{key}-approve",
            type="primary",
            disabled=locked,
            help=needs_note("approver") if locked else None,
            shortcut=keys.get("approve"),
            on_click=decide,
            kwargs={**context, "action": "approve"},
        )
        st.button(  # in the inbox Reject opens a note field first; Enter in it rejects
            "Reject",
            key=f"{key}-reject",
            disabled=locked,
            help=needs_note("approver") if locked else None,
            shortcut=keys.get("reject"),
            on_click=_toggle if inbox else decide,
            args=(f"{key}-rejecting",) if inbox else None,
            kwargs=None if inbox else {**context, "action": "reject"},
        )
        if inbox:
            st.button(
                "Edit",
                key=f"{key}-edit",
                disabled=locked,
                help=needs_note("approver")
                if locked
                else "Open the arguments to change them before approving.",
                shortcut=keys["edit"],
                on_click=_open_editor,
                args=(key,),
            )
        _render_allow(store, approval, key=key, context=context, locked=locked)
        if inbox:
            st.button(
                "Not now",
                key=f"{key}-snooze",
                help="Put it off for a while: it leaves your list and comes back. Never a "
                "rejection: the run keeps waiting.",
                shortcut=keys["snooze"],
                on_click=_toggle,
                args=(f"{key}-snoozing",),
            )
            if st.button("Open the run", key=f"{key}-open", shortcut=keys["open"]):
                _open_run(approval.run_id)
    if inbox:
        _render_opened(approval, key=key, context=context, locked=locked)
    st.text_input(
        "Note for the agent (optional; a rejection's note tells the model what to do instead)",
        key=f"{key}-note",
    )


def _render_allow(
    store: storage.Store, approval: Approval, *, key: str, context: dict, locked: bool
) -> None:
    """Allow…: approve and let calls like this one through (for the run, or as a project rule)."""
    with st.popover("Allow…", key=f"{key}-allow-menu", disabled=locked):
        scopes = {s.kind: s.label for s in decisions.scopes_of(store, approval)}
        st.session_state[f"{key}-scope-labels"] = scopes  # the words read: the yes is for them
        st.selectbox(
            "Approve + allow for this run: calls like this one, never a riskier kind",
            options=list(scopes),
            format_func=lambda kind: inert.markdown(scopes.get(kind, kind), limit=200),
            key=f"{key}-scope",
        )
        st.button(
            "Approve + allow for this run",
            key=f"{key}-allow",
            disabled=locked,
            on_click=decide,
            kwargs={**context, "action": "allow"},
        )
        if not lacks("admin"):  # a project rule: every run of this store, from now on
            st.button(
                "Approve + allow in this project",
                key=f"{key}-project",
                disabled=locked,
                on_click=decide,
                kwargs={**context, "action": "project"},
            )


def _render_opened(approval: Approval, *, key: str, context: dict, locked: bool) -> None:
    """What the Reject and Not now keys opened, with the cursor placed where it is needed."""
    if st.session_state.get(f"{key}-rejecting"):
        with st.form(f"{key}-reject-form", border=True, enter_to_submit=True):
            st.text_input(
                "Why reject? The agent reads this and tries something else (optional; "
                "Enter rejects)",
                key=f"{key}-reject-note",
            )
            st.form_submit_button(
                "Reject with this note",
                key=f"{key}-reject-submit",
                disabled=locked,
                on_click=decide,
                kwargs={**context, "action": "reject-noted"},
            )
        if st.session_state.pop(f"{key}-focus-reject", False):
            focus_field(f"{key}-reject-note")
    if st.session_state.get(f"{key}-snoozing"):
        render_snooze_choices(context["store"], approval, key=key)
    if st.session_state.pop(f"{key}-focus-edit", False):
        focus_field(f"{key}-edited")


def _toggle(flag: str) -> None:
    opened = not st.session_state.get(flag)
    st.session_state[flag] = opened
    if opened and flag.endswith("-rejecting"):
        st.session_state[flag.replace("-rejecting", "-focus-reject")] = True


def _open_editor(key: str) -> None:
    st.session_state[f"{key}-edit-expander"] = True
    st.session_state[f"{key}-focus-edit"] = True


def _open_run(run_id: str) -> None:
    try:
        st.switch_page("views/run.py", query_params={"run": run_id})
    except StreamlitPageNotFoundError:  # a page run on its own has no router: link instead
        run_page_link(run_id)


def _render_details(store: storage.Store, approval: Approval) -> None:
    run_col, tool_col, when_col = st.columns([3, 1, 2])
    with run_col:
        st.caption("Run")
        _render_run(store, approval.run_id)
    with tool_col:
        st.caption("Tool")
        st.text(inert.visible(approval.tool))
    with when_col:
        st.caption("Asked")
        st.text(_age_and_expiry(approval))
    st.caption("Why the policy asked")
    rule = f" (rule: {approval.rule})" if approval.rule else ""
    st.text(inert.visible(f"{approval.reason or 'the policy asks a human for this tool'}{rule}"))
    if approval.model_text:
        st.caption("What the model said before asking")
        st.text(inert.visible(approval.model_text))
    render_action_preview(approval, _workspace_of(store, approval.run_id))
    with st.expander("Arguments, exactly as they would run (JSON)", key=f"args-{approval.id}"):
        plain_json = json.dumps(approval.arguments, ensure_ascii=False, default=str)
        if inert.json_text(approval.arguments) == plain_json:
            st.json(approval.arguments, expanded=True)
        else:  # st.json would draw the controls themselves: show their escapes, as they will run
            st.code(inert.json_text(approval.arguments, indent=2), language="json", wrap_lines=True)


def _workspace_of(store: storage.Store, run_id: str) -> str | None:
    try:
        return storage.get_run(store, run_id=run_id).workspace
    except storage.NotFound:
        return None


def _render_run(store: storage.Store, run_id: str) -> None:
    try:
        goal = storage.get_run(store, run_id=run_id).goal
    except storage.NotFound:
        goal = "(run not found)"
    run_page_link(run_id)
    st.text(inert.visible(goal))


def _age_and_expiry(approval: Approval) -> str:
    now = utcnow()
    text = f"{age_text(approval)} ago"
    if approval.expires_at is not None:
        left = approval.expires_at - now
        if left.total_seconds() > 0:
            text += f"; expires in {_duration(left)}"
        else:
            text += f"; expired {_duration(-left)} ago (the run treats it as rejected)"
    return text


def age_text(approval: Approval) -> str:
    """How long the approval has waited, e.g. "4 min"."""
    return _duration(utcnow() - approval.requested_at)


def _duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"
