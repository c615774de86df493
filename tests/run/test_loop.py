"""The loop end to end against a real store: each model, tool errors, denials, budgets, drift."""

from __future__ import annotations

import storage
from agent_core.models.base import ModelError
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.policy import MonitorSettings, Policy, Rule
from tests.support.run_helpers import Driver, events_of, kinds, new_run


def test_demo_arithmetic_succeeds_with_the_calculator(store):
    run = new_run(store, "What is 17.5% of 2,340, plus 118?", model="demo")
    outcome = Driver(store, run).start().join()
    assert outcome.status == "succeeded"
    assert "527.5" in outcome.result
    done = storage.get_run(store, run_id=run.id)
    assert done.status == "succeeded" and done.finished_at is not None and done.steps == 2
    assert done.result == outcome.result
    order = kinds(store, run.id)
    assert order[:3] == ["status", "run_started", "status"]
    assert order.index("tool_call") < order.index("tool_result") < order.index("final_answer")
    assert events_of(store, run.id, "tool_call")[0].payload["verdict"] == "allow"


def test_scripted_model_sees_tool_results_and_usage_is_recorded(store):
    model = ScriptedModel(
        [
            {
                "text": "adding",
                "tool_calls": [{"name": "calculator", "arguments": {"expression": "2+3"}}],
                "tokens_in": 10,
                "tokens_out": 4,
                "cost_usd": 0.001,
            },
            {"text": "It is 5.", "tokens_in": 20, "tokens_out": 3, "cost_usd": 0.002},
        ]
    )
    run = new_run(store, "add 2 and 3", model="scripted")
    assert Driver(store, run, model).start().join().status == "succeeded"
    second_call = model.calls[1]
    assert second_call[-1]["role"] == "tool" and second_call[-1]["content"] == "5"
    done = storage.get_run(store, run_id=run.id)
    assert (done.tokens_in, done.tokens_out, done.tool_calls) == (30, 7, 1)
    assert abs(done.cost_usd - 0.003) < 1e-9


def test_invalid_json_and_unknown_tools_go_back_to_the_model(store):
    model = ScriptedModel(
        [
            {
                "tool_calls": [
                    {"name": "calculator", "arguments": "{not json"},
                    {"name": "teleport", "arguments": {}},
                    {"name": "calculator", "arguments": {"expr": "1"}},
                ]
            },
            "I corrected myself.",
        ]
    )
    run = new_run(store, "try things", model="scripted")
    assert Driver(store, run, model).start().join().status == "succeeded"
    results = [e.payload for e in events_of(store, run.id, "tool_result")]
    assert [r["outcome"] for r in results] == ["invalid", "invalid", "invalid"]
    assert "not valid JSON" in results[0]["output"]
    assert (
        "unknown tool 'teleport'" in results[1]["output"] and "calculator" in results[1]["output"]
    )
    assert "expression" in results[2]["output"]
    tool_messages = [m for m in model.calls[1] if m["role"] == "tool"]
    assert len(tool_messages) == 3 and all(m["content"].startswith("Error") for m in tool_messages)


def test_tool_errors_are_reported_so_the_model_can_correct_itself(store):
    model = ScriptedModel(
        [
            {"tool_calls": [{"name": "read_file", "arguments": {"path": "missing.txt"}}]},
            {"tool_calls": [{"name": "list_files", "arguments": {}}]},
            "There is no missing.txt: the workspace is empty.",
        ]
    )
    run = new_run(store, "read a file", model="scripted")
    assert Driver(store, run, model).start().join().status == "succeeded"
    result = events_of(store, run.id, "tool_result")[0].payload
    assert result["ok"] is False and result["outcome"] == "error"
    assert model.calls[1][-1]["content"].startswith("Error: ")


def test_deny_rule_refuses_without_a_human_and_tells_the_model(store):
    policy = Policy(
        rules=[
            Rule(
                tool="calculator",
                args={"expression": "*666*"},
                action="deny",
                reason="no devil maths",
                name="no-666",
            )
        ]
    )
    model = ScriptedModel(
        [
            {"tool_calls": [{"name": "calculator", "arguments": {"expression": "666*2"}}]},
            "Understood.",
        ]
    )
    run = new_run(store, "compute", model="scripted", policy=policy, autonomy="autonomous")
    assert Driver(store, run, model).start().join().status == "succeeded"
    call = events_of(store, run.id, "tool_call")[0].payload
    assert (call["verdict"], call["rule"]) == ("deny", "no-666")
    assert model.calls[1][-1]["content"] == "Denied by policy (no-666): no devil maths"
    assert storage.pending_approvals(store) == []


def test_model_error_fails_the_run_with_the_reason(store):
    model = ScriptedModel([ModelError("the model server returned 500 after 3 attempts")])
    run = new_run(store, "anything", model="scripted")
    outcome = Driver(store, run, model).start().join()
    assert outcome.status == "failed" and "500" in outcome.reason
    assert events_of(store, run.id, "error")[0].payload["where"] == "model"


