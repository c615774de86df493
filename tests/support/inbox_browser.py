"""The real dashboard (`streamlit run dashboard/app.py` as `onloop up` starts it, no worker) and
Chromium at desktop and phone size, for the inbox's browser test, benchmark and screenshots."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = {"desktop": DESKTOP, "phone": PHONE}


@contextlib.contextmanager
def dashboard(db_url: str) -> Iterator[str]:
    """The dashboard on a free port against `db_url`; stopped afterwards. Yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ONLOOP_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py")]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--server.fileWatcherType", "none", "--client.toolbarMode", "minimal"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read()
                break
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def approve_button(page: Any) -> Any:
    """The selected approval's Approve button (the card's primary control)."""
    actions = page.locator("[class*='st-key-inbox-approval-'][class*='-actions']")
    return actions.locator("button[kind='primary']").filter(has_text="Approve").first


def on_first_screen(page: Any, locator: Any) -> bool:
    """True when `locator` lies wholly inside the viewport with the page scrolled to the top."""
    box = locator.bounding_box()
    size = page.viewport_size
    scrolled = page.evaluate(
        "() => [...document.querySelectorAll('*')].some(e => e.scrollTop > 0 && "
        "!e.closest('.st-key-inbox-list'))"
    )
    return (
        box is not None
        and not scrolled
        and box["y"] >= 0
        and box["x"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] + box["width"] <= size["width"]
    )
