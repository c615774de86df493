"""The disk budget after each call: built-in file tools say at most how much they can add, so
the workspace is walked only when that could reach the budget (a walk costs as much as the files
the workspace holds: once per call, a long run would get slower every step). Never less safe:
the bound is at least what the call really added, and any other tool is measured."""

from __future__ import annotations

from agent_core.run.tool_runner import run_tool
from agent_core.tools import disk_budget
from agent_core.tools.builtins import builtin_tools, disk_growth_bound
from agent_core.tools.disk_budget import MB, DiskBudget, disk_usage
from agent_core.tools.workspace import Workspace


def _counting_walks(monkeypatch) -> list[int]:
    walks = [0]
    real = disk_budget.disk_usage

    def counted(root):
        walks[0] += 1
        return real(root)

    monkeypatch.setattr(disk_budget, "disk_usage", counted)
    return walks


def test_a_write_adds_no_more_than_its_bound(tmp_path):
    workspace, tools = Workspace(tmp_path), builtin_tools()
    before, bound = disk_usage(tmp_path), 0
    for n in range(40):
        arguments = {"path": f"deep/er/note{n}.md", "content": "é line\n" * (n * 97)}
        bound += disk_growth_bound(tools["write_file"], arguments) or 0
        run_tool(tools["write_file"], arguments, workspace=workspace)
        run_tool(tools["read_file"], {"path": arguments["path"]}, workspace=workspace)
        assert disk_usage(tmp_path) - before <= bound
    assert disk_growth_bound(tools["read_file"], {"path": "deep/er/note1.md"}) == 0
    assert disk_growth_bound(tools["run_shell"], {"command": "yes > big"}) is None
    assert disk_growth_bound(tools["delete_files"], {"paths": ["x"]}) is None


def test_bounded_calls_walk_the_workspace_only_near_the_budget(tmp_path, monkeypatch):
    walks = _counting_walks(monkeypatch)
    budget = DiskBudget.start([tmp_path], limit_mb=1)
    assert walks[0] == 1  # the session's baseline
    for _ in range(2000):
        assert budget.exceeded(grew_at_most=0) is None  # reads
    assert walks[0] == 1
    for _ in range(7):
        assert budget.exceeded(grew_at_most=MB // 8) is None  # nothing was really written
    assert walks[0] == 1
    assert budget.exceeded(grew_at_most=MB // 4) is None  # could pass the budget: measured
    assert walks[0] == 2
    assert budget.exceeded(grew_at_most=MB // 4) is None  # measured 0: room again
    assert walks[0] == 2
    assert budget.exceeded() is None  # any other tool: measured every time
    assert walks[0] == 3


def test_a_real_overrun_is_still_caught(tmp_path):
    budget = DiskBudget.start([tmp_path], limit_mb=1)
    tools, workspace = builtin_tools(), Workspace(tmp_path)
    reasons = []
    for n in range(8):
        arguments = {"path": f"big{n}.txt", "content": "x" * (MB // 4)}
        run_tool(tools["write_file"], arguments, workspace=workspace)
        reasons.append(
            budget.exceeded(grew_at_most=disk_growth_bound(tools["write_file"], arguments))
        )
    assert reasons[:3] == [None, None, None]
    assert any(r is not None and "disk budget of 1 MB" in r for r in reasons[3:5])
