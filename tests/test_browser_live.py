"""In a real browser: a streaming turn appears on the Run page while the model is still answering,
and gives way to the recorded step once the turn completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

import storage
from tests.fake_openai import Reply
from tests.run_helpers import wait_for
from tests.test_browser import _free_port, page  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
HELD = "Reading the notes first, then I will write the summary."


@pytest.fixture
def onloop_up_openai(tmp_path, fake_openai):
    """`onloop up` whose worker talks to the local fake Chat Completions server."""
    port = _free_port()
    db = tmp_path / "onloop.db"
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake_openai.base_url}
    env.pop("ONLOOP_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "up", "--port", str(port), "--db", str(db)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    first = process.stdout.readline() if process.stdout else ""
    assert first.startswith("onloop is up: http://127.0.0.1:"), first
    store = storage.open_store(str(db))
    yield f"http://127.0.0.1:{port}", store
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    store.dispose()


def test_the_run_page_shows_the_turn_while_it_streams(onloop_up_openai, fake_openai, page):  # noqa: F811
    from playwright.sync_api import expect

    url, store = onloop_up_openai
    # Held after the first 32 characters (chunks 1-8 carry 4 each) until the test lets it go.
    fake_openai.script([Reply(text=HELD, hold_at=(9,))])
    run = storage.create_run(store, goal="Summarise my notes", model="openai", model_name="m")
    page.goto(f"{url}/run?run={run.id}")
    page.get_by_text(HELD[:32], exact=True).wait_for()
    page.get_by_text("the model is answering", exact=False).first.wait_for()
    assert "model_call" not in [e.kind for e in storage.events_after(store, run_id=run.id)]
    fake_openai.proceed()
    wait_for(lambda: storage.get_run(store, run_id=run.id).status == "succeeded", timeout=60)
    page.get_by_text(HELD, exact=True).first.wait_for()  # the recorded step, in the feed
    expect(page.get_by_text("the model is answering", exact=False)).to_have_count(0)
