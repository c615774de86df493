"""Events as terminal lines, for `onloop run` and `onloop show`."""

from __future__ import annotations

import json
from typing import Any

from agent_core.oversight import inert

_MAX = 400


def _short(text: Any, limit: int = _MAX) -> str:
    text = inert.visible(text, tabs=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _args(arguments: Any) -> str:
    if isinstance(arguments, str):  # an invalid call's raw text, as the model sent it
        return _short(arguments, 200)
    return _short(json.dumps(arguments, ensure_ascii=False), 200)


_ENDED = {
    "length": " — cut off by the output cap",
    "content_filter": " — stopped by the server's content filter",
}


def _one(text: object) -> str:
    """A field that belongs on one line: a newline in it is shown, so it cannot draw a fake line."""
    return inert.visible(text, newlines=False, tabs=False)


def render_event(kind: str, payload: dict[str, Any], seq: int) -> str | None:
    """One or a few lines for an event (every control shown, not obeyed); None to skip it."""
    line = _render_event(kind, payload, seq)
    return None if line is None else inert.visible(line)


def _render_event(kind: str, payload: dict[str, Any], seq: int) -> str | None:
    """One or a few lines for an event; None for events not worth a line."""
    p = payload
    if kind == "run_started":
        resumed = " (resumed)" if p.get("resumed") else ""
        line = f"▶ started{resumed}: {_one(p.get('model_name'))} · {_one(p.get('autonomy'))} · goal: {_one(p.get('goal'))}"
        if p.get("policy_changed"):
            line += f"\n  ⚠ {_one(p['policy_changed'])}"
        return line
    if kind == "model_call":
        text = _short(p.get("text", "")).strip()
        usage = f"{_one(p.get('tokens_in', 0))}+{_one(p.get('tokens_out', 0))} tok"
        ended = _ENDED.get(str(p.get("finish_reason")), "")
        lines = [f"[step {_one(p.get('step'))}] {text or '(no text)'}  ({usage}){ended}"]
        return "\n".join(lines)
    if kind == "tool_call":
        verdict = p.get("verdict")
        mark = {
            "allow": "",
            "ask": " — needs approval",
            "deny": " — denied",
            "invalid": " — invalid, not run",
        }.get(str(verdict), "")
        return f"  → {_one(p.get('tool'))}({_args(p.get('arguments'))}) [{_one(p.get('risk'))} risk]{mark}"
    if kind == "approval_requested":
        return f"  ? approval needed: {_one(p.get('summary'))} — {_one(p.get('reason'))}"
    if kind == "approval_decided":
        note = f": {_one(p.get('note'))}" if p.get("note") else ""
        edited = p.get("edited_arguments")
        edit = f" with edited arguments {_args(edited)}" if edited is not None else ""
        if isinstance(p.get("edit"), dict):  # the policy's verdict for the edited call
            edit += f" (the policy for the edit: {_one(p['edit'].get('verdict'))})"
        return f"  ✋ {_one(p.get('decision'))}{edit} by {_one(p.get('decided_by'))}{note}"
    if kind == "tool_result":
        mark = "✓" if p.get("ok") else "✗"
        if p.get("edited_by"):
            mark += f" (ran as edited by {_one(p.get('edited_by'))}: {_args(p.get('arguments'))})"
        output = _short(p.get("output", "")).strip().replace("\n", "\n      ")
        return f"    {mark} {output}"
    if kind == "guidance":
        return f"  ✎ guidance from {_one(p.get('by') or 'a human')}: {_one(p.get('message'))}"
    if kind == "judge":
        score, threshold = p.get("score"), p.get("threshold")
        shown = f"{score:.2f}" if isinstance(score, int | float) else _one(score)
        return (
            f"  ⚖ progress judge: {shown} (pauses below {_one(threshold)}): {_one(p.get('reason'))}"
        )
    if kind == "drift":
        return f"  ⚠ drift ({_one(p.get('monitor'))}): {_one(p.get('detail'))} → {_one(p.get('action'))}"
    if kind == "final_answer":
        if p.get("goal_met", True):
            return f"■ final answer (goal met):\n{p.get('text', '')}"
        why = "; ".join(_one(x) for x in p.get("problems") or []) or "the agent said so"
        return f"■ final answer (goal NOT met: {why}):\n{p.get('text', '')}"
    if kind == "goal_check":
        return f"  ⚖ goal check: {'met' if p.get('met') else 'not met'}: {_one(p.get('reason'))}"
    if kind == "error":
        return f"  ! error ({_one(p.get('where'))}): {_one(p.get('message'))}"
    if kind == "halt_requested":
        return f"■ halt requested by {_one(p.get('by') or 'a human')}"
    if kind == "recovered":
        return f"↻ resumed automatically after {_one(p.get('after'))}: in flight was {_one(p.get('in_flight'))}"
    if kind == "status":
        status = p.get("status")
        if status in ("running", "waiting", "queued"):
            return None
        reason = f": {_one(p.get('reason'))}" if p.get("reason") else ""
        return f"● {_one(status)}{reason}"
    return None


def workspace_line(run: Any) -> str:
    """Where the run works: the person's own folder, a copy of one, or a fresh folder."""
    if run.seed_from:
        return f"workspace: {_one(run.workspace)} (a copy of {_one(run.seed_from)})"
    if run.own_workspace:
        return f"workspace: {_one(run.workspace)} (your folder: the run works in it directly)"
    return f"workspace: {_one(run.workspace)}"


def run_summary(run: Any) -> str:
    tokens = run.tokens_in + run.tokens_out
    return (
        f"run {run.id} {run.status} · {run.steps} steps · {run.tool_calls} tool calls · "
        f"{tokens} tokens · ${run.cost_usd:.4f}"
    )


def run_as_dict(run: Any, events: list[Any] | None = None) -> dict[str, Any]:
    data = run.model_dump(mode="json")
    if events is not None:
        data["events"] = [
            {"seq": e.seq, "kind": e.kind, "at": e.at.isoformat(), "payload": e.payload}
            for e in events
        ]
    return data
