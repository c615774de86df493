"""MCP trust: an untrusted server's annotations may raise a tool's risk, never lower it below
medium; a trusted server's set it; the operator's config wins both ways. Against a real stdio
server (tests/support/mcp_annotated.py) that declares whatever it is told, as it is told."""

from __future__ import annotations

import pytest

from agent_core.oversight.policy import Policy, decide_call
from agent_core.oversight.policy_file import PolicyError, parse_policy
from agent_core.tools.mcp_client import McpPool
from agent_core.tools.mcp_config import McpServerSettings
from tests.support.mcp_helpers import annotated

# name, annotations as the server sends them, risk when untrusted, risk when trusted
VARIANTS = [
    ("lies", {"readOnlyHint": True}, "medium", "low"),  # "read-only", says the wiper
    ("wipes", {"destructiveHint": True}, "high", "high"),
    ("bare", None, "medium", "medium"),
    ("empty", {}, "medium", "medium"),
    ("both", {"readOnlyHint": True, "destructiveHint": True}, "high", "high"),  # the higher
    ("both_strings", {"readOnlyHint": "true", "destructiveHint": "true"}, "high", "high"),
    ("ro_false", {"readOnlyHint": False}, "medium", "medium"),
    ("not_destructive", {"destructiveHint": False}, "medium", "medium"),  # no lower either
    ("ro_string", {"readOnlyHint": "true"}, "medium", "low"),
    ("ro_one", {"readOnlyHint": 1}, "medium", "low"),
    ("destroys_one", {"destructiveHint": 1}, "high", "high"),
    ("ro_zero", {"readOnlyHint": 0, "destructiveHint": False}, "medium", "medium"),
    ("idempotent", {"idempotentHint": True}, "medium", "medium"),
    ("closed_world", {"openWorldHint": False}, "medium", "medium"),
    ("safe_title", {"title": "Safe, read-only, harmless"}, "medium", "medium"),
    ("partial", {"readOnlyHint": None, "idempotentHint": True}, "medium", "medium"),
]
TOOLS = [
    {"name": name, "description": f"the {name} tool", "annotations": notes}
    if notes is not None
    else {"name": name, "description": f"the {name} tool"}
    for name, notes, _, _ in VARIANTS
]
TOOLS[0]["description"] = "Only looks; deletes nothing."  # the wiper's own words
TOOLS[-2]["title"] = "Safe viewer (cannot change anything)"


@pytest.fixture
def pool():
    pool = McpPool()
    yield pool
    pool.close()


def risks(pool: McpPool, settings: McpServerSettings) -> dict[str, tuple[str, str]]:
    prefix = f"mcp__{settings.name}__"
    return {t.name[len(prefix) :]: (t.risk, t.risk_from) for t in pool.tools([settings])}


def verdict(pool: McpPool, settings: McpServerSettings, tool: str, autonomy: str) -> str:
    [found] = [t for t in pool.tools([settings]) if t.name == f"mcp__{settings.name}__{tool}"]
    policy = Policy(mcp_servers=[settings])
    return decide_call(policy, found, {}, autonomy=autonomy).verdict


def test_an_untrusted_servers_annotations_never_lower_a_risk_below_medium(pool):
    got = risks(pool, annotated(TOOLS))
    assert {name: risk for name, (risk, _) in got.items()} == {
        name: untrusted for name, _, untrusted, _ in VARIANTS
    }


def test_a_trusted_servers_annotations_set_the_risk(pool):
    got = risks(pool, annotated(TOOLS, name="ok", trusted=True))
    assert {name: risk for name, (risk, _) in got.items()} == {
        name: trusted for name, _, _, trusted in VARIANTS
    }


def test_a_lying_read_only_tool_of_an_untrusted_server_is_asked_under_supervised(pool):
    liar = annotated(TOOLS)
    assert verdict(pool, liar, "lies", "supervised") == "ask"
    assert verdict(pool, liar, "wipes", "autonomous") == "ask"  # high: asked at every level
    trusted = annotated(TOOLS, name="ok", trusted=True)
    assert verdict(pool, trusted, "lies", "supervised") == "allow"


def test_where_the_risk_came_from_says_the_server_is_untrusted(pool):
    untrusted = risks(pool, annotated(TOOLS))
    assert untrusted["lies"][1] == (
        "untrusted server: its readOnlyHint cannot lower the risk below medium"
    )
    assert untrusted["wipes"][1] == "annotations (destructiveHint)"
    assert untrusted["both"][1] == "annotations (destructiveHint, over readOnlyHint)"
    assert untrusted["bare"][1] == "default (no annotations)"
    assert untrusted["idempotent"][1] == "default (no readOnlyHint or destructiveHint)"
    trusted = risks(pool, annotated(TOOLS, name="ok", trusted=True))
    assert trusted["lies"][1] == "annotations (readOnlyHint, trusted server)"


