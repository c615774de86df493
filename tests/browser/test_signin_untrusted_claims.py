"""Claims onloop must not trust, from a real OpenID Connect provider, in real Chromium.

tests/oidc/provider.mjs signs ID tokens for people whose claims name an admin's address without
a verified address of their own (`email_verified` "false", 0, or absent) or with a malformed one
(a space, two '@', a Kelvin sign that lower-cases to another admin's ASCII address). None of them
may see anything; each page says why.
"""

from __future__ import annotations

import pytest

from tests.browser.test_signin import shot, sign_in, signed_in_world  # noqa: F401  (fixture)
from tests.support import oidc_provider

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),  # six sign-ins through a real provider on a loaded machine
    pytest.mark.skipif(not oidc_provider.available(), reason="needs node and tests/oidc (.ci/run)"),
]

REFUSED = {
    "mallory": "email_verified",  # "false", a string
    "zero": "email_verified",  # 0
    "spaced": "email",  # " ada@admin.test"
    "twice": "email",  # eve@evil.test@example.test (the viewer domain after the last '@')
    "kelvin": "email",  # "\u212aate@admin.test" lower-cases to kate@admin.test, an admin
}


def test_untrusted_claims_from_a_real_provider_get_no_role_and_say_why(signed_in_world):  # noqa: F811
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    url, _store, browser = signed_in_world
    for login, claim in REFUSED.items():
        page = sign_in(browser, url, login)
        expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
        expect(page.get_by_text(f"provider's `{claim}` claim", exact=False)).to_be_visible()
        expect(page.get_by_text("Pending approvals")).to_have_count(0)
        expect(page.get_by_role("link", name="Policy")).to_have_count(0)
        shot(page, f"refused-{login}")
        page.context.close()
    unset = sign_in(browser, url, "unset")  # no email_verified at all: the address names nobody
    expect(unset.get_by_role("heading", name="You have no role here yet")).to_be_visible()
    expect(unset.get_by_text("not verified", exact=False)).to_be_visible()
    expect(unset.get_by_role("link", name="Policy")).to_have_count(0)
    shot(unset, "unverified")
