"""An approval given right after an upgrade is kept: a store an earlier release left with a run
waiting on a person, opened by today's code; `onloop approve`, then a worker: the approved call
runs exactly once. A call the old worker had started is not run again without a person."""

from __future__ import annotations

import pytest

import storage
from storage.runs import AUTO_RECOVERABLE
from tests.support.old_runs import SUMMARY, TOOL, write_run
from tests.support.old_schemas import EARLIER, make_old_store
from tests.support.run_helpers import wait_for
from tests.support.upgrade_helpers import onloop, tool_starts, worker

FINISHED = ("succeeded", "failed", "halted", "interrupted")


def _old_store(tmp_path, version: int, *states: str) -> tuple[str, dict[str, str]]:
    db = tmp_path / "onloop.db"
    ids = {state: f"{state[:8]}{version:04d}" for state in states}

    def fill(conn, v):
        for state, run_id in ids.items():
            write_run(conn, v, state, run_id, tmp_path / "ws" / run_id)

    make_old_store(f"sqlite:///{db}", version, fill)
    return str(db), ids


def _settled(store: storage.Store, run_id: str) -> storage.Run | None:
    """The run once it stopped for good (an interrupted run a worker is about to recover has not)."""
    run = storage.get_run(store, run_id=run_id)
    passing = run.status == "interrupted" and run.reason in AUTO_RECOVERABLE
    return run if run.status in FINISHED and not passing else None


@pytest.mark.parametrize("version", [3, EARLIER[-1]])
def test_an_approval_given_right_after_an_upgrade_runs_the_call_once(tmp_path, version):
    db, ids = _old_store(tmp_path, version, "waiting_pending")
    run_id = ids["waiting_pending"]
    approved = onloop(db, "approve", run_id, cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.startswith(f"approved: {SUMMARY} (run {run_id})")
    with storage.open_store(db) as store, worker(db, tmp_path, tmp_path / "ws"):
        done = wait_for(lambda: _settled(store, run_id), timeout=60, what="the run to end")
        assert (done.status, done.reason) == ("succeeded", None)
        [started] = tool_starts(store, run_id, TOOL)
        [approval] = storage.decisions(store, run_id=run_id)
        assert started.payload["approval_id"] == approval.id and approval.consumed_at is not None
    assert not (tmp_path / "ws" / run_id / "Makefile").exists()
    again = onloop(db, "approve", run_id, cwd=tmp_path)
    assert again.returncode == 2 and "is succeeded and is not waiting for approval" in again.stderr


@pytest.mark.parametrize("version", [3, EARLIER[-1]])
def test_a_call_the_old_worker_started_goes_to_a_person_and_does_not_run(tmp_path, version):
    db, ids = _old_store(tmp_path, version, "approved_started")
    run_id = ids["approved_started"]
    with storage.open_store(db) as store, worker(db, tmp_path, tmp_path / "ws"):
        done = wait_for(lambda: _settled(store, run_id), timeout=60, what="the run to stop")
        assert done.status == "interrupted" and "delete_files may have run" in done.reason
        assert len(tool_starts(store, run_id, TOOL)) == (0 if version < 4 else 1)
    assert (tmp_path / "ws" / run_id / "Makefile").exists()
