"""The offline demo model: a deterministic planner that pursues the demo goals with real tools.

`complete` is a pure function of the messages: it finds the goal (the first user message),
matches it to a demo goal, reads the tool results so far and returns the next turn.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from agent_core.models.base import (
    FINISH_TOOL,
    ModelCancelled,
    ModelError,
    ModelTurn,
    OnDelta,
    ToolCallRequest,
)
from agent_core.models.demo_goals import DEMO_GOALS
from agent_core.models.demo_plans import plan_cleanup, plan_drift, plan_invoices, plan_report
from agent_core.models.demo_steps import (
    GUIDANCE_PREFIX,
    Call,
    Exchange,
    Final,
    Step,
    Transcript,
    failure_reason,
    quote,
)

DEFAULT_DELAY_S = 0.4
_CITY_ZONES = {
    "tokyo": "Asia/Tokyo",
    "london": "Europe/London",
    "paris": "Europe/Paris",
    "berlin": "Europe/Berlin",
    "new york": "America/New_York",
    "san francisco": "America/Los_Angeles",
    "los angeles": "America/Los_Angeles",
    "sydney": "Australia/Sydney",
    "singapore": "Asia/Singapore",
}
_QUESTION = re.compile(r"^\s*(what is|what's|calculate|compute|work out|how much is)\s+", re.I)
_NUMBER_WORDS = {
    "plus": "+",
    "minus": "-",
    "times": "*",
    "multiplied by": "*",
    "divided by": "/",
    "over": "/",
}


class DemoModel:
    """provider "demo": no network, no key; each call waits `delay_s` so steps can be watched."""

    provider = "demo"
    model_name = "demo"

    def __init__(self, *, delay_s: float | None = None) -> None:
        self.delay_s = _delay_from_env() if delay_s is None else max(0.0, delay_s)

    def complete(
        self,
        messages: list[dict],
        tools: list[dict],
        *,
        cancel: threading.Event,
        on_delta: OnDelta | None = None,
    ) -> ModelTurn:
        if cancel.is_set():
            raise ModelCancelled("the demo model call was cancelled")
        turn = self._next_turn(messages, tools)
        self._stream(turn, cancel, on_delta)
        return turn

    def _stream(self, turn: ModelTurn, cancel: threading.Event, on_delta: OnDelta | None) -> None:
        """Hand out the turn word by word over `delay_s`, as a real model streams it."""
        pieces = re.findall(r"\S*\s*", turn.text)[:-1] or [""]
        for call in turn.tool_calls:
            pieces += [f"\n→ {call.name}(", call.arguments]
        wait = self.delay_s / len(pieces)
        for piece in pieces:
            if wait > 0 and cancel.wait(wait):
                raise ModelCancelled("the demo model call was cancelled")
            if on_delta is not None and piece:
                on_delta(piece)

    def _next_turn(self, messages: list[dict], tools: list[dict]) -> ModelTurn:
        transcript = read_transcript(messages, tools)
        step = next_step(transcript)
        text = _acknowledge(transcript.new_guidance) + step.text
        calls: tuple[ToolCallRequest, ...] = ()
        if isinstance(step, Call):
            number = _calls_so_far(messages) + 1
            calls = (ToolCallRequest(f"demo_{number}", step.tool, json.dumps(step.args)),)
        elif not step.goal_met and FINISH_TOOL in transcript.offered:
            # Not met: said through the finish tool, so the record does not rest on prose.
            number = _calls_so_far(messages) + 1
            finish = json.dumps({"goal_met": False, "summary": text})
            calls = (ToolCallRequest(f"demo_{number}", FINISH_TOOL, finish),)
        seen = json.dumps(messages, sort_keys=True, default=str) + json.dumps(tools, sort_keys=True)
        return ModelTurn(
            text=text,
            tool_calls=calls,
            tokens_in=len(seen) // 4,
            tokens_out=(len(text) + sum(len(c.arguments) for c in calls)) // 4,
            cost_usd=0.0,
            model_name=self.model_name,
            latency_s=self.delay_s,
        )


def _delay_from_env() -> float:
    raw = os.environ.get("ONLOOP_DEMO_DELAY", "").strip()
    if not raw:
        return DEFAULT_DELAY_S
    try:
        return max(0.0, float(raw))
    except ValueError:
        raise ModelError(
            f"ONLOOP_DEMO_DELAY must be a number of seconds, e.g. 0.4 (got {raw!r})"
        ) from None


def _acknowledge(guidance: tuple[str, ...]) -> str:
    if not guidance:
        return ""
    return f'Noted your guidance: "{quote(" / ".join(guidance), 160)}". '


def _calls_so_far(messages: list[dict]) -> int:
    return sum(len(m.get("tool_calls") or []) for m in messages if m.get("role") == "assistant")


def _content(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def read_transcript(messages: list[dict], tools: list[dict]) -> Transcript:
    """Pair each tool call with its result, and collect the goal and the humans' guidance."""
    users = [_content(m) for m in messages if m.get("role") == "user"]
    pending: dict[str, tuple[str, dict]] = {}
    exchanges: list[Exchange] = []
    guidance: list[str] = []
    new_guidance: list[str] = []
    for message in messages:
        role = message.get("role")
        if role == "assistant":
            new_guidance = []
            for call in message.get("tool_calls") or []:
                function = call.get("function", {})
                pending[call.get("id", "")] = (function.get("name", ""), _args(function))
        elif role == "tool" and message.get("tool_call_id") in pending:
            name, args = pending.pop(message["tool_call_id"])
            exchanges.append(Exchange(name, args, _content(message)))
        elif role == "user" and _content(message).startswith(GUIDANCE_PREFIX):
            said = _content(message).removeprefix(GUIDANCE_PREFIX).strip()
            guidance.append(said)
            new_guidance.append(said)
    offered = {(spec.get("function") or spec).get("name", "") for spec in tools}
    return Transcript(
        goal=(users[0] if users else "").strip(),
        exchanges=tuple(exchanges),
        guidance=tuple(guidance),
        new_guidance=tuple(new_guidance),
        offered=frozenset(offered),
    )


