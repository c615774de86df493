"""Real MCP servers nobody here wrote: filesystem and everything (npm, stdio and streamable HTTP),
mcp-server-fetch (PyPI) against a local site."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from agent_core.tools import ToolArgumentError, ToolError
from agent_core.tools.mcp_client import McpPool
from agent_core.tools.mcp_config import McpServerSettings
from tests.support.local_site import local_site
from tests.support.mcp_helpers import fetch_server, node_server


@pytest.fixture
def pool():
    pool = McpPool()
    yield pool
    pool.close()


def tools_of(pool: McpPool, settings: McpServerSettings) -> dict:
    tools = {t.name: t for t in pool.tools([settings])}
    assert tools, pool.status([settings])
    return tools


def test_filesystem_server_reads_writes_and_keeps_to_its_folder(pool, tmp_path):
    (tmp_path / "notes.txt").write_text("tide at 06:12\n")
    tools = tools_of(
        pool,
        node_server("server-filesystem", "fs", str(tmp_path), paths=[str(tmp_path)], trusted=True),
    )
    read, write = tools["mcp__fs__read_text_file"], tools["mcp__fs__write_file"]
    assert (read.risk, write.risk) == ("low", "high")  # trusted: readOnlyHint, destructiveHint
    assert write.risk_from == "annotations (destructiveHint)"
    assert read.fn(**read.validate({"path": str(tmp_path / "notes.txt")})) == "tide at 06:12\n"
    write.fn(**write.validate({"path": str(tmp_path / "out.md"), "content": "# done"}))
    assert (tmp_path / "out.md").read_text() == "# done"
    with pytest.raises(ToolError, match="outside allowed directories"):
        read.fn(path="/etc/passwd")
    with pytest.raises(ToolArgumentError, match="'content' is a required property"):
        write.validate({"path": "x"})


def test_everything_server_over_stdio_sees_none_of_the_workers_secrets(pool, monkeypatch):
    monkeypatch.setenv("ONLOOP_TEST_SECRET", "hunter2-secret-value")
    tools = tools_of(pool, node_server("server-everything", "ev", "stdio"))
    assert tools["mcp__ev__echo"].fn(message="hi") == "Echo: hi"
    assert "3" in tools["mcp__ev__get-sum"].fn(a=1, b=2)
    assert "hunter2-secret-value" not in tools["mcp__ev__get-env"].fn()
    assert "[image content omitted]" in tools["mcp__ev__get-tiny-image"].fn()


def test_a_slow_real_tool_times_out_and_the_server_is_usable_again(pool):
    settings = node_server("server-everything", "ev", "stdio").model_copy(update={"timeout_s": 3})
    tools = tools_of(pool, settings)
    with pytest.raises(ToolError, match="trigger-long-running-operation"):
        tools["mcp__ev__trigger-long-running-operation"].fn(duration=30, steps=3)
    assert tools_of(pool, settings)["mcp__ev__echo"].fn(message="back") == "Echo: back"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def everything_over_http():
    entry = node_server("server-everything", "x").command
    port = _free_port()
    process = subprocess.Popen(
        [*entry, "streamableHttp"],  # type: ignore[misc]
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    process.terminate()
    process.wait(10)


def test_everything_server_over_streamable_http_with_a_header_from_the_environment(
    pool, everything_over_http, monkeypatch
):
    monkeypatch.setenv("EVERYTHING_TOKEN", "Bearer t0ken")
    settings = McpServerSettings(
        name="web",
        url=everything_over_http,
        headers={"Authorization": "env:EVERYTHING_TOKEN"},
        timeout_s=30,
    )
    tools = tools_of(pool, settings)
    assert tools["mcp__web__echo"].fn(message="over http") == "Echo: over http"
    [status] = pool.status([settings])
    assert status.up and status.transport == "http"


def test_a_header_naming_a_missing_variable_keeps_the_server_down_and_says_so(pool):
    settings = McpServerSettings(
        name="web", url="http://127.0.0.1:9/mcp", headers={"X": "env:ONLOOP_NOT_SET_ANYWHERE"}
    )
    assert pool.tools([settings]) == []
    assert "ONLOOP_NOT_SET_ANYWHERE" in pool.status([settings])[0].error


def test_mcp_server_fetch_reads_a_local_page_only_when_told_to(pool):
    # Unconfined: a sandboxed server's granted network is its own and never reaches the host's
    # loopback, where the site is (test_mcp_sandbox, test_sandbox_isolation).
    unconfined = {"sandbox": False}
    with local_site() as site:
        fetch = tools_of(pool, fetch_server().model_copy(update=unconfined))["mcp__fetch__fetch"]
        with pytest.raises(ToolError, match="not a public address"):
            fetch.fn(url=f"{site}/article")
        pool.close()
        private = fetch_server(allow_private=True).model_copy(update=unconfined)
        fetch = tools_of(pool, private)["mcp__fetch__fetch"]
        text = fetch.fn(**fetch.validate({"url": f"{site}/article"}))
    assert "Tides of Brest" in text
