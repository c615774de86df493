"""A run's tools cannot leave its workspace: not by '..', absolute paths or symlinks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_core.run.tool_runner import run_tool
from agent_core.tools import Workspace, WorkspaceEscape, builtin_tools

ESCAPES = ["../x", "/etc/passwd", "a/../../x", "a/../b", "..", "~/x", "x\x00y", "..\\x"]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("top secret", encoding="utf-8")
    return folder


@pytest.fixture
def ws(tmp_path: Path, outside: Path) -> Workspace:
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "inside.txt").write_text("hello", encoding="utf-8")
    os.symlink(outside, root / "out_dir")  # a folder link leading out
    os.symlink(outside / "secret.txt", root / "out_file")  # a file link leading out
    os.symlink(root / "sub" / "inside.txt", root / "in_link")  # a link that stays inside
    return Workspace(root)


def test_resolve_keeps_paths_inside(ws: Workspace) -> None:
    real = Path(os.path.realpath(ws.root))
    assert ws.resolve("sub/inside.txt") == real / "sub" / "inside.txt"
    assert ws.resolve("./sub//inside.txt") == real / "sub" / "inside.txt"
    assert ws.resolve("new/file.txt") == real / "new" / "file.txt"  # need not exist yet
    assert ws.resolve(".") == real
    assert ws.resolve("") == real
    assert ws.resolve("in_link") == real / "in_link"  # the link itself, not its target


@pytest.mark.parametrize("path", ESCAPES)
def test_resolve_refuses_escapes(ws: Workspace, path: str) -> None:
    with pytest.raises(WorkspaceEscape) as info:
        ws.resolve(path)
    assert "use a path relative to the workspace" in str(info.value)


def test_escape_messages_name_the_path_and_the_fix(ws: Workspace) -> None:
    with pytest.raises(WorkspaceEscape) as info:
        ws.resolve("../x")
    assert str(info.value) == (
        "path '../x' is outside the run's workspace; use a path relative to the workspace"
    )
    with pytest.raises(WorkspaceEscape, match="absolute paths are not allowed"):
        ws.resolve("/etc/passwd")


@pytest.mark.parametrize("path", ["out_dir", "out_dir/secret.txt", "out_file", "out_dir/new.txt"])
def test_resolve_refuses_symlinks_leading_out(ws: Workspace, path: str) -> None:
    with pytest.raises(WorkspaceEscape, match="through a symlink"):
        ws.resolve(path)


def test_a_workspace_reached_through_a_symlink_still_works(tmp_path: Path, ws: Workspace) -> None:
    alias = tmp_path / "alias"
    os.symlink(ws.root, alias)
    aliased = Workspace(alias)
    assert aliased.resolve("sub/inside.txt").read_text(encoding="utf-8") == "hello"
    with pytest.raises(WorkspaceEscape):
        aliased.resolve("out_file")


def _call(ws: Workspace, name: str, **arguments: object) -> str:
    return run_tool(builtin_tools()[name], arguments, workspace=ws)


@pytest.mark.parametrize("path", ["../outside/secret.txt", "/etc/passwd", "a/../../x", "out_file"])
def test_read_file_cannot_escape(ws: Workspace, path: str) -> None:
    with pytest.raises(WorkspaceEscape):
        _call(ws, "read_file", path=path)


@pytest.mark.parametrize(
    "path", ["../outside/new.txt", "/tmp/onloop-escape.txt", "a/../../x", "out_dir/new.txt"]
)
def test_write_file_cannot_escape(ws: Workspace, outside: Path, path: str) -> None:
    with pytest.raises(WorkspaceEscape):
        _call(ws, "write_file", path=path, content="pwned")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert not Path("/tmp/onloop-escape.txt").exists()


def test_write_file_through_a_link_to_an_outside_file_is_refused(
    ws: Workspace, outside: Path
) -> None:
    with pytest.raises(WorkspaceEscape):
        _call(ws, "write_file", path="out_file", content="pwned")
    assert (outside / "secret.txt").read_text(encoding="utf-8") == "top secret"


@pytest.mark.parametrize("bad", ["../outside/secret.txt", "/etc/passwd", "out_file", "out_dir/x"])
def test_delete_files_refuses_the_whole_call_when_one_path_escapes(
    ws: Workspace, outside: Path, bad: str
) -> None:
    with pytest.raises(WorkspaceEscape):
        _call(ws, "delete_files", paths=["sub/inside.txt", bad])
    assert (ws.root / "sub" / "inside.txt").exists()  # nothing was deleted
    assert (outside / "secret.txt").exists()
    assert os.path.islink(ws.root / "out_file")


@pytest.mark.parametrize("path", ["..", "/etc", "out_dir", "a/../../x"])
def test_list_files_cannot_escape(ws: Workspace, path: str) -> None:
    with pytest.raises(WorkspaceEscape):
        _call(ws, "list_files", path=path)


def test_list_files_shows_links_without_following_them(ws: Workspace) -> None:
    listing = _call(ws, "list_files")
    assert "secret.txt" not in listing
    assert "out_dir  (symlink)" in listing
    assert "out_file  (symlink)" in listing
    assert "10 bytes" not in listing  # the outside file's size is not revealed
    assert "sub/inside.txt  5 bytes" in listing


def test_deleting_a_link_that_stays_inside_removes_only_the_link(ws: Workspace) -> None:
    assert _call(ws, "delete_files", paths=["in_link"]) == "deleted in_link"
    assert not os.path.lexists(ws.root / "in_link")
    assert (ws.root / "sub" / "inside.txt").exists()


def test_display_and_scrub_show_workspace_relative_paths(ws: Workspace) -> None:
    real = os.path.realpath(ws.root)
    assert ws.display(Path(real) / "sub" / "inside.txt") == "sub/inside.txt"
    assert ws.display(real) == "."
    assert ws.scrub(f"[Errno 2] No such file: '{real}/a.txt'") == "[Errno 2] No such file: 'a.txt'"
    assert ws.scrub(f"cwd is {real}") == "cwd is ."
