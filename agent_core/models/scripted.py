"""A model that replays a fixed list of responses, for tests of the loop and its oversight."""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, replace

from agent_core.models.base import (
    ModelCancelled,
    ModelError,
    ModelTurn,
    OnDelta,
    ToolCallRequest,
)

_RESPONSE_KEYS = {
    "text",
    "tool_calls",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "delay_s",
    "finish_reason",
}
_CALL_KEYS = {"name", "arguments", "id"}


@dataclass(frozen=True)
class _Step:
    outcome: ModelTurn | BaseException
    delay_s: float


class ScriptedModel:
    """Replays responses in order; records the messages of every call in `.calls`.

    A response is a `ModelTurn`, a str (a final text answer), a dict
    {"text", "tool_calls": [{"name", "arguments": dict | str, "id"?}], "tokens_in",
    "tokens_out", "cost_usd", "delay_s", "finish_reason"} (all optional), or an exception
    instance to raise (e.g. `ModelError("...")`, to test how the loop handles a failing model).
    """

    provider = "scripted"

    def __init__(
        self, responses: list[ModelTurn | dict | str | BaseException], *, model_name="scripted"
    ) -> None:
        self.model_name = model_name
        self._steps = [self._step(number, r) for number, r in enumerate(responses, start=1)]
        self._next = 0
        self._lock = threading.Lock()
        self.calls: list[list[dict]] = []

    @property
    def remaining(self) -> int:
        """How many responses have not been replayed yet."""
        return len(self._steps) - self._next

    def complete(
        self,
        messages: list[dict],
        tools: list[dict],
        *,
        cancel: threading.Event,
        on_delta: OnDelta | None = None,
    ) -> ModelTurn:
        if cancel.is_set():
            raise ModelCancelled("the model call was cancelled before it started")
        started = time.monotonic()
        with self._lock:
            self.calls.append(copy.deepcopy(messages))
            if self._next >= len(self._steps):
                raise ModelError("scripted model has no more responses")
            step = self._steps[self._next]
        if on_delta is not None and isinstance(step.outcome, ModelTurn) and step.outcome.text:
            on_delta(step.outcome.text)  # all of it at once, then the delay: "in flight" to see
        # A cancelled step is not consumed: a resumed run asks again and gets the same answer.
        if step.delay_s > 0 and cancel.wait(step.delay_s):
            raise ModelCancelled("the model call was cancelled while waiting for the answer")
        with self._lock:
            self._next += 1
        if isinstance(step.outcome, BaseException):
            raise step.outcome
        if step.delay_s > 0:
            return replace(step.outcome, latency_s=time.monotonic() - started)
        return step.outcome

    def _step(self, number: int, response: ModelTurn | dict | str | BaseException) -> _Step:
        if isinstance(response, ModelTurn | BaseException):
            return _Step(response, 0.0)
        if isinstance(response, str):
            return _Step(self._turn(text=response), 0.0)
        if isinstance(response, dict):
            unknown = set(response) - _RESPONSE_KEYS
            if unknown:
                raise ValueError(f"scripted response {number} has unknown keys {sorted(unknown)}")
            calls = tuple(
                _tool_call(number, index, call)
                for index, call in enumerate(response.get("tool_calls") or [])
            )
            turn = self._turn(
                text=response.get("text", ""),
                tool_calls=calls,
                tokens_in=int(response.get("tokens_in", 0)),
                tokens_out=int(response.get("tokens_out", 0)),
                cost_usd=float(response.get("cost_usd", 0.0)),
                finish_reason=response.get("finish_reason", "stop"),
            )
            return _Step(turn, float(response.get("delay_s", 0.0)))
        raise TypeError(f"scripted response {number} must be a ModelTurn, dict or str")

    def _turn(
        self,
        *,
        text: str,
        tool_calls=(),
        tokens_in=0,
        tokens_out=0,
        cost_usd=0.0,
        finish_reason="stop",
    ):
        return ModelTurn(
            text=text,
            tool_calls=tool_calls,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=cost_usd,
            model_name=self.model_name,
            latency_s=0.0,
            finish_reason=finish_reason,
        )


def _tool_call(number: int, index: int, call: dict) -> ToolCallRequest:
    unknown = set(call) - _CALL_KEYS
    if "name" not in call or unknown:
        raise ValueError(
            f"scripted response {number}, tool call {index}: needs 'name' "
            f"(and optional 'arguments', 'id'), got keys {sorted(call)}"
        )
    arguments = call.get("arguments", {})
    # A str is passed through as the model's raw text, so tests can script malformed JSON.
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    # Ids are unique across the whole script, as a real model's are across a run.
    return ToolCallRequest(
        id=call.get("id") or f"call_{number}_{index}", name=call["name"], arguments=raw
    )
