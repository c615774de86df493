"""A run tells people through its policy's [notify] channels without ever waiting for them: a
receiver that hangs and one that is down do not hold the run, and both deliveries are recorded."""

from __future__ import annotations

import storage
from agent_core.oversight.decisions import approve
from agent_core.oversight.notify import sender
from agent_core.oversight.notify.sender import SENDER
from agent_core.oversight.policy import Policy
from tests.support.notify_receivers import HttpReceiver, free_port
from tests.support.run_helpers import Driver, new_run, wait_for

REPORT = "Summarise the files in the workspace into report.md"


def test_the_run_finishes_while_its_receiver_still_hangs(store, monkeypatch):
    monkeypatch.setattr(sender, "BACKOFF_S", 0.01)
    slow = HttpReceiver()
    slow.hold.set()
    try:
        policy = Policy.model_validate(
            {
                "notify": {
                    "webhook": {"url": f"{slow.url}/hook"},
                    "slack": {"url": f"http://127.0.0.1:{free_port()}/down"},
                }
            }
        )
        run = new_run(store, REPORT, model="demo", policy=policy)
        driver = Driver(store, run).start()
        pending = driver.pending()
        wait_for(lambda: slow.waiting >= 1, what="the webhook receiver holding the request")
        approve(store, approval_id=pending.id, by="alice")
        assert driver.join().status == "succeeded"
        assert slow.received == [] and slow.waiting >= 1  # still hanging: the run did not wait
        slow.release.set()
        assert SENDER.idle(60)
    finally:
        slow.close()
    done = storage.deliveries(store, run_id=run.id)
    by = {(d.event, d.channel): d for d in done}
    assert by[("approval_requested", "webhook")].ok
    assert by[("run_finished", "webhook")].ok
    assert not by[("approval_requested", "slack")].ok
    assert "could not reach" in (by[("run_finished", "slack")].error or "")
    hooks = [r.json() for r in slow.received]
    assert {h["event"] for h in hooks} == {"approval_requested", "run_finished"}
    asked = next(h for h in hooks if h["event"] == "approval_requested")
    assert asked["approval_id"] == pending.id and "report.md" in asked["summary"]
    assert asked["risk"] == "medium" and asked["role"] == "approver"


def test_an_old_policy_s_webhook_url_still_gets_the_message(store):
    receiver = HttpReceiver()
    try:
        policy = Policy.model_validate({"webhook_url": f"{receiver.url}/old"})
        run = new_run(store, REPORT, model="demo", policy=policy)
        driver = Driver(store, run).start()
        pending = driver.pending()
        [got] = receiver.wait_for(1)
        approve(store, approval_id=pending.id, by="alice")
        driver.join()
        assert SENDER.idle(60)
    finally:
        receiver.close()
    message = got.json()
    assert got.path == "/old" and message["run_id"] == run.id
    assert {"text", "summary", "reason", "goal"} <= set(message)
