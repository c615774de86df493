"""Your own tools: `from onloop import tool` in a module the policy names (or an entry point),
loaded into one registry with the built-ins and MCP tools; `onloop tools` lists them all."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from agent_core.oversight.policy import Policy
from agent_core.oversight.policy_check import CallCheckError, check_call
from agent_core.tools import ToolArgumentError
from agent_core.tools.mcp_client import close_shared_pool
from agent_core.tools.registry import ToolLoadError, known_tools
from tests.cli.test_commands import onloop
from tests.support.dashboard_fixtures import app_at, open_store
from tests.support.mcp_helpers import misbehaving

TIDES = '''
    from typing import Literal

    from onloop import ToolError, tool


    @tool(risk="medium")
    def tide_table(port: str, days: int = 1, unit: Literal["m", "ft"] = "m") -> str:
        """Look up high and low water for a port.

        Args:
            port: The harbour's name, e.g. "Brest".
            days: How many days ahead (1-7).
            unit: Heights in metres or feet.
        """
        if port == "Atlantis":
            raise ToolError("no tide tables for Atlantis; try a real port")
        return f"{port}: {days} day(s) in {unit}"
'''


@pytest.fixture
def tool_module(tmp_path, monkeypatch):
    """A module `tides_demo` on the path, as a user's package would be."""
    (tmp_path / "tides_demo.py").write_text(textwrap.dedent(TIDES))
    (tmp_path / "clash_demo.py").write_text(
        textwrap.dedent('''
        from onloop import tool

        @tool
        def calculator(expression: str) -> str:
            """My own calculator.

            Args:
                expression: what to compute.
            """
            return "42"
        ''')
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("tides_demo", "clash_demo"):
        sys.modules.pop(name, None)


def test_a_module_tool_joins_the_registry_with_its_derived_schema(tool_module):
    tools = known_tools(["tides_demo"])
    tide = tools["tide_table"]
    assert (tide.source, tide.risk) == ("module tides_demo", "medium")
    assert tide.description == "Look up high and low water for a port."
    assert tide.parameters["properties"]["unit"] == {
        "type": "string",
        "enum": ["m", "ft"],
        "description": "Heights in metres or feet.",
        "default": "m",
    }
    assert tide.parameters["required"] == ["port"]
    assert tide.fn(**tide.validate({"port": "Brest"})) == "Brest: 1 day(s) in m"
    with pytest.raises(ToolArgumentError, match="argument 'days' must be an integer"):
        tide.validate({"port": "Brest", "days": "two"})
    assert "calculator" in tools and tools["calculator"].source == "built-in"


def test_a_name_clash_is_refused_with_a_clear_message(tool_module):
    with pytest.raises(
        ToolLoadError, match="'calculator' from module clash_demo clashes with the built-in"
    ):
        known_tools(["clash_demo"])


def test_a_module_that_does_not_import_is_named(tool_module):
    with pytest.raises(ToolLoadError, match="cannot import tool module 'no_such_tools_module'"):
        known_tools(["no_such_tools_module"])


def test_policy_check_works_for_a_module_tool(tool_module):
    policy = Policy(tools=["tides_demo"])
    check = check_call(
        policy, tool_name="tide_table", arguments_json='{"port": "Brest"}', autonomy="supervised"
    )
    assert check.decision.verdict == "ask"  # medium risk under supervision
    with pytest.raises(CallCheckError, match="unknown tool 'nope'"):
        check_call(policy, tool_name="nope", arguments_json="{}", autonomy="supervised")


def test_onloop_tools_lists_every_source_with_risk_origin_and_schema(tool_module):
    bad = misbehaving()
    policy = tool_module / "onloop.toml"
    policy.write_text(
        'tools = ["tides_demo"]\n'
        f'[[mcp_servers]]\nname = "bad"\ncommand = {json.dumps(bad.command)}\n'
        '[[mcp_servers]]\nname = "gone"\ncommand = ["/nonexistent/server"]\ntimeout_s = 5\n'
    )
    env = {"PYTHONPATH": f"{tool_module}:{Path(__file__).resolve().parents[2]}"}
    done = onloop("tools", "--json", cwd=tool_module, env=env)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    rows = {row["name"]: row for row in listing["tools"]}
    assert rows["tide_table"]["source"] == "module tides_demo"
    assert rows["fetch_url"]["source"] == "built-in"
    wipe = rows["mcp__bad__wipe_everything"]
    assert (wipe["source"], wipe["risk"], wipe["risk_from"]) == (
        "mcp bad",
        "medium",  # the server says read-only, but it is not trusted
        "untrusted server: its readOnlyHint cannot lower the risk below medium",
    )
    assert wipe["claim"] == (
        'MCP server bad (untrusted) says: "Claims to be read-only; its name says otherwise." '
        "(readOnlyHint=true)"
    )
    assert wipe["schema"]["required"] == ["confirm"]
    servers = {s["name"]: s for s in listing["mcp_servers"]}
    assert servers["bad"]["up"] and not servers["gone"]["up"]
    text = onloop("tools", cwd=tool_module, env=env).stdout
    assert "MCP server gone" in text and "DOWN" in text
    assert f"\n  {wipe['claim']}\n" in text  # under its tool's line
    assert servers["bad"]["confinement"].startswith(("sandboxed (bubblewrap", "unconfined: "))
    assert servers["bad"]["confinement"] in text


def test_the_launch_page_groups_tools_by_source(tool_module, tmp_path, monkeypatch):
    (tmp_path / "onloop.toml").write_text('tools = ["tides_demo"]\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ONLOOP_POLICY", raising=False)
    for _ in open_store(tmp_path, monkeypatch):
        at = app_at()
        assert not at.exception
        assert at.multiselect(key="launch_tools").value[0] == "calculator"
        assert at.multiselect(key="launch_tools_module tides_demo").value == ["tide_table"]
    close_shared_pool()


def test_an_entry_point_module_is_loaded_like_a_listed_one(tool_module, monkeypatch):
    from agent_core.tools import registry

    monkeypatch.setattr(registry, "entry_point_modules", lambda: ["tides_demo"])
    assert known_tools()["tide_table"].source == "module tides_demo"


def test_the_policy_file_refuses_two_servers_of_one_name():
    from agent_core.oversight.policy_file import PolicyError, parse_policy

    text = '[[mcp_servers]]\nname = "a"\ncommand = ["x"]\n[[mcp_servers]]\nname = "a"\nurl = "http://127.0.0.1:1/mcp"\n'
    with pytest.raises(PolicyError, match="given twice: a"):
        parse_policy(text, source="test")
    policy = parse_policy('tools = ["mypkg.tools"]\n', source="test")
    assert policy.tools == ["mypkg.tools"]


def test_installed_packages_are_scanned_once_per_window_not_once_per_run(monkeypatch):
    """Each run's start asks for the entry-point modules; the scan of installed packages (~6 ms)
    is kept for ENTRY_POINTS_FRESH_S, then done again so a newly installed package shows up."""
    from agent_core.tools import registry

    scans = []

    def fake_entry_points(group):
        scans.append(group)
        return [type("EP", (), {"module": f"pkg{len(scans)}.tools"})()]

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    monkeypatch.setattr(registry, "_entry_points_seen", None)
    assert registry.entry_point_modules() == ["pkg1.tools"]
    assert registry.entry_point_modules() == ["pkg1.tools"]
    assert len(scans) == 1
    monkeypatch.setattr(registry, "ENTRY_POINTS_FRESH_S", 0.0)
    assert registry.entry_point_modules() == ["pkg2.tools"]
    assert scans == [registry.ENTRY_POINT_GROUP] * 2
