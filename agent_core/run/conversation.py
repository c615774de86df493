"""The conversation a model sees, rebuilt from the run's stored events (this is also how resume works)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agent_core.run.goal_asks import read_goal
from agent_core.tools.validate import loads_json
from storage.record import Guidance, ModelCall, ToolResult, parse_event

SYSTEM_PROMPT = """You are an autonomous agent working toward the user's goal with tools.
Work in small steps: say briefly what you are about to do and why, then call a tool.
After each result, check whether you got closer to the goal and correct yourself when a tool
fails or a human rejects an action (read their note: it tells you what they want instead).
All files live in your workspace folder; use paths relative to it.
When the goal is met, or you cannot go on, answer with a final message and no tool call."""

GUIDANCE_PREFIX = "Guidance from a human: "
CUT_OFF_REQUEST = (
    "Your last reply was cut off by the output limit before it ended. Give your complete "
    "answer again, shorter."
)
# A text-only first reply to a goal that asks for work: the model is asked to act, once.
ACT_REQUEST = (
    "You answered without using a tool, but the goal asks for work, not only an answer. Do the "
    "work now with your tools. If you cannot, call finish with goal_met=false and say why. A "
    "reply with no tool call ends the run as your final answer."
)
# Why the calls of a reply that did not end normally are not run (their tool messages say it).
NOT_RUN = {
    "length": (
        "Error: not run: your reply was cut off by the output limit while writing the tool "
        "calls, so their arguments may be incomplete. Send the call again with shorter "
        "arguments (write long content in several smaller steps)."
    ),
    "content_filter": "Error: not run: the model server's content filter stopped your reply.",
}


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
            "function": {"name": c["name"], "arguments": sendable_arguments(c["arguments"])},
        }
        for c in tool_calls
    ]
    if calls:
        message["tool_calls"] = calls
    return message


def sendable_arguments(raw: Any) -> str:
    """Arguments as a server accepts them back in the history: a JSON object's text as it was,
    anything else as "{}" (llama.cpp refuses the whole request otherwise). The raw text stays in
    the model_call event, and the tool message quotes it with what to fix."""
    try:  # `{"n": NaN}` is no JSON either: Python's json reads it, a strict server does not
        return raw if isinstance(loads_json(raw), dict) else "{}"
    except (TypeError, ValueError):
        return "{}"


def not_run_reason(finish_reason: str | None) -> str | None:
    """Why a reply's tool calls are not run, when the reply did not end normally."""
    return NOT_RUN.get(finish_reason or "")


def tool_message(tool_call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": tool_call_id, "content": content}


def act_request() -> dict[str, Any]:
    return {"role": "user", "content": ACT_REQUEST}


def asks_to_act(goal: str, *, called: bool, asked: bool) -> bool:
    """Whether a text-only reply is sent back with ACT_REQUEST instead of ending the run: no tool
    was called in the run yet, the model was not asked already (nor guided by a person), and the
    goal is not a question."""
    return not called and not asked and not read_goal(goal).question


def guidance_message(text: str) -> dict[str, Any]:
    return {"role": "user", "content": GUIDANCE_PREFIX + text}


def rebuild(goal: str, events: Iterable[Any]) -> list[dict[str, Any]]:
    """Messages from events: model calls, tool results and guidance, in the order they happened
    (with the requests the loop added: to finish a cut-off reply, to act instead of answering)."""
    messages = initial_messages(goal)
    called = asked = False
    for event in events:
        step = parse_event(event.kind, event.payload)
        if isinstance(step, ModelCall):
            messages.append(assistant_message(step.text, step.tool_calls))
            if step.finish_reason == "length" and not step.tool_calls:
                messages.append({"role": "user", "content": CUT_OFF_REQUEST})
            elif step.finish_reason != "content_filter" and not step.tool_calls:
                if asks_to_act(goal, called=called, asked=asked):
                    messages.append(act_request())
                    asked = True
            called = called or any(c.get("name") != "finish" for c in step.tool_calls)
        elif isinstance(step, ToolResult):
            messages.append(tool_message(step.tool_call_id, step.output))
        elif isinstance(step, Guidance):
            messages.append(guidance_message(step.message))
            asked = True  # a person has spoken: their word, not the act request, comes next
    return messages
