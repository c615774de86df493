"""MCP servers as tool sources: one background event loop per process owns every session; each
server starts once, is reused by every run, and its tools become ordinary `Tool`s.

Anything that goes wrong with a server (it will not start, crashes, is slow, answers with an error)
becomes a ToolError the model reads; the run goes on.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import tempfile
import threading
import time
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import jsonschema
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

from agent_core.tools import shared_clients
from agent_core.tools.context import current_context
from agent_core.tools.decorator import Tool
from agent_core.tools.errors import ToolCancelled, ToolError
from agent_core.tools.mcp_config import McpServerSettings, resolve_env_values
from agent_core.tools.mcp_tools import (
    mcp_tool_name,
    result_text,
    risk_of,
    schema_validator,
    server_claim,
)
from agent_core.tools.protected import Guard, Protected, guard, own_files, sweep
from agent_core.tools.sandbox import PATH_INSIDE, sandbox_status, server_argv

log = logging.getLogger(__name__)
RETRY_AFTER_S = 30.0  # a server that would not start is tried again after this long
CANCEL_POLL_S = 0.05  # a call in flight looks at its cancel event (a halt) this often
T = TypeVar("T")


@dataclass(frozen=True)
class ServerStatus:
    name: str
    transport: str
    where: str
    up: bool
    tools: int
    error: str = ""
    confinement: str = ""  # "sandboxed (...)" or "unconfined: why"; HTTP servers are remote


class _Server:
    """One server's session, owned by a task on the pool's loop from start to stop."""

    def __init__(
        self,
        settings: McpServerSettings,
        scratch_root: Path | None = None,
        protected: Protected | None = None,
    ) -> None:
        self.settings = settings
        self.scratch_root = scratch_root
        self.protected = protected
        self.session: ClientSession | None = None
        self.tools: list[types.Tool] = []
        self.error = ""
        self.failed_at = 0.0
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.task: concurrent.futures.Future | None = None  # run() on the pool's loop
        self.retry_now = False  # its start was given up by a halt: the next use tries again
        self.errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")

    async def run(self) -> None:
        self.stop = asyncio.Event()
        try:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport())
                session = await stack.enter_async_context(
                    ClientSession(read, write, read_timeout_seconds=self.settings.start_timeout_s)
                )
                await session.initialize()
                self.tools = await _list_tools(session)
                self.session = session
                self.ready.set()
                await self.stop.wait()
        except BaseException as exc:  # noqa: BLE001  # anything: the server is down, say why
            self.error = self._why(exc)
            self.failed_at = time.monotonic()
            log.info("MCP server %s stopped: %s", self.settings.name, self.error)
        finally:
            self.session = None
            self.ready.set()

    def _transport(self) -> Any:
        s = self.settings
        if s.command is not None:
            # The environment is a short allow-list (PATH, HOME, ...): the worker's secrets stay
            # out unless the config passes one on by name.
            env = resolve_env_values(s.env, server=s.name)
            if confinement(s).startswith("sandboxed"):
                scratch = (self.scratch_root or default_scratch_root()) / s.name
                argv = server_argv(
                    s.command,
                    scratch=scratch,
                    paths=[Path(p).resolve() for p in s.paths],
                    network=s.network,
                    env=env,
                    protected=self.protected,
                )
                params = StdioServerParameters(
                    command=argv[0], args=argv[1:], env={"PATH": PATH_INSIDE}, cwd=scratch
                )
            else:
                params = StdioServerParameters(
                    command=s.command[0], args=s.command[1:], env={**_default_env(), **env}
                )
            return stdio_client(params, errlog=self.errlog)
        headers = resolve_env_values(s.headers, server=s.name)
        client = create_mcp_http_client(headers=headers, timeout=httpx2.Timeout(s.timeout_s))
        return streamable_http_client(str(s.url), http_client=client)

    def _why(self, exc: BaseException) -> str:
        leaves = _leaves(exc)
        text = "; ".join(f"{type(e).__name__}: {e}".rstrip(": ") for e in leaves[:2])
        try:
            self.errlog.seek(0)
            tail = " ".join(self.errlog.read()[-300:].split())
        except (OSError, ValueError):
            tail = ""
        return text + (f" (server said: {tail})" if tail else "")


def confinement(settings: McpServerSettings) -> str:
    """How this server's process runs: in the sandbox, or unconfined and why."""
    if settings.command is None:
        return "remote (HTTP): not a process onloop starts"
    if not settings.sandbox:
        return "unconfined: the config says sandbox = false"
    status = sandbox_status()
    if not status.available:
        return f"unconfined: {status.reason}"
    paths = ", ".join(settings.paths) or "none"
    network = "network" if settings.network else "no network"
    return f"sandboxed (bubblewrap; read-write: {paths}; {network})"


