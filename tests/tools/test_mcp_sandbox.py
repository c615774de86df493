"""stdio MCP servers run in the sandbox where bubblewrap works: real servers still do their job,
and cannot read outside the folders their config lists, see the worker's environment, or reach
the network unless the config says so."""

from __future__ import annotations

import pytest

from agent_core.tools import ToolError
from agent_core.tools.mcp_client import McpPool, confinement
from agent_core.tools.sandbox import program_folders
from tests.support.local_site import local_site
from tests.support.mcp_helpers import fetch_server, node_server, time_server

needs_sandbox = pytest.mark.usefixtures("sandbox_required")


@pytest.fixture
def pool(tmp_path):
    pool = McpPool(scratch_root=tmp_path / "scratch")
    yield pool
    pool.close()


def tools_of(pool: McpPool, settings) -> dict:
    tools = {t.name: t for t in pool.tools([settings])}
    assert tools, pool.status([settings])
    return tools


@needs_sandbox
def test_time_server_works_sandboxed(pool):
    settings = time_server()
    tools = tools_of(pool, settings)
    (status,) = pool.status([settings])
    assert status.up and status.confinement.startswith("sandboxed (bubblewrap")
    text = tools["mcp__time__get_current_time"].fn(timezone="Europe/Paris")
    assert '"timezone": "Europe/Paris"' in text


@needs_sandbox
def test_filesystem_server_sandboxed_sees_only_its_paths(pool, tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "notes.txt").write_text("tide at 06:12\n")
    canary = tmp_path / "canary.txt"  # outside its paths; the server is told it may read it
    canary.write_text("canary-secret-4711\n")
    settings = node_server(
        "server-filesystem", "fs", str(allowed), str(tmp_path), paths=[str(allowed)]
    )
    tools = tools_of(pool, settings)
    read, write = tools["mcp__fs__read_text_file"], tools["mcp__fs__write_file"]
    assert read.fn(path=str(allowed / "notes.txt")) == "tide at 06:12\n"
    write.fn(path=str(allowed / "out.md"), content="# done")
    assert (allowed / "out.md").read_text() == "# done"
    with pytest.raises(ToolError) as info:  # the server would allow it; the sandbox does not
        read.fn(path=str(canary))
    assert "canary-secret-4711" not in str(info.value)
    with pytest.raises(ToolError):
        read.fn(path="/etc/shadow")
    unconfined = McpPool()  # the same server, unconfined, reads the canary: the sandbox did it
    try:
        loose = settings.model_copy(update={"sandbox": False})
        assert "canary-secret-4711" in tools_of(unconfined, loose)["mcp__fs__read_text_file"].fn(
            path=str(canary)
        )
    finally:
        unconfined.close()


@needs_sandbox
def test_everything_server_sandboxed_gets_only_the_configured_environment(pool, monkeypatch):
    monkeypatch.setenv("ONLOOP_TEST_SECRET", "hunter2-secret-value")
    monkeypatch.setenv("ONLOOP_PASSED_ON", "passed-on-value")
    settings = node_server(
        "server-everything", "ev", "stdio", env={"GIVEN": "env:ONLOOP_PASSED_ON"}
    )
    tools = tools_of(pool, settings)
    env = tools["mcp__ev__get-env"].fn()
    assert "hunter2-secret-value" not in env
    assert "passed-on-value" in env
    assert str(pool.scratch_root) in env  # HOME is its private scratch folder


@needs_sandbox
def test_a_sandboxed_server_has_no_network_unless_the_config_says_so(pool):
    with local_site() as site:
        offline = fetch_server(allow_private=True).model_copy(update={"network": False})
        fetch = tools_of(pool, offline)["mcp__fetch__fetch"]
        with pytest.raises(ToolError):
            fetch.fn(url=f"{site}/article")
        pool.close()
        online = McpPool(scratch_root=pool.scratch_root)
        try:  # granted, the network is the server's own: the host's loopback stays out of reach
            settings = fetch_server(allow_private=True)
            fetch = tools_of(online, settings)["mcp__fetch__fetch"]
            assert online.status([settings])[0].confinement.endswith("; network)")
            with pytest.raises(ToolError, match="connect|Connect"):
                fetch.fn(url=f"{site}/article")
        finally:
            online.close()


def test_without_bubblewrap_or_with_sandbox_false_servers_run_unconfined(pool, monkeypatch):
    assert confinement(time_server(sandbox=False)) == "unconfined: the config says sandbox = false"
    monkeypatch.setenv("ONLOOP_BWRAP", "/nonexistent/bwrap")
    settings = time_server()
    assert confinement(settings).startswith("unconfined: bubblewrap (/nonexistent/bwrap)")
    tools = tools_of(pool, settings)
    assert "Europe/Paris" in tools["mcp__time__get_current_time"].fn(timezone="Europe/Paris")
    assert pool.status([settings])[0].confinement.startswith("unconfined")


def test_program_folders_bind_the_installation_not_the_system(tmp_path):
    script = tmp_path / "proj" / "node_modules" / "@x" / "srv" / "dist" / "index.js"
    script.parent.mkdir(parents=True)
    script.write_text("")
    venv_python = tmp_path / "venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text("")
    assert program_folders(["/usr/bin/node", str(script), "stdio"]) == [
        str(tmp_path / "proj" / "node_modules")
    ]
    assert program_folders([str(venv_python), "-m", "x"]) == [str(tmp_path / "venv")]
