"""One approval as a card: what the agent wants to do, why it was asked, and the human's answer.

Decisions run in widget callbacks, so the write lands before the page (or fragment) reruns and the
card disappears from the inbox on that rerun. What happened is kept in session state: errors the
person can fix stay inside the card; outcomes are listed by `render_decision_notices`.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Literal

import streamlit as st

import storage
from agent_core.oversight import decisions, inert
from agent_core.oversight.decisions import not_driven
from dashboard.components.action_preview import render_action_preview
from dashboard.components.role_buttons import explain_missing, lacks, needs_note
from dashboard.components.run_link import run_page_link
from dashboard.store import current_person
from storage.models import Approval, utcnow

BadgeColor = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray"]
ButtonKind = Literal["primary", "secondary"]
RISK_COLORS: dict[str, BadgeColor] = {"low": "green", "medium": "orange", "high": "red"}
NOTICE_SECONDS = 60.0  # how long an outcome stays listed above the cards


def render_approval_card(store: storage.Store, approval: Approval, *, key_prefix: str) -> None:
    """The card for one approval, with Approve / Reject / edit / allow while it is pending."""
    key = f"{key_prefix}-approval-{approval.id}"
    with st.container(border=True, key=f"{key}-card"):
        _render_request(store, approval)
        if approval.status != "pending":
            who = f" by {inert.person(approval.decided_by)}" if approval.decided_by else ""
            st.caption(f"Already {approval.status}{who}.")
            return
        stalled = not_driven(store, approval)
        if stalled is not None:  # marked in the inbox: deciding also queues the run to resume
            st.warning(inert.markdown(stalled, limit=600), icon=":material/link_off:")
        problem = st.session_state.get(_error_key(key))
        if problem:
            st.error(problem)
        _render_actions(store, approval, key=key, notices_key=_notices_key(key_prefix))


def render_decision_notices(*, key_prefix: str) -> None:
    """Outcomes of recent decisions made with cards under `key_prefix`, newest first.

    Each outcome also pops up once as a toast. (Callbacks cannot show it themselves: inside a
    fragment, elements drawn by a callback replace the top of the page.)
    """
    notices = st.session_state.get(_notices_key(key_prefix), [])
    fresh = [n for n in notices if time.monotonic() - n["at"] < NOTICE_SECONDS]
    st.session_state[_notices_key(key_prefix)] = fresh
    for notice in reversed(fresh):
        success = notice["level"] == "success"
        (st.success if success else st.warning)(notice["message"])
        if not notice["toasted"]:
            notice["toasted"] = True
            icon = ":material/check:" if success else ":material/warning:"
            st.toast(notice["message"], icon=icon)


def _render_request(store: storage.Store, approval: Approval) -> None:
    head, badge = st.columns([6, 1], vertical_alignment="center")
    head.text(inert.visible(approval.summary or f"call {approval.tool}"))  # from model output
    badge.badge(f"{approval.risk} risk", color=RISK_COLORS.get(approval.risk, "gray"))
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
    st.caption("Arguments, exactly as they would run")
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
    text = f"{_duration(now - approval.requested_at)} ago"
    if approval.expires_at is not None:
        left = approval.expires_at - now
        if left.total_seconds() > 0:
            text += f"; expires in {_duration(left)}"
        else:
            text += f"; expired {_duration(-left)} ago (the run treats it as rejected)"
    return text


def _duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


def _render_actions(
    store: storage.Store, approval: Approval, *, key: str, notices_key: str
) -> None:
    st.text_input(
        "Note for the agent (optional; a rejection's note tells the model what to do instead)",
        key=f"{key}-note",
    )
    context = {"store": store, "approval": approval, "key": key, "notices_key": notices_key}
    explain_missing("approver", "deciding approvals")
    locked = lacks("approver")
    buttons: list[tuple[str, str, ButtonKind]] = [
        ("approve", "Approve", "primary"),
        ("reject", "Reject", "secondary"),
        ("allow", "Approve + allow for this run", "secondary"),
    ]
    if not lacks("admin"):  # a project rule: every run of this store, from now on
        buttons.append(("project", "Approve + allow in this project", "secondary"))
    scopes = {s.kind: s.label for s in decisions.scopes_of(store, approval)}
    st.selectbox(
        "Approve + allow for this run: calls like this one, never a riskier kind",
        options=list(scopes),
        format_func=lambda kind: inert.markdown(scopes.get(kind, kind), limit=200),
        key=f"{key}-scope",
    )
    with st.container(horizontal=True, key=f"{key}-actions"):  # wraps instead of truncating
        for action, label, kind in buttons:
            st.button(
                label,
                key=f"{key}-{action}",
                type=kind,
                disabled=locked,
                help=needs_note("approver") if locked else None,
                on_click=_decide,
                kwargs={**context, "action": action},
            )
    with st.expander("Approve with edited arguments", key=f"{key}-edit-expander"):
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
            on_click=_decide,
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


_OUTCOMES = {
    "approve": "Approved",
    "reject": "Rejected",
    "edited": "Approved with edited arguments",
    "allow": "Approved, and calls like it are allowed for the rest of the run",
    "project": "Approved, and calls like it are allowed in this project from now on (a rule)",
}


def _decide(
    *, store: storage.Store, approval: Approval, key: str, notices_key: str, action: str
) -> None:
    """Widget callback: record the decision through agent_core.oversight.decisions and note the outcome."""
    note = (st.session_state.get(f"{key}-note") or "").strip() or None
    st.session_state.pop(_error_key(key), None)
    by, approval_id = current_person(), approval.id
    assert approval_id is not None  # rows read from the store always have their id
    changed = ""
    try:
        if action == "reject":
            decisions.reject(store, approval_id=approval_id, by=by, note=note)
        elif action == "edited":
            edited = decisions.parse_edited_arguments(st.session_state.get(f"{key}-edited", ""))
            done = decisions.approve(
                store, approval_id=approval_id, by=by, note=note, edited_arguments=edited
            )
            if done.edited_arguments is not None:
                changed = decisions.review_of(store, approval, done.edited_arguments).summary()
        else:
            wide = action in ("allow", "project")
            scope = st.session_state.get(f"{key}-scope") or "call" if wide else None
            decisions.approve(
                store,
                approval_id=approval_id,
                by=by,
                note=note,
                allow_scope=scope,
                for_project=action == "project",
            )
    except (decisions.DecisionError, storage.StoreError) as error:
        _record_problem(store, approval, error, key=key, notices_key=notices_key, action=action)
        return
    message = (
        f"{_OUTCOMES[action]}: approval {approval.id} in run {inert.markdown(approval.run_id)}."
    )
    if changed:
        message += f" {inert.markdown(changed)}."
    resumed = decisions.resume_for_decision(store, approval, by=by)
    if resumed:
        message += f" {inert.markdown(resumed)}."
    _add_notice(notices_key, "success", message)


def _record_problem(
    store: storage.Store,
    approval: Approval,
    error: Exception,
    *,
    key: str,
    notices_key: str,
    action: str,
) -> None:
    still_pending = approval.id is not None and _is_pending(store, approval.id)
    if action == "edited" and still_pending:
        st.session_state[_error_key(key)] = (
            f"Nothing was saved: {inert.markdown(error)}. Fix the arguments and press Approve edited arguments "
            "again, or press Approve to run the original arguments."
        )
        return
    where = f"Approval {approval.id} in run {inert.markdown(approval.run_id)}"
    message = f"{where} was not decided here: {inert.markdown(error)}."
    if still_pending:  # e.g. the store was unreachable: the card stays, so say it there
        st.session_state[_error_key(key)] = message
    else:
        _add_notice(notices_key, "warning", message)


def _is_pending(store: storage.Store, approval_id: int) -> bool:
    try:
        return storage.get_approval(store, approval_id=approval_id).status == "pending"
    except storage.StoreError:
        return False


def _add_notice(notices_key: str, level: str, message: str) -> None:
    notices = st.session_state.setdefault(notices_key, [])
    notices.append({"level": level, "message": message, "at": time.monotonic(), "toasted": False})
    del notices[:-10]


def _error_key(key: str) -> str:
    return f"{key}-problem"


def _notices_key(key_prefix: str) -> str:
    return f"{key_prefix}-decision-notices"
