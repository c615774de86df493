"""MCP servers as tool sources, against real servers: tools, schemas, risk, errors, crashes."""

from __future__ import annotations

import pytest

from agent_core.oversight.policy import Policy, Rule, decide
from agent_core.tools import ToolArgumentError, ToolError, args_hash
from agent_core.tools.mcp_client import McpPool
from agent_core.tools.mcp_config import McpServerSettings
from agent_core.tools.mcp_tools import mcp_tool_name
from agent_core.tools.registry import ToolLoadError, add_tools, known_tools
from tests.support.mcp_helpers import misbehaving, time_server


@pytest.fixture
def pool():
    pool = McpPool()
    yield pool
    pool.close()


def by_name(pool: McpPool, *servers: McpServerSettings) -> dict:
    return {t.name: t for t in pool.tools(list(servers))}


def test_time_server_tools_have_its_schema_and_run(pool):
    tools = by_name(pool, time_server())
    t = tools["mcp__time__get_current_time"]
    assert t.source == "mcp time"
    assert t.parameters["required"] == ["timezone"]
    assert (t.risk, t.risk_from) == (
        "medium",
        "untrusted server: its readOnlyHint cannot lower the risk below medium",
    )
    assert '"timezone": "Europe/Paris"' in t.fn(**t.validate({"timezone": "Europe/Paris"}))


def test_arguments_are_checked_against_the_servers_schema_before_anything_runs(pool):
    t = by_name(pool, time_server())["mcp__time__get_current_time"]
    with pytest.raises(ToolArgumentError, match="'timezone' is a required property"):
        t.validate({})
    with pytest.raises(ToolArgumentError, match="timezone: 5 is not of type 'string'"):
        t.validate({"timezone": 5})


def test_a_server_error_is_a_tool_error(pool):
    t = by_name(pool, time_server())["mcp__time__get_current_time"]
    with pytest.raises(ToolError, match="Invalid timezone"):
        t.fn(timezone="Nowhere/Atlantis")


def test_the_server_starts_once_and_is_reused(pool):
    first = by_name(pool, time_server())
    server = pool._servers["time"]
    second = by_name(pool, time_server())
    assert pool._servers["time"] is server and set(first) == set(second)


def test_config_risk_wins_over_annotations(pool):
    tools = by_name(pool, time_server(risk="high", tool_risk={"convert_time": "medium"}))
    assert tools["mcp__time__get_current_time"].risk == "high"
    assert tools["mcp__time__convert_time"].risk_from == "config (tool_risk)"


def test_a_trusted_servers_read_only_tool_is_low(pool):
    t = by_name(pool, time_server(trusted=True))["mcp__time__get_current_time"]
    assert (t.risk, t.risk_from) == ("low", "annotations (readOnlyHint, trusted server)")


def test_an_annotation_cannot_lower_what_a_rule_says(pool):
    t = by_name(pool, misbehaving(trusted=True))["mcp__bad__wipe_everything"]
    assert t.risk == "low"  # a trusted server says read-only: a rule still wins
    policy = Policy(rules=[Rule(tool="mcp__bad__wipe*", action="ask")])
    args = t.validate({"confirm": True})
    verdict = decide(
        policy,
        tool=t.name,
        risk=t.risk,
        arguments=args,
        autonomy="autonomous",
        args_hash=args_hash(args),
    )
    assert verdict.verdict == "ask"


def test_a_server_that_will_not_start_adds_no_tools_and_says_why(pool):
    broken = McpServerSettings(name="gone", command=["/nonexistent/mcp-server"], timeout_s=10)
    assert pool.tools([broken]) == []
    [status] = pool.status([broken])
    assert not status.up and "No such file" in status.error


def test_a_crashing_server_is_a_tool_error_and_restarts_for_the_next_call(pool):
    tools = by_name(pool, misbehaving())
    with pytest.raises(ToolError, match="MCP server 'bad' failed on crash"):
        tools["mcp__bad__crash"].fn()
    assert tools["mcp__bad__wipe_everything"].fn(confirm=False) == "nothing"


def test_a_slow_server_times_out_as_a_tool_error(pool):
    tools = by_name(pool, misbehaving(timeout_s=2))
    with pytest.raises(ToolError, match="slow"):
        tools["mcp__bad__slow"].fn(seconds=30)


def test_a_tool_raising_inside_the_server_is_reported(pool):
    with pytest.raises(ToolError, match="reported an error: Error executing tool fail"):
        by_name(pool, misbehaving())["mcp__bad__fail"].fn()


def test_names_fit_what_openai_accepts():
    assert mcp_tool_name("fs", "read.file/v2") == "mcp__fs__read_file_v2"
    assert len(mcp_tool_name("x", "y" * 100)) == 64


def test_a_clash_with_a_builtin_is_refused_by_name(pool):
    registry = known_tools()
    clash = registry["calculator"].__class__(**{**vars(registry["calculator"]), "source": "x"})
    with pytest.raises(ToolLoadError, match="'calculator' from x clashes with the built-in"):
        add_tools(registry, [clash])


def test_policy_file_servers_are_validated():
    with pytest.raises(ValueError, match="either command"):
        McpServerSettings(name="both", command=["a"], url="http://127.0.0.1:1/mcp")
    with pytest.raises(ValueError):
        McpServerSettings(name="bad_name", command=["a"])
