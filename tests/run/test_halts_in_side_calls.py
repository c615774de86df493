"""Halts and the calls beside the conversation (the final goal check, the progress judge), against
the local Chat Completions server: a halt recorded just before the goal check starts keeps its
request from ever being sent (it is a model call, invariant 3), and a side call to a server that
never answers is cut by a halt. (These held before they were written: the port's write of the
held answer refuses the goal check once a halt is recorded.) Time bounds are hang guards only."""

from __future__ import annotations

import json
import time

import pytest

from agent_core.models.openai_model import OpenAIModel
from agent_core.oversight import control
from agent_core.oversight.policy import MonitorSettings, Policy
from agent_core.run import loop
from tests.support.fake_openai import Reply
from tests.support.halt_helpers import assert_nothing_started_after_the_halt
from tests.support.run_helpers import Driver, events_of, new_run, wait_for

HANG_GUARD_S = 15.0  # the server below would otherwise hold each request for 120 s
WRITE = {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
FINISH = {"name": "finish", "arguments": {"goal_met": True, "summary": "wrote a.txt"}}
CHECKED = Policy(monitors=MonitorSettings(final_check=True))


def _openai(fake_openai) -> OpenAIModel:
    return OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url, max_retries=0)


def _run(store, policy: Policy = CHECKED):
    return new_run(store, "write a.txt", model="openai", autonomy="autonomous", policy=policy)


@pytest.mark.parametrize(
    "turns",
    [[[WRITE], [FINISH]], [[WRITE, FINISH]], [[WRITE], "wrote a.txt"]],
    ids=["finish-alone", "finish-after-a-tool", "text-answer"],
)
def test_a_halt_just_before_the_goal_check_sends_no_request(store, fake_openai, monkeypatch, turns):
    """The halt is recorded after the final answer came back, while the run sums up its work for
    the check (before the check's request): the check is a new model call, so it never starts."""
    real_summarise = loop.summarise
    halted_at: list[int] = []

    def halt_then_summarise(ledger):
        control.halt(store, run_id=run.id, by="ann")
        halted_at.append(len(fake_openai.requests))
        return real_summarise(ledger)

    monkeypatch.setattr(loop, "summarise", halt_then_summarise)
    verdict = json.dumps({"met": True, "reason": "a.txt was written"})
    replies = [t if isinstance(t, str) else {"tool_calls": t} for t in turns]
    fake_openai.script([*replies, verdict])
    run = _run(store)
    outcome = Driver(store, run, _openai(fake_openai)).start().join(HANG_GUARD_S)
    assert outcome.status == "halted", outcome
    assert len(halted_at) == 1
    assert len(fake_openai.requests) == halted_at[0], "the goal check was sent after the halt"
    assert events_of(store, run.id, "goal_check") == []
    assert_nothing_started_after_the_halt(store, run.id)


def test_a_goal_check_that_never_answers_is_cut_by_a_halt(store, fake_openai):
    fake_openai.script(
        [{"tool_calls": [WRITE]}, {"tool_calls": [FINISH]}, Reply(text="{}", delay_s=120)]
    )
    run = _run(store)
    driver = Driver(store, run, _openai(fake_openai)).start()
    wait_for(lambda: len(fake_openai.requests) == 3, timeout=HANG_GUARD_S, what="the check")
    started = time.monotonic()
    control.halt(store, run_id=run.id, by="ann")
    outcome = driver.join(HANG_GUARD_S)
    assert outcome.status == "halted", outcome
    assert time.monotonic() - started < HANG_GUARD_S
    assert events_of(store, run.id, "goal_check") == []
    assert_nothing_started_after_the_halt(store, run.id)


def test_a_progress_judge_that_never_answers_is_cut_by_a_halt(store, fake_openai):
    every_step = Policy(monitors=MonitorSettings(judge_every=1))
    fake_openai.script([{"tool_calls": [WRITE]}, Reply(text="{}", delay_s=120), "done"])
    run = _run(store, every_step)
    driver = Driver(store, run, _openai(fake_openai)).start()
    wait_for(lambda: len(fake_openai.requests) == 2, timeout=HANG_GUARD_S, what="the judge")
    control.halt(store, run_id=run.id, by="ann")
    outcome = driver.join(HANG_GUARD_S)
    assert outcome.status == "halted", outcome
    assert events_of(store, run.id, "judge") == []
    assert len(fake_openai.requests) == 2
    assert_nothing_started_after_the_halt(store, run.id)


def test_a_halt_during_a_retry_wait_sends_no_retry(store, fake_openai):
    """The server says 429, retry after 60 s: the halt lands in the SDK's wait; no retry is sent."""
    model = OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url, max_retries=3)
    fake_openai.script([Reply(status=429, retry_after_ms=60_000)] * 4)
    run = _run(store, Policy())
    driver = Driver(store, run, model).start()
    wait_for(lambda: len(fake_openai.requests) == 1, timeout=HANG_GUARD_S, what="the request")
    control.halt(store, run_id=run.id, by="ann")
    outcome = driver.join(HANG_GUARD_S)
    assert outcome.status == "halted", outcome
    assert len(fake_openai.requests) == 1
    assert_nothing_started_after_the_halt(store, run.id)
