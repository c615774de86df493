"""The Launch page's workspace field (a fresh folder, the person's own, a copy of it) and the
folder shown on the Run page (AppTest)."""

from __future__ import annotations

from pathlib import Path

import pytest

import storage
from agent_core.oversight.inert import markdown as inert
from dashboard.routes import RUN_PAGE
from tests.support.dashboard_fixtures import app_at

pytestmark = pytest.mark.store_for("dashboard")  # the routed app (AppTest) reads this store


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "projects" / "notes"
    folder.mkdir(parents=True)
    (folder / "plan.md").write_text("# Plan\n", encoding="utf-8")
    return folder


def launch_with(mode: str, folder: str | None = None):
    at = app_at()
    at.text_area(key="launch_goal").input("Summarise the files in the workspace into report.md")
    at.radio(key="launch_workspace_mode").set_value(mode).run()
    if folder is not None:
        at.text_input(key="launch_workspace_folder").input(folder)
    at.button(key="launch_submit").click().run()
    assert not at.exception
    return at


def test_a_fresh_folder_is_the_default_and_asks_for_no_path(store):
    at = app_at()
    assert at.radio(key="launch_workspace_mode").value == "fresh"
    assert not [w for w in at.text_input if w.key == "launch_workspace_folder"]
    at.text_area(key="launch_goal").input("What is 2+2?")
    at.button(key="launch_submit").click().run()
    (run,) = storage.list_runs(store)
    assert run.workspace == str(store.workspace_root / run.id) and run.seed_from is None


def test_work_in_my_folder_queues_the_run_there_and_the_run_page_says_so(store, notes):
    at = launch_with("own", str(notes))
    (run,) = storage.list_runs(store)
    assert run.workspace == str(notes.resolve()) and run.own_workspace
    assert at.title[0].value == f"Run {run.id}"
    shown = [c.value for c in at.caption if "Workspace" in c.value]
    assert shown and "your folder: the run works in it" in shown[0]
    assert "notes" in shown[0]


def test_work_on_a_copy_records_the_source_and_a_fresh_folder(store, notes):
    at = launch_with("copy", str(notes))
    (run,) = storage.list_runs(store)
    assert run.seed_from == str(notes.resolve()) and not run.own_workspace
    shown = [c.value for c in at.caption if "Workspace" in c.value]
    assert shown and "a copy of" in shown[0]


@pytest.mark.parametrize(
    ("mode", "folder", "expected"),
    [
        ("own", "", '"Work in my folder" is empty; name a folder'),
        ("own", "{tmp}/missing", "no folder at {tmp}/missing; create it first"),
        ("own", "{tmp}", "holds onloop's database"),
        ("copy", "{tmp}/projects/notes/plan.md", "is a file, not a folder"),
        ("copy", "/etc", "/etc is a system folder"),
    ],
)
def test_a_folder_that_cannot_be_used_is_refused_naming_the_fix(
    store, notes, tmp_path, mode, folder, expected
):
    at = launch_with(mode, folder.format(tmp=tmp_path))
    assert at.error[0].value.startswith("The run was not queued: ")
    assert expected.format(tmp=tmp_path) in at.error[0].value
    assert storage.count_runs(store) == 0


def test_the_run_page_names_a_fresh_folder_too(store):
    run = storage.create_run(store, goal="g")
    at = app_at(RUN_PAGE, query={"run": run.id})
    assert not at.exception
    assert any(c.value.endswith(f"Workspace {inert(run.workspace)}") for c in at.caption)


@pytest.mark.parametrize("mode", ["fresh", "copy"])
def test_a_workspace_root_that_cannot_take_a_fresh_folder_is_refused_before_queueing(
    store, notes, tmp_path, monkeypatch, mode
):
    """The run would be queued and fail as it started, offering a resume that fails the same
    way; "Work in my folder" needs no fresh folder and is still queued."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("ONLOOP_WORKSPACES", str(blocker / "runs"))
    monkeypatch.setattr(store, "workspace_root", blocker / "runs", raising=False)
    at = launch_with(mode, str(notes) if mode == "copy" else None)
    assert at.error, [e.value for e in at.error]
    said = at.error[0].value
    assert said.startswith(f"The run was not queued: cannot make run folders in {blocker}")
    assert '"Work in my folder"' in said  # the fix, in the page's words
    assert storage.count_runs(store) == 0
    launch_with("own", str(notes))
    assert storage.count_runs(store) == 1
