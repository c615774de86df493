"""Red-team variants on host names, file paths and sign-in claims that the issue did not list.

Each list keeps the spellings that held (regression guards) beside the ones that got through
before this round: NAT64/6to4/IPv4-compatible addresses reached private IPv4 hosts, a group
named with the Kelvin sign matched another group's rule, and an unverified address (or a display
name) was the name the audit recorded.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import storage
from agent_core.oversight.policy import Policy, Rule, decide, url_host
from agent_core.oversight.signin_roles import display_name, load_auth_config
from agent_core.oversight.web_gate import url_gate
from agent_core.run.tool_runner import run_tool
from agent_core.tools import Workspace, builtin_tools
from agent_core.tools.context import ToolContext
from agent_core.tools.errors import ToolError
from agent_core.tools.web import _public, fetch_url
from storage.private_files import private_store_file
from tests.support import dashboard_fixtures as fx
from tests.support.local_site import local_site
from tests.support.signin_helpers import write_signin_file

# -- host names -----------------------------------------------------------------------------------


def _verdict(policy: Policy, url: str) -> str:
    return decide(
        policy, tool="fetch_url", risk="medium", arguments={"url": url}, autonomy="supervised"
    ).verdict


DENY = Policy(rules=[Rule(tool="fetch_url", domains=["example.com", "*.internal"], action="deny")])

DENIED_SPELLINGS = [
    "http://EXAMPLE.com./",
    "http://example.com../",
    "http://ex%61mple.com/",
    "http://%65xample.com/",
    "http://example.com%2e/",
    "http://example.com%E3%80%82/",  # a percent-encoded ideographic full stop
    "http://exa\tmple.com/",  # tabs and newlines are dropped, as WHATWG does
    "http://exa\nmple.com/",
    "http://ex\u200dample.com/",  # ZWJ / ZWNJ: no fair reading, so deny matches
    "http://ex\u200cample.com/",
    "http://ex%2561mple.com/",  # double-encoded: unreadable, deny matches
    "http://evil.com\\@example.com/",
    "http://evil.com%40example.com/",
    "http://good.com\uff03@example.com/",  # NFKC '#' in the authority: Python refuses it
    "HTTP://Example.COM:/",
    "http://@example.com/",
    "http://u:p@example.com:8080/x",
    "http://db.internal/",
    "http://DB.INTERNAL./",
    "http://a.b.internal/",
]


@pytest.mark.parametrize("url", DENIED_SPELLINGS)
def test_a_denied_host_is_denied_in_spellings_the_issue_did_not_list(url):
    assert _verdict(DENY, url) == "deny", url
    refusal, _ = url_gate(DENY)(url, True)
    assert refusal is not None


def test_a_wildcard_rule_does_not_cover_the_bare_name_and_says_so_in_its_own_right():
    assert _verdict(DENY, "http://internal/") != "deny"  # `*.internal` names subdomains only
    bare = Policy(rules=[Rule(tool="fetch_url", domains=["internal"], action="deny")])
    assert _verdict(bare, "http://INTERNAL./") == "deny"


ALLOW = Policy(
    rules=[Rule(tool="fetch_url", domains=["example.com", "*.bücher.example"], action="allow")]
)

NOT_ALLOWED = [
    "http://ex\u0430mple.com/",  # Cyrillic a: a different host
    "http://example.com:443@evil.com/",
    "http://example.com%2F@evil.com/",
    "http://example.com%3A80@evil.com/",
    "http://evil.com\\@example.com/",
    "http://ex\u200dample.com/",
    "http://example.com.evil.com/",
    "http://xn--bcher-kva.example/",  # the wildcard names subdomains, not the name itself
    "http://www.b\u00fccher.example.evil/",
    "http://www.bucher.example/",
]


@pytest.mark.parametrize("url", NOT_ALLOWED)
def test_an_allow_rule_does_not_stretch_to_look_alikes(url):
    assert _verdict(ALLOW, url) != "allow", url


ALLOWED = [
    "http://example.com/",
    "https://EXAMPLE.COM./path?q=1",
    "http://www.b\u00fccher.example/",
    "http://WWW.XN--BCHER-KVA.example/",
    "http://www.B\u00dcCHER.example/",
]


@pytest.mark.parametrize("url", ALLOWED)
def test_ordinary_spellings_of_an_allowed_host_are_allowed(url):
    assert _verdict(ALLOW, url) == "allow", url


@pytest.mark.parametrize("url", ["//example.com/", "http:example.com", "ftp://example.com/"])
def test_fetch_url_refuses_urls_without_an_http_scheme_and_host(url, tmp_path):
    with pytest.raises(ToolError, match="only http:// and https://"):
        run_tool(builtin_tools()["fetch_url"], {"url": url}, workspace=Workspace(tmp_path))


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://[::ffff:a9fe:a9fe]/", "169.254.169.254"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://017700000001/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://[0:0:0:0:0:ffff:7f00:1]/", "127.0.0.1"),
        ("http://xn--zz.com/", "xn--zz.com"),  # invalid punycode stays its own (unresolvable) name
        ("http://\u212aelvin.example/", "kelvin.example"),
    ],
)
def test_address_and_name_spellings_have_one_form(url, host):
    assert url_host(url) == host


CARRIES_PRIVATE_IPV4 = [
    "64:ff9b::7f00:1",  # NAT64 to 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 to 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 to the cloud metadata address
    "64:ff9b:1::a9fe:a9fe",  # a site's own NAT64 prefix
    "::7f00:1",  # IPv4-compatible
    "::a9fe:a9fe",
    "::ffff:0:a9fe:a9fe",  # IPv4-translated
    "2002:7f00:1::1",  # 6to4
    "2002:a9fe:a9fe::1",
    "2002:c0a8:101::",  # 6to4 of 192.168.1.1
]


@pytest.mark.parametrize("address", CARRIES_PRIVATE_IPV4)
def test_ipv6_forms_that_carry_a_private_ipv4_address_are_not_public(address):
    assert not _public(address), address


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111"])
def test_ipv6_forms_of_public_addresses_stay_public(address):
    assert _public(address)


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "::7f00:1", "2002:7f00:1::1"])
def test_fetch_url_refuses_a_literal_that_tunnels_to_loopback(address, tmp_path):
    with pytest.raises(ToolError, match="private, loopback or link-local"):
        run_tool(
            builtin_tools()["fetch_url"],
            {"url": f"http://[{address}]:9/"},
            workspace=Workspace(tmp_path),
        )


# -- file paths -----------------------------------------------------------------------------------


@pytest.fixture
def ws(tmp_path: Path) -> tuple[Workspace, Path]:
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "secret").write_text("HOST-SECRET")
    root = tmp_path / "ws"
    (root / "a").mkdir(parents=True)
    (root / "a" / "f.txt").write_text("hi")
    os.symlink(".", root / "dot")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    os.mkfifo(root / "fifo")
    os.symlink(str(outside / "made"), root / "dangling")
    os.symlink(str(outside), root / "out")
    return Workspace(root), outside


def _call(workspace: Workspace, name: str, **arguments: object) -> str:
    try:
        return run_tool(builtin_tools()[name], arguments, workspace=workspace)
    except ToolError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize(
    "path",
    ["a//f.txt", "./a/f.txt", "a/./f.txt", "dot/dot/a/f.txt", "/".join(["."] * 300) + "/a/f.txt"],
)
def test_odd_but_inside_spellings_still_read(ws, path):
    assert _call(ws[0], "read_file", path=path).endswith("hi")


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("loop1/x", "too many symlinks"),
        ("/".join(["dot"] * 50) + "/a/f.txt", "too many symlinks"),
        ("fifo/x", "error"),
        ("out/secret", "outside the run's workspace"),
        ("dot/out/secret", "outside the run's workspace"),
        ("a/../out/secret", "outside"),
        ("dangling", "error"),
    ],
)
def test_loops_fifos_and_links_out_are_refused_with_a_message(ws, path, says):
    result = _call(ws[0], "read_file", path=path)
    assert result.startswith("error") and says in result and "HOST-SECRET" not in result


def test_write_to_a_dangling_link_never_creates_the_file_outside(ws):
    workspace, outside = ws
    result = _call(workspace, "write_file", path="dangling", content="x")
    assert "outside the run's workspace" in result
    assert not (outside / "made").exists()
    assert _call(workspace, "write_file", path="out/secret", content="x").startswith("error")
    assert (outside / "secret").read_text() == "HOST-SECRET"


def test_delete_and_list_through_links_out_touch_nothing_outside(ws):
    workspace, outside = ws
    assert _call(workspace, "delete_files", paths=["dot/out/secret"]).startswith("error")
    assert "HOST-SECRET" not in _call(workspace, "list_files", path="out")
    assert (outside / "secret").exists()
    assert "(symlink)" in _call(workspace, "list_files", path="dot")


def test_everyday_writes_through_odd_spellings_land_inside(ws):
    workspace, _ = ws
    assert _call(workspace, "write_file", path="dot/./b.txt", content="ok").startswith("wrote")
    assert (workspace.root / "b.txt").read_text() == "ok"


# -- sign-in claims -------------------------------------------------------------------------------


@pytest.fixture
def rules(tmp_path):
    path = write_signin_file(tmp_path)
    text = path.read_text().replace(
        'operator = ["group:onloop-ops"]', 'operator = ["group:onloop-ops", "group:ops-k"]'
    )
    path.write_text(text)
    return load_auth_config(path)


@pytest.mark.parametrize(
    "group",
    [
        "ops-\u212a",
        "OPS-\u212a",
        "onloop-ops\u200b",
        "onl\u043eop-ops",
        "onloop-ops ",
        "onloop\u2010ops",
    ],
)
def test_a_group_spelled_with_look_alikes_gets_no_role(rules, group):
    assert rules.role_for({"sub": "s", "groups": [group]}) is None


@pytest.mark.parametrize("group", ["onloop-ops", "ONLOOP-OPS", "Ops-K"])
def test_ascii_case_of_a_group_still_matches(rules, group):
    assert rules.role_for({"sub": "s", "groups": [group]}) == "operator"


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "s", "email": "ada@admin.test", "email_verified": "true"},
        {"sub": "s", "email": "ada@admin.test", "email_verified": 1},
        {"sub": "s", "email": "ada@admin.test.", "email_verified": True},
        {"sub": "s", "email": '"ada"@admin.test', "email_verified": True},
        {"sub": "s", "email": "ada@xn--dmin-0ra.test", "email_verified": True},
        {"sub": "s", "email": "\u212aate@admin.test", "email_verified": True},
        {"sub": "s", "email": "ada@adm\u0131n.test", "email_verified": True},
        {"sub": "s", "email": ["ada@admin.test"], "email_verified": True},
        {"sub": 7, "email": "ada@admin.test", "email_verified": True},
        {"sub": "s", "email": "x@else.test", "email_verified": True, "groups": [["onloop-ops"]]},
        {"sub": "s", "preferred_username": "ada@admin.test"},
        {"sub": "s", "name": "ada@admin.test", "email_verified": True},
    ],
)
def test_claims_that_are_not_a_verified_admin_address_get_no_admin(rules, claims):
    assert rules.role_for(claims) != "admin"


def test_a_group_grant_counts_with_an_unverified_address_but_the_name_is_marked(rules):
    claims = {
        "sub": "s",
        "email": "ada@admin.test",
        "email_verified": False,
        "groups": ["onloop-ops"],
    }
    identity = rules.identity(claims)
    assert rules.role_of(identity) == "operator"
    assert display_name(claims, identity) == "ada@admin.test (unverified)"
    named = {"sub": "s", "name": "ada@admin.test", "groups": ["onloop-ops"]}
    assert display_name(named, rules.identity(named)) == "ada@admin.test (unverified)"
    verified = {"sub": "s", "email": "Ada@Admin.test", "email_verified": True}
    assert display_name(verified, rules.identity(verified)) == "ada@admin.test"


def test_the_audit_does_not_record_an_unverified_address_as_the_actor(tmp_path, monkeypatch):
    monkeypatch.setenv("ONLOOP_AUTH", str(write_signin_file(tmp_path)))
    monkeypatch.delenv("ONLOOP_INSECURE_NO_AUTH", raising=False)
    store = next(fx.open_store(tmp_path, monkeypatch))
    at = AppTest.from_file(str(fx.APP), default_timeout=fx.TIMEOUT)
    at.user = {
        "is_logged_in": True,
        "sub": "mallory",
        "email": "ada@admin.test",
        "email_verified": False,
        "groups": ["onloop-ops"],
    }
    at.run()
    assert not at.exception
    at.text_area(key="launch_goal").input("What time is it in Tokyo?")
    at.button(key="launch_submit").click().run()
    (run,) = storage.list_runs(store)
    assert run.created_by == "ada@admin.test (unverified) (sub mallory)"


# -- owner-only files through the real entry points, umask 000 ------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_onloop_run_under_umask_000_makes_an_owner_only_store_and_workspace(tmp_path):
    db = tmp_path / "new" / "sub" / "onloop.db"
    env = {**os.environ, "ONLOOP_WORKSPACES": str(tmp_path / "wsroot")}
    argv = [sys.executable, "-m", "agent_core", "run", "What time is it?", "--model", "demo"]
    argv += ["--autonomy", "autonomous", "--yes", "--db", str(db)]
    done = subprocess.run(
        argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180,
        preexec_fn=lambda: os.umask(0),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _mode(db) == 0o600 and _mode(db.parent) == 0o700
    (run_folder,) = (tmp_path / "wsroot").iterdir()
    assert _mode(tmp_path / "wsroot") == 0o700 and _mode(run_folder) == 0o700
    siblings = [Path(f"{db}{s}") for s in ("-wal", "-shm", "-journal")]
    assert all(_mode(s) == 0o600 for s in siblings if s.exists())


def test_a_rollback_journal_beside_a_new_store_is_owner_only(tmp_path):
    db = tmp_path / "store" / "onloop.db"
    old = os.umask(0)
    try:
        private_store_file(db)
        conn = sqlite3.connect(db, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("CREATE TABLE probe (a)")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO probe VALUES (1)")
            journal = Path(f"{db}-journal")
            assert journal.exists() and _mode(journal) == 0o600
            conn.execute("COMMIT")
        finally:
            conn.close()
    finally:
        os.umask(old)
    assert _mode(db) == 0o600 and _mode(db.parent) == 0o700


# -- each redirect hop is judged in its canonical spelling ----------------------------------------

REDIRECT_SPELLINGS = [
    "http://BLOCKED.example./",
    "http://%62locked.example/",
    "//blocked.example/",  # scheme-relative: the same scheme as the page
    "http://u@blocked.example/",
    "http://bl\tocked.example/",  # httpx refuses the header itself
    "http://blocked\u3002example/",
    "http://[64:ff9b::7f00:1]/",  # a private address by way of NAT64
    "http://[::ffff:a9fe:a9fe]/",
    "http://0xa9.0xfe.0xa9fe/",
    "http://2852039166/",
]


@pytest.mark.parametrize("location", REDIRECT_SPELLINGS)
def test_a_redirect_in_an_odd_spelling_is_refused(location):
    policy = Policy(
        rules=[
            Rule(tool="fetch_url", domains=["127.0.0.1"], action="allow"),
            Rule(tool="fetch_url", domains=["blocked.example"], action="deny"),
        ]
    )
    context = ToolContext(url_gate=url_gate(policy))
    with local_site(redirect_to=location) as site:
        with pytest.raises(
            ToolError, match="refuses|another host|private, loopback|cannot resolve|could not fetch"
        ):
            fetch_url.fn(url=f"{site}/away", tool_context=context)