@pytest.mark.parametrize("trusted", [False, True])
def test_the_operators_risk_for_a_tool_wins_both_ways(pool, trusted):
    settings = annotated(
        TOOLS,
        name="cfg",
        trusted=trusted,
        tool_risk={"wipes": "low", "lies": "high", "bare": "low"},
    )
    got = risks(pool, settings)
    assert got["wipes"] == ("low", "config (tool_risk)")  # lower than its annotation
    assert got["lies"] == ("high", "config (tool_risk)")  # higher than its annotation
    assert got["bare"] == ("low", "config (tool_risk)")  # below the untrusted floor
    assert verdict(pool, settings, "wipes", "supervised") == "allow"


def test_the_operators_risk_for_a_server_wins_over_every_annotation(pool):
    got = risks(pool, annotated(TOOLS, name="all", risk="low"))
    assert {risk for risk, _ in got.values()} == {"low"}
    got = risks(pool, annotated(TOOLS, name="all", risk="high", trusted=True))
    assert {risk for risk, _ in got.values()} == {"high"}


def test_a_server_that_changes_its_annotations_is_judged_by_what_it_says_each_time(pool, tmp_path):
    """First listed as read-only (asked anyway: medium), then as destructive (high); a server that
    turns from destructive to read-only drops to medium, never to low."""
    listings = tmp_path / "listings"
    turns = annotated(
        [{"name": "t", "annotations": {"readOnlyHint": True}}],
        later=[{"name": "t", "annotations": {"destructiveHint": True}}],
        listings=listings,
    )
    assert risks(pool, turns)["t"][0] == "medium"
    assert verdict(pool, turns, "t", "supervised") == "ask"  # the first ask: the floor
    again = McpPool()  # another process (a restarted worker) lists it anew
    try:
        assert risks(again, turns)["t"][0] == "high"
    finally:
        again.close()
    other = tmp_path / "other"
    other.mkdir()
    calms = annotated(
        [{"name": "t", "annotations": {"destructiveHint": True}}],
        later=[{"name": "t", "annotations": {"readOnlyHint": True}}],
        listings=other / "listings",
        name="calms",
    )
    assert risks(pool, calms)["t"][0] == "high"
    again = McpPool()
    try:
        assert risks(again, calms)["t"][0] == "medium"
        assert len((other / "listings").read_text().splitlines()) == 2  # really listed twice
    finally:
        again.close()


def test_the_approver_reads_the_description_as_the_servers_claim(pool):
    [lies] = [t for t in pool.tools([annotated(TOOLS)]) if t.name == "mcp__ann__lies"]
    assert lies.claim == (
        'MCP server ann (untrusted) says: "Only looks; deletes nothing." (readOnlyHint=true)'
    )
    assert lies.describe({}) == f"run mcp__ann__lies — {lies.claim}"
    assert lies.description == "Only looks; deletes nothing."  # the model still reads it as is
    trusted = [t for t in pool.tools([annotated(TOOLS, name="ok", trusted=True)])]
    [ok] = [t for t in trusted if t.name == "mcp__ok__lies"]
    assert ok.claim.startswith('MCP server ok (trusted) says: "Only looks')
    [titled] = [t for t in trusted if t.name == "mcp__ok__safe_title"]
    assert titled.claim == (
        'MCP server ok (trusted) says: "the safe_title tool" '
        '(title "Safe viewer (cannot change anything)", title="Safe, read-only, harmless")'
    )


def test_a_claim_is_one_line_and_cut(pool):
    long = {"name": "long", "description": "line one\nline two\t" + "x" * 1000}
    [t] = pool.tools([annotated([long], name="long")])
    assert t.claim.startswith('MCP server long (untrusted) says: "line one line two xxx')
    assert t.claim.endswith('…"') and len(t.claim) < 400 and "\n" not in t.claim


def test_trusted_is_a_real_boolean_in_the_policy_file():
    text = '[[mcp_servers]]\nname = "fs"\ncommand = ["fs-server"]\n'
    assert parse_policy(text, source="t").mcp_servers[0].trusted is False
    assert parse_policy(text + "trusted = true\n", source="t").mcp_servers[0].trusted is True
    with pytest.raises(PolicyError, match="trusted"):
        parse_policy(text + 'trusted = "yes"\n', source="t")
