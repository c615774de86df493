"""Steering one run from the Run page: halt (confirmed), pause, guidance, resume and re-run.

Every action only writes rows through agent_core.oversight.control; the worker that drives the run reads
them before its next model call or tool. Outcomes are kept in session state and shown once.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import storage
from agent_core.oversight import control, inert
from dashboard.components.role_buttons import explain_missing, lacks
from dashboard.components.status import AUTONOMY_HELP
from dashboard.routes import RUN_PAGE
from dashboard.store import current_person
from storage.runs import MAX_GOAL_CHARS
from storage.vocabulary import UNDER_WAY

PAUSABLE = UNDER_WAY


def _flash_key(run_id: str) -> str:
    return f"run_flash_{run_id}"


def _confirm_key(run_id: str) -> str:
    return f"run_confirm_halt_{run_id}"


def _attempt(run_id: str, action: Callable[[], object], done: str) -> None:
    """Run a steering action, keeping what happened for the next draw of the page."""
    try:
        action()
    except (control.ControlError, storage.StoreError) as error:
        st.session_state[_flash_key(run_id)] = (
            "error",
            f"Nothing was sent: {inert.markdown(error)}",
        )
        return
    st.session_state[_flash_key(run_id)] = ("success", done)


def _halt(store: storage.Store, run_id: str) -> None:
    st.session_state.pop(_confirm_key(run_id), None)
    _attempt(
        run_id,
        lambda: control.halt(store, run_id=run_id, by=current_person()),
        "Halt sent: the run stops before its next model call or tool (or at once if idle).",
    )


def _pause(store: storage.Store, run_id: str) -> None:
    _attempt(
        run_id,
        lambda: control.pause(store, run_id=run_id, by=current_person()),
        "Pause sent: the run pauses before its next step; resume it here.",
    )


def _guide(store: storage.Store, run_id: str) -> None:
    message = st.session_state.get(f"run_guidance_{run_id}", "")
    _attempt(
        run_id,
        lambda: control.guide(store, run_id=run_id, by=current_person(), message=message),
        "Guidance sent: the model reads it before its next step.",
    )


def _resume(store: storage.Store, run_id: str, seen_status: str | None = None) -> None:
    extra = int(st.session_state.get(f"run_resume_steps_{run_id}") or 0)
    message = st.session_state.get(f"run_resume_message_{run_id}") or None
    _attempt(
        run_id,
        lambda: control.resume_run(
            store,
            run_id=run_id,
            by=current_person(),
            extra_steps=extra,
            message=message,
            seen_status=seen_status,  # a halt that came after the page was drawn wins
        ),
        "Resumed: the run is queued again and a worker picks it up from its recorded steps.",
    )


def render_flash(run_id: str) -> None:
    flash = st.session_state.pop(_flash_key(run_id), None)
    if flash is None:
        return
    level, message = flash
    (st.success if level == "success" else st.error)(message)


def halt_confirmation(store: storage.Store, run: storage.Run) -> None:
    """Asked after Halt is pressed: halting is the one action that needs a second click."""
    key = _confirm_key(run.id)
    st.warning("Halt this run? It stops before its next step; you can resume it later.")
    yes, no, _ = st.columns([1, 1, 2])
    yes.button(
        "Yes, halt it",
        key=f"run_halt_confirm_{run.id}",
        type="primary",
        on_click=_halt,
        args=(store, run.id),
        width="stretch",
    )
    no.button(
        "Cancel",
        key=f"run_halt_cancel_{run.id}",
        width="stretch",
        on_click=lambda: st.session_state.pop(key, None),
    )


def guidance_form(store: storage.Store, run: storage.Run) -> None:
    with st.form(key=f"run_guidance_form_{run.id}", clear_on_submit=True, border=False):
        st.text_area(
            "Guidance for the agent",
            key=f"run_guidance_{run.id}",
            height=80,
            max_chars=MAX_GOAL_CHARS,  # guidance's limit (control.guide): never typed in vain
            placeholder="e.g. Stop re-reading that file; report what you found.",
        )
        st.form_submit_button(
            "Send guidance",
            key=f"run_guidance_send_{run.id}",
            icon=":material/chat:",
            disabled=lacks("operator"),
            on_click=_guide,
            args=(store, run.id),
        )


def resume_form(store: storage.Store, run: storage.Run) -> None:
    with st.form(key=f"run_resume_form_{run.id}", border=False):
        guidance, extra = st.columns([3, 1])
        guidance.text_input(
            "Guidance for the agent, read as it resumes (optional)",
            key=f"run_resume_message_{run.id}",
            max_chars=MAX_GOAL_CHARS,
        )
        extra.number_input(
            "Extra steps (0 = enough to continue)",
            min_value=0,
            value=0,
            key=f"run_resume_steps_{run.id}",
        )
        st.form_submit_button(
            "Resume",
            key=f"run_resume_{run.id}",
            type="primary",
            icon=":material/play_arrow:",
            disabled=lacks("operator"),
            on_click=_resume,
            args=(store, run.id, run.status),
        )


def rerun_form(store: storage.Store, run: storage.Run) -> None:
    with st.expander("Re-run with changed settings", key=f"run_rerun_expander_{run.id}"):
        with st.form(key=f"run_rerun_form_{run.id}", border=False):
            goal = st.text_area("Goal", value=run.goal, key=f"run_rerun_goal_{run.id}")
            autonomy = st.radio(
                "Autonomy",
                storage.AUTONOMY_LEVELS,
                horizontal=True,
                index=storage.AUTONOMY_LEVELS.index(run.autonomy),
                captions=[AUTONOMY_HELP[a] for a in storage.AUTONOMY_LEVELS],
                key=f"run_rerun_autonomy_{run.id}",
            )
            left, right = st.columns(2)
            steps = left.number_input(
                "Max steps", min_value=1, value=run.max_steps, key=f"run_rerun_steps_{run.id}"
            )
            minutes = right.number_input(
                "Max minutes",
                min_value=0.5,
                value=max(0.5, run.max_seconds / 60.0),
                key=f"run_rerun_minutes_{run.id}",
            )
            submitted = st.form_submit_button(
                "Re-run",
                key=f"run_rerun_{run.id}",
                icon=":material/replay:",
                disabled=lacks("operator"),
            )
    if not submitted:
        return
    try:
        new = control.rerun(
            store,
            run_id=run.id,
            by=current_person(),
            goal=goal,
            autonomy=autonomy,
            max_steps=int(steps),
            max_seconds=float(minutes) * 60.0,
        )
    except (control.ControlError, storage.StoreError) as error:
        st.error(f"The re-run was not queued: {inert.markdown(error)}")
        return
    st.switch_page(RUN_PAGE, query_params={"run": new.id})


def render_controls(store: storage.Store, run: storage.Run) -> None:
    """Every way to steer the run that fits its status, in one box (the page redraws when the
    status changes): halt and pause, resume with guidance, guidance while it is under way, or a
    re-run once it has ended. A run takes guidance in one place only."""
    render_flash(run.id)
    explain_missing("operator", "steering runs (halt, pause, resume, guide, re-run)")
    locked = lacks("operator")
    active = run.status in storage.ACTIVE_STATUSES
    with st.container(border=True, key=f"run_controls_{run.id}"):
        if active and st.session_state.get(_confirm_key(run.id)):
            halt_confirmation(store, run)
        if active:
            halt_col, pause_col, _ = st.columns([1, 1, 2])
            confirm = _confirm_key(run.id)
            halt_col.button(
                "Halt",
                key=f"run_halt_{run.id}",
                icon=":material/stop_circle:",
                disabled=locked,
                on_click=lambda: st.session_state.update({confirm: True}),
                width="stretch",
            )
            if run.status in PAUSABLE:
                pause_col.button(
                    "Pause",
                    key=f"run_pause_{run.id}",
                    icon=":material/pause:",
                    disabled=locked,
                    on_click=_pause,
                    args=(store, run.id),
                    width="stretch",
                )
        if run.status == "paused":  # the next step: resume, in the open
            resume_form(store, run)
        elif run.status in storage.RESUMABLE_STATUSES:
            with st.expander(
                "Resume", key=f"run_resume_box_{run.id}", icon=":material/play_arrow:"
            ):
                resume_form(store, run)
        if run.status in PAUSABLE:
            guidance_form(store, run)
        if not active:
            rerun_form(store, run)
