"""Take the README's screenshots: `onloop up` with the demo model, Debian's chromium.

    python docs/images/take_screenshots.py

Launches three demo goals on a temporary store, photographs the Run page of the report once
it succeeded, then the Approvals inbox with the runs that wait at 1440×900
and at phone size (390×844); writes docs/images/run-page.png, approvals.png and
approvals-phone.png.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_idle(page: Page) -> None:
    expect(page.get_by_test_id("stStatusWidget").filter(has_text="Running")).to_have_count(0)


def launch(page: Page, url: str, title: str) -> str:
    page.goto(url)
    for _ in range(3):
        wait_idle(page)
        page.get_by_role("button", name=title).click()
        try:
            expect(page.get_by_label("Goal")).not_to_have_value("", timeout=10_000)
            break
        except AssertionError:
            continue
    page.get_by_role("button", name="Launch run").click()
    page.wait_for_url(re.compile(r"run=[0-9a-f]+"))
    return re.search(r"run=([0-9a-f]+)", page.url).group(1)  # type: ignore[union-attr]


def settle(page: Page) -> None:
    """Let the page finish drawing (and the toasts fade) before the photograph."""
    wait_idle(page)
    time.sleep(6)
    wait_idle(page)


def main() -> None:
    expect.set_options(timeout=60_000)
    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        env = {**os.environ, "ONLOOP_DEMO_DELAY": "0.3"}
        env.pop("OPENAI_API_KEY", None)
        env.pop("OPENAI_BASE_URL", None)
        up = subprocess.Popen(
            [sys.executable, "-m", "agent_core", "up", "--port", str(port), "--concurrency", "4"],
            cwd=scratch,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            first = up.stdout.readline() if up.stdout else ""
            if not first.startswith("onloop is up"):
                raise SystemExit(f"onloop up did not start: {first}")
            url = f"http://127.0.0.1:{port}"
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                page = browser.new_page(viewport=VIEWPORT)
                page.set_default_timeout(60_000)
                launch(page, url, "Extract invoice totals")
                launch(page, url, "Clean up temporary files")
                run_id = launch(page, url, "Summarise the workspace")
                # Writing its own workspace's report.md needs nobody under `supervised`.
                expect(page.get_by_text("Succeeded", exact=False).first).to_be_visible()
                page.goto(f"{url}/?run={run_id}")
                page.get_by_text("wrote report.md", exact=False).first.wait_for()
                settle(page)
                # The goal, the outcome and budgets, then as many steps as fit below them.
                page.get_by_role("heading", name=f"Run {run_id}").evaluate(
                    "e => e.scrollIntoView({block: 'start'})"
                )
                time.sleep(1)
                page.screenshot(path=str(HERE / "run-page.png"))
                page.goto(f"{url}/approvals")
                expect(page.get_by_text("Waiting for you")).to_be_visible()
                settle(page)
                page.screenshot(path=str(HERE / "approvals.png"))
                phone = browser.new_page(viewport=PHONE)
                phone.set_default_timeout(60_000)
                phone.goto(f"{url}/approvals")
                expect(phone.get_by_text("Waiting for you")).to_be_visible()
                settle(phone)
                phone.screenshot(path=str(HERE / "approvals-phone.png"))
                print(f"run {run_id}: wrote run-page.png, approvals.png, approvals-phone.png")
                browser.close()
        finally:
            up.send_signal(signal.SIGINT)
            up.communicate(timeout=30)


if __name__ == "__main__":
    main()
