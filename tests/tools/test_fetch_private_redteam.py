"""Red-team: fetch_url reaching this machine (the dashboard, the metrics endpoint, a database's
HTTP port) or the cloud's metadata address under an allow rule that matches every host.

Private, loopback and link-local addresses need an allow rule that names the host. Before, any
allow rule with `domains` that matched counted: `domains = ["*"]` (a person's "read any page
unasked"), `"*.*"`, `"1*"` or `"*.example"` opened 127.0.0.1, a name of the agent's choosing
that resolves to it, and a redirect to 169.254.169.254 (failing before). A pattern names a host
when it is the host as written, or a glob with at least two labels of its own
(`*.corp.example`). Held, kept as guards: an exact name or address, and such a glob.
"""

from __future__ import annotations

import socket

import pytest

import storage
from agent_core.oversight.policy import Policy, Rule
from agent_core.oversight.web_gate import url_gate
from agent_core.tools import ToolContext, ToolError
from agent_core.tools.web import fetch_url
from tests.run.test_halts_redteam import worker_running
from tests.support.halt_helpers import settle
from tests.support.local_site import local_site
from tests.support.run_helpers import events_of, new_run


def allowing(*domains: str) -> Policy:
    return Policy(rules=[Rule(tool="fetch_url", domains=list(domains), action="allow")])


def fetch(url: str, policy: Policy) -> str:
    return fetch_url.fn(url=url, tool_context=ToolContext(url_gate=url_gate(policy)))


@pytest.fixture
def names_to_loopback(monkeypatch) -> None:
    """Names whose address the agent chose (its own domain's DNS): 127.0.0.1."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if str(host).endswith((".example", ".com")):
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.parametrize("domains", [["*"], ["*.*"], ["1*"], ["*.*.*.*"], ["[0-9]*"]])
def test_a_rule_matching_every_host_does_not_open_loopback(domains):
    with local_site() as site, pytest.raises(ToolError, match="loopback or link-local"):
        fetch(f"{site}/article", allowing(*domains))


@pytest.mark.usefixtures("names_to_loopback")
@pytest.mark.parametrize(
    ("domains", "host"),
    [(["*"], "dashboard.example"), (["*.example"], "agents.example"), (["*.com"], "evil.com")],
)
def test_a_name_a_wide_rule_matches_does_not_open_loopback(domains, host):
    with local_site() as site:
        port = site.rsplit(":", 1)[1]
        with pytest.raises(ToolError, match=f"{host} is at 127.0.0.1"):
            fetch(f"http://{host}:{port}/article", allowing(*domains))


def test_a_redirect_to_the_metadata_address_under_a_rule_for_every_host_is_refused():
    with local_site() as site, pytest.raises(ToolError, match="169.254.169.254"):
        fetch(f"{site}/away", allowing("127.0.0.1", "*"))


def test_through_a_worker_a_rule_for_every_host_does_not_reach_this_machine(store: storage.Store):
    with local_site() as site:
        run = new_run(store, "read", model="scripted", policy=allowing("*"), autonomy="autonomous")
        call = {"name": "fetch_url", "arguments": {"url": f"{site}/article"}}
        with worker_running(store, [{"tool_calls": [call]}, "done"]):
            settle(store, [run.id])
    [result] = events_of(store, run.id, "tool_result")
    assert result.payload["outcome"] == "error", result.payload
    assert "loopback or link-local" in result.payload["output"]


# -- held: a rule that names the host opens it, as documented -----------------------------------
@pytest.mark.usefixtures("names_to_loopback")
@pytest.mark.parametrize(
    ("domains", "host"),
    [
        (["127.0.0.1"], "127.0.0.1"),
        (["svc.example"], "svc.example"),
        (["*.corp.example"], "a.corp.example"),
    ],
)
def test_a_rule_that_names_the_host_still_opens_it(domains, host):
    with local_site() as site:
        port = site.rsplit(":", 1)[1]
        assert "Tides of Brest" in fetch(f"http://{host}:{port}/article", allowing(*domains))
