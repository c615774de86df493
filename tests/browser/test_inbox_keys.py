"""The inbox in real Chromium at 1440×900 and 390×844: Approve on the first screen, decisions by
keyboard landing in the store, and a put-off approval coming back by itself."""

from __future__ import annotations

import getpass
from datetime import timedelta

import pytest

import storage
from tests.support import dashboard_seed as seed
from tests.support.inbox_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SIZES,
    approve_button,
    dashboard,
    on_first_screen,
)
from tests.support.run_helpers import wait_for

pytestmark = pytest.mark.browser
WAIT_MS = 30_000  # a loaded machine draws slowly; still a bounded wait
ME = f"{getpass.getuser()} (local)"  # no sign-in: the OS user at the keyboard


@pytest.fixture
def served(tmp_path):
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    store = storage.open_store(url)
    with dashboard(url) as address:
        yield address, store
    store.dispose()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _waiting(store: storage.Store, count: int) -> list[storage.Approval]:
    run = seed.make_run(store, status="waiting", goal="Clean up temporary files")
    now = storage.utcnow()
    return [
        seed.make_approval(
            store, run, summary=f"delete file {n}.tmp", requested_at=now - timedelta(minutes=9 - n)
        )
        for n in range(count)
    ]


def _idle(page) -> None:
    """Wait until Streamlit has finished redrawing after the last key (its status widget left)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget").filter(has_text="Running")).to_have_count(0)


def _press_until(page, key: str, done, what: str, tries: int = 3) -> None:
    """Press `key` until `done()` holds, waiting 10 s after each press before pressing again.

    A shortcut pressed while Streamlit swaps the card's buttons (a rerun, or the list's own
    5 s refresh, landing at the same moment) can be dropped, as it would be for a person, who
    presses again. Each press is given far longer than a slow draw takes, so a key that was only
    slow is never pressed twice (X toggles its note field; A would approve the next request).
    """
    for _ in range(tries):
        _idle(page)
        page.keyboard.press(key)
        try:
            wait_for(done, timeout=10, what=what)
            return
        except AssertionError:
            continue
    wait_for(done, timeout=1, what=f"{what} after {tries} presses of {key!r}")


def _shown(locator):
    return lambda: locator.count() > 0 and locator.first.is_visible()


def _open_inbox(browser, url: str, size: dict[str, int]):
    from playwright.sync_api import expect

    page = browser.new_context(viewport=size).new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{url}/approvals")
    expect(approve_button(page)).to_be_visible(timeout=WAIT_MS)
    return page


@pytest.mark.parametrize("size", list(SIZES))
def test_approve_is_on_the_first_screen(served, browser, size):
    url, store = served
    _waiting(store, 3)
    page = _open_inbox(browser, url, SIZES[size])
    assert on_first_screen(page, approve_button(page)), approve_button(page).bounding_box()
    for name in ("Reject", "Edit", "Allow…"):
        actions = page.locator("[class*='st-key-inbox-approval-'][class*='-actions']")
        assert on_first_screen(page, actions.get_by_role("button", name=name).first), name


def test_decisions_by_keyboard_land_in_the_store(served, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    url, store = served
    first, second, third = _waiting(store, 3)
    page = _open_inbox(browser, url, SIZES["desktop"])
    card = page.locator("[class*='st-key-inbox-approval-'][class*='-card']")
    expect(card.get_by_text("delete file 0.tmp")).to_be_visible()
    _press_until(page, "j", _shown(card.get_by_text("delete file 1.tmp")), "the next request")
    _press_until(  # approve: one key
        page,
        "a",
        lambda: storage.get_approval(store, approval_id=second.id).status == "approved",
        "the approval by the A key",
    )
    assert storage.get_approval(store, approval_id=second.id).decided_by == ME
    expect(card.get_by_text("delete file 2.tmp")).to_be_visible()  # the next one is selected
    note = page.get_by_label("Why reject?")  # reject: the note field opens with the cursor in it
    _press_until(page, "x", _shown(note), "the rejection's note field")
    expect(note).to_be_focused()
    page.keyboard.type("keep it for the audit")
    page.keyboard.press("Enter")
    wait_for(
        lambda: storage.get_approval(store, approval_id=third.id).status == "rejected",
        timeout=30,
        what="the rejection sent with Enter",
    )
    assert storage.get_approval(store, approval_id=third.id).note == "keep it for the audit"
    assert storage.get_approval(store, approval_id=first.id).status == "pending"


def test_a_put_off_approval_comes_back_by_itself(served, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    url, store = served
    first, second = _waiting(store, 2)
    storage.snooze_approval(
        store, approval_id=first.id, who=ME, until=storage.utcnow() + timedelta(seconds=15)
    )
    page = _open_inbox(browser, url, SIZES["phone"])
    listing = page.locator(".st-key-inbox-list")
    expect(listing.get_by_text("delete file 1.tmp")).to_be_visible()
    expect(page.get_by_text("1 put off (back at")).to_be_visible()
    assert listing.get_by_text("delete file 0.tmp").count() == 0
    # The list redraws itself every 5 s: once the 15 s are over, it is back without a reload.
    expect(listing.get_by_text("delete file 0.tmp")).to_be_visible(timeout=30_000)
    assert storage.get_approval(store, approval_id=first.id).status == "pending"
