"""Launch: state a goal, pick a model, an autonomy level, tools and budgets; queue the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import storage
from agent_core.models.demo_goals import DEMO_GOALS, DemoGoal
from agent_core.models.providers import why_unavailable
from agent_core.models.settings import Settings, load_settings
from agent_core.oversight import control, inert
from agent_core.oversight.confinement import protection_line
from agent_core.oversight.policy_file import PolicyError, load_policy
from agent_core.tools import builtin_tools
from agent_core.tools.builtins import offered_tools, shell_offer
from agent_core.tools.registry import ToolLoadError, known_tools
from agent_core.tools.workspace_choice import (
    Words,
    WorkspaceChoiceError,
    check_workspace_root,
    copy_from,
    work_in,
)
from dashboard.components.notify_choice import notify_choice, with_notify_choice
from dashboard.components.role_buttons import page_needs
from dashboard.components.status import AUTONOMY_HELP
from dashboard.routes import RUN_PAGE
from dashboard.store import current_person, get_store
from storage.engine import sqlite_path

MODELS = ("demo", "openai")
WORKSPACE_MODES = {
    "fresh": "A fresh folder",
    "own": "Work in my folder",
    "copy": "Work on a copy of my folder",
}
LAUNCH_WORDS = Words(work_in='"Work in my folder"', copy_from='"Work on a copy of my folder"')


def use_demo_goal(goal: DemoGoal) -> None:
    """Button callback: fill the form before its widgets are drawn."""
    st.session_state["launch_goal"] = goal.goal
    st.session_state["launch_model"] = "demo"


def demo_goal_buttons() -> None:
    st.caption("Try a demo goal (offline demo model, one click fills the form):")
    for column, goal in zip(st.columns(3), DEMO_GOALS[:3], strict=False):
        _demo_button(column, goal)
    for column, goal in zip(st.columns(3), DEMO_GOALS[3:], strict=False):
        _demo_button(column, goal)


def _demo_button(column: DeltaGenerator, goal: DemoGoal) -> None:
    column.button(
        goal.title,
        key=f"launch_demo_{goal.key}",
        help=goal.shows,
        on_click=use_demo_goal,
        args=(goal,),
        width="stretch",
    )


def model_choice(settings: Settings) -> tuple[str, str, str | None]:
    """The provider and model name the person picked, and why that model cannot run here (the
    worker's own check, agent_core.models.providers), or None when it can."""
    labels = {"demo": "Demo model (offline)", "openai": "OpenAI-compatible API"}
    # The default lives in session state because a demo-goal button also sets this widget.
    st.session_state.setdefault("launch_model", settings.default_provider)
    model = st.selectbox("Model", MODELS, format_func=labels.__getitem__, key="launch_model")
    if model == "demo":
        return "demo", "demo", None
    missing = why_unavailable(model, settings)
    if missing:
        st.warning(
            f"Launch is off: {missing}, and this dashboard has neither. Set one and restart "
            "`onloop up`, or pick the demo model.",
            icon=":material/key_off:",
        )
    name = st.text_input("Model name", value=settings.openai_model, key="launch_model_name")
    return "openai", name.strip() or settings.openai_model, missing


def tool_choice() -> list[str]:
    """The tools for the run, grouped by where they come from (built-in, a module, an MCP server)."""
    tools, servers = policy_tools()
    shell = shell_offer()  # this machine's view; the worker that takes the run decides again
    if shell.mode == "unavailable":
        tools = offered_tools(tools, shell)
        st.warning(
            f"run_shell is not offered: {inert.markdown(shell.reason)}. Restart `onloop up` after "
            "installing.",
            icon=":material/gpp_maybe:",
        )
    groups: dict[str, list[str]] = {}
    for name, t in tools.items():
        groups.setdefault(t.source, []).append(name)
    chosen: list[str] = []
    for source, names in groups.items():
        key = "launch_tools" if source == "built-in" else f"launch_tools_{source}"
        label = (
            "Tools the agent may use"
            if source == "built-in"
            else f"Tools from {inert.markdown(source)}"
        )
        chosen += st.multiselect(
            label,
            names,
            default=names,
            format_func=lambda name: f"{inert.visible(name)} ({tools[name].risk} risk)",
            key=key,
            help="Risk decides which calls ask a human first, given the autonomy level.",
        )
    for server in servers:
        if not server.up:
            st.warning(
                f"MCP server {inert.markdown(server.name)} is not running here: "
                f"{inert.markdown(server.error, limit=800)}",
                icon=":material/power_off:",
            )
    return chosen


def policy_tools() -> tuple[dict, list]:
    """Every tool the policy file makes available here, and how its MCP servers are doing."""
    try:
        policy = load_policy()
        tools = known_tools(policy.tools, policy.mcp_servers)
    except (PolicyError, ToolLoadError) as error:
        st.error(f"Only the built-in tools are listed: {inert.markdown(error, limit=800)}")
        return builtin_tools(), []
    if not policy.mcp_servers:
        return tools, []
    from agent_core.tools.mcp_client import shared_pool  # the MCP SDK loads only when needed

    return tools, shared_pool().status(policy.mcp_servers)


def budgets() -> dict:
    left, right = st.columns(2)
    max_steps = left.number_input(
        "Max steps (model calls)", min_value=1, max_value=10_000, value=30, key="launch_max_steps"
    )
    max_minutes = right.number_input(
        "Max minutes", min_value=0.5, max_value=24 * 60.0, value=10.0, key="launch_max_minutes"
    )
    with st.expander("Token and cost budgets (optional)", key="launch_more_budgets"):
        tokens = st.number_input(
            "Max tokens (0 = no limit)", min_value=0, value=0, step=1000, key="launch_max_tokens"
        )
        cost = st.number_input(
            "Max cost in USD (0 = no limit)",
            min_value=0.0,
            value=0.0,
            step=0.1,
            key="launch_max_cost",
        )
    return {
        "max_steps": int(max_steps),
        "max_seconds": float(max_minutes) * 60.0,
        "max_tokens": int(tokens) or None,
        "max_cost_usd": float(cost) or None,
    }


def workspace_choice() -> tuple[str, str]:
    """Where the run works ("fresh", "own" or "copy") and the folder the person typed."""
    mode = st.radio(
        "Workspace",
        list(WORKSPACE_MODES),
        format_func=WORKSPACE_MODES.__getitem__,
        horizontal=True,
        key="launch_workspace_mode",
        help="The folder is where the agent's tools read and write. Working in your folder "
        "changes your files; a copy leaves them as they are.",
    )
    if mode == "fresh":
        return mode, ""
    folder = st.text_input(
        "Folder (on the machine the worker runs on)",
        key="launch_workspace_folder",
        placeholder="e.g. ~/projects/notes",
        help=f"A relative path is taken from {Path.cwd()}.",
    )
    _protection_note(mode, folder)
    return mode, folder


def _protection_note(mode: str, folder: str) -> None:
    """Under a folder the run will work in: which of onloop's own files it holds (read-only)."""
    if mode != "own" or not folder.strip():
        return
    try:
        where = work_in(folder, store_file=sqlite_path(get_store().url), words=LAUNCH_WORDS)
        line = protection_line(where, load_policy(), sqlite_path(get_store().url))
    except (WorkspaceChoiceError, PolicyError, OSError):
        return  # the launch says what is wrong with it
    if line:
        st.caption(f":material/lock: {inert.markdown(line, limit=800)}")


def checked_folders(store: storage.Store, mode: str, folder: str) -> dict[str, Any]:
    """create_run's folder arguments for the chosen mode; WorkspaceChoiceError names the fix."""
    store_file = sqlite_path(store.url)
    if mode == "own":
        return {"workspace": str(work_in(folder, store_file=store_file, words=LAUNCH_WORDS))}
    # A fresh folder (a copy goes into one too) is made under the workspace root by the worker;
    # on SQLite that is this machine, so a root that cannot take it is refused before the run is
    # queued (it would be recorded and fail at once, offering a resume that fails the same way).
    if store_file is not None:
        check_workspace_root(store.workspace_root, LAUNCH_WORDS)
    if mode == "copy":
        return {"seed_from": str(copy_from(folder, store_file=store_file, words=LAUNCH_WORDS))}
    return {}


def launch(
    store: storage.Store, settings: dict, workspace: tuple[str, str], notify: dict | None = None
) -> None:
    if not settings["goal"].strip():
        st.error("The goal is empty: describe what the agent should achieve, or pick a demo goal.")
        return
    try:
        folders = checked_folders(store, *workspace)
    except WorkspaceChoiceError as error:
        refusal = str(error)  # onloop's words about the folder the person typed here
        st.error(f"The run was not queued: {refusal}", icon=":material/folder_off:")
        return
    try:  # the policy in force is the one read now: a later edit of the file never applies
        policy = with_notify_choice(load_policy(), notify)
    except PolicyError as error:
        st.error(
            f"The run was not queued: {inert.markdown(error, limit=800)}", icon=":material/policy:"
        )
        return
    try:
        run = control.launch(store, by=current_person(), **settings, **folders, policy=policy)
    except (control.ControlError, storage.StoreError) as error:
        st.error(f"The run was not queued: {inert.markdown(error)}")
        return
    st.switch_page(RUN_PAGE, query_params={"run": run.id})


def main() -> None:
    store = get_store()
    settings = load_settings()
    st.title("Launch a run")
    page_needs("operator")
    st.caption("State a goal, not a prompt: the agent plans and acts until it is met.")
    demo_goal_buttons()
    goal = st.text_area(
        "Goal",
        key="launch_goal",
        height=110,
        placeholder="e.g. Summarise the files in the workspace into report.md",
    )
    model, model_name, missing = model_choice(settings)
    autonomy = st.radio(
        "Autonomy",
        storage.AUTONOMY_LEVELS,
        index=storage.AUTONOMY_LEVELS.index("supervised"),
        captions=[AUTONOMY_HELP[level] for level in storage.AUTONOMY_LEVELS],
        horizontal=True,
        key="launch_autonomy",
    )
    tools = tool_choice()
    workspace = workspace_choice()
    limits = budgets()
    notify = notify_choice()
    if st.button(
        "Launch run",
        type="primary",
        key="launch_submit",
        icon=":material/send:",
        disabled=missing is not None,
        help=f"Off: {missing}." if missing else None,
    ):
        launch(
            store,
            {
                "goal": goal,
                "model": model,
                "model_name": model_name,
                "autonomy": autonomy,
                "tools": tools,
                **limits,
            },
            workspace,
            notify,
        )


main()
