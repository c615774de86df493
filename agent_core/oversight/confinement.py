"""What a run's tools run under, as its policy sets it: the shell's sandbox and network, the
redactor (with the values of the workspace's secret files), onloop's own files, the disk budget."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from agent_core.oversight.policy import Policy
from agent_core.oversight.redact import Redactor, redactor_for
from agent_core.oversight.secret_files import secret_file_values
from agent_core.oversight.web_gate import url_gate
from agent_core.tools.builtins import ShellOffer, shell_offer
from agent_core.tools.context import ToolContext
from agent_core.tools.disk_budget import DiskBudget
from agent_core.tools.protected import Protected, describe, guard, own_files
from agent_core.tools.sandbox import Limits
from agent_core.tools.workspace import Workspace

MB = 1 << 20


def run_redactor(policy: Policy, workspace: Workspace | None = None) -> Redactor:
    """The redactor for a run: the worker's secret environment plus the policy's secrets, and
    (given the run's workspace) the values in its secret files."""
    redact = redactor_for(policy.secret_names(), policy.sandbox.secret_patterns)
    redact = redact.with_secrets(policy.written_secrets())
    if workspace is None:
        return redact
    # Files no tool may touch at all (the secrets rule) are secret; asked-for ones are not.
    protected = [p for r in policy.rules if r.action == "deny" and r.tool == "*" for p in r.paths]
    return redact.with_secrets(secret_file_values(workspace, protected))


def run_protected(policy: Policy, store_file: Path | None) -> Protected:
    """onloop's own files for a run under `policy`: its policy file, the store, the environment's
    files, the policy's tool modules and MCP server programs."""
    return own_files(
        policy_file=policy.origin.path if policy.origin else None,
        store_file=store_file,
        tool_modules=policy.tools,
        server_commands=[s.command for s in policy.mcp_servers if s.command],
    )


def protection_line(folder: Path, policy: Policy, store_file: Path | None) -> str | None:
    """One line naming onloop's own files in a folder a run will work in, or None."""
    return describe(guard(folder, run_protected(policy, store_file)))


def run_shell_offer(policy: Policy) -> ShellOffer:
    settings = policy.sandbox
    return shell_offer(unconfined_shell=settings.unconfined_shell, network=settings.network)


def run_disk_budget(policy: Policy, workspace: Path) -> DiskBudget:
    """The disk budget of one session of a run: its workspace and its MCP servers' paths."""
    roots = [workspace, *(Path(p) for server in policy.mcp_servers for p in server.paths)]
    return DiskBudget.start(roots, policy.sandbox.disk_mb)


def tool_context(
    policy: Policy,
    cancel: threading.Event,
    workspace: Workspace | None = None,
    halt_check: Callable[[], bool] | None = None,
    disk: DiskBudget | None = None,
) -> ToolContext:
    """The context one tool call runs with under `policy` (its output redacted of the values in
    the workspace's secret files too)."""
    settings = policy.sandbox
    redact = run_redactor(policy, workspace)
    return ToolContext(
        cancel=cancel,
        halt_check=halt_check,
        network=settings.network,
        unconfined_shell=settings.unconfined_shell,
        limits=Limits(
            cpu_seconds=settings.cpu_seconds,
            memory_bytes=settings.memory_mb * MB,
            file_bytes=min(settings.file_mb, settings.disk_mb) * MB,
            processes=settings.processes,
        ),
        disk=disk,
        redact=redact,
        url_gate=url_gate(policy),
    )
