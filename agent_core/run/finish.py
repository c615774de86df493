"""How a run ends: the model's structured `finish` statement, and the checks that keep it true.

The model ends a run by calling `finish(goal_met, summary)`. A final message without that call
counts as a claim that the goal was met. A claim of success is then held against what the
run's tools really did (a side-effecting call whose last attempt was rejected, denied or failed
contradicts it) and, with a real model, against a final check of the goal.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from agent_core.models.base import FINISH_TOOL, ModelProvider, ToolCallRequest
from agent_core.oversight.judge import answer_object, transcript
from agent_core.oversight.monitors import normalise_arguments
from storage.record import ToolResult, parse_as
from storage.vocabulary import EventKind

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
FAILED_OUTCOMES = ("rejected", "denied", "error")  # "invalid" never started
GOAL_CHECK_PROMPT = """You check whether an autonomous agent met its goal. Given the goal, its
recent steps (with the real tool results) and its final answer, decide whether the goal was
really met. Answer with JSON only: {"met": true|false, "reason": "<one sentence>"}"""


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


class ActionLedger:
    """What side-effecting calls (medium or high risk) of this run came to: a tool whose last
    attempt did not happen, with no successful call of the same arguments, is unresolved."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[str, str, str]] = {}  # tool -> (outcome, key, shown)
        self._done: set[tuple[str, str]] = set()  # (tool, key) that ran and worked

    def note(self, tool: str, risk: str, outcome: str, arguments: Any) -> None:
        if risk not in ("medium", "high"):
            return
        key = normalise_arguments(arguments)
        self._last[tool] = (outcome, key, key[:160])
        if outcome == "ok":
            self._done.add((tool, key))

    def replay(self, events: list[Any], risks: dict[str, str]) -> None:
        for event in events:
            if event.kind == EventKind.TOOL_RESULT:
                result = parse_as(ToolResult, event.payload)
                tool = str(result.tool if result.given("tool") else "")
                outcome = result.outcome if result.given("outcome") else "ok"
                arguments = result.arguments if result.given("arguments") else ""
                self.note(tool, risks.get(tool, "low"), str(outcome), arguments)

    def unresolved(self) -> list[str]:
        """Side-effecting actions that never happened: "tool(args) was rejected"."""
        return [
            f"{tool}({shown}) was {outcome}"
            for tool, (outcome, key, shown) in self._last.items()
            if outcome in FAILED_OUTCOMES and (tool, key) not in self._done
        ]


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
    messages: list[dict[str, Any]],
    answer: str,
    cancel: threading.Event | None = None,
) -> GoalCheck:
    """A separate call asks whether the goal was met; an unreadable answer counts as not met."""
    prompt = [
        {"role": "system", "content": GOAL_CHECK_PROMPT},
        {
            "role": "user",
            "content": f"Goal: {goal}\n\nRecent steps:\n{transcript(messages)}\n\n"
            f"Final answer: {answer[:2000]}",
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
