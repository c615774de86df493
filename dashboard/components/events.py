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
from storage import EventRecord

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
    render(event.payload or {}, stamp)


def _caption(stamp: str, title: str) -> None:
    st.caption(f"{stamp} · {title}")  # callers pass only our words or inert.markdown() text


def _code_json(value: Any) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    st.code(shown(text), language="json", wrap_lines=True)


def _status(p: dict, stamp: str) -> None:
    reason = f" — {inert.markdown(p['reason'])}" if p.get("reason") else ""
    resumed = " (resumed)" if p.get("resumed") else ""
    _caption(
        stamp,
        f":material/flag: status → **{inert.markdown(p.get('status', '?'))}**{resumed}{reason}",
    )


def _run_started(p: dict, stamp: str) -> None:
    tools = ", ".join(p.get("tools") or []) or "no tools"
    verb = "resumed" if p.get("resumed") else "started"
    _caption(
        stamp,
        f":material/rocket_launch: run {verb} · {inert.markdown(p.get('model', '?'))} "
        f"{inert.markdown(p.get('model_name', ''))} · autonomy {inert.markdown(p.get('autonomy', '?'))} · "
        f"tools: {inert.markdown(tools)}",
    )
    if p.get("policy_changed"):  # the run kept its recorded policy; the file moved on
        st.warning(inert.markdown(p["policy_changed"], limit=800), icon=":material/policy:")
    shell = p.get("shell") or {}
    if shell.get("mode") in ("unconfined", "unavailable"):  # the sandbox did not hold: say why
        st.warning(inert.markdown(shell.get("note", ""), limit=800), icon=":material/gpp_maybe:")
    elif shell.get("note"):
        _caption(stamp, f":material/shield: {inert.markdown(shell['note'])}")


def _model_call(p: dict, stamp: str) -> None:
    tokens = int(p.get("tokens_in") or 0) + int(p.get("tokens_out") or 0)
    _caption(
        stamp,
        f":material/psychology: **model step {inert.markdown(p.get('step', '?'))}** · "
        f"{format_tokens(tokens)} tokens · {format_cost(p.get('cost_usd'))} · "
        f"{format_duration(p.get('latency_s'))}",
    )
    if p.get("text"):
        st.text(shown(p["text"]))
    calls = p.get("tool_calls") or []
    if calls:
        lines = [f"{c.get('name', '?')} {c.get('arguments', '')}" for c in calls]
        st.code(shown("\n".join(lines)), language=None)


def _tool_call(p: dict, stamp: str) -> None:
    verdict = p.get("verdict", "?")
    rule = f" (rule {inert.markdown(p['rule'])})" if p.get("rule") else ""
    reason = f": {inert.markdown(p['reason'])}" if p.get("reason") else ""
    _caption(
        stamp,
        f":material/build: **tool call {inert.markdown(p.get('tool', '?'))}** · "
        f"{inert.markdown(p.get('risk', '?'))} risk · policy **{inert.markdown(verdict)}**{rule}{reason}",
    )
    _code_json(p.get("arguments", {}))


def _tool_result(p: dict, stamp: str) -> None:
    outcome = p.get("outcome") or ("ok" if p.get("ok") else "error")
    icon = ":material/check:" if p.get("ok") else ":material/close:"
    _caption(
        stamp,
        f"{icon} **result of {inert.markdown(p.get('tool', '?'))}** · {inert.markdown(outcome)} · "
        f"{format_duration(p.get('duration_s'))}",
    )
    st.code(shown(p.get("output", "")), language=None, wrap_lines=True)


def _approval_requested(p: dict, stamp: str) -> None:
    _caption(stamp, ":material/front_hand: **approval requested**")
    st.info(
        f"Waiting for a human to approve **{inert.markdown(p.get('tool', '?'))}** "
        f"({inert.markdown(p.get('risk', '?'))} risk): {inert.markdown(p.get('summary') or p.get('reason', ''))}",
        icon=":material/front_hand:",
    )
    _code_json(p.get("arguments", {}))


