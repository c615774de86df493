"""Red-team: `NaN` and `Infinity`, which Python's json reads though JSON has no such numbers.

- The progress judge's answer `{"score": NaN}` (or `"nan"`, which float() reads): the score was
  NaN, `NaN < threshold` is false, so a judge saying nothing readable never paused the run, where
  an unreadable answer scores 0 and pauses it. The judge's event held `NaN`, so `onloop show
  --json` printed text JSON parsers refuse.
- A model's arguments `{"seconds": NaN}`: a JSON-schema "number" takes NaN, so the call ran and
  its event held NaN.
"""

from __future__ import annotations

import json

import pytest

from agent_core.oversight.judge import parse_score
from agent_core.tools.errors import ToolArgumentError
from agent_core.tools.validate import parse_arguments

NOT_NUMBERS = ["NaN", "Infinity", "-Infinity", '"nan"', '"inf"', '"-inf"', "1e999"]


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_a_judges_score_is_always_a_number_json_has(value):
    score, _ = parse_score(f'{{"score": {value}, "reason": "fine"}}')
    assert 0.0 <= score <= 1.0
    json.dumps(score, allow_nan=False)  # the judge's event stays JSON


@pytest.mark.parametrize("value", ["NaN", '"nan"', '"NaN"', "-NaN"])
def test_a_judge_that_says_nan_scores_zero_and_pauses_the_run(value):
    assert parse_score(f'{{"score": {value}, "reason": "all good"}}')[0] == 0.0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_arguments_with_numbers_json_has_not_are_refused_in_words(constant):
    with pytest.raises(ToolArgumentError, match=constant):
        parse_arguments(f'{{"seconds": {constant}}}')
    assert parse_arguments('{"seconds": 1.5, "text": "NaN"}') == {"seconds": 1.5, "text": "NaN"}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "1e999"])
def test_a_call_with_a_number_json_has_not_is_refused_and_the_run_stays_json(tmp_path, constant):
    """Through the loop: the model is told which value is not JSON, as for any invalid JSON, and
    every event of the run is JSON any reader takes."""
    import storage
    from agent_core.models.scripted import ScriptedModel
    from tests.support.run_helpers import Driver, events_of, new_run

    store = storage.open_store(f"sqlite:///{tmp_path / 'onloop.db'}")
    (tmp_path / "ws").mkdir()
    run = new_run(store, "add", autonomy="autonomous", workspace=str(tmp_path / "ws"))
    raw = f'{{"expression": "1+1", "precision": {constant}}}'
    model = ScriptedModel([{"tool_calls": [{"name": "calculator", "arguments": raw}]}, "done"])
    Driver(store, run, model).start().join()
    (result,) = events_of(store, run.id, "tool_result")
    assert constant in result.payload["output"] and "not valid JSON" in result.payload["output"]
    for event in storage.events_after(store, run_id=run.id):
        json.dumps(event.payload, allow_nan=False)
    store.dispose()


def test_arguments_holding_nan_go_back_to_the_server_as_an_empty_object():
    """The history sends each call's arguments back; text that is no JSON object goes as "{}"
    (llama.cpp refuses the whole request otherwise), and `{"n": NaN}` is no JSON."""
    from agent_core.run.conversation import sendable_arguments

    assert sendable_arguments('{"n": NaN}') == "{}"
    assert sendable_arguments('{"n": 1e999}') == "{}"
    assert sendable_arguments('{"n": 1.5}') == '{"n": 1.5}'
