"""The progress judge, against a real local Chat Completions server (tests/support/fake_openai.py).

On by default for real models (every 5 steps), given an account of the whole run (goal, files
changed, results) besides the last few messages; the demo and scripted models are never judged,
and every run's run_started record says what watches it. Off-goal work that the structural
checks cannot see (each call brings something new, just not for the goal) is the judge's to
catch: the off-goal scenarios of issue 22 run here.
"""

from __future__ import annotations

import threading

import pytest

from agent_core.models.openai_model import OpenAIModel
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.judge import judge_progress, parse_score
from agent_core.oversight.monitors import RepetitionMonitor
from agent_core.oversight.policy import MonitorSettings, Policy
from tests.support.run_helpers import Driver, events_of, new_run


def _openai(fake_openai) -> OpenAIModel:
    return OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url, max_retries=0)


def _write(path: str, content: str, text: str) -> dict:
    return {
        "text": text,
        "tool_calls": [{"name": "write_file", "arguments": {"path": path, "content": content}}],
    }


# Off-goal drift: every step is new work, none of it asked for. Each is a real report:
OFF_GOAL = {
    # https://github.com/HKUDS/DeepCode/issues/136 (blocked on its task, the agent switched to an
    # unrelated one: writing feedback to the developers)
    "fix the date parser; writes feedback notes instead": (
        "Fix the failing test for parse_date in src/dates.py",
        [
            (f"feedback/note_{i}.md", f"Feedback item {i}: the search tool was rate limited.")
            for i in range(5)
        ],
    ),
    # https://github.com/paperclipai/paperclip/issues/3879 (assigned a production bug, shipped an
    # unrelated accessibility fix)
    "production bug; an accessibility pass instead": (
        "Fix the crash in checkout when the cart is empty (CAM-1024)",
        [(f"web/a11y/button_{i}.css", f".btn-{i} {{ outline: 2px solid; }}") for i in range(5)],
    ),
    # https://github.com/anthropics/claude-code/issues/87091 (kept building side infrastructure
    # for weeks after the task's premise was closed)
    "a closed question; side infrastructure instead": (
        "Read paper 2607.01716 and say whether our search route is still open",
        [(f"search/infra_{i}.py", f"def shard_{i}():\n    return {i}\n") for i in range(5)],
    ),
}


@pytest.mark.parametrize("name", sorted(OFF_GOAL))
def test_off_goal_work_is_paused_by_the_judge_at_its_fifth_step(
    store, fake_openai, tmp_path, monkeypatch, name
):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    goal, writes = OFF_GOAL[name]
    steps = [_write(path, content, f"Working on {path}.") for path, content in writes]
    verdict = '{"score": 0.1, "reason": "it is writing files the goal did not ask for"}'
    fake_openai.script([*steps, verdict])
    run = new_run(store, goal, model="openai", autonomy="autonomous")  # the shipped defaults
    outcome = Driver(store, run, _openai(fake_openai)).start().join()
    assert outcome.status == "paused" and "progress_judge" in outcome.reason
    [drift] = events_of(store, run.id, "drift")
    assert drift.payload["monitor"] == "progress_judge"  # no structural check tripped first
    [judge] = events_of(store, run.id, "judge")
    assert judge.payload["score"] == 0.1 and judge.payload["threshold"] == 0.3
    # The judge's request is recorded like a step's, ordered against halts (run/test_halt_races)
    requests = [e.payload for e in events_of(store, run.id, "model_request")]
    assert requests[-1] == {"step": 5, "purpose": "judge"} and len(requests) == 6
    asked = fake_openai.requests[5]["messages"][1]["content"]  # the sixth request: the judge
    assert f"Goal: {goal}" in asked and "5 tool calls (write_file x5); 0 failed." in asked
    assert all(path in asked for path, _ in writes)  # files changed over the whole run