def _approval_decided(p: dict, stamp: str) -> None:
    decision = p.get("decision", "?")
    scope = f" · allowed for the rest of the run ({inert.markdown(p['allow_scope'])})"
    scope = scope if p.get("allow_scope") else ""
    waited = format_duration(p.get("waited_s"))
    _caption(
        stamp,
        f":material/gavel: **{inert.markdown(decision)}** by {inert.person(p.get('decided_by', '?'))} "
        f"after {waited}{scope}",
    )
    if p.get("note"):
        st.text(f"Note: {inert.visible(p['note'])}")
    if p.get("edited_arguments") is not None:
        st.caption("Edited arguments that were approved")
        _code_json(p["edited_arguments"])


def _guidance(p: dict, stamp: str) -> None:
    _caption(stamp, f":material/chat: **guidance** from {inert.markdown(p.get('by') or 'a human')}")
    st.text(shown(p.get("message", "")))


def _drift(p: dict, stamp: str) -> None:
    _caption(stamp, ":material/warning: **drift**")
    action = "paused" if p.get("action") == "pause" else "halted"
    st.warning(
        f"Monitor **{inert.markdown(p.get('monitor', '?'))}** stopped the run ({action}): "
        f"{inert.markdown(p.get('detail', ''))}",
        icon=":material/warning:",
    )


def _final_answer(p: dict, stamp: str) -> None:
    _caption(stamp, ":material/task_alt: **final answer**")
    if p.get("goal_met", True):
        st.success("Final answer: goal met", icon=":material/task_alt:")
    else:
        why = "; ".join(str(x) for x in p.get("problems") or []) or "the agent said so"
        st.warning(
            f"Final answer: goal not met ({inert.markdown(why, limit=600)})", icon=":material/flag:"
        )
    st.text(shown(p.get("text", "")))


def _goal_check(p: dict, stamp: str) -> None:
    verdict = "met" if p.get("met") else "not met"
    _caption(stamp, f":material/fact_check: **goal check**: {verdict}")
    st.text(shown(p.get("reason", "")))


def _error(p: dict, stamp: str) -> None:
    _caption(stamp, f":material/error: **error** in {inert.markdown(p.get('where') or 'the run')}")
    st.error(inert.markdown(p.get("message", ""), limit=600), icon=":material/error:")


def _model_request(p: dict, stamp: str) -> None:
    _caption(stamp, f":material/send: asking the model (step {inert.markdown(p.get('step', '?'))})")


def _tool_started(p: dict, stamp: str) -> None:
    _caption(stamp, f":material/play_arrow: {inert.markdown(p.get('tool') or 'tool')} started")


def _halt_requested(p: dict, stamp: str) -> None:
    _caption(
        stamp,
        f":material/stop_circle: **halt requested** by {inert.markdown(p.get('by') or 'a human')}; "
        "nothing new starts after this",
    )


def _recovered(p: dict, stamp: str) -> None:
    _caption(
        stamp,
        f":material/autorenew: **resumed automatically** after {inert.markdown(p.get('after') or '?')} "
        f"(by {inert.markdown(p.get('by') or 'a worker')}); in flight was {inert.markdown(p.get('in_flight') or '?')}",
    )


_RENDERERS: dict[str, Callable[[dict, str], None]] = {
    "status": _status,
    "run_started": _run_started,
    "model_call": _model_call,
    "tool_call": _tool_call,
    "tool_result": _tool_result,
    "approval_requested": _approval_requested,
    "approval_decided": _approval_decided,
    "guidance": _guidance,
    "drift": _drift,
    "final_answer": _final_answer,
    "goal_check": _goal_check,
    "error": _error,
    "model_request": _model_request,
    "tool_started": _tool_started,
    "halt_requested": _halt_requested,
    "recovered": _recovered,
}
