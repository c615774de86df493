"""Events as terminal lines, for `onloop run` and `onloop show`."""

from __future__ import annotations

import json
from typing import Any

_MAX = 400


def _short(text: Any, limit: int = _MAX) -> str:
    text = str(text if text is not None else "")
    text = text.replace("\r", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _args(arguments: Any) -> str:
    if isinstance(arguments, str):  # an invalid call's raw text, as the model sent it
        return _short(arguments, 200)
    return _short(json.dumps(arguments, ensure_ascii=False), 200)


_ENDED = {
    "length": " — cut off by the output cap",
    "content_filter": " — stopped by the server's content filter",
}


# Bidirectional controls reorder what is shown (a goal can read the opposite of what it says);
# they are shown as their code points instead of taking effect.
_BIDI = {
    c: f"<U+{c:04X}>"
    for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}


def plain(text: object) -> str:
    """Untrusted text with bidirectional-control characters neutralised."""
    return str(text).translate(_BIDI)


def render_event(kind: str, payload: dict[str, Any], seq: int) -> str | None:
    """One or a few lines for an event (bidirectional controls neutralised); None to skip it."""
    line = _render_event(kind, payload, seq)
    return None if line is None else plain(line)


def _render_event(kind: str, payload: dict[str, Any], seq: int) -> str | None:
    """One or a few lines for an event; None for events not worth a line."""
    p = payload
    if kind == "run_started":
        resumed = " (resumed)" if p.get("resumed") else ""
        return f"▶ started{resumed}: {p.get('model_name')} · {p.get('autonomy')} · goal: {p.get('goal')}"
    if kind == "model_call":
        text = _short(p.get("text", "")).strip()
        usage = f"{p.get('tokens_in', 0)}+{p.get('tokens_out', 0)} tok"
        ended = _ENDED.get(str(p.get("finish_reason")), "")
        lines = [f"[step {p.get('step')}] {text or '(no text)'}  ({usage}){ended}"]
        return "\n".join(lines)
    if kind == "tool_call":
        verdict = p.get("verdict")
        mark = {
            "allow": "",
            "ask": " — needs approval",
            "deny": " — denied",
            "invalid": " — invalid, not run",
        }.get(str(verdict), "")
        return f"  → {p.get('tool')}({_args(p.get('arguments'))}) [{p.get('risk')} risk]{mark}"
    if kind == "approval_requested":
        return f"  ? approval needed: {p.get('summary')} — {p.get('reason')}"
    if kind == "approval_decided":
        note = f": {p.get('note')}" if p.get("note") else ""
        edited = p.get("edited_arguments")
        edit = f" with edited arguments {_args(edited)}" if edited is not None else ""
        if isinstance(p.get("edit"), dict):  # the policy's verdict for the edited call
            edit += f" (the policy for the edit: {p['edit'].get('verdict')})"
        return f"  ✋ {p.get('decision')}{edit} by {p.get('decided_by')}{note}"
    if kind == "tool_result":
        mark = "✓" if p.get("ok") else "✗"
        if p.get("edited_by"):
            mark += f" (ran as edited by {p.get('edited_by')}: {_args(p.get('arguments'))})"
        output = _short(p.get("output", "")).strip().replace("\n", "\n      ")
        return f"    {mark} {output}"
    if kind == "guidance":
        return f"  ✎ guidance from {p.get('by') or 'a human'}: {p.get('message')}"
    if kind == "judge":
        score, threshold = p.get("score"), p.get("threshold")
        shown = f"{score:.2f}" if isinstance(score, int | float) else str(score)
        return f"  ⚖ progress judge: {shown} (pauses below {threshold}): {p.get('reason')}"
    if kind == "drift":
        return f"  ⚠ drift ({p.get('monitor')}): {p.get('detail')} → {p.get('action')}"
    if kind == "final_answer":
        if p.get("goal_met", True):
            return f"■ final answer (goal met):\n{p.get('text', '')}"
        why = "; ".join(str(x) for x in p.get("problems") or []) or "the agent said so"
        return f"■ final answer (goal NOT met: {why}):\n{p.get('text', '')}"
    if kind == "goal_check":
        return f"  ⚖ goal check: {'met' if p.get('met') else 'not met'}: {p.get('reason')}"
    if kind == "error":
        return f"  ! error ({p.get('where')}): {p.get('message')}"
    if kind == "halt_requested":
        return f"■ halt requested by {p.get('by') or 'a human'}"
    if kind == "recovered":
        return f"↻ resumed automatically after {p.get('after')}: in flight was {p.get('in_flight')}"
    if kind == "status":
        status = p.get("status")
        if status in ("running", "waiting", "queued"):
            return None
        reason = f": {p.get('reason')}" if p.get("reason") else ""
        return f"● {status}{reason}"
    return None


def workspace_line(run: Any) -> str:
    """Where the run works: the person's own folder, a copy of one, or a fresh folder."""
    if run.seed_from:
        return f"workspace: {run.workspace} (a copy of {run.seed_from})"
    if run.own_workspace:
        return f"workspace: {run.workspace} (your folder: the run works in it directly)"
    return f"workspace: {run.workspace}"


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