def _args(function: dict) -> dict:
    try:
        args = json.loads(function.get("arguments") or "{}")
    except json.JSONDecodeError:
        return {}
    return args if isinstance(args, dict) else {}


@dataclass(frozen=True)
class Plan:
    next: Callable[[Transcript], Step]
    adapts_to: frozenset[str] = frozenset()  # tools whose failures the plan handles itself


def match_goal(goal: str) -> str | None:
    """The key of the demo goal this goal asks for, or None."""
    for demo in DEMO_GOALS:
        if goal.strip().lower() == demo.goal.lower():
            return demo.key
    text = goal.lower()
    if "build" in text and re.search(r"wait|pass|status", text):
        return "drift"
    if "invoice" in text:
        return "invoices"
    if re.search(r"clean|delete|remove|tidy", text) and re.search(r"te?mp", text):
        return "cleanup"
    if re.search(r"summar|report", text):
        return "report"
    if re.search(r"\btime\b", text):
        return "time"
    if arithmetic_expression(goal) is not None:
        return "arithmetic"
    return None


def next_step(t: Transcript) -> Step:
    key = match_goal(t.goal)
    if key is None:
        return Final(offline_help(t.goal), goal_met=False)
    plan = PLANS[key]
    last = t.exchanges[-1] if t.exchanges else None
    if last is not None and not last.ok and last.name not in plan.adapts_to:
        return Final(
            f"I called {last.name} and {failure_reason(last)}. I can't pursue this goal "
            "without it, so I'm stopping here rather than guessing or working around it.",
            goal_met=False,
        )
    step = plan.next(t)
    if isinstance(step, Call) and step.tool not in t.offered:
        return Final(
            step.fallback
            or f"I need the {step.tool} tool for this goal, but this run doesn't offer it. "
            f"Start the run again with {step.tool} among its tools.",
            goal_met=False,
        )
    return step


def arithmetic_expression(goal: str) -> str | None:
    """The calculator expression a plain-words arithmetic question asks for, if it is one."""
    text = _QUESTION.sub("", goal.lower())
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.strip().rstrip("?.! "))
    text = re.sub(r"(\d+(?:\.\d+)?)\s*%\s*of\s+", r"\1 / 100 * ", text)
    text = re.sub(r"(?<=\d)\s*[x×]\s*(?=\d)", " * ", text.replace("%", " / 100"))
    for words, operator in _NUMBER_WORDS.items():
        text = re.sub(rf"\b{words}\b", f" {operator} ", text)
    text = " ".join(text.replace(",", " ").split())
    if re.fullmatch(r"[\d.\s+\-*/()]+", text) and re.search(r"\d\s*[-+*/]\s*[\d(]", text):
        return text
    return None


def plan_arithmetic(t: Transcript) -> Step:
    expression = arithmetic_expression(t.goal) or ""
    done = t.calls("calculator")
    if not done:
        return Call(
            f"I'll compute {expression} with the calculator.",
            "calculator",
            {"expression": expression},
        )
    question = _QUESTION.sub("", t.goal).rstrip("?. ")
    return Final(f"{question} is {done[-1].output.strip()} (calculator: {expression}).")


def plan_time(t: Transcript) -> Step:
    text = t.goal.lower()
    city = next((c for c in _CITY_ZONES if c in text), None)
    named = re.search(r"\b[A-Z][a-z]+/[A-Za-z_]+\b", t.goal)
    zone = _CITY_ZONES[city] if city else (named.group(0) if named else "UTC")
    place = city.title() if city else zone
    done = t.calls("current_time")
    if not done:
        return Call(
            f"I'll ask the clock for the time in {zone}.", "current_time", {"timezone": zone}
        )
    return Final(f"In {place} it is now {done[-1].output.strip()}.")


PLANS: dict[str, Plan] = {
    "arithmetic": Plan(plan_arithmetic),
    "report": Plan(plan_report, frozenset({"write_file"})),
    "invoices": Plan(plan_invoices, frozenset({"write_file"})),
    "cleanup": Plan(plan_cleanup, frozenset({"delete_files"})),
    "drift": Plan(plan_drift),
    "time": Plan(plan_time),
}


def offline_help(goal: str) -> str:
    examples = "\n".join(f"- {demo.goal}" for demo in DEMO_GOALS)
    return (
        "I'm the onloop demo model: an offline, scripted planner, not a real LLM, so I can only "
        f'pursue a few demo goals, and "{quote(goal, 100)}" is not one of them.\n\n'
        f"Goals I can pursue (any simple arithmetic question works too):\n{examples}\n\n"
        "To run real goals, configure a real model: set OPENAI_API_KEY (or OPENAI_BASE_URL to "
        "use Ollama, vLLM or LM Studio) and start the run with --model openai."
    )
