"""A session's own status writes (its running <-> waiting moves, its end): the usual case runs
on the driver, any other on Core, and both give the same answers: what is returned or raised,
every field of the run, its events and its commands."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

import storage
from storage import session_status
from tests.support.run_helpers import new_run

FAR = timedelta(hours=1)
TIMES = ("created_at", "updated_at", "started_at", "finished_at", "lease_expires_at")
ENDING = {"reason": None, "active_seconds": 1.5, "result": "done"}


def _claimed(store, goal: str):
    run = new_run(store, goal)
    return storage.claim_run(store, run_id=run.id, worker_id="w1", lease_seconds=30)


def _halt_pending(store, run):
    storage.send_command(store, run_id=run.id, kind="halt", payload={}, created_by="ana")
    return run, "w1", run.claim_epoch


def _claim_lost(store, run):
    storage.expire_leases(store, now=storage.utcnow() + FAR)
    return run, "w1", run.claim_epoch


def _other_epoch(store, run):
    return run, "w1", run.claim_epoch + 1


SITUATIONS = {
    "usual": lambda store, run: (run, "w1", run.claim_epoch),
    "a halt pending": _halt_pending,
    "the lease lapsed": _claim_lost,
    "another claim's epoch": _other_epoch,
    "another worker": lambda store, run: (run, "w2", run.claim_epoch),
    "no epoch given": lambda store, run: (run, "w1", None),
}


def _outcome(store, run_id: str, returned: str):
    row = storage.get_run(store, run_id=run_id).model_dump()
    fields = {k: v for k, v in row.items() if k not in ("id", "goal", "workspace", *TIMES)}
    fields.update({k: row[k] is not None for k in TIMES})  # set or not; never the same time
    events = [(e.seq, e.kind, e.payload) for e in storage.events_after(store, run_id=run_id)]
    with store.engine.connect() as conn:
        commands = conn.execute(
            text("SELECT kind, consumed_at IS NOT NULL FROM commands WHERE run_id = :r"),
            {"r": run_id},
        ).all()
    return returned, fields, events, [tuple(c) for c in commands]


def _core_only(*_args, **_kwargs):
    raise session_status._Unusual()


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("status", ["succeeded", "paused", "interrupted"])
def test_the_driver_and_core_endings_agree(any_store, monkeypatch, situation, status):
    outcomes = []
    for forced_core in (False, True):
        run, worker, epoch = SITUATIONS[situation](any_store, _claimed(any_store, situation))
        with monkeypatch.context() as patch:
            if forced_core:
                patch.setattr(session_status, "_usual_ending", _core_only)
            ending = dict(ENDING, finished_at=storage.utcnow()) if status == "succeeded" else ENDING
            returned = storage.finish_session(
                any_store, run_id=run.id, worker_id=worker, epoch=epoch, status=status, **ending
            )
        outcomes.append(_outcome(any_store, run.id, returned))
    assert outcomes[0] == outcomes[1]


def test_the_usual_ending_takes_the_driver_path_alone(any_store, monkeypatch):
    run = _claimed(any_store, "end me")
    monkeypatch.setattr(session_status, "_any_ending", _core_only)
    status = storage.finish_session(
        any_store, run_id=run.id, worker_id="w1", epoch=run.claim_epoch, status="succeeded"
    )
    assert status == "succeeded"
    ended = storage.get_run(any_store, run_id=run.id)
    assert (ended.status, ended.worker_id, ended.lease_expires_at) == ("succeeded", None, None)
    assert storage.events_after(any_store, run_id=run.id)[-1].payload["status"] == "succeeded"


def test_a_halt_pending_wins_and_a_lost_claim_writes_nothing(any_store):
    halted = _claimed(any_store, "halt me")
    _halt_pending(any_store, halted)
    ended = storage.finish_session(
        any_store, run_id=halted.id, worker_id="w1", epoch=halted.claim_epoch, status="succeeded",
        result="never shown",
    )  # fmt: skip
    assert ended == "halted"
    assert storage.get_run(any_store, run_id=halted.id).result is None
    lost = _claimed(any_store, "lose me")
    before = storage.events_after(any_store, run_id=lost.id)
    assert storage.finish_session(
        any_store, run_id=lost.id, worker_id="w2", epoch=lost.claim_epoch, status="succeeded"
    ) == "running"  # fmt: skip
    assert storage.events_after(any_store, run_id=lost.id) == before


def test_no_such_run_is_said_on_both_paths(any_store):
    with pytest.raises(storage.NotFound):
        storage.finish_session(any_store, run_id="nope", worker_id="w1", status="succeeded")


def _ended_meanwhile(store, run):
    storage.finish_session(
        store, run_id=run.id, worker_id="w1", epoch=run.claim_epoch, status="succeeded"
    )
    return run, storage.Fence("w1", run.claim_epoch)


MOVES = {
    "usual": lambda store, run: (run, storage.Fence("w1", run.claim_epoch)),
    "a halt pending (not its business)": lambda store, run: (
        _halt_pending(store, run)[0],
        storage.Fence("w1", run.claim_epoch),
    ),
    "the lease lapsed": lambda store, run: (
        _claim_lost(store, run)[0],
        storage.Fence("w1", run.claim_epoch),
    ),
    "another claim's epoch": lambda store, run: (run, storage.Fence("w1", run.claim_epoch + 1)),
    "the run ended": _ended_meanwhile,
    "no fence": lambda store, run: (run, None),
}


def _moved(store, run_id, fence, status, **fields):
    try:
        seq = storage.mark_driven(
            store, run_id=run_id, status=status, reason="asked", fence=fence, **fields
        )
        return ("seq", seq)
    except (storage.HaltRequested, storage.LeaseLost, storage.NotFound) as refused:
        return (type(refused).__name__, str(refused).replace(run_id, "RUN"))


@pytest.mark.parametrize("situation", MOVES)
@pytest.mark.parametrize("status", ["running", "waiting"])
def test_the_driver_and_core_moves_agree(any_store, monkeypatch, situation, status):
    outcomes = []
    for forced_core in (False, True):
        run, fence = MOVES[situation](any_store, _claimed(any_store, situation))
        with monkeypatch.context() as patch:
            if forced_core:
                patch.setattr(session_status, "write_event", _core_only)
            moved = _moved(any_store, run.id, fence, status, model_name="m-2")
        outcomes.append((moved, _outcome(any_store, run.id, "")))
    assert outcomes[0] == outcomes[1]


def test_the_usual_move_takes_the_driver_path_alone(any_store, monkeypatch):
    run = _claimed(any_store, "move me")
    monkeypatch.setattr(session_status, "mark_driven_in_core", _core_only)
    fence = storage.Fence("w1", run.claim_epoch)
    assert _moved(any_store, run.id, fence, "waiting", model_name="m-2")[0] == "seq"
    moved = storage.get_run(any_store, run_id=run.id)
    assert (moved.status, moved.reason, moved.model_name) == ("waiting", "asked", "m-2")


def test_a_move_out_of_driven_is_refused_as_before(any_store):
    run = _claimed(any_store, "not a move")
    with pytest.raises(ValueError, match="between running and waiting"):
        storage.mark_driven(any_store, run_id=run.id, status="succeeded", worker_id="w1")
