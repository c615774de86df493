"""The port's held events (StoreRunPort.hold_step: a model's answer; hold_record: a tool's
result): a port over a driven run, the run's event kinds, and a run driven and cut in on right
after the port holds an event for its next write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.run.port import StoreRunPort
from agent_core.worker.claim_loop import Worker, drive_run
from storage.record import Error, ModelRequest
from tests.support.run_helpers import new_run


def port_for(store: storage.Store, goal: str) -> StoreRunPort:
    """A port over a new run claimed by worker "w" and driven (running)."""
    run = storage.create_run(store, goal=goal)
    claimed = storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=60)
    assert claimed is not None
    storage.mark_driven(store, run_id=run.id, status="running", worker_id="w")
    return StoreRunPort(store, run.id, worker_id="w", epoch=claimed.claim_epoch)


def other_write(port: StoreRunPort, write: str) -> None:
    """One of the port's writes that must write a held event first, by its name."""
    if write == "record":
        port.record(Error(message="x", where="model"))
    elif write == "set_status":
        port.set_status("running")
    elif write == "add_usage":
        port.add_usage(tokens_in=1)
    elif write == "hold_step":
        port.hold_step(ModelRequest(step=2), usage={"steps": 1}, late={})
    elif write == "write_held":
        port.write_held()
    else:
        raise ValueError(f"no such write: {write}")


def approved_for_other_arguments(
    store: storage.Store, run_id: str, fence: storage.Fence, call_id: str
) -> int:
    """An approval of calculator(1+1) under args hash "approved", decided yes: its id."""
    approval = storage.request_approval(
        store,
        run_id=run_id,
        tool_call_id=call_id,
        tool="calculator",
        arguments={"expression": "1+1"},
        args_hash="approved",
        risk="low",
        fence=fence,
    )
    storage.decide_approval(store, approval_id=approval.id, decision="approved", decided_by="a")
    return approval.id


def kinds(store: storage.Store, run_id: str) -> list[str]:
    return [e.kind for e in storage.events_after(store, run_id=run_id)]


def drive_and_cut(
    store: storage.Store,
    hold: str,
    cut: Callable[[StoreRunPort], None],
    script: list[Any],
    **settings: Any,
) -> str:
    """Drive a run of the scripted model; right after the port's first `hold` (a method name)
    `cut` (port) acts, before anything else is written. Returns the run's id."""
    real = getattr(StoreRunPort, hold)
    done: list[bool] = []

    def hold_then_cut(self: StoreRunPort, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        if not done:
            done.append(True)
            cut(self)

    settings.setdefault("autonomy", "autonomous")
    run = new_run(store, f"cut after {hold}", model="scripted", **settings)
    worker = Worker(store, concurrency=1, model_factory=lambda run: ScriptedModel(script))
    claimed = storage.claim_next_run(store, worker_id=worker.worker_id, lease_seconds=30)
    assert claimed is not None
    patched = pytest.MonkeyPatch()
    patched.setattr(StoreRunPort, hold, hold_then_cut)
    try:
        drive_run(store, claimed, model_factory=worker.model_factory)
    finally:
        patched.undo()
    return run.id
