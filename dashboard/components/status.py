"""How a run's state reads on screen: status badges, model labels, durations, tokens and cost."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import streamlit as st

from storage.models import Run, utcnow
from storage.vocabulary import DRIVEN

BadgeColor = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray"]
STATUS_COLORS: dict[str, BadgeColor] = {
    "queued": "gray",
    "running": "blue",
    "waiting": "orange",
    "paused": "violet",
    "succeeded": "green",
    "unmet": "orange",
    "failed": "red",
    "halted": "red",
    "interrupted": "yellow",
}
# The badge colours as text on white (Streamlit's own badge text colours, each 4.5:1 or more), for
# places a badge cannot go, such as a table cell.
TEXT_COLORS: dict[BadgeColor, str] = {
    "red": "#9e303b",
    "orange": "#9b4519",
    "yellow": "#956b0f",
    "blue": "#244fb4",
    "green": "#0c5a44",
    "violet": "#6f33b8",
    "gray": "#686255",
}
STATUS_ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/play_circle:",
    "waiting": ":material/front_hand:",
    "paused": ":material/pause_circle:",
    "succeeded": ":material/check_circle:",
    "unmet": ":material/flag:",
    "failed": ":material/error:",
    "halted": ":material/stop_circle:",
    "interrupted": ":material/link_off:",
}
STATUS_WORDS = {
    "queued": "queued (waiting for a worker)",
    "running": "running",
    "waiting": "waiting for a human",
    "paused": "paused",
    "succeeded": "succeeded",
    "unmet": "finished, goal not met",
    "failed": "failed",
    "halted": "halted",
    "interrupted": "interrupted (its worker stopped)",
}
AUTONOMY_HELP = {
    "manual": "approve every action",
    "supervised": "approve risky (medium and high risk) actions",
    "autonomous": "only high-risk actions ask",
}


def status_badge(status: str) -> None:
    """A coloured badge for a run status (our own words, so Markdown is safe here)."""
    st.badge(
        STATUS_WORDS.get(status, status),
        icon=STATUS_ICONS.get(status),
        color=STATUS_COLORS.get(status, "gray"),
    )


def status_text_style(status: str) -> str:
    """CSS for a status word in a table cell: its badge's colour, bold."""
    return f"color: {TEXT_COLORS[STATUS_COLORS.get(status, 'gray')]}; font-weight: 600"


def model_label(model: str, model_name: str | None) -> str:
    """The provider and model, with the offline demo model always named as such."""
    if model == "demo":
        return "Demo model (offline)"
    if model == "scripted":
        return "Scripted model (test replay)"
    return f"{model} · {model_name}" if model_name else model


def human_needed(run: Run, pending: int = 0) -> str | None:
    """Why this run waits for a person, or None when it does not."""
    if run.status == "waiting" or pending:
        count = max(pending, 1)
        noun = "approval" if count == 1 else "approvals"
        return f"waiting for a human: {count} pending {noun}"
    if run.status == "paused":
        return f"paused ({run.reason or 'by a person'}): resume or halt it"
    return None


def elapsed_seconds(run: Run, now: datetime | None = None) -> float:
    """Time the run has spent: wall time while it runs, else its recorded active time."""
    if run.started_at is None:
        return run.active_seconds
    if run.status in DRIVEN:
        # started_at is when this session began; earlier sessions are summed in active_seconds.
        session = max(0.0, ((now or utcnow()) - run.started_at).total_seconds())
        return run.active_seconds + session
    if run.active_seconds > 0:
        return run.active_seconds
    end = run.finished_at or run.updated_at
    return max(0.0, (end - run.started_at).total_seconds())


def working_seconds(run: Run, approvals: list, now: datetime | None = None) -> float:
    """The time the budget counts (as the worker does): time waiting for a person is left out,
    so the time bar stops while a run waits and does not jump back when the run ends."""
    if run.status not in DRIVEN or run.started_at is None:
        return elapsed_seconds(run)
    now = now or utcnow()
    session = max(0.0, (now - run.started_at).total_seconds())
    waited = 0.0
    for approval in approvals:
        start = max(approval.requested_at, run.started_at)
        end = approval.decided_at or now
        waited += max(0.0, (end - start).total_seconds())
    return run.active_seconds + max(session - waited, 0.0)


def never_backwards(key: str, seconds: float) -> float:
    """What a page last showed for this clock, if more: a bar never runs backwards."""
    shown = max(float(st.session_state.get(key, 0.0)), seconds)
    st.session_state[key] = shown
    return shown


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def format_tokens(count: int | None) -> str:
    count = int(count or 0)
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.2f}M"


def format_cost(usd: float | None) -> str:
    usd = float(usd or 0.0)
    if usd == 0:
        return "$0"
    if usd < 0.01:
        return f"${usd:.4f}"
    return f"${usd:.2f}"


def run_usage(run: Run) -> str:
    """One line: steps, tokens and cost so far."""
    tokens = format_tokens(run.tokens_in + run.tokens_out)
    return f"step {run.steps}/{run.max_steps} · {tokens} tokens · {format_cost(run.cost_usd)}"
