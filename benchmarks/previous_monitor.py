"""The drift monitor as it was before issue 22 (onloop at commit 07bf02f), kept to measure the
new one against: the same calls replayed into both (benchmarks/monitors.py). Not used by onloop.

It judged repetition by the exact call and result strings, cycles of period 2 and 3 only (keys of
the whole history rebuilt on every call), and the same error only back to back, with every number
normalised away."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from agent_core.oversight.drift_checks import Trip
from agent_core.oversight.policy import MonitorSettings

MAX_CYCLE = 3


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
