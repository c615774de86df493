"""Red-team variants on onloop's own files through an MCP server (hard-appr): a sandboxed stdio
server with the person's project in its `paths` writes where onloop reads its own files. An
existing policy is pinned read-only when the server starts; a NEW one (a policy where the next
run would read it, a `.streamlit/` folder, a name made elsewhere and renamed in) was never swept,
as the shell's plants are after each command."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent_core.tools import ToolError
from agent_core.tools.mcp_client import McpPool
from agent_core.tools.mcp_config import McpServerSettings
from agent_core.tools.protected import own_files
from tests.oversight import test_protected_files_attacks as base

_project = pytest.fixture(base.project.__wrapped__, name="project")
pytestmark = base.pytestmark
WRITER = Path(__file__).parent.parent / "support" / "mcp_writer.py"


@pytest.fixture
def writer(project: Path, tmp_path: Path):
    pool = McpPool(scratch_root=tmp_path / "scratch")
    pool.protected = own_files(policy_file=str(project / "onloop.toml"))
    settings = McpServerSettings(
        name="writer", command=[sys.executable, str(WRITER)], paths=[str(project)]
    )
    try:
        yield {t.name.removeprefix("mcp__writer__"): t for t in pool.tools([settings])}
    finally:
        pool.close()


PLANTS = {
    "a policy where the next run would read one": [("write", "deep/onloop.toml")],
    "a streamlit config": [("write", "sub/.streamlit/config.toml")],
    "a store by name": [("write", "sub/onloop.db")],
    "a name made elsewhere and renamed in": [
        ("write", "tmp/new.toml"),
        ("rename", ("tmp/new.toml", "sub2/onloop.toml")),
    ],
}


@pytest.mark.parametrize("name", PLANTS)
def test_an_mcp_server_cannot_plant_onloops_own_files_in_its_paths(project, writer, name):
    (project / "sub2").mkdir()
    for tool, target in PLANTS[name]:
        if tool == "write":
            output = writer["write"].fn(path=str(project / target), content=base.EVIL)
        else:
            output = writer["rename"].fn(
                source=str(project / target[0]), destination=str(project / target[1])
            )
    planted = [
        p for p in project.rglob("*") if p.name in ("onloop.toml", ".streamlit", "onloop.db")
    ]
    planted = [p.relative_to(project).as_posix() for p in planted]
    assert sorted(planted) == [".streamlit", "onloop.db", "onloop.toml", "sub/onloop.toml"], output
    assert "onloop removed" in output


def test_an_mcp_server_still_cannot_change_the_existing_policy(project, writer):
    before = base.own_state(project)
    with pytest.raises(ToolError):
        writer["write"].fn(path=str(project / "onloop.toml"), content=base.EVIL)
    with pytest.raises(ToolError):
        writer["rename"].fn(source=str(project / "evil"), destination=str(project / "onloop.toml"))
    writer["write"].fn(path=str(project / "out.md"), content="fine")  # the rest stays writable
    assert (project / "out.md").read_text() == "fine"
    assert base.own_state(project) == before
