"""Versions agree or refuse: a newer onloop's store is refused on open and at every claim; an
older store is migrated once, under a lock, however many processes open it at the same moment."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import select

import storage
from storage import schema, versions
from storage.models import SchemaMigration, table_of
from tests.support.run_helpers import in_threads
from tests.support.store_versions import NEWER, record_newer_version


def _refusal(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    assert f"schema version {NEWER}" in message
    assert f"schema version {storage.SCHEMA_VERSION}" in message
    assert "upgrade onloop" in message
    return message


def test_a_store_a_newer_onloop_migrated_is_refused_on_open(any_store):
    record_newer_version(any_store)
    with pytest.raises(storage.StoreNewer) as refused:
        storage.open_store(any_store.url)
    _refusal(refused)
    assert issubclass(storage.StoreNewer, storage.StoreError)  # the CLI's one-line errors


def test_no_run_is_claimed_once_a_newer_onloop_migrated_the_store(any_store):
    run = storage.create_run(any_store, goal="wait for a worker of the right version")
    record_newer_version(any_store)  # a newer release opened it meanwhile
    with pytest.raises(storage.StoreNewer) as refused:
        storage.claim_next_runs(any_store, worker_id="old", lease_seconds=30, limit=10)
    _refusal(refused)
    with pytest.raises(storage.StoreNewer):
        storage.claim_run(any_store, run_id=run.id, worker_id="old", lease_seconds=30)
    with pytest.raises(storage.StoreNewer):
        storage.create_run(any_store, goal="driven by an old `onloop run`", claimed_by="old")
    found = storage.get_run(any_store, run_id=run.id)
    assert (found.status, found.worker_id, found.claim_epoch) == ("queued", None, 0)


def _older_store(url: str, counted: list[str]) -> schema.Migration:
    """A store at today's version, and a next version whose migration counts its runs."""
    storage.open_store(url).dispose()

    def count_me(conn) -> None:
        counted.append(threading.current_thread().name)

    return schema.Migration(NEWER, "counted", count_me)


def test_an_older_store_is_migrated_once_by_racing_openers(any_store, monkeypatch, caplog):
    openers = 8
    storage.create_run(any_store, goal="kept across the upgrade")
    counted: list[str] = []
    later = _older_store(any_store.url, counted)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, later])

    def open_it(_: int) -> list[int]:
        opened = storage.open_store(any_store.url)  # all at once (in_threads: one barrier)
        try:
            return [storage.current_version(opened.engine)]
        finally:
            opened.dispose()

    with caplog.at_level(logging.WARNING, logger="onloop.store"):
        assert in_threads(openers, open_it) == [NEWER] * openers
    assert len(counted) == 1
    with any_store.engine.connect() as conn:
        rows = conn.scalars(select(table_of(SchemaMigration).c.version)).all()
    assert rows.count(NEWER) == 1
    upgrading = [r.getMessage() for r in caplog.records if "upgrading the store" in r.message]
    assert len(upgrading) == 1
    assert f"from schema version {storage.SCHEMA_VERSION} to {NEWER}" in upgrading[0]
    assert ("pg_dump" in upgrading[0]) != any_store.is_sqlite
    assert storage.list_runs(any_store)[0].goal == "kept across the upgrade"


def test_a_sqlite_store_is_copied_once_before_it_is_upgraded(tmp_path, monkeypatch, caplog):
    path = tmp_path / "onloop.db"
    store = storage.open_store(str(path))
    storage.create_run(store, goal="in the copy too")
    store.dispose()
    counted: list[str] = []
    later = _older_store(str(path), counted)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, later])
    with caplog.at_level(logging.WARNING, logger="onloop.store"):
        storage.open_store(str(path)).dispose()
    copy = tmp_path / f"onloop.db.before-v{NEWER}"
    assert f"the store as it was is kept at {copy}" in caplog.text
    assert copy.stat().st_mode & 0o077 == 0  # owner-only, as the store is
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:-1])
    kept = storage.open_store(str(copy))  # the copy is the store as it was: today's version
    assert storage.current_version(kept.engine) == storage.SCHEMA_VERSION
    assert [r.goal for r in storage.list_runs(kept)] == ["in the copy too"]
    kept.dispose()
    assert len(counted) == 1
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, later])
    with storage.open_store(str(path)) as upgraded:  # upgraded once: no second copy, no change
        assert versions.migrate(upgraded.engine) == []
    assert len(counted) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if ".before-v" in p.name) == [copy.name]


def test_no_copy_when_the_operator_says_so_and_none_of_a_blank_store(tmp_path, monkeypatch):
    monkeypatch.setenv(versions.UPGRADE_COPY_ENV, "0")
    path = tmp_path / "onloop.db"
    with storage.open_store(str(path)) as store:
        storage.create_run(store, goal="no copy asked")
    later = _older_store(str(path), [])
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, later])
    storage.open_store(str(path)).dispose()
    monkeypatch.delenv(versions.UPGRADE_COPY_ENV)
    storage.open_store(str(tmp_path / "blank.db")).dispose()  # created: nothing to keep
    assert not [p for p in tmp_path.iterdir() if ".before-v" in p.name]
