"""Where the Run page puts a run's state, and how tall its steps make it, in real Chromium.

    python benchmarks/run_page_layout.py                      # this checkout
    python benchmarks/run_page_layout.py --app /tmp/old       # another checkout (before/after)
    python benchmarks/run_page_layout.py --screenshots docs/images

Drives two REAL runs through the worker (agent_core.worker.claim_loop.drive_run) against the
local fake Chat Completions server (tests/support/fake_openai.py), on a temporary SQLite store:
- a 7-step run that writes, rewrites and deletes files and runs a shell line, then answers;
- a run the progress judge pauses for drift after 5 steps (the judge's answer cannot be read).
Then serves `dashboard/app.py` of --app (no worker) and measures, at 1440x900 and 390x844: the
page's full height for each run, and the y of the status and of the drift reason on the paused
run (both must be on the first screen: y + height <= the viewport's height).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
from agent_core.oversight import decisions  # noqa: E402
from agent_core.oversight.monitor_settings import MonitorSettings  # noqa: E402
from agent_core.oversight.policy import Policy  # noqa: E402
from tests.browser.test_journeys import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.fake_openai import FakeOpenAIServer  # noqa: E402
from tests.support.run_helpers import Driver, new_run  # noqa: E402

HEIGHT = "() => document.querySelector('[data-testid=stMain]').scrollHeight"
# The topmost text node that is (exact) or contains `text`: [top, bottom] of its element, or null.
FIRST_TEXT = """([text, exact]) => {
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let best = null;
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const t = n.textContent.trim();
    if (exact ? t !== text : !t.includes(text)) continue;
    const r = n.parentElement.getBoundingClientRect();
    if (r.height && (best === null || r.top < best[0])) best = [r.top, r.bottom];
  }
  return best;
}"""
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
WRITES = [
    {
        "text": "I will write the notes.",
        "tool_calls": [
            {"name": "write_file", "arguments": {"path": "notes.md", "content": "one\ntwo\n"}}
        ],
    },
    {
        "text": "Now I fix the second line.",
        "tool_calls": [
            {
                "name": "write_file",
                "arguments": {"path": "notes.md", "content": "one\nTWO\nthree\n"},
            }
        ],
    },
    {
        "text": "A scratch file.",
        "tool_calls": [
            {"name": "write_file", "arguments": {"path": "scratch.tmp", "content": "scratch\n"}}
        ],
    },
    {
        "text": "Count the lines.",
        "tool_calls": [
            {"name": "run_shell", "arguments": {"command": "wc -l notes.md > count.txt"}}
        ],
    },
    {
        "text": "Read it back.",
        "tool_calls": [{"name": "read_file", "arguments": {"path": "count.txt"}}],
    },
    {
        "text": "Remove the scratch file.",
        "tool_calls": [{"name": "delete_files", "arguments": {"paths": ["scratch.tmp"]}}],
    },
    "Done: notes.md has three lines (count.txt says so); scratch.tmp is gone.",
]


def drive(store: storage.Store, goal: str, judge_every: int, approve: bool) -> str:
    """One run through the real worker code, approving what it asks when `approve`."""
    policy = Policy(monitors=MonitorSettings(judge_every=judge_every))
    run = new_run(
        store, goal, model="openai", model_name="gpt-4o-mini", autonomy="autonomous", policy=policy
    )
    driver = Driver(store, run).start()
    stop = threading.Event()

    def approver() -> None:
        while not stop.is_set():
            for approval in storage.pending_approvals(store, run_id=run.id):
                decisions.approve(store, approval_id=approval.id, by="benchmark")
            time.sleep(0.05)

    helper = threading.Thread(target=approver, daemon=True)
    if approve:
        helper.start()
    driver.join(timeout=120)
    stop.set()
    return run.id


def seed(store: storage.Store, fake: FakeOpenAIServer) -> tuple[str, str]:
    fake.script(list(WRITES))
    done = drive(store, "Write notes.md, count its lines, remove the scratch file", 0, True)
    fake.script(list(WRITES[:5]) + ["not json"])  # the judge's answer after step 5
    paused = drive(store, "Write notes.md, count its lines, remove the scratch file", 5, True)
    return done, paused


def measure(url: str, done: str, paused: str, shots: Path | None) -> dict:
    from playwright.sync_api import sync_playwright

    found: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for size, (width, height) in SIZES.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(120_000)
            for name, run_id in (("finished", done), ("paused", paused)):
                page.goto(f"{url}/?run={run_id}")
                page.get_by_role("heading", name=f"Run {run_id}").wait_for()
                page.get_by_text("model step", exact=False).first.wait_for()
                time.sleep(3)
                row = {"height_px": page.evaluate(HEIGHT)}
                if name == "paused":
                    status = page.evaluate(FIRST_TEXT, ["paused", True])
                    reason = page.evaluate(FIRST_TEXT, ["progress_judge", False])
                    row["status_y"] = round(status[0]) if status else None
                    row["reason_bottom"] = round(reason[1]) if reason else None
                    row["first_screen"] = height
                found[f"{size} {name}"] = row
                if shots is not None and name == "paused":
                    page.screenshot(path=str(shots / f"run-page-{size}.png"))
            page.close()
        browser.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, default=ROOT, help="the checkout whose app is served")
    parser.add_argument("--screenshots", type=Path, default=None, help="folder for PNGs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["ONLOOP_WORKSPACES"] = str(Path(scratch) / "workspaces")
        fake = FakeOpenAIServer().start()
        os.environ["OPENAI_BASE_URL"] = fake.base_url
        os.environ["OPENAI_API_KEY"] = "sk-benchmark"
        db = f"sqlite:///{Path(scratch) / 'onloop.db'}"
        store = storage.open_store(db)
        done, paused = seed(store, fake)
        print(
            json.dumps(
                {
                    "runs": {
                        "finished": storage.get_run(store, run_id=done).status,
                        "paused": storage.get_run(store, run_id=paused).reason,
                    }
                }
            )
        )
        from benchmarks import run_page

        run_page.ROOT = args.app.resolve()
        with run_page.dashboard(db) as (url, _pid):
            print(json.dumps(measure(url, done, paused, args.screenshots), indent=1))


if __name__ == "__main__":
    main()
