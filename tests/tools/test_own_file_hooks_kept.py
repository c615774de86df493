"""The import path's startup hooks are listed once per worker and kept while the path's folders
stay as they were: a hook name made, replaced or relinked afterwards is seen at the next run's
start, both where it stands and where it leads."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agent_core.tools.protected import own_files


@pytest.fixture
def on_path(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.setattr(sys, "path", [str(folder), *sys.path])
    return folder


def _paths() -> set[Path]:
    return {f.path for f in own_files().files}


def test_a_hook_linked_in_after_the_first_run_protects_where_it_leads(on_path, tmp_path):
    target = tmp_path / "ws" / "innocent.py"
    target.parent.mkdir()
    target.write_text("x = 1\n")
    assert on_path / "sitecustomize.py" in _paths()  # the name, before anything is there
    assert target not in _paths()
    (on_path / "sitecustomize.py").symlink_to(target)  # after the first run's start
    assert target in _paths()  # the next start protects the file the hook would run


def test_a_hook_relinked_elsewhere_is_followed_to_its_new_target(on_path, tmp_path):
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text("")
    second.write_text("")
    (on_path / "usercustomize.py").symlink_to(first)
    assert first in _paths()
    spare = on_path / "spare"
    spare.symlink_to(second)
    os.replace(spare, on_path / "usercustomize.py")
    assert second in _paths()


def test_a_path_folder_swapped_for_a_link_is_followed(on_path, tmp_path):
    assert on_path / "sitecustomize.py" in _paths()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.rename(on_path, tmp_path / "parked")
    on_path.symlink_to(elsewhere)
    assert elsewhere / "sitecustomize.py" in _paths()  # where the name now really is


def test_the_list_is_the_same_whether_kept_or_made_again(on_path, tmp_path):
    (on_path / "sitecustomize.py").symlink_to(tmp_path / "t.py")
    kept = own_files(store_file=tmp_path / "onloop.db").files
    again = own_files(store_file=tmp_path / "onloop.db").files
    assert kept == again
    assert tmp_path / "t.py" in {f.path for f in kept}
