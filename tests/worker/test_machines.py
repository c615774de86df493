"""Workers on several machines: each resolves per-run folders under its own ONLOOP_WORKSPACES,
a person's own folder stays as chosen, and database URLs are shown without their password."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.worker.claim_loop import drive_run
from storage.engine import shown_url
from tests.support.run_helpers import new_run, wait_for


def _drive_on(url: str, workspaces: Path, run_id: str, monkeypatch) -> storage.Run:
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(workspaces))
    with storage.open_store(url) as machine:
        claimed = storage.claim_run(machine, run_id=run_id, worker_id="m2", lease_seconds=30)
        assert claimed is not None
        done = drive_run(machine, claimed, model_factory=lambda _r: ScriptedModel(["done"]))
        assert done.status == "succeeded"
        return storage.get_run(machine, run_id=run_id)


def test_a_per_run_folder_is_resolved_by_the_worker_that_drives_the_run(
    any_store, tmp_path, monkeypatch
):
    run = new_run(any_store, "What is here?", model="scripted")
    assert Path(run.workspace).parent == tmp_path / "workspaces"  # the queuing machine's idea
    driven = _drive_on(any_store.url, tmp_path / "elsewhere", run.id, monkeypatch)
    assert driven.workspace == str((tmp_path / "elsewhere" / run.id).resolve())
    assert (tmp_path / "elsewhere" / run.id).is_dir()
    assert not (tmp_path / "workspaces" / run.id).exists()


def test_a_persons_own_folder_stays_as_chosen(any_store, tmp_path, monkeypatch):
    own = tmp_path / "mine"
    own.mkdir()
    run = new_run(any_store, "What is in my folder?", model="scripted", workspace=str(own))
    driven = _drive_on(any_store.url, tmp_path / "elsewhere", run.id, monkeypatch)
    assert driven.workspace == str(own)


def test_database_urls_are_shown_without_their_password():
    shown = shown_url("postgresql+psycopg://onloop:s3cret@db.example:5432/onloop")
    assert "s3cret" not in shown and "db.example" in shown


def test_onloop_worker_never_prints_the_database_password(postgres_url, tmp_path):
    url = postgres_url.replace("postgres@", "postgres:s3cret@")  # the test cluster trusts anyone
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "agent_core", "worker", "--db", url],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "driving up to" in log.read_text(), 60, "the worker's first line")
    finally:
        worker.terminate()
        worker.wait(30)
    assert "s3cret" not in log.read_text()
    assert "postgres:***@127.0.0.1" in log.read_text()
