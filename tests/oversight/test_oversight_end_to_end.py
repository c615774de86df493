"""Oversight end to end: every demo goal at every autonomy level, guidance, webhooks (the
progress judge: test_progress_judge.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import storage
from agent_core.models.demo_goals import DEMO_GOALS
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.decisions import decide_many
from agent_core.oversight.policy import ASKS_FOR, Policy
from tests.support.run_helpers import Driver, events_of, new_run, wait_for


class AutoApprover:
    """Approves whatever the run asks, as a person clicking Approve would."""

    def __init__(self, store: storage.Store, run_id: str) -> None:
        self.store, self.run_id = store, run_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(0.05):
            ids = [a.id for a in storage.pending_approvals(self.store, run_id=self.run_id)]
            if ids:
                decide_many(self.store, approval_ids=ids, decision="approve", by="tester")

    def __enter__(self) -> AutoApprover:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


@pytest.mark.parametrize("autonomy", ["manual", "supervised", "autonomous"])
@pytest.mark.parametrize("goal", DEMO_GOALS, ids=lambda g: g.key)
def test_each_demo_goal_at_each_autonomy_level(store, goal, autonomy):
    run = new_run(store, goal.goal, model="demo", autonomy=autonomy)
    with AutoApprover(store, run.id):
        outcome = Driver(store, run).start().join(timeout=60)
    expected = "paused" if goal.key == "drift" else "succeeded"
    assert outcome.status == expected, outcome.reason
    calls = events_of(store, run.id, "tool_call")
    assert calls, "every demo goal uses a tool"
    for call in calls:
        should_ask = call.payload["risk"] in ASKS_FOR[autonomy]
        assert call.payload["verdict"] == ("ask" if should_ask else "allow"), call.payload
    asked = [c for c in calls if c.payload["verdict"] == "ask"]
    assert len(events_of(store, run.id, "approval_decided")) == len(asked)


def test_guidance_reaches_the_model_at_the_next_step(store):
    model = ScriptedModel(
        [
            {
                "text": "working",
                "tool_calls": [{"name": "current_time", "arguments": {}}],
                "delay_s": 0.5,
            },
            "done",
        ]
    )
    run = new_run(store, "tell the time", model="scripted", autonomy="autonomous")
    driver = Driver(store, run, model).start()
    wait_for(lambda: model.calls, what="the first model call")  # guidance lands after it
    control.guide(store, run_id=run.id, by="ivy", message="use UTC please")
    assert driver.join().status == "succeeded"
    guidance = events_of(store, run.id, "guidance")[0].payload
    assert guidance == {"message": "use UTC please", "by": "ivy"}
    assert model.calls[1][-1] == {
        "role": "user",
        "content": "Guidance from a human: use UTC please",
    }


def test_pause_then_resume_with_guidance(store):
    model = ScriptedModel(
        [
            {"tool_calls": [{"name": "current_time", "arguments": {}}], "delay_s": 0.5},
        ]
    )
    run = new_run(store, "slow", model="scripted", autonomy="autonomous")
    driver = Driver(store, run, model).start()
    wait_for(lambda: storage.get_run(store, run_id=run.id).status == "running", what="running")
    control.pause(store, run_id=run.id, by="jo")
    assert driver.join().status == "paused"
    control.resume_run(store, run_id=run.id, by="jo", message="wrap up")
    later = ScriptedModel(["wrapped up"])
    assert Driver(store, storage.get_run(store, run_id=run.id), later).start().join().status == (
        "succeeded"
    )
    assert later.calls[0][-1]["content"] == "Guidance from a human: wrap up"


def test_batch_decisions_report_what_could_not_be_decided(store):
    run = new_run(store, "x", model="scripted")
    ids = [
        storage.create_approval(
            store,
            run_id=run.id,
            request_seq=1,
            tool_call_id=f"c{i}",
            tool="write_file",
            arguments={"path": f"{i}"},
            args_hash="h",
            risk="medium",
        ).id
        for i in range(3)
    ]
    assert decide_many(store, approval_ids=ids[:1], decision="reject", by="kim") == []
    problems = decide_many(store, approval_ids=ids, decision="approve", by="kim", note="batch")
    assert len(problems) == 1 and "already rejected by kim" in problems[0]
    decided = {a.id: a for a in storage.decisions(store, run_id=run.id)}
    assert decided[ids[1]].status == "approved" and decided[ids[1]].note == "batch"
    assert decided[ids[0]].status == "rejected"


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_is_posted_when_a_run_waits_for_a_human(store):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received.clear()
    try:
        policy = Policy(webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook")
        run = new_run(
            store, "Clean up the temporary files in the workspace", model="demo", policy=policy
        )
        driver = Driver(store, run).start()
        pending = driver.pending()
        wait_for(lambda: _Hook.received, timeout=10, what="the webhook")
        control.halt(store, run_id=run.id, by="t")
        driver.join()
    finally:
        server.shutdown()
    message = _Hook.received[0]
    assert message["run_id"] == run.id and pending.summary in message["text"]
    assert message["text"].startswith(f"onloop run {run.id} waits for an approver's decision")
