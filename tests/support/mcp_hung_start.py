"""A stdio MCP server that starts once: its first process serves (a tool that ends it), every
later one (a restart) never answers `initialize`. With "--never" no process ever answers. The
first argument names a file that marks the first start and notes each later one."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

FLAG = Path(sys.argv[1])

if "--never" in sys.argv or FLAG.exists():
    with FLAG.open("a") as notes:
        notes.write(f"hung {os.getpid()}\n")
    time.sleep(1000)  # never reads its stdin: the client's initialize gets no answer
    sys.exit(0)
FLAG.write_text(f"served {os.getpid()}\n")

from mcp.server import MCPServer  # noqa: E402  (a hung start need not load it)

server = MCPServer("hung")


@server.tool()
def crash() -> str:
    """Ends this server process at once (the next call restarts it)."""
    os._exit(1)


@server.tool()
def hello() -> str:
    """Says hello."""
    return "hello"


if __name__ == "__main__":
    server.run("stdio")
