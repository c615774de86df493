"""The scripted model: replays responses in order, records what it was asked, honours cancel."""

from __future__ import annotations

import json
import threading

import pytest

from agent_core.models.base import ModelCancelled, ModelError, ModelTurn, ToolCallRequest
from agent_core.models.scripted import ScriptedModel

USER = [{"role": "user", "content": "Tidy the workspace."}]


def ask(model: ScriptedModel, messages=USER, cancel: threading.Event | None = None) -> ModelTurn:
    return model.complete(messages, [], cancel=cancel or threading.Event())


def test_replays_text_dict_and_turn_in_order():
    prepared = ModelTurn("prepared", (), 1, 2, 0.5, "other-model", 0.25)
    model = ScriptedModel(
        [
            {
                "text": "Listing first.",
                "tool_calls": [
                    {"name": "list_files", "arguments": {"path": "."}},
                    {"name": "read_file", "arguments": '{"path": "a.txt"}', "id": "call_x"},
                ],
                "tokens_in": 120,
                "tokens_out": 30,
                "cost_usd": 0.01,
            },
            "All tidy.",
            prepared,
        ],
        model_name="script-1",
    )
    assert model.provider == "scripted"

    first = ask(model)
    assert first.text == "Listing first."
    assert first.tool_calls == (
        ToolCallRequest(id="call_1_0", name="list_files", arguments=json.dumps({"path": "."})),
        ToolCallRequest(id="call_x", name="read_file", arguments='{"path": "a.txt"}'),
    )
    assert (first.tokens_in, first.tokens_out, first.cost_usd) == (120, 30, 0.01)
    assert first.model_name == "script-1"

    second = ask(model)
    assert (second.text, second.tool_calls, second.tokens_in) == ("All tidy.", (), 0)
    assert ask(model) is prepared
    assert model.remaining == 0


def test_running_out_is_a_model_error():
    model = ScriptedModel(["only answer"])
    ask(model)
    with pytest.raises(ModelError, match="scripted model has no more responses"):
        ask(model)


def test_records_a_copy_of_each_calls_messages():
    model = ScriptedModel(["one", "two"])
    conversation = list(USER)
    ask(model, conversation)
    conversation.append({"role": "assistant", "content": "one"})
    ask(model, conversation)

    assert model.calls == [USER, USER + [{"role": "assistant", "content": "one"}]]
    conversation[0]["content"] = "changed later"
    assert model.calls[0][0]["content"] == "Tidy the workspace."


def test_malformed_arguments_are_kept_verbatim():
    model = ScriptedModel([{"tool_calls": [{"name": "write_file", "arguments": '{"path": '}]}])
    assert ask(model).tool_calls[0].arguments == '{"path": '


def test_a_scripted_exception_is_raised():
    model = ScriptedModel([ModelError("the model server returned 500"), "recovered"])
    with pytest.raises(ModelError, match="returned 500"):
        ask(model)
    assert ask(model).text == "recovered"


def test_delay_is_cancellable_and_the_response_is_kept():
    model = ScriptedModel([{"text": "slow answer", "delay_s": 30}])
    cancel = threading.Event()
    threading.Timer(0.1, cancel.set).start()
    with pytest.raises(ModelCancelled):
        ask(model, cancel=cancel)
    assert model.remaining == 1  # a resumed run asks again and gets the same answer


def test_delay_passes_and_latency_is_measured():
    model = ScriptedModel([{"text": "after a pause", "delay_s": 0.05}])
    turn = ask(model)
    assert turn.text == "after a pause"
    assert turn.latency_s > 0


def test_already_cancelled_consumes_nothing():
    model = ScriptedModel(["answer"])
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ModelCancelled):
        ask(model, cancel=cancel)
    assert model.remaining == 1
    assert model.calls == []


@pytest.mark.parametrize(
    ("response", "says"),
    [
        ({"txt": "typo"}, "unknown keys"),
        ({"tool_calls": [{"arguments": {}}]}, "needs 'name'"),
        ({"tool_calls": [{"name": "x", "args": {}}]}, "needs 'name'"),
    ],
)
def test_script_mistakes_fail_at_construction(response, says):
    with pytest.raises(ValueError, match=says):
        ScriptedModel([response])


def test_a_response_of_the_wrong_type_fails_at_construction():
    with pytest.raises(TypeError):
        ScriptedModel([42])  # type: ignore[list-item]
