"""Red-team: a sandboxed command that cannot write a store can still lock it. A store in view
(an onloop's `onloop.db` at any depth of a workspace, or a store inside an MCP server's `paths`)
was bound read-only: a command could open its `-shm` for reading and hold a read lock on the byte
SQLite's writers lock (WAL_WRITE_LOCK, offset 120), and every writer of that store (a halt from
the dashboard or `onloop halt`, the worker's own events) waited out its busy timeout and failed
with "database is locked" for as long as the command ran (failing before). The store and its
siblings are now hidden in the sandbox, as the sign-in file is.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

import storage
from agent_core.run.tool_runner import run_tool
from agent_core.tools import ToolError, Workspace, builtin_tools
from agent_core.tools.context import ToolContext
from agent_core.tools.protected import own_files
from tests.support.run_helpers import wait_for

pytestmark = pytest.mark.usefixtures("sandbox_required")

HOLD = """import fcntl, glob, os, time
held = []
for name in sorted(glob.glob("**/onloop.db*", recursive=True)):
    try:
        fd = os.open(name, os.O_RDONLY)
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, {length}, {start}, 0)
        held.append(name)
    except OSError as exc:
        held.append(f"{{name}}: {{exc.strerror}}")
open("held.txt", "w").write("\\n".join(held) or "none")
time.sleep(60)
"""
WAL_WRITE_LOCK = (1, 120)  # (length, start) in the -shm: what a writer locks
WAL_AND_DB = (0, 0)  # every byte of every file: the widest read lock


def writable_now(database: Path) -> bool:
    """Whether a writer gets the store's write lock at once (onloop's writers would wait 30 s)."""
    connection = sqlite3.connect(database, timeout=0.2)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc), exc
        return False
    finally:
        connection.close()


@pytest.fixture
def other_store(tmp_path: Path):
    """A project folder holding a live store of another onloop, by its default name (WAL)."""
    folder = tmp_path / "proj"
    (folder / "data").mkdir(parents=True)
    opened = storage.open_store(f"sqlite:///{folder / 'data' / 'onloop.db'}")
    storage.create_run(opened, goal="another project's run")  # its -wal and -shm are live
    yield folder, opened
    opened.dispose()


@pytest.mark.parametrize("span", [WAL_WRITE_LOCK, WAL_AND_DB], ids=["write lock byte", "all"])
def test_a_command_cannot_lock_a_store_in_view(other_store, span):
    folder, opened = other_store
    length, start = span
    (folder / "hold.py").write_text(HOLD.format(length=length, start=start))
    workspace = Workspace(folder, own_files())
    cancel = threading.Event()
    outcome: list[str] = []

    def hold() -> None:
        try:
            outcome.append(
                run_tool(
                    builtin_tools()["run_shell"],
                    {"command": "python3 hold.py", "timeout_s": 120},
                    workspace=workspace,
                    context=ToolContext(cancel=cancel),
                )  # fmt: skip
            )
        except ToolError as failed:
            outcome.append(str(failed))

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        wait_for((folder / "held.txt").exists, timeout=60, what="the command to take its locks")
        database = folder / "data" / "onloop.db"
        assert writable_now(database), (folder / "held.txt").read_text()
    finally:
        cancel.set()
        thread.join(30)
    assert storage.create_run(opened, goal="halted in time")  # the store goes on
