"""Sign-in claims parsed strictly: only the boolean `email_verified: true` makes an address count,
and claims of the wrong type or shape refuse the sign-in with a message on the page.

The role file gives `ada@admin.test` and `kate@admin.test` admin and `@example.test` viewer; every
attack below tries to become one of them without a verified address of its own.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from agent_core.oversight.signin_roles import ClaimsRefused, load_auth_config, parse_claims
from tests.support import dashboard_fixtures as fx
from tests.support.signin_helpers import write_signin_file

ADA = "ada@admin.test"


@pytest.fixture
def rules(tmp_path):
    return load_auth_config(write_signin_file(tmp_path))


NOT_TRUE = ["false", "False", "true", "0", "1", "no", "yes", "", 0, 1, 0.0, 1.0, None, [], [True],
            {}, {"value": True}]  # fmt: skip


@pytest.mark.parametrize("verified", NOT_TRUE)
def test_email_verified_other_than_a_boolean_refuses_the_signin(rules, verified):
    claims = {"sub": "s-1", "email": ADA, "email_verified": verified}
    assert rules.role_for(claims) is None
    with pytest.raises(ClaimsRefused, match="email_verified.*not the boolean true"):
        rules.identity(claims)


@pytest.mark.parametrize("claims", [{}, {"email_verified": False}])
def test_an_unverified_or_unstated_address_names_nobody(rules, claims):
    identity = rules.identity({"sub": "s-1", "email": ADA, **claims})
    assert identity.email is None and identity.unverified
    assert rules.role_of(identity) is None


def test_groups_still_count_when_the_address_is_unverified(rules):
    claims = {"sub": "s-1", "email": ADA, "email_verified": False, "groups": ["onloop-ops"]}
    assert rules.role_for(claims) == "operator"


def test_a_verified_plain_address_in_any_ascii_case_gets_its_role(rules):
    assert rules.role_for({"sub": "s", "email": "APRIL@Example.test", "email_verified": True}) == (
        "approver"
    )
    assert rules.role_for({"sub": "s", "email": ADA, "email_verified": True}) == "admin"


BAD_EMAILS = [
    123,
    [ADA],
    {"address": ADA},
    True,
    " ada@admin.test",  # whitespace around or inside
    "ada@admin.test ",
    "ada@admin.test\n",
    "ada @admin.test",
    "ada@admin.test\u200b",  # a zero-width space
    "eve@evil.test@example.test",  # two '@': the last part is not the domain it was verified for
    "ada@admin.test@",
    "@admin.test",
    "ada@",
    "ada",
    "ada@.admin.test",
    "ada@admin..test",
    "ada@admin.test.",
    "\u212aate@admin.test",  # KELVIN SIGN: lower-cases to the ASCII 'k' of kate@admin.test
    "\uff41da@admin.test",  # fullwidth 'a'
    "ada@adm\u0131n.test",  # dotless i
    "ada@ADMIN.test\x00",
    "ada\x1b[2J@admin.test",
]


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_a_malformed_address_refuses_the_signin(rules, email):
    claims = {"sub": "s-1", "email": email, "email_verified": True}
    assert rules.role_for(claims) is None
    with pytest.raises(ClaimsRefused, match="email") as refused:
        rules.identity(claims)
    assert str(refused.value).isascii() and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "subject", [None, 42, ["s-1"], {"id": 1}, "", "s 1", "s\n1", "\u212a", True]
)
def test_a_missing_or_non_string_subject_refuses_the_signin(rules, subject):
    claims = {"email": ADA, "email_verified": True}
    if subject is not None:
        claims["sub"] = subject
    assert rules.role_for(claims) is None
    with pytest.raises(ClaimsRefused, match="`sub`"):
        parse_claims(claims)


@pytest.mark.parametrize("groups", [[1], {"onloop-ops": True}, [["onloop-ops"]], [" "], 7, [None]])
def test_malformed_groups_refuse_the_signin(rules, groups):
    claims = {"sub": "s-1", "email": "x@else.test", "email_verified": True, "groups": groups}
    assert rules.role_for(claims) is None
    with pytest.raises(ClaimsRefused, match="groups"):
        rules.identity(claims)


def test_a_single_group_name_as_a_string_is_read_as_one_group(rules):
    assert rules.role_for({"sub": "s", "groups": "onloop-ops"}) == "operator"


# -- the pages ------------------------------------------------------------------------------------


@pytest.fixture
def signin_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ONLOOP_AUTH", str(write_signin_file(tmp_path)))
    monkeypatch.delenv("ONLOOP_INSECURE_NO_AUTH", raising=False)
    yield from fx.open_store(tmp_path, monkeypatch)


def page_for(user: dict) -> AppTest:
    at = AppTest.from_file(str(fx.APP), default_timeout=fx.TIMEOUT)
    at.user = {"is_logged_in": True, **user}
    at.run()
    assert not at.exception
    return at


@pytest.mark.parametrize(
    "claims",
    [
        {"email_verified": "false"},
        {"email_verified": 0},
        {"email_verified": None},
        {"email_verified": "0"},
        {"email_verified": True, "email": " ada@admin.test"},
        {"email_verified": True, "sub": 7},
    ],
)
def test_the_page_says_the_signin_is_refused_and_shows_nothing(signin_store, claims):
    at = page_for({"sub": "sub-m", "email": ADA, **claims})
    assert at.title[0].value == "Sign-in refused"
    said = " ".join(t.value for t in at.text)
    assert "does not trust" in said and ("email" in said or "`sub`" in said), said
    assert [b.key for b in at.button] == ["signin_logout"]
    assert not list(at.sidebar.metric)


@pytest.mark.parametrize("claims", [{}, {"email_verified": False}])
def test_an_unverified_admin_address_gets_no_role_and_the_page_says_why(signin_store, claims):
    at = page_for({"sub": "sub-m", "email": ADA, **claims})
    assert at.title[0].value == "You have no role here yet"
    assert "not verified" in at.warning[0].value
