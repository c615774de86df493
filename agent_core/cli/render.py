"""Events as terminal lines, for `onloop run` and `onloop show`."""

from __future__ import annotations

import json
from typing import Any

from agent_core.oversight import inert
from storage import record
from storage.record import EventPayload, parse_event
from storage.vocabulary import UNDER_WAY, Verdict

_MAX = 400
_INDENT = "\n      "  # a further line of a model's or a tool's words
_ANSWER_INDENT = _INDENT[1:]  # every line of a final answer, as further lines of the model's words


def _short(text: Any, limit: int = _MAX, *, newlines: bool = True) -> str:
    text = inert.visible(text, newlines=newlines, tabs=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _args(arguments: Any) -> str:
    """Arguments inside one line. An invalid call's are its raw text, as the model sent it: a
    newline in them is shown, so it cannot start a line of its own ("● succeeded") at the left
    edge, where onloop writes its own lines."""
    if isinstance(arguments, str):
        return _short(arguments, 200, newlines=False)
    return _short(json.dumps(arguments, ensure_ascii=False), 200)


_VERDICT_MARKS: dict[str, str] = {
    Verdict.ALLOW: "",
    Verdict.ASK: " — needs approval",
    Verdict.DENY: " — denied",
    Verdict.INVALID: " — invalid, not run",
}
_ENDED = {
    "length": " — cut off by the output cap",
    "content_filter": " — stopped by the server's content filter",
}


def _one(text: object) -> str:
    """A field that belongs on one line: a newline in it is shown, so it cannot draw a fake line."""
    return inert.visible(text, newlines=False, tabs=False)


def render_event(kind: str, payload: dict[str, Any], seq: int) -> str | None:
    """One or a few lines for an event (every control shown, not obeyed); None to skip it."""
    line = _render_event(parse_event(kind, payload))
    return None if line is None else inert.visible(line)


def _render_event(e: EventPayload) -> str | None:
    """One or a few lines for an event; None for events not worth a line."""
    if isinstance(e, record.RunStarted):
        resumed = " (resumed)" if e.resumed else ""
        line = (
            f"▶ started{resumed}: {_one(e.model_name)} · {_one(e.autonomy)} · goal: {_one(e.goal)}"
        )
        if e.policy_changed:
            line += f"\n  ⚠ {_one(e.policy_changed)}"
        if e.drift_checks:
            line += f"\n  drift: {_one(e.drift_checks)}"
        return line
    if isinstance(e, record.ModelCall):
        # The model's words: their further lines indented under them, as a tool's output is,
        # so none starts at the left edge where onloop draws its own event lines.
        text = _short(e.text).strip().replace("\n", _INDENT)
        usage = f"{_one(e.tokens_in)}+{_one(e.tokens_out)} tok"
        ended = _ENDED.get(str(e.finish_reason), "")
        return f"[step {_one(e.step)}] {text or '(no text)'}  ({usage}){ended}"
    if isinstance(e, record.ToolCall):
        mark = _VERDICT_MARKS.get(str(e.verdict), "")
        return f"  → {_one(e.tool)}({_args(e.arguments)}) [{_one(e.risk)} risk]{mark}"
    if isinstance(e, record.ApprovalRequested):
        return f"  ? approval needed: {_one(e.summary)} — {_one(e.reason)}"
    if isinstance(e, record.ApprovalDecided):
        note = f": {_one(e.note)}" if e.note else ""
        edit = (
            f" with edited arguments {_args(e.edited_arguments)}"
            if e.edited_arguments is not None
            else ""
        )
        if isinstance(e.edit, dict):  # the policy's verdict for the edited call
            edit += f" (the policy for the edit: {_one(e.edit.get('verdict'))})"
        allowed = (e.allow_rule or {}).get("name") or (
            f"{e.allow_scope} allowed for the run" if e.allow_scope else ""
        )
        allowed = f" · {_one(allowed)} (approval {e.approval_id})" if allowed else ""
        return f"  ✋ {_one(e.decision)}{edit} by {_one(e.decided_by)}{note}{allowed}"
    if isinstance(e, record.ToolResult):
        mark = "✓" if e.ok else "✗"
        if e.edited_by:
            mark += f" (ran as edited by {_one(e.edited_by)}: {_args(e.arguments)})"
        output = _short(e.output).strip().replace("\n", _INDENT)
        return f"    {mark} {output}"
    if isinstance(e, record.Guidance):
        return f"  ✎ guidance from {_one(e.by or 'a human')}: {_one(e.message)}"
    if isinstance(e, record.AllowanceRevoked):
        who = _one(e.by or "a human")
        return f"  ⊘ {who} revoked what approval {e.approval_id} allowed for the run"
    if isinstance(e, record.Judge):
        score = e.score
        shown = f"{score:.2f}" if isinstance(score, int | float) else _one(score)
        return f"  ⚖ progress judge: {shown} (pauses below {_one(e.threshold)}): {_one(e.reason)}"
    if isinstance(e, record.Drift):
        return f"  ⚠ drift ({_one(e.monitor)}): {_one(e.detail)} → {_one(e.action)}"
    if isinstance(e, record.FinalAnswer):
        # The model's words, each line indented under the heading: none starts at the left edge,
        # where a "● succeeded" of its own would read as the run's status.
        text = _ANSWER_INDENT + str(e.text).replace("\n", "\n" + _ANSWER_INDENT)
        if e.goal_met:
            return f"■ final answer (goal met):\n{text}"
        why = "; ".join(_one(x) for x in e.problems or []) or "the agent said so"
        return f"■ final answer (goal NOT met: {why}):\n{text}"
    if isinstance(e, record.GoalCheck):
        return f"  ⚖ goal check: {'met' if e.met else 'not met'}: {_one(e.reason)}"
    if isinstance(e, record.Error):
        return f"  ! error ({_one(e.where)}): {_one(e.message)}"
    if isinstance(e, record.HaltRequest):
        return f"■ halt requested by {_one(e.by or 'a human')}"
    if isinstance(e, record.Recovered):
        return f"↻ resumed automatically after {_one(e.after)}: in flight was {_one(e.in_flight)}"
    if isinstance(e, record.Status):
        if e.status in UNDER_WAY:
            return None
        reason = f": {_one(e.reason)}" if e.reason else ""
        return f"● {_one(e.status)}{reason}"
    return None


def goal_line(run: Any) -> str:
    """The run's goal, its further lines indented as a model's words are: a goal is anyone's
    words (a re-run's, another person's on a shared store), and none may start a line at the
    left edge, where a "● succeeded" of its own would read as the run's status."""
    return "goal: " + inert.visible(run.goal, tabs=False).strip().replace("\n", _INDENT)


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
    from agent_core.oversight.stored_policy import (
        shown_policy,
    )  # the policy's models: not on --help

    data = run.model_dump(mode="json")
    data["policy"] = shown_policy(data.get("policy"))  # no channel's or server's credential
    if events is not None:
        data["events"] = [e.exported() for e in events]
    return data
