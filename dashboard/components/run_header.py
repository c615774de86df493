"""The Run page's picker and its description of the run: goal, model, autonomy, policy, workspace."""

from __future__ import annotations

import streamlit as st

import storage
from agent_core.oversight import inert
from dashboard.components.run_link import page_link
from dashboard.components.status import AUTONOMY_HELP, model_label
from dashboard.routes import LAUNCH_PAGE


def run_selector(store: storage.Store) -> None:
    runs = storage.list_runs(store, limit=100)
    if not runs:
        st.info("No runs yet — launch one on the Launch page.", icon=":material/info:")
        page_link(LAUNCH_PAGE, label="Go to Launch")
        return
    labels = {
        r.id: f"{r.id} · {r.status} · {' '.join(inert.visible(r.goal).split())[:80]}" for r in runs
    }
    choice = st.selectbox(
        "Open a run",
        list(labels),
        index=None,
        format_func=labels.__getitem__,
        key="run_pick",
        placeholder="Pick one of the 100 newest runs",
    )
    if choice:
        st.query_params["run"] = choice
        st.rerun()


def describe(run: storage.Run) -> None:
    """The goal and what the run runs with, under its state."""
    with st.container(border=True, key=f"run_goal_{run.id}"):
        st.caption("Goal")
        st.text(inert.visible(run.goal))
    parent = f" · re-run of {run.parent_run_id}" if run.parent_run_id else ""
    if run.policy:  # the policy it runs under, stored when a worker started it
        rules = len(run.policy.get("rules") or [])
        noun = "rule" if rules == 1 else "rules"
        parent += (
            f" · policy: {inert.markdown(str(run.policy.get('source', '?')))} ({rules} {noun})"
        )
    st.caption(
        f"{inert.markdown(model_label(run.model, run.model_name))} · autonomy {run.autonomy} "
        f"({AUTONOMY_HELP.get(run.autonomy, '')}) · launched by {inert.person(run.created_by or '?')} "
        f"at {run.created_at:%Y-%m-%d %H:%M} UTC{parent}"
    )
    st.caption(workspace_caption(run))
    if ((run.policy or {}).get("sandbox") or {}).get("unconfined_shell"):
        st.warning(
            "This run's shell is UNCONFINED: its policy opts out of the sandbox "
            "([sandbox] unconfined_shell = true), so commands can read and write whatever the "
            "worker's user can, and use the network.",
            icon=":material/gpp_maybe:",
        )


def workspace_caption(run: storage.Run) -> str:
    """Where the run's tools read and write, said so that nobody mistakes a copy for the original."""
    where = inert.markdown(run.workspace or "?")
    if run.seed_from:
        return (
            f":material/folder_copy: Workspace {where}, a copy of {inert.markdown(run.seed_from)}"
        )
    if run.own_workspace:
        return f":material/folder_open: Workspace {where} (your folder: the run works in it)"
    return f":material/folder: Workspace {where}"
