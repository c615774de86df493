"""Every tool a run may use, in one registry: the built-ins, the user's own modules (the policy
file's `tools = [...]` and the `onloop.tools` entry point group) and the MCP servers it names."""

from __future__ import annotations

import dataclasses
import importlib
import time
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from agent_core.tools import own_processes
from agent_core.tools.builtins import builtin_tools
from agent_core.tools.decorator import Tool
from agent_core.tools.errors import ToolError
from agent_core.tools.mcp_config import PREFIX, McpServerSettings
from storage.vocabulary import Risk

if TYPE_CHECKING:
    from agent_core.tools.mcp_client import McpPool

ENTRY_POINT_GROUP = "onloop.tools"


class ToolLoadError(Exception):
    """A tool module cannot be used: it will not import, or its tools clash with others."""


ENTRY_POINTS_FRESH_S = 10.0  # a package installed while a worker runs is seen within this
_entry_points_seen: tuple[float, list[str]] | None = None


def entry_point_modules() -> list[str]:
    """The modules installed packages offer through the `onloop.tools` entry point group.

    Scanning the installed packages takes ~6 ms, and every run's start asks: a worker starting
    100 runs at once would spend most of a second on it, so the answer is kept briefly."""
    global _entry_points_seen
    now = time.monotonic()
    if _entry_points_seen is None or now - _entry_points_seen[0] > ENTRY_POINTS_FRESH_S:
        modules = [ep.module for ep in entry_points(group=ENTRY_POINT_GROUP)]
        _entry_points_seen = (now, modules)
    return list(_entry_points_seen[1])


def module_tools(module_name: str) -> list[Tool]:
    """The `@tool` functions a module defines (tools it merely imports from onloop are skipped)."""
    own_processes.install()  # before the import: a name it takes from os is the hooked one
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ToolLoadError(
            f"cannot import tool module {module_name!r}: {type(exc).__name__}: {exc}; check the "
            "name in the policy file's tools = [...] and that the module is on the worker's path"
        ) from exc
    builtins = {id(t) for t in builtin_tools().values()}
    found = [v for v in vars(module).values() if isinstance(v, Tool) and id(v) not in builtins]
    return [dataclasses.replace(t, source=f"module {module_name}") for t in found]


def add_tools(registry: dict[str, Tool], tools: list[Tool]) -> None:
    for t in tools:
        other = registry.get(t.name)
        if other is not None and other is not t:
            raise ToolLoadError(
                f"tool {t.name!r} from {t.source} clashes with the {other.source} tool of that "
                "name; give one another name with @tool(name=...)"
            )
        registry[t.name] = t


def known_tools(
    modules: list[str] = (),  # type: ignore[assignment]
    mcp_servers: list[McpServerSettings] = (),  # type: ignore[assignment]
    *,
    pool: McpPool | None = None,
) -> dict[str, Tool]:
    """The registry: built-ins, then module tools, then MCP tools (servers started via `pool`)."""
    registry = builtin_tools()
    for name in dict.fromkeys([*modules, *entry_point_modules()]):
        add_tools(registry, module_tools(name))
    if mcp_servers:
        if pool is None:  # the MCP SDK is imported only where a policy names servers (slow)
            from agent_core.tools.mcp_client import shared_pool

            pool = shared_pool()
        add_tools(registry, pool.tools(list(mcp_servers)))
    return registry


def missing_mcp_tools(
    names: list[str], known: dict[str, Tool], servers: list[McpServerSettings]
) -> dict[str, Tool]:
    """Stand-ins for chosen MCP tools whose server is down now: calling one tells the model why,
    and the run goes on (a later run, or a restarted worker, tries the server again)."""
    if not servers:  # nothing to stand in for; and the MCP SDK stays unimported (run starts
        return {}  # wait on its import lock otherwise, a hundred of them at once)
    from agent_core.tools.mcp_client import shared_pool

    status = {s.name: s for s in shared_pool().status(list(servers))}
    stand_ins: dict[str, Tool] = {}
    for name in names:
        server = name[len(PREFIX) :].split("__", 1)[0] if name.startswith(PREFIX) else ""
        if name in known or server not in status:
            continue
        stand_ins[name] = _unavailable(name, server, status[server].error or "not running")
    return stand_ins


def _unavailable(name: str, server: str, why: str) -> Tool:
    message = f"MCP server {server!r} is not running ({why}); {name} cannot be used in this run"

    def refuse(arguments: dict) -> dict:
        raise ToolError(message)

    def never(**_: object) -> str:
        raise AssertionError("a stand-in for a missing MCP tool never runs")

    return Tool(
        name=name,
        description=f"(unavailable) {message}",
        parameters={"type": "object", "properties": {}},
        risk=Risk.LOW,
        fn=never,
        source=f"mcp {server}",
        risk_from="stand-in: the server is down",
        validator=refuse,
    )
