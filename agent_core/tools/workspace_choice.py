"""Where a run works: a folder the person chose, or a fresh per-run folder seeded with a copy of one.

Every refusal is one line that names the folder and the fix. The same checks run where the run is
launched (CLI, dashboard) and again in the worker before each session, since a folder can change
between the two.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

SEED_MAX_FILES = 2_000
SEED_MAX_BYTES = 100 * 1024 * 1024
# Never a workspace, nor any folder inside one of these.
_SYSTEM_TREES = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin",
    "/sys", "/usr", "/run", "/System", "/Library", "/private/etc", "/private/var/db",
)  # fmt: skip
# Never a workspace themselves (folders inside them are fine: /var/www, /tmp/x, /home/ada/notes).
_SYSTEM_FOLDERS = (
    "/", "/var", "/tmp", "/home", "/opt", "/srv", "/mnt", "/media", "/root", "/snap", "/Users",
    "/Applications", "/Volumes", "/private", "/private/var", "/private/tmp",
)  # fmt: skip


class WorkspaceChoiceError(ValueError):
    """A folder cannot be a run's workspace (or its seed); the message names the fix."""


@dataclass(frozen=True)
class Words:
    """How the two modes are named where the person chose them (flags, or the Launch page)."""

    work_in: str = "--workspace"
    copy_from: str = "--seed-from"


CLI_WORDS = Words()


@dataclass(frozen=True)
class SeedSize:
    files: int
    bytes: int


def work_in(
    path: str, *, cwd: Path | None = None, store_file: Path | None = None, words: Words = CLI_WORDS
) -> Path:
    """The absolute folder `path` names, if a run may read and write in it (--workspace)."""
    folder = _existing_folder(path, cwd, words.work_in)
    _refuse_special(folder, store_file)
    if not os.access(folder, os.R_OK | os.X_OK):
        raise WorkspaceChoiceError(f"cannot read the folder {folder}; check its permissions")
    if not os.access(folder, os.W_OK):
        raise WorkspaceChoiceError(
            f"cannot write to the folder {folder}; make it writable, or use {words.copy_from} "
            "to work on a copy of it"
        )
    return folder


def copy_from(
    path: str, *, cwd: Path | None = None, store_file: Path | None = None, words: Words = CLI_WORDS
) -> Path:
    """The absolute folder `path` names, if a run may start from a copy of it (--seed-from)."""
    folder = _existing_folder(path, cwd, words.copy_from)
    _refuse_special(folder, store_file)
    if not os.access(folder, os.R_OK | os.X_OK):
        raise WorkspaceChoiceError(f"cannot read the folder {folder}; check its permissions")
    measure_seed(folder, words)
    return folder


def check_workspace_root(root: Path, words: Words = CLI_WORDS) -> None:
    """Fresh run folders can be made under `root` (ONLOOP_WORKSPACES, or beside the store): it,
    or the nearest folder above it that exists, is a folder this user may write. Asked before
    the run is created: otherwise the run is recorded and fails at once, offering a resume
    that fails the same way."""
    nearest = root
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    problem = None
    if not nearest.is_dir():
        problem = f"{nearest} is a file, not a folder"
    elif not os.access(nearest, os.W_OK | os.X_OK):
        problem = f"{nearest} is not writable"
    if problem:
        raise WorkspaceChoiceError(
            f"cannot make run folders in {root}: {problem}; set ONLOOP_WORKSPACES to a folder "
            f"you can write, or choose a folder to work in ({words.work_in})"
        )


def _existing_folder(path: str, cwd: Path | None, flag: str) -> Path:
    text = (path or "").strip()
    if not text:
        raise WorkspaceChoiceError(f"{flag} is empty; name a folder, e.g. ~/projects/notes")
    given = Path(text).expanduser()
    if not given.is_absolute():
        given = (cwd or Path.cwd()) / given
    # Symlinks resolved: the checks below, and the tools later, see where it really is.
    folder = Path(os.path.realpath(given))
    if not folder.exists():
        raise WorkspaceChoiceError(f"no folder at {given}; create it first, or check the path")
    if not folder.is_dir():
        raise WorkspaceChoiceError(
            f"{given} is a file, not a folder; pass the folder that holds it"
        )
    return folder


