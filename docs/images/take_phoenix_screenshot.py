"""Take docs/observability.md's screenshot: a real supervised run's trace in Arize Phoenix's UI.

    python docs/images/take_phoenix_screenshot.py

Starts Phoenix on 127.0.0.1 (tests/support/phoenix_server.py), drives the demo's report goal on
a temporary store with traces (content included) sent to it, approves its write as "alice",
and photographs the trace in Phoenix with Debian's chromium; writes docs/images/phoenix-trace.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
os.environ["ONLOOP_DEMO_DELAY"] = "0"
os.environ["ONLOOP_WORKSPACES"] = tempfile.mkdtemp()

import storage  # noqa: E402
from agent_core.oversight.decisions import approve  # noqa: E402
from agent_core.oversight.policy import Policy  # noqa: E402
from agent_core.telemetry import trace_export  # noqa: E402
from agent_core.worker.claim_loop import drive_run  # noqa: E402
from tests.support.inbox_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.phoenix_server import get, phoenix, spans  # noqa: E402
from tests.support.run_helpers import wait_for  # noqa: E402

PROJECT = "onloop"
GOAL = "Summarise the files in the workspace into report.md"


def traced_run(url: str, folder: str) -> str:
    """The demo's report goal, supervised, traced to Phoenix; its trace id."""
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = url
    os.environ["OTEL_RESOURCE_ATTRIBUTES"] = f"openinference.project.name={PROJECT}"
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
    store = storage.open_store(f"sqlite:///{folder}/screenshot.db")
    run = storage.create_run(
        store, goal=GOAL, model="demo", autonomy="supervised", policy=Policy().model_dump()
    )
    claimed = storage.claim_run(store, run_id=run.id, worker_id="worker-1", lease_seconds=60)
    outcome: list = []
    driver = threading.Thread(target=lambda: outcome.append(drive_run(store, claimed)))
    driver.start()
    pending = wait_for(lambda: storage.pending_approvals(store, run_id=run.id), what="an ask")
    approve(store, approval_id=pending[0].id, by="alice")
    driver.join(60)
    assert outcome and outcome[0].status == "succeeded", outcome
    trace_export.flush(30)
    found = wait_for(lambda: _root(url), timeout=60, what="the trace in Phoenix")
    return found["context"]["trace_id"]


def _root(url: str) -> dict | None:
    try:
        roots = [s for s in spans(url, PROJECT) if s["parent_id"] is None]
    except OSError:
        return None
    return roots[0] if roots else None


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, phoenix(Path(folder)) as url:
        trace_id = traced_run(url, folder)
        project = next(p for p in get(f"{url}/v1/projects")["data"] if p["name"] == PROJECT)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{url}/projects/{project['id']}/traces/{trace_id}")
            page.get_by_text("invoke_agent onloop").first.wait_for()
            page.get_by_text("onloop.approval").first.click()
            page.wait_for_timeout(1500)  # the span's details pane settles
            page.screenshot(path=str(HERE / "phoenix-trace.png"))
            browser.close()
    print(f"wrote {HERE / 'phoenix-trace.png'}")


if __name__ == "__main__":
    main()
