"""In a real browser: a run's deep link loads without a failed request, older `/run?run=` links
still open the run, and steps written while the page is open each show once, in order."""

from __future__ import annotations

import os
import re
import time

import pytest
from playwright.sync_api import expect

import storage
from dashboard.components.event_feed import FOLD_AFTER, PAGE_SIZE
from tests.browser.test_journeys import page, serving  # noqa: F401  (fixture)
from tests.support.run_helpers import wait_for

pytestmark = pytest.mark.browser
STAMP = re.compile(r"#(\d+) · \d\d:\d\d:\d\d UTC")
CAPTIONS = (
    "Array.from(document.querySelectorAll('[data-testid=stCaptionContainer]'), e => e.innerText)"
)


@pytest.fixture
def dashboard(tmp_path):
    with serving(tmp_path, dict(os.environ)) as (url, store, _):
        yield url, store


def paused_run(store: storage.Store, events: int, status: str = "paused") -> storage.Run:
    """A run no worker touches (paused, or marked running with no worker driving it), with
    `events` guidance events after its status event."""
    for _ in range(20):
        run = storage.create_run(store, goal="Watch me")
        storage.update_run(store, run_id=run.id, status=status, reason=f"{status} by a test")
        # `onloop up`'s worker looks for queued runs every 0.1 s: it may claim this one between
        # its creation and the status change. Such a run is left to the worker; take another.
        if storage.get_run(store, run_id=run.id).claim_epoch == 0:
            break
    else:
        raise AssertionError("the worker claimed every run before the test could set its status")
    for i in range(events):
        storage.append_event(store, run_id=run.id, kind="guidance", payload={"message": f"m{i}"})
    return run


def shown_seqs(page) -> list[int]:  # noqa: F811
    return [int(m.group(1)) for text in page.evaluate(CAPTIONS) if (m := STAMP.search(text))]


def test_a_deep_link_loads_without_failed_requests_and_old_links_still_open(dashboard, page):  # noqa: F811
    url, store = dashboard
    run = paused_run(store, 3)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(f"{url}/?run={run.id}")
    page.get_by_role("heading", name=f"Run {run.id}").wait_for()
    page.get_by_text("m2", exact=True).wait_for()
    time.sleep(1.5)  # a few refreshes of the live part
    assert failed == []
    page.goto(f"{url}/run?run={run.id}")  # a link from before: still the run, at its new address
    page.get_by_role("heading", name=f"Run {run.id}").wait_for()
    page.wait_for_url(re.compile(rf"{re.escape(url)}/\?run={run.id}$"))
    # No "page not found" dialog covers it: its widgets take input (it left them inert once).
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_label("Guidance for the agent").fill("Keep it short.")


@pytest.mark.parametrize("status", ["paused", "running"])  # running: the held refresh appends
def test_steps_written_while_the_page_is_open_show_once_in_order(dashboard, page, status):  # noqa: F811
    url, store = dashboard
    run = paused_run(store, 5, status)
    page.goto(f"{url}/?run={run.id}")
    page.get_by_text("m4", exact=True).wait_for()
    final = 4 + PAGE_SIZE + FOLD_AFTER + 30  # past the tail's fold
    for i in range(5, final + 1):  # in bursts the refresh catches in between
        storage.append_event(store, run_id=run.id, kind="guidance", payload={"message": f"m{i}"})
        if i % 10 == 0:
            time.sleep(0.3)
    last = storage.get_run(store, run_id=run.id).last_seq
    page.get_by_text(f"m{final}", exact=True).wait_for()
    wait_for(lambda: shown_seqs(page)[-1:] == [last], timeout=30, what="the last step")
    seqs = shown_seqs(page)
    assert seqs == list(range(seqs[0], last + 1))  # each once, in order, none missing
    assert len(seqs) <= PAGE_SIZE + FOLD_AFTER  # one page and at most one tail
