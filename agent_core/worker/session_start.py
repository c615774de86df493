"""What a session needs before its first step: the run's model, and its spec (tools, workspace,
the hosts the project names)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import storage
from agent_core.models.base import ModelError, ModelProvider
from agent_core.models.demo_goals import seed_demo_workspace
from agent_core.models.providers import make_model
from agent_core.models.settings import Settings
from agent_core.oversight.confinement import run_protected, run_shell_offer
from agent_core.oversight.known_hosts import project_hosts
from agent_core.oversight.monitors import Budget, Usage
from agent_core.oversight.policy import Policy
from agent_core.oversight.stored_policy import stored_policy
from agent_core.run.spec import RunSpec
from agent_core.tools import Workspace
from agent_core.tools.builtins import offered_tools
from agent_core.tools.protected import Protected, own_files
from agent_core.tools.registry import ToolLoadError, known_tools, missing_mcp_tools
from agent_core.tools.workspace_choice import copy_from, seed_workspace, work_in
from storage.engine import sqlite_path
from storage.models import Run
from storage.private_files import FOLDER_MODE, private_folder, tighten
from storage.record import RunStarted, parse_as
from storage.vocabulary import EventKind

ModelFactory = Callable[[Run], ModelProvider]


def prepare_workspace(
    run: Run, root: Path, store_file: Path | None = None, protected: Protected | None = None
) -> Workspace:
    """The run's folder: the person's own (checked again: it may have changed since launch), or a
    per-run folder named by the run's id under this worker's `root` (ONLOOP_WORKSPACES: the
    machine that drives the run decides where), made on first use and seeded (a copy, or the
    demo's). `protected`: onloop's own files, which its tools may not write."""
    protected = protected or own_files(store_file=store_file)
    if run.own_workspace:  # the person's own folder: never created or seeded here
        return Workspace(work_in(str(run.workspace), store_file=store_file), protected)
    private_folder(root)  # owner-only, whatever the umask: runs' files are nobody else's
    path = root / run.id
    if (run.seed_from or run.model == "demo") and not path.exists():
        if run.seed_from:
            seed_workspace(copy_from(run.seed_from, store_file=store_file), path)
        else:
            seed_demo_workspace(path)
        tighten(path, FOLDER_MODE, announce=False)  # made just now: no news for the log
    private_folder(path)  # an empty folder made here (one mkdir) when nothing was seeded
    return Workspace(path, protected)


def default_model_factory(settings: Settings) -> ModelFactory:
    def build(run: Run) -> ModelProvider:
        if run.model == "openai" and not settings.openai_configured:
            raise ModelError(missing_model_settings(run))
        limits = stored_policy(run.policy).model
        return make_model(run.model, run.model_name, settings, limits)

    return build


def missing_model_settings(run: Run) -> str:
    """Why this worker cannot drive an openai run, and the fix: the model's settings live in the
    environment of the process that drives a run (never in the store), and this worker's has
    none, e.g. it took over a run an `onloop run` started in another shell and then lost."""
    return (
        f"the worker that took run {run.id} ({run.worker_id or 'this worker'}) has no "
        "OPENAI_API_KEY or OPENAI_BASE_URL in its environment (a run's model settings are never "
        f"stored with it); continue it from a shell where they are set: onloop resume {run.id}, "
        "or restart onloop up / onloop worker with them set"
    )


def run_spec(store: storage.Store, run: Run, events: list) -> RunSpec:
    policy = stored_policy(run.policy)
    if policy.mcp_servers:  # sandboxed stdio servers get <workspace root>/.mcp/<server>
        # The MCP SDK is imported only by a worker whose runs use servers (it is slow to load).
        from agent_core.tools.mcp_client import shared_pool

        shared_pool().scratch_root = Path(store.workspace_root) / ".mcp"
        shared_pool().protected = run_protected(policy, sqlite_path(store.url))
    try:  # the user's modules and the policy's MCP servers (started once per worker, reused)
        known = known_tools(policy.tools, policy.mcp_servers)
    except ToolLoadError as exc:
        raise ValueError(str(exc)) from exc
    # Where the shell cannot be sandboxed (and the policy did not opt in), it is not offered.
    tools = offered_tools(known, run_shell_offer(policy))
    if run.tools is not None:
        tools.update(missing_mcp_tools(run.tools, known, policy.mcp_servers))
        unknown = sorted(set(run.tools) - set(known) - set(tools))
        if unknown:
            raise ValueError(f"unknown tools {unknown}; available: {sorted(known)}")
        tools = {name: tools[name] for name in run.tools if name in tools}
    workspace = _workspace(store, run, policy)
    return RunSpec(
        run_id=run.id,
        goal=run.goal,
        autonomy=run.autonomy,
        budget=Budget(run.max_steps, run.max_seconds, run.max_tokens, run.max_cost_usd),
        tools=tools,
        workspace=workspace,
        policy=policy,
        usage=Usage(run.steps, run.tokens_in + run.tokens_out, run.cost_usd, run.active_seconds),
        prior_events=events,
        known_hosts=_known_hosts(store, run, workspace, events),
    )


def _known_hosts(
    store: storage.Store, run: Run, workspace: Workspace, events: list
) -> dict[str, str]:
    """The hosts the first session found (the workspace as it was before the agent acted);
    found now for a run starting (or one started before onloop recorded them). In a person's
    own folder, files changed since another run first worked there are left out: that run's
    agent may have written them (a host planted in README.md for the next run to send to)."""
    for event in events:
        if event.kind == EventKind.RUN_STARTED:
            first = parse_as(RunStarted, event.payload).known_hosts
            if first is not None:
                return dict(first)
            break
    since = None
    if run.own_workspace and run.workspace:
        earlier = storage.first_run_in(store, workspace=run.workspace, other_than=run.id)
        since = earlier.replace(tzinfo=UTC).timestamp() if earlier is not None else None
    return project_hosts(workspace.real_root, run.goal, agents_since=since)


def _workspace(store: storage.Store, run: Run, policy: Policy) -> Workspace:
    """Prepare the run's folder; a per-run folder's path, as this worker resolved it, is what
    the run shows from now on (fenced: only while the run is this session's)."""
    store_file = sqlite_path(store.url)
    protected = run_protected(policy, store_file)
    workspace = prepare_workspace(run, store.workspace_root, store_file, protected)
    if not run.own_workspace and str(workspace.root) != run.workspace and run.worker_id:
        fence = storage.Fence(run.worker_id, run.claim_epoch)
        storage.update_run(store, run_id=run.id, workspace=str(workspace.root), fence=fence)
        run.workspace = str(workspace.root)
    return workspace
