"""How soon people hear of an approval request: from the request written to the store to the
message at a real SMTP server (STARTTLS and a login) and at a webhook receiver, over real runs
(a worker's drive_run with a scripted model whose write asks a person); and to the
`new Notification(...)` in an open dashboard tab (`onloop up`, Debian's Chromium).

Run from the repo root: `python benchmarks/notify.py [--samples 20]`. Needs aiosmtpd and
cryptography (the test extra).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable without installing

import storage  # noqa: E402
from agent_core.models.scripted import ScriptedModel  # noqa: E402
from agent_core.oversight.decisions import approve  # noqa: E402
from agent_core.oversight.notify.sender import SENDER  # noqa: E402
from agent_core.oversight.policy import Policy  # noqa: E402
from agent_core.worker.claim_loop import drive_run  # noqa: E402
from tests.browser.test_journeys import CHROMIUM, CHROMIUM_ARGS, serving  # noqa: E402
from tests.browser.test_run_page_links import paused_run  # noqa: E402
from tests.dashboard.test_browser_notify import ask  # noqa: E402
from tests.support.notification_spy import notes_made, notifying_context  # noqa: E402
from tests.support.notify_receivers import (  # noqa: E402
    SMTP_PASSWORD,
    SMTP_USER,
    HttpReceiver,
    smtp_server,
)

WRITE = {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}


def _policy(smtp_port: int, webhook: str) -> dict:
    notify = {
        "events": ["approval_requested"],
        "webhook": {"url": webhook},
        "email": {
            "host": "127.0.0.1",
            "port": smtp_port,
            "username": SMTP_USER,
            "password_env": "BENCH_SMTP_PASSWORD",
            "from": "onloop@example.org",
            "to": ["ops@example.org"],
        },
    }
    return Policy.model_validate({"notify": notify}).model_dump(mode="json")


def _one_run(store: storage.Store, policy: dict, n: int) -> tuple[float, int]:
    """Start a run, wait for its approval; the request's time (epoch seconds) and its id."""
    run = storage.create_run(store, goal=f"write {n}", model="scripted", policy=policy)
    claimed = storage.claim_next_run(store, worker_id="bench", lease_seconds=300)
    assert claimed is not None and claimed.id == run.id
    model = ScriptedModel([{"tool_calls": [WRITE]}, "done"])
    thread = threading.Thread(
        target=drive_run, args=(store, claimed), kwargs={"model_factory": lambda r: model}
    )
    thread.start()
    while not (pending := storage.pending_approvals(store, run_id=run.id)):
        time.sleep(0.005)
    asked = pending[0]
    requested = asked.requested_at.replace(tzinfo=UTC).timestamp()
    approve(store, approval_id=asked.id or 0, by="benchmark")
    thread.join(30)
    return requested, asked.id or 0


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"


def _browser_tab(samples: int) -> list[float]:
    """Seconds from each approval written to the store to its Notification in an open tab."""
    from playwright.sync_api import sync_playwright

    took = []
    with tempfile.TemporaryDirectory() as folder, serving(Path(folder), dict(os.environ)) as up:
        url, store, _ = up
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = notifying_context(browser).new_page()
            page.goto(url)
            page.get_by_text("Pending approvals").wait_for(timeout=30_000)
            time.sleep(2)  # the tab's first look
            for n in range(samples):
                run = paused_run(store, 0, "waiting")
                time.sleep(random.uniform(0, 1))  # any phase of the tab's refresh
                approval = ask(store, run.id, summary=f"write {n}")
                page.wait_for_function(f"window.onloopNotes.length > {n}", timeout=30_000)
                made = notes_made(page)[n]
                assert made["tag"] == f"onloop-approval-{approval.id}", made
                requested = approval.requested_at.replace(tzinfo=UTC).timestamp()
                took.append(made["at"] / 1000 - requested)
            browser.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, smtp_server(Path(folder)) as smtp:
        port, mailbox, cert = smtp
        os.environ["ONLOOP_SMTP_CA_FILE"] = str(cert)
        os.environ["BENCH_SMTP_PASSWORD"] = SMTP_PASSWORD
        webhook = HttpReceiver()
        store = storage.open_store(f"sqlite:///{folder}/onloop.db")
        policy = _policy(port, f"{webhook.url}/hook")
        mail, hook = [], []
        for n in range(args.samples):
            requested, approval_id = _one_run(store, policy, n)
            got = webhook.wait_for(n + 1)
            arrival = next(r for r in got if r.json()["approval_id"] == approval_id)
            mailbox.wait_for(n + 1)
            # received times are monotonic: turn them into epoch seconds with one offset
            offset = time.time() - time.monotonic()
            hook.append(arrival.at + offset - requested)
            mail.append(mailbox.messages[n][1] + offset - requested)
        SENDER.idle(30)
        webhook.close()
        print(f"{args.samples} approval requests, request written -> message received:")
        print(f"  SMTP (STARTTLS + login): {_percentiles(mail)}")
        print(f"  webhook (HTTP POST):     {_percentiles(hook)}")
    tab = _browser_tab(args.samples)
    print(f"{args.samples} approval requests, written -> Notification constructed in a tab:")
    print(f"  browser tab (Chromium):  {_percentiles(tab)}")
    print(f"  (measured {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
