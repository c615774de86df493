"""One event of a run, rendered by kind.

Model and tool output is untrusted: it is shown with st.text / st.code (through `inert.visible`),
and any of it that has to sit inside Markdown (alerts, captions) goes through `inert.markdown`, so
no link, image or HTML it names is ever rendered or fetched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import streamlit as st

from agent_core.oversight import inert
from dashboard.components.status import format_cost, format_duration, format_tokens
from storage import EventRecord, record
from storage.record import parse_event
from storage.vocabulary import EventKind

MAX_SHOWN_CHARS = 6000  # a tool can print megabytes; the page shows the start and says so


def shown(text: object) -> str:
    """Text cut to what a page can show, saying how much was left out."""
    text = inert.visible(text)
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return (
        f"{text[:MAX_SHOWN_CHARS]}\n… ({len(text) - MAX_SHOWN_CHARS:,} more characters not shown)"
    )


def render_event(event: EventRecord) -> None:
    """Draw one event: a caption naming it, then its body."""
    stamp = f"#{event.seq} · {event.at:%H:%M:%S} UTC"
    render = _RENDERERS.get(event.kind)
    if render is None:
        _caption(stamp, f"event {inert.markdown(event.kind)}")
        _code_json(event.payload)
        return
    render(parse_event(event.kind, event.payload), stamp)


def or_default(value: Any, default: Any) -> Any:
    """A field the event left out (None) shown as `default`."""
    return default if value is None else value


def _caption(stamp: str, title: str) -> None:
    st.caption(f"{stamp} · {title}")  # callers pass only our words or inert.markdown() text


def _code_json(value: Any) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    st.code(shown(text), language="json", wrap_lines=True)


def _status(e: record.Status, stamp: str) -> None:
    reason = f" — {inert.markdown(e.reason)}" if e.reason else ""
    resumed = " (resumed)" if e.resumed else ""
    _caption(
        stamp,
        f":material/flag: status → **{inert.markdown(or_default(e.status, '?'))}**{resumed}{reason}",
    )


def _run_started(e: record.RunStarted, stamp: str) -> None:
    tools = ", ".join(e.tools or []) or "no tools"
    verb = "resumed" if e.resumed else "started"
    _caption(
        stamp,
        f":material/rocket_launch: run {verb} · {inert.markdown(or_default(e.model, '?'))} "
        f"{inert.markdown(or_default(e.model_name, ''))} · autonomy {inert.markdown(or_default(e.autonomy, '?'))} · "
        f"tools: {inert.markdown(tools)}",
    )
    if e.policy_changed:  # the run kept its recorded policy; the file moved on
        st.warning(inert.markdown(e.policy_changed, limit=800), icon=":material/policy:")
    shell = e.shell or {}
    if shell.get("mode") in ("unconfined", "unavailable"):  # the sandbox did not hold: say why
        st.warning(inert.markdown(shell.get("note", ""), limit=800), icon=":material/gpp_maybe:")
    elif shell.get("note"):
        _caption(stamp, f":material/shield: {inert.markdown(shell['note'])}")
    if e.drift_checks:
        _caption(stamp, f":material/monitor_heart: {inert.markdown(e.drift_checks)}")


def _model_call(e: record.ModelCall, stamp: str) -> None:
    tokens = int(e.tokens_in or 0) + int(e.tokens_out or 0)
    _caption(
        stamp,
        f":material/psychology: **model step {inert.markdown(or_default(e.step, '?'))}** · "
        f"{format_tokens(tokens)} tokens · {format_cost(e.cost_usd)} · "
        f"{format_duration(e.latency_s)}",
    )
    if e.text:
        st.text(shown(e.text))
    calls = e.tool_calls or []
    if calls:
        lines = [f"{c.get('name', '?')} {c.get('arguments', '')}" for c in calls]
        # Wrapped: a block that scrolls sideways cannot be scrolled from the keyboard.
        st.code(shown("\n".join(lines)), language=None, wrap_lines=True)


def _tool_call(e: record.ToolCall, stamp: str) -> None:
    rule = f" (rule {inert.markdown(e.rule)})" if e.rule else ""
    reason = f": {inert.markdown(e.reason)}" if e.reason else ""
    _caption(
        stamp,
        f":material/build: **tool call {inert.markdown(or_default(e.tool, '?'))}** · "
        f"{inert.markdown(or_default(e.risk, '?'))} risk · policy **{inert.markdown(or_default(e.verdict, '?'))}**{rule}{reason}",
    )
    _code_json(or_default(e.arguments, {}))


def _tool_result(e: record.ToolResult, stamp: str) -> None:
    outcome = e.outcome or ("ok" if e.ok else "error")
    icon = ":material/check:" if e.ok else ":material/close:"
    _caption(
        stamp,
        f"{icon} **result of {inert.markdown(or_default(e.tool, '?'))}** · {inert.markdown(outcome)} · "
        f"{format_duration(e.duration_s)}",
    )
    st.code(shown(e.output), language=None, wrap_lines=True)


def _approval_requested(e: record.ApprovalRequested, stamp: str) -> None:
    _caption(stamp, ":material/front_hand: **approval requested**")
    st.info(
        f"Waiting for a human to approve **{inert.markdown(or_default(e.tool, '?'))}** "
        f"({inert.markdown(or_default(e.risk, '?'))} risk): {inert.markdown(e.summary or or_default(e.reason, ''))}",
        icon=":material/front_hand:",
    )
    _code_json(or_default(e.arguments, {}))


def _approval_decided(e: record.ApprovalDecided, stamp: str) -> None:
    allowed = (e.allow_rule or {}).get("name") or f"{e.allow_scope} allowed for the rest of the run"
    scope = f" · {inert.markdown(str(allowed), limit=200)}"
    scope = scope if e.allow_scope else ""
    waited = format_duration(e.waited_s)
    _caption(
        stamp,
        f":material/gavel: **{inert.markdown(or_default(e.decision, '?'))}** by {inert.person(or_default(e.decided_by, '?'))} "
        f"after {waited}{scope}",
    )
    if e.note:
        st.text(f"Note: {inert.visible(e.note)}")
    if e.edited_arguments is not None:
        st.caption("Edited arguments that were approved")
        _code_json(e.edited_arguments)


def _guidance(e: record.Guidance, stamp: str) -> None:
    _caption(stamp, f":material/chat: **guidance** from {inert.markdown(e.by or 'a human')}")
    st.text(shown(e.message))


def _allowance_revoked(e: record.AllowanceRevoked, stamp: str) -> None:
    by = inert.markdown(e.by or "a human")
    _caption(
        stamp,
        f":material/remove_moderator: **allowance revoked** by {by}: what approval "
        f"{e.approval_id} allowed for the rest of the run asks again",
    )


def _drift(e: record.Drift, stamp: str) -> None:
    _caption(stamp, ":material/warning: **drift**")
    action = "paused" if e.action == "pause" else "halted"
    st.warning(
        f"Monitor **{inert.markdown(or_default(e.monitor, '?'))}** stopped the run ({action}): "
        f"{inert.markdown(or_default(e.detail, ''))}",
        icon=":material/warning:",
    )


def _final_answer(e: record.FinalAnswer, stamp: str) -> None:
    _caption(stamp, ":material/task_alt: **final answer**")
    if e.goal_met:
        st.success("Final answer: goal met", icon=":material/task_alt:")
    else:
        why = "; ".join(str(x) for x in e.problems or []) or "the agent said so"
        st.warning(
            f"Final answer: goal not met ({inert.markdown(why, limit=600)})", icon=":material/flag:"
        )
    st.text(shown(e.text))


def _goal_check(e: record.GoalCheck, stamp: str) -> None:
    verdict = "met" if e.met else "not met"
    _caption(stamp, f":material/fact_check: **goal check**: {verdict}")
    st.text(shown(or_default(e.reason, "")))


def _error(e: record.Error, stamp: str) -> None:
    _caption(stamp, f":material/error: **error** in {inert.markdown(e.where or 'the run')}")
    st.error(inert.markdown(or_default(e.message, ""), limit=600), icon=":material/error:")


def _model_request(e: record.ModelRequest, stamp: str) -> None:
    what = "to judge the run's progress" if e.purpose == "judge" else ""
    step = inert.markdown(or_default(e.step, "?"))
    _caption(stamp, f":material/send: asking the model {what} (step {step})".replace("  ", " "))


def _tool_started(e: record.ToolStarted, stamp: str) -> None:
    _caption(stamp, f":material/play_arrow: {inert.markdown(e.tool or 'tool')} started")


def _halt_requested(e: record.HaltRequest, stamp: str) -> None:
    _caption(
        stamp,
        f":material/stop_circle: **halt requested** by {inert.markdown(e.by or 'a human')}; "
        "nothing new starts after this",
    )


def _recovered(e: record.Recovered, stamp: str) -> None:
    _caption(
        stamp,
        f":material/autorenew: **resumed automatically** after {inert.markdown(e.after or '?')} "
        f"(by {inert.markdown(e.by or 'a worker')}); in flight was {inert.markdown(e.in_flight or '?')}",
    )


_RENDERERS: dict[str, Callable[[Any, str], None]] = {
    EventKind.STATUS: _status,
    EventKind.RUN_STARTED: _run_started,
    EventKind.MODEL_CALL: _model_call,
    EventKind.TOOL_CALL: _tool_call,
    EventKind.TOOL_RESULT: _tool_result,
    EventKind.APPROVAL_REQUESTED: _approval_requested,
    EventKind.APPROVAL_DECIDED: _approval_decided,
    EventKind.GUIDANCE: _guidance,
    EventKind.ALLOWANCE_REVOKED: _allowance_revoked,
    EventKind.DRIFT: _drift,
    EventKind.FINAL_ANSWER: _final_answer,
    EventKind.GOAL_CHECK: _goal_check,
    EventKind.ERROR: _error,
    EventKind.MODEL_REQUEST: _model_request,
    EventKind.TOOL_STARTED: _tool_started,
    EventKind.HALT_REQUESTED: _halt_requested,
    EventKind.RECOVERED: _recovered,
}
