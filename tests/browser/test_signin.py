"""Sign-in through a real OpenID Connect provider, in real Chromium, against `onloop up`.

The provider (tests/oidc/provider.mjs, the npm package oidc-provider) runs on 127.0.0.1 with its
own login form; the dashboard is `onloop up --auth-config` with Streamlit's st.login.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

import storage
from tests.browser.test_journeys import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _free_port, _launch_demo
from tests.support import oidc_provider
from tests.support.run_helpers import wait_for
from tests.support.signin_helpers import CLIENT_SECRET, COOKIE_SECRET, write_signin_file

pytestmark = [
    pytest.mark.browser,
    # Four sign-ins through a real provider and a demo run: minutes on a loaded machine.
    pytest.mark.timeout(480),
    pytest.mark.skipif(not oidc_provider.available(), reason="needs node and tests/oidc (.ci/run)"),
]
ONLY_LOCAL = re.compile(r"^(?!https?://127\.0\.0\.1[:/])")  # fonts.googleapis.com and the like
# The inbox's Approve has the shortcut A, which its accessible name includes.
APPROVE = re.compile(r"^Approve( Shortcut A)?$")
REJECT = re.compile(r"^Reject( Shortcut X)?$")


@pytest.fixture
def signed_in_world(tmp_path):
    """The provider, `onloop up --auth-config` bound to it, and a browser; yields all three."""
    from playwright.sync_api import sync_playwright

    port, provider_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{port}"
    with oidc_provider.running_provider(
        provider_port, f"{url}/oauth2callback", CLIENT_SECRET
    ) as issuer:
        signin = write_signin_file(tmp_path, issuer=issuer, port=port)
        db = tmp_path / "onloop.db"
        env = {**os.environ, "ONLOOP_DEMO_DELAY": "0"}
        env.pop("ONLOOP_AUTH", None)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agent_core",
                "up",
                "--port",
                str(port),
                "--db",
                str(db),
                "--auth-config",
                str(signin),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        first = process.stdout.readline() if process.stdout else ""
        assert first.startswith(f"onloop is up: {url}"), first
        store = storage.open_store(str(db))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                yield url, store, browser
                browser.close()
        finally:
            process.send_signal(signal.SIGINT)
            out, _ = process.communicate(timeout=30)
            store.dispose()
        for secret in (COOKIE_SECRET, CLIENT_SECRET):
            assert secret not in first + out  # onloop's own output never shows them


def sign_in(browser, url: str, login: str):
    """A fresh browser (no cookies) signing in through the provider's own login form."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route(ONLY_LOCAL, lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.locator("button:has-text('Continue'), [data-testid=stSidebar], h1").first.wait_for()
    if page.url.startswith(url) is False and page.get_by_role("button", name="Continue").count():
        page.get_by_role("button", name="Continue").click()  # the provider's consent prompt
    page.wait_for_url(re.compile(re.escape(url)))
    return page


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"signin-{name}.png"), full_page=True)


def test_an_approver_approves_a_viewer_cannot_and_the_audit_names_the_approver(signed_in_world):
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # a loaded machine renders slowly; still a bounded wait

    url, store, browser = signed_in_world
    april = sign_in(browser, url, "april")
    expect(april.get_by_text("april@example.test · approver")).to_be_visible()
    run_id = _launch_demo(april, url, "Clean up temporary files")  # a destructive delete asks
    wait_for(lambda: storage.count_pending_approvals(store), timeout=90, what="the approval")

    vic = sign_in(browser, url, "vic")
    expect(vic.get_by_text("vic@example.test · viewer")).to_be_visible()
    expect(vic.get_by_role("link", name="Launch")).to_have_count(0)
    expect(vic.get_by_role("link", name="Policy")).to_have_count(0)
    vic.goto(f"{url}/approvals")
    vic.get_by_text(re.compile(r"delete 5 files")).first.wait_for()
    expect(vic.get_by_role("button", name=APPROVE).first).to_be_disabled()
    expect(vic.get_by_role("button", name=REJECT).first).to_be_disabled()
    shot(vic, "viewer-approvals")
    vic.goto(f"{url}/run?run={run_id}")
    expect(vic.get_by_role("button", name="Halt")).to_be_disabled()
    expect(vic.get_by_role("button", name="Pause")).to_be_disabled()
    shot(vic, "viewer-run")
    assert storage.count_pending_approvals(store) == 1

    otto = sign_in(browser, url, "otto")  # an operator: steers, cannot decide
    otto.goto(f"{url}/run?run={run_id}")
    expect(otto.get_by_role("button", name=APPROVE).first).to_be_disabled()
    otto.get_by_label("Guidance for the agent").fill("Keep the rest of the files.")
    otto.get_by_role("button", name="Send guidance").click()
    otto.get_by_text("Guidance sent").wait_for()
    otto_label = "otto@ops.test (sub otto)"
    (guidance,) = storage.command_history(store, run_id=run_id)
    assert (guidance.kind, guidance.created_by) == ("guidance", otto_label)

    april.goto(f"{url}/approvals")
    april.get_by_role("button", name=APPROVE).first.click()
    wait_for(
        lambda: storage.get_run(store, run_id=run_id).status == "succeeded",
        timeout=90,
        what="the run to succeed",
    )
    april_label = "april@example.test (sub april)"
    run = storage.get_run(store, run_id=run_id)
    (decision,) = storage.decisions(store, run_id=run_id)
    assert (run.created_by, decision.decided_by) == (april_label, april_label)
    april.goto(f"{url}/run?run={run_id}")
    april.get_by_text(f"launched by {april_label}", exact=False).first.wait_for()
    shot(april, "approver-run")
    audit = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent_core",
            "audit",
            "--run",
            run_id,
            "--db",
            str(store.url).removeprefix("sqlite:///"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"launched by {april_label}" in audit.stdout, audit.stdout + audit.stderr
    assert f"guidance by {otto_label}" in audit.stdout
    assert f"approved by {april_label}" in audit.stdout

    sign_out(april)
    april.get_by_role("button", name="Sign in").wait_for()
    shot(april, "signed-out")


def sign_out(page) -> None:
    """Sign out and confirm. A click that lands while the sidebar's self-refreshing parts rerun
    can be dropped by Streamlit (as a person would, click again): up to three tries for the
    confirmation to appear, then it must be there."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    confirm = page.get_by_role("button", name="Yes, sign me out")
    for _ in range(3):
        page.get_by_role("button", name="Sign out").click()
        try:
            confirm.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            continue
    confirm.click()


def test_a_person_without_a_role_sees_only_ask_an_admin(signed_in_world):
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # a loaded machine renders slowly; still a bounded wait

    url, _store, browser = signed_in_world
    nobody = sign_in(browser, url, "nobody")
    expect(nobody.get_by_text("You have no role here yet")).to_be_visible()
    expect(nobody.get_by_text("Pending approvals")).to_have_count(0)
    shot(nobody, "no-role")
