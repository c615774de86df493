"""The walk that finds a workspace's secret files before every tool call: the same paths as the
plain per-file `relpath` it replaced, links included, and kept answers that never hide a secret
file written since (the answers are a pure function of the patterns and the path)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from agent_core.oversight import secret_files
from agent_core.oversight.folder_reads import Walk, walk_folder
from agent_core.tools.workspace import Workspace

PATTERNS = ("**/.env", "**/*.pem", "**/secrets/**")


def _walk_before(root: Path, start: Path) -> list[tuple[str, str]]:
    """The walk as it was, each file's path worked out with its own relpath (the oracle)."""
    files: list[tuple[str, str]] = []
    seen: set[str] = set()
    stack = [(start, os.path.realpath(start) != os.path.normpath(start))]
    while stack:
        folder, inside_link = stack.pop()
        real = os.path.realpath(folder)
        if real in seen or not (real == str(root) or real.startswith(str(root) + os.sep)):
            continue
        seen.add(real)
        for entry in list(os.scandir(folder)):
            if entry.is_dir(follow_symlinks=True):
                stack.append((Path(entry.path), inside_link or entry.is_symlink()))
                if not entry.is_symlink():
                    continue
            shown = os.path.relpath(entry.path, root)
            linked = entry.is_symlink() or inside_link
            files.append(
                (shown, os.path.relpath(os.path.realpath(entry.path), root) if linked else shown)
            )
    return files


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "app" / "config").mkdir(parents=True)
    (root / "app" / "config" / ".env").write_text("TOKEN=abcdefgh12345678\n")
    (root / "app" / "main.py").write_text("print('hi')\n")
    (root / "keys").mkdir()
    (root / "keys" / "server.pem").write_text("-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n")
    (root / "linked").symlink_to(root / "app")  # a folder reached twice: once through the link
    (root / "env-link").symlink_to(root / "app" / "config" / ".env")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not ours\n")
    (root / "away").symlink_to(outside)  # leads out of the workspace: not walked
    (root / "dangling").symlink_to(root / "gone")
    (root / "sp ace dir").mkdir()
    (root / "sp ace dir" / "ünï cödé.txt").write_text("x\n")
    return root


def test_the_walk_finds_the_same_paths_as_one_relpath_per_file(tmp_path):
    root = _tree(tmp_path)
    for start in (root, root / "app", root / "linked", root / "sp ace dir"):
        walk = Walk()
        walk_folder(root, start, walk)
        assert sorted(walk.files) == sorted(_walk_before(root, start)), start
    walk = Walk()
    walk_folder(root, root, walk)
    assert ("linked/config/.env", "app/config/.env") in walk.files
    assert not any("secret.txt" in shown for shown, _ in walk.files)


def test_a_secret_file_written_between_calls_is_found_on_the_next(tmp_path):
    root = _tree(tmp_path)
    space = Workspace(root)
    first = secret_files.secret_file_values(space, PATTERNS)
    assert "abcdefgh12345678" in first.values()
    (root / "app" / "notes.txt").write_text("PASSWORD=zyxwvuts98765432\n")
    assert "zyxwvuts98765432" not in secret_files.secret_file_values(space, PATTERNS).values()
    (root / "app" / "notes.txt").rename(root / "app" / ".env")  # now it is one
    assert "zyxwvuts98765432" in secret_files.secret_file_values(space, PATTERNS).values()
    (root / "secrets").mkdir()
    (root / "secrets" / "db").write_text("dbpass=qwertyuiop0987\n")
    assert "qwertyuiop0987" in secret_files.secret_file_values(space, PATTERNS).values()
    # Other patterns get their own answers, never the ones kept for these.
    assert secret_files.secret_file_values(space, ("**/*.pem",)).keys() == {
        "keys/server.pem line 2"
    }


def test_the_kept_answers_stay_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(secret_files, "_ANSWERS", {})
    monkeypatch.setattr(secret_files, "_ANSWERS_CAP", 5)
    root = tmp_path / "many"
    root.mkdir()
    for n in range(40):
        (root / f"f{n}.txt").write_text("x\n")
    (root / ".env").write_text("KEY=abcdefgh12345678\n")
    for round_ in range(3):
        found = secret_files.secret_file_values(Workspace(root), PATTERNS)
        assert "abcdefgh12345678" in found.values(), round_
        assert all(len(kept) <= 5 for kept in secret_files._ANSWERS.values())
    for n in range(20):  # many different pattern sets: the oldest answers go
        secret_files.secret_file_values(Workspace(root), (f"**/x{n}",))
    assert len(secret_files._ANSWERS) <= 16


def _random_tree(tmp_path: Path, seed: int) -> tuple[Path, list[Path]]:
    """A tree of folders, files and links (to folders and files, inside and outside, to an
    ancestor, to a link, dangling), from a seed: the walk must agree with the oracle on all."""
    rng = random.Random(seed)
    root = tmp_path / f"ws{seed}"
    root.mkdir()
    outside = tmp_path / f"out{seed}"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / ".env").write_text("KEY=outsideoutside1\n")
    folders = [root]
    for n in range(rng.randint(3, 12)):
        parent = rng.choice(folders)
        folder = parent / rng.choice([f"d{n}", f"sp ace {n}", f"ü{n}", f".hidden{n}"])
        folder.mkdir(exist_ok=True)
        folders.append(folder)
    files = []
    for n in range(rng.randint(3, 15)):
        file = rng.choice(folders) / rng.choice([f"f{n}.txt", ".env", f"k{n}.pem"])
        file.write_text(f"VALUE{n}=abcdefgh{n:08d}\n")
        files.append(file)
    targets = [*folders, *files, outside, outside / "deep", root / "gone", root.parent]
    for n in range(rng.randint(2, 8)):
        link = rng.choice(folders) / f"link{n}"
        if not link.exists() and not link.is_symlink():
            link.symlink_to(rng.choice(targets))
    chain = root / "chain"
    if not chain.exists() and not chain.is_symlink():
        chain.symlink_to(root / "link0")  # a link to a link (maybe dangling)
    return root, folders


@pytest.mark.parametrize("seed", range(25))
def test_the_walk_agrees_with_the_oracle_on_random_trees(tmp_path, seed):
    root, folders = _random_tree(tmp_path, seed)
    starts = [root, *folders[1:4], *(p for p in root.iterdir() if p.is_symlink() and p.is_dir())]
    for start in starts:
        walk = Walk()
        walk_folder(root, start, walk)
        assert sorted(walk.files) == sorted(_walk_before(root, start)), (seed, start)
        assert not any(real.startswith("..") and shown == real for shown, real in walk.files)
