"""The decision callbacks behind an approval card, and the outcomes they leave to show.

Decisions run in widget callbacks, so the write lands before the page (or fragment) reruns and the
card disappears from the inbox on that rerun. What happened is kept in session state: errors the
person can fix stay inside the card; outcomes are listed by `render_decision_notices`.
"""

from __future__ import annotations

import time

import streamlit as st

import storage
from agent_core.oversight import decisions, inert
from dashboard.store import current_person
from storage.models import Approval

NOTICE_SECONDS = 60.0  # how long an outcome stays listed above the cards

_OUTCOMES = {
    "approve": "Approved",
    "reject": "Rejected",
    "edited": "Approved with edited arguments",
    "allow": "Approved, and calls like it are allowed for the rest of the run",
    "project": "Approved, and calls like it are allowed in this project from now on (a rule)",
}


def render_decision_notices(*, key_prefix: str, limit: int = 10) -> None:
    """Outcomes of recent decisions made with cards under `key_prefix`, newest first (at most
    `limit` of them; the inbox shows one so that its controls stay on the first screen).

    Each outcome also pops up once as a toast. (Callbacks cannot show it themselves: inside a
    fragment, elements drawn by a callback replace the top of the page.)
    """
    notices = st.session_state.get(notices_key(key_prefix), [])
    fresh = [n for n in notices if time.monotonic() - n["at"] < NOTICE_SECONDS]
    st.session_state[notices_key(key_prefix)] = fresh
    for shown, notice in enumerate(reversed(fresh)):
        success = notice["level"] == "success"
        if shown < limit:
            (st.success if success else st.warning)(notice["message"])
        if not notice["toasted"]:
            notice["toasted"] = True
            icon = ":material/check:" if success else ":material/warning:"
            st.toast(notice["message"], icon=icon)


def decide(
    *,
    store: storage.Store,
    approval: Approval,
    key: str,
    notices_key: str,
    action: str,
    selected_key: str | None = None,
) -> None:
    """Widget callback: record the decision through agent_core.oversight.decisions and note the outcome.

    `action` "reject" takes the note from the card's note field; "reject-noted" from the note
    field the Reject key opened (the inbox's keyboard path). With `selected_key` (the inbox) only
    the selected approval is decided: while a key press redraws the page, the card it replaces is
    still on screen for a moment with the same keys, and a key must not decide that one too.
    """
    if selected_key is not None and st.session_state.get(selected_key) != approval.id:
        return
    field = f"{key}-reject-note" if action == "reject-noted" else f"{key}-note"
    action = "reject" if action == "reject-noted" else action
    note = (st.session_state.get(field) or "").strip() or None
    st.session_state.pop(error_key(key), None)
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
            shown = (st.session_state.get(f"{key}-scope-labels") or {}).get(scope)
            decisions.approve(
                store,
                approval_id=approval_id,
                by=by,
                note=note,
                allow_scope=scope,
                for_project=action == "project",
                shown_scope=shown,
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
    add_notice(notices_key, "success", message)


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
        st.session_state[error_key(key)] = (
            f"Nothing was saved: {inert.markdown(error)}. Fix the arguments and press Approve edited arguments "
            "again, or press Approve to run the original arguments."
        )
        return
    where = f"Approval {approval.id} in run {inert.markdown(approval.run_id)}"
    message = f"{where} was not decided here: {inert.markdown(error)}."
    if still_pending:  # e.g. the store was unreachable: the card stays, so say it there
        st.session_state[error_key(key)] = message
    else:
        add_notice(notices_key, "warning", message)


def _is_pending(store: storage.Store, approval_id: int) -> bool:
    try:
        return storage.get_approval(store, approval_id=approval_id).status == "pending"
    except storage.StoreError:
        return False


def add_notice(notices_key: str, level: str, message: str) -> None:
    notices = st.session_state.setdefault(notices_key, [])
    notices.append({"level": level, "message": message, "at": time.monotonic(), "toasted": False})
    del notices[:-10]


def error_key(key: str) -> str:
    return f"{key}-problem"


def notices_key(key_prefix: str) -> str:
    return f"{key_prefix}-decision-notices"
