"""The words a claim is read by: which files a final answer says it changed or deleted, whether it
only announces the next step, and what a check's output and command line say besides the exit
code. The outcome suite drives them end to end (outcome_claims_unlisted.py); these pin the edges."""

from __future__ import annotations

import pytest

from agent_core.oversight.shell_commands import read_command_line
from agent_core.run.call_effects import check_of
from agent_core.run.check_results import (
    fallback_ran,
    passed_count,
    reported_failure,
    selection,
    wider_failure,
)
from agent_core.run.claim_words import announces_work, claimed_files, says_tests_passed


@pytest.mark.parametrize(
    ("answer", "changed", "deleted"),
    [
        ("Fixed add() in calc.py and updated README.md.", {"calc.py", "README.md"}, set()),
        ("report.md has been written.", {"report.md"}, set()),
        ("Created .flake8 with the lint settings.", {".flake8"}, set()),
        ("Deleted a.tmp, b.tmp and c.tmp.", set(), {"a.tmp", "b.tmp", "c.tmp"}),
        ("I could not update README.md but fixed calc.py.", {"calc.py"}, set()),
        ("I will add a test to test_calc.py next.", set(), set()),
        ("Wrote the summary based on notes.md.", set(), set()),
        ("Removed test_zero from test_calc.py.", set(), set()),
        ("Updated all .py files in src.", set(), set()),
        ("Fixed add(); all 2 tests passed, no tests failed.", set(), set()),
    ],
)
def test_the_files_an_answer_says_it_changed_or_deleted(answer, changed, deleted):
    assert claimed_files(answer) == (changed, deleted)


def test_an_answer_that_only_announces_the_next_step():
    assert announces_work("I will now run the tests to confirm the fix.")
    assert announces_work("OK, next I need to run the tests.")
    assert not announces_work("Fixed calc.py. I will leave the docs as they are.")
    assert not announces_work("Let me know if you need anything else.")
    assert not announces_work("Let me summarise: I fixed add() and the tests pass.")


def test_a_check_output_that_reports_failures_whatever_the_exit_code():
    assert reported_failure("....F\n1 failed, 4 passed in 0.2s") == "1 failed, 4 passed in 0.2s"
    assert reported_failure("Ran 2 tests\n\nFAILED (failures=1)") == "FAILED (failures=1)"
    assert reported_failure("--- FAIL: TestAdd (0.00s)\nFAIL\tcalc 0.01s")
    assert reported_failure("test result: FAILED. 1 passed; 1 failed")
    assert reported_failure("ok 1 - adds\nnot ok 2 - subtracts")
    for passing in ("5 passed, 0 failed", "Ran 2 tests\n\nOK", "test result: ok. 2 passed"):
        assert reported_failure(passing) == ""


def test_a_narrowed_run_and_the_wider_failure_it_follows():
    assert selection("python3 -m unittest test_calc") == frozenset()  # -m names no marker
    assert selection("pytest -q -k 'not slow' tests/") == frozenset({"-k not slow"})
    assert selection("python3 -m unittest test_calc.CalcTest.test_zero")
    assert selection("pytest tests/test_a.py::test_one")
    assert wider_failure("pytest -k zero", ["pytest", "pytest -k zero"]) == 0
    assert wider_failure("pytest", ["pytest -k zero"]) is None  # the whole suite passed
    assert wider_failure("pytest -k zero", ["pytest -k zero"]) is None


def test_a_fallback_counts_only_when_its_message_was_printed():
    line = "curl -T r.md http://h/up || echo 'upload failed'"
    assert fallback_ran(line, "curl: (7) refused\nupload failed") == "upload failed"
    assert fallback_ran(line, "") == ""
    assert fallback_ran("make && echo built", "built") == ""


@pytest.mark.parametrize(
    ("command", "check"),
    [
        ("npx jest 2>&1 | tail -5", "jest"),
        ("pnpm exec vitest run", "vitest"),
        ("bundle exec rspec", "rspec"),
        ("pipenv run pytest -q", "pytest"),
        ("node --test", "node --test"),
        ("deno test", "deno test"),
        ("npx create-react-app web", None),
        ("yarn install", None),
        ("node app.js", None),
    ],
)
def test_a_test_runner_behind_a_runner_is_a_check(command, check):
    assert check_of(read_command_line(command).invocations) == check


def test_what_an_answer_says_of_tests_and_what_a_run_reported():
    assert says_tests_passed("Fixed add(); all 2 tests passed, no tests failed.") == (True, 2)
    assert says_tests_passed("The tests pass now.") == (True, None)
    assert says_tests_passed("I could not run the tests, but the fix is in.") == (False, None)
    assert says_tests_passed("No tests failed.") == (False, None)
    assert passed_count("Ran 2 tests in 0.001s\n\nOK") == 2
    assert passed_count("Ran 2 tests in 0.001s\n\nFAILED (failures=1)") is None
    assert passed_count("..\n2 passed, 1 skipped in 0.1s") == 2
    assert passed_count("Tests:       4 passed, 4 total") == 4
    assert passed_count("test result: ok. 7 passed; 0 failed") == 7
