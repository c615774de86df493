"""From an approval request to the Approve control on the inbox's first screen, in real Chromium.

    python benchmarks/inbox.py              # 20 samples at 1440×900 and at 390×844
    python benchmarks/inbox.py --samples 40

The real dashboard (`streamlit run dashboard/app.py` as `onloop up` starts it, without a worker)
on a temporary SQLite store, the Approvals page open in Debian's chromium at each size. Each
sample empties the inbox, writes one approval request the way a worker does (the
approval_requested event, then the approvals row), and measures until the new approval's Approve
button is drawn wholly inside the viewport with the page unscrolled (checked on every animation
frame in the page; the clock is the machine's, shared by both processes). Then it counts the keys
a decision takes: A approves; X, Enter rejects (with a note typed in between, if wanted); N, 2
puts it off for an hour. Target: p95 <= 1.5 s at both sizes; a decision in <= 2 keystrokes.
"""

from __future__ import annotations

import argparse
import getpass
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import storage  # noqa: E402
from tests.support import dashboard_seed as seed  # noqa: E402
from tests.support.inbox_browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    SIZES,
    dashboard,
)

ME = f"{getpass.getuser()} (local)"  # no sign-in: the OS user at the keyboard
ON_FIRST_SCREEN = """(id) => {
  const button = document.querySelector(`.st-key-inbox-approval-${id}-approve button`);
  if (!button) return false;
  const r = button.getBoundingClientRect();
  const unscrolled = document.querySelector('[data-testid="stMain"]')?.scrollTop === 0;
  const inside = r.width > 0 && r.top >= 0 && r.left >= 0 &&
    r.bottom <= window.innerHeight && r.right <= window.innerWidth;
  return unscrolled && inside ? Date.now() : false;
}"""


def clear(store: storage.Store) -> None:
    for approval in storage.pending_approvals(store):
        assert approval.id is not None
        storage.decide_approval(
            store, approval_id=approval.id, decision="rejected", decided_by="benchmark"
        )


def sample(page, store: storage.Store, run: storage.Run) -> float:
    """Seconds from the request's write to its Approve button on the first screen."""
    clear(store)
    page.get_by_text("No approvals waiting").first.wait_for()
    started = time.time() * 1000
    approval = seed.make_approval(store, run, summary="delete 3 files: a.tmp, b.tmp, c.tmp")
    seen = page.wait_for_function(ON_FIRST_SCREEN, arg=approval.id, polling="raf", timeout=30_000)
    return (seen.json_value() - started) / 1000


def keystrokes(page, store: storage.Store, run: storage.Run) -> dict[str, int]:
    """Keys pressed until each kind of decision was in the store."""
    counts = {}
    for name, keys, done in (
        ("approve", ["a"], lambda a: a.status == "approved"),
        ("reject (note optional)", ["x", "Enter"], lambda a: a.status == "rejected"),
        ("not now, 1 h", ["n", "2"], lambda a: storage.snoozed_approvals(store, who=ME)),
    ):
        clear(store)
        page.get_by_text("No approvals waiting").first.wait_for()
        approval = seed.make_approval(store, run)
        page.wait_for_function(ON_FIRST_SCREEN, arg=approval.id, polling="raf", timeout=30_000)
        for key in keys:
            page.keyboard.press(key)
            if key == "x":
                page.get_by_label("Why reject?").wait_for()
            if key == "n":
                page.get_by_role("button", name="1 h").wait_for()
        assert approval.id is not None
        deadline = time.monotonic() + 30
        while not done(storage.get_approval(store, approval_id=approval.id)):
            assert time.monotonic() < deadline, f"{name}: no decision after {keys}"
            time.sleep(0.05)
        counts[name] = len(keys)
    storage.unsnooze_approvals(store, who=ME)
    return counts


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'onloop.db'}"
        store = storage.open_store(url)
        run = seed.make_run(store, status="waiting", goal="Clean up temporary files")
        with dashboard(url) as address, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, size in SIZES.items():
                page = browser.new_context(viewport=size).new_page()
                page.set_default_timeout(30_000)
                clear(store)
                page.goto(f"{address}/approvals")
                page.get_by_text("No approvals waiting").first.wait_for()
                sample(page, store, run)  # warm-up, not counted
                times = sorted(sample(page, store, run) for _ in range(args.samples))
                p50 = statistics.median(times)
                p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
                print(
                    f"{name} {size['width']}x{size['height']}: request -> Approve on the first "
                    f"screen, {len(times)} samples: p50 {p50:.2f} s, p95 {p95:.2f} s, "
                    f"max {times[-1]:.2f} s"
                )
                if name == "desktop":
                    for decision, count in keystrokes(page, store, run).items():
                        print(f"  keystrokes to {decision}: {count}")
                page.close()
            browser.close()
        store.dispose()


if __name__ == "__main__":
    main()
