"""The openai provider, driven by the real SDK against a local Chat Completions server."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from agent_core.models.base import ModelCancelled, ModelError, ToolCallRequest
from agent_core.models.openai_model import OpenAIModel
from agent_core.models.prices import DEFAULT_PRICES, cost_usd, load_prices, price_for
from tests.support.fake_openai import Reply

KEY = "sk-test-abcdef0123456789SECRET"
MESSAGES = [
    {"role": "system", "content": "You are a careful agent."},
    {"role": "user", "content": "List the files."},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "list_files",
            "description": "List files.",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    }
]


@pytest.fixture(autouse=True, params=["aiohttp", "httpx"])
def transport(request, monkeypatch):
    """Every test on both of the SDK's transports: aiohttp by default, httpx under a proxy."""
    monkeypatch.setenv("ONLOOP_MODEL_HTTP", request.param)
    return request.param


@pytest.fixture
def model_for(fake_openai):
    """Builds an OpenAIModel pointed at the fake server; closes them after the test."""
    made: list[OpenAIModel] = []

    def build(**options) -> OpenAIModel:
        options = {"api_key": KEY, "base_url": fake_openai.base_url, **options}
        made.append(OpenAIModel(options.pop("model_name", "gpt-4o-mini"), **options))
        return made[-1]

    yield build
    for model in made:
        model.close()


def complete(model: OpenAIModel, tools=TOOLS, cancel: threading.Event | None = None):
    return model.complete(MESSAGES, tools, cancel=cancel or threading.Event())


@pytest.mark.parametrize("stream", [True, False])
def test_text_answer(fake_openai, model_for, stream):
    fake_openai.script(["The workspace holds three files: a.txt, b.txt and notes.md."])
    turn = complete(model_for(stream=stream))

    assert turn.text == "The workspace holds three files: a.txt, b.txt and notes.md."
    assert turn.tool_calls == ()
    assert turn.model_name == "gpt-4o-mini"
    assert turn.latency_s > 0
    body = fake_openai.requests[0]
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == MESSAGES
    assert body["tools"] == TOOLS
    assert body.get("stream", False) is stream
    if stream:
        assert body["stream_options"] == {"include_usage": True}


def test_tools_are_omitted_when_empty(fake_openai, model_for):
    fake_openai.script(["done"])
    complete(model_for(), tools=[])
    assert "tools" not in fake_openai.requests[0]


@pytest.mark.parametrize("stream", [True, False])
def test_tool_call_assembled_from_deltas(fake_openai, model_for, stream):
    arguments = {"path": "reports/2024", "pattern": "*.md"}
    fake_openai.script(
        [
            Reply(
                text="Let me look.",
                tool_calls=[{"name": "list_files", "arguments": arguments, "id": "call_abc"}],
            )
        ]
    )
    turn = complete(model_for(stream=stream))

    assert turn.text == "Let me look."
    assert turn.tool_calls == (
        ToolCallRequest(id="call_abc", name="list_files", arguments=json.dumps(arguments)),
    )


@pytest.mark.parametrize("interleave", [False, True])
def test_parallel_tool_calls_keep_their_own_arguments(fake_openai, model_for, interleave):
    calls = [
        {"name": "read_file", "arguments": {"path": "a.txt"}, "id": "call_1"},
        {"name": "read_file", "arguments": {"path": "b/longer-name.txt"}, "id": "call_2"},
        {"name": "current_time", "arguments": {"timezone": "Europe/Paris"}, "id": "call_3"},
    ]
    fake_openai.script([Reply(tool_calls=calls, interleave=interleave)])
    turn = complete(model_for())

    assert turn.text == ""
    assert [(c.id, c.name, json.loads(c.arguments)) for c in turn.tool_calls] == [
        ("call_1", "read_file", {"path": "a.txt"}),
        ("call_2", "read_file", {"path": "b/longer-name.txt"}),
        ("call_3", "current_time", {"timezone": "Europe/Paris"}),
    ]


@pytest.mark.parametrize("stream", [True, False])
def test_missing_tool_call_ids_are_synthesised(fake_openai, model_for, stream):
    calls = [{"name": "list_files", "arguments": {}, "id": None}] * 2
    fake_openai.script([Reply(tool_calls=calls)])
    turn = complete(model_for(stream=stream))
    assert [c.id for c in turn.tool_calls] == ["call_0", "call_1"]
    assert [c.arguments for c in turn.tool_calls] == ["{}", "{}"]


