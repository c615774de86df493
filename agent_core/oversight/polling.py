"""Polling as a pattern, not a tool list: what a poll looks like, what waiting looks like.

A call is a poll when its tool's name looks like one (`*status*`, `*poll*`, `*wait*`...), the tool
was declared `polling=True`, its command matches a poll pattern (`sleep`+check, `gh run view`,
`kubectl get`, a `curl` health check, `docker ps`...), or its URL is a health check. Two polls are
the same poll when their arguments differ only in how long they wait (`sleep 5; gh run view` and
`sleep 10; gh run view`). A poll whose output says the thing is still on its way ("running",
"pending", "connection refused") is waiting: it gets `poll_patience` polls, however long the model
waits between them, so backing off is never punished. A poll whose output is final (failed,
passed, CrashLoopBackOff) and does not change is judged like any other repeated call.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Tool-name globs of tools that wait on something (job status, pollers, waiters, watchers).
DEFAULT_POLL_TOOLS: tuple[str, ...] = ("*status*", "*poll*", "*wait*", "*watch*", "*health*")
# Regexes searched in a call's command line.
DEFAULT_POLL_COMMANDS: tuple[str, ...] = (
    r"\bsleep\s+\d",  # sleep and check
    r"\bgh\s+(run\s+(view|watch|list)|pr\s+checks|workflow\s+view)\b",
    r"\bkubectl\s+(get|rollout\s+status|wait|describe|logs)\b",
    r"\b(curl|wget|http)\b.*(localhost|127\.0\.0\.1|0\.0\.0\.0|health|ready|alive|status|ping)",
    r"\bdocker(\s+compose|-compose)?\s+(ps|inspect|logs|container\s+ls)\b",
    r"\b(systemctl\s+(status|is-active)|pg_isready|nc\s+-z|redis-cli\s+ping)\b",
)
_HEALTH_URL = re.compile(
    r"//(localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])[:/]|/(health|healthz|ready|readyz|livez|alive|"
    r"status|ping)\b",
    re.I,
)
_COMMAND_ARG = ("command", "cmd", "script", "shell_command")
_URL_ARG = ("url", "uri", "endpoint", "address")
_WAIT_KEY = re.compile(
    r"(^|_)(wait|sleep|delay|interval|timeout|backoff|seconds|secs|duration|poll)(_s|_ms|_secs?)?$",
    re.I,
)
_WAITS_IN_COMMAND = (
    (re.compile(r"\b(sleep|timeout)\s+\d+(\.\d+)?[smhd]?\b"), r"\1 <wait>"),
    (
        re.compile(
            r"(--?(timeout|interval|wait|delay|retry-delay|max-time|poll-interval|i|n))(=|\s+)"
            r"\d+(\.\d+)?[smhd]?\b"
        ),
        r"\1=<wait>",
    ),
)
_WAIT_ATOM = r"(sleep\s+\d+(\.\d+)?[smhd]?|wait|true|:|cd\s+[^\s;&|]+|echo\b[^;&|]*)"
_PURE_WAIT = re.compile(rf"^\s*{_WAIT_ATOM}(\s*(;|&&)\s*{_WAIT_ATOM})*\s*;?\s*$")
_NOISE = re.compile(r"\s\d?>&\d|\s\d?>\s*/dev/null|['\"]")
_WAIT_TOOLS = frozenset({"sleep", "wait", "pause", "delay"})
# What any call says when the answer is "not now, try again later": waiting, not failing.
_TRY_LATER = re.compile(
    r"\b(429|too many requests|rate.?limit(ed)?|retry.after|try again (later|in)|503|"
    r"service unavailable|temporarily unavailable)\b",
    re.I,
)
# What a poll says while the thing it waits for is not up yet; these name a failure but mean
# "not yet", so they are taken out before looking for a final answer.
_NOT_UP_YET = re.compile(
    r"connection refused|failed to connect|couldn'?t connect|could not connect|econnrefused|"
    r"connection reset|no route to host|503|service unavailable|not ready|not yet ready|"
    r"temporarily unavailable|no response|rejecting connections",
    re.I,
)
_ON_ITS_WAY = re.compile(
    r"\b(pending|queued|in[_ -]progress|waiting|starting|initiali[sz]ing|provisioning|creating|"
    r"containercreating|building|deploying|running|scheduled|requested|progressing|"
    r"health: starting|\d+ of \d+ updated)\b",
    re.I,
)
_FINAL = re.compile(
    r"\b(failed|failure|fatal|crashloopbackoff|imagepullbackoff|errimagepull|oomkilled|exited|"
    r"cancelled|canceled|timed out|not found|404|completed|succeeded|success|passed|healthy|done|"
    r"finished)\b",
    re.I,
)


def command_of(arguments: dict[str, Any]) -> str | None:
    for key in _COMMAND_ARG:
        value = arguments.get(key)
        if isinstance(value, str):
            return value
    return None


def url_of(arguments: dict[str, Any]) -> str | None:
    for key in _URL_ARG:
        value = arguments.get(key)
        if isinstance(value, str):
            return value
    return None


def without_waits(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments with every wait taken out: two polls that differ only in how long they wait
    have the same shape."""
    shaped: dict[str, Any] = {}
    for key, value in arguments.items():
        if _WAIT_KEY.search(key) and isinstance(value, int | float | str):
            shaped[key] = "<wait>"
        elif isinstance(value, str):
            text = " ".join(value.split())
            if key in _COMMAND_ARG:
                for pattern, replacement in _WAITS_IN_COMMAND:
                    text = pattern.sub(replacement, text)
            shaped[key] = text
        else:
            shaped[key] = value
    return shaped


def is_pure_wait(tool: str, arguments: dict[str, Any]) -> bool:
    """A call that only waits (`sleep 30`, a `wait` tool): it observes nothing."""
    command = command_of(arguments)
    if command is not None:
        bare = _NOISE.sub(" ", command)
        return "sleep" in bare and bool(_PURE_WAIT.match(bare))
    if tool.lower() in _WAIT_TOOLS:
        return all(_WAIT_KEY.search(key) for key in arguments)
    return False


def says_try_later(output: str) -> bool:
    """Whether an answer opens with "not now" (rate limited, 503): retrying it is waiting. Only
    its start is read: a page that mentions rate limits further down is not a refusal."""
    return _TRY_LATER.search(output[:300]) is not None


def says_waiting(output: str) -> bool:
    """Whether a poll's output says the thing is still on its way: something is pending or
    running, or the service is not up yet (refused, 503) and nothing says it failed for good."""
    head = output[:4000]
    rest = _NOT_UP_YET.sub(" ", head)
    if _ON_ITS_WAY.search(rest):
        return True
    return _NOT_UP_YET.search(head) is not None and _FINAL.search(rest) is None


def compile_commands(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


@dataclass(frozen=True)
class PollRules:
    """Which calls are polls: tool-name globs, command regexes, and tools declared polling."""

    tools: tuple[str, ...] = DEFAULT_POLL_TOOLS
    commands: tuple[re.Pattern[str], ...] = compile_commands(DEFAULT_POLL_COMMANDS)
    declared: frozenset[str] = frozenset()

    def recognises(self, tool: str, arguments: dict[str, Any]) -> bool:
        if tool in self.declared or any(fnmatch.fnmatchcase(tool, g) for g in self.tools):
            return True
        command = command_of(arguments)
        if command is not None and any(p.search(command) for p in self.commands):
            return True
        url = url_of(arguments)
        return url is not None and _HEALTH_URL.search(url) is not None
