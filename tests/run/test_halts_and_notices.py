"""No message claims what a halt undid: a notice that a run waits for a decision, or paused and
asks to be resumed, is not sent once the run is halted, whether it waited for a retry (its
receiver was down for a moment) or in the sender's queue (a slow receiver held the sender).
Gates are events the test controls (a receiver that halts the run before it answers, a receiver
held until the halt is settled); bounds are hang guards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.notify import sender
from agent_core.oversight.notify.sender import Sender
from agent_core.oversight.policy import Policy
from agent_core.run import port
from tests.support.halt_helpers import CALC
from tests.support.notify_receivers import HttpReceiver, Received
from tests.support.run_helpers import Driver, new_run, wait_for

HANG_GUARD_S = 30.0
WRITE = {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}


@pytest.fixture
def receivers():
    made: list[HttpReceiver] = []

    def make() -> HttpReceiver:
        made.append(HttpReceiver())
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def one_sender_thread(monkeypatch) -> Sender:
    """The runs' notices go through a sender of one thread: a held delivery queues the rest."""
    single = Sender(threads=1)
    monkeypatch.setattr(port, "SENDER", single)
    return single


def _told(store, receiver: HttpReceiver, **settings):
    policy = Policy.model_validate({"notify": {"webhook": {"url": f"{receiver.url}/hook"}}})
    return new_run(store, "write a.txt", model="scripted", policy=policy, **settings)


def _events(receiver: HttpReceiver, run_id: str) -> list[str]:
    return [r.json()["event"] for r in receiver.received if r.json()["run_id"] == run_id]


def _halted(store, run_id: str) -> None:
    wait_for(
        lambda: storage.get_run(store, run_id=run_id).status == "halted",
        timeout=HANG_GUARD_S,
        what="the run to end halted",
    )


def test_a_retry_of_an_approval_notice_is_not_sent_after_the_halt(
    store, receivers, monkeypatch, one_sender_thread
):
    monkeypatch.setattr(sender, "BACKOFF_S", 0.01)
    down = receivers()
    run = _told(store, down, autonomy="manual")

    def halt_then_fail(got: Received) -> int:
        """Down for a moment: the first attempt fails (and is tried again)."""
        down.on_post = None  # once
        control.halt(store, run_id=run.id, by="ann")
        _halted(store, run.id)  # the 503 goes back only when the halt has settled
        return 503

    down.on_post = halt_then_fail
    driver = Driver(store, run, ScriptedModel([{"tool_calls": [WRITE]}, "done"])).start()
    assert driver.join(HANG_GUARD_S).status == "halted"
    assert one_sender_thread.idle(HANG_GUARD_S)
    assert _events(down, run.id).count("approval_requested") == 1  # the one before the halt


@contextmanager
def sender_held(store, receivers) -> Iterator[HttpReceiver]:
    """Another run's notice holds the sender's one thread (its receiver hangs) while inside; on
    leaving, the hang ends and that run is halted. Yields a receiver for the run under test."""
    slow, witness = receivers(), receivers()
    slow.hold.set()
    holder = _told(store, slow, autonomy="manual")
    held = Driver(store, holder, ScriptedModel([{"tool_calls": [WRITE]}, "done"])).start()
    wait_for(lambda: slow.waiting >= 1, timeout=HANG_GUARD_S, what="the sender to be held")
    yield witness
    slow.release.set()
    control.halt(store, run_id=holder.id, by="ann")
    assert held.join(HANG_GUARD_S).status == "halted"


def test_an_approval_notice_queued_behind_a_slow_receiver_is_not_sent_after_the_halt(
    store, receivers, one_sender_thread
):
    with sender_held(store, receivers) as witness:
        run = _told(store, witness, autonomy="manual")
        driver = Driver(store, run, ScriptedModel([{"tool_calls": [WRITE]}, "done"])).start()
        driver.pending()  # asked: its notice waits behind the held one
        control.halt(store, run_id=run.id, by="ann")
        assert driver.join(HANG_GUARD_S).status == "halted"
    assert one_sender_thread.idle(HANG_GUARD_S)
    assert "approval_requested" not in _events(witness, run.id)
    assert "run_halted" in _events(witness, run.id)  # what is so is still said


def test_a_pause_notice_queued_behind_a_slow_receiver_is_not_sent_after_the_halt(
    store, receivers, one_sender_thread
):
    with sender_held(store, receivers) as witness:
        run = _told(store, witness, autonomy="autonomous", max_steps=1)  # its budget pauses it
        script = ScriptedModel([{"tool_calls": [CALC]}, {"tool_calls": [CALC]}, "done"])
        paused = Driver(store, run, script).start().join(HANG_GUARD_S)
        assert paused.status == "paused" and not (paused.reason or "").startswith("paused by ")
        control.halt(store, run_id=run.id, by="ann")  # nobody drives it: halted at once
    assert one_sender_thread.idle(HANG_GUARD_S)
    assert "run_paused" not in _events(witness, run.id)
