"""Drift monitors: repetition, alternation, same error, same message, budgets (the judge:
test_progress_judge.py)."""

from __future__ import annotations

from agent_core.oversight.monitors import (
    Budget,
    RepetitionMonitor,
    Usage,
    check_budget,
    normalise_arguments,
)
from agent_core.oversight.policy import MonitorSettings


def monitor(polling=()):
    return RepetitionMonitor(MonitorSettings(), frozenset(polling))


def test_same_call_with_the_same_result_n_times_trips_and_argument_order_does_not_matter():
    m = monitor()
    for i in range(3):
        args = {"path": "a", "limit": 1} if i % 2 else {"limit": 1, "path": "a"}
        m.observe("read_file", args, True, "same text")
        assert m.check() is None
    m.observe("read_file", '{"path":  "a", "limit": 1}', True, "same   text")
    trip = m.check()
    assert trip is not None and trip.monitor == "repetition" and "4 times" in trip.detail


def test_the_same_call_whose_result_changes_is_progress():
    m = monitor()
    for i in range(10):
        m.observe("read_file", {"path": "build_status.txt"}, True, f"status: {i * 10}% built")
        assert m.check() is None


def test_different_arguments_with_different_results_do_not_trip():
    m = monitor()
    for i in range(10):
        m.observe("read_file", {"path": f"f{i}"}, True, f"text of f{i}")
        assert m.check() is None


def test_new_calls_returning_a_result_already_seen_trip():
    """`cat a.py`, `head -n 400 a.py`, `sed -n 1,400p a.py`: new calls, nothing new observed."""
    m = monitor()
    commands = ["cat a.py", "head -n 400 a.py", "sed -n '1,400p' a.py", "cat ./a.py"]
    for command in commands[:3]:
        m.observe("run_shell", {"command": command}, True, "exit code 0\ndef f():\n    return 1")
        assert m.check() is None
    m.observe("run_shell", {"command": commands[3]}, True, "exit code 0\ndef f():\n    return 1")
    trip = m.check()
    assert trip.monitor == "repetition" and "with different arguments" in trip.detail


def test_a_poll_that_is_still_waiting_gets_poll_patience_then_trips():
    """Issue 22: CI that says "running" five times then "passed" is legitimate waiting, so a
    poll whose output says it is still on its way is given `poll_patience` polls (10), not the
    four of `repeat_same_call`; one whose output moves on is progress at any count."""
    m = monitor(polling=["job_status"])
    for i in range(6):
        m.observe("job_status", {"id": 1}, True, f"running, step {i}")
        assert m.check() is None
    for _ in range(9):
        m.observe("job_status", {"id": 1}, True, "running, step 5")
        assert m.check() is None
    m.observe("job_status", {"id": 1}, True, "running, step 5")
    trip = m.check()
    assert trip.monitor == "polling" and "10 times" in trip.detail


def test_a_poll_whose_final_answer_does_not_change_is_a_repeat():
    m = monitor(polling=["job_status"])
    for _ in range(3):
        m.observe("job_status", {"id": 1}, True, "completed: failure")
        assert m.check() is None
    m.observe("job_status", {"id": 1}, True, "completed: failure")
    assert m.check().monitor == "repetition"


def test_a_b_a_b_over_six_calls_trips():
    m = monitor()
    for i in range(5):
        m.observe("read_file" if i % 2 == 0 else "list_files", {"path": "."}, True, "same")
        assert m.check() is None
    m.observe("list_files", {"path": "."}, True, "same")
    trip = m.check()
    assert trip is not None and trip.monitor == "alternation"


def test_a_b_c_cycles_trip():
    m = monitor()
    calls = ["read_file", "list_files", "calculator"] * 3
    for name in calls[:-1]:
        m.observe(name, {}, True, "same")
        assert m.check() is None
    m.observe(calls[-1], {}, True, "same")
    assert m.check().monitor == "alternation"


def test_the_same_error_coming_back_trips_even_when_not_back_to_back():
    """Issue 22: errors that come back but not back to back are the same failure; a success in
    between does not make them new (the old monitor counted only errors in a row)."""
    m = monitor()
    m.observe("x", {"n": 1}, False, "Error: boom")
    m.observe("x", {"n": 2}, True, "fine")
    m.observe("x", {"n": 3}, False, "Error: boom")
    assert m.check() is None
    m.observe("x", {"n": 4}, False, "Error:   boom")
    trip = m.check()
    assert trip.monitor == "same_error" and "within the last 4 calls" in trip.detail


def test_new_file_contents_between_two_errors_start_the_count_again():
    m = monitor()
    for attempt in range(4):
        m.observe("run_tests", {"target": "a"}, False, "Error: ImportError: no module x")
        assert m.check() is None
        m.observe("write_file", {"path": "a.py", "content": f"fix {attempt}"}, True, "wrote")
        assert m.check() is None


def test_errors_are_compared_after_what_varies_is_normalised():
    m = monitor()
    m.observe("parse", {"n": 1}, False, "Error: bad token at line 3, column 17 (id 9f8e7d6c5b)")
    m.observe("parse", {"n": 2}, False, "Error: bad token at line 4, column 2 (id 0a1b2c3d4e5f)")
    assert m.check() is None
    m.observe("parse", {"n": 3}, False, "Error: bad token at line 9, column 1 (id abcdef1234)")
    assert m.check().monitor == "same_error"


def test_a_non_zero_exit_is_an_error():
    m = monitor()
    for i in range(3):
        m.observe("shell", {"command": f"make t{i}"}, True, "exit code 2\nmake: *** failed")
    assert m.check().monitor == "same_error"
    m = monitor()
    for i in range(3):
        m.observe("shell", {"command": f"echo {i}"}, True, "exit code 0\nok")
    assert m.check() is None


def test_same_message_counts_consecutive_turns_that_brought_nothing_new():
    m = monitor()
    for i in range(5):  # the same narration, new work each time: no trip
        m.start_turn("Let me check again.")
        m.observe("read_file", {"path": f"f{i}"}, True, f"text {i}")
        m.end_turn()
        assert m.check() is None
    for _ in range(2):
        m.start_turn("Let me check again.")
        m.end_turn()
    assert m.check() is None
    m.start_turn("Let me  check again.")
    m.end_turn()
    assert m.check().monitor == "same_message"


def test_reset_after_a_human_steps_in():
    m = monitor()
    for _ in range(4):
        m.observe("x", {}, True, "same")
    m.reset()
    assert m.check() is None


def test_budgets_each_trip_with_what_was_used():
    budget = Budget(max_steps=5, max_seconds=60, max_tokens=1000, max_cost_usd=0.5)
    assert check_budget(budget, Usage(4, 999, 0.49, 59)) is None
    assert check_budget(budget, Usage(5, 0, 0, 0)).monitor == "budget_steps"
    assert check_budget(budget, Usage(5, 0, 0, 0), steps=False) is None  # before a tool call
    assert check_budget(budget, Usage(0, 0, 0, 61)).monitor == "budget_time"
    assert check_budget(budget, Usage(0, 1000, 0, 0)).monitor == "budget_tokens"
    trip = check_budget(budget, Usage(0, 0, 0.5, 0))
    assert trip.monitor == "budget_cost" and "$0.5000" in trip.detail


def test_normalised_arguments():
    assert normalise_arguments({"b": 2, "a": "x  y"}) == normalise_arguments('{"a":"x y","b":2}')