@pytest.mark.parametrize("stream", [True, False])
def test_malformed_arguments_are_passed_through(fake_openai, model_for, stream):
    broken = '{"path": "notes.md", "mode": '
    fake_openai.script([Reply(tool_calls=[{"name": "read_file", "arguments": broken}])])
    turn = complete(model_for(stream=stream))
    assert turn.tool_calls[0].name == "read_file"
    assert turn.tool_calls[0].arguments == broken


@pytest.mark.parametrize("stream", [True, False])
def test_usage_and_cost_are_recorded(fake_openai, model_for, stream):
    fake_openai.script([Reply(text="ok", usage=(1_000_000, 500_000))])
    turn = complete(model_for(model_name="gpt-4o-mini-2024-07-18", stream=stream))
    assert (turn.tokens_in, turn.tokens_out) == (1_000_000, 500_000)
    assert turn.cost_usd == pytest.approx(0.15 + 0.30)


def test_price_override_and_unknown_model(fake_openai, model_for):
    fake_openai.script([Reply(usage=(2_000, 1_000)), Reply(usage=(2_000, 1_000))])
    custom = model_for(model_name="llama3.1:8b", prices={"llama3.1": {"input": 1, "output": 2}})
    assert complete(custom).cost_usd == pytest.approx((2_000 * 1 + 1_000 * 2) / 1e6)
    assert complete(model_for(model_name="llama3.1:8b")).cost_usd == 0.0


@pytest.mark.parametrize("stream", [True, False])
def test_no_usage_from_the_server_records_zero(fake_openai, model_for, stream):
    fake_openai.script([Reply(text="ok", usage=None)])
    turn = complete(model_for(stream=stream))
    assert (turn.tokens_in, turn.tokens_out, turn.cost_usd) == (0, 0, 0.0)


def test_rate_limit_is_retried_then_succeeds(fake_openai, model_for):
    fake_openai.script([Reply(status=429), Reply(status=429), "finally"])
    turn = complete(model_for(max_retries=2))
    assert turn.text == "finally"
    assert len(fake_openai.requests) == 3


def test_persistent_rate_limit_names_the_attempts(fake_openai, model_for):
    fake_openai.script([Reply(status=429)] * 3)
    with pytest.raises(ModelError, match=r"returned 429 \(rate limited\) after 3 attempts"):
        complete(model_for(max_retries=2))
    assert fake_openai.remaining == 0


def test_persistent_server_error_becomes_model_error(fake_openai, model_for):
    fake_openai.script([Reply(status=500, error_message="the GPU caught fire")] * 2)
    with pytest.raises(ModelError) as caught:
        complete(model_for(max_retries=1))
    assert "returned 500 (server error) after 2 attempts: the GPU caught fire" in str(caught.value)
    assert fake_openai.remaining == 0


def test_refused_key_is_named_but_never_shown(fake_openai, model_for):
    # Real servers echo the key back in their 401 text; the message must not repeat it.
    fake_openai.script([Reply(status=401, error_message=f"Incorrect API key provided: {KEY}")])
    with pytest.raises(ModelError) as caught:
        complete(model_for())
    assert str(caught.value) == "the API key was refused (401); check OPENAI_API_KEY"
    assert fake_openai.headers[0]["authorization"] == f"Bearer {KEY}"


def test_no_error_message_carries_the_key(fake_openai, model_for):
    fake_openai.script([Reply(status=400, error_message=f"bad request for key {KEY}")])
    with pytest.raises(ModelError) as caught:
        complete(model_for())
    assert "rejected the request (400)" in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_connection_refused_names_the_setting(free_port):
    model = OpenAIModel(
        "gpt-4o-mini", api_key=KEY, base_url=f"http://127.0.0.1:{free_port}/v1", max_retries=0
    )
    with pytest.raises(ModelError) as caught:
        complete(model)
    message = str(caught.value)
    assert f"cannot reach the model server at http://127.0.0.1:{free_port}/v1" in message
    assert "connection refused" in message
    assert "OPENAI_BASE_URL" in message
    assert KEY not in message


def test_timeout_becomes_model_error(fake_openai, model_for):
    fake_openai.script([Reply(text="too late", delay_s=10)])
    with pytest.raises(ModelError, match=r"timed out after 0\.3s \(1 attempt\)"):
        complete(model_for(timeout_s=0.3, max_retries=0))


@pytest.mark.parametrize("stream", [True, False])
def test_cancel_abandons_a_slow_response(fake_openai, model_for, stream):
    fake_openai.script([Reply(text="too late", delay_s=10)])
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(ModelCancelled):
        complete(model_for(stream=stream), cancel=cancel)
    # A behaviour check with a wide margin, not a benchmark: it did not wait for the server.
    assert time.monotonic() - started < 5


