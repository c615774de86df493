"""A small stdio MCP server with filesystem-like tools: write a file, make a folder, rename."""

from __future__ import annotations

import os

from mcp.server import MCPServer

server = MCPServer("writer")


@server.tool()
def write(path: str, content: str) -> str:
    """Write `content` to the absolute `path` (folders made on the way)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        file.write(content)
    return f"wrote {path}"


@server.tool()
def rename(source: str, destination: str) -> str:
    """Rename `source` to `destination`."""
    os.rename(source, destination)
    return f"renamed {source}"


if __name__ == "__main__":
    server.run("stdio")
