"""The dashboard on a store a newer onloop migrated: one clear error naming both versions and the
fix, no page and no traceback (storage.versions)."""

from __future__ import annotations

from tests.support.dashboard_fixtures import app_at
from tests.support.store_versions import NEWER, record_newer_version


def test_a_store_a_newer_onloop_migrated_is_refused_with_both_versions(store, monkeypatch):
    record_newer_version(store)
    monkeypatch.setenv("ONLOOP_DATABASE_URL", store.url)
    at = app_at()
    assert not at.exception
    shown = at.error[0].value
    assert shown.startswith("The dashboard cannot open its store: the store at ")
    assert f"schema version {NEWER}, newer than this onloop" in shown
    assert "upgrade onloop" in shown
    assert not at.title  # no page runs on it
