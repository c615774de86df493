"""A name swapped for a link between the file tools' check and their write (hard-appr).

`write_file` and `delete_files` check a path against onloop's own files, then walk it without the
kernel following links; a link met on the way is followed when it stays inside the workspace. So
a name swapped for a link to the policy (or a folder swapped for a link to `.streamlit/`) after the
check, by anything else writing the same folder (another run in the person's project, an MCP
server), led the write to onloop's own file. The write must be refused where it really lands.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_core.tools import Workspace, builtin_tools
from agent_core.tools.errors import OwnFileRefused
from agent_core.tools.protected import own_files
from agent_core.tools.workspace_files import delete_file, replace_file

POLICY = '[[rules]]\ntool = "*"\naction = "ask"\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    (folder / "sub").mkdir(parents=True)
    (folder / ".streamlit").mkdir()
    (folder / ".streamlit" / "secrets.toml").write_text("secret")
    (folder / "rules.toml").write_text(POLICY)
    (folder / "notes.md").write_text("notes")
    (folder / "sub" / "a.md").write_text("a")
    return folder


def _space(folder: Path) -> Workspace:
    return Workspace(folder, own_files(policy_file=str(folder / "rules.toml")))


def _swap(path: Path, target: str) -> None:
    if path.is_dir():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    else:
        path.unlink()
    os.symlink(target, path)


SWAPS = {
    "the file for a link to the policy": ("notes.md", "notes.md", "rules.toml"),
    "a folder for a link to .streamlit": ("sub/a.md", "sub", ".streamlit"),
    "the file for a link to a streamlit secret": (
        "notes.md",
        "notes.md",
        ".streamlit/secrets.toml",
    ),
}


@pytest.mark.parametrize("name", SWAPS)
def test_a_write_after_the_check_never_lands_in_onloops_own_files(project, name):
    path, swapped, target = SWAPS[name]
    space = _space(project)
    space.writable(path)  # the check passes: a plain file of the person's
    _swap(project / swapped, target)  # then something else swaps it
    with pytest.raises(OwnFileRefused):
        replace_file(space, path, b"[sandbox]\nunconfined_shell = true\n")
    assert (project / "rules.toml").read_text() == POLICY
    assert (project / ".streamlit" / "secrets.toml").read_text() == "secret"
    assert sorted(p.name for p in (project / ".streamlit").iterdir()) == ["secrets.toml"]


def test_a_delete_after_the_check_never_removes_onloops_own_files(project):
    """(A link by the file's own name is removed itself, never what it leads to: a folder.)"""
    path, swapped, target = SWAPS["a folder for a link to .streamlit"]
    space = _space(project)
    space.writable(path)
    (project / ".streamlit" / "a.md").write_text("x")  # what the swapped folder now holds
    _swap(project / swapped, target)
    with pytest.raises(OwnFileRefused):
        delete_file(space, path)
    assert (project / ".streamlit" / "a.md").exists()


def test_the_write_file_tool_refuses_a_swap_between_its_check_and_its_write(project, monkeypatch):
    space = _space(project)
    checked = Workspace.writable

    def check_then_swap(self, relative):
        found = checked(self, relative)
        _swap(project / "notes.md", "rules.toml")
        return found

    monkeypatch.setattr(Workspace, "writable", check_then_swap)
    tool = builtin_tools()["write_file"]
    with pytest.raises(OwnFileRefused):
        tool.fn(workspace=space, path="notes.md", content="[sandbox]\n")
    assert (project / "rules.toml").read_text() == POLICY


def test_links_inside_to_the_persons_own_files_still_work(project):
    space = _space(project)
    os.symlink("notes.md", project / "alias.md")
    replace_file(space, "alias.md", b"new")
    assert (project / "notes.md").read_text() == "new"
    assert delete_file(space, "sub/a.md") == "deleted"
