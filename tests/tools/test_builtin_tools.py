"""The built-in tools: what each does inside a run's workspace, and how it says so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_core.run.tool_runner import run_tool
from agent_core.tools import ToolError, Workspace, builtin_tools
from agent_core.tools import builtins as builtins_module
from tests.support.process_helpers import gone_eventually, unique_sleep


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    return Workspace(root)


def _call(ws: Workspace, name: str, **arguments: object) -> str:
    return run_tool(builtin_tools()[name], arguments, workspace=ws)


def test_builtin_tools_and_their_risks() -> None:
    tools = builtin_tools()
    assert {name: t.risk for name, t in tools.items()} == {
        "calculator": "low",
        "current_time": "low",
        "list_files": "low",
        "read_file": "low",
        "write_file": "medium",
        "delete_files": "high",
        "run_shell": "high",
        "fetch_url": "medium",
    }
    assert all(not t.polling for t in tools.values())
    tools.clear()  # each call returns a fresh dict
    assert len(builtin_tools()) == 8  # fetch_url joined the seven


def test_builtin_descriptions_in_plain_words() -> None:
    tools = builtin_tools()
    paths = ["a.tmp", "b.tmp", "c.tmp"]
    assert tools["delete_files"].describe({"paths": paths}) == "delete 3 files: a.tmp, b.tmp, c.tmp"
    assert tools["delete_files"].describe({"paths": ["a.tmp"]}) == "delete 1 file: a.tmp"
    many = [f"f{i}" for i in range(12)]
    assert tools["delete_files"].describe({"paths": many}).endswith("f9 and 2 more")
    assert (
        tools["write_file"].describe({"path": "report.md", "content": "x" * 120})
        == "write 120 bytes to report.md"
    )
    assert tools["run_shell"].describe({"command": "ls -la"}) == "run shell command: ls -la"
    assert tools["read_file"].describe({"path": "a.txt"}) == "read a.txt"
    assert tools["calculator"].describe({"expression": "1+1"}) == "calculate 1+1"
    assert tools["list_files"].describe({}) == "list the files in ."
    assert tools["current_time"].describe({}) == "get the current time in UTC"


def test_calculator_tool(ws: Workspace) -> None:
    assert _call(ws, "calculator", expression="2,340 * 3") == "7020"
    with pytest.raises(ToolError, match="unknown name 'os'"):
        _call(ws, "calculator", expression="os")


def test_current_time(ws: Workspace) -> None:
    utc = _call(ws, "current_time")
    assert utc.endswith(", UTC)") and "+00:00" in utc
    paris = _call(ws, "current_time", timezone="Europe/Paris")
    assert paris.endswith(", Europe/Paris)")
    assert paris[19:25] in ("+01:00", "+02:00")
    with pytest.raises(ToolError, match="unknown timezone 'Mars/Olympus'; use an IANA name"):
        _call(ws, "current_time", timezone="Mars/Olympus")
    with pytest.raises(ToolError, match="unknown timezone"):
        _call(ws, "current_time", timezone="../../etc/passwd")


def test_write_read_and_list(ws: Workspace) -> None:
    assert _call(ws, "write_file", path="notes/a.txt", content="héllo") == (
        "wrote 6 bytes to notes/a.txt"
    )
    assert _call(ws, "write_file", path="b.txt", content="") == "wrote 0 bytes to b.txt"
    assert _call(ws, "read_file", path="notes/a.txt") == "héllo"
    assert _call(ws, "list_files") == "b.txt  0 bytes\nnotes/a.txt  6 bytes"
    assert _call(ws, "list_files", path="notes") == "notes/a.txt  6 bytes"
    assert _call(ws, "list_files", path="notes/a.txt") == "notes/a.txt  6 bytes"
    assert _call(ws, "write_file", path="b.txt", content="new") == "wrote 3 bytes to b.txt"
    assert (ws.root / "b.txt").read_text(encoding="utf-8") == "new"


def test_list_files_edge_cases(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _call(Workspace(tmp_path / "not-created-yet"), "list_files") == "no files in ."
    assert _call(ws, "list_files") == "no files in ."
    with pytest.raises(ToolError, match="no folder 'nope' in the workspace"):
        _call(ws, "list_files", path="nope")
    monkeypatch.setattr(builtins_module, "LIST_CAP", 3)
    for i in range(5):
        (ws.root / f"f{i}.txt").write_text("x", encoding="utf-8")
    lines = _call(ws, "list_files").splitlines()
    assert lines[:3] == ["f0.txt  1 byte", "f1.txt  1 byte", "f2.txt  1 byte"]
    assert lines[3] == "[listing stopped at 3 files; list a subfolder for more]"


def test_read_file_errors_and_truncation(ws: Workspace) -> None:
    with pytest.raises(ToolError, match="no file 'missing.txt' in the workspace"):
        _call(ws, "read_file", path="missing.txt")
    (ws.root / "dir").mkdir()
    with pytest.raises(ToolError, match="'dir' is a folder; use list_files"):
        _call(ws, "read_file", path="dir")
    (ws.root / "bin.dat").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ToolError, match="looks like a binary file"):
        _call(ws, "read_file", path="bin.dat")
    cap = builtins_module.READ_CAP
    (ws.root / "big.txt").write_text("a" * (cap - 1) + "é" + "b" * 50, encoding="utf-8")
    text = _call(ws, "read_file", path="big.txt")
    body, note = text.split("\n\n[truncated: ")
    assert body == "a" * (cap - 1)  # the half 'é' at the cap is dropped, not garbled
    assert note == f"showing the first {cap:,} of {cap + 51:,} bytes]"


def test_write_file_into_a_folder_path_is_refused(ws: Workspace) -> None:
    (ws.root / "dir").mkdir()
    with pytest.raises(ToolError, match="'dir' is a folder"):
        _call(ws, "write_file", path="dir", content="x")
    (ws.root / "file").write_text("x", encoding="utf-8")
    with pytest.raises(ToolError, match="write_file failed: "):
        _call(ws, "write_file", path="file/inner.txt", content="x")


def test_delete_files(ws: Workspace) -> None:
    for name in ("a.tmp", "b.tmp"):
        (ws.root / name).write_text("x", encoding="utf-8")
    (ws.root / "dir").mkdir()
    report = _call(ws, "delete_files", paths=["a.tmp", "dir", "gone.tmp", "b.tmp", "a.tmp"])
    assert report.splitlines() == [
        "deleted a.tmp",
        "skipped dir: it is a folder (delete_files removes files only)",
        "skipped gone.tmp: no such file",
        "deleted b.tmp",
    ]
    assert sorted(p.name for p in ws.root.iterdir()) == ["dir"]
    with pytest.raises(ToolError, match="paths is empty"):
        _call(ws, "delete_files", paths=[])


def test_run_shell_reports_exit_code_and_both_streams(ws: Workspace) -> None:
    out = _call(ws, "run_shell", command="pwd; echo oops >&2; exit 3")
    real = os.path.realpath(ws.root)
    assert out == f"exit code 3\n--- stdout ---\n{real}\n--- stderr ---\noops"
    assert _call(ws, "run_shell", command="true") == "exit code 0\n(no output)"
    (ws.root / "made.txt").write_text("x", encoding="utf-8")
    assert "made.txt" in _call(ws, "run_shell", command="ls")


def test_run_shell_hides_secrets(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret")
    monkeypatch.setenv("MY_SECRET_THING", "s3cret")
    monkeypatch.setenv("ONLOOP_DATABASE_URL", "postgresql://u:pw@db/x")
    monkeypatch.setenv("ONLOOP_HARMLESS", "visible")
    out = _call(ws, "run_shell", command="env")
    for secret in ("sk-secret", "ghp-secret", "s3cret", "pw@db", "OPENAI_API_KEY"):
        assert secret not in out
    # The environment is an allow-list: not even harmless worker variables get in.
    assert "ONLOOP_HARMLESS" not in out and "PATH=" in out


def test_run_shell_caps_output(ws: Workspace) -> None:
    out = _call(ws, "run_shell", command="head -c 50000 /dev/zero | tr '\\0' 'y'; echo done >&2")
    stdout = out.split("--- stdout ---\n")[1].split("\n[stdout truncated")[0]
    assert stdout == "y" * 10_000
    assert "[stdout truncated: showing the first 10,000 of 50,000 bytes]" in out
    assert out.endswith("--- stderr ---\ndone")


# The sandbox has its own PID namespace, so its children are found by a unique command line.
def test_run_shell_timeout_kills_the_whole_process_group(ws: Workspace) -> None:
    marker = unique_sleep()
    with pytest.raises(ToolError) as info:
        _call(ws, "run_shell", command=f"echo started; sleep {marker} & wait", timeout_s=1)
    message = str(info.value)
    assert message.startswith("the command timed out after 1 s and was killed")
    assert message.endswith("Output so far:\n--- stdout ---\nstarted")
    assert gone_eventually(marker)


def test_run_shell_plain_timeout(ws: Workspace) -> None:
    with pytest.raises(ToolError, match="timed out after 1 s"):
        _call(ws, "run_shell", command="sleep 5", timeout_s=1)


def test_run_shell_leaves_no_background_process(ws: Workspace) -> None:
    marker = unique_sleep()
    out = _call(ws, "run_shell", command=f"sleep {marker} &")
    assert out == "exit code 0\n(no output)"
    assert gone_eventually(marker)


def test_run_shell_checks_its_arguments(ws: Workspace) -> None:
    with pytest.raises(ToolError, match="timeout_s must be between 1 and 300 seconds"):
        _call(ws, "run_shell", command="true", timeout_s=0)
    with pytest.raises(ToolError, match="command is empty"):
        _call(ws, "run_shell", command="  ")
