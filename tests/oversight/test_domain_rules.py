"""Domain rules see one spelling of each host: IDNA (UTS-46) ASCII, lower case, no trailing dot,
and IPv4/IPv6 addresses in their one canonical form, in URLs and in the rules themselves."""

from __future__ import annotations

import pytest

from agent_core.oversight.policy import Policy, Rule, decide, url_host
from agent_core.oversight.web_gate import url_gate
from agent_core.tools.host_names import canonical_host, canonical_pattern


def _verdict(policy: Policy, url: str) -> str:
    return decide(
        policy, tool="fetch_url", risk="medium", arguments={"url": url}, autonomy="supervised"
    ).verdict


DENY_EVIL = Policy(rules=[Rule(tool="fetch_url", domains=["evil.example"], action="deny")])

EVIL_SPELLINGS = [
    "http://EVIL.EXAMPLE/",
    "http://evil.example./",  # a trailing dot names the same host
    "http://evil.example../",
    "http://evil\uff0eexample/",  # FULLWIDTH FULL STOP
    "http://evil\u3002example/",  # IDEOGRAPHIC FULL STOP
    "http://evil\uff61example/",  # HALFWIDTH IDEOGRAPHIC FULL STOP
    "http://\uff45\uff56\uff49\uff4c.example/",  # fullwidth letters
    "http://%65vil.example/",  # percent-escaped letter
    "http://%45%56%49%4C%2Eexample/",  # percent-escaped upper case and dot
    "http://evil.ex\u00adample/",  # a soft hyphen UTS-46 removes
    "http://good.example@evil.example/",  # userinfo: the host is after the last '@'
    "http://good.example:pw@evil.example:8080/x",
    "https://a@b@evil.example/",
    "http://evil.example\\@good.example/",  # a backslash: parsers disagree on the host
    "http://evil.example%5C@good.example/",
    "http://ev\u200bil.example/",  # a zero-width space: no fair reading of this host
]


@pytest.mark.parametrize("url", EVIL_SPELLINGS)
def test_a_denied_host_is_denied_however_it_is_spelled(url):
    assert _verdict(DENY_EVIL, url) == "deny", url
    refusal, _ = url_gate(DENY_EVIL)(url, False)
    assert refusal is not None and "refuses" in refusal


ALLOW_DOCS = Policy(rules=[Rule(tool="fetch_url", domains=["docs.example"], action="allow")])


@pytest.mark.parametrize(
    "url",
    [
        "http://docs.example@evil.example/",
        "http://evil.example\\@docs.example/",  # WHATWG reads the host as evil.example
        "http://evil.example%5C@docs.example/",
        "http://docs.example.evil.example/",
        "http://docs\u200b.example/",  # not readable as a host: never allowed by a rule
        "http://docs.example%00.evil/",
    ],
)
def test_an_allow_rule_never_covers_another_host_dressed_as_it(url):
    assert _verdict(ALLOW_DOCS, url) != "allow", url
    _, private_ok = url_gate(ALLOW_DOCS)(url, False)
    assert private_ok is False


@pytest.mark.parametrize(
    "url",
    ["http://DOCS.example./", "http://docs\uff0eexample/", "http://docs\u3002EXAMPLE/a"],
)
def test_an_allow_rule_covers_the_same_host_in_any_spelling(url):
    assert _verdict(ALLOW_DOCS, url) == "allow", url


@pytest.mark.parametrize(
    ("rule", "url"),
    [
        ("b\u00fccher.example", "http://xn--bcher-kva.example/"),
        ("xn--bcher-kva.example", "http://b\u00fccher.example/"),
        ("XN--BCHER-KVA.EXAMPLE.", "http://B\u00dcCHER.example/"),
        ("b\u00fccher.example", "http://XN--BCHER-KVA.EXAMPLE./"),
        ("*.b\u00fccher.example", "http://shop.xn--bcher-kva.example/"),
        ("*.xn--bcher-kva.example", "http://SHOP.b\u00fccher\u3002example/"),
        ("m\u00fcnchen.example", "http://mu\u0308nchen.example/"),  # decomposed u + diaeresis
        ("\u0441\u0431\u0435\u0440.example", "http://xn--90ai7ab.example/"),  # Cyrillic label
        ("stra\u00dfe.example", "http://xn--strae-oqa.example/"),  # IDNA 2008 keeps the sharp s
    ],
)
def test_international_rules_and_hosts_meet_in_one_spelling(rule, url):
    deny = Policy(rules=[Rule(tool="fetch_url", domains=[rule], action="deny")])
    allow = Policy(rules=[Rule(tool="fetch_url", domains=[rule], action="allow")])
    assert _verdict(deny, url) == "deny"
    assert _verdict(allow, url) == "allow"


