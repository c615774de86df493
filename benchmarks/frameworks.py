"""The same tool-calling conversation through the peers: a bare `openai` loop (no storage),
LangGraph `create_react_agent` + a SQLite checkpointer, and the OpenAI Agents SDK `Runner` +
`SQLiteSession`. Each peer's tool is the same trivial side-effect-free adder; each persisting peer
writes to a SQLite file, as onloop does. The peers come from the `bench` extra
(`pip install -e '.[bench]'`); `available()` says which are importable."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sqlite3
import uuid
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from harness import BENCH_GOAL

PEERS = ("langgraph", "agents")
SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
Closer = Callable[[], Awaitable[None]]
_MODULES = {
    "langgraph": ("langgraph.prebuilt", "langgraph.checkpoint.sqlite", "langchain_openai"),
    "agents": ("agents",),
}

TOOL_SPEC = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Add up numbers written as '1+2'.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string", "description": "e.g. 1+2"}},
            "required": ["expression"],
        },
    },
}


def add_up(expression: str) -> str:
    """The benchmark's tool: '1+2' -> '3' (no eval)."""
    return str(sum(int(part) for part in expression.split("+") if part.strip()))


def available(name: str) -> bool:
    return all(
        importlib.util.find_spec(m.split(".")[0]) is not None for m in _MODULES[name]
    ) and all(_spec_ok(m) for m in _MODULES[name])


def _spec_ok(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


# --- bare openai --------------------------------------------------------------------------------


def _dispatch(call: Any) -> str:
    tools = {"calculator": add_up}
    return tools[call.function.name](**json.loads(call.function.arguments or "{}"))


def _assistant(message: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments},
            }
            for c in message.tool_calls or []
        ]
        or None,
    }


def bare_sync(base_url: str, model: str) -> Callable[[], int]:
    """A plain loop with the sync client, nothing stored; returns the model calls it made."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)

    def converse() -> int:
        messages: list[dict[str, Any]] = [{"role": "user", "content": BENCH_GOAL}]
        calls = 0
        while True:
            reply = client.chat.completions.create(
                model=model, messages=messages, tools=[TOOL_SPEC]
            )
            calls += 1
            message = reply.choices[0].message
            if not message.tool_calls:
                return calls
            messages.append(_assistant(message))
            for call in message.tool_calls:
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": _dispatch(call)}
                )

    return converse


def bare_async(base_url: str, model: str) -> tuple[Callable[[], Awaitable[int]], Closer]:
    """(converse, close): close the client on the loop that used it."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)

    async def converse() -> int:
        messages: list[dict[str, Any]] = [{"role": "user", "content": BENCH_GOAL}]
        calls = 0
        while True:
            reply = await client.chat.completions.create(
                model=model, messages=messages, tools=[TOOL_SPEC]
            )
            calls += 1
            message = reply.choices[0].message
            if not message.tool_calls:
                return calls
            messages.append(_assistant(message))
            for call in message.tool_calls:
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": _dispatch(call)}
                )

    return converse, client.close


# --- LangGraph ----------------------------------------------------------------------------------


def _langgraph_parts(base_url: str, model: str):
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*create_react_agent.*")
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def calculator(expression: str) -> str:
        """Add up numbers written as '1+2'."""
        return add_up(expression)

    llm = ChatOpenAI(model=model, base_url=base_url, api_key="bench", max_retries=0)
    return llm, [calculator]


def _react_agent(llm, tools, checkpointer):
    from langgraph.prebuilt import create_react_agent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_react_agent(llm, tools, checkpointer=checkpointer)


def sqlite_durability(conn: sqlite3.Connection) -> str:
    """A SQLite connection's journal mode and synchronous pragma, read back from it."""
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    level = conn.execute("PRAGMA synchronous").fetchone()[0]
    return f"{journal.upper()}, synchronous={SYNCHRONOUS_NAMES.get(level, level)} (every commit)"


def langgraph_sync(base_url: str, model: str, db: Path) -> tuple[Callable[[], int], str]:
    """(converse, durability as read back from the checkpointer's connection)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    llm, tools = _langgraph_parts(base_url, model)
    saver = SqliteSaver(sqlite3.connect(str(db), check_same_thread=False))
    agent = _react_agent(llm, tools, saver)

    def converse() -> int:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}, "recursion_limit": 200}
        state = agent.invoke({"messages": [("user", BENCH_GOAL)]}, config=config)
        return sum(1 for m in state["messages"] if m.type == "ai")

    converse()  # the checkpointer sets its tables and WAL up on first use
    return converse, sqlite_durability(saver.conn)


async def langgraph_async(base_url: str, model: str, db: Path):
    """An async context's worth: (converse, close)."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    llm, tools = _langgraph_parts(base_url, model)
    manager = AsyncSqliteSaver.from_conn_string(str(db))
    saver = await manager.__aenter__()
    agent = _react_agent(llm, tools, saver)

    async def converse() -> int:
        config = {"configurable": {"thread_id": uuid.uuid4().hex}, "recursion_limit": 200}
        state = await agent.ainvoke({"messages": [("user", BENCH_GOAL)]}, config=config)
        return sum(1 for m in state["messages"] if m.type == "ai")

    async def close() -> None:
        await manager.__aexit__(None, None, None)  # (langchain-openai shares its HTTP client)

    return converse, close


# --- OpenAI Agents SDK --------------------------------------------------------------------------


def _agents_parts(base_url: str, model: str):
    os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
    import openai
    from agents import Agent, OpenAIChatCompletionsModel, function_tool, set_tracing_disabled

    set_tracing_disabled(True)

    @function_tool
    def calculator(expression: str) -> str:
        """Add up numbers written as '1+2'.

        Args:
            expression: e.g. 1+2
        """
        return add_up(expression)

    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    chat = OpenAIChatCompletionsModel(model=model, openai_client=client)
    agent = Agent(name="bench", instructions="Use the calculator.", model=chat, tools=[calculator])
    return agent, client


def agents_async(
    base_url: str, model: str, db: Path
) -> tuple[Callable[[], Awaitable[int]], Closer]:
    """(converse, close): close the client on the loop that used it."""
    from agents import Runner, SQLiteSession

    agent, client = _agents_parts(base_url, model)

    async def converse() -> int:
        session = SQLiteSession(uuid.uuid4().hex, str(db))
        try:
            result = await Runner.run(agent, BENCH_GOAL, session=session, max_turns=200)
        finally:
            session.close()
        return len(result.raw_responses)

    return converse, client.close


def agents_durability(db: Path) -> str:
    """SQLiteSession's settings, read back from a connection it opens and configures itself
    (a private method: 'unknown' if a later SDK renames it)."""
    from agents import SQLiteSession

    session = SQLiteSession("durability-probe", str(db))
    try:
        return sqlite_durability(session._get_connection())
    except (AttributeError, sqlite3.Error) as exc:
        return f"unknown ({exc})"
    finally:
        session.close()


def agents_sync(
    base_url: str, model: str, db: Path
) -> tuple[Callable[[], int], Callable[[], None], str]:
    """Driven on one event loop kept for the whole benchmark (the async client lives on it);
    (run, close, durability)."""
    loop = asyncio.new_event_loop()
    converse, close_client = agents_async(base_url, model, db)

    def run() -> int:
        return loop.run_until_complete(converse())

    def close() -> None:
        loop.run_until_complete(close_client())
        loop.close()

    return run, close, agents_durability(db)
