"""In a real browser: a streaming turn appears on the Run page while the model is still answering,
and gives way to the recorded step once the turn completes."""

from __future__ import annotations

import os

import pytest

import storage
from tests.browser.test_journeys import page, serving  # noqa: F401  (fixture)
from tests.support.fake_openai import Reply
from tests.support.run_helpers import wait_for

pytestmark = pytest.mark.browser
HELD = "Reading the notes first, then I will write the summary."


@pytest.fixture
def onloop_up_openai(tmp_path, fake_openai):
    """`onloop up` whose worker talks to the local fake Chat Completions server."""
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake_openai.base_url}
    env.pop("ONLOOP_DATABASE_URL", None)
    with serving(tmp_path, env) as (url, store, _):
        yield url, store


def test_the_run_page_shows_the_turn_while_it_streams(onloop_up_openai, fake_openai, page):  # noqa: F811
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # a loaded machine renders slowly; still a bounded wait

    url, store = onloop_up_openai
    # Held after the first 32 characters (chunks 1-8 carry 4 each) until the test lets it go.
    fake_openai.script([Reply(text=HELD, hold_at=(9,))])
    run = storage.create_run(store, goal="What do my notes say?", model="openai", model_name="m")
    page.goto(f"{url}/?run={run.id}")
    page.get_by_text(HELD[:32], exact=True).wait_for()
    page.get_by_text("the model is answering", exact=False).first.wait_for()
    assert "model_call" not in [e.kind for e in storage.events_after(store, run_id=run.id)]
    fake_openai.proceed()
    wait_for(lambda: storage.get_run(store, run_id=run.id).status == "succeeded", timeout=60)
    page.get_by_text(HELD, exact=True).first.wait_for()  # the recorded step, in the feed
    expect(page.get_by_text("the model is answering", exact=False)).to_have_count(0)
