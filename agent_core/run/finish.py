"""How a run ends: the model's structured `finish` statement, and the checks that keep it true.

The model ends a run by calling `finish(goal_met, summary)`. A final message without that call
counts as a claim that the goal was met. A claim of success is then held against what the
run's tools really did (claim_checks.py: the work ledger's targets, checks, files the goal names)
and, with a real model and `final_check` on, against a judge given a summary of the whole run.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from agent_core.models.base import FINISH_TOOL, ModelProvider, ToolCallRequest
from agent_core.oversight.judge import answer_object, transcript

FINISH = FINISH_TOOL
FINISH_SPEC: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": FINISH,
        "description": (
            "End the run. Call it alone, after you have seen the results of your last tool "
            "calls. Say honestly whether the goal was met: goal_met=false when an action was "
            "rejected or failed, or you could not do what was asked."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "goal_met": {"type": "boolean", "description": "true only if the goal is met"},
                "summary": {"type": "string", "description": "what was done, for the person"},
            },
            "required": ["goal_met", "summary"],
            "additionalProperties": False,
        },
    },
}
NOT_ALONE = (
    "Error: not run: call finish alone, in a reply of its own, after you have seen the results "
    "of your other tool calls."
)
GOAL_CHECK_PROMPT = """You check whether an autonomous agent met its goal. Given the goal, a
summary of everything its tools did in the whole run (from the record, not from the agent: files
read and written with their sizes, commands with their exit codes, URLs, refusals), its last steps
and its final answer, decide whether the goal was really met. Answer with JSON only:
{"met": true|false, "reason": "<one sentence>"}"""
LAST_STEPS = 8  # messages shown after the run's summary


@dataclass(frozen=True)
class Claim:
    goal_met: bool
    summary: str
    structured: bool  # said through the finish tool (False: a plain final message)


def claim_of(call: ToolCallRequest, text: str) -> Claim | str:
    """The model's finish call as a Claim, or the error text to send back to it."""
    try:
        args = json.loads(call.arguments or "{}")
    except ValueError:
        args = None
    if not isinstance(args, dict) or not isinstance(args.get("goal_met"), bool):
        return (
            "Error: finish needs a JSON object with goal_met (true or false) and summary; "
            f"you sent: {call.arguments[:300]}"
        )
    summary = str(args.get("summary") or "").strip() or text.strip()
    return Claim(args["goal_met"], summary, structured=True)


@dataclass(frozen=True)
class GoalCheck:
    met: bool
    reason: str
    tokens_in: int
    tokens_out: int
    cost_usd: float


def check_goal(
    model: ModelProvider,
    goal: str,
    summary: str,
    messages: list[dict[str, Any]],
    answer: str,
    cancel: threading.Event | None = None,
) -> GoalCheck:
    """A separate call asks whether the goal was met, given `summary`, the whole run's tool work
    (run_summary.summarise); an unreadable answer counts as not met."""
    last = transcript(messages[:2] + messages[2:][-LAST_STEPS:])
    prompt = [
        {"role": "system", "content": GOAL_CHECK_PROMPT},
        {
            "role": "user",
            "content": f"Goal: {goal}\n\nWhat the run's tools did (the whole run):\n{summary}\n\n"
            f"Last steps:\n{last}\n\nFinal answer: {answer[:2000]}",
        },
    ]
    turn = model.complete(prompt, [], cancel=cancel or threading.Event())
    met, reason = parse_goal_check(turn.text)
    return GoalCheck(met, reason, turn.tokens_in, turn.tokens_out, turn.cost_usd)


def parse_goal_check(text: str) -> tuple[bool, str]:
    data = answer_object(text)
    if data is not None and isinstance(data.get("met"), bool):
        return data["met"], str(data.get("reason", ""))[:500]
    return False, f"the goal check's answer could not be read: {(text or '').strip()[:200]!r}"
