"""The dashboard keeps to the store it opened (dashboard.components.same_store): a store file
deleted or replaced under it gives a banner saying what happened and what to do, and nothing a
person does on a page opened before is read from or written to the file there now."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

import storage
from dashboard.routes import APPROVALS_PAGE, LIVE_PAGE
from tests.support.dashboard_fixtures import app_at, make_run, plain, request_approval

pytestmark = pytest.mark.store_for("dashboard")  # the routed app (AppTest) reads this store


def _file(store: storage.Store) -> Path:
    return Path(str(store.engine.url.database))


def _copy(source: Path, target: Path) -> None:
    """A consistent copy, as `sqlite3 onloop.db .backup` makes one (a restored backup)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _banners(at) -> str:
    return " ".join(plain(e.value) for e in at.error)


def test_a_decision_clicked_after_the_store_was_replaced_is_refused(store, tmp_path):
    run = make_run(store, "waiting")
    approval = request_approval(store, run.id)
    at = app_at(APPROVALS_PAGE)
    assert not at.exception
    # A backup taken now is put in the store's place: the same run and approval ids, pending.
    _copy(_file(store), tmp_path / "backup.db")
    os.replace(tmp_path / "backup.db", _file(store))
    at.button(key=f"inbox-approval-{approval.id}-approve").click().run()
    assert not at.exception
    shown = _banners(at)
    assert f"The store at {_file(store)} was replaced by another file" in shown
    assert "nothing done on this page is saved" in shown
    assert "Restart the dashboard (onloop up)" in shown
    with storage.open_store(f"sqlite:///{_file(store)}") as there:
        assert storage.get_approval(there, approval_id=approval.id).status == "pending"
        assert storage.get_run(there, run_id=run.id).status == "waiting"


def test_a_launch_after_the_store_was_replaced_writes_nothing_there(store, tmp_path):
    at = app_at()
    other = tmp_path / "other.db"
    storage.open_store(f"sqlite:///{other}").dispose()  # another store, empty
    os.replace(other, _file(store))
    at.text_area(key="launch_goal").input("Clean up the temporary files in the workspace")
    at.button(key="launch_submit").click().run()
    assert not at.exception
    assert "was replaced by another file while this dashboard was open" in _banners(at)
    with storage.open_store(f"sqlite:///{_file(store)}") as there:
        assert storage.count_runs(there) == 0


def test_a_deleted_store_gives_a_banner_and_the_same_file_moved_back_recovers(store, tmp_path):
    make_run(store, "running", goal="Tidy the reports folder")
    at = app_at(LIVE_PAGE)
    assert not at.exception
    away = tmp_path / "moved-away.db"
    os.rename(_file(store), away)
    at.run()
    assert not at.exception
    shown = _banners(at)
    assert f"The store at {_file(store)} was deleted (moved away or removed)" in shown
    assert "Move the same file back and the page recovers by itself" in shown
    assert not _file(store).exists()  # no empty store was created in its place
    os.rename(away, _file(store))
    at.run()
    assert not at.exception
    assert "was deleted" not in _banners(at)
    assert "Tidy the reports folder" in " ".join(m.value for m in at.markdown)
