"""In Chromium: the sidebar asks for notification permission on a click, a new approval in an
open tab becomes one `new Notification(...)` whose click opens the approval on its run's page,
and a hostile action stays text."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect, sync_playwright

import storage
from tests.browser.test_journeys import CHROMIUM, CHROMIUM_ARGS, serving
from tests.browser.test_run_page_links import paused_run
from tests.dashboard.test_browser_notify import ask
from tests.support.notification_spy import notes_made, notifying_context

pytestmark = pytest.mark.browser
HOSTILE = "rm </script><script>window.pwned = 1</script> \"quoted\" 'single' <b>bold</b>"
ASK = "Notify me in this browser"
# Headless Chromium answers "denied" before anyone asks; a person's browser says "default" until
# they answer. This makes it so, and records whether the request came with a live user gesture.
NOT_ASKED_YET = """
(() => {
  const permission = Object.getOwnPropertyDescriptor(Notification, "permission").get;
  const request = Notification.requestPermission.bind(Notification);
  let asked = false;
  Object.defineProperty(Notification, "permission", {
    configurable: true, get: () => (asked ? permission.call(Notification) : "default"),
  });
  Notification.requestPermission = () => {
    asked = true;
    window.onloopGesture = navigator.userActivation.isActive;
    return request();
  };
})();
"""


@pytest.fixture
def dashboard(tmp_path):
    with serving(tmp_path, dict(os.environ)) as (url, store, _):
        yield url, store


@pytest.fixture
def chromium():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def test_a_new_approval_notifies_once_and_its_click_opens_it(dashboard, chromium):
    url, store = dashboard
    run = paused_run(store, 0, "waiting")
    page = notifying_context(chromium).new_page()
    page.set_default_timeout(30_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.get_by_text("Pending approvals").wait_for()
    expect(page.get_by_role("button", name=ASK)).to_be_hidden()  # allowed already
    page.wait_for_timeout(1500)  # the tab's first look: what waits already is not news
    approval = ask(store, run.id, summary=HOSTILE)
    page.wait_for_function("window.onloopNotes.length > 0")
    page.wait_for_timeout(2500)  # more refreshes: still one
    [note] = notes_made(page)
    assert note["tag"] == f"onloop-approval-{approval.id}"
    assert note["title"] == f"onloop run {run.id} waits for an approver's decision"
    assert note["body"] == f"{HOSTILE} (risk high)"  # text, as written
    assert page.evaluate("window.pwned") is None and dialogs == []
    page.evaluate("window.onloopMade[0].dispatchEvent(new Event('click'))")
    page.get_by_role("heading", name=f"Run {run.id}").wait_for()
    assert f"run={run.id}" in page.url
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"


def test_the_control_asks_on_a_click_and_says_when_blocked(dashboard, chromium):
    url, _ = dashboard
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(NOT_ASKED_YET)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    page.get_by_text("New approvals for your role").wait_for()
    ask_button = page.get_by_role("button", name=ASK)
    ask_button.click()  # headless Chromium answers the request with "denied"
    expect(ask_button).to_be_hidden()
    assert page.evaluate("window.onloopGesture") is True  # asked within the click itself
    expect(page.get_by_role("status").filter(has_text="blocked for this site")).to_be_visible()
