"""The pieces behind outcomes that match what happened: what a goal asks, what a call aims at,
the work ledger by target, comment-only changes."""

from __future__ import annotations

from pathlib import Path

from agent_core.oversight.code_changes import only_comments
from agent_core.run.call_effects import effects_of
from agent_core.run.claim_checks import unreached
from agent_core.run.goal_asks import read_goal
from agent_core.run.work_ledger import WorkLedger
from agent_core.tools import Workspace, builtin_tools

SHELL = builtin_tools()["run_shell"]


def test_a_goal_says_what_it_asks_for():
    report = read_goal("Summarise the files in the workspace into report.md")
    assert report.outputs == ("report.md",) and report.action and not report.question
    assert read_goal("What time is it in Tokyo?").question
    assert read_goal("Write a summary of notes.md into summary.md").outputs == ("summary.md",)
    assert read_goal("Delete the file old.log").outputs == ()
    assert read_goal("Compare a.txt to b.txt").outputs == ()
    twenty = read_goal("Read all 20 files in notes/ and list their titles")
    assert (twenty.count, twenty.every, twenty.folder) == (20, True, "notes")
    each = read_goal("Add a header to each .py file in src/")
    assert (each.suffixes, each.changes_each, each.folder) == ((".py",), True, "src")
    assert read_goal("Fix the bug in calc.py").code_fix
    assert not read_goal("Fix the typo in the comments of calc.py").code_fix


def test_a_question_is_told_from_a_polite_request_for_work():
    for question in ("Do the tests pass?", "Explain recursion", "say done"):
        assert read_goal(question).question, question
    for request in ("Can you fix the bug in calc.py?", "Could you please summarise the files?"):
        asks = read_goal(request)
        assert asks.action and not asks.question, request
    poem = read_goal("Write a poem about the sea")  # words are the work: no tool needed
    assert not poem.question and not poem.action
    assert read_goal("Write a poem into poem.md").action


def test_a_shell_line_aims_at_files_and_checks(tmp_path: Path):
    for name in ("a.tmp", "b.tmp", "c.md"):
        (tmp_path / name).write_text(name)
    space = Workspace(tmp_path)
    gone = effects_of("run_shell", SHELL, {"command": "rm *.tmp"}, space)
    assert set(gone.deletes) == {"a.tmp", "b.tmp"}  # the glob's files, before they are gone
    moved = effects_of("run_shell", SHELL, {"command": "mv c.md docs/"}, space)
    assert (moved.writes, moved.deletes) == (("docs/c.md",), ("c.md",))
    redirected = effects_of("run_shell", SHELL, {"command": "wc -l < c.md > n.txt"}, space)
    assert redirected.writes == ("n.txt",) and redirected.reads == ("c.md",)
    assert effects_of("run_shell", SHELL, {"command": "python -m pytest -q"}, space).check == (
        "pytest"
    )
    assert effects_of("run_shell", SHELL, {"command": "cargo test"}, space).check == "cargo test"
    assert effects_of("run_shell", SHELL, {"command": "grep -r x ."}, space).check is None


def test_the_ledger_keeps_every_call_by_target():
    ledger = WorkLedger()
    ledger.note("run_shell", "rejected", {"command": "rm x.txt"}, "Rejected by a human (no note)")
    assert ledger.unresolved() == ["`rm x.txt` was rejected by a human and never done another way"]
    ledger.note("delete_files", "ok", {"paths": ["x.txt"]}, "deleted x.txt")
    assert ledger.unresolved() == []  # the same target, reached another way that was allowed
    ledger.note("write_file", "error", {"path": "a.txt", "content": "1"}, "Error: no room")
    ledger.note("write_file", "ok", {"path": "b.txt", "content": "2"}, "wrote 1 byte to b.txt")
    assert ledger.unresolved() == [
        "write_file a.txt failed (no room) and never done another way"
    ]  # not hidden by the last call of the same tool


def test_a_bad_exit_is_a_failure_unless_the_next_step_speaks_of_it():
    ledger = WorkLedger()
    ledger.note("run_shell", "ok", {"command": "grep -rn TODO src"}, "exit code 1\n(no output)")
    ledger.turn("", [("finish", {"goal_met": True, "summary": "Done."})])
    assert ledger.unresolved() == [
        "`grep -rn TODO src` exited with 1 and the next step did not address it"
    ]
    explained = WorkLedger()
    explained.note("run_shell", "ok", {"command": "grep -rn TODO src"}, "exit code 1\n(no output)")
    explained.turn("grep found no match: there is nothing to do.", [])
    assert explained.unresolved() == []
    looked = WorkLedger()
    looked.note("run_shell", "ok", {"command": "cat conf.yaml"}, "exit code 1\nNo such file")
    looked.turn("", [("list_files", {"path": "."})])  # it looks into it, without a word
    assert looked.unresolved() == []
    checks = WorkLedger()
    checks.note("run_shell", "ok", {"command": "pytest -q"}, "exit code 1\n1 failed")
    checks.turn("That failure is expected and unrelated.", [])
    assert checks.failed_checks() == ["the last check, `pytest -q`, exited with 1"]
    checks.note("run_shell", "ok", {"command": "python -m pytest"}, "exit code 0\n3 passed")
    assert checks.failed_checks() == []


def test_a_change_to_comments_or_layout_only_is_told_apart():
    old = "def add(a, b):\n    return a - b\n"
    assert only_comments("calc.py", old, "def add(a, b):\n    # adds\n    return a - b\n")
    assert only_comments("calc.py", old, 'def add(a,b):\n    """Add."""\n\n    return a-b\n')
    assert not only_comments("calc.py", old, "def add(a, b):\n    return a + b\n")
    assert only_comments("calc.js", "f(a - 1)", "f(a - 1) // fixed /* really */")
    assert not only_comments("notes.md", "a", "b")  # not code: never called comment-only


def test_a_goal_is_read_through_inflections_and_words_that_are_not_folders():
    from agent_core.run.goal_asks import read_goal

    renaming = read_goal("Renaming the helper across all files in one turn")
    assert renaming.changes_each and renaming.folder is None and renaming.every
    assert read_goal("Rename each of the 3 files in docs/").folder == "docs"
    assert read_goal("Deleted files in order").deletes_each
    assert read_goal("Summarise all files in the notes folder").folder == "notes"


def test_an_address_the_goal_names_is_reached_over_https_or_with_a_slash_too():
    ledger = WorkLedger(tools=builtin_tools())
    goal = "Summarise http://docs.example.com/guide into guide.md"
    ledger.note("fetch_url", "error", {"url": "http://docs.example.com/guide"}, "Error: use https")
    assert "was never reached" in unreached(goal, ledger)[0]
    ledger.note("fetch_url", "ok", {"url": "https://docs.example.com/guide/"}, "# Guide")
    assert unreached(goal, ledger) == []


def test_a_file_claimed_written_by_a_tool_whose_targets_are_unknown_is_not_doubted():
    from agent_core.run.claim_checks import not_done_as_said
    from onloop import tool

    @tool(risk="medium")
    def save_note(filename: str, text: str) -> str:
        """Save a note.

        Args:
            filename: where.
            text: what.
        """
        return "saved"

    ledger = WorkLedger(tools={**builtin_tools(), "save_note": save_note})
    answer = "Created notes.txt with the summary."
    assert not_done_as_said(answer, ledger, None)  # nothing wrote it: doubted
    ledger.note("save_note", "ok", {"filename": "notes.txt", "text": "x"}, "saved")
    assert not_done_as_said(answer, ledger, None) == []  # it may have: not doubted