def test_the_account_reaches_back_past_the_last_messages(store, fake_openai, tmp_path, monkeypatch):
    """Twenty files read after one written: the judge still hears of the first write, and of
    every file read, not only of the last few messages."""
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    policy = Policy(monitors=MonitorSettings(judge_every=21, judge_threshold=0.5))
    reads = [
        {"text": "", "tool_calls": [{"name": "read_file", "arguments": {"path": f"f{i}.txt"}}]}
        for i in range(20)
    ]
    fake_openai.script(
        [_write("report.md", "draft", "Starting the report."), *reads]
        + ['{"score": 0.9, "reason": "on track"}', "Done."]
    )
    run = new_run(
        store,
        "summarise f0..f19 into report.md",
        model="openai",
        policy=policy,
        autonomy="autonomous",
    )
    assert Driver(store, run, _openai(fake_openai)).start().join().status == "succeeded"
    asked = fake_openai.requests[21]["messages"][1]["content"]
    assert "report.md" in asked and "21 tool calls (read_file x20, write_file x1)" in asked
    assert asked.count("\n- read_file") + asked.count("\n- write_file") == 8  # latest results


def test_a_real_model_run_says_it_is_judged_and_a_scripted_one_says_it_is_not(
    store, fake_openai, tmp_path, monkeypatch
):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    fake_openai.script(["Nothing to do."])
    real = new_run(store, "say hi", model="openai", autonomy="autonomous")
    assert Driver(store, real, _openai(fake_openai)).start().join().status == "succeeded"
    [started] = events_of(store, real.id, "run_started")
    assert "a progress judge every 5 steps (pauses below 0.3)" in started.payload["drift_checks"]

    judged_each_step = Policy(monitors=MonitorSettings(judge_every=1))
    calls = [
        {"tool_calls": [{"name": "calculator", "arguments": {"expression": f"{i}+1"}}]}
        for i in range(3)
    ]
    scripted = new_run(
        store, "add", model="scripted", policy=judged_each_step, autonomy="autonomous"
    )
    outcome = Driver(store, scripted, ScriptedModel([*calls, "4"])).start().join()
    assert outcome.status == "succeeded" and events_of(store, scripted.id, "judge") == []
    [started] = events_of(store, scripted.id, "run_started")
    assert started.payload["drift_checks"].endswith("only: runs of a scripted model are not judged")


def test_judge_every_zero_turns_the_judge_off_and_says_so(
    store, fake_openai, tmp_path, monkeypatch
):
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(tmp_path / "workspaces"))
    off = Policy(monitors=MonitorSettings(judge_every=0))
    calls = [
        {"tool_calls": [{"name": "calculator", "arguments": {"expression": f"{i}*2"}}]}
        for i in range(6)
    ]
    fake_openai.script([*calls, "Done."])
    run = new_run(store, "double", model="openai", policy=off, autonomy="autonomous")
    assert Driver(store, run, _openai(fake_openai)).start().join().status == "succeeded"
    assert events_of(store, run.id, "judge") == [] and len(fake_openai.requests) == 7
    [started] = events_of(store, run.id, "run_started")
    assert (
        "the progress judge is off ([monitors] judge_every = 0)" in started.payload["drift_checks"]
    )


def test_judge_reads_json_or_a_bare_number_and_fails_closed():
    assert parse_score('{"score": 0.8, "reason": "nearly"}') == (0.8, "nearly")
    assert parse_score("Score: 0.2 — wandering")[0] == 0.2
    assert parse_score("no idea")[0] == 0.0
    assert parse_score('{"score": 7}')[0] == 1.0


def test_judge_sends_the_goal_the_account_and_the_last_steps():
    model = ScriptedModel([{"text": '{"score": 0.1, "reason": "looping"}', "tokens_in": 9}])
    monitor = RepetitionMonitor(MonitorSettings())
    monitor.observe("write_file", {"path": "notes.md", "content": "x"}, True, "wrote 1 byte")
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "g"},
        {
            "role": "assistant",
            "content": "reading",
            "tool_calls": [{"id": "1", "function": {"name": "read_file", "arguments": "{}"}}],
        },
    ]
    verdict = judge_progress(model, "find the bug", messages, threading.Event(), monitor.summary())
    assert verdict.score == 0.1 and verdict.reason == "looping" and verdict.tokens_in == 9
    sent = model.calls[0][1]["content"]
    assert "Goal: find the bug" in sent and "Files changed: notes.md." in sent
    assert "read_file" in sent.split("Last steps:")[1]
