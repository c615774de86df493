"""Which of the SDK's HTTP transports a model's requests go on, and that both send the same."""

from __future__ import annotations

import subprocess
import threading
import urllib.request

import pytest

from agent_core.models import io_loop
from agent_core.models.base import ModelError
from agent_core.models.http_transport import ENV, http_transport
from agent_core.models.openai_model import OpenAIModel
from agent_core.tools import Workspace
from tests.support.sandbox_helpers import shell_output

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv(ENV, raising=False)


def test_aiohttp_unless_asked_otherwise():
    assert http_transport("http://127.0.0.1:8080/v1") == "aiohttp"
    assert http_transport(None) == "aiohttp"


@pytest.mark.parametrize(
    ("variable", "base_url"),
    [
        ("HTTPS_PROXY", None),  # OpenAI's API is https
        ("https_proxy", "https://llm.example.com/v1"),
        ("HTTP_PROXY", "http://10.0.0.5:11434/v1"),
        ("ALL_PROXY", "http://10.0.0.5:11434/v1"),
        ("all_proxy", None),
    ],
)
def test_a_proxy_that_applies_keeps_httpx(monkeypatch, variable, base_url):
    """The SDK's aiohttp adapter takes no proxy: a request must not skip one that was set."""
    monkeypatch.setenv(variable, "http://proxy.internal:3128")
    assert http_transport(base_url) == "httpx"


@pytest.mark.parametrize(
    ("variables", "base_url"),
    [
        ({"HTTP_PROXY": "http://proxy.internal:3128"}, "https://llm.example.com/v1"),
        (
            {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "localhost,127.0.0.1"},
            "http://127.0.0.1/v1",
        ),
        ({"HTTPS_PROXY": "http://p:3128", "no_proxy": ".internal"}, "https://llm.corp.internal/v1"),
        ({"ALL_PROXY": "http://p:3128", "NO_PROXY": "*"}, None),
    ],
)
def test_a_proxy_that_does_not_apply_leaves_aiohttp(monkeypatch, variables, base_url):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert http_transport(base_url) == "aiohttp"


def test_the_setting_picks_either(monkeypatch):
    monkeypatch.setenv(ENV, "httpx")
    assert http_transport(None) == "httpx"
    monkeypatch.setenv(ENV, " AIOHTTP ")
    assert http_transport(None) == "aiohttp"


def test_a_proxy_wins_over_asking_for_aiohttp(monkeypatch):
    monkeypatch.setenv(ENV, "aiohttp")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert http_transport("https://api.openai.com/v1") == "httpx"


@pytest.mark.parametrize("value", ["curl", "requests", "http2", "aiohttp,httpx"])
def test_an_unknown_transport_is_refused_naming_the_choices(monkeypatch, value):
    monkeypatch.setenv(ENV, value)
    with pytest.raises(
        ModelError, match=f"{ENV}=.* is not a transport; set it to aiohttp or httpx"
    ):
        OpenAIModel("gpt-4o-mini", api_key="k", base_url="http://127.0.0.1:9/v1")


def test_each_transport_has_its_own_client_and_sends_the_same_request(fake_openai, monkeypatch):
    io_loop.close_clients()
    sent = []
    for transport in ("aiohttp", "httpx"):
        monkeypatch.setenv(ENV, transport)
        fake_openai.script([f"answer over {transport}"])
        model = OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url)
        messages = [{"role": "user", "content": "Say which transport."}]
        turn = model.complete(messages, [], cancel=threading.Event())
        assert turn.text == f"answer over {transport}"
        sent.append(fake_openai.requests[-1])
    assert io_loop.client_count() == 2
    assert sent[0] == sent[1]
    io_loop.close_clients()


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
@pytest.mark.parametrize("child", ["preexec_fn", "sandboxed shell"])
def test_a_forked_child_leaves_the_parents_connection_working(
    fake_openai, monkeypatch, tmp_path, transport, child
):
    """A tool's subprocess forks this process: the child must not close the model client's
    connections (they share the parent's epoll set), or the next call's answer is never read."""
    monkeypatch.setenv(ENV, transport)
    fake_openai.script(["before the tool", "after the tool"])
    model = OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url, timeout_s=10)
    messages = [{"role": "user", "content": "Run the tool."}]
    assert model.complete(messages, [], cancel=threading.Event()).text == "before the tool"
    if child == "preexec_fn":  # fork handlers run in the child, as for every sandboxed command
        subprocess.run(["true"], preexec_fn=lambda: None, check=True)
    else:
        output = shell_output(Workspace(tmp_path), "echo ran")
        assert "ran" in output, output
    answer = model.complete(messages, [], cancel=threading.Event())
    assert answer.text == "after the tool"
    assert len(set(fake_openai.peers)) == 1  # the same keep-alive connection, still working


def test_a_hostile_setting_is_named_without_its_control_characters(monkeypatch):
    """A value pasted from somewhere hostile must not drive the operator's terminal when the
    refusal is printed."""
    monkeypatch.setenv(ENV, "aio\x1b]8;;http://evil.invalid\x07http\x1b[2J")
    with pytest.raises(ModelError) as refused:
        http_transport(None)
    message = str(refused.value)
    assert "\x1b" not in message and "\x07" not in message
    assert "set it to aiohttp or httpx" in message


def test_the_environment_is_read_once_until_it_changes(monkeypatch):
    """A worker chooses a transport for every run's model: the proxies are read from the
    environment again only when a variable was set or removed since."""
    reads = []
    real = urllib.request.getproxies_environment

    def counted():
        reads.append(1)
        return real()

    monkeypatch.setattr(urllib.request, "getproxies_environment", counted)
    monkeypatch.setenv("ONLOOP_TEST_MARK", "a")  # an environment no earlier test has seen
    base_url = "https://llm.example.com/v1"
    assert [http_transport(base_url) for _ in range(5)] == ["aiohttp"] * 5
    assert len(reads) == 1
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert http_transport(base_url) == "httpx"
    assert http_transport(base_url) == "httpx"
    assert len(reads) == 2
    monkeypatch.delenv("HTTPS_PROXY")
    assert http_transport(base_url) == "aiohttp"  # the choice of that environment, kept
