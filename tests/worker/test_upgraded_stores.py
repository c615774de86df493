"""A store left by each earlier schema version, with a run in every state, opened by today's code
through a real worker and `onloop` commands: each state takes its next step and only that.

queued → runs; running under a lapsed lease → recovered and runs; waiting on a pending approval →
waits again on the same approval, decidable once, then runs the call once; waiting on an approval
given while no worker drove it → runs the call once; a call the old worker started → a person,
not run again; paused stays paused and resumes; interrupted stays and resumes; finished untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import storage
from storage.runs import AUTO_RECOVERABLE
from tests.support.old_runs import OLD_WORKER, STATES, SUMMARY, TOOL, Written, write_run
from tests.support.old_schemas import EARLIER, make_old_store
from tests.support.run_helpers import wait_for
from tests.support.upgrade_helpers import onloop, tool_starts, worker

SETTLED = ("succeeded", "failed", "halted", "interrupted")


def _build(url: str, version: int, workspaces: Path) -> dict[str, Written]:
    written: dict[str, Written] = {}

    def fill(conn, v):
        for state in STATES:
            run_id = f"{state[:10]}{v:02d}"
            written[state] = write_run(conn, v, state, run_id, workspaces / run_id)

    make_old_store(url, version, fill)
    return written


def _settled(store: storage.Store, run_id: str) -> storage.Run | None:
    run = storage.get_run(store, run_id=run_id)
    passing = run.status == "interrupted" and run.reason in AUTO_RECOVERABLE
    return run if run.status in SETTLED and not passing else None


def _waiting_again(store: storage.Store, run_id: str) -> storage.Run | None:
    run = storage.get_run(store, run_id=run_id)
    mine = run.worker_id not in (None, OLD_WORKER)
    return run if run.status == "waiting" and mine else None


def _ran_once(store: storage.Store, written: Written, workspaces: Path) -> None:
    """Succeeded, the approved call started exactly once, consuming its approval."""
    done = wait_for(lambda: _settled(store, written.run_id), timeout=90, what=written.state)
    assert (done.status, done.reason) == ("succeeded", None), written.state
    [started] = tool_starts(store, written.run_id, TOOL)
    approval = storage.get_approval(store, approval_id=written.approval_id)
    assert started.payload["approval_id"] == approval.id and approval.consumed_at is not None
    assert not (workspaces / written.run_id / "Makefile").exists()


def _upgrade_through_a_worker(url: str, tmp_path: Path, version: int) -> None:
    workspaces = tmp_path / "ws"
    runs = _build(url, version, workspaces)
    with storage.open_store(url) as store, worker(url, tmp_path, workspaces):
        for state in ("queued", "running_lapsed"):
            done = wait_for(lambda s=state: _settled(store, runs[s].run_id), timeout=90, what=state)
            assert (done.status, done.reason) == ("succeeded", None), state
        _ran_once(store, runs["waiting_approved"], workspaces)

        started = runs["approved_started"]
        stopped = wait_for(lambda: _settled(store, started.run_id), timeout=90, what="a person")
        assert stopped.status == "interrupted" and f"{TOOL} may have run" in stopped.reason
        assert len(tool_starts(store, started.run_id, TOOL)) == (0 if version < 4 else 1)
        assert (workspaces / started.run_id / "Makefile").exists()

        pending = runs["waiting_pending"]
        wait_for(lambda: _waiting_again(store, pending.run_id), timeout=90, what="the wait")
        [still] = storage.pending_approvals(store, run_id=pending.run_id)
        assert still.id == pending.approval_id  # the same request, not a second one
        approved = onloop(url, "approve", pending.run_id, cwd=tmp_path)
        assert approved.returncode == 0, approved.stderr
        assert approved.stdout.startswith(f"approved: {SUMMARY} (run {pending.run_id})")
        _ran_once(store, pending, workspaces)
        again = onloop(url, "approve", pending.run_id, cwd=tmp_path)
        assert again.returncode == 2 and "is not waiting for approval" in again.stderr

        for state in ("paused", "interrupted", "halted", "succeeded"):
            run = storage.get_run(store, run_id=runs[state].run_id)
            assert run.status == state and run.worker_id is None, state
            assert len(storage.events_after(store, run_id=run.id)) == runs[state].events, state
        for state in ("paused", "interrupted"):
            resumed = onloop(url, "resume", runs[state].run_id, "--no-wait", cwd=tmp_path)
            assert resumed.returncode == 0, resumed.stderr
            done = wait_for(lambda s=state: _settled(store, runs[s].run_id), timeout=90, what=state)
            assert (done.status, done.reason) == ("succeeded", None), state
        for state in ("halted", "succeeded"):  # finished: untouched by all of the above
            run = storage.get_run(store, run_id=runs[state].run_id)
            assert run.status == state and run.worker_id is None, state
            assert len(storage.events_after(store, run_id=run.id)) == runs[state].events, state


@pytest.mark.parametrize("version", EARLIER)
def test_every_state_takes_its_next_step_after_an_upgrade_sqlite(tmp_path, version):
    _upgrade_through_a_worker(f"sqlite:///{tmp_path / 'onloop.db'}", tmp_path, version)


@pytest.mark.parametrize("version", EARLIER)
def test_every_state_takes_its_next_step_after_an_upgrade_postgresql(
    tmp_path, version, postgres_url
):
    _upgrade_through_a_worker(postgres_url, tmp_path, version)
