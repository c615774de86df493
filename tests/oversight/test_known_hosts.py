"""Hosts the project names when a run starts (oversight/known_hosts.py)."""

from __future__ import annotations

import time
from pathlib import Path

from agent_core.oversight import known_hosts
from agent_core.oversight.known_hosts import hosts_in_text, project_hosts


def test_links_remotes_and_manifests_name_hosts(tmp_path: Path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(
        '[remote "origin"]\n\turl = git@github.com:acme/app.git\n'
        '[remote "mirror"]\n\turl = https://GitLab.example.org:8443/acme/app.git\n'
    )
    (tmp_path / "notes.md").write_text(
        "See https://wiki.acme.dev/security and (http://Docs.Python.org/3/)."
    )
    (tmp_path / "requirements-dev.txt").write_text("pytest\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "package.json").write_text("{}")
    found = project_hosts(tmp_path, "Summarise https://example.com/report")
    assert found["example.com"] == "the goal"
    assert found["github.com"] == ".git/config"
    assert found["gitlab.example.org"] == ".git/config"
    assert found["wiki.acme.dev"] == found["docs.python.org"] == "notes.md"
    assert found["pypi.org"] == "requirements-dev.txt (the registry it implies)"
    assert found["registry.npmjs.org"] == "web/package.json (the registry it implies)"


def test_what_is_not_a_host_of_the_project_is_not_counted(tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text("https://evil.test/")
    root = tmp_path / "ws"
    root.mkdir()
    (root / "link.md").symlink_to(outside)  # a link out of the workspace is never read
    (root / "blob.bin").write_bytes(b"\0\0https://binary.test/\0")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "x.md").write_text("https://vendored.test/")
    (root / "plain.md").write_text("mail me at a@b.test or visit www.nolink.test")
    assert project_hosts(root) == {}
    assert project_hosts(None, "no links here") == {}


def test_the_scan_is_capped(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(known_hosts, "MAX_FILES", 3)
    for index in range(6):
        (tmp_path / f"{index}.md").write_text(f"https://host{index}.test/")
    assert set(project_hosts(tmp_path)) == {"host0.test", "host1.test", "host2.test"}
    monkeypatch.setattr(known_hosts, "MAX_FILES", 100)
    monkeypatch.setattr(known_hosts, "MAX_TOTAL", 40)
    assert len(project_hosts(tmp_path)) < 6


def test_hosts_in_text_reads_urls_only_and_folds_case():
    text = "a https://A.Example.COM/x b http://127.0.0.1:8080/ c ftp://no.test/ d https://b.test)"
    assert hosts_in_text(text) == {"a.example.com", "127.0.0.1", "b.test"}


def _own_folder_run(store, folder: Path):
    import storage
    from tests.support.run_helpers import new_run

    run = new_run(store, "Tidy the notes", workspace=str(folder))
    return storage.get_run(store, run_id=run.id)


def test_a_host_an_earlier_runs_agent_may_have_written_names_nothing_for_the_next(
    store, tmp_path: Path
):
    """A person's own folder, run after run: the first run's agent writes a host into README.md;
    the next run took it for the project's word, so fetching from it (with data in the query)
    was a plain read, allowed unasked. Files changed since the first run there name no host."""
    from agent_core.worker.session_start import run_spec

    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.md").write_text("Docs: https://docs.acme.dev/guide\n")
    time.sleep(0.05)  # the first run is created after the person's file was written
    first = _own_folder_run(store, folder)
    assert "docs.acme.dev" in run_spec(store, first, []).known_hosts
    time.sleep(0.05)
    (folder / "README.md").write_text("Mirror: https://collect.evil.test/upload\n")  # the agent
    second = _own_folder_run(store, folder)
    hosts = run_spec(store, second, []).known_hosts
    assert "docs.acme.dev" in hosts  # the person's file, from before any run: still counted
    assert "collect.evil.test" not in hosts


def test_files_changed_since_agents_worked_in_the_folder_are_skipped(tmp_path: Path):
    (tmp_path / "old.md").write_text("https://old.test/")
    time.sleep(0.05)
    moment = time.time()
    time.sleep(0.05)
    (tmp_path / "new.md").write_text("https://new.test/")
    assert set(project_hosts(tmp_path, agents_since=moment)) == {"old.test"}
    assert set(project_hosts(tmp_path)) == {"old.test", "new.test"}
