"""Drift monitors: budgets, and repetition judged by outcomes (a call together with its result).

Modelled on OpenHands' stuck detector: a loop is the same *action and observation* repeating,
the same error (after what varies in it is normalised away), or a short cycle of them. A call
whose result changes (a build status that moves on) is progress, whatever tool made it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from agent_core.oversight.policy import MonitorSettings

MAX_CYCLE = 3  # cycles of period 2 and 3 are caught (period 1 is `repetition`)


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


def check_budget(budget: Budget, usage: Usage, *, steps: bool = True) -> Trip | None:
    """The first budget that is spent, if any. Checked before each model call, and (without the
    step count: the step that pays for a call is already counted) before each tool call."""
    if steps and usage.steps >= budget.max_steps:
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


# What varies between two reports of the same error: times, ids, addresses, positions, numbers.
_VARYING = (
    (
        re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"),
        "<time>",
    ),
    (re.compile(r"\b\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\b"), "<time>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<addr>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b", re.I), "<id>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
)
_EXIT = re.compile(r"\Aexit code (-?\d+)\b")


def normalise_error(text: str) -> str:
    """An error's text with what varies between reports of the same error replaced."""
    text = " ".join(text.split())[:2000]
    for pattern, placeholder in _VARYING:
        text = pattern.sub(placeholder, text)
    return text[:500]


def is_error(ok: bool, output: str) -> bool:
    """A failed call, or a command that ran and exited non-zero (the shell reports its exit)."""
    if not ok:
        return True
    match = _EXIT.match(output)
    return match is not None and match.group(1) != "0"


@dataclass(frozen=True)
class Observation:
    """One finished call: what was asked (tool and arguments) and what came of it."""

    call: str
    result: str
    error: str  # the normalised error, "" when the call worked

    @property
    def key(self) -> tuple[str, str]:
        return (self.call, self.result)


@dataclass
class RepetitionMonitor:
    """Remembers the run's calls with their results, and its turns; trips on loops that make no
    progress. `check()` runs after every tool call, so a batch stops at the threshold."""

    settings: MonitorSettings
    polling_tools: frozenset[str] = frozenset()
    steps: list[Observation] = field(default_factory=list)
    idle_messages: list[str] = field(default_factory=list)  # consecutive turns with nothing new
    _seen: set[tuple[str, str]] = field(default_factory=set)
    _turn_text: str | None = None
    _turn_new: bool = False

    def observe(self, tool: str, arguments: Any, ok: bool, output: str) -> None:
        call = f"{tool}({normalise_arguments(arguments)})"
        result = " ".join(output.split())[:4000]
        error = normalise_error(output) if is_error(ok, output) else ""
        step = Observation(call, result, error)
        if step.key not in self._seen and not error:
            self._turn_new = True  # a result not seen before is progress
        self._seen.add(step.key)
        self.steps.append(step)

    def start_turn(self, text: str) -> None:
        self._turn_text = " ".join(text.split())
        self._turn_new = False

    def end_turn(self) -> None:
        """A turn that brought nothing new extends the run of idle turns; one that did ends it."""
        if self._turn_text is None:
            return
        if self._turn_new or not self._turn_text:
            self.idle_messages.clear()
        else:
            self.idle_messages.append(self._turn_text)
        self._turn_text = None

    def check(self) -> Trip | None:
        return self._repeated() or self._cycle() or self._same_error() or self._same_message()

    def _repeated(self) -> Trip | None:
        n = self.settings.repeat_same_call
        tail = self.steps[-n:]
        if len(tail) == n and len({s.key for s in tail}) == 1:
            return Trip(
                "repetition",
                f"called {tail[-1].call[:200]} {n} times in a row with the same result: "
                f"{tail[-1].result[:120]}",
            )
        return None

    def _cycle(self) -> Trip | None:
        repeats = max(self.settings.alternating_window // 2, 2)
        keys = [s.key for s in self.steps]
        for period in range(2, MAX_CYCLE + 1):
            window = keys[-period * repeats :]
            if len(window) < period * repeats:
                continue
            pattern = window[:period]
            if len(set(pattern)) == period and all(
                k == pattern[i % period] for i, k in enumerate(window)
            ):
                names = " → ".join(call[:80] for call, _ in pattern)
                return Trip(
                    "alternation",
                    f"cycled {repeats} times through {names} with the same results",
                )
        return None

    def _same_error(self) -> Trip | None:
        n = self.settings.repeat_same_error
        tail = self.steps[-n:]
        if len(tail) == n and tail[-1].error and len({s.error for s in tail}) == 1:
            return Trip("same_error", f"the same error {n} times: {tail[-1].result[:200]}")
        return None

    def _same_message(self) -> Trip | None:
        n = self.settings.repeat_same_message
        tail = self.idle_messages[-n:]
        if len(tail) == n and len(set(tail)) == 1:
            return Trip(
                "same_message",
                f"said the same thing {n} turns in a row with nothing new: {tail[-1][:200]}",
            )
        return None

    def reset(self) -> None:
        """After a human steps in (resume, guidance) the count starts again."""
        self.steps.clear()
        self.idle_messages.clear()
        self._seen.clear()
