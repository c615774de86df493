"""What every model provider gives the loop: one turn of text and tool calls, with its cost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Called with each new piece of a turn's output as it streams in (text, and tool calls shown as
# "→ name(" then their raw argument pieces), in the thread that called `complete` (the openai
# provider hands out what streamed every 0.25 s while the call is in flight); a preview only.
OnDelta = Callable[[str], None]


FINISH_TOOL = "finish"  # the call that ends a run and says whether its goal was met (run/finish)


@dataclass(frozen=True)
class ToolCallRequest:
    id: str
    name: str
    arguments: str  # raw JSON text, exactly as the model sent it


@dataclass(frozen=True)
class ModelTurn:
    text: str
    tool_calls: tuple[ToolCallRequest, ...]
    tokens_in: int
    tokens_out: int
    cost_usd: float
    model_name: str
    latency_s: float
    # Why the reply ended, as the server said: "stop", "tool_calls", "length" (the output cap
    # cut it off), "content_filter"; anything else is treated as "stop".
    finish_reason: str = "stop"


class ModelError(Exception):
    """A model call failed; the message is safe to show (it never carries a key)."""


class ModelCancelled(Exception):
    """The call was abandoned because a human halted the run."""


class ModelProvider(Protocol):
    provider: str  # "openai" | "demo" | "scripted"
    model_name: str

    def complete(
        self,
        messages: list[dict],
        tools: list[dict],
        *,
        cancel: threading.Event,
        on_delta: OnDelta | None = None,
    ) -> ModelTurn: ...
