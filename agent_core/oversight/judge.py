"""The progress judge: a separate model call that rates how close the run is to its goal."""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from typing import Any

from agent_core.models.base import ModelProvider
from agent_core.oversight.monitor_settings import MonitorSettings

JUDGE_PROMPT = """You review the work of an autonomous agent. Given its goal, an account of the
whole run so far (what it called, which files it changed, what came back) and its last steps,
rate its progress toward the goal from 0 (lost, looping, or working on something the goal did
not ask for) to 1 (done or clearly about to be). Answer with JSON only:
{"score": <number 0..1>, "reason": "<one sentence>"}"""
RECENT_MESSAGES = 6
# Providers whose runs are never judged: their "model" is a script, so a judge would only read
# the script back (the structural checks still hold).
UNJUDGED = {"demo": "the demo model", "scripted": "a scripted model"}
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
    for message in messages[max(len(messages) - RECENT_MESSAGES, 2) :]:  # no copy of the rest
        content = str(message.get("content") or "")[:600]
        calls = message.get("tool_calls") or []
        for call in calls:
            fn = call.get("function", {})
            content += f" [calls {fn.get('name')}({str(fn.get('arguments'))[:200]})]"
        lines.append(f"{message['role']}: {content}")
    return "\n".join(lines)


def judge_every(settings: MonitorSettings, provider: str) -> int:
    """Steps between progress checks for a run of this provider; 0 when it is not judged."""
    return 0 if provider in UNJUDGED else settings.judge_every


def drift_checks_note(settings: MonitorSettings, provider: str) -> str:
    """What watches a run for drift, in one line for its run_started record."""
    structural = "structural drift checks (repeats, cycles, polling, errors, no progress)"
    if provider in UNJUDGED:
        return f"{structural} only: runs of {UNJUDGED[provider]} are not judged"
    if not settings.judge_every:
        return f"{structural} only: the progress judge is off ([monitors] judge_every = 0)"
    return (
        f"{structural} and a progress judge every {settings.judge_every} steps "
        f"(pauses below {settings.judge_threshold})"
    )


def judge_progress(
    model: ModelProvider,
    goal: str,
    messages: list[dict[str, Any]],
    cancel: threading.Event,
    summary: str = "",
) -> Verdict:
    """Ask the model for a score; an answer that cannot be read counts as 0 (fail closed)."""
    account = f"The run so far:\n{summary}\n\n" if summary else ""
    prompt = [
        {"role": "system", "content": JUDGE_PROMPT},
        {
            "role": "user",
            "content": f"Goal: {goal}\n\n{account}Last steps:\n{transcript(messages)}",
        },
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
            # NaN ("NaN", "nan": json and float() read both) compares false with every
            # threshold, so it would never pause the run: no number is as unreadable as none.
            if math.isnan(score):
                raise ValueError("not a number")
            return min(max(score, 0.0), 1.0), str(data.get("reason", ""))[:500]
        except (ValueError, KeyError, TypeError):
            pass
    number = _NUMBER.search(text or "")
    if number:
        return float(number.group(1)), (text or "").strip()[:500]
    return 0.0, f"the judge's answer could not be read: {(text or '').strip()[:200]!r}"
