"""A model's answer held by the port (StoreRunPort.hold_step) until its next write: written by
that write's transaction, ahead of its event (a call's start, the final answer, the next
request) or on its own before any other write, so the run's events stay in the loop's order;
refused with it when a halt came first (the answer is dropped, its cost kept); never written
by a driver whose claim was lost; written by the loop itself when the run ends before any
other write (a halt seen, the worker stopping). On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

import storage
from agent_core.run.port import StoreRunPort
from storage.record import Error, FinalAnswer, ModelCall, ModelRequest
from tests.support.halt_helpers import CALC
from tests.support.held_writes import drive_and_cut, kinds, other_write, port_for

COST = {"tokens_in": 5, "tokens_out": 2, "cost_usd": 0.25}


def hold_answer(port: StoreRunPort, text: str = "the answer") -> None:
    answer = ModelCall(step=1, text=text, tool_calls=[], **COST)
    port.hold_step(answer, usage={"steps": 1, **COST}, late=COST)


def totals(store: storage.Store, run_id: str) -> tuple:
    run = storage.get_run(store, run_id=run_id)
    return run.steps, run.tokens_in, run.tokens_out, run.cost_usd


def test_nothing_is_written_until_the_next_write_which_carries_it(any_store):
    port = port_for(any_store, "held")
    before = kinds(any_store, port.run_id)
    hold_answer(port)
    assert kinds(any_store, port.run_id) == before
    port.begin_step(FinalAnswer(text="done", goal_met=True))
    assert kinds(any_store, port.run_id)[len(before) :] == ["model_call", "final_answer"]
    assert totals(any_store, port.run_id) == (1, 5, 2, 0.25)


@pytest.mark.parametrize("write", ["record", "set_status", "add_usage", "write_held"])
def test_any_other_write_writes_it_first(any_store, write):
    port = port_for(any_store, f"then {write}")
    before = kinds(any_store, port.run_id)
    hold_answer(port)
    other_write(port, write)
    added = kinds(any_store, port.run_id)[len(before) :]
    assert added[0] == "model_call"
    port.write_held()  # nothing held any more: nothing more written
    assert kinds(any_store, port.run_id)[len(before) :] == added


def test_a_second_hold_writes_the_first(any_store):
    port = port_for(any_store, "two answers")
    before = kinds(any_store, port.run_id)
    hold_answer(port, "one")
    hold_answer(port, "two")
    port.write_held()
    texts = [
        e.payload["text"]
        for e in storage.events_after(any_store, run_id=port.run_id)
        if e.kind == "model_call"
    ]
    assert texts == ["one", "two"] and len(kinds(any_store, port.run_id)) == len(before) + 2


@pytest.mark.parametrize("write", ["begin_step", "begin_execution", "write_held", "record"])
def test_a_halt_first_drops_the_answer_and_keeps_its_cost(any_store, write):
    port = port_for(any_store, f"halted, then {write}")
    hold_answer(port)
    storage.halt_run(any_store, run_id=port.run_id, by="ann")
    before = kinds(any_store, port.run_id)
    with pytest.raises(storage.HaltRequested):
        if write == "begin_step":
            port.begin_step(ModelRequest(step=2))
        elif write == "begin_execution":
            port.begin_execution(tool_call_id="c", tool="calculator", args_hash="h")
        elif write == "record":
            port.record(Error(message="x", where="model"))
        else:
            port.write_held()
    assert "model_call" not in kinds(any_store, port.run_id)
    assert kinds(any_store, port.run_id) == before
    assert totals(any_store, port.run_id) == (0, 5, 2, 0.25)  # paid for, not a step
    assert port.token.is_set()


def test_a_lost_claim_writes_nothing_of_it(any_store):
    port = port_for(any_store, "claimed elsewhere")
    hold_answer(port)
    storage.update_run(any_store, run_id=port.run_id, worker_id="thief")
    before = kinds(any_store, port.run_id)
    with pytest.raises(storage.LeaseLost):
        port.begin_execution(tool_call_id="c", tool="calculator", args_hash="h")
    port.write_held()  # the answer went with the refused write: nothing left to write
    assert kinds(any_store, port.run_id) == before
    assert totals(any_store, port.run_id) == (0, 0, 0, 0.0)


# --------------------------------------------------- the loop ends with an answer still held


def _drive_and_cut_after_the_answer(store: storage.Store, cut) -> str:
    """Drive a run whose model answers with a tool call; right after the answer is held, `cut`
    (port) stops the run before anything else is written: the loop ends with the answer held."""
    answer = {"tool_calls": [CALC], "tokens_in": 5, "tokens_out": 2}
    return drive_and_cut(store, "hold_step", cut, [answer])


def test_a_halt_seen_after_the_answer_drops_it_and_keeps_its_cost(any_store):
    from agent_core.oversight import control
    from agent_core.tools.cancel_token import CancelReason

    def halt(port: StoreRunPort) -> None:  # the halt watcher's part: the token, at once
        control.halt(any_store, run_id=port.run_id, by="ann")
        port.token.cancel(CancelReason.HALTED)

    run_id = _drive_and_cut_after_the_answer(any_store, halt)
    assert "model_call" not in kinds(any_store, run_id)
    run = storage.get_run(any_store, run_id=run_id)
    assert run.status == "halted"
    assert (run.steps, run.tokens_in, run.tokens_out) == (0, 5, 2)  # paid for, not a step


def test_a_worker_stopping_after_the_answer_still_records_it(any_store):
    def stop(port: StoreRunPort) -> None:
        port.stop.set()

    run_id = _drive_and_cut_after_the_answer(any_store, stop)
    assert kinds(any_store, run_id).count("model_call") == 1
    assert "tool_started" not in kinds(any_store, run_id)
    run = storage.get_run(any_store, run_id=run_id)
    assert (run.steps, run.tokens_in, run.tokens_out) == (1, 5, 2)
