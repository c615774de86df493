"""Drift monitors: budgets and repetition, checked after every step."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agent_core.policy import MonitorSettings


@dataclass(frozen=True)
class Trip:
    monitor: str
    detail: str


@dataclass
class Budget:
    max_steps: int
    max_seconds: float
    max_tokens: int | None = None
    max_cost_usd: float | None = None


@dataclass
class Usage:
    steps: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0


def check_budget(budget: Budget, usage: Usage) -> Trip | None:
    """The first budget that is spent, if any; checked before each model call."""
    if usage.steps >= budget.max_steps:
        return Trip("budget_steps", f"used {usage.steps} of {budget.max_steps} steps")
    if usage.seconds >= budget.max_seconds:
        return Trip(
            "budget_time", f"ran {usage.seconds:.0f} s of a {budget.max_seconds:.0f} s budget"
        )
    if budget.max_tokens is not None and usage.tokens >= budget.max_tokens:
        return Trip("budget_tokens", f"used {usage.tokens} of {budget.max_tokens} tokens")
    if budget.max_cost_usd is not None and usage.cost_usd >= budget.max_cost_usd:
        return Trip(
            "budget_cost", f"spent ${usage.cost_usd:.4f} of a ${budget.max_cost_usd:.4f} budget"
        )
    return None


def normalise_arguments(arguments: Any) -> str:
    """Arguments as canonical text, so {"a":1,"b":2} and {"b": 2, "a": 1} count as the same call."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return " ".join(arguments.split())
    if isinstance(arguments, dict):
        arguments = {
            k: (" ".join(v.split()) if isinstance(v, str) else v) for k, v in arguments.items()
        }
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class RepetitionMonitor:
    """Remembers the run's calls, errors and messages; trips on loops that make no progress."""

    settings: MonitorSettings
    polling_tools: frozenset[str] = frozenset()
    calls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def observe_call(self, tool: str, arguments: Any) -> None:
        if tool in self.polling_tools:
            return
        self.calls.append(f"{tool}({normalise_arguments(arguments)})")

    def observe_result(self, ok: bool, output: str) -> None:
        self.errors.append("" if ok else " ".join(output.split())[:500])

    def observe_message(self, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self.messages.append(text)

    def check(self) -> Trip | None:
        s = self.settings
        if _same_tail(self.calls, s.repeat_same_call):
            return Trip(
                "repetition",
                f"called {self.calls[-1][:200]} {s.repeat_same_call} times in a row",
            )
        window = self.calls[-s.alternating_window :]
        if len(window) == s.alternating_window and _alternates(window):
            return Trip(
                "alternation",
                f"alternated between {window[-2][:120]} and {window[-1][:120]} "
                f"for {s.alternating_window} calls",
            )
        if _same_tail(self.errors, s.repeat_same_error) and self.errors[-1]:
            return Trip(
                "same_error", f"the same error {s.repeat_same_error} times: {self.errors[-1][:200]}"
            )
        if _same_tail(self.messages, s.repeat_same_message):
            return Trip(
                "same_message",
                f"said the same thing {s.repeat_same_message} times: {self.messages[-1][:200]}",
            )
        return None

    def reset(self) -> None:
        """After a human steps in (resume, guidance) the count starts again."""
        self.calls.clear()
        self.errors.clear()
        self.messages.clear()


def _same_tail(items: list[str], n: int) -> bool:
    return len(items) >= n and len(set(items[-n:])) == 1


def _alternates(window: list[str]) -> bool:
    a, b = window[0], window[1]
    if a == b:
        return False
    return all(item == (a if i % 2 == 0 else b) for i, item in enumerate(window))
