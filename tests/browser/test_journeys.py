"""Real-browser journeys: `onloop up` on a free port, Debian's chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import storage
from tests.support.run_helpers import wait_for

pytestmark = pytest.mark.browser
# The inbox's Approve has the shortcut A, which its accessible name includes.
APPROVE = re.compile(r"^Approve( Shortcut A)?$")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(
    tmp_path, env: dict[str, str]
) -> Iterator[tuple[str, storage.Store, list[tuple[int | None, str]]]]:
    """`onloop up` on a free port against a temporary store; Ctrl-C (SIGINT) afterwards.
    Yields the URL, the store, and a list that gets (exit code, output) once it stopped."""
    port = _free_port()
    db = tmp_path / "onloop.db"
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
    stopped: list[tuple[int | None, str]] = []
    try:
        yield f"http://127.0.0.1:{port}", store, stopped
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, _ = process.communicate(timeout=30)
            stopped.append((process.returncode, out))
        finally:
            if process.poll() is None:
                process.kill()
        store.dispose()


@pytest.fixture
def onloop_up(tmp_path):
    """`onloop up` with the demo model, which stops cleanly on Ctrl-C."""
    env = {**os.environ, "ONLOOP_DEMO_DELAY": "0.6"}
    with serving(tmp_path, env) as (url, store, stopped):
        yield url, store
    code, out = stopped[0]
    assert code == 0 and "onloop stopped" in out


@pytest.fixture
def page(request):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        browser.close()


def _wait_until_idle(page) -> None:
    """Wait until Streamlit has finished running the page's script (its status widget is gone)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget").filter(has_text="Running")).to_have_count(0)


def _launch_demo(page, url: str, title: str, autonomy: str | None = None) -> str:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # a loaded machine renders slowly; still a bounded wait

    page.goto(url)
    goal = page.get_by_label("Goal")
    # The click reruns the script, which fills the goal; launch only once it shows. A click that
    # lands while the first run of the page is still redrawing its buttons can be lost (seen once
    # on a loaded CI machine): as a person would, click again, at most three times.
    for attempt in range(3):
        _wait_until_idle(page)
        page.get_by_role("button", name=title).click()
        try:
            expect(goal).not_to_have_value("", timeout=10_000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    if autonomy:
        page.get_by_text(autonomy, exact=True).first.click()
    page.get_by_role("button", name="Launch run").click()
    page.wait_for_url(re.compile(r"run=[0-9a-f]+"))
    return re.search(r"run=([0-9a-f]+)", page.url).group(1)


def test_supervised_demo_runs_its_edits_and_asks_before_deleting(onloop_up, page):
    url, store = onloop_up
    report = _launch_demo(page, url, "Summarise the workspace")
    # Steps arrive on the run page without a reload; reading and writing its own workspace's
    # files needs nobody under `supervised`.
    page.get_by_text("list_files").first.wait_for()
    page.get_by_text("read_file").first.wait_for()
    wait_for(
        lambda: storage.get_run(store, run_id=report).status == "succeeded",
        timeout=60,
        what="the report run to succeed unasked",
    )
    assert storage.decisions(store, run_id=report) == []
    assert (Path(storage.get_run(store, run_id=report).workspace) / "report.md").exists()
    run_id = _launch_demo(page, url, "Clean up temporary files")
    wait_for(lambda: storage.count_pending_approvals(store), timeout=60, what="the approval")
    page.get_by_role("link", name=re.compile("Approvals")).first.click()
    page.get_by_text(re.compile(r"delete 5 files")).first.wait_for()
    page.get_by_text(re.compile(r"deletes 5 files at once \(destructive\)")).first.wait_for()
    page.get_by_role("button", name=APPROVE).first.click()
    wait_for(
        lambda: storage.get_run(store, run_id=run_id).status == "succeeded",
        timeout=60,
        what="the run to succeed",
    )
    page.goto(f"{url}/?run={run_id}")
    page.get_by_text("Succeeded", exact=False).first.wait_for()
    decided = storage.decisions(store, run_id=run_id)
    assert decided[0].status == "approved" and decided[0].tool == "delete_files"
    assert decided[0].call_class == "destructive"
    workspace = Path(storage.get_run(store, run_id=run_id).workspace)
    assert not (workspace / "build.tmp").exists()


def test_halt_from_the_run_page_stops_further_steps(onloop_up, page):
    url, store = onloop_up
    run_id = _launch_demo(page, url, "Wait for a build (drifts on purpose)")
    page.get_by_text("build_status.txt").first.wait_for()
    page.get_by_role("button", name="Halt").click()
    page.get_by_role("button", name="Yes, halt it").click()
    wait_for(
        lambda: storage.get_run(store, run_id=run_id).status == "halted",
        timeout=30,
        what="the halt",
    )
    steps = len(storage.events_after(store, run_id=run_id))
    page.get_by_text("Halted", exact=False).first.wait_for()
    time.sleep(2.0)  # a running demo model would have taken about three more steps by now
    assert len(storage.events_after(store, run_id=run_id)) == steps
    assert storage.get_run(store, run_id=run_id).status == "halted"
