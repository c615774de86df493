"""The top of the Run page: the run's state, why it is there, and the one thing to do next.

Drawn first, so a person who opens a run sees on the first screen whether it needs them: the
status (colour and words), the reason (the drift monitor that paused it, the approval it waits
for, the error it failed with) and the next step (decide, resume, read the answer, ...), with the
control that does it. Everything the run or its model wrote passes agent_core.oversight.inert.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

import storage
from agent_core.oversight import inert
from dashboard.components.events import shown
from dashboard.components.status import status_badge
from dashboard.routes import APPROVALS_PAGE
from storage.feed import event_page
from storage.models import Approval
from storage.record import Drift, FinalAnswer, parse_event
from storage.vocabulary import EventKind

INBOX_SELECTED = "inbox_selected"  # the Approvals page opens on this approval id
APPROVALS_SHOWN = 3  # pending approvals named at the top; the rest are counted


@dataclass(frozen=True)
class NextStep:
    """What the person should do now, in our own words (Markdown we wrote)."""

    icon: str
    text: str


# The next step per status, when nothing more specific applies.
NEXT_STEPS: dict[str, NextStep] = {
    "queued": NextStep(
        ":material/schedule:",
        "Nothing to do: a worker picks it up (start one with `onloop up` or `onloop worker`).",
    ),
    "running": NextStep(
        ":material/visibility:",
        "Nothing to do: watch its steps; pause or halt it below if it goes astray.",
    ),
    "waiting": NextStep(":material/gavel:", "Decide the pending approval: the run waits for it."),
    "paused": NextStep(
        ":material/play_arrow:",
        "Read why it paused, then resume it below (with guidance if it went astray), or halt it.",
    ),
    "succeeded": NextStep(
        ":material/article:", "Read the answer, and check what it changed under Changes."
    ),
    "unmet": NextStep(
        ":material/replay:",
        "Read why the goal was not met, then re-run it with changed settings or resume it.",
    ),
    "failed": NextStep(
        ":material/replay:",
        "Read the error, then resume it (it continues from its recorded steps) or re-run it.",
    ),
    "halted": NextStep(
        ":material/replay:", "Resume it below if it should go on, or re-run it with changes."
    ),
    "interrupted": NextStep(
        ":material/autorenew:",
        "Nothing to do: a worker resumes it from its recorded steps; or resume it now below.",
    ),
}


def next_line(step: NextStep) -> str:
    """The next step as one line of Markdown: only our own words (NEXT_STEPS)."""
    return f"{step.icon} **Next:** {step.text}"


def latest(store: storage.Store, run_id: str, kind: str) -> storage.EventRecord | None:
    """The run's newest event of `kind` (one indexed read)."""
    found = event_page(store, run_id=run_id, direction="newest", n=1, kinds=(kind,))
    return found[0] if found else None


def final_answer(store: storage.Store, run: storage.Run) -> str | None:
    """The run's final answer, when it finished with one."""
    if run.status not in ("succeeded", "unmet"):
        return None
    event = latest(store, run.id, EventKind.FINAL_ANSWER)
    if event is None:
        return None
    answer = parse_event(event.kind, event.payload)
    return answer.text if isinstance(answer, FinalAnswer) and answer.text else None


def render_state(
    store: storage.Store, run: storage.Run, approvals: list[Approval], answer: str | None
) -> None:
    """The state box: status, why, the next step and its control."""
    with st.container(border=True, key=f"run_state_{run.id}"):
        status_badge(run.status)
        why(store, run)
        step = NEXT_STEPS.get(run.status, NextStep(":material/help:", "Nothing to do."))
        if approvals:
            step = NEXT_STEPS["waiting"]
        st.markdown(next_line(step))
        if approvals:
            pending(approvals)
        if answer is not None:
            st.caption("Final answer")
            st.text(shown(answer))


def why(store: storage.Store, run: storage.Run) -> None:
    """The reason the run is where it is: the drift that paused it, the recorded reason."""
    drift = latest(store, run.id, EventKind.DRIFT) if run.status in ("paused", "halted") else None
    found = parse_event(drift.kind, drift.payload) if drift is not None else None
    if isinstance(found, Drift) and (run.reason or "").startswith(str(found.monitor or "")):
        st.warning(
            f"**Drift:** monitor **{inert.markdown(found.monitor or '?')}** stopped it: "
            f"{inert.markdown(found.detail or '', limit=600)}",
            icon=":material/warning:",
        )
    elif run.reason:
        st.markdown(f"**Why:** {inert.markdown(run.reason, limit=600)}")


def pending(approvals: list[Approval]) -> None:
    """The pending approvals in one line each, with the way to decide each one."""
    for approval in approvals[:APPROVALS_SHOWN]:
        line, decide = st.columns([5, 2], vertical_alignment="center")  # its label uncut
        what = approval.summary or approval.tool
        line.markdown(
            f":material/front_hand: **{inert.markdown(approval.risk)} risk** · "
            f"{inert.markdown(approval.tool)}: {inert.markdown(what, limit=200)}"
        )
        if decide.button(
            "Decide in the inbox",
            key=f"run_state_decide_{approval.id}",
            icon=":material/inbox:",
            type="primary",
            width="stretch",
            help="Opens the Approvals page on this request; its card is also just below.",
        ):
            st.session_state[INBOX_SELECTED] = approval.id
            st.switch_page(APPROVALS_PAGE, query_params={"approval": str(approval.id)})
    more = len(approvals) - APPROVALS_SHOWN
    if more > 0:
        st.caption(f"and {more} more pending: every one is listed below and in the inbox")
