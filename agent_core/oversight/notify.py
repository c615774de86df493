"""Telling people a run waits for them: a webhook POST (Slack-compatible JSON) off the loop's thread."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from typing import Any

log = logging.getLogger("onloop.notify")
TIMEOUT_S = 5.0


def waiting_message(run_id: str, goal: str, summary: str, reason: str) -> dict[str, Any]:
    text = (
        f"onloop run {run_id} is waiting for approval: {summary}\n"
        f"why it asks: {reason}\ngoal: {goal[:200]}\n"
        f"decide in the dashboard (Approvals) or: onloop approve {run_id} / onloop reject {run_id}"
    )
    return {"text": text, "run_id": run_id, "summary": summary, "reason": reason, "goal": goal}


def post_webhook(url: str, message: dict[str, Any]) -> threading.Thread:
    """POST the message in the background; a failing webhook is logged, never fatal to the run."""

    def send() -> None:
        request = urllib.request.Request(
            url,
            data=json.dumps(message).encode("utf-8"),
            headers={"Content-Type": "application/json", "User-Agent": "onloop"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:
                reply.read(1024)
        except (OSError, ValueError) as exc:
            log.warning("webhook %s failed: %s", url, exc)

    thread = threading.Thread(target=send, name="webhook", daemon=True)
    thread.start()
    return thread