def _calc_forever(n: int) -> ScriptedModel:
    return ScriptedModel(
        [
            {
                "text": f"step {i}",
                "tool_calls": [{"name": "calculator", "arguments": {"expression": f"{i}+1"}}],
                "tokens_in": 100,
                "tokens_out": 50,
            }
            for i in range(n)
        ]
    )


def test_step_budget_pauses_the_run_by_default(store):
    run = new_run(store, "count", model="scripted", max_steps=3, autonomy="autonomous")
    outcome = Driver(store, run, _calc_forever(10)).start().join()
    assert outcome.status == "paused" and "budget_steps" in outcome.reason
    drift = events_of(store, run.id, "drift")[0].payload
    assert drift["monitor"] == "budget_steps" and drift["action"] == "pause"
    assert storage.get_run(store, run_id=run.id).steps == 3


def test_budget_can_fail_the_run_instead(store):
    policy = Policy(on_budget="fail")
    run = new_run(
        store, "count", model="scripted", max_steps=2, policy=policy, autonomy="autonomous"
    )
    outcome = Driver(store, run, _calc_forever(10)).start().join()
    assert outcome.status == "failed" and "used 2 of 2 steps" in outcome.reason
    assert storage.get_run(store, run_id=run.id).status == "failed"


def test_token_budget(store):
    run = new_run(store, "count", model="scripted", max_tokens=400, autonomy="autonomous")
    outcome = Driver(store, run, _calc_forever(10)).start().join()
    assert outcome.status == "paused" and "budget_tokens" in outcome.reason
    assert storage.get_run(store, run_id=run.id).steps == 3  # 150 tokens a step


def test_time_budget(store):
    run = new_run(store, "count", model="scripted", max_seconds=0.01, autonomy="autonomous")
    model = ScriptedModel(
        [
            {
                "tool_calls": [{"name": "calculator", "arguments": {"expression": "1"}}],
                "delay_s": 0.05,
            }
        ]
        * 3
    )
    outcome = Driver(store, run, model).start().join()
    assert outcome.status == "paused" and "budget_time" in outcome.reason


def test_demo_drift_goal_is_stopped_by_the_repetition_monitor(store):
    run = new_run(
        store,
        "Wait until the build passes, then report the build status",
        model="demo",
        autonomy="autonomous",
    )
    outcome = Driver(store, run).start().join()
    assert outcome.status == "paused"
    drift = events_of(store, run.id, "drift")[0].payload
    assert drift["monitor"] == "repetition" and "4 times" in drift["detail"]
    assert len(events_of(store, run.id, "tool_call")) == 4


def test_drift_monitor_can_halt_instead(store):
    policy = Policy(monitors=MonitorSettings(repeat_same_call=3, action="halt"))
    model = ScriptedModel([{"tool_calls": [{"name": "current_time", "arguments": {}}]}] * 5)
    run = new_run(store, "loop", model="scripted", policy=policy, autonomy="autonomous")
    outcome = Driver(store, run, model).start().join()
    assert outcome.status == "halted" and "repetition" in outcome.reason


def test_a_polling_tool_whose_output_does_not_change_is_caught(store):
    """Polling is exempt only while its output changes (see test_monitor_scenarios)."""
    policy = Policy(polling_tools=["calculator"])
    model = ScriptedModel(
        [{"tool_calls": [{"name": "calculator", "arguments": {"expression": "1+1"}}]}] * 6
        + ["done polling"]
    )
    run = new_run(store, "poll", model="scripted", policy=policy, autonomy="autonomous")
    outcome = Driver(store, run, model).start().join()
    assert outcome.status == "paused" and "repetition" in outcome.reason
    assert len(events_of(store, run.id, "drift")) == 1


def test_openai_model_end_to_end_against_the_fake_server(store, fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    fake_openai.script(
        [
            {
                "text": "Let me compute.",
                "tool_calls": [{"name": "calculator", "arguments": '{"expression": "6*7"}'}],
            },
            {"text": "The answer is 42."},
        ]
    )
    run = new_run(
        store, "What is 6*7?", model="openai", model_name="gpt-4o-mini", autonomy="autonomous"
    )
    outcome = Driver(store, run).start().join()
    assert outcome.status == "succeeded" and outcome.result == "The answer is 42."
    second = fake_openai.requests[1]
    assert second["messages"][-1] == {
        "role": "tool",
        "tool_call_id": second["messages"][-2]["tool_calls"][0]["id"],
        "content": "42",
    }
    assert [t["function"]["name"] for t in second["tools"]].count("calculator") == 1
    calls = events_of(store, run.id, "model_call")
    assert calls[0].payload["tokens_in"] > 0 and calls[0].payload["model_name"] == "gpt-4o-mini"
    dumped = str([e.payload for e in storage.events_after(store, run_id=run.id)])
    assert "sk-test-secret" not in dumped
