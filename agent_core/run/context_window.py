"""When the conversation outgrows the model's context window: pause and ask, and on resume send a
shorter history (older steps left out) instead of failing the run."""

from __future__ import annotations

import re
from typing import Any

from storage.record import Drift, parse_as
from storage.vocabulary import EventKind

MONITOR = "context_window"
_OVERFLOW = re.compile(
    r"context_length_exceeded|maximum context length|context (?:length|window|size)"
    r"|too many tokens|prompt is too long|exceeds the available context",
    re.I,
)
REASON = (
    "the conversation no longer fits the model's context window; resume the run to continue "
    "with a shorter history (older steps left out), or halt it"
)
OMITTED = "[{count} earlier messages were left out to fit the model's context window]"


def is_overflow(message: str) -> bool:
    """Whether a model server's error says the request was too long for its context."""
    return bool(_OVERFLOW.search(message))


def overflows_in_a_row(events: list[Any]) -> int:
    """How many context-window pauses came since the last model call that worked."""
    count = 0
    for event in events:
        if event.kind == EventKind.MODEL_CALL:
            count = 0
        elif event.kind == EventKind.DRIFT and parse_as(Drift, event.payload).monitor == MONITOR:
            count += 1
    return count


def shorter(messages: list[dict[str, Any]], halvings: int) -> list[dict[str, Any]]:
    """The system prompt and goal, a note, and the newest part of the rest (half of it per
    overflow), starting at an assistant turn so no tool result loses its call."""
    if halvings <= 0 or len(messages) <= 3:
        return messages
    head, rest = messages[:2], messages[2:]
    keep = max(len(rest) >> halvings, 1)
    start = len(rest) - keep
    while start < len(rest) and rest[start].get("role") != "assistant":
        start += 1
    if start <= 0:
        return messages
    note = {"role": "user", "content": OMITTED.format(count=start)}
    return [*head, note, *rest[start:]]
