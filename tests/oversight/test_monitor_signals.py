"""What the drift monitors read from a call: result and error signatures, polls and waits, the
workspace's state, what was seen lately, and the `[monitors]` settings that tune them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from agent_core.oversight.monitors import RepetitionMonitor
from agent_core.oversight.policy import MonitorSettings, Policy
from agent_core.oversight.policy_file import PolicyError, parse_policy
from agent_core.oversight.polling import PollRules, is_pure_wait, says_waiting, without_waits
from agent_core.oversight.progress import Memory
from agent_core.oversight.signatures import (
    attempt_of,
    content_lines,
    error_signature,
    is_error,
    result_signature,
    strip_volatile,
    without_echoes,
)
from agent_core.oversight.workspace_state import (
    DELETED,
    Assessment,
    Change,
    WorkspaceState,
    shell_writes,
    workspace_reader,
)
from agent_core.tools.workspace import Workspace
from storage.record import ToolResult


def test_results_lose_times_durations_pids_temp_paths_ids_and_colours_but_keep_numbers():
    one = "\x1b[32m3 failed\x1b[0m in 0.52s at 2026-11-29T10:01:02Z (pid 4411) /tmp/tmpab12cd99/x 9f8e7d6c5b"
    two = "3 failed in 12.1s at 2026-11-30T23:59:59Z (pid 17) /tmp/tmpzz00yy11/x 0a1b2c3d4e5f"
    assert result_signature(one) == result_signature(two)
    assert result_signature("3 failed") != result_signature("2 failed")
    assert result_signature("connection refused (try 2)") != result_signature(
        "connection refused (try 3)"
    )


def test_content_lines_leave_out_the_shells_framing():
    assert content_lines("exit code 0\n--- stdout ---\n(no output)") == []
    assert content_lines("exit code 1\n--- stdout ---\nboom  here") == ["boom here"]


def test_a_failing_test_is_the_same_error_whatever_the_flags_and_verbosity():
    quiet = "exit code 1\nF [100%]\nFAILED tests/t.py::test_a - AssertionError: x\n1 failed in 0.1s"
    verbose = "exit code 1\ntests/t.py::test_a FAILED [100%]\n=== 1 failed in 2.3s ==="
    assert error_signature(quiet) == error_signature(verbose)
    assert error_signature(quiet) != error_signature(quiet.replace("test_a", "test_b"))
    assert error_signature(quiet) != error_signature(quiet.replace("exit code 1", "exit code 2"))


def test_an_error_signature_drops_positions_attempts_and_an_unknown_tools_name():
    at = "Error: SyntaxError: unexpected token at line {}, column {} (try {})"
    assert error_signature(at.format(3, 7, 1)) == error_signature(at.format(9, 1, 4))
    assert error_signature("Error: unknown tool 'bash'; the tools you have: a, b", "bash") == (
        error_signature("Error: unknown tool 'exec'; the tools you have: a, b", "exec")
    )
    assert error_signature("Error: 401 Unauthorized") != error_signature("Error: 403 Forbidden")
    assert attempt_of("refused (attempt 3 of 10)") == 3 and attempt_of("refused") is None


def test_exit_1_of_a_search_or_a_diff_is_an_answer_not_a_failure():
    assert not is_error(True, "exit code 1\n(no output)", "cd src && grep -rn foo .")
    assert not is_error(True, "exit code 1\n1c1", "diff a b")
    assert is_error(True, "exit code 1\n(no output)", "pytest -q")
    assert is_error(True, "exit code 2\n", "grep -rn foo missing/")
    assert not is_error(True, "exit code 0\nok", "make")


@pytest.mark.parametrize(
    ("tool", "arguments", "poll"),
    [
        ("shell", {"command": "sleep 5; gh run view 42"}, True),
        ("shell", {"command": "kubectl rollout status deploy/web"}, True),
        ("shell", {"command": "curl -sf http://localhost:8000/health"}, True),
        ("shell", {"command": "docker ps --filter name=api"}, True),
        ("shell", {"command": "curl -s https://api.example.test/data"}, False),
        ("shell", {"command": "pytest -q"}, False),
        ("deploy_status", {"id": "1"}, True),
        ("wait_for_job", {"job": "x"}, True),
        ("http_get", {"url": "http://127.0.0.1:9000/"}, True),
        ("http_get", {"url": "https://x.test/down"}, False),
    ],
)
def test_polls_are_recognised_by_pattern(tool, arguments, poll):
    assert PollRules().recognises(tool, arguments) is poll


def test_two_polls_that_differ_only_in_their_waits_have_one_shape():
    a = without_waits({"command": "sleep 5; gh run view 42 --interval 5", "timeout_s": 30})
    b = without_waits({"command": "sleep  20; gh run view 42 --interval=10", "timeout_s": 60})
    assert a == b
    assert without_waits({"command": "gh run view 42"}) != without_waits(
        {"command": "gh run view 43"}
    )


def test_waiting_is_what_an_output_on_its_way_says():
    assert says_waiting("curl: (7) Failed to connect to localhost port 8000: Couldn't connect")
    assert says_waiting("run 7: in_progress") and says_waiting("web 0/1 ContainerCreating")
    assert not says_waiting("completed: failure") and not says_waiting("web 0/1 CrashLoopBackOff")
    assert not says_waiting("Error: deploy failed: connection refused by the registry")


def test_a_call_that_only_waits_is_a_wait():
    for command in ("sleep 30", "cd . && sleep 30", "sleep '5' 2>&1", "sleep 5; sleep 5"):
        assert is_pure_wait("shell", {"command": command}), command
    assert not is_pure_wait("shell", {"command": "sleep 5; gh run view 1"})
    assert is_pure_wait("wait", {"seconds": 30}) and not is_pure_wait("wait", {"job": "x"})


def test_a_run_that_only_waits_trips_at_poll_patience():
    m = RepetitionMonitor(MonitorSettings(poll_patience=3))
    for _ in range(2):
        m.observe("shell", {"command": "sleep 30"}, True, "exit code 0\n(no output)")
        assert m.check() is None
    m.observe("shell", {"command": "sleep 60"}, True, "exit code 0\n(no output)")
    assert m.check().detail == "waited 3 times in a row without checking anything"


def test_shell_writes_are_read_from_the_command_line():
    assert shell_writes("pytest -q 2>&1 | tee log.txt > out.txt") == (["out.txt", "log.txt"], [])
    assert shell_writes("sed -i 's/a/b/' src/a.py && mv old.py new.py") == (
        ["src/a.py", "new.py"],
        ["old.py"],
    )
    assert shell_writes("ls > /dev/null 2>&1; rm -f x") == ([], ["x"])


def test_request_ids_and_picked_ports_do_not_make_a_failure_new_but_real_numbers_do():
    def signature(text: str) -> str:
        return error_signature(strip_volatile(text), "http_get", cleaned=True)

    assert signature("500 (request id req_8Fk2LmQ9)") == signature("500 (request id req_Zp4Qa1Xv)")
    refused = "ConnectionRefusedError: Connection refused: ('127.0.0.1', {})"
    assert signature(refused.format(40113)) == signature(refused.format(51090))
    assert signature(refused.format(8080)) != signature(refused.format(8081))  # ports people pick
    assert signature("3 failed") != signature("2 failed")
    raised = "Exception in thread Thread-{}:\nValueError: bad config"
    assert signature(raised.format(3)) == signature(raised.format(7))
    assert strip_volatile("62.6/62.6 kB 1.2 MB/s") == strip_volatile("62.6/62.6 kB 870 kB/s")
    assert "python311" in strip_volatile("python311 sha256sum utf8mb4")


def test_a_query_or_url_the_answer_repeats_back_is_taken_out_not_a_path():
    said = without_echoes("No results found for 'httpx retries'.", {"query": "httpx retries"})
    assert said == without_echoes("No results found for 'retry'.", {"query": "retry"})
    url = "https://docs.example.com/auth/"
    assert without_echoes(f"404: {url[:-1]}", {"url": url}) == "404: <asked>"
    listing = "svc1/handler.py"
    assert without_echoes(listing, {"path": "svc1"}) == listing  # where it looked is the answer


def _new(state: WorkspaceState, changes: list[Change], index: int) -> bool:
    return state.assess(changes, index, by_command=False).new


def test_a_file_back_at_earlier_contents_is_not_new(tmp_path):
    state = WorkspaceState()
    first = state.changes("write_file", {"path": "./a.py", "content": "v1\n"}, True, "wrote")
    assert _new(state, first, 1)
    second = state.changes("write_file", {"path": "a.py", "content": "v2"}, True, "wrote")
    assert _new(state, second, 2)
    again = state.changes("write_file", {"path": "a.py", "content": "v1  \n\n"}, True, "w")
    assert not _new(state, again, 3)
    gone = state.changes("delete_files", {"paths": ["a.py"]}, True, "deleted a.py")
    assert gone == [Change("a.py", DELETED)] and _new(state, gone, 4)
    state.saw("b.py", "original\n", 5)  # read before it was deleted and written back as it was
    back = state.changes("write_file", {"path": "b.py", "content": "original"}, True, "wrote")
    assert not _new(state, back, 6)


def test_a_shell_commands_writes_are_digested_from_the_workspace(tmp_path):
    (tmp_path / "src").mkdir()
    reader = workspace_reader(Workspace(tmp_path))
    state = WorkspaceState(reader)
    command = {"command": "sed -i 's/1/2/' src/a.py"}
    (tmp_path / "src/a.py").write_text("x = 2\n")
    assert _new(state, state.changes("shell", command, True, "exit code 0\n"), 1)
    (tmp_path / "src/a.py").write_text("x = 1\n")
    assert _new(state, state.changes("shell", command, True, "exit code 0\n"), 2)
    (tmp_path / "src/a.py").write_text("x = 2\n")  # and back again: undo, redo
    assert not _new(state, state.changes("shell", command, True, "exit code 0\n"), 3)
    assert reader("../outside") is None and reader("missing.py") is None


def _write(state: WorkspaceState, path: str, content: str, index: int) -> Assessment:
    changes = state.changes("write_file", {"path": path, "content": content}, True, "wrote")
    return state.assess(changes, index, by_command=False)


def test_a_file_grown_by_lines_it_has_is_nothing_new_and_the_same_outcome():
    state = WorkspaceState()
    block = "- migrate the importer\n- fix the login bug\n"
    assert _write(state, "NOTES.md", "# Notes\n" + block, 1).new
    twice, thrice = (_write(state, "NOTES.md", "# Notes\n" + block * n, n) for n in (2, 3))
    assert not twice.new and twice.repeated and not thrice.new and thrice.repeated
    shorter = _write(state, "NOTES.md", "# Notes\n", 4)  # a line taken out: a real edit
    assert shorter.new and not shorter.repeated


def test_growth_by_new_lines_is_never_churn_but_rewriting_is():
    state = WorkspaceState()
    grown = [
        _write(state, "log.md", "".join(f"- task {n}\n" for n in range(k)), k) for k in range(1, 6)
    ]
    assert all(a.new and not a.churn for a in grown)
    rewritten = [_write(state, "plan.md", f"# Plan\n- step {k}\n", 10 + k) for k in range(3)]
    assert [a.churn for a in rewritten] == [False, False, True]


def test_a_comment_or_docstring_reworded_is_new_content_but_not_new_code():
    state = WorkspaceState()
    assert _write(state, "calc.py", "def add(a, b):\n    return a - b\n", 1).code_new
    comment = _write(state, "calc.py", "def add(a, b):\n    # why?\n    return a - b\n", 2)
    doc = _write(state, "calc.py", 'def add(a, b):\n    """Add."""\n    return a - b\n', 3)
    assert comment.new and doc.new and not comment.code_new and not doc.code_new
    assert _write(state, "calc.py", "def add(a, b):\n    return a + b\n", 4).code_new
    assert _write(state, "notes.md", "# why?\n", 5).code_new  # not code: content is what counts


def test_what_was_seen_is_news_again_only_after_the_horizon():
    memory = Memory(horizon=3, cap=8)
    assert memory.news(["a", "b"], 1) and not memory.news(["a"], 2)
    assert memory.news(["a"], 6)  # last seen at 2, more than 3 steps ago
    for step in range(7, 40):  # pruned as it goes: the cap holds
        memory.news([f"x{step}", f"y{step}"], step)
    assert len(memory._seen) <= 8


def test_the_window_must_hold_the_thresholds_and_says_which_to_change():
    with pytest.raises(ValueError, match=r"window \(20\) must be at least no_progress \(25\)"):
        MonitorSettings(no_progress=25)
    with pytest.raises(PolicyError, match="poll command pattern '\\(' is not a valid regex"):
        parse_policy("[monitors]\npoll_commands = ['(']\n", source="onloop.toml")
    assert MonitorSettings(no_progress=25, window=25).window == 25


def test_deprecated_polling_tools_still_parse_and_count_as_polls():
    policy = parse_policy('polling_tools = ["build_check"]\n', source="onloop.toml")
    assert policy.polling_tools == ["build_check"]
    m = RepetitionMonitor(policy.monitors, frozenset(policy.polling_tools))
    for _ in range(5):  # a poll still waiting: patience, not repetition
        m.observe("build_check", {}, True, "pending")
    assert m.check() is None
    assert Policy().monitors.judge_every == 5


def test_every_check_reads_a_bounded_window_however_long_the_run():
    m = RepetitionMonitor(MonitorSettings())
    for step in range(3000):
        m.observe("read_file", {"path": f"f{step}.py"}, True, f"text of file {step}")
        assert m.check() is None
    assert len(m.steps) == MonitorSettings().window


def test_a_new_action_acknowledged_is_progress_but_a_fetched_page_is_judged_by_its_content():
    m = RepetitionMonitor(MonitorSettings(), actions=frozenset({"send_message", "fetch_url"}))
    for i in range(8):
        m.observe("send_message", {"to": f"user{i}@example.test", "text": "shipped"}, True, "sent")
        assert m.check() is None
    page = "<html><nav>Home | Login</nav><div id='root'></div></html>\n(rendered by JavaScript)"
    for i in range(3):
        m.observe("fetch_url", {"url": f"https://spa.example/p/{i}"}, True, page)
        assert m.check() is None
    m.observe("fetch_url", {"url": "https://spa.example/p/3"}, True, page)
    assert m.check().monitor == "repetition"


def test_a_resumed_session_remembers_the_run_but_counts_afresh():
    earlier = [
        ToolResult(
            tool="write_file",
            ok=True,
            output="wrote",
            outcome="ok",
            arguments={"path": "notes.md", "content": "x"},
        ),
        *[
            ToolResult(
                tool="read_file", ok=True, output="same", outcome="ok", arguments={"path": "a"}
            )
            for _ in range(6)
        ],
        ToolResult(tool="teleport", ok=False, output="Error: not run", outcome="skipped"),
    ]
    events = [SimpleNamespace(kind="tool_result", payload=r.payload()) for r in earlier]
    events.append(SimpleNamespace(kind="guidance", payload={"message": "go on"}))
    m = RepetitionMonitor(MonitorSettings())
    m.recall(events)
    assert m.check() is None and "Files changed: notes.md." in m.summary()
    assert "7 tool calls (read_file x6, write_file x1)" in m.summary()
    m.observe("read_file", {"path": "a"}, True, "same")  # seen before the resume: no news
    assert not m.steps[-1].novel and m.check() is None
