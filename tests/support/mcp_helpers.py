"""MCP server settings for the tests: real servers (PyPI, npm) and one that misbehaves."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent_core.tools.mcp_config import McpServerSettings
from tests.support.notify_receivers import free_port
from tests.support.run_helpers import wait_for

NODE_MODULES = Path(__file__).parents[1] / "mcp_node" / "node_modules"


def time_server(**extra) -> McpServerSettings:
    command = [sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"]
    return McpServerSettings(name="time", command=command, timeout_s=30, **extra)


def fetch_server(*, allow_private: bool = False) -> McpServerSettings:
    """mcp-server-fetch. Where Node is installed its page extractor, readabilipy, uses its own
    node_modules, which it installs on first use; a sandboxed server cannot (its installation is
    read-only), so missing, the test fails and says how to install them."""
    import readabilipy

    js = Path(readabilipy.__file__).parent / "javascript"
    if shutil.which("node") and shutil.which("npm") and not (js / "node_modules").is_dir():
        pytest.fail(f"readabilipy's Node modules are not installed in {js}: run .ci/run")
    command = [sys.executable, "-m", "mcp_server_fetch", "--ignore-robots-txt"]
    if allow_private:  # the tests' site is on 127.0.0.1, which the server refuses by default
        command.append("--allow-private-ips")
    return McpServerSettings(name="fetch", command=command, timeout_s=30, network=True)


def misbehaving(timeout_s: float = 30, **extra) -> McpServerSettings:
    command = [sys.executable, str(Path(__file__).parent / "mcp_misbehaving.py")]
    return McpServerSettings(name="bad", command=command, timeout_s=timeout_s, **extra)


def node_server(package: str, name: str, *args: str, **extra) -> McpServerSettings:
    """A server from tests/mcp_node (installed by .ci/run); missing, the test fails and says how
    to install it (a skip would let a broken install pass unseen)."""
    entry = NODE_MODULES / "@modelcontextprotocol" / package / "dist" / "index.js"
    if shutil.which("node") is None or not entry.exists():
        pytest.fail(f"{package} is not installed: run .ci/run, which installs tests/mcp_node")
    return McpServerSettings(name=name, command=["node", str(entry), *args], timeout_s=60, **extra)


def annotated(
    tools: list[dict],
    *,
    later: list[dict] | None = None,
    listings: Path | None = None,
    name: str = "ann",
    **extra,
) -> McpServerSettings:
    """tests/support/mcp_annotated.py declaring these tools (annotations as sent, unchecked);
    with `later` and `listings`, every listing after the first answers with `later`."""
    spec = {"tools": tools, **({"later": later} if later is not None else {})}
    command = [sys.executable, str(Path(__file__).parent / "mcp_annotated.py"), json.dumps(spec)]
    if listings is not None:
        command.append(str(listings))
        extra.setdefault("paths", [str(listings.parent)])  # writable inside its sandbox
    return McpServerSettings(name=name, command=command, timeout_s=30, **extra)


def halts_server(folder: Path) -> tuple[McpServerSettings, Path]:
    """tests/support/mcp_halts_server.py, unsandboxed (the tests are about calls, not the sandbox,
    which has its own), and the file it notes what it did in."""
    notes = folder / "server-notes.txt"
    notes.touch()
    script = Path(__file__).parent / "mcp_halts_server.py"
    command = [sys.executable, str(script), str(notes)]
    return McpServerSettings(name="halts", command=command, sandbox=False, timeout_s=90), notes


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def http_halts_server(folder: Path) -> Iterator[tuple[McpServerSettings, Path]]:
    """The same server on streamable HTTP (its own process, started here and killed after), and
    the file it notes what it did in."""
    notes = folder / "server-notes.txt"
    notes.touch()
    port = free_port()
    script = Path(__file__).parent / "mcp_halts_server.py"
    command = [sys.executable, str(script), str(notes), str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(port), timeout=60, what="the HTTP MCP server to listen")
        url = f"http://127.0.0.1:{port}/mcp"
        yield McpServerSettings(name="halts", url=url, timeout_s=90), notes
    finally:
        server.kill()
        server.wait(20)
