"""The progress judge: a separate model call that rates how close the run is to its goal."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from agent_core.models.base import ModelProvider

JUDGE_PROMPT = """You review the work of an autonomous agent. Given its goal and its recent
steps, rate its progress toward the goal from 0 (lost, looping or off-task) to 1 (done or
clearly about to be). Answer with JSON only: {"score": <number 0..1>, "reason": "<one sentence>"}"""
RECENT_MESSAGES = 16
_NUMBER = re.compile(r"(?<![\d.])(0(?:\.\d+)?|1(?:\.0+)?)(?![\d.])")


@dataclass(frozen=True)
class Verdict:
    score: float
    reason: str
    tokens_in: int
    tokens_out: int
    cost_usd: float


def transcript(messages: list[dict[str, Any]]) -> str:
    lines = []
    for message in messages[2:][-RECENT_MESSAGES:]:
        content = str(message.get("content") or "")[:600]
        calls = message.get("tool_calls") or []
        for call in calls:
            fn = call.get("function", {})
            content += f" [calls {fn.get('name')}({str(fn.get('arguments'))[:200]})]"
        lines.append(f"{message['role']}: {content}")
    return "\n".join(lines)


def judge_progress(
    model: ModelProvider, goal: str, messages: list[dict[str, Any]], cancel: threading.Event
) -> Verdict:
    """Ask the model for a score; an answer that cannot be read counts as 0 (fail closed)."""
    prompt = [
        {"role": "system", "content": JUDGE_PROMPT},
        {"role": "user", "content": f"Goal: {goal}\n\nRecent steps:\n{transcript(messages)}"},
    ]
    turn = model.complete(prompt, [], cancel=cancel)
    score, reason = parse_score(turn.text)
    return Verdict(score, reason, turn.tokens_in, turn.tokens_out, turn.cost_usd)


def answer_object(text: str) -> dict[str, Any] | None:
    """The JSON object in a model's answer (from its first `{` to its last `}`), or None."""
    match = re.search(r"\{.*\}", text or "", re.DOTALL)
    if match is None:
        return None
    try:
        data = json.loads(match.group(0))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def parse_score(text: str) -> tuple[float, str]:
    data = answer_object(text)
    if data is not None:
        try:
            score = float(data["score"])
            return min(max(score, 0.0), 1.0), str(data.get("reason", ""))[:500]
        except (ValueError, KeyError, TypeError):
            pass
    number = _NUMBER.search(text or "")
    if number:
        return float(number.group(1)), (text or "").strip()[:500]
    return 0.0, f"the judge's answer could not be read: {(text or '').strip()[:200]!r}"
