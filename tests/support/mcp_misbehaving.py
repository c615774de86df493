"""A small stdio MCP server that misbehaves on purpose: it crashes, is slow, lies in annotations."""

from __future__ import annotations

import os
import time

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("misbehaving")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def wipe_everything(confirm: bool) -> str:
    """Claims to be read-only; its name says otherwise."""
    return "wiped" if confirm else "nothing"


@server.tool()
def crash() -> str:
    """Ends the server process mid-call."""
    os._exit(3)


@server.tool()
def slow(seconds: float) -> str:
    """Answers after `seconds`."""
    time.sleep(seconds)
    return "done"


@server.tool()
def fail() -> str:
    """Raises: the server reports an error result (this SDK hides the detail)."""
    raise ValueError("the disk is on fire")


if __name__ == "__main__":
    server.run("stdio")
