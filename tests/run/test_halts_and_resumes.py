"""A resume after a halt never carries out what the halt refused: an approval that the halt kept
from being used (decided just before the halt, or at the same instant, or while nobody drove the
run) is not reused by the resumed run; the call goes back to a person. Gates are events the test
controls (the driver is held at a known point), never timing; bounds are hang guards."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight import control
from agent_core.oversight.decisions import DecisionError, approve
from agent_core.oversight.policy import Policy
from agent_core.run import approval_gate
from tests.support.halt_helpers import assert_nothing_started_after_the_halt
from tests.support.run_helpers import Driver, events_of, new_run, wait_for

HANG_GUARD_S = 20.0
WRITE = {"name": "write_file", "arguments": {"path": "a.txt", "content": "x"}}
# Each spelling of a yes: this call once; this call, or its folder, for the rest of the run.
SCOPES = pytest.mark.parametrize("scope", [None, "call", "folder"])


def _waiting_run(store):
    run = new_run(store, "write a.txt", model="scripted", policy=Policy(), autonomy="manual")
    return run, ScriptedModel([{"tool_calls": [WRITE]}, "done", "done"])


def _held_before_reading_decisions(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """The driver stops right before it first reads the approval's decision until released."""
    arrived, release = threading.Event(), threading.Event()
    real_wait = approval_gate.ApprovalGate._wait

    def held_wait(self, approval_id, wake):
        if not release.is_set():
            arrived.set()
            release.wait(HANG_GUARD_S)
        return real_wait(self, approval_id, wake)

    monkeypatch.setattr(approval_gate.ApprovalGate, "_wait", held_wait)
    return arrived, release


def _resumed_asks_again(store, run, model, first_approval: int) -> None:
    """Resume the halted run: it must ask a person again and start no tool; then halt it."""
    assert storage.get_run(store, run_id=run.id).status == "halted"
    control.resume_run(store, run_id=run.id, by="carol", seen_status="halted")
    driver = Driver(store, run, model).start()
    wait_for(
        lambda: (
            [a for a in storage.pending_approvals(store, run_id=run.id) if a.id > first_approval]
            or storage.get_run(store, run_id=run.id).status in storage.FINISHED_STATUSES
        ),
        timeout=HANG_GUARD_S,
        what="the resumed run to ask again (or to end)",
    )
    assert events_of(store, run.id, "tool_started") == [], "the resume ran the refused call"
    assert not (Path(run.workspace) / "a.txt").exists()
    control.halt(store, run_id=run.id, by="carol")
    assert driver.join(HANG_GUARD_S).status == "halted"


@SCOPES
@pytest.mark.parametrize("moment", ["just before the halt", "just after the halt"])
def test_an_approval_given_at_the_halt_is_not_used_by_a_resume(store, monkeypatch, scope, moment):
    arrived, release = _held_before_reading_decisions(monkeypatch)
    run, model = _waiting_run(store)
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    assert arrived.wait(HANG_GUARD_S)
    if moment == "just before the halt":
        approve(store, approval_id=pending.id, by="bob", allow_scope=scope)
        control.halt(store, run_id=run.id, by="ann")  # before the driver could start the tool
    else:
        control.halt(store, run_id=run.id, by="ann")
        try:
            approve(store, approval_id=pending.id, by="bob", allow_scope=scope)
        except (DecisionError, storage.InvalidState):
            pass  # refused: as good as never given
    release.set()
    assert driver.join(HANG_GUARD_S).status == "halted"
    assert_nothing_started_after_the_halt(store, run.id)
    _resumed_asks_again(store, run, model, pending.id)


@SCOPES
def test_an_approval_given_while_nobody_drove_the_run_is_void_after_its_halt(store, scope):
    run, model = _waiting_run(store)
    driver = Driver(store, run, model).start()
    pending = driver.pending()
    driver.stop.set()  # the worker stops cleanly: the run is queued again, its approval open
    driver.join(HANG_GUARD_S)
    assert storage.get_approval(store, approval_id=pending.id).status == "pending"
    approve(store, approval_id=pending.id, by="bob", allow_scope=scope)  # nobody drives it
    control.halt(store, run_id=run.id, by="ann")  # halted at once: never claimed again
    assert_nothing_started_after_the_halt(store, run.id)
    _resumed_asks_again(store, run, model, pending.id)
