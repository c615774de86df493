"""More halt variants through the real worker: a run waiting for a person (an approval given after
the halt starts nothing), many runs halted at once (each blocked in a fetch nobody answers), and
the calculator's CPU-heavy inputs (bounded, so a halt never waits for one). Bounds are hang guards."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.decisions import DecisionError, approve
from agent_core.oversight.policy import Policy
from agent_core.tools.calculator import CalculatorError, evaluate
from agent_core.worker.claim_loop import Worker
from tests.run.test_halts_in_tools import FETCH_POLICY
from tests.support.halt_helpers import assert_nothing_started_after_the_halt, serve, settle, stop
from tests.support.halts_witness import witness_server
from tests.support.run_helpers import Driver, events_of, new_run, wait_for

HANG_GUARD_S = 15.0
WRITE = {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}


def test_an_approval_given_after_the_halt_of_a_waiting_run_starts_nothing(store):
    run = new_run(store, "write a.txt", model="scripted", policy=Policy(), autonomy="manual")
    model = ScriptedModel([{"tool_calls": [WRITE]}, "done"])
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    assert storage.get_run(store, run_id=run.id).status == "waiting"
    control.halt(store, run_id=run.id, by="ann")
    try:
        approve(store, approval_id=pending.id, by="bob")
    except (DecisionError, control.ControlError, storage.InvalidState):
        pass  # refused: as good as ignored
    assert driver.join(HANG_GUARD_S).status == "halted"
    assert events_of(store, run.id, "tool_started") == []
    assert not (Path(run.workspace) / "a.txt").exists()
    assert model.remaining == 1
    assert_nothing_started_after_the_halt(store, run.id)


def test_many_runs_blocked_in_fetches_are_halted_at_once(store):
    count = 6
    with witness_server() as witness:
        runs = [
            new_run(
                store, f"read {i}", model="scripted", autonomy="autonomous", policy=FETCH_POLICY
            )
            for i in range(count)
        ]
        url = f"{witness.base}/silent"
        script = [{"tool_calls": [{"name": "fetch_url", "arguments": {"url": url}}]}, "done"]
        worker = Worker(
            store,
            concurrency=count,
            poll_s=0.01,
            model_factory=lambda run: ScriptedModel(list(script)),
        )
        threads = serve([worker])
        try:
            wait_for(
                lambda: all(events_of(store, r.id, "tool_started") for r in runs),
                timeout=60,
                what="every run's fetch to start",
            )
            halters = [
                threading.Thread(
                    target=control.halt, args=(store,), kwargs={"run_id": r.id, "by": "ann"}
                )
                for r in runs
            ]
            for halter in halters:
                halter.start()
            for halter in halters:
                halter.join(HANG_GUARD_S)
            settle(store, [r.id for r in runs], timeout=HANG_GUARD_S)
        finally:
            stop([worker], threads)
    for run in runs:
        assert_nothing_started_after_the_halt(store, run.id)
        (result,) = events_of(store, run.id, "tool_result")
        assert result.payload["outcome"] == "halted", result.payload


@pytest.mark.parametrize(
    "expression",
    [
        "9**9**9",
        "9**9**9**9",
        "(2**9999)**(2**9999)",
        "2**9999*2**9999*2**9999",
        "(-1)**(10**100) * 10**3000",
        "1.0000001**(10**300)",
        "max(" + ", ".join(["2**9999"] * 90) + ")",
        "((((((((((2**999)**9)))))))))",
        "10**3000 // 3 ** 0.5",
        "-" * 240 + "1",
        "(" * 200 + "1" + ")" * 200,
    ],
)
def test_the_calculator_is_bounded_whatever_it_is_given(expression):
    started = time.monotonic()
    try:
        evaluate(expression)
    except CalculatorError:
        pass
    assert time.monotonic() - started < 5.0  # each is refused or done in well under a second