def _refuse_special(folder: Path, store_file: Path | None) -> None:
    home = Path(os.path.realpath(Path.home()))
    if folder == home:
        raise WorkspaceChoiceError(
            f"{folder} is your home folder; pass a folder inside it made for this run, "
            "e.g. ~/projects/notes"
        )
    trees = [Path(t) for t in _SYSTEM_TREES]
    if str(folder) in _SYSTEM_FOLDERS or any(
        folder == t or folder.is_relative_to(t) for t in trees
    ):
        raise WorkspaceChoiceError(
            f"{folder} is a system folder; pass a folder of your own, e.g. ~/projects/notes"
        )
    if store_file is not None and store_file.parent.is_relative_to(folder):
        raise WorkspaceChoiceError(
            f"{folder} holds onloop's database ({store_file}), which the agent must not be able "
            "to write; pick a folder that does not contain it, or keep the database elsewhere "
            "with --db"
        )


def measure_seed(folder: Path, words: Words = CLI_WORDS) -> SeedSize:
    """Files and bytes a copy of `folder` takes; WorkspaceChoiceError past the caps."""
    files = size = 0
    for _, _, regular, _ in _walk(folder):
        files += len(regular)
        size += sum(entry.stat(follow_symlinks=False).st_size for entry in regular)
        _check_caps(folder, files, size, words)
    return SeedSize(files, size)


def _check_caps(folder: Path, files: int, size: int, words: Words = CLI_WORDS) -> None:
    if files > SEED_MAX_FILES or size > SEED_MAX_BYTES:
        raise WorkspaceChoiceError(
            f"{folder} is too big to copy in (over {SEED_MAX_FILES:,} files or "
            f"{SEED_MAX_BYTES // (1024 * 1024)} MB); pick a smaller folder, or work in it "
            f"directly with {words.work_in}"
        )


def _walk(folder: Path):
    """(relative dir, sub-folders, regular files, symlinks) for each folder under `folder`,
    never descending through a symlink; sockets, devices and pipes are left out."""
    pending = [Path(".")]
    while pending:
        relative = pending.pop()
        folders, regular, links = [], [], []
        try:
            with os.scandir(folder / relative) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        links.append(entry)
                    elif entry.is_dir(follow_symlinks=False):
                        folders.append(entry)
                    elif stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                        regular.append(entry)
        except PermissionError:
            raise WorkspaceChoiceError(
                f"cannot read the folder {folder / relative} inside {folder}; check its "
                "permissions, or copy a folder without it"
            ) from None
        pending.extend(relative / entry.name for entry in folders)
        yield relative, folders, regular, links


def seed_workspace(source: Path, target: Path) -> SeedSize:
    """Copy `source` into the new folder `target`, within the caps.

    Symlinks are not followed: one whose target stays inside `source` is recreated as the same
    relative link; any other is left out. The copy is built beside `target` and renamed into
    place, so a failed copy leaves no half-seeded workspace behind.
    """
    building = target.with_name(target.name + ".seeding")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    files = size = 0
    real_source = Path(os.path.realpath(source))
    try:
        for relative, folders, regular, links in _walk(source):
            for entry in folders:
                (building / relative / entry.name).mkdir()
            for entry in regular:
                files += 1
                size += entry.stat(follow_symlinks=False).st_size
                _check_caps(source, files, size)
                shutil.copy2(entry.path, building / relative / entry.name, follow_symlinks=False)
            for entry in links:
                _copy_link(entry, real_source, building / relative)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    building.rename(target)
    return SeedSize(files, size)


def _copy_link(entry: os.DirEntry, real_source: Path, into: Path) -> None:
    pointed = os.readlink(entry.path)
    if os.path.isabs(pointed):
        return
    lands = Path(os.path.realpath(os.path.join(os.path.dirname(entry.path), pointed)))
    if lands == real_source or lands.is_relative_to(real_source):
        os.symlink(pointed, into / entry.name)
