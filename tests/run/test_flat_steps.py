"""A long run costs the same per step at step 1,000 (300 in the fast loop) as at step 10, by count, not by clock: the
SQL statements a step runs and the messages a model call serialises do not grow with the run.

One real run (the worker's drive_run, the SQLite store, the drift monitors, the progress judge)
of 1,000 model calls that write notes in the workspace and read them back, with a model that
builds its request as the openai provider does (models/messages.encoded_messages)."""

from __future__ import annotations

import json
import statistics
import threading
from collections import Counter

import pytest
from sqlalchemy import event

import storage
from agent_core.models import messages as message_json
from agent_core.models.base import ModelTurn, ToolCallRequest
from agent_core.models.messages import Transcript, encoded_messages
from agent_core.oversight.judge import JUDGE_PROMPT
from agent_core.worker.claim_loop import drive_run
from tests.support.run_helpers import new_run


class NoteTaker:
    """Writes note n, reads it back, and so on; then finishes. Judged like a real model (its
    provider is not a script's); each call's request body is built as the openai provider's."""

    provider = "flat"
    model_name = "flat"

    def __init__(self, steps: int, dumped: list[int]) -> None:
        self.steps = steps
        self.dumped = dumped  # messages serialised so far, all calls
        self.calls: list[tuple[int, int, bool]] = []  # (step, messages serialised, transcript?)
        self.statements_at: list[int] = []  # the run thread's statements when each step began
        self.statements = 0
        self.sent: tuple[bytes, list] = (b"", [])

    def complete(self, messages, tools, *, cancel, on_delta=None) -> ModelTurn:
        before = self.dumped[0]
        self.sent = (encoded_messages(messages), list(messages))  # the last request's
        if messages[0]["content"] == JUDGE_PROMPT:
            return _turn('{"score": 0.9, "reason": "notes keep coming"}', ())
        done = len(self.calls)  # tool results so far: one per earlier step
        self.statements_at.append(self.statements)
        self.calls.append((done + 1, self.dumped[0] - before, isinstance(messages, Transcript)))
        if done >= self.steps - 1:
            summary = json.dumps({"goal_met": True, "summary": f"{done} calls"})
            return _turn("", (ToolCallRequest(f"c{done}", "finish", summary),))
        path = f"notes/note{done // 2}.md"
        if done % 2:
            call = ToolCallRequest(f"c{done}", "read_file", json.dumps({"path": path}))
        else:
            words = " ".join(f"{chr(97 + (done >> i) % 26)}{i}" for i in range(12))
            content = json.dumps({"path": path, "content": f"note {words}\nseen {words[::-1]}"})
            call = ToolCallRequest(f"c{done}", "write_file", content)
        return _turn(f"step {done + 1}", (call,))


def _turn(text: str, calls: tuple) -> ModelTurn:
    return ModelTurn(text, calls, 10, 5, 0.0, "flat", 0.0, "tool_calls" if calls else "stop")


@pytest.mark.parametrize(
    "steps", [300, pytest.param(1000, marks=pytest.mark.slow)], ids=["300", "1000"]
)
def test_a_long_run_costs_the_same_per_step_late_as_at_step_10(store, monkeypatch, steps):
    dumped = [0]
    real_dumps = message_json.dumps

    def counting_dumps(value):
        dumped[0] += 1 if isinstance(value, dict) else len(value) if isinstance(value, list) else 0
        return real_dumps(value)

    monkeypatch.setattr(message_json, "dumps", counting_dumps)
    model = NoteTaker(steps, dumped)
    run_thread = threading.current_thread()
    texts: Counter[str] = Counter()

    def traced(dbapi_connection, _record) -> None:
        def count(statement: str) -> None:
            if threading.current_thread() is run_thread:  # not the halt watcher's polls
                model.statements += 1
                texts[statement.split("(")[0][:60]] += 1

        dbapi_connection.set_trace_callback(count)

    event.listen(store.engine, "connect", traced)
    store.engine.dispose()  # new connections get the hook
    run = new_run(
        store,
        "Keep numbered notes in notes/: write each one, then read it back to check it.",
        model="flat",
        autonomy="autonomous",
        tools=["read_file", "write_file"],
        max_steps=steps + 5,
        max_seconds=3600,
    )
    claimed = storage.claim_run(store, run_id=run.id, worker_id="flat", lease_seconds=600)
    outcome = drive_run(store, claimed, model_factory=lambda run: model)
    assert outcome.status == "succeeded", outcome.reason
    assert len(model.calls) == steps

    # The loop hands the model its Transcript; a call serialises only the messages added since
    # the last one (the assistant's reply and its tool's result), never the history again.
    assert all(transcript for _, _, transcript in model.calls)
    body, conversation = model.sent
    assert json.loads(body) == conversation  # what the server reads: the whole conversation
    fresh = [serialised for step, serialised, _ in model.calls[1:]]
    assert max(fresh) == 2 and sum(fresh) == 2 * (steps - 1)

    # The run thread's SQL statements per step: the same at the end as at step ~10.
    per_step = [b - a for a, b in zip(model.statements_at, model.statements_at[1:], strict=False)]
    early = per_step[10:30]  # whole judge periods (every 5 steps)
    late = per_step[steps - 30 : steps - 10]
    assert statistics.median(late) == statistics.median(early)
    assert sum(late) <= sum(early) + 4  # a lease renewal may fall in either window
    assert max(per_step) < 60, texts.most_common(5)
