"""onloop's own files are protected under their real location too: `real_texts` resolves each
folder once, and must give exactly what os.path.realpath gives, whatever links lie on the way."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from agent_core.tools.protected import own_files, real_texts


def _random_tree(base: Path, rng: random.Random) -> list[Path]:
    """Folders, files and links (to folders, files, ancestors, links, nothing, outside), and
    the paths to ask about: through links, to missing names, with '..' and relative ones."""
    outside = base / "outside"
    outside.mkdir()
    (outside / "onloop.db").write_text("x")
    root = base / "root"
    folders = [root]
    root.mkdir()
    for i in range(6):
        folder = rng.choice(folders) / f"d{i}"
        folder.mkdir()
        folders.append(folder)
    targets = [*folders, outside, outside / "onloop.db", base / "gone"]
    links = []
    for i in range(6):
        link = rng.choice(folders) / f"l{i}"
        link.symlink_to(rng.choice(targets + links))
        links.append(link)
    for folder in rng.sample(folders, 3):
        (folder / "onloop.db").write_text("db")
    names = ["onloop.db", "onloop.db-wal", "missing", "l0", "..", "."]
    asked = []
    for _ in range(30):
        where = rng.choice(folders + links)
        path = where / rng.choice(names)
        if rng.random() < 0.2:
            path = where / ".." / rng.choice(names)
        if rng.random() < 0.2:
            path = Path(os.path.relpath(path, base))
        asked.append(path)
    return asked


@pytest.mark.parametrize("seed", range(20))
def test_real_texts_agree_with_realpath_on_random_trees_of_links(tmp_path, monkeypatch, seed):
    monkeypatch.chdir(tmp_path)
    asked = _random_tree(tmp_path, random.Random(seed))
    assert real_texts(asked) == [os.path.realpath(p) for p in asked]


def test_a_store_reached_through_a_link_is_protected_where_it_really_is(tmp_path):
    real = tmp_path / "data"
    real.mkdir()
    (tmp_path / "via").symlink_to(real)
    (real / "onloop.db-wal").symlink_to(tmp_path / "elsewhere.wal")  # a sibling that is a link
    protected = own_files(store_file=tmp_path / "via" / "onloop.db")
    paths = {f.path for f in protected.files}
    assert real / "onloop.db" in paths and tmp_path / "via" / "onloop.db" in paths
    assert tmp_path / "elsewhere.wal" in paths  # where the link leads
    assert real / "onloop.db-shm" in paths
