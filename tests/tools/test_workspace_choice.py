"""Workspaces the person chooses: their own folder (--workspace) or a fresh copy of one
(--seed-from), refused with one line naming the fix when the folder cannot be a workspace."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import storage
from agent_core.models.demo import DemoModel
from agent_core.oversight import control
from agent_core.tools import workspace_choice
from agent_core.tools.workspace_choice import (
    WorkspaceChoiceError,
    copy_from,
    seed_workspace,
    work_in,
)
from agent_core.worker.claim_loop import drive_run
from tests.cli.test_commands import onloop
from tests.support.run_helpers import events_of, new_run

REPORT = "Summarise the files in the workspace into report.md"


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / "plan.md").write_text("# Plan\nShip it on Friday.\n", encoding="utf-8")
    (folder / "todo.txt").write_text("buy milk\n", encoding="utf-8")
    (folder / "sub" / "deep.txt").write_text("deep\n", encoding="utf-8")
    return folder


def test_a_relative_path_is_resolved_against_the_callers_folder(tmp_path, notes):
    assert work_in("notes", cwd=tmp_path) == notes.resolve()
    assert copy_from("./notes/../notes", cwd=tmp_path) == notes.resolve()
    link = tmp_path / "link"
    link.symlink_to(notes)
    assert work_in(str(link)) == notes.resolve()  # stored where it really is


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", "--workspace is empty; name a folder"),
        ("missing", "no folder at {tmp}/missing; create it first, or check the path"),
        ("notes/plan.md", "{tmp}/notes/plan.md is a file, not a folder; pass the folder that"),
        ("/", "/ is a system folder; pass a folder of your own"),
        ("/etc", "/etc is a system folder"),
        ("/usr/lib", "/usr/lib is a system folder"),
        ("/tmp", "/tmp is a system folder"),
    ],
)
def test_folders_that_cannot_be_a_workspace_are_refused_naming_the_fix(
    tmp_path, notes, given, expected
):
    with pytest.raises(WorkspaceChoiceError) as info:
        work_in(given, cwd=tmp_path)
    assert str(info.value).startswith(expected.format(tmp=tmp_path))
    assert "\n" not in str(info.value)


def test_the_home_folder_itself_is_refused_but_a_folder_in_it_is_fine(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "projects").mkdir()
    with pytest.raises(WorkspaceChoiceError, match="is your home folder; pass a folder inside"):
        work_in("~")
    assert work_in("~/projects") == (tmp_path / "projects").resolve()


def test_a_folder_holding_the_database_is_refused(tmp_path, notes):
    database = notes / "sub" / "onloop.db"
    for folder in (notes / "sub", notes, tmp_path):  # its folder and every folder above it
        with pytest.raises(WorkspaceChoiceError, match="holds onloop's database"):
            work_in(str(folder), store_file=database)
        with pytest.raises(WorkspaceChoiceError, match="keep the database elsewhere with --db"):
            copy_from(str(folder), store_file=database)
    outside = tmp_path / "other"
    outside.mkdir()
    assert work_in(str(outside), store_file=database) == outside.resolve()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any folder")
def test_unreadable_and_read_only_folders(tmp_path, notes):
    notes.chmod(0o500)
    try:
        with pytest.raises(WorkspaceChoiceError, match="cannot write to the folder .* --seed-from"):
            work_in(str(notes))
        assert copy_from(str(notes)) == notes.resolve()  # a copy needs only to read it
        notes.chmod(0o000)
        with pytest.raises(WorkspaceChoiceError, match="cannot read the folder .* permissions"):
            copy_from(str(notes))
    finally:
        notes.chmod(0o700)


def test_permissions_are_checked_with_access(tmp_path, notes, monkeypatch):
    """The same refusals for root, who may read and write anything: os.access decides them."""
    monkeypatch.setattr(os, "access", lambda path, mode: not mode & os.W_OK)
    with pytest.raises(WorkspaceChoiceError) as info:
        work_in(str(notes))
    assert str(info.value) == (
        f"cannot write to the folder {notes.resolve()}; make it writable, or use --seed-from "
        "to work on a copy of it"
    )
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(WorkspaceChoiceError, match="cannot read the folder"):
        copy_from(str(notes))


def test_the_copy_leaves_out_links_that_lead_out_and_special_files(tmp_path, notes):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret", encoding="utf-8")
    (notes / "out_file").symlink_to(secret)
    (notes / "out_dir").symlink_to(tmp_path)
    (notes / "out_relative").symlink_to("../secret.txt")
    (notes / "in_link").symlink_to("sub/deep.txt")
    os.mkfifo(notes / "pipe")
    target = tmp_path / "copy"
    size = seed_workspace(notes, target)
    assert size.files == 3
    found = sorted(p.relative_to(target).as_posix() for p in target.rglob("*"))
    assert found == ["in_link", "plan.md", "sub", "sub/deep.txt", "todo.txt"]
    assert (target / "in_link").read_text() == "deep\n" and os.path.islink(target / "in_link")
    assert os.path.realpath(target / "in_link") == str((target / "sub" / "deep.txt").resolve())
    (target / "plan.md").write_text("changed", encoding="utf-8")
    assert (notes / "plan.md").read_text().startswith("# Plan")  # the original is untouched


def test_past_the_cap_nothing_is_copied_and_the_message_says_what_to_do(
    tmp_path, notes, monkeypatch
):
    monkeypatch.setattr(workspace_choice, "SEED_MAX_FILES", 2)
    with pytest.raises(WorkspaceChoiceError) as info:
        copy_from(str(notes))
    assert "is too big to copy in (over 2 files or 100 MB)" in str(info.value)
    assert str(info.value).endswith("or work in it directly with --workspace")
    with pytest.raises(WorkspaceChoiceError, match="too big to copy in"):
        seed_workspace(notes, tmp_path / "copy")
    assert not (tmp_path / "copy").exists() and not (tmp_path / "copy.seeding").exists()
    monkeypatch.setattr(workspace_choice, "SEED_MAX_FILES", 100)
    monkeypatch.setattr(workspace_choice, "SEED_MAX_BYTES", 10)
    with pytest.raises(WorkspaceChoiceError, match="too big to copy in"):
        copy_from(str(notes))


def test_the_store_keeps_both_choices_absolute_and_apart(store, notes):
    with pytest.raises(storage.StoreError, match="either a folder to work in or a folder to copy"):
        storage.create_run(store, goal="x", workspace=str(notes), seed_from=str(notes))
    with pytest.raises(storage.StoreError, match="workspace must be an absolute path"):
        storage.create_run(store, goal="x", workspace="notes")
    own = storage.create_run(store, goal="x", workspace=str(notes))
    assert own.workspace == str(notes) and own.own_workspace
    fresh = storage.create_run(store, goal="x", seed_from=str(notes))
    assert fresh.workspace == str(store.workspace_root / fresh.id) and not fresh.own_workspace
    assert storage.get_run(store, run_id=fresh.id).seed_from == str(notes)


def _drive(store, run):
    claimed = storage.claim_run(store, run_id=run.id, worker_id="w", lease_seconds=30)
    return drive_run(store, claimed, model_factory=lambda run: DemoModel(delay_s=0))


def test_a_demo_run_reads_the_persons_folder_and_writes_only_there(store, notes):
    before = {p: p.read_bytes() for p in notes.rglob("*") if p.is_file()}
    run = new_run(store, REPORT, autonomy="autonomous", workspace=str(notes))
    assert _drive(store, run).status == "succeeded"
    listed = events_of(store, run.id, "tool_result")[0].payload["output"]
    assert "plan.md" in listed and "todo.txt" in listed
    report = (notes / "report.md").read_text(encoding="utf-8")
    assert "plan.md" in report and "todo.txt" in report
    after = {p: p.read_bytes() for p in notes.rglob("*") if p.is_file()}
    assert {p: b for p, b in after.items() if p.name != "report.md"} == before
    assert not store.workspace_root.exists()  # no per-run folder was made
    # A re-run works in the same folder again.
    again = control.rerun(store, run_id=run.id, by="ada")
    assert again.workspace == str(notes) and again.own_workspace


def test_a_seeded_run_works_on_a_copy_and_the_original_stays_as_it_was(store, notes):
    run = new_run(store, REPORT, autonomy="autonomous", seed_from=str(notes))
    assert _drive(store, run).status == "succeeded"
    copy = Path(run.workspace)
    assert (copy / "report.md").exists() and (copy / "sub" / "deep.txt").exists()
    assert not (notes / "report.md").exists()
    assert not (copy / "README.md").exists()  # not the demo's own seed files
    assert control.rerun(store, run_id=run.id, by="ada").seed_from == str(notes)


def test_a_folder_gone_before_the_worker_starts_fails_the_run_with_the_reason(store, notes):
    run = new_run(store, REPORT, workspace=str(notes))
    shutil.rmtree(notes)
    outcome = _drive(store, run)
    assert outcome.status == "failed" and "no folder at" in (outcome.reason or "")
    assert not notes.exists()  # not silently made again, empty
    assert events_of(store, run.id, "error")[0].payload["where"] == "start"


def test_cli_run_in_a_folder_and_show_names_it(tmp_path, notes):
    done = onloop("run", REPORT, "--workspace", "notes", "--yes", "--db", "db/x.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"workspace: {notes.resolve()} (your folder" in done.stdout
    assert (notes / "report.md").exists()
    run_id = done.stdout.split()[1]
    shown = onloop("show", run_id, "--db", "db/x.db", cwd=tmp_path)
    assert f"workspace: {notes.resolve()} (your folder" in shown.stdout


def test_cli_seed_from_and_its_refusals(tmp_path, notes):
    (tmp_path / "db").mkdir()
    done = onloop("run", REPORT, "--seed-from", "notes", "-y", "--db", "db/x.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"(a copy of {notes.resolve()})" in done.stdout
    assert not (notes / "report.md").exists()
    for args, expected in [
        (("--workspace", "notes", "--seed-from", "notes"), "pass either --workspace"),
        (("--workspace", "db"), "holds onloop's database"),
        (("--seed-from", "nowhere"), "no folder at"),
    ]:
        refused = onloop("run", REPORT, *args, "--db", "db/x.db", cwd=tmp_path)
        assert refused.returncode == 2 and expected in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1


def test_an_unreadable_folder_inside_the_seed_is_named(tmp_path, notes, monkeypatch):
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "sub":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(WorkspaceChoiceError) as info:
        copy_from(str(notes))
    assert str(info.value).startswith(f"cannot read the folder {notes.resolve()}/sub inside")