def default_scratch_root() -> Path:
    """Where sandboxed servers get their private folders when the worker named no place."""
    return Path(tempfile.gettempdir()) / f"onloop-mcp-{os.getuid()}"


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _default_env() -> dict[str, str]:
    from mcp.client.stdio import get_default_environment

    return get_default_environment()


async def _list_tools(session: ClientSession) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(100):  # a server that pages forever is cut off
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


class McpPool:
    """The MCP servers this process has started, by name; reused by every run, stopped on close."""

    def __init__(self, scratch_root: Path | None = None) -> None:
        # Sandboxed stdio servers get <scratch_root>/<server> as their HOME and cwd; the worker
        # sets <workspace root>/.mcp.
        self.scratch_root = scratch_root
        self.protected: Protected | None = None  # onloop's own files (the worker sets them)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: dict[str, _Server] = {}
        self._lock = threading.Lock()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._loop.run_forever, name="onloop-mcp", daemon=True
                )
                thread.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _call(
        self, coro: Coroutine[Any, Any, T], timeout: float, cancel: threading.Event | None
    ) -> T:
        """Like _run, and a set `cancel` cancels the call's task (the SDK then sends the server
        notifications/cancelled; the session stays up for other calls) and raises ToolCancelled
        within CANCEL_POLL_S."""
        loop = self._loop
        if loop is None:
            self._run(asyncio.sleep(0), 5)  # starts the loop
            loop = self._loop
        assert loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                return future.result(max(0.0, min(left, CANCEL_POLL_S)))
            except concurrent.futures.TimeoutError:
                if cancel is not None and cancel.is_set():
                    future.cancel()
                    raise ToolCancelled() from None
                if left <= 0:
                    future.cancel()
                    raise

    def _server(self, settings: McpServerSettings) -> _Server:
        """The running server for these settings, started (or restarted) when it is not up."""
        with self._lock:
            server = self._servers.get(settings.name)
            if server is not None and server.settings == settings:
                if server.session is not None:
                    return server
                recent = time.monotonic() - server.failed_at < RETRY_AFTER_S
                if server.error and recent and not server.retry_now:
                    return server  # it failed just now: every page view need not wait for it
            if server is not None:
                self._stop(server)
            server = _Server(settings, self.scratch_root, self.protected)
            self._servers[settings.name] = server
        self._start(server)
        return server

    def _start(self, server: _Server) -> None:
        if self._loop is None:
            self._run(asyncio.sleep(0), 5)
        assert self._loop is not None
        server.task = asyncio.run_coroutine_threadsafe(server.run(), self._loop)
        # The wait is cut by a halt of the run that waits (its tool context: a call, or the
        # session's start listing the run's tools), looked at every CANCEL_POLL_S.
        context = current_context()
        cancel = context.cancel if context is not None else None
        deadline = time.monotonic() + server.settings.start_timeout_s
        while not server.ready.wait(max(min(CANCEL_POLL_S, deadline - time.monotonic()), 0)):
            if cancel is not None and cancel.is_set():
                server.retry_now = True
                self._give_up(server, "its start was stopped by a halt")
                return
            if time.monotonic() >= deadline:
                self._give_up(server, f"did not start within {server.settings.start_timeout_s:g} s")
                return

    def _give_up(self, server: _Server, why: str) -> None:
        """Stop a server that is not up yet: its start is cancelled (a server that never answers
        `initialize` is not waited for, and its process ends)."""
        server.error = why
        server.failed_at = time.monotonic()
        self._stop(server)
        if server.task is not None:
            server.task.cancel()

    def _stop(self, server: _Server) -> None:
        loop, stop = self._loop, server.stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)

    def _forget(self, server: _Server) -> None:
        server.session = None
        self._stop(server)

    def tools(self, servers: list[McpServerSettings]) -> list[Tool]:
        """Every tool of these servers, starting them as needed; a server that is down adds none."""
        found: list[Tool] = []
        for settings in servers:
            server = self._server(settings)
            for mcp_tool in server.tools if server.session is not None else []:
                made = self._tool(settings, mcp_tool)
                if made is not None:
                    found.append(made)
        return found

    def status(self, servers: list[McpServerSettings]) -> list[ServerStatus]:
        out = []
        for s in servers:
            server = self._servers.get(s.name)
            up = server is not None and server.session is not None
            error = server.error if server is not None else "not started"
            tools = len(server.tools) if server is not None and up else 0
            out.append(
                ServerStatus(
                    s.name, s.transport, s.where(), up, tools, "" if up else error, confinement(s)
                )
            )
        return out

    def call(self, settings: McpServerSettings, tool_name: str, arguments: dict) -> str:
        server = self._server(settings)
        session = server.session
        label = f"MCP server {settings.name!r}"
        if session is None:
            raise ToolError(f"{label} is not running: {server.error}; try another way")
        timeout = settings.timeout_s
        context = current_context()
        if context is not None:
            context.before_sending()  # no call leaves after a recorded halt
        plans = self._guards(settings)  # what is there before the call, in the server's paths
        try:
            result = self._call(
                session.call_tool(tool_name, arguments, read_timeout_seconds=timeout),
                timeout + 5,
                context.cancel if context is not None else None,
            )
        except ToolCancelled as exc:
            raise ToolCancelled(
                f"stopped by a halt: the call of {tool_name} on {label} was cancelled "
                "(the server was sent notifications/cancelled); its result is not recorded"
            ) from exc
        except TimeoutError as exc:
            raise ToolError(f"{label} did not answer {tool_name} within {timeout:g} s") from exc
        except Exception as exc:  # noqa: BLE001  # a crash or a protocol error
            # Whatever broke, the session is not trusted again: the next call starts it afresh.
            self._forget(server)
            detail = "; ".join(f"{type(e).__name__}: {e}" for e in _leaves(exc)[:2])
            raise ToolError(
                f"{label} failed on {tool_name} ({detail}); it is restarted for the next call"
            ) from exc
        finally:
            removed = [shown for plan in plans for shown in sweep(plan)]
        text, is_error = result_text(result)
        if removed:
            text += (
                f"\n[onloop removed what the call created where onloop reads its own files: "
                f"{', '.join(removed)}; onloop's own files are not the agent's to write]"
            )
        if is_error:
            raise ToolError(f"{tool_name} ({label}) reported an error: {text or 'no detail'}")
        return text

    def _guards(self, settings: McpServerSettings) -> list[Guard]:
        """onloop's own files in the server's paths before a call: those the call creates where
        onloop reads one (a policy where the next run starts, `.streamlit/`) are removed after
        it, as after a shell command (existing ones were pinned when the server started)."""
        protected = self.protected or own_files()
        return [guard(Path(p).resolve(), protected) for p in settings.paths if Path(p).is_dir()]

    def _tool(self, settings: McpServerSettings, mcp_tool: types.Tool) -> Tool | None:
        name = mcp_tool_name(settings.name, mcp_tool.name)
        schema = dict(mcp_tool.input_schema or {"type": "object", "properties": {}})
        schema.setdefault("type", "object")
        try:
            validator = schema_validator(schema, name)
        except jsonschema.SchemaError as exc:
            log.warning("MCP tool %s has an invalid schema, left out: %s", name, exc.message)
            return None
        risk, risk_from = risk_of(settings, mcp_tool)

        def call(**arguments: Any) -> str:
            return self.call(settings, mcp_tool.name, arguments)

        return Tool(
            name=name,
            description=(mcp_tool.description or mcp_tool.title or mcp_tool.name)[:1024],
            parameters=schema,
            risk=risk,
            fn=call,
            source=f"mcp {settings.name}",
            risk_from=risk_from,
            claim=server_claim(settings, mcp_tool),
            validator=validator,
        )

    def close(self) -> None:
        """Stop every server (their processes end with their sessions) and the loop."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
            loop, self._loop = self._loop, None
        if loop is None:
            return
        for server in servers:
            if server.stop is not None:
                loop.call_soon_threadsafe(server.stop.set)

        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if tasks:
                await asyncio.wait(tasks, timeout=5)

        try:
            asyncio.run_coroutine_threadsafe(drain(), loop).result(10)
        except Exception:  # noqa: BLE001  # closing is best effort; the processes get EOF anyway
            pass
        loop.call_soon_threadsafe(loop.stop)


_shared: McpPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> McpPool:
    """This process's pool: the worker's runs (and the dashboard's listings) share its servers."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = McpPool()
            atexit.register(_shared.close)
        return _shared


def close_shared_pool() -> None:
    """Stop this process's MCP servers (a worker stopping); a later use starts them again."""
    global _shared
    with _shared_lock:
        pool, _shared = _shared, None
    if pool is not None:
        pool.close()


shared_clients.on_close(close_shared_pool)  # a stopping worker stops its MCP servers
