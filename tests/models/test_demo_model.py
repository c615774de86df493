"""The demo model pursues each demo goal with the real built-in tools in a seeded workspace."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from agent_core.models.base import ModelCancelled, ModelError, ModelTurn, ToolCallRequest
from agent_core.models.demo import DemoModel, arithmetic_expression, match_goal
from agent_core.models.demo_goals import DEMO_GOALS, SEED_DIR, demo_goal, seed_demo_workspace
from agent_core.run.conversation import (
    assistant_message,
    guidance_message,
    initial_messages,
    tool_message,
)
from agent_core.run.tool_runner import run_tool
from agent_core.tools import ToolError, Workspace, builtin_tools

TEMP_FILES = {"build.tmp", "cache.tmp", "scratch.tmp", "tmp/download.part", "tmp/session.lock"}

# Given a tool call, a canned result (a simulated human or policy) or None to really run it.
Intercept = Callable[[ToolCallRequest], str | None]


@dataclass
class Run:
    workspace: Path
    turns: list[ModelTurn] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)

    @property
    def calls(self) -> list[ToolCallRequest]:
        return [call for turn in self.turns for call in turn.tool_calls]

    @property
    def answer(self) -> str:
        assert not self.turns[-1].tool_calls, "the run did not finish"
        return self.turns[-1].text

    def files(self) -> set[str]:
        return {
            p.relative_to(self.workspace).as_posix()
            for p in self.workspace.rglob("*")
            if p.is_file()
        }


def drive(
    goal: str,
    root: Path,
    *,
    intercept: Intercept | None = None,
    tool_names: set[str] | None = None,
    guidance_after: dict[int, str] | None = None,
    max_turns: int = 20,
    seed: bool = True,
) -> Run:
    """A tiny loop: ask the model, run its tool calls for real (unless intercepted), repeat."""
    if seed:
        seed_demo_workspace(root)
    tools = {n: t for n, t in builtin_tools().items() if tool_names is None or n in tool_names}
    specs = [t.spec() for t in tools.values()]
    model = DemoModel(delay_s=0)
    run = Run(workspace=root, messages=initial_messages(goal))
    for number in range(1, max_turns + 1):
        turn = model.complete(run.messages, specs, cancel=threading.Event())
        run.turns.append(turn)
        calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in turn.tool_calls]
        run.messages.append(assistant_message(turn.text, calls))
        if not turn.tool_calls:
            break
        for call in turn.tool_calls:
            canned = intercept(call) if intercept else None
            output = canned if canned is not None else execute(tools, call, Workspace(root))
            run.messages.append(tool_message(call.id, output))
        if guidance_after and number in guidance_after:
            run.messages.append(guidance_message(guidance_after[number]))
    return run


def execute(tools: dict, call: ToolCallRequest, workspace: Workspace) -> str:
    try:
        return run_tool(tools[call.name], json.loads(call.arguments), workspace=workspace)
    except ToolError as exc:
        return f"Error: {exc}"


def reject(tool_name: str, *notes: str) -> Intercept:
    """Reject the first calls of one tool with these notes, in order; let the rest run."""
    pending = list(notes)

    def decide(call: ToolCallRequest) -> str | None:
        if call.name == tool_name and pending:
            return pending.pop(0)
        return None

    return decide


def goal_text(key: str) -> str:
    return demo_goal(key).goal


def args_of(call: ToolCallRequest) -> dict:
    return json.loads(call.arguments)


def seed_invoice_rows() -> list[tuple[str, Decimal]]:
    """The invoice totals, read straight from the seed files (independently of the model)."""
    rows = []
    for path in sorted((SEED_DIR / "invoices").iterdir()):
        match = re.search(r"^Total: \$([\d,.]+)$", path.read_text(), re.M)
        assert match, path
        rows.append((f"invoices/{path.name}", Decimal(match.group(1).replace(",", ""))))
    return rows


def test_arithmetic_goal_quotes_the_calculator_result(tmp_path: Path) -> None:
    run = drive(goal_text("arithmetic"), tmp_path)
    assert [c.name for c in run.calls] == ["calculator"]
    assert run.turns[0].text  # it says what it is about to do
    assert "527.5" in run.answer  # 17.5% of 2,340 = 409.5; + 118
    assert Decimal("17.5") / 100 * 2340 + 118 == Decimal("527.5")


def test_plain_words_arithmetic_is_understood(tmp_path: Path) -> None:
    assert arithmetic_expression("Calculate 3 x 4 plus 2") == "3 * 4 + 2"
    assert arithmetic_expression("What is the meaning of life?") is None
    run = drive("What is 1,200 divided by 8 minus 25?", tmp_path)
    assert args_of(run.calls[0]) == {"expression": "1200 / 8 - 25"}
    assert "125" in run.answer


def test_report_goal_reads_the_notes_and_writes_a_real_summary(tmp_path: Path) -> None:
    run = drive(goal_text("report"), tmp_path)
    names = [c.name for c in run.calls]
    assert names[0] == "list_files" and names[-1] == "write_file"
    read = [args_of(c)["path"] for c in run.calls if c.name == "read_file"]
    assert set(read) == {"README.md", "meeting_notes.md", "todo.txt", "build_status.txt"}
    report = (tmp_path / "report.md").read_text()
    for name in ("README.md", "meeting_notes.md", "todo.txt"):
        assert name in report
    assert "Lighthouse: a shared plant-watering tracker" in report  # README's heading
    assert "Decisions, Action items" in report  # the meeting notes' sections
    assert "2 done, 4 open" in report  # counted from todo.txt
    assert "report.md" in run.answer
    assert all(turn.text for turn in run.turns)


def test_rejected_report_is_given_in_the_answer_instead(tmp_path: Path) -> None:
    run = drive(
        goal_text("report"), tmp_path, intercept=reject("write_file", "Rejected by a human: no")
    )
    assert not (tmp_path / "report.md").exists()
    assert [c.name for c in run.calls].count("write_file") == 1
    assert "did not write report.md" in run.answer
    assert "Lighthouse: a shared plant-watering tracker" in run.answer


def test_rejection_naming_another_file_makes_it_write_there(tmp_path: Path) -> None:
    note = "Rejected by a human: don't touch README.md, call it summary.md"
    run = drive(goal_text("report"), tmp_path, intercept=reject("write_file", note))
    writes = [args_of(c)["path"] for c in run.calls if c.name == "write_file"]
    assert writes == ["report.md", "summary.md"]
    assert "summary.md" in run.turns[-2].text  # it says why it changed course
    assert not (tmp_path / "report.md").exists()
    assert "meeting_notes.md" in (tmp_path / "summary.md").read_text()
    assert "Lighthouse" in (tmp_path / "README.md").read_text()
    assert "summary.md" in run.answer


def test_invoices_goal_writes_the_csv_with_the_grand_total(tmp_path: Path) -> None:
    rows = seed_invoice_rows()
    grand = sum(amount for _, amount in rows)
    run = drive(goal_text("invoices"), tmp_path)
    assert [c.name for c in run.calls] == ["list_files"] + ["read_file"] * 4 + [
        "calculator",
        "write_file",
    ]
    lines = (tmp_path / "invoices.csv").read_text().splitlines()
    assert lines[0] == "file,total"
    assert lines[1:-1] == [f"{path},{amount:.2f}" for path, amount in rows]
    assert lines[-1] == f"TOTAL,{grand:.2f}"
    assert f"${grand:,.2f}" in run.answer


def test_rejected_csv_is_explained_with_its_content(tmp_path: Path) -> None:
    grand = sum(amount for _, amount in seed_invoice_rows())
    run = drive(
        goal_text("invoices"), tmp_path, intercept=reject("write_file", "Rejected by a human")
    )
    assert not (tmp_path / "invoices.csv").exists()
    assert "did not write invoices.csv" in run.answer
    assert "file,total" in run.answer and f"TOTAL,{grand:.2f}" in run.answer


def test_cleanup_deletes_only_the_temporary_files(tmp_path: Path) -> None:
    run = drive(goal_text("cleanup"), tmp_path)
    before = {p.relative_to(SEED_DIR).as_posix() for p in SEED_DIR.rglob("*") if p.is_file()}
    assert set(args_of(run.calls[-1])["paths"]) == TEMP_FILES
    assert run.files() == before - TEMP_FILES
    assert all(name in run.answer for name in TEMP_FILES)


def test_rejected_cleanup_deletes_nothing(tmp_path: Path) -> None:
    run = drive(
        goal_text("cleanup"), tmp_path, intercept=reject("delete_files", "Rejected by a human: no")
    )
    assert TEMP_FILES <= run.files()
    assert [c.name for c in run.calls].count("delete_files") == 1
    assert "Nothing was deleted" in run.answer


def test_cleanup_retries_without_the_files_a_human_keeps(tmp_path: Path) -> None:
    note = "Rejected by a human: keep cache.tmp"
    run = drive(goal_text("cleanup"), tmp_path, intercept=reject("delete_files", note))
    deletes = [args_of(c)["paths"] for c in run.calls if c.name == "delete_files"]
    assert len(deletes) == 2 and "cache.tmp" not in deletes[1]
    assert run.files() & TEMP_FILES == {"cache.tmp"}
    assert "kept cache.tmp" in run.answer


def test_policy_denial_ends_the_cleanup_gracefully(tmp_path: Path) -> None:
    denial = "Denied by policy (no-deletes): deleting files is not allowed here"
    run = drive(goal_text("cleanup"), tmp_path, intercept=reject("delete_files", denial))
    assert TEMP_FILES <= run.files()
    assert "policy denied" in run.answer and "no-deletes" in run.answer


def test_drift_goal_repeats_the_identical_call(tmp_path: Path) -> None:
    run = drive(goal_text("drift"), tmp_path, max_turns=12)
    assert len(run.calls) == 12 and all(turn.tool_calls for turn in run.turns)
    assert {(c.name, c.arguments) for c in run.calls} == {
        ("read_file", json.dumps({"path": "build_status.txt"}))
    }
    assert "still pending" in run.turns[-1].text
    assert len({c.id for c in run.calls}) == 12


def test_drift_goal_stops_when_a_human_says_so(tmp_path: Path) -> None:
    run = drive(goal_text("drift"), tmp_path, guidance_after={3: "please stop waiting"})
    assert len(run.calls) == 3
    assert 'Noted your guidance: "please stop waiting"' in run.answer
    assert "Stopping as you asked" in run.answer


def test_guidance_is_acknowledged_in_the_next_step(tmp_path: Path) -> None:
    run = drive(goal_text("report"), tmp_path, guidance_after={2: "keep it short"})
    assert 'Noted your guidance: "keep it short"' in run.turns[2].text
    assert "Noted your guidance" not in run.turns[3].text
    assert (tmp_path / "report.md").exists()


def test_drift_goal_reports_a_build_that_has_passed(tmp_path: Path) -> None:
    seed_demo_workspace(tmp_path)
    (tmp_path / "build_status.txt").write_text("status: passed\n")
    run = drive(goal_text("drift"), tmp_path)
    assert len(run.calls) == 1
    assert "The build passed" in run.answer


def test_tool_error_ends_the_run_with_an_explanation(tmp_path: Path) -> None:
    seed_demo_workspace(tmp_path)
    (tmp_path / "build_status.txt").unlink()
    run = drive(goal_text("drift"), tmp_path, seed=False)
    assert len(run.calls) == 1
    assert "it failed: no file 'build_status.txt'" in run.answer


def test_time_goal_asks_for_tokyo(tmp_path: Path) -> None:
    run = drive(goal_text("time"), tmp_path)
    assert [(c.name, args_of(c)) for c in run.calls] == [
        ("current_time", {"timezone": "Asia/Tokyo"})
    ]
    assert "Tokyo" in run.answer and "+09:00" in run.answer


def test_unknown_goal_gets_the_offline_explanation(tmp_path: Path) -> None:
    run = drive("Write a sonnet about autumn", tmp_path)
    assert run.calls == []
    assert "demo model" in run.answer and "offline" in run.answer
    for needed in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "Ollama", "--model openai"):
        assert needed in run.answer
    assert all(goal.goal in run.answer for goal in DEMO_GOALS)


def test_a_missing_tool_is_named_instead_of_called(tmp_path: Path) -> None:
    run = drive(goal_text("arithmetic"), tmp_path, tool_names={"read_file"})
    assert run.calls == [] and "calculator" in run.answer
    run = drive(goal_text("report"), tmp_path / "r", tool_names={"list_files", "read_file"})
    assert "write_file" not in [c.name for c in run.calls]
    assert "doesn't offer the write_file tool" in run.answer
    assert "Lighthouse" in run.answer  # the summary is still delivered


@pytest.mark.parametrize("key", ["arithmetic", "report", "invoices", "cleanup", "drift"])
def test_runs_are_deterministic(tmp_path: Path, key: str) -> None:
    first = drive(goal_text(key), tmp_path / "a", max_turns=8)
    second = drive(goal_text(key), tmp_path / "b", max_turns=8)
    assert first.turns == second.turns
    assert [c.id for c in first.calls] == [f"demo_{n}" for n in range(1, len(first.calls) + 1)]


def test_turns_are_labelled_free_and_estimated(tmp_path: Path) -> None:
    run = drive(goal_text("invoices"), tmp_path)
    model = DemoModel(delay_s=0)
    assert (model.provider, model.model_name) == ("demo", "demo")
    for turn in run.turns:
        assert turn.model_name == "demo" and turn.cost_usd == 0.0
        assert turn.tokens_in > 0 and turn.tokens_out > 0
    assert run.turns[-1].tokens_in > run.turns[0].tokens_in  # the conversation grew


def test_every_demo_goal_and_common_phrasings_match(tmp_path: Path) -> None:
    assert [match_goal(g.goal) for g in DEMO_GOALS] == [g.key for g in DEMO_GOALS]
    assert match_goal("please TIDY UP the tmp files") == "cleanup"
    assert match_goal("sum up the invoice totals") == "invoices"
    assert match_goal("Write a report of what's in here") == "report"
    assert match_goal("check the build status until it passes") == "drift"
    assert match_goal("Plan my holiday") is None
    assert len({g.key for g in DEMO_GOALS}) == len(DEMO_GOALS)


def test_a_halt_cancels_the_call() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ModelCancelled):
        DemoModel(delay_s=30).complete(initial_messages("hi"), [], cancel=cancel)


def test_the_delay_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONLOOP_DEMO_DELAY", "0.05")
    assert DemoModel().delay_s == 0.05
    monkeypatch.delenv("ONLOOP_DEMO_DELAY")
    assert DemoModel().delay_s == 0.4
    monkeypatch.setenv("ONLOOP_DEMO_DELAY", "soon")
    with pytest.raises(ModelError, match="ONLOOP_DEMO_DELAY"):
        DemoModel()


def test_seeding_copies_everything_and_keeps_existing_files(tmp_path: Path) -> None:
    (tmp_path / "todo.txt").write_text("mine\n")
    seed_demo_workspace(tmp_path)
    assert (tmp_path / "todo.txt").read_text() == "mine\n"
    assert {"README.md", "build_status.txt", "invoices/invoice_001.txt"} <= {
        p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
    }
    assert (tmp_path / "build_status.txt").read_text().strip() == "status: pending"
    # setuptools' package-data globs skip dotfiles: the seed must not depend on any.
    assert not [p for p in SEED_DIR.rglob(".*")]
