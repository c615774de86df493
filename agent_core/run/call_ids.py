"""onloop's own tool-call ids: unique in a run whatever ids the model sent (none, repeated, reused).

Every event, approval, tool result and message sent back to the model names a call by this id;
the model's own id stays in the `model_call` event (`model_id`) for the record only. The ids are
nine letters and digits ("ol0000001") because some servers refuse any other shape of id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from agent_core.models.base import ModelTurn
from storage.record import ModelCall, parse_as
from storage.vocabulary import EventKind

PREFIX = "ol"
WIDTH = 7


class CallIds:
    """Hands out the run's next ids; resumes after the ids its stored events already used."""

    def __init__(self, prior_events: Iterable[Any] = ()) -> None:
        self._used: set[str] = set()
        for event in prior_events:
            if event.kind == EventKind.MODEL_CALL:
                answer = parse_as(ModelCall, event.payload)
                self._used |= {str(c.get("id")) for c in answer.tool_calls}
        self._next = len(self._used) + 1

    def _take(self) -> str:
        while (candidate := f"{PREFIX}{self._next:0{WIDTH}d}") in self._used:
            self._next += 1
        self._used.add(candidate)
        self._next += 1
        return candidate

    def number(self, turn: ModelTurn) -> tuple[ModelTurn, list[dict[str, str]]]:
        """The turn with onloop's ids on its calls, and the calls as the model_call event keeps
        them (onloop's id, the model's id, name, raw arguments)."""
        calls = [replace(call, id=self._take()) for call in turn.tool_calls]
        record = [
            {"id": ours.id, "model_id": theirs.id, "name": ours.name, "arguments": ours.arguments}
            for ours, theirs in zip(calls, turn.tool_calls, strict=True)
        ]
        return replace(turn, tool_calls=tuple(calls)), record
