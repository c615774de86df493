"""What the pages owe the truth: readable write previews and diffs, every path of a delete, an
interrupted run's approval marked as such, and the unmet status told apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import storage
from tests.support import dashboard_seed as seed

pytestmark = pytest.mark.store_for("page")  # a page run on its own by AppTest reads this store


def inbox() -> AppTest:
    at = AppTest.from_file(str(seed.PAGES / "approvals.py"), default_timeout=30)
    at.run()
    assert not at.exception
    return at


def _with_workspace(store, run, tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    folder.mkdir()
    storage.update_run(store, run_id=run.id, workspace=str(folder))
    return folder


def test_a_write_to_an_existing_file_is_shown_as_a_diff(store, tmp_path):
    run = seed.make_run(store, status="waiting")
    folder = _with_workspace(store, run, tmp_path)
    (folder / "notes.md").write_text("first line\nold line\n")
    arguments = {"path": "notes.md", "content": "first line\nnew line\n"}
    seed.make_approval(store, run, tool="write_file", arguments=arguments, risk="medium")
    at = inbox()
    diffs = [c.value for c in at.code if c.language == "diff"]
    assert diffs and "-old line" in diffs[0] and "+new line" in diffs[0]


def test_a_write_of_a_new_file_is_shown_as_its_text(store, tmp_path):
    run = seed.make_run(store, status="waiting")
    _with_workspace(store, run, tmp_path)
    arguments = {"path": "new.md", "content": "# Title\n\nbody text\n"}
    seed.make_approval(store, run, tool="write_file", arguments=arguments, risk="medium")
    at = inbox()
    assert any("body text" in c.value for c in at.code)


def test_a_delete_lists_every_path_once(store):
    run = seed.make_run(store, status="waiting")
    paths = [f"tmp/f{i}.tmp" for i in range(30)] + ["tmp/f0.tmp"]
    seed.make_approval(store, run, arguments={"paths": paths})
    at = inbox()
    listed = [t.value for t in at.text if t.value.startswith("tmp/f0.tmp")]
    assert listed and listed[0].splitlines() == [f"tmp/f{i}.tmp" for i in range(30)]
    assert any("Deletes 30 paths" in c.value for c in at.caption)


def test_an_interrupted_runs_approval_is_marked_and_names_resume(store):
    run = seed.make_run(store, status="interrupted")
    seed.make_approval(store, run)
    at = inbox()
    warning = " ".join(w.value for w in at.warning)
    assert "interrupted" in warning and "onloop resume" in warning


def test_the_time_bar_leaves_out_waiting_and_never_runs_backwards(store):
    from datetime import timedelta

    from dashboard.components.status import working_seconds

    run = seed.make_run(store, status="waiting", active_seconds=10.0)
    start = storage.utcnow() - timedelta(seconds=100)
    storage.update_run(store, run_id=run.id, started_at=start)
    approval = seed.make_approval(store, run, requested_at=start + timedelta(seconds=40))
    run = storage.get_run(store, run_id=run.id)
    now = start + timedelta(seconds=100)
    # 100 s of session, of which 60 s waiting for a person: 10 + 40 s of working time.
    assert abs(working_seconds(run, [approval], now) - 50.0) < 1e-6
    later = working_seconds(run, [approval], now + timedelta(seconds=30))
    assert abs(later - 50.0) < 1e-6  # the clock stands while the run waits


def test_the_unmet_status_is_told_apart_on_the_history_page(store):
    seed.make_run(store, goal="a goal it did not meet", status="unmet")
    at = AppTest.from_file(str(seed.PAGES / "history.py"), default_timeout=30)
    at.run()
    assert not at.exception
    assert list(at.dataframe[0].value["Status"]) == ["unmet"]
    assert "unmet" in at.multiselect(key="history-status").options
