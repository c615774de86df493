"""The Run page's Changes view: the files the run created, changed or deleted, with their diffs.

Worked out by agent_core/run/workspace_changes.py from the run's recorded tool calls and the
workspace folder as it is now. Paths, contents and diffs are the run's (hostile) text: paths in
Markdown pass inert.markdown, diffs are drawn as plain code through inert.visible.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import streamlit as st

import storage
from agent_core.oversight import inert
from agent_core.oversight.workspace_changes import FileChange, workspace_changes
from storage.feed import event_page
from storage.vocabulary import EventKind

BATCH = 1000  # events read per query while collecting a long run's tool calls
KINDS = (EventKind.TOOL_CALL, EventKind.TOOL_RESULT)
ICONS = {
    "created": ":material/add_circle:",
    "changed": ":material/edit:",
    "deleted": ":material/delete:",
    "written": ":material/edit_document:",
    "unchanged": ":material/check:",
}
WORDS = {
    "created": "created",
    "changed": "changed",
    "deleted": "deleted",
    "written": "written",
    "unchanged": "back as it was",
}


def tool_events(store: storage.Store, run_id: str) -> list[storage.EventRecord]:
    """Every tool call and result of the run, in order, read in indexed batches."""
    found: list[storage.EventRecord] = []
    seq = 0
    while True:
        batch = event_page(store, run_id=run_id, direction="after", seq=seq, n=BATCH, kinds=KINDS)
        found += batch
        if len(batch) < BATCH:
            return found
        seq = batch[-1].seq


def run_changes(store: storage.Store, run: storage.Run) -> list[FileChange]:
    """The run's file changes, against its workspace as it is now (if it still exists)."""
    workspace = Path(run.workspace) if run.workspace else None
    seed = Path(run.seed_from) if run.seed_from else None
    return workspace_changes(
        tool_events(store, run.id),
        workspace=workspace,
        seed=seed,
        started_empty=not run.own_workspace,
    )


def change_summary(changes: list[FileChange]) -> str:
    """How many files of each kind of change: counts and our own words."""
    counts: Counter[str] = Counter(c.change for c in changes)
    return " · ".join(f"{counts[k]} {WORDS[k]}" for k in WORDS if counts[k])


def render_changes(store: storage.Store, run: storage.Run) -> None:
    """The Changes view: one box per file, newest state against the state before the run."""
    changes = run_changes(store, run)
    where = run.workspace or "?"
    gone = not run.workspace or not Path(run.workspace).is_dir()
    if not changes:
        st.info(
            "No files created, changed or deleted: the run's recorded tool calls wrote nothing "
            "in its workspace.",
            icon=":material/folder_open:",
        )
        return
    st.caption(
        f"{len(changes)} files: {change_summary(changes)} · from the run's recorded tool calls"
        + (
            "; its workspace is gone, so each file is shown as the run last wrote it"
            if gone
            else f", compared with {inert.markdown(where)} as it is now"
        )
    )
    for number, change in enumerate(changes):
        render_change(run.id, number, change)


def change_title(change: FileChange) -> str:
    """The file's line: our icon and word for the change, the path through inert.markdown."""
    return f"{ICONS[change.change]} **{WORDS[change.change]}** {inert.markdown(change.path)}"


def render_change(run_id: str, number: int, change: FileChange) -> None:
    with st.container(border=True, key=f"run_change_{run_id}_{number}"):
        calls = ", ".join(change.calls)
        st.markdown(change_title(change))
        st.caption(f"by {inert.markdown(calls, limit=200)}")
        for note in change.notes:
            st.caption(inert.markdown(note))
        if change.diff:
            st.code(inert.visible(change.diff), language="diff", wrap_lines=True)
        elif change.change == "deleted":
            st.caption("Deleted: no content to show.")
