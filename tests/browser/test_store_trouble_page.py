"""In a real browser: the Live page's self-refreshing board meets a store file moved away under the
dashboard, shows the banner (never Streamlit's exception box) while it keeps refreshing, and comes
back by itself once the same file is moved back."""

from __future__ import annotations

import os

import pytest

import storage
from tests.browser.test_journeys import page  # noqa: F401  (fixture)
from tests.support.dashboard_fixtures import make_run
from tests.support.inbox_browser import dashboard

pytestmark = pytest.mark.browser
GOAL = "Tidy the reports folder"
BANNER = "was deleted (moved away or removed) while this dashboard was open"


def test_the_live_board_shows_the_banner_and_recovers_by_itself(tmp_path, page):  # noqa: F811
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # a loaded machine renders slowly; still a bounded wait
    db = tmp_path / "onloop.db"
    with storage.open_store(f"sqlite:///{db}") as store:
        make_run(store, "running", goal=GOAL)
    with dashboard(f"sqlite:///{db}") as url:
        page.goto(f"{url}/live")
        expect(page.get_by_text(GOAL).first).to_be_visible()
        os.rename(db, tmp_path / "moved-away.db")  # no reload: the board's own refresh meets it
        expect(page.get_by_text(BANNER).first).to_be_visible()
        expect(page.get_by_test_id("stException")).to_have_count(0)
        assert not db.exists()  # the dashboard created no empty store in its place
        os.rename(tmp_path / "moved-away.db", db)
        expect(page.get_by_text(BANNER)).to_have_count(0)
        expect(page.get_by_text(GOAL).first).to_be_visible()
        expect(page.get_by_test_id("stException")).to_have_count(0)