def test_a_look_alike_in_another_script_is_another_host():
    # Cyrillic 'а' (U+0430) is not Latin 'a': normalising never merges different hosts.
    deny = Policy(rules=[Rule(tool="fetch_url", domains=["paypal.example"], action="deny")])
    allow_latin = Policy(rules=[Rule(tool="fetch_url", domains=["paypal.example"], action="allow")])
    assert _verdict(allow_latin, "http://p\u0430ypal.example/") != "allow"
    assert _verdict(deny, "http://paypal.example/") == "deny"


METADATA = Policy(rules=[Rule(tool="fetch_url", domains=["169.254.169.254"], action="deny")])


@pytest.mark.parametrize(
    "url",
    [
        "http://2852039166/",  # one decimal number
        "http://0xa9fea9fe/",  # one hex number
        "http://0xA9.0xFE.0xA9.0xFE/",  # hex parts
        "http://0251.0376.0251.0376/",  # octal parts
        "http://169.254.43518/",  # a.b.c form
        "http://169.16689662/",  # a.b form
        "http://169.254.169.254./",
        "http://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
        "http://[::ffff:a9fe:a9fe]/",
        "http://[0:0:0:0:0:FFFF:A9FE:A9FE]/",
        "http://%31%36%39.254.169.254/",  # percent-escaped digits
        "http://\uff11\uff16\uff19.254.169.254/",  # fullwidth digits
        "http://169\u3002254\u3002169\u3002254/",  # ideographic full stops
    ],
)
def test_a_denied_address_is_denied_in_every_spelling(url):
    assert _verdict(METADATA, url) == "deny", url


@pytest.mark.parametrize(
    ("rule", "url"),
    [
        ("::1", "http://[0:0:0:0:0:0:0:1]/"),
        ("[::1]", "http://[::0001]/"),
        ("fe80::1", "http://[FE80:0:0::1]/"),
        ("127.0.0.1", "http://0x7f000001/"),
        ("127.0.0.1", "http://017700000001/"),
    ],
)
def test_address_rules_match_every_spelling_of_their_address(rule, url):
    deny = Policy(rules=[Rule(tool="fetch_url", domains=[rule], action="deny")])
    assert _verdict(deny, url) == "deny", (rule, url)


def test_canonical_forms():
    assert canonical_host("B\u00dcCHER.Example.") == "xn--bcher-kva.example"
    assert canonical_host("%31%32%37.0.0.1") == "127.0.0.1"
    assert canonical_host("[::FFFF:7F00:1]") == "127.0.0.1"
    assert canonical_host("x_y.example") == "x_y.example"  # ASCII that IDNA refuses: kept
    assert canonical_host("a b.example") is None
    assert canonical_host("") is None
    assert canonical_pattern("*.B\u00dcCHER.example.") == "*.xn--bcher-kva.example"
    assert canonical_pattern("api-?.example") == "api-?.example"
    assert url_host("http://B\u00dcCHER.example./") == "xn--bcher-kva.example"
    assert url_host("http://evil.example\\@good.example/") is None


def test_a_rule_keeps_its_written_spelling_for_people():
    rule = Rule(tool="fetch_url", domains=["b\u00fccher.example"], action="deny")
    assert rule.domains == ["b\u00fccher.example"]


@pytest.mark.parametrize(
    ("url", "asked"),
    [
        ("http://stra\u00dfe.example/", "xn--strae-oqa.example"),  # not IDNA 2003's strasse
        ("http://\uff45\uff56\uff49\uff4c\u3002example./", "evil.example"),
        ("http://B\u00dcCHER.example/", "xn--bcher-kva.example"),
        ("http://0x7f.1/", "127.0.0.1"),
    ],
)
def test_fetch_url_resolves_the_spelling_the_rules_saw(monkeypatch, url, asked):
    import socket

    from agent_core.tools import web
    from agent_core.tools.errors import ToolError

    hosts: list[str] = []

    def resolver(host, *args, **kwargs):
        hosts.append(host)
        raise socket.gaierror("offline test")

    monkeypatch.setattr(web.socket, "getaddrinfo", resolver)
    with pytest.raises(ToolError):
        web.fetch_url.fn(url=url)
    assert hosts == [asked]
