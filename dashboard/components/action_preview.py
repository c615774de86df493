"""What an approval would do, readable: a file write as its text (and a diff when the file
exists), a delete as every path it names. Shown beside the exact arguments, never instead."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import streamlit as st

from agent_core.oversight import inert
from agent_core.tools.errors import ToolError
from agent_core.tools.workspace import Workspace
from agent_core.tools.workspace_files import opened_file
from dashboard.components.events import shown

MAX_DIFF_BYTES = 512 * 1024  # a bigger file is previewed, not diffed


def render_action_preview(approval: Any, workspace: str | None) -> None:
    arguments = approval.arguments if isinstance(approval.arguments, dict) else {}
    if approval.tool == "write_file" and isinstance(arguments.get("content"), str):
        _write_preview(str(arguments.get("path", "")), arguments["content"], workspace)
    elif approval.tool == "delete_files" and isinstance(arguments.get("paths"), list):
        _delete_preview([str(p) for p in arguments["paths"]], key=f"delete-paths-{approval.id}")


def _write_preview(path: str, content: str, workspace: str | None) -> None:
    before = _current_text(path, workspace)
    if before is None:
        st.caption(f"New file {inert.markdown(path)}: its text")
        st.code(shown(content), language=None, wrap_lines=True)
        return
    name = inert.visible(path, newlines=False, tabs=False)  # a newline: a header line of its own
    diff = difflib.unified_diff(
        before.splitlines(keepends=True),
        content.splitlines(keepends=True),
        fromfile=f"{name} (now)",
        tofile=f"{name} (after)",
    )
    text = "".join(diff) or "(no change: the file already holds exactly this text)"
    st.caption(f"{inert.markdown(path)} exists: the change")
    st.code(shown(text), language="diff", wrap_lines=True)


def _current_text(path: str, workspace: str | None) -> str | None:
    """The file's text now, if it lies inside the run's workspace and is small text; else None."""
    if not workspace or not path:
        return None
    try:  # the same walk as the file tools: no link swapped in leads out, no FIFO blocks
        with opened_file(Workspace(Path(workspace)), path) as (fd, info):
            if info.st_size > MAX_DIFF_BYTES:
                return None
            data = os.read(fd, MAX_DIFF_BYTES + 1)
        return data.decode("utf-8")
    except (ToolError, OSError, UnicodeDecodeError):
        return None


def _delete_preview(paths: list[str], *, key: str) -> None:
    unique = list(dict.fromkeys(paths))
    st.caption(f"Deletes {len(unique)} path{'' if len(unique) == 1 else 's'}")
    with st.container(height=min(40 + 24 * len(unique), 240), key=key):
        # One line per path: a path's own newlines would scroll the rest of it out of the box.
        st.text("\n".join(inert.visible(p, newlines=False, tabs=False) for p in unique))
