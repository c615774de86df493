"""The conversation a model sees, rebuilt from the run's stored events (this is also how resume works)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SYSTEM_PROMPT = """You are an autonomous agent working toward the user's goal with tools.
Work in small steps: say briefly what you are about to do and why, then call a tool.
After each result, check whether you got closer to the goal and correct yourself when a tool
fails or a human rejects an action (read their note: it tells you what they want instead).
All files live in your workspace folder; use paths relative to it.
When the goal is met, or you cannot go on, answer with a final message and no tool call."""

GUIDANCE_PREFIX = "Guidance from a human: "


def initial_messages(goal: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": goal},
    ]


def assistant_message(text: str, tool_calls: Iterable[dict[str, str]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    calls = [
        {
            "id": c["id"],
            "type": "function",
            "function": {"name": c["name"], "arguments": c["arguments"]},
        }
        for c in tool_calls
    ]
    if calls:
        message["tool_calls"] = calls
    return message


def tool_message(tool_call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": tool_call_id, "content": content}


def guidance_message(text: str) -> dict[str, Any]:
    return {"role": "user", "content": GUIDANCE_PREFIX + text}


def rebuild(goal: str, events: Iterable[Any]) -> list[dict[str, Any]]:
    """Messages from events: model calls, tool results and guidance, in the order they happened."""
    messages = initial_messages(goal)
    for event in events:
        payload = event.payload
        if event.kind == "model_call":
            messages.append(
                assistant_message(payload.get("text", ""), payload.get("tool_calls", []))
            )
        elif event.kind == "tool_result":
            messages.append(tool_message(payload["tool_call_id"], payload.get("output", "")))
        elif event.kind == "guidance":
            messages.append(guidance_message(payload.get("message", "")))
    return messages
