"""An older onloop's worker already driving runs when a newer onloop upgrades the store: it stops
at its next step write (the store refuses it, as a lost lease) instead of driving on unfenced;
nothing it would have started runs, and its next claim is refused naming both versions."""

from __future__ import annotations

from pathlib import Path

import pytest

import storage
from agent_core.oversight.decisions import approve
from storage.fence import Fence
from tests.support.run_helpers import Driver, new_run
from tests.support.store_versions import NEWER, record_newer_version

REPORT = "Summarise the files in the workspace into report.md"
STEP_STARTS = {"model_request", "tool_started"}


def _last_seq(store: storage.Store, run_id: str) -> int:
    return max((e.seq for e in storage.events_after(store, run_id=run_id)), default=0)


def test_a_step_write_of_an_older_onloop_is_refused_on_an_upgraded_store(any_store):
    run = new_run(any_store, "think", model="demo")
    claimed = storage.claim_next_run(any_store, worker_id="old", lease_seconds=30)
    assert claimed is not None and claimed.id == run.id
    record_newer_version(any_store)
    before = _last_seq(any_store, run.id)
    with pytest.raises(storage.LeaseLost) as refused:
        storage.begin_step(
            any_store,
            run_id=run.id,
            kind="model_request",
            payload={"step": 1},
            fence=Fence("old", claimed.claim_epoch),
        )
    assert isinstance(refused.value, storage.StoreUpgraded)
    assert f"schema version {NEWER}, newer than this onloop" in str(refused.value)
    assert "upgrade onloop" in str(refused.value)
    assert _last_seq(any_store, run.id) == before  # nothing written
    with pytest.raises(storage.StoreNewer):  # and no claim either
        storage.claim_next_run(any_store, worker_id="old", lease_seconds=30)


def test_an_old_worker_waiting_on_an_approval_stops_before_the_tool_runs(store):
    run = new_run(store, REPORT, model="demo")
    driver = Driver(store, run).start()
    pending = driver.pending()
    record_newer_version(store)  # a newer onloop upgraded the store meanwhile
    before = _last_seq(store, run.id)
    approve(store, approval_id=pending.id, by="alice")  # decided with the newer release
    outcome = driver.join()
    assert not (Path(run.workspace) / "report.md").exists()  # the tool never started
    after = [e.kind for e in storage.events_after(store, run_id=run.id) if e.seq > before]
    assert STEP_STARTS.isdisjoint(after), after
    # The session ends interrupted and released, saying why: the newer release resumes it.
    left = storage.get_run(store, run_id=run.id)
    assert (left.status, left.worker_id, left.lease_expires_at) == ("interrupted", None, None)
    assert f"schema version {NEWER}, newer than this onloop" in (left.reason or "")
    assert outcome.status == "interrupted"
