"""fetch_url against a local site: readable text, caps, and no SSRF (addresses, redirects, DNS)."""

from __future__ import annotations

import socket

import pytest

from agent_core.oversight.policy import Policy, Rule, decide
from agent_core.oversight.web_gate import url_gate
from agent_core.tools import ToolContext, ToolError
from agent_core.tools.web import fetch_url
from tests.support.local_site import local_site

LOCAL_ALLOWED = Policy(rules=[Rule(tool="fetch_url", domains=["127.0.0.1"], action="allow")])


def fetch(url: str, policy: Policy = LOCAL_ALLOWED, **args) -> str:
    return fetch_url.fn(url=url, tool_context=ToolContext(url_gate=url_gate(policy)), **args)


def test_a_page_comes_back_as_readable_text():
    with local_site() as site:
        text = fetch(f"{site}/article")
    assert "# Tides of Brest" in text and "High water at **06:12**." in text
    assert "alert(1)" not in text and "color:red" not in text and "<p>" not in text


def test_redirects_are_followed_and_text_is_capped():
    with local_site() as site:
        assert "Tides of Brest" in fetch(f"{site}/hop")
        big = fetch(f"{site}/big", max_chars=1000)
    assert big.endswith("[... cut at 1000 characters]") and big.count("x") == 1000


def test_binary_content_and_missing_pages_are_reported():
    with local_site() as site:
        with pytest.raises(ToolError, match="image/png, not a text page"):
            fetch(f"{site}/image")
        assert fetch(f"{site}/nowhere").startswith("HTTP 404")


def test_loopback_is_refused_without_a_rule():
    with local_site() as site, pytest.raises(ToolError, match="loopback or link-local"):
        fetch(f"{site}/article", Policy())


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://0.0.0.0/",
        "http://2130706433/",  # 127.0.0.1 spelled as one number
    ],
)
def test_private_addresses_are_refused_however_spelled(url):
    with pytest.raises(ToolError, match="private, loopback or link-local|cannot resolve"):
        fetch(url, Policy())


def test_a_redirect_to_a_private_address_is_refused():
    """The first hop is allowed by a rule; the redirect goes to the metadata address."""
    with local_site() as site, pytest.raises(ToolError, match="169.254.169.254"):
        fetch(f"{site}/away")


def test_a_name_that_resolves_to_loopback_is_refused(monkeypatch):
    """DNS tricks: a public-looking name whose address is 127.0.0.1 is judged by the address."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "innocent.example":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with local_site() as site:
        port = site.rsplit(":", 1)[1]
        with pytest.raises(ToolError, match="innocent.example is at 127.0.0.1"):
            fetch(f"http://innocent.example:{port}/article", Policy())


def test_a_deny_rule_by_domain_refuses_a_redirect_hop():
    with local_site(redirect_to="http://blocked.example/") as site:
        policy = Policy(
            rules=[
                *LOCAL_ALLOWED.rules,
                Rule(tool="fetch_url", domains=["*.example", "blocked.example"], action="deny"),
            ]
        )
        with pytest.raises(ToolError, match="the policy refuses blocked.example"):
            fetch(f"{site}/away", policy)


def test_domain_rules_decide_calls():
    policy = Policy(rules=[Rule(tool="fetch_url", domains=["*.wikipedia.org"], action="allow")])
    args = {"url": "https://en.wikipedia.org/wiki/Tide", "max_chars": 100}
    assert (
        decide(
            policy, tool="fetch_url", risk="medium", arguments=args, autonomy="supervised"
        ).verdict
        == "allow"
    )
    other = {"url": "https://wikipedia.org.evil.example/", "max_chars": 100}
    assert (
        decide(
            policy, tool="fetch_url", risk="medium", arguments=other, autonomy="supervised"
        ).verdict
        == "ask"
    )


def test_only_http_urls():
    with pytest.raises(ToolError, match="only http"):
        fetch("file:///etc/passwd")
