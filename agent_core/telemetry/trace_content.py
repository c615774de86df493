"""Content on spans (prompts, replies, arguments, outputs), only when the process opted in with
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true: in the GenAI conventions' message shape,
from payloads the store's redactor has already seen, and cut to a size collectors accept."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_CHARS = 8_000  # of one attribute's text: a 1 MB tool output would swell every export
CUT = " [... cut: {} more characters]"


def cut(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    return text[:MAX_CHARS] + CUT.format(len(text) - MAX_CHARS)


def as_text(value: Any) -> str:
    """Arguments and the like: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return cut(value)
    return cut(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def user_messages(text: str) -> str:
    """gen_ai.input.messages for a prompt of one user message (the run's goal)."""
    return json_text([{"role": "user", "parts": [{"type": "text", "content": cut(text)}]}])


def final_messages(text: str) -> str:
    """gen_ai.output.messages for the run's final answer."""
    return json_text([{"role": "assistant", "parts": [{"type": "text", "content": cut(text)}]}])


def assistant_messages(payload: Mapping[str, Any]) -> str:
    """gen_ai.output.messages for a model_call: its text and the tool calls it asked for."""
    parts: list[dict[str, Any]] = []
    if payload.get("text"):
        parts.append({"type": "text", "content": cut(str(payload["text"]))})
    for call in payload.get("tool_calls") or []:
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": call.get("name"),
                "arguments": as_text(call.get("arguments")),
            }
        )
    message = {"role": "assistant", "parts": parts}
    if payload.get("finish_reason"):
        message["finish_reason"] = payload["finish_reason"]
    return json_text([message])


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
