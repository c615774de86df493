"""The policy: one place that turns a tool call into a verdict (allow, ask or deny) and says why."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Verdict = Literal["allow", "ask", "deny"]
Autonomy = Literal["manual", "supervised", "autonomous"]
_STRENGTH = {"allow": 0, "ask": 1, "deny": 2}

# What each autonomy level asks a human about when no rule matches.
ASKS_FOR: dict[str, frozenset[str]] = {
    "manual": frozenset({"low", "medium", "high"}),
    "supervised": frozenset({"medium", "high"}),
    "autonomous": frozenset({"high"}),
}


class Rule(BaseModel):
    """One ordered rule: a tool-name glob, optional argument patterns, an action and a reason."""

    model_config = ConfigDict(extra="forbid")

    tool: str = "*"
    args: dict[str, str] = Field(default_factory=dict)  # "glob" or "re:REGEX" per argument
    action: Verdict
    reason: str = ""
    name: str | None = None

    @field_validator("args")
    @classmethod
    def _regexes_compile(cls, patterns: dict[str, str]) -> dict[str, str]:
        for arg, pattern in patterns.items():
            if pattern.startswith("re:"):
                try:
                    re.compile(pattern[3:])
                except re.error as exc:
                    raise ValueError(
                        f"argument pattern for {arg!r} is not a valid regex: {exc}"
                    ) from exc
        return patterns

    def label(self, index: int) -> str:
        return self.name or f"rule {index + 1} ({self.tool} -> {self.action})"

    def matches(self, tool: str, arguments: dict[str, Any]) -> bool:
        if not fnmatch.fnmatchcase(tool, self.tool):
            return False
        return all(_value_matches(arguments.get(k), p) for k, p in self.args.items())


def _value_matches(value: Any, pattern: str) -> bool:
    if value is None:
        return False
    values = value if isinstance(value, list) else [value]
    for item in values:
        text = str(item)
        if pattern.startswith("re:"):
            if re.search(pattern[3:], text):
                return True
        elif fnmatch.fnmatchcase(text, pattern):
            return True
    return False


class MonitorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repeat_same_call: int = Field(default=4, ge=2)
    alternating_window: int = Field(default=6, ge=4)
    repeat_same_error: int = Field(default=3, ge=2)
    repeat_same_message: int = Field(default=3, ge=2)
    judge_every: int = Field(default=0, ge=0)  # steps between progress checks; 0 = off
    judge_threshold: float = Field(default=0.3, ge=0, le=1)
    action: Literal["pause", "halt"] = "pause"


class ModelLimits(BaseModel):
    """The [model] table: limits of each model call. An unset key falls to the environment
    (ONLOOP_REQUEST_TIMEOUT, ...), then the defaults; a command-line flag beats them all."""

    model_config = ConfigDict(extra="forbid")

    request_timeout_s: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0, le=10)
    max_output_tokens: int | None = Field(default=None, ge=0)  # 0 sends no cap


class Policy(BaseModel):
    """Rules plus the oversight settings that travel with them; each run stores the one it ran under."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
    approval_timeout_s: float | None = Field(default=None, gt=0)
    webhook_url: str | None = None
    on_budget: Literal["pause", "halt", "fail"] = "pause"
    polling_tools: list[str] = Field(default_factory=list)
    monitors: MonitorSettings = Field(default_factory=MonitorSettings)
    model: ModelLimits = Field(default_factory=ModelLimits)
    source: str = "built-in defaults"


@dataclass(frozen=True)
class PolicyDecision:
    verdict: Verdict
    reason: str
    rule: str | None = None


@dataclass(frozen=True)
class RunAllowance:
    """What a human allowed for the rest of one run: whole tools, or exact (tool, args hash) pairs."""

    tools: frozenset[str] = frozenset()
    calls: frozenset[tuple[str, str]] = frozenset()

    def covers(self, tool: str, args_hash: str) -> bool:
        return tool in self.tools or (tool, args_hash) in self.calls


def decide(
    policy: Policy,
    *,
    tool: str,
    risk: str,
    arguments: dict[str, Any],
    autonomy: str,
    args_hash: str = "",
    allowance: RunAllowance | None = None,
) -> PolicyDecision:
    """The verdict for one call; any failure inside the policy means deny (fail closed)."""
    try:
        return _decide(policy, tool, risk, arguments, autonomy, args_hash, allowance)
    except Exception as exc:  # noqa: BLE001 - invariant 2: errors in the policy deny
        return PolicyDecision("deny", f"the policy could not decide ({exc}); denied to be safe")


def _decide(policy, tool, risk, arguments, autonomy, args_hash, allowance) -> PolicyDecision:
    best: tuple[int, Rule] | None = None
    for index, rule in enumerate(policy.rules):
        if rule.matches(tool, arguments):
            if best is None or _STRENGTH[rule.action] > _STRENGTH[best[1].action]:
                best = (index, rule)
    if best is not None and best[1].action == "deny":
        return _from_rule(*best)
    if allowance is not None and allowance.covers(tool, args_hash):
        return PolicyDecision("allow", "a human allowed this for the rest of the run", None)
    if best is not None:
        return _from_rule(*best)
    if autonomy not in ASKS_FOR:
        return PolicyDecision("deny", f"unknown autonomy level {autonomy!r}; denied to be safe")
    if risk not in ("low", "medium", "high"):
        return PolicyDecision("deny", f"tool {tool!r} has unknown risk {risk!r}; denied to be safe")
    if risk in ASKS_FOR[autonomy]:
        return PolicyDecision("ask", f"{risk}-risk tool in {autonomy} mode")
    return PolicyDecision("allow", f"{risk}-risk tool in {autonomy} mode")


def _from_rule(index: int, rule: Rule) -> PolicyDecision:
    reason = rule.reason or f"matched {rule.label(index)}"
    return PolicyDecision(rule.action, reason, rule.label(index))
