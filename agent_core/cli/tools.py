"""`onloop tools`: every tool a run could use under the policy, where it comes from, its risk."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from agent_core.oversight import inert

if TYPE_CHECKING:  # the tools are imported when the command runs, not for `--help`
    from agent_core.tools.decorator import Tool


def tool_row(t: Tool) -> dict:
    return {
        "name": t.name,
        "source": t.source,
        "risk": t.risk,
        "risk_from": t.risk_from,
        "description": t.description,
        "claim": t.claim,  # the description as its MCP server's word, marked (un)trusted
        "schema": t.parameters,
    }


def tools_command(
    policy_path: Annotated[
        str | None, typer.Option("--policy", help="Policy file (default ./onloop.toml).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """List every tool a run could use: name, source, risk and where it came from, schema."""
    # Here, not at the top: `onloop --help` stays fast (the tools, the policy engine, MCP's SDK).
    from agent_core.oversight.policy_file import PolicyError, load_policy
    from agent_core.tools.registry import ToolLoadError, known_tools

    try:
        policy = load_policy(policy_path)
        tools = known_tools(policy.tools, policy.mcp_servers)
    except (PolicyError, ToolLoadError) as exc:
        typer.echo(f"error: {inert.visible(exc)}", err=True)
        raise typer.Exit(2) from exc
    servers = []
    if policy.mcp_servers:
        from agent_core.tools.mcp_client import shared_pool

        servers = [vars(s) for s in shared_pool().status(policy.mcp_servers)]
    if json_out:
        rows = [tool_row(t) for t in tools.values()]
        typer.echo(json.dumps({"tools": rows, "mcp_servers": servers}, indent=2))
        return
    for t in tools.values():
        name = inert.visible(t.name, newlines=False, tabs=False)  # an MCP server names its tools
        typer.echo(f"{name:40} {t.risk:6} ({t.risk_from})  from {t.source}")
        if t.claim:  # a server's own words about its tool, labelled as such, one line
            typer.echo(f"  {inert.visible(t.claim, newlines=False, tabs=False)}")
    for s in servers:
        error = inert.visible(s["error"], newlines=False)  # a server's own words
        state = f"up, {s['tools']} tools" if s["up"] else f"DOWN: {error}"
        typer.echo(f"MCP server {s['name']} ({s['transport']}: {s['where']}): {state}")
        typer.echo(f"  {s['confinement']}")
