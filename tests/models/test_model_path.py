"""The real-model path against a local server that behaves like the ones people run (llama.cpp,
Ollama, vLLM, OpenAI): strict history, cut-off replies, no tool support, dropped streams, slow
answers, and what a run makes of each."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import storage
from agent_core.models.base import ModelError
from agent_core.models.openai_model import DEFAULT_MAX_OUTPUT_TOKENS, OpenAIModel
from agent_core.models.providers import call_limits, make_model
from agent_core.models.settings import ModelLimits, Settings
from agent_core.oversight.control import resume_run
from agent_core.oversight.policy import Policy
from tests.support.fake_openai import Reply
from tests.support.run_helpers import Driver, events_of, new_run

MESSAGES = [{"role": "user", "content": "Summarise the notes."}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file.",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    }
]
BROKEN = '{"path": "notes.md", "mode": '


@pytest.fixture
def model_for(fake_openai):
    made: list[OpenAIModel] = []

    def build(**options) -> OpenAIModel:
        options = {"base_url": fake_openai.base_url, "api_key": "sk-test", **options}
        made.append(OpenAIModel("fake-model", **options))
        return made[-1]

    yield build
    for model in made:
        model.close()


def complete(model: OpenAIModel, messages=MESSAGES):
    return model.complete(messages, TOOLS, cancel=threading.Event())


def drive(store, model, goal="What do the notes in the workspace say?", **settings):
    run = new_run(store, goal, model="openai", autonomy="autonomous", **settings)
    outcome = Driver(store, run, model).start().join()
    return run, outcome


def payloads(store, run, kind):
    return [e.payload for e in events_of(store, run.id, kind)]


# --- 1. the history sent back is always valid for the server -----------------------------------


def test_the_fake_server_refuses_bad_history_like_llama_cpp(fake_openai, model_for):
    history = [
        *MESSAGES,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": BROKEN},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "Error: not JSON"},
    ]
    fake_openai.script(["never sent"])
    with pytest.raises(ModelError) as caught:
        complete(model_for(max_retries=2), history)
    assert "Failed to parse tool call arguments as JSON" in str(caught.value)
    assert "output cap" in str(caught.value)
    assert len(fake_openai.requests) == 1  # the same request fails the same way: not retried
    assert fake_openai.remaining == 1


@pytest.mark.parametrize("stream", [True, False])
def test_malformed_arguments_are_recorded_raw_and_sent_back_valid(
    store, fake_openai, model_for, stream
):
    fake_openai.script(
        [
            Reply(text="Reading.", tool_calls=[{"name": "read_file", "arguments": BROKEN}]),
            "The notes are short.",
        ]
    )
    run, outcome = drive(store, model_for(stream=stream))

    assert outcome.status == "succeeded" and outcome.result == "The notes are short."
    assert payloads(store, run, "model_call")[0]["tool_calls"][0]["arguments"] == BROKEN
    sent = fake_openai.requests[1]["messages"]
    assistant = next(m for m in sent if m["role"] == "assistant")
    assert assistant["tool_calls"][0]["function"]["arguments"] == "{}"
    tool = next(m for m in sent if m["role"] == "tool")
    assert "not valid JSON" in tool["content"] and BROKEN in tool["content"]


def test_resume_of_a_run_with_bad_arguments_no_longer_fails(store, fake_openai, model_for):
    fake_openai.script(
        [Reply(tool_calls=[{"name": "read_file", "arguments": BROKEN}]), Reply(status=401)]
    )
    run, outcome = drive(store, model_for())
    assert outcome.status == "failed"

    resume_run(store, run_id=run.id, by="test")
    fake_openai.script(["Done after resuming."])
    again = Driver(store, run, model_for()).start().join()
    assert again.status == "succeeded"
    history = fake_openai.requests[-1]["messages"]
    calls = [c for m in history if m["role"] == "assistant" for c in m.get("tool_calls", [])]
    assert [c["function"]["arguments"] for c in calls] == ["{}"]


# --- 2. finish_reason ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("reason", ["length", "content_filter", "stop"])
def test_finish_reason_is_reported(fake_openai, model_for, stream, reason):
    fake_openai.script([Reply(text="Once upon a", finish_reason=reason)])
    assert complete(model_for(stream=stream)).finish_reason == reason


def test_a_cut_off_answer_is_not_final_the_model_is_asked_once_to_finish(
    store, fake_openai, model_for
):
    fake_openai.script(
        [Reply(text="The notes say that the first", finish_reason="length"), "The notes: 3 items."]
    )
    run, outcome = drive(store, model_for())

    assert outcome.status == "succeeded" and outcome.result == "The notes: 3 items."
    last = fake_openai.requests[1]["messages"][-1]
    assert last["role"] == "user" and "cut off" in last["content"]
    assert payloads(store, run, "model_call")[0]["finish_reason"] == "length"


def test_answers_cut_off_twice_pause_naming_how_to_raise_the_cap(store, fake_openai, model_for):
    fake_openai.script([Reply(text="Long", finish_reason="length")] * 2)
    run, outcome = drive(store, model_for(max_output_tokens=64))

    assert outcome.status == "paused"
    assert "cut off by the output cap of 64 tokens twice" in outcome.reason
    assert "--max-output-tokens" in outcome.reason and "ONLOOP_MAX_OUTPUT_TOKENS" in outcome.reason
    assert payloads(store, run, "final_answer") == []
    # Resumed (say with a bigger cap), the rebuilt history ends with the request to finish.
    resume_run(store, run_id=run.id, by="test")
    fake_openai.script(["Short and complete."])
    assert Driver(store, run, model_for()).start().join().status == "succeeded"
    assert fake_openai.requests[-1]["messages"][-1]["content"].startswith("Your last reply")


def test_a_call_cut_off_by_the_cap_is_not_run(store, fake_openai, model_for):
    # The cut happened to leave valid JSON: it still is not run.
    fake_openai.script(
        [
            Reply(
                tool_calls=[{"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}],
                finish_reason="length",
            ),
            "I will stop here.",
        ]
    )
    run, outcome = drive(store, model_for())

    assert outcome.status == "succeeded"
    (call,) = payloads(store, run, "tool_call")
    assert call["verdict"] == "invalid" and "cut off" in call["reason"]
    (result,) = payloads(store, run, "tool_result")
    assert result["outcome"] == "invalid" and not result["ok"]
    assert not (Path(run.workspace) / "a.txt").exists()
    assert storage.get_run(store, run_id=run.id).tool_calls == 0
    tool = fake_openai.requests[1]["messages"][-1]
    assert tool["role"] == "tool" and "cut off" in tool["content"]


def test_content_filter_pauses_and_says_so(store, fake_openai, model_for):
    fake_openai.script([Reply(text="", finish_reason="content_filter")])
    run, outcome = drive(store, model_for())
    assert outcome.status == "paused"
    assert "content filter" in outcome.reason
    assert payloads(store, run, "final_answer") == []


# --- 3. output cap, timeouts, retries, error messages --------------------------------------------


def test_the_output_cap_is_sent_and_configurable(fake_openai, model_for):
    fake_openai.script(["a", "b", "c"])
    complete(model_for())
    complete(model_for(max_output_tokens=256))
    complete(model_for(max_output_tokens=0))
    caps = [r.get("max_tokens") for r in fake_openai.requests]
    assert caps == [DEFAULT_MAX_OUTPUT_TOKENS, 256, None]


def test_a_server_refusing_max_tokens_gets_max_completion_tokens(fake_openai, model_for):
    fake_openai.unsupported_params = {"max_tokens"}
    fake_openai.script(["first", "second"])
    model = model_for(max_output_tokens=300)
    assert complete(model).text == "first"
    assert complete(model).text == "second"
    sent = [(r.get("max_tokens"), r.get("max_completion_tokens")) for r in fake_openai.requests]
    assert sent == [(300, None), (None, 300), (None, 300)]  # the switch is remembered


@pytest.mark.parametrize(
    ("status", "message"),
    [(500, "tools param requires --jinja flag"), (400, "llama3:8b does not support tools")],
)
def test_a_server_without_tool_support_is_not_retried_and_says_how_to_fix(
    fake_openai, model_for, status, message
):
    fake_openai.refuse_tools = (status, message)
    with pytest.raises(ModelError) as caught:
        complete(model_for(max_retries=3))
    text = str(caught.value)
    assert "cannot call tools" in text and message in text
    assert "--jinja" in text and "not retried" in text and "try again later" not in text
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("cut", [1, 3])
def test_a_stream_closed_mid_reply_says_so(fake_openai, model_for, cut):
    fake_openai.script([Reply(text="word " * 30, disconnect_after=cut)])
    with pytest.raises(ModelError) as caught:
        complete(model_for())
    text = str(caught.value)
    assert "closed the stream in the middle of a reply" in text
    assert "OPENAI_BASE_URL" not in text


def test_a_stream_that_ends_without_a_finish_reason_is_incomplete(fake_openai, model_for):
    fake_openai.script([Reply(text="half an answ", finish_reason="")])
    with pytest.raises(ModelError, match="ended the stream before the reply was complete"):
        complete(model_for())


@pytest.mark.parametrize("stream", [True, False])
def test_a_slow_server_within_the_timeout_answers(fake_openai, model_for, stream):
    fake_openai.script([Reply(text="slow but fine", delay_s=0.4)])
    assert complete(model_for(timeout_s=10, stream=stream)).text == "slow but fine"


def test_a_server_slower_than_the_timeout_names_the_setting(fake_openai, model_for):
    fake_openai.script([Reply(text="too late", delay_s=10)] * 2)
    with pytest.raises(ModelError) as caught:
        complete(model_for(timeout_s=0.3, max_retries=1))
    text = str(caught.value)
    assert "timed out after 0.3s (2 attempts)" in text
    assert "--request-timeout" in text and "ONLOOP_REQUEST_TIMEOUT" in text
    assert "request_timeout_s" in text


def test_a_stream_that_stalls_mid_reply_names_the_setting(fake_openai, model_for):
    fake_openai.script([Reply(text="word " * 10, chunk_delay_s=10)])
    with pytest.raises(ModelError) as caught:
        complete(model_for(timeout_s=0.3, max_retries=0))
    text = str(caught.value)
    assert "sent nothing for 0.3s in the middle of a reply" in text
    assert "--request-timeout" in text


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_the_retries_setting_is_honoured(fake_openai, model_for, retries):
    fake_openai.script([Reply(status=503, error_message="loading model")] * (retries + 1))
    with pytest.raises(ModelError, match=f"after {retries + 1} attempt"):
        complete(model_for(max_retries=retries))
    assert len(fake_openai.requests) == retries + 1
    assert fake_openai.remaining == 0


def test_limits_come_from_flag_or_environment_then_policy_then_defaults(fake_openai, monkeypatch):
    policy = ModelLimits(request_timeout_s=30, max_retries=1, max_output_tokens=1024)
    assert call_limits(Settings(), None) == {}
    assert call_limits(Settings(), policy) == {
        "timeout_s": 30,
        "max_retries": 1,
        "max_output_tokens": 1024,
    }
    monkeypatch.setenv("ONLOOP_REQUEST_TIMEOUT", "300")
    monkeypatch.setenv("ONLOOP_MAX_OUTPUT_TOKENS", "0")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    from_env = Settings()
    assert call_limits(from_env, policy) == {
        "timeout_s": 300,
        "max_retries": 1,
        "max_output_tokens": 0,
    }
    flagged = from_env.with_limits(request_timeout_s=5, max_retries=4)
    assert call_limits(flagged, policy)["timeout_s"] == 5
    model = make_model("openai", "fake-model", flagged, policy)
    assert isinstance(model, OpenAIModel)
    assert (model.timeout_s, model.max_retries, model.max_output_tokens) == (5, 4, None)
    model.close()


def test_the_time_budget_ends_a_slow_call(store, fake_openai, model_for):
    fake_openai.script([Reply(text="far too late", delay_s=30)])
    run, outcome = drive(store, model_for(timeout_s=60), max_seconds=1)

    assert outcome.status == "paused"
    assert outcome.reason.startswith("budget_time")
    (drift,) = payloads(store, run, "drift")
    assert drift["monitor"] == "budget_time" and drift["action"] == "pause"
    assert payloads(store, run, "model_call") == []


# --- 4. invalid calls are fully recorded ----------------------------------------------------------


def test_invalid_calls_get_a_tool_call_event_and_count(store, fake_openai, model_for):
    fake_openai.script(
        [
            Reply(
                tool_calls=[
                    {"name": "read_file", "arguments": BROKEN},
                    {"name": "teleport", "arguments": {"to": "mars"}},
                ]
            ),
            "Giving up.",
        ]
    )
    run, _ = drive(store, model_for())

    kinds = [e.kind for e in storage.events_after(store, run_id=run.id)]
    first_call, first_result = kinds.index("tool_call"), kinds.index("tool_result")
    assert first_call < first_result
    calls = payloads(store, run, "tool_call")
    assert [(c["tool"], c["arguments"], c["verdict"]) for c in calls] == [
        ("read_file", BROKEN, "invalid"),
        ("teleport", json.dumps({"to": "mars"}), "invalid"),
    ]
    assert "not valid JSON" in calls[0]["reason"] and "unknown tool" in calls[1]["reason"]


def test_invalid_calls_are_counted_in_tool_call_counts(store, fake_openai, model_for):
    from sqlalchemy import text

    fake_openai.script([Reply(tool_calls=[{"name": "teleport", "arguments": "{}"}]), "ok"])
    drive(store, model_for())
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT tool, verdict, calls FROM tool_call_counts")).all()
    assert [tuple(r) for r in rows] == [("teleport", "invalid", 1)]


def test_policy_file_model_table_is_validated():
    assert (
        Policy.model_validate({"model": {"max_output_tokens": 2048}}).model.max_output_tokens
        == 2048
    )
    with pytest.raises(ValueError, match="request_timeout_s"):
        Policy.model_validate({"model": {"request_timeout_s": 0}})
    with pytest.raises(ValueError, match="timeout"):
        Policy.model_validate({"model": {"timeout": 5}})


# --- the command line: the model actually used, the limits given, judge and invalid calls -----


def test_run_header_names_the_model_used_and_flags_reach_the_request(tmp_path, fake_openai):
    from tests.cli.test_commands import onloop

    fake_openai.script(["All done.", '{"met": true, "reason": "it said hello"}'])
    done = onloop(
        "run",
        "Say hello",
        "--model-name",
        "gemma-3-270m",
        "--max-output-tokens",
        "77",
        "--request-timeout",
        "30",
        "--max-retries",
        "0",
        cwd=tmp_path,
        env={"OPENAI_BASE_URL": fake_openai.base_url},
    )
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0]
    assert f"openai model gemma-3-270m at {fake_openai.base_url}" in header
    assert "(30 s request timeout, 0 retries, 77-token output cap)" in header
    body, check = fake_openai.requests  # the run's one call, then the final goal check
    assert not check.get("tools")  # the check offers no tools
    assert body["model"] == "gemma-3-270m" and body["max_tokens"] == 77


def test_bad_limit_flags_get_one_line_naming_the_fix(tmp_path):
    from tests.cli.test_commands import onloop

    done = onloop("run", "Say hello", "--request-timeout", "0", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --request-timeout must be above 0 seconds"
    done = onloop("worker", "--max-output-tokens", "-5", cwd=tmp_path)
    assert "--max-output-tokens must be 0 (no cap) or more" in done.stderr


def test_judge_invalid_calls_and_cut_off_steps_are_shown():
    from agent_core.cli.render import render_event

    judge = {"score": 0.2, "reason": "going in circles", "threshold": 0.3}
    assert render_event("judge", judge, 7) == (
        "  ⚖ progress judge: 0.20 (pauses below 0.3): going in circles"
    )
    invalid = {"tool": "read_file", "arguments": BROKEN, "risk": "low", "verdict": "invalid"}
    assert render_event("tool_call", invalid, 8) == (
        f"  → read_file({BROKEN}) [low risk] — invalid, not run"
    )
    step = {"step": 2, "text": "The", "tokens_in": 5, "tokens_out": 64, "finish_reason": "length"}
    assert render_event("model_call", step, 9).endswith("— cut off by the output cap")


def test_the_policy_file_model_table_reaches_the_worker_model(store, fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    fake_openai.script(["ok"])
    policy = Policy.model_validate({"model": {"max_output_tokens": 123, "max_retries": 0}})
    run = new_run(store, "Say ok", model="openai", model_name="fake-model", policy=policy)
    assert Driver(store, run).start().join().status == "succeeded"
    assert fake_openai.requests[0]["max_tokens"] == 123


def test_calls_of_a_cut_off_reply_are_not_run_on_resume_either(store):
    from agent_core.models.scripted import ScriptedModel

    run = new_run(store, "write", model="scripted", autonomy="autonomous")
    call = {"id": "c1", "name": "write_file", "arguments": '{"path": "a.txt", "content": "x"}'}
    storage.append_event(store, run_id=run.id, kind="run_started", payload={"goal": "write"})
    storage.append_event(
        store,
        run_id=run.id,
        kind="model_call",
        payload={"step": 1, "text": "", "tool_calls": [call], "finish_reason": "length"},
    )
    storage.update_run(store, run_id=run.id, status="interrupted", reason="worker lost")
    resume_run(store, run_id=run.id, by="test")
    model = ScriptedModel(["stopped"])
    assert Driver(store, storage.get_run(store, run_id=run.id), model).start().join().status == (
        "succeeded"
    )
    (result,) = payloads(store, run, "tool_result")
    assert result["outcome"] == "invalid" and "cut off" in result["output"]
    assert not (Path(run.workspace) / "a.txt").exists()


def test_policy_show_names_the_model_call_limits(tmp_path):
    from tests.cli.test_commands import onloop

    policy = tmp_path / "limits.toml"
    policy.write_text("[model]\nrequest_timeout_s = 45\nmax_output_tokens = 1000\n")
    done = onloop("policy", "show", "--policy", str(policy), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "model calls: 45 s request timeout, 2 retries, 1000-token output cap" in done.stdout
    done = onloop(
        "policy", "show", cwd=tmp_path, env={"ONLOOP_MAX_RETRIES": "5", "ONLOOP_POLICY": ""}
    )
    assert "model calls: 120 s request timeout, 5 retries, 4096-token output cap" in done.stdout
    bad = onloop("policy", "show", cwd=tmp_path, env={"ONLOOP_REQUEST_TIMEOUT": "soon"})
    assert bad.returncode == 2 and "ONLOOP_REQUEST_TIMEOUT" in bad.stderr


def test_a_cut_off_reply_with_many_calls_is_one_cut_off_not_a_repeated_error(
    store, fake_openai, model_for
):
    # Found against llama.cpp with Gemma 3 270M: one cut-off reply of 4 calls gave 4 identical
    # "not run" errors, and the repeated-error monitor paused the run before the model could
    # answer again.
    calls = [{"name": "calculator", "arguments": {"expression": f"{n} + 1"}} for n in range(4)]
    fake_openai.script([Reply(tool_calls=calls, finish_reason="length"), "Four sums; done."])
    run, outcome = drive(store, model_for())

    assert outcome.status == "succeeded", outcome.reason
    assert [p["outcome"] for p in payloads(store, run, "tool_result")] == ["invalid"] * 4
    assert payloads(store, run, "drift") == []