def test_cancel_stops_a_slow_stream_midway(fake_openai, model_for):
    fake_openai.script([Reply(text="word " * 40, chunk_delay_s=1)])
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(ModelCancelled):
        complete(model_for(), cancel=cancel)
    assert time.monotonic() - started < 5


def test_already_cancelled_sends_nothing(fake_openai, model_for):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ModelCancelled):
        complete(model_for(), cancel=cancel)
    assert fake_openai.requests == []


def test_local_server_needs_no_key(fake_openai, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    fake_openai.script(["hello from a local model"])
    model = OpenAIModel("llama3.1", base_url=fake_openai.base_url)
    assert complete(model).text == "hello from a local model"
    assert fake_openai.headers[0]["authorization"] == "Bearer not-needed"


def test_no_key_and_no_server_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelError, match="set OPENAI_API_KEY"):
        OpenAIModel("gpt-4o-mini")


def test_fake_server_lists_models(fake_openai):
    import openai

    client = openai.OpenAI(api_key=KEY, base_url=fake_openai.base_url, max_retries=0)
    assert "fake-model" in [m.id for m in client.models.list()]
    client.close()


def test_network_guard_blocks_non_loopback(network_guard):
    with pytest.raises(network_guard.Blocked):
        socket.create_connection(("203.0.113.7", 443), timeout=1)
    with pytest.raises(network_guard.Blocked):
        socket.socket().connect(("198.51.100.1", 80))
    assert network_guard.blocked == [("203.0.113.7", 443), ("198.51.100.1", 80)]
    network_guard.blocked.clear()  # expected attempts: do not fail this test at teardown


def test_network_guard_blocks_the_sdk_too(network_guard):
    model = OpenAIModel(
        "gpt-4o-mini", api_key=KEY, base_url="https://api.example.com/v1", max_retries=0
    )
    # The async client resolves the name on the I/O loop's executor: the guard refuses that,
    # and the SDK reports it as a connection error (ModelError); nothing left the machine.
    with pytest.raises((network_guard.Blocked, ModelError)):
        complete(model)
    assert network_guard.blocked == [("api.example.com", 443)]
    network_guard.blocked.clear()


@pytest.fixture
def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the price table -------------------------------------------------------------------------


def test_price_prefixes_match_the_longest_known_model():
    assert price_for("gpt-4o-mini-2024-07-18") == DEFAULT_PRICES["gpt-4o-mini"]
    assert price_for("gpt-4o-2024-08-06") == DEFAULT_PRICES["gpt-4o"]
    assert price_for("openai/gpt-4.1-mini") == DEFAULT_PRICES["gpt-4.1-mini"]
    assert price_for("o4-mini") == DEFAULT_PRICES["o4-mini"]
    assert price_for("gpt-4omega") is None
    assert cost_usd("gpt-4.1", 1_000_000, 1_000_000) == pytest.approx(2.0 + 8.0)
    assert cost_usd("my-local-model", 10_000, 10_000) == 0.0


def test_prices_load_from_json_text_and_files(tmp_path):
    assert load_prices(None) == DEFAULT_PRICES
    merged = load_prices('{"gpt-4o": {"input": 1, "output": 2}, "mine": {"input": 0, "output": 0}}')
    assert merged["gpt-4o"] == {"input": 1.0, "output": 2.0}
    assert merged["mine"] == {"input": 0.0, "output": 0.0}
    assert merged["gpt-4o-mini"] == DEFAULT_PRICES["gpt-4o-mini"]
    toml_file = tmp_path / "prices.toml"
    toml_file.write_text('["qwen2.5"]\ninput = 0.5\noutput = 1.5\n')
    assert load_prices(str(toml_file))["qwen2.5"] == {"input": 0.5, "output": 1.5}
    json_file = tmp_path / "prices.json"
    json_file.write_text('{"qwen2.5": {"input": 3, "output": 4}}')
    assert load_prices(str(json_file))["qwen2.5"] == {"input": 3.0, "output": 4.0}


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ('{"gpt-4o": {"input": 1', "not valid JSON"),
        ("/no/such/prices.toml", "names no readable file"),
        ('{"gpt-4o": {"input": 1}}', "exactly the keys 'input' and 'output'"),
        ('{"gpt-4o": {"input": -1, "output": 2}}', "must be a number >= 0"),
        ('{"gpt-4o": {"input": "cheap", "output": 2}}', "must be a number >= 0"),
    ],
)
def test_bad_price_overrides_say_how_to_fix_them(override, says):
    with pytest.raises(ValueError, match=says):
        load_prices(override)
