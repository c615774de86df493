"""In real Chromium at desktop (1440x900) and phone (390x844) size: a run paused for drift shows
its status, the drift monitor's reason and the next step on the first screen, without scrolling."""

from __future__ import annotations

import os
import re

import pytest

import storage
from tests.browser.test_journeys import page, serving  # noqa: F401  (fixture)
from tests.browser.test_run_page_links import paused_run

pytestmark = pytest.mark.browser
DETAIL = "read_file called 4 times with the same arguments"


@pytest.fixture
def dashboard(tmp_path):
    with serving(tmp_path, dict(os.environ)) as (url, store, _):
        yield url, store


@pytest.mark.parametrize("size", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
def test_a_paused_runs_state_and_reason_are_on_the_first_screen(dashboard, page, size):  # noqa: F811
    url, store = dashboard
    run = paused_run(store, 30)  # enough steps below to make a long page
    storage.append_event(
        store,
        run_id=run.id,
        kind="drift",
        payload={"monitor": "repetition", "detail": DETAIL, "action": "pause"},
    )
    storage.update_run(store, run_id=run.id, reason=f"repetition: {DETAIL}")
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{url}/?run={run.id}")
    state = page.locator(f".st-key-run_state_{run.id}")
    state.get_by_text(DETAIL, exact=False).wait_for()
    for shown in (
        state.get_by_text(re.compile(r"paused$")),
        state.get_by_text(DETAIL, exact=False),
        state.get_by_text("Next:", exact=False),
        page.get_by_role("button", name="Resume"),
    ):
        box = shown.first.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, box
    assert page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTop") == 0
