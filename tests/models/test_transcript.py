"""The conversation as sent: a Transcript serialises each message once, by the first call that
sends it; what a server receives is the whole conversation, every time, as plain JSON."""

from __future__ import annotations

import json
import threading

import pytest

from agent_core.models import messages as message_json
from agent_core.models.messages import Transcript, encoded_messages, request_body
from agent_core.models.openai_model import OpenAIModel


def _message(n: int) -> dict:
    return {"role": "tool", "tool_call_id": f"c{n}", "content": f'résultat {n}\n"quoted"'}


def test_each_message_is_serialised_once_however_many_calls_send_it(monkeypatch):
    dumped = []
    real = message_json.dumps
    monkeypatch.setattr(message_json, "dumps", lambda value: dumped.append(value) or real(value))
    conversation = Transcript(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "g"}]
    )
    conversation.encoded()  # the first call: the system prompt and the goal
    for n in range(2000):
        conversation.append(_message(n))
        before = len(dumped)
        body = conversation.encoded()
        assert dumped[before:] == [conversation[-1]]  # the new message only, none of the old
    assert json.loads(body) == list(conversation)
    assert len(dumped) == 2 + 2000


def test_changing_a_message_in_place_of_another_drops_the_json_from_there_on():
    conversation = Transcript([_message(n) for n in range(6)])
    conversation.encoded()
    conversation[2] = {"role": "user", "content": "replaced"}
    assert json.loads(conversation.encoded()) == list(conversation)
    conversation.insert(0, {"role": "system", "content": "first"})
    del conversation[-1]
    conversation.pop(3)
    conversation.extend([_message(7), _message(8)])
    conversation[1:3] = [_message(9)]
    assert json.loads(conversation.encoded()) == list(conversation)
    conversation.remove(_message(9))
    conversation.reverse()
    assert json.loads(conversation.encoded()) == list(conversation)
    conversation.clear()
    assert conversation.encoded() == b"[]"


def test_a_plain_list_and_the_body_around_the_messages():
    assert json.loads(encoded_messages([_message(1)])) == [_message(1)]
    body = json.loads(request_body({"model": "m", "stream": True}, b'[{"role":"user"}]'))
    assert body == {"messages": [{"role": "user"}], "model": "m", "stream": True}
    assert json.loads(request_body({}, b"[]")) == {"messages": []}


@pytest.mark.parametrize("stream", [True, False])
def test_the_server_receives_the_whole_conversation_each_call(fake_openai, stream):
    model = OpenAIModel("gpt-4o-mini", api_key="k", base_url=fake_openai.base_url, stream=stream)
    conversation = Transcript(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "g"}]
    )
    fake_openai.script(["one", "two"])
    model.complete(conversation, [], cancel=threading.Event())
    conversation += [{"role": "assistant", "content": "one"}, {"role": "user", "content": "é"}]
    model.complete(conversation, [], cancel=threading.Event())
    assert [r["messages"] for r in fake_openai.requests] == [conversation[:2], list(conversation)]
    assert fake_openai.requests[1]["model"] == "gpt-4o-mini"
    assert fake_openai.headers[1]["content-type"] == "application/json"
