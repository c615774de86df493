"""Records that tell the truth: unmet goals, edited approvals, cancelled approvals, resumes."""

from __future__ import annotations

import json
from pathlib import Path

import storage
from agent_core.cli.render import render_event
from agent_core.models.base import ModelError
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.decisions import approve, resume_for_decision
from agent_core.oversight.policy import MonitorSettings, Policy
from agent_core.run.finish import parse_goal_check
from storage.insights import success_rate
from tests.support.run_helpers import Driver, events_of, new_run

WRITE_A = {"tool_calls": [{"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}]}


def finish(goal_met: bool, summary: str = "summary") -> dict:
    return {
        "tool_calls": [{"name": "finish", "arguments": {"goal_met": goal_met, "summary": summary}}]
    }


def test_the_model_says_the_goal_was_not_met_through_finish(store):
    model = ScriptedModel([finish(False, "I could not find the data.")])
    run = new_run(store, "find the data", model="scripted")
    outcome = Driver(store, run, model).start().join()
    assert (outcome.status, outcome.result) == ("unmet", "I could not find the data.")
    final = events_of(store, run.id, "final_answer")[0].payload
    assert final["goal_met"] is False and final["claimed_goal_met"] is False
    assert final["structured"] is True
    done = storage.get_run(store, run_id=run.id)
    assert done.status == "unmet" and done.finished_at is not None
    rate = success_rate(store)
    assert (rate["finished"], rate["succeeded"]) == (1, 0)  # counted apart from success


def test_finish_with_goal_met_succeeds_and_the_model_was_offered_it(store):
    model = ScriptedModel([finish(True, "Done.")])
    run = new_run(store, "say done", model="scripted")
    outcome = Driver(store, run, model).start().join()
    assert (outcome.status, outcome.result) == ("succeeded", "Done.")


def test_finish_beside_other_calls_is_refused_and_the_model_goes_on(store):
    mixed = {
        "tool_calls": [
            {"name": "calculator", "arguments": {"expression": "1+1"}},
            {"name": "finish", "arguments": {"goal_met": True, "summary": "2"}},
        ]
    }
    model = ScriptedModel([mixed, finish(True, "It is 2.")])
    run = new_run(store, "add", model="scripted", autonomy="autonomous")
    outcome = Driver(store, run, model).start().join()
    assert outcome.status == "succeeded" and outcome.result == "It is 2."
    refused = [m for m in model.calls[1] if m["role"] == "tool"][-1]
    assert "call finish alone" in refused["content"]


def test_a_claim_that_contradicts_a_rejected_write_is_unmet(store):
    model = ScriptedModel([WRITE_A, "I wrote a.txt."])
    run = new_run(store, "write a.txt", model="scripted")
    driver = Driver(store, run, model).start()
    control_reject(store, driver)
    outcome = driver.join()
    assert outcome.status == "unmet" and "write_file" in outcome.reason
    final = events_of(store, run.id, "final_answer")[0].payload
    assert final["claimed_goal_met"] is True and final["goal_met"] is False
    assert "rejected" in final["problems"][0]


def control_reject(store, driver) -> None:
    from agent_core.oversight.decisions import reject

    reject(store, approval_id=driver.pending().id, by="rita", note="not now")


def test_the_demo_model_reports_an_unhandled_goal_as_not_met(store):
    run = new_run(store, "Compose a sonnet about lighthouses", model="demo")
    outcome = Driver(store, run).start().join()
    assert outcome.status == "unmet"
    assert events_of(store, run.id, "final_answer")[0].payload["structured"] is True


def test_an_edited_approval_tells_the_model_what_ran_and_show_says_so(store):
    model = ScriptedModel([WRITE_A, "written"])
    run = new_run(store, "write", model="scripted")
    driver = Driver(store, run, model).start()
    edited = {"path": "b.txt", "content": "edited"}
    approve(store, approval_id=driver.pending().id, by="carol", edited_arguments=edited)
    assert driver.join().status == "succeeded"
    told = [m for m in model.calls[1] if m["role"] == "tool"][-1]["content"]
    assert "a person edited the arguments before approving (carol)" in told
    assert '"path": "b.txt"' in told
    result = events_of(store, run.id, "tool_result")[0].payload
    assert result["edited_by"] == "carol" and result["requested_arguments"]["path"] == "a.txt"
    line = render_event("tool_result", result, 0)
    assert line is not None and "ran as edited by carol" in line and "b.txt" in line
    decided = render_event(
        "approval_decided", events_of(store, run.id, "approval_decided")[0].payload, 0
    )
    assert decided is not None and "with edited arguments" in decided


def test_the_demo_answer_names_the_file_a_person_chose(store):
    run = new_run(store, "Summarise the files in the workspace into report.md", model="demo")
    driver = Driver(store, run).start()
    pending = driver.pending()
    edited = {**pending.arguments, "path": "notes-summary.md"}
    approve(store, approval_id=pending.id, by="carol", edited_arguments=edited)
    outcome = driver.join()
    assert outcome.status == "succeeded"
    assert "notes-summary.md" in outcome.result and "A person edited" in outcome.result
    assert (Path(run.workspace) / "notes-summary.md").exists()


def test_deciding_an_interrupted_runs_approval_queues_it_to_resume(store):
    model = ScriptedModel([WRITE_A])
    run = new_run(store, "write", model="scripted")
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    driver.stop.set()
    assert driver.join().status == "interrupted"
    done = approve(store, approval_id=pending.id, by="nina")
    said = resume_for_decision(store, done, by="nina")
    assert said is not None and "queued to resume" in said
    assert storage.get_run(store, run_id=run.id).status == "queued"
    later = ScriptedModel(["written"])
    resumed = Driver(store, storage.get_run(store, run_id=run.id), later).start().join()
    assert resumed.status == "succeeded"
    assert (Path(run.workspace) / "a.txt").read_text() == "x"


def test_a_context_window_error_pauses_and_resume_sends_a_shorter_history(store):
    reads = [
        {"tool_calls": [{"name": "calculator", "arguments": {"expression": f"{i}+1"}}]}
        for i in range(6)
    ]
    overflow = ModelError("This model's maximum context length is 8192 tokens (400 Bad Request)")
    model = ScriptedModel([*reads, overflow])
    run = new_run(store, "count", model="scripted", autonomy="autonomous")
    outcome = Driver(store, run, model).start().join()
    assert outcome.status == "paused" and "context window" in outcome.reason
    assert events_of(store, run.id, "drift")[0].payload["monitor"] == "context_window"
    control.resume_run(store, run_id=run.id, by="test")
    later = ScriptedModel(["done"])
    assert Driver(store, storage.get_run(store, run_id=run.id), later).start().join().status == (
        "succeeded"
    )
    sent = later.calls[0]
    assert "left out to fit the model's context window" in sent[2]["content"]
    assert len(sent) < len(model.calls[-1])


def test_a_real_models_claim_is_checked_against_the_goal(store, fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    write = {"name": "write_file", "arguments": {"path": "report.md", "content": "TODO"}}
    verdict = '{"met": false, "reason": "the report is a placeholder"}'
    fake_openai.script([{"tool_calls": [write]}, "All done.", verdict])
    policy = Policy(monitors=MonitorSettings(final_check=True))
    run = new_run(
        store,
        "write a report into report.md",
        model="openai",
        model_name="gpt-4o-mini",
        autonomy="autonomous",
        policy=policy,
    )
    outcome = Driver(store, run).start().join()
    assert outcome.status == "unmet" and "the report is a placeholder" in outcome.reason
    check = events_of(store, run.id, "goal_check")[0].payload
    assert check["met"] is False
    offered = [t["function"]["name"] for t in fake_openai.requests[0]["tools"]]
    assert "finish" in offered


def test_goal_check_answers_that_cannot_be_read_count_as_not_met():
    assert parse_goal_check('{"met": true, "reason": "ok"}') == (True, "ok")
    assert parse_goal_check("yes")[0] is False
    assert json.loads('{"met": false}')["met"] is False


def test_a_goal_has_a_length_limit_with_a_clear_message(store):
    import pytest

    from storage.runs import MAX_GOAL_CHARS

    with pytest.raises(storage.StoreError, match="limit is 8,000"):
        new_run(store, "x" * (MAX_GOAL_CHARS + 1))


def test_bidirectional_controls_are_neutralised_when_shown():
    from agent_core.oversight.inert import markdown as inert
    from agent_core.oversight.inert import visible as cli_plain
    from agent_core.oversight.inert import visible as plain
    from dashboard.components.events import shown

    goal = "delete \u202etxt.sgol\u202c files"
    for text in (cli_plain(goal), plain(goal), shown(goal)):
        assert "\u202e" not in text and "U+202E" in text
    assert "\u202e" not in inert(goal) and "202E" in inert(goal)  # Markdown-escaped
    line = render_event("run_started", {"goal": goal}, 1)
    assert line is not None and "\u202e" not in line


def test_halting_an_interrupted_run_cancels_its_pending_approval_by_whoever_halted(store):
    model = ScriptedModel([WRITE_A])
    run = new_run(store, "write", model="scripted")
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    driver.stop.set()
    assert driver.join().status == "interrupted"
    control.halt(store, run_id=run.id, by="olga")
    cancelled = storage.get_approval(store, approval_id=pending.id)
    assert (cancelled.status, cancelled.decided_by) == ("cancelled", "olga")
    decided = events_of(store, run.id, "approval_decided")[-1].payload
    assert decided["decision"] == "cancelled" and decided["decided_by"] == "olga"
    assert storage.pending_approvals(store, run_id=run.id) == []
