"""An MCP server for the halt attacks: tools that take their time, note whether the client
cancelled them (in the file named by the first argument), and one that calls a URL late. On
stdio; given a port as the second argument, on streamable HTTP at http://127.0.0.1:PORT/mcp."""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

import anyio
import anyio.to_thread
from mcp.server import MCPServer

server = MCPServer("halts")
NOTES = Path(sys.argv[1])


def note(text: str) -> None:
    with NOTES.open("a") as notes:
        notes.write(text + "\n")


@server.tool()
async def nap(seconds: float) -> str:
    """Sleeps `seconds`, noting its start and whether it was cancelled."""
    note(f"started {os.getpid()}")
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        note("cancelled")
        raise
    return "rested"


@server.tool()
async def call_later(url: str, seconds: float) -> str:
    """Waits `seconds`, then fetches `url` (a witness)."""
    note(f"started {os.getpid()}")
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        note("cancelled")
        raise
    fetched = await anyio.to_thread.run_sync(lambda: urllib.request.urlopen(url, timeout=5).read())
    return fetched.decode()


@server.tool()
def doze(seconds: float) -> str:
    """Sleeps `seconds` in a thread: a call this server cannot interrupt."""
    import time

    note(f"started {os.getpid()}")
    time.sleep(seconds)
    return "dozed"


@server.tool()
def pid() -> str:
    """This server's process id."""
    return str(os.getpid())


if __name__ == "__main__":
    if len(sys.argv) > 2:
        server.run("streamable-http", port=int(sys.argv[2]))
    else:
        server.run("stdio")
